"""Error shapes and per-answer headers of each provider family (PROTOCOLS.md §2.2, §2.6, §4.1,
§4.5, §5.5, §8.6 Google, §9.5 Ollama)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .base import MockError, dumps, request_id_anthropic, request_id_openai

if TYPE_CHECKING:  # the middleware passes it in: a dialect does not import the configuration
    from ..config import RateLimitConfig

__all__ = ["AnthropicShape", "GoogleShape", "OllamaShape", "OpenAIShape", "PlainShape",
           "google_error_object"]

# kind → (OpenAI error.type, default error.code)  — §2.6
_OPENAI_KINDS: dict[str, tuple[str, str | None]] = {
    "invalid_request": ("invalid_request_error", None),
    "authentication": ("invalid_request_error", "invalid_api_key"),
    "permission": ("invalid_request_error", "permission_denied"),
    "not_found": ("invalid_request_error", None),
    "method_not_allowed": ("invalid_request_error", "method_not_allowed"),
    "request_too_large": ("invalid_request_error", "request_too_large"),
    "unsupported_media_type": ("invalid_request_error", "unsupported_media_type"),
    "rate_limit": ("requests", "rate_limit_exceeded"),
    "server_error": ("server_error", None),
    "overloaded": ("service_unavailable_error", "server_is_overloaded"),
    "timeout": ("timeout_error", None),
}

# kind → Anthropic error.type — §4.5
_ANTHROPIC_KINDS: dict[str, str] = {
    "invalid_request": "invalid_request_error",
    "authentication": "authentication_error",
    "permission": "permission_error",
    "not_found": "not_found_error",
    "method_not_allowed": "invalid_request_error",
    "request_too_large": "request_too_large",
    "unsupported_media_type": "invalid_request_error",
    "rate_limit": "rate_limit_error",
    "server_error": "api_error",
    "overloaded": "overloaded_error",
    "timeout": "timeout_error",
}


def _processing_ms(environ: Mapping[str, Any]) -> str:
    start = environ.get("sse_mock.start")
    if not isinstance(start, float):
        return "1"
    return str(max(1, int((time.monotonic() - start) * 1000)))


def openai_error_object(error: MockError) -> dict[str, Any]:
    """The inner ``error`` object: all four keys always present (§2.6)."""
    etype, code = _OPENAI_KINDS.get(error.kind, ("invalid_request_error", None))
    return {
        "message": error.message,
        "type": etype,
        "param": error.param,
        "code": error.code if error.code is not None else code,
    }


def anthropic_error_object(error: MockError) -> dict[str, str]:
    return {"type": _ANTHROPIC_KINDS.get(error.kind, "invalid_request_error"),
            "message": error.message}


class OpenAIShape:
    name = "openai"

    def __init__(self, rl: RateLimitConfig) -> None:
        # Computed once: the same on every answer (§2.2).
        self._static = [
            ("openai-version", "2020-10-01"),
            ("openai-organization", "user-sse-mock"),
            ("x-ratelimit-limit-requests", str(rl.limit_requests)),
            ("x-ratelimit-limit-tokens", str(rl.limit_tokens)),
            ("x-ratelimit-remaining-requests", str(rl.remaining_requests)),
            ("x-ratelimit-remaining-tokens", str(rl.remaining_tokens)),
            ("x-ratelimit-reset-requests", rl.reset_requests),
            ("x-ratelimit-reset-tokens", rl.reset_tokens),
        ]

    def new_request_id(self) -> str:
        return request_id_openai()

    def headers(self, request_id: str, environ: Mapping[str, Any]) -> list[tuple[str, str]]:
        return [("x-request-id", request_id), ("openai-processing-ms", _processing_ms(environ)),
                *self._static]

    def error_body(self, error: MockError, request_id: str) -> bytes:
        return dumps({"error": openai_error_object(error)}).encode()


class AnthropicShape:
    name = "anthropic"

    def new_request_id(self) -> str:
        return request_id_anthropic()

    def headers(self, request_id: str, environ: Mapping[str, Any]) -> list[tuple[str, str]]:
        out = [("request-id", request_id)]
        version = environ.get("HTTP_ANTHROPIC_VERSION")
        # Echo the client's version (any value is accepted, §4.1); only a safe token.
        if isinstance(version, str) and version.isascii() and version.isprintable() and len(
            version
        ) <= 64:
            out.append(("anthropic-version", version))
        return out

    def error_body(self, error: MockError, request_id: str) -> bytes:
        return dumps(
            {"type": "error", "error": anthropic_error_object(error), "request_id": request_id}
        ).encode()


class PlainShape:
    """The plain routes (/stream, the journal): OpenAI-like error JSON, no provider headers."""

    name = "plain"

    def new_request_id(self) -> str:
        return request_id_openai()

    def headers(self, request_id: str, environ: Mapping[str, Any]) -> list[tuple[str, str]]:
        return [("x-request-id", request_id)]

    def error_body(self, error: MockError, request_id: str) -> bytes:
        return dumps({"error": openai_error_object(error)}).encode()


# kind → google.rpc.Code name — §8.6 (the HTTP status stays the MockError's own)
_GOOGLE_KINDS: dict[str, str] = {
    "invalid_request": "INVALID_ARGUMENT",
    "authentication": "UNAUTHENTICATED",
    "permission": "PERMISSION_DENIED",
    "not_found": "NOT_FOUND",
    "method_not_allowed": "NOT_FOUND",  # Google's front end: an unknown method is a 404 page
    "request_too_large": "INVALID_ARGUMENT",
    "unsupported_media_type": "INVALID_ARGUMENT",
    "rate_limit": "RESOURCE_EXHAUSTED",
    "server_error": "INTERNAL",
    "overloaded": "UNAVAILABLE",
    "timeout": "DEADLINE_EXCEEDED",
}


def _retry_seconds(error: MockError) -> str | None:
    for name, value in error.headers:
        if name.lower() == "retry-after-ms":
            return f"{int(value) / 1000:g}s"
    for name, value in error.headers:
        if name.lower() == "retry-after":
            return f"{value}s"
    return None


def google_error_object(error: MockError) -> dict[str, Any]:
    """``{"code", "message", "status"}`` (+ ``details``): google.rpc.Status as JSON (§8.6).

    A 429 carries ``QuotaFailure`` and ``RetryInfo.retryDelay`` (e.g. ``"1s"``) in ``details``,
    as the Gemini API sends them; google-genai exposes them as ``ClientError.details``.
    """
    out: dict[str, Any] = {
        "code": error.status,
        "message": error.message,
        "status": _GOOGLE_KINDS.get(error.kind, "INVALID_ARGUMENT"),
    }
    if error.kind == "rate_limit":
        details: list[dict[str, Any]] = [{
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [{
                "quotaMetric": "generativelanguage.googleapis.com/generate_content_requests",
                "quotaId": "GenerateRequestsPerMinutePerProjectPerModel",
                "quotaValue": "15",
            }],
        }]
        delay = _retry_seconds(error)
        if delay is not None:
            details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo",
                            "retryDelay": delay})
        out["details"] = details
    elif error.kind == "invalid_request" and error.param:
        out["details"] = [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                           "fieldViolations": [{"field": error.param,
                                                "description": error.message}]}]
    return out


class GoogleShape:
    """Gemini API: ``{"error": {code, message, status}}`` (§8.6); no request id header."""

    name = "google"

    def new_request_id(self) -> str:
        return request_id_openai()  # journal only: Gemini answers carry no request id

    def headers(self, request_id: str, environ: Mapping[str, Any]) -> list[tuple[str, str]]:
        return [("server-timing", f"gfet4t7; dur={_processing_ms(environ)}")]

    def error_body(self, error: MockError, request_id: str) -> bytes:
        return dumps({"error": google_error_object(error)}).encode()


class OllamaShape:
    """Ollama: ``{"error": "<message>"}`` with the HTTP status (§9.5); no extra headers."""

    name = "ollama"

    def new_request_id(self) -> str:
        return request_id_openai()  # journal only

    def headers(self, request_id: str, environ: Mapping[str, Any]) -> list[tuple[str, str]]:
        return []

    def error_body(self, error: MockError, request_id: str) -> bytes:
        return dumps({"error": error.message}).encode()
