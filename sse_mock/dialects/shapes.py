"""Error shapes and per-answer headers of each provider family (PROTOCOLS.md §2.2, §2.6, §4.1,
§4.5, §5.5)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ..config import RateLimitConfig
from .base import MockError, dumps, request_id_anthropic, request_id_openai

__all__ = ["AnthropicShape", "OpenAIShape", "PlainShape"]

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

    def __init__(self, ratelimit: RateLimitConfig | None = None) -> None:
        rl = ratelimit or RateLimitConfig()
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
