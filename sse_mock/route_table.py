"""Every route the middleware serves, in the order they are tried: built once, at construction.

It sits above the modules that define routes (:mod:`sse_mock.routes`: the plain stream and the
LLM dialects; :mod:`sse_mock.control`: the journal and the other control endpoints;
:mod:`sse_mock.provider_routes`), so none of them imports another's builder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .control import control_routes
from .dialects import DIALECTS
from .provider_routes import models_routes, provider_routes
from .routes import Route, llm_route, plain_route

if TYPE_CHECKING:
    from .middleware import SSEMockMiddleware

__all__ = ["build_routes"]


def build_routes(mw: SSEMockMiddleware) -> list[Route]:
    routes = [plain_route(mw), *control_routes(mw)]  # the journal first of the control routes
    routes += [llm_route(mw, d) for d in DIALECTS]
    routes += models_routes(mw.config)
    routes += provider_routes(mw)
    return routes
