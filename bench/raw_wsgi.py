"""The floor for bench/load.py: a raw WSGI generator, the least a server can do per stream.

``gunicorn -k gevent 'bench.raw_wsgi:app'``; ``?n=10&delay=1``: n events, ``delay`` apart on an
absolute schedule, then ``data: [DONE]``.
"""

import time
from urllib.parse import parse_qs


def app(environ, start_response):  # type: ignore[no-untyped-def]
    q = parse_qs(environ.get("QUERY_STRING", ""))
    n, delay = int(q.get("n", ["10"])[0]), float(q.get("delay", ["1"])[0])
    start_response("200 OK", [("Content-Type", "text/event-stream; charset=utf-8"),
                              ("Cache-Control", "no-cache")])

    def events():  # type: ignore[no-untyped-def]
        start = time.monotonic()
        for i in range(n + 1):
            wait = start + i * delay - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            data = f"w{i}" if i < n else "[DONE]"
            yield f"id: {i}\ndata: {data}\n\n".encode()

    return events()
