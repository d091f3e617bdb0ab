"""The provider routes besides the LLM dialects': OpenAI's model list (§2.9), Gemini, Ollama's
extra endpoints, and embeddings (OpenAI, Gemini, Ollama). Glue only: the wire shapes live in
``dialects/gemini.py``, ``dialects/ollama.py`` and ``embeddings.py``; deciding, faults and
pacing are :func:`routes.answer_llm`'s, as for every other LLM route.

Embedding requests go through the scenario like any request (rules with ``match.route``,
faults, ``first_token_delay`` as latency, strict mode); their vectors come from the decision's
seed, so ``X-Mock-Seed`` changes them reproducibly.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from json.encoder import encode_basestring_ascii as escape
from typing import TYPE_CHECKING, Any

from .config import Config
from .dialects.base import Message, MockError, Prompt, dumps
from .dialects.gemini import EMBED, METHODS, GeminiDialect, claims, model_resource
from .dialects.gemini import models_listing as gemini_listing
from .dialects.gemini import parse_path as gemini_path
from .dialects.ollama import tags_listing
from .embeddings import MAX_DIMENSIONS, MAX_INPUTS, vector_base64, vector_json
from .exchange import Answer, Call, Route, has_api_key
from .routes import _decide, answer_llm
from .tokens import count_tokens

if TYPE_CHECKING:
    from .middleware import SSEMockMiddleware

__all__ = ["models_routes", "provider_routes"]

# -- OpenAI Models: GET /v1/models and GET /v1/models/{id} (PROTOCOLS.md §2.9) ---------------

CREATED = 1686935002  # a fixed, plausible date: the same answer every time


def _model(model_id: str) -> dict[str, object]:
    owner = "anthropic" if model_id.startswith("claude") else "openai"
    return {"id": model_id, "object": "model", "created": CREATED, "owned_by": owner}


def models_routes(config: Config) -> list[Route]:
    listing = dumps({"object": "list", "data": [_model(m) for m in config.models]}).encode()
    by_id = {m: dumps(_model(m)).encode() for m in config.models}

    def list_models(call: Call) -> Answer:
        return Answer(body=listing)

    def get_model(call: Call) -> Answer:
        body = by_id.get(call.rest)
        if body is None:
            raise MockError(404, f"The model `{call.rest[:200]}` does not exist or you do not "
                            "have access to it.", kind="not_found", code="model_not_found")
        return Answer(body=body)

    return [
        Route("openai-models", "/v1/models", frozenset({"GET"}), list_models, "openai"),
        Route("openai-model", "/v1/models/", frozenset({"GET"}), get_model, "openai",
              prefix_match=True),
    ]


# -- embeddings (§2.10, §8.8, §9.7) -------------------------------------------------------------

#: Default dimensions per embedding model (§2.10, §8.8, §9.7); others get the family default.
DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
    "gemini-embedding-001": 3072,
    "text-embedding-004": 768,
    "text-embedding-005": 768,
    "nomic-embed-text": 768,
    "mxbai-embed-large": 1024,
    "all-minilm": 384,
}


def _default_dims(model: str, fallback: int) -> int:
    return DIMENSIONS.get(model.split(":", 1)[0].removeprefix("models/"), fallback)


def _embedding_seed(mw: SSEMockMiddleware, call: Call, route: str, model: str,
                    texts: Sequence[str], family: str) -> int:
    """Run the request through the scenario (rules, faults, latency); return its seed."""
    prompt = Prompt(route=route, model=model,
                    messages=tuple(Message("user", t) for t in texts[:1]), body={})
    decision = _decide(mw, call, prompt, family)
    if decision.fault is not None and decision.fault.name == "error_after":
        raise MockError(500, "The server had an error while processing your request "
                        "(mocked by sse_mock).", kind="server_error")
    if decision.timing.first_token_delay:
        time.sleep(decision.timing.first_token_delay)
    return decision.timing.seed


#: Answers with more components than this leave vector by vector (chunked, no Content-Length):
#: 2,048 inputs of 4,096 dimensions would otherwise be ~160 MB in memory at once.
STREAM_OVER = 1 << 20


def _json_answer(head: str, items: Iterator[str], tail: str, components: int) -> Answer:
    """``head + ",".join(items) + tail``: one body, or for big answers chunks made as the
    server writes them (memory: one vector at a time)."""
    if components <= STREAM_OVER:
        return Answer(body=(head + ",".join(items) + tail).encode())

    def chunks() -> Iterator[bytes]:
        yield head.encode()
        for n, item in enumerate(items):
            yield (item if n == 0 else "," + item).encode()
        yield tail.encode()

    return Answer(chunks=chunks(), content_type="application/json")


def _dims(value: Any, param: str, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DIMENSIONS:
        raise MockError(400, f"Invalid '{param}': expected a whole number from 1 to "
                        f"{MAX_DIMENSIONS}, got {dumps(value)[:40]}.", param=param)
    return value


def _inputs(value: Any, param: str) -> list[str]:
    """A string or a list of strings (OpenAI also takes token arrays: their ids as text)."""
    if isinstance(value, str):
        items: list[Any] = [value]
    elif isinstance(value, list) and value:
        items = value
        if all(isinstance(i, int) and not isinstance(i, bool) for i in items):
            items = [" ".join(map(str, items))]  # one token array
    else:
        raise MockError(400, f"'{param}' must be a non-empty string or array of strings.",
                        param=param)
    if len(items) > MAX_INPUTS:
        raise MockError(400, f"Invalid '{param}': maximum {MAX_INPUTS} inputs per request, got "
                        f"{len(items)}.", param=param)
    texts = []
    for i, item in enumerate(items):
        if isinstance(item, list) and all(isinstance(t, int) for t in item):
            item = " ".join(map(str, item))
        if not isinstance(item, str):
            raise MockError(400, f"Invalid '{param}[{i}]': expected a string.",
                            param=f"{param}[{i}]")
        texts.append(item)
    return texts


# --- OpenAI ------------------------------------------------------------------------------------

def openai_embeddings_route(mw: SSEMockMiddleware) -> Route:
    """``POST /v1/embeddings`` (§2.10)."""
    config = mw.config

    def handle(call: Call) -> Answer:
        if config.require_api_key and not has_api_key(call.environ):
            raise MockError(401, "Missing API key: send Authorization: Bearer <key>.",
                            kind="authentication")
        body = call.json_body(config.max_body_size)
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise MockError(400, "you must provide a model parameter", param="model")
        if "input" not in body:
            raise MockError(400, "Missing required parameter: 'input'.", param="input",
                            code="missing_required_parameter")
        texts = _inputs(body["input"], "input")
        if any(t == "" for t in texts):
            raise MockError(400, "'$.input' is invalid. Please check the API reference: "
                            "https://platform.openai.com/docs/api-reference.", param="input")
        fmt = body.get("encoding_format", "float")
        if fmt not in ("float", "base64"):
            raise MockError(400, f"Invalid value: '{str(fmt)[:40]}'. Supported values are: "
                            "'float' and 'base64'.", param="encoding_format",
                            code="invalid_value")
        if body.get("dimensions") is not None and model == "text-embedding-ada-002":
            raise MockError(400, "This model does not support specifying dimensions.",
                            param="dimensions")
        dims = _dims(body.get("dimensions"), "dimensions", _default_dims(model, 1536))
        seed = _embedding_seed(mw, call, "openai-embeddings", model, texts, "openai")
        encode = vector_base64 if fmt == "base64" else vector_json

        def item(i: int, text: str) -> str:
            vec = encode(text, dims, seed)
            shown = escape(vec) if fmt == "base64" else vec
            return f'{{"object":"embedding","index":{i},"embedding":{shown}}}'

        tokens = count_tokens(texts)
        return _json_answer('{"object":"list","data":[',
                            (item(i, t) for i, t in enumerate(texts)),
                            f'],"model":{escape(model)},"usage":{{"prompt_tokens":{tokens},'
                            f'"total_tokens":{tokens}}}}}', len(texts) * dims)

    return Route("openai-embeddings", "/v1/embeddings", frozenset({"POST"}), handle, "openai")


# --- Gemini ------------------------------------------------------------------------------------

def _gemini_text(content: Any, where: str) -> str:
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list) or not parts:
        raise MockError(400, f"* EmbedContentRequest.{where}.parts: contents.parts must not be "
                        "empty.\n", param=f"{where}.parts")
    return "".join(p.get("text", "") for p in parts if isinstance(p, dict)
                   and isinstance(p.get("text", ""), str))


def _gemini_embed(mw: SSEMockMiddleware, call: Call, model: str, method: str,
                  body: dict[str, Any]) -> Answer:
    """``:embedContent`` → ``{"embedding": {"values"}}``; ``:batchEmbedContents`` →
    ``{"embeddings": [...]}`` (§8.8)."""
    default = _default_dims(model, 768)
    if method == "embedContent":
        requests = [body]
    else:
        requests = body.get("requests")  # type: ignore[assignment]
        if not isinstance(requests, list) or not requests:
            raise MockError(400, "* BatchEmbedContentsRequest.requests: requests is not "
                            "specified\n", param="requests")
        if len(requests) > MAX_INPUTS:
            raise MockError(400, f"* BatchEmbedContentsRequest.requests: at most {MAX_INPUTS} "
                            "requests are allowed in a batch.\n", param="requests")
    texts: list[str] = []
    dims: list[int] = []
    for i, request in enumerate(requests):
        where = "content" if method == "embedContent" else f"requests[{i}].content"
        if not isinstance(request, dict):
            raise MockError(400, f"* Invalid value at '{where}'.\n", param=where)
        texts.append(_gemini_text(request.get("content"), where))
        dims.append(_dims(request.get("outputDimensionality", request.get(
            "output_dimensionality")), "output_dimensionality", default))
    call.entry.route = "gemini-embeddings"
    seed = _embedding_seed(mw, call, "gemini-embeddings", model, texts, "google")
    values = (f'{{"values":{vector_json(t, d, seed)}}}' for t, d in zip(texts, dims, strict=True))
    if method == "embedContent":
        return Answer(body=f'{{"embedding":{next(values)}}}'.encode())
    return _json_answer('{"embeddings":[', values, "]}", sum(dims))


def gemini_route(mw: SSEMockMiddleware) -> Route:
    """Everything under ``/v1beta/models`` and Gemini's requests under ``/v1/models`` (§8.1)."""
    config = mw.config
    dialect = GeminiDialect()
    listing = dumps(gemini_listing(config.gemini_models)).encode()
    known = {m: dumps(model_resource(m)).encode() for m in config.gemini_models}

    def handle(call: Call) -> Answer:
        environ = call.environ
        target = gemini_path(call.rest)
        method = environ["REQUEST_METHOD"]
        if target is None:
            raise MockError(404, "Method not found.", kind="not_found")
        if target.method in ("", "get"):
            if method not in ("GET", "HEAD"):
                raise MockError(405, f"Method {method} is not allowed here; use GET.",
                                kind="method_not_allowed", headers=[("Allow", "GET, HEAD")])
            if target.method == "":
                return Answer(body=listing)
            found = known.get(target.model.removeprefix("models/"))
            if found is None:
                raise MockError(404, f"models/{target.model[:200]} is not found for API version "
                                f"{target.version}, or is not supported for generateContent.",
                                kind="not_found")
            return Answer(body=found)
        if method != "POST":
            raise MockError(405, f"Method {method} is not allowed here; use POST.",
                            kind="method_not_allowed", headers=[("Allow", "POST")])
        if target.method not in METHODS:
            raise MockError(404, f"Method not found: {target.method[:60]}.", kind="not_found")
        if config.require_api_key and not has_api_key(environ):
            raise MockError(403, "Method doesn't allow unregistered callers (callers without "
                            "established identity). Please use API Key or other form of API "
                            "consumer identity to call this API.", kind="permission")
        body = call.json_body(config.max_body_size)
        model = target.model.removeprefix("models/")
        if target.method in EMBED:
            return _gemini_embed(mw, call, model, target.method, body)
        stream = target.method == "streamGenerateContent"
        if stream and "alt=sse" not in environ.get("QUERY_STRING", ""):
            raise MockError(400, "sse_mock serves streamGenerateContent as server-sent events "
                            "only: add ?alt=sse.", param="alt")
        prompt = dialect.parse(body, model=model, stream=stream)
        if target.method == "countTokens":
            total = count_tokens(m.text for m in prompt.messages)
            return Answer(body=dumps({"totalTokens": total}).encode())
        return answer_llm(mw, call, dialect, prompt)

    return Route("gemini", "/v1beta/models/{model}:{method}", frozenset({"GET", "POST"}),
                 handle, "google", claims=claims)


# --- Ollama ------------------------------------------------------------------------------------

def ollama_routes(mw: SSEMockMiddleware) -> list[Route]:
    """``GET /api/tags``, ``GET /api/version``, ``POST /api/embed`` and the legacy
    ``POST /api/embeddings`` (§9.6, §9.7); chat and generate are DIALECTS."""
    config = mw.config
    tags = dumps(tags_listing(config.ollama_models)).encode()
    version = b'{"version":"0.12.0"}'

    def list_tags(call: Call) -> Answer:
        return Answer(body=tags)

    def get_version(call: Call) -> Answer:
        return Answer(body=version)

    def embed(call: Call) -> Answer:
        body = call.json_body(config.max_body_size)
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise MockError(400, "model is required", param="model")
        legacy = str(call.environ.get("PATH_INFO", "")).endswith("/embeddings")
        texts = _inputs(body.get("prompt", "") if legacy else body.get("input"),
                        "prompt" if legacy else "input")
        dims = _dims(body.get("dimensions"), "dimensions", _default_dims(model, 768))
        start = time.monotonic_ns()
        seed = _embedding_seed(mw, call, "ollama-embeddings", model, texts, "ollama")
        if legacy:
            return Answer(body=f'{{"embedding":{vector_json(texts[0], dims, seed)}}}'.encode())
        total = max(time.monotonic_ns() - start, 1)
        return _json_answer(f'{{"model":{escape(model)},"embeddings":[',
                            (vector_json(t, dims, seed) for t in texts),
                            f'],"total_duration":{total},"load_duration":1000000,'
                            f'"prompt_eval_count":{count_tokens(texts)}}}', len(texts) * dims)

    return [
        Route("ollama-tags", "/api/tags", frozenset({"GET"}), list_tags, "ollama"),
        Route("ollama-version", "/api/version", frozenset({"GET"}), get_version, "ollama"),
        Route("ollama-embeddings", "/api/embed", frozenset({"POST"}), embed, "ollama"),
        Route("ollama-embeddings-legacy", "/api/embeddings", frozenset({"POST"}), embed,
              "ollama"),
    ]


def provider_routes(mw: SSEMockMiddleware) -> list[Route]:
    return [gemini_route(mw), openai_embeddings_route(mw), *ollama_routes(mw)]
