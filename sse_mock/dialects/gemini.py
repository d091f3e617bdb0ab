"""Google Gemini API: ``models/{model}:generateContent`` and ``:streamGenerateContent?alt=sse``
(PROTOCOLS.md §8).

The model and the method are in the path, not the body: ``/v1beta/models/gemini-2.5-flash:
streamGenerateContent``. google-genai's default ``api_version`` is ``v1``, so the same paths are
served under ``/v1/models/…`` too (§8.1); :func:`parse_path` splits any of them.

A stream is one ``data: <GenerateContentResponse>`` event per token (each with the candidate's
``content.parts``, the ``usageMetadata`` so far, ``modelVersion`` and ``responseId``), one event
per function call (a whole ``functionCall`` part: Gemini does not stream arguments in pieces,
§8.3); the last of them also carries ``finishReason`` and the full ``usageMetadata``. No
terminator: the stream just ends (§8.3).

Deliberate divergences (choices a future reader might wrongly "fix"):

Divergence #1: the first chunk and the heartbeat are an empty line (``\\r\\n``), not SSE
    comments: google-genai hands every line that does not start with ``data: `` to a raw JSON
    buffer and fails on ``: ok`` with ``UnknownApiResponseError`` (§8.4). An empty line
    dispatches nothing in any SSE parser (§1.5).
Divergence #2: ``streamGenerateContent`` without ``alt=sse`` (Google's streamed JSON array) is
    a 400 naming ``alt``: every SDK asks for SSE.
Divergence #3: unknown request keys are accepted and ignored (the real API answers 400
    "Unknown name"), so new SDK fields do not break the mock.
Divergence #4: every function call of a reply leaves in its own event, after the text; the
    finish reason of a function-calling answer is ``STOP`` (as the real API says it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as escape
from typing import Any, ClassVar

from ..tokens import tokenize
from .base import (
    Frame,
    Framing,
    Message,
    MockError,
    Prompt,
    Reply,
    StreamContext,
    dumps,
    random_id,
    whole_call_usage,
)
from .shapes import google_error_object

__all__ = ["FINISH_REASONS", "GEMINI_SSE", "GeminiDialect", "Target", "model_resource",
           "models_listing", "parse_path"]

#: §8.4: an empty line first and as the heartbeat (Divergence #1); CRLF as Google writes it.
GEMINI_SSE = Framing("text/event-stream", b"\r\n", b"\r\n")

#: neutral ``Reply.finish_reason`` → Gemini ``finishReason`` (§8.2)
FINISH_REASONS = {
    "stop": "STOP",
    "stop_sequence": "STOP",
    "tool_calls": "STOP",
    "length": "MAX_TOKENS",
    "content_filter": "SAFETY",
}

VERSIONS = ("/v1beta/", "/v1/", "/v1alpha/")
GENERATE = ("generateContent", "streamGenerateContent")
EMBED = ("embedContent", "batchEmbedContents")
METHODS = (*GENERATE, *EMBED, "countTokens")


@dataclass(frozen=True)
class Target:
    """What a Gemini path asks for: ``method`` "" = the model list, "get" = one model."""

    version: str
    model: str = ""
    method: str = ""


def parse_path(rest: str) -> Target | None:
    """``/v1beta/models/gemini-2.5-flash:generateContent`` → Target; None: not a Gemini path.

    Model ids may contain dots and dashes, never a colon, so the *last* colon starts the
    method (§8.1).
    """
    for version in VERSIONS:
        if rest.startswith(version):
            break
    else:
        return None
    tail = rest[len(version):]
    if tail in ("models", "models/"):
        return Target(version.strip("/"))
    if not tail.startswith("models/"):
        return None
    name, colon, method = tail[len("models/"):].rpartition(":")
    if not colon:
        return Target(version.strip("/"), method, "get")
    return Target(version.strip("/"), name, method)


def claims(rest: str, environ: Mapping[str, Any]) -> bool:
    """Whether a request under the prefix is Gemini's (routes.Route.claims, §8.1).

    Everything under ``/v1beta/models``; under ``/v1/models`` (shared with OpenAI's model list,
    §2.9) only POSTs to ``…:<a Gemini method>`` and requests that carry Google's API key
    (``x-goog-api-key`` header or ``key`` query parameter).
    """
    if rest.startswith(("/v1beta/models", "/v1alpha/models")):
        return True
    if not rest.startswith("/v1/models"):
        return False
    if "HTTP_X_GOOG_API_KEY" in environ:
        return True
    query = environ.get("QUERY_STRING", "")
    if query.startswith("key=") or "&key=" in query:
        return True
    # Without Google's key: only `/v1/models/{model}:{one of Gemini's methods}` (POST, or its
    # preflight); OpenAI's paths, fine-tuned ids with colons included, stay OpenAI's.
    return (environ.get("REQUEST_METHOD") in ("POST", "OPTIONS")
            and rest.startswith("/v1/models/") and rest.rpartition(":")[2] in METHODS)


# --- models -----------------------------------------------------------------------------------

def model_resource(model_id: str) -> dict[str, Any]:
    """A ``Model`` resource (§8.7)."""
    embedding = "embedding" in model_id
    methods = ["embedContent", "batchEmbedContents"] if embedding else [
        "generateContent", "countTokens", "streamGenerateContent"]
    return {
        "name": "models/" + model_id,
        "version": "001",
        "displayName": model_id.replace("-", " ").title(),
        "description": f"{model_id} (mocked by sse_mock)",
        "inputTokenLimit": 2048 if embedding else 1048576,
        "outputTokenLimit": 1 if embedding else 65536,
        "supportedGenerationMethods": methods,
    }


def models_listing(models: tuple[str, ...]) -> dict[str, Any]:
    return {"models": [model_resource(m) for m in models]}


# --- requests ---------------------------------------------------------------------------------

def invalid(param: str, message: str) -> MockError:
    """A 400 INVALID_ARGUMENT worded like the API (``* GenerateContentRequest.x: …``)."""
    return MockError(400, f"* GenerateContentRequest.{param}: {message}\n", param=param)


def _parts_text(where: str, parts: Any) -> tuple[str, list[str], bool]:
    """Text of a ``parts`` list, the JSON of its function responses, and "has a function call"."""
    if not isinstance(parts, list):
        raise invalid(where, "Invalid value (expected a list of Part objects)")
    texts: list[str] = []
    results: list[str] = []
    calls = False
    for i, part in enumerate(parts):
        if not isinstance(part, dict):
            raise invalid(f"{where}[{i}]", "Invalid value (expected a Part object)")
        text = part.get("text")
        if text is not None:
            if not isinstance(text, str):
                raise invalid(f"{where}[{i}].text", "Invalid value (expected a string)")
            if not part.get("thought"):
                texts.append(text)
        response = part.get("functionResponse")
        if response is not None:
            if not isinstance(response, dict) or not isinstance(response.get("name"), str):
                raise invalid(f"{where}[{i}].function_response.name", "Name cannot be empty.")
            results.append(json.dumps(response.get("response", {}), ensure_ascii=False))
        if part.get("functionCall") is not None:
            calls = True
    return "".join(texts), results, calls


def _tool_names(tools: Any) -> tuple[str, ...]:
    if tools is None:
        return ()
    if not isinstance(tools, list):
        raise invalid("tools", "Invalid value (expected a list of Tool objects)")
    names: list[str] = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise invalid(f"tools[{i}]", "Invalid value (expected a Tool object)")
        declarations = tool.get("functionDeclarations") or tool.get("function_declarations")
        if declarations is None:
            continue  # googleSearch, codeExecution, …: accepted, never called
        if not isinstance(declarations, list):
            raise invalid(f"tools[{i}].function_declarations", "Invalid value")
        for j, decl in enumerate(declarations):
            name = decl.get("name") if isinstance(decl, dict) else None
            if not isinstance(name, str) or not name:
                raise invalid(f"tools[{i}].function_declarations[{j}].name",
                              "Name cannot be empty.")
            names.append(name)
    return tuple(names)


def _config(body: Mapping[str, Any]) -> Mapping[str, Any]:
    config = body.get("generationConfig", body.get("generation_config"))
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise invalid("generation_config", "Invalid value (expected a GenerationConfig)")
    return config


class GeminiDialect:
    """``GenerateContentResponse`` objects, whole or as an SSE stream (PROTOCOLS.md §8)."""

    name: ClassVar[str] = "gemini"
    path: ClassVar[str] = "/v1beta/models/{model}:{method}"
    family: ClassVar[str] = "google"
    framing: ClassVar[Framing] = GEMINI_SSE

    def parse(self, body: Mapping[str, Any], model: str = "", stream: bool = False) -> Prompt:
        """Validate a ``GenerateContentRequest`` (§8.2); `model` and `stream` come from the
        path."""
        contents = body.get("contents")
        if contents is None or contents == []:
            raise invalid("contents", "contents is not specified")
        if isinstance(contents, dict):
            contents = [contents]
        if not isinstance(contents, list):
            raise invalid("contents", "Invalid value (expected a list of Content objects)")
        messages: list[Message] = []
        system = body.get("systemInstruction", body.get("system_instruction"))
        if system is not None:
            parts = system.get("parts") if isinstance(system, dict) else system
            text, _, _ = _parts_text("system_instruction.parts", parts)
            if text:
                messages.append(Message("system", text))
        has_results = False
        for i, content in enumerate(contents):
            where = f"contents[{i}]"
            if not isinstance(content, dict):
                raise invalid(where, "Invalid value (expected a Content object)")
            role = content.get("role", "user")
            if role not in ("user", "model", "function", "tool"):
                raise MockError(400, "Please use a valid role: user, model.", param=where)
            parts = content.get("parts")
            if not parts:
                raise invalid(f"{where}.parts", "contents.parts must not be empty.")
            text, results, _ = _parts_text(f"{where}.parts", parts)
            messages.extend(Message("tool", r) for r in results)
            has_results |= bool(results)
            if text or not results:
                messages.append(Message("assistant" if role == "model" else "user", text))
        config = _config(body)
        max_tokens = config.get("maxOutputTokens", config.get("max_output_tokens"))
        if max_tokens is not None and (
                isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
            raise invalid("generation_config.max_output_tokens",
                          "Invalid value (expected a positive integer)")
        stop = config.get("stopSequences", config.get("stop_sequences")) or []
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            raise invalid("generation_config.stop_sequences", "Invalid value (expected strings)")
        return Prompt(
            route=self.name,
            model=model or str(body.get("model", "")),
            messages=tuple(messages),
            stream=stream,
            max_tokens=max_tokens,
            stop=tuple(stop),
            tools=_tool_names(body.get("tools")),
            has_tool_results=has_results,
            body=body,
        )

    def new_context(self, prompt: Prompt) -> StreamContext:
        # §8.2: responseId is 22–24 URL-safe characters.
        return StreamContext.new(random_id("", 22), prompt.model)

    # -- answers -------------------------------------------------------------------------------

    @staticmethod
    def _usage_metadata(prompt_tokens: int, out: int) -> dict[str, Any]:
        return {
            "promptTokenCount": prompt_tokens,
            "candidatesTokenCount": out,
            "totalTokenCount": prompt_tokens + out,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
        }

    @staticmethod
    def _call_parts(reply: Reply) -> list[dict[str, Any]]:
        parts = []
        for call in reply.tool_calls:
            try:
                args = json.loads(call.arguments) if call.arguments.strip() else {}
            except ValueError:
                args = {}
            parts.append({"functionCall": {"name": call.name, "args": args}})
        return parts

    def stream(self, reply: Reply, prompt: Prompt, ctx: StreamContext) -> Iterator[Frame]:
        """One event per token, then one per function call; the last of them also carries
        ``finishReason`` and the whole ``usageMetadata`` (§8.3)."""
        prompt_tokens, out = whole_call_usage(reply, prompt)
        tail_obj = {"usageMetadata": {"promptTokenCount": prompt_tokens,
                                      "totalTokenCount": prompt_tokens},
                    "modelVersion": ctx.model, "responseId": ctx.id}
        head = b'data: {"candidates":[{"content":{"parts":[{"text":'
        tail = (b'}],"role":"model"},"index":0}],' + dumps(tail_obj)[1:].encode() + b"\r\n\r\n")
        parts: list[dict[str, Any]] = [{"text": t} for t in tokenize(reply.text)]
        parts += self._call_parts(reply)
        content = bool(parts)
        if not parts:
            parts = [{"text": ""}]
        cache: dict[str, Frame] = {}
        last = len(parts) - 1
        for i, part in enumerate(parts):
            text = part.get("text")
            if i < last and text is not None:
                frame = cache.get(text)
                if frame is None:
                    frame = cache[text] = Frame(head + escape(text).encode() + tail, token=True)
                yield frame
                continue
            candidate: dict[str, Any] = {"content": {"parts": [part], "role": "model"}}
            if i == last:
                candidate["finishReason"] = FINISH_REASONS.get(reply.finish_reason, "STOP")
            candidate["index"] = 0
            event = {"candidates": [candidate], **tail_obj}
            if i == last:
                event["usageMetadata"] = self._usage_metadata(prompt_tokens, out)
            yield Frame(self._event(event), token=content)

    @staticmethod
    def _event(obj: Mapping[str, Any]) -> bytes:
        return b"data: " + dumps(obj).encode() + b"\r\n\r\n"

    def complete(self, reply: Reply, prompt: Prompt, ctx: StreamContext) -> dict[str, Any]:
        """The ``GenerateContentResponse`` of ``generateContent`` (§8.2)."""
        prompt_tokens, out = whole_call_usage(reply, prompt)
        parts: list[dict[str, Any]] = []
        if reply.text or not reply.tool_calls:
            parts.append({"text": reply.text})
        parts += self._call_parts(reply)
        return {
            "candidates": [{"content": {"parts": parts, "role": "model"},
                            "finishReason": FINISH_REASONS.get(reply.finish_reason, "STOP"),
                            "index": 0}],
            "usageMetadata": self._usage_metadata(prompt_tokens, out),
            "modelVersion": ctx.model,
            "responseId": ctx.id,
        }

    def in_band_error(self, error: MockError, ctx: StreamContext) -> bytes:
        """§8.5: ``data: {"error": {code, message, status}}``; google-genai raises it as
        ``ServerError``/``ClientError`` from the iterator."""
        return self._event({"error": google_error_object(error)})

    def end_of_stream(self, ctx: StreamContext) -> bytes:
        return b""  # §8.5: the stream ends after the error event
