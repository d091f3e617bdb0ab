"""Provider dialects: how each provider says a reply. One module per provider route.

Adding a provider means one module here (a class satisfying :class:`~.base.Dialect`) and one
entry in :data:`DIALECTS`.
"""

from __future__ import annotations

from .anthropic_messages import AnthropicMessagesDialect
from .base import Dialect
from .gemini import GeminiDialect
from .ollama import OllamaChatDialect, OllamaGenerateDialect
from .openai_chat import OpenAIChatDialect
from .openai_completions import OpenAICompletionsDialect
from .openai_responses import OpenAIResponsesDialect

__all__ = ["ALL_DIALECTS", "DIALECTS"]

DIALECTS: tuple[Dialect, ...] = (
    OpenAIChatDialect(),
    OpenAICompletionsDialect(),
    OpenAIResponsesDialect(),
    AnthropicMessagesDialect(),
    OllamaChatDialect(),
    OllamaGenerateDialect(),
)
"""The dialects served by :func:`routes.llm_route` at their own ``path``. Gemini's paths carry
the model and method, so its route is built in :mod:`sse_mock.provider_routes`."""

#: Every dialect, for tests and docs that run over all of them.
ALL_DIALECTS: tuple[Dialect, ...] = (*DIALECTS, GeminiDialect())
