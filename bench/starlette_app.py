"""What a user might pick instead, for bench/load.py: sse-starlette under uvicorn.

``uvicorn --workers 2 bench.starlette_app:app``; ``GET /stream?n=10&delay=1`` and
``POST /v1/chat/completions?delay=1`` as bench/raw_wsgi.py.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator

from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from bench.chat_bench import reply_words


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


async def chat(request: Request) -> EventSourceResponse:
    delay = float(request.query_params.get("delay", "0"))
    body = await request.json()
    words = reply_words(body["messages"][-1]["content"])
    head = (f'{{"id":"chatcmpl-{secrets.token_hex(15)[:29]}","object":"chat.completion.chunk",'
            f'"created":{int(time.time())},"model":{json.dumps(body["model"])},'
            '"choices":[{"index":0,"delta":')
    tail = ',"logprobs":null,"finish_reason":null}]}'

    async def events() -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        yield head + '{"role":"assistant","content":""}' + tail
        for i, w in enumerate(words):
            wait = start + (i + 1) * delay - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            yield head + '{"content":' + json.dumps(w) + "}" + tail
        yield head + '{},"logprobs":null,"finish_reason":"stop"}]}'
        yield "[DONE]"

    return EventSourceResponse(events(), ping=15)


app = Starlette(routes=[Route("/stream", stream),
                        Route("/v1/chat/completions", chat, methods=["POST"])])
