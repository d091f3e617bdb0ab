"""What a user might pick instead, for bench/load.py: sse-starlette under uvicorn.

``uvicorn --workers 2 bench.starlette_app:app``; ``?n=10&delay=1`` as bench/raw_wsgi.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route


async def stream(request: Request) -> EventSourceResponse:
    n = int(request.query_params.get("n", "10"))
    delay = float(request.query_params.get("delay", "1"))

    async def events() -> AsyncIterator[dict[str, str]]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i in range(n + 1):
            wait = start + i * delay - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            yield {"id": str(i), "data": f"w{i}" if i < n else "[DONE]"}

    return EventSourceResponse(events(), ping=15)


app = Starlette(routes=[Route("/stream", stream)])
