"""OpenAI Models: ``GET /v1/models`` and ``GET /v1/models/{id}`` (PROTOCOLS.md §2.9)."""

from __future__ import annotations

from ..config import Config
from ..routes import Answer, Call, Route
from .base import MockError, dumps

__all__ = ["models_routes"]

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
