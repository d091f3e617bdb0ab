"""Provider dialects: how each provider says a reply. One module per provider route.

Adding a provider means one module here (a class satisfying :class:`~.base.Dialect`) and one
entry in :data:`DIALECTS`.
"""

from __future__ import annotations

from .anthropic_messages import AnthropicMessagesDialect
from .base import Dialect
from .openai_chat import OpenAIChatDialect
from .openai_completions import OpenAICompletionsDialect
from .openai_responses import OpenAIResponsesDialect

__all__ = ["DIALECTS"]

DIALECTS: tuple[Dialect, ...] = (
    OpenAIChatDialect(),
    OpenAICompletionsDialect(),
    OpenAIResponsesDialect(),
    AnthropicMessagesDialect(),
)
