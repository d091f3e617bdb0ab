"""sse_mock: realistic, streamed LLM answers inside the WSGI app you already run.

``import sse_mock`` imports no web framework: the Django and PasteDeploy glue live in
``sse_mock.django`` and ``sse_mock.paste``, imported by name.
"""

from __future__ import annotations

from .app import create_app
from .config import ConfigError
from .formatter import SSEFormatter
from .middleware import SSEMockMiddleware, wrap

__version__ = "0.1.0"

__all__ = ["ConfigError", "SSEFormatter", "SSEMockMiddleware", "__version__", "create_app", "wrap"]
