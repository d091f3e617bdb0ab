"""Provider dialects: how each provider says a reply. One module per provider route.

Adding a provider means one module here (a class satisfying :class:`~.base.Dialect`) and one
entry in :data:`DIALECTS`.
"""

from __future__ import annotations

from .anthropic_messages import AnthropicMessagesDialect
from .base import Dialect

__all__ = ["DIALECTS"]

DIALECTS: tuple[Dialect, ...] = (
    AnthropicMessagesDialect(),
)
