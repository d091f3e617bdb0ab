"""A custom Server-Sent Events stream in plain WSGI, written with ``SSEFormatter``.

A fake job reports its progress: one ``progress`` event per step (JSON data, an ``id:``), a
``: ping`` comment while it waits, and a final ``done`` event whose text spans two lines.
A reconnecting ``EventSource`` sends ``Last-Event-ID``; the stream resumes after it, and a
client that already saw ``done`` gets 204, which tells a browser to stop reconnecting.

Run it::

    python examples/custom_stream.py
    curl -N http://127.0.0.1:8002/progress
    curl -N "http://127.0.0.1:8002/progress?steps=3"
    curl -N -H "Last-Event-ID: 2" http://127.0.0.1:8002/progress
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from sse_mock import SSEFormatter

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

fmt = SSEFormatter()  # stateless: one instance serves every stream
log = logging.getLogger("custom_stream")


def make_app(delay: float = 0.5) -> WSGIApplication:
    """The WSGI application; `delay` is the time each step of the fake job takes."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/progress":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"try /progress\n"]
        query = parse_qs(environ.get("QUERY_STRING", ""))
        steps_text = query.get("steps", ["5"])[0]
        steps = min(int(steps_text), 100) if steps_text.isdigit() else 5
        last_id = environ.get("HTTP_LAST_EVENT_ID", "")
        first = int(last_id) + 1 if last_id.isdigit() else 0
        if first > steps:  # the client saw "done" (id = steps): 204 stops an EventSource
            start_response("204 No Content", [])
            return []
        # Headers first, and no hop-by-hop header such as Connection (PEP 3333).
        start_response("200 OK", [
            ("Content-Type", "text/event-stream; charset=utf-8"),
            ("Cache-Control", "no-cache, no-transform"),
            ("X-Accel-Buffering", "no"),
        ])
        return stream(first, steps, delay)

    return app


def stream(first: int, steps: int, delay: float) -> Iterator[bytes]:
    # A non-empty first chunk at once, so every server sends the headers now; the retry
    # hint asks a browser to reconnect after 2 s if the connection drops.
    yield fmt.comment("job started") + fmt.format(retry=2000)
    try:
        for step in range(first, steps):
            if delay:
                yield fmt.comment("ping")  # a comment line: clients ignore it
                time.sleep(delay)
            data = json.dumps({"step": step + 1, "of": steps})
            yield fmt.format(data, event="progress", id=str(step))  # one whole event per yield
        yield fmt.format(f"finished {steps} steps\nno errors", event="done", id=str(steps))
    finally:
        # Runs when the stream ends and when the client goes away (the server calls close()):
        # release per-stream resources here.
        log.info("progress stream closed")


app = make_app()

if __name__ == "__main__":
    from werkzeug.serving import run_simple

    run_simple("127.0.0.1", 8002, app, threaded=True)  # threaded: one thread per stream
