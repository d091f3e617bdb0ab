"""The floor for bench/load.py: a raw WSGI generator, the least a server can do per stream.

``gunicorn -k gevent 'bench.raw_wsgi:app'``

- ``GET /?n=10&delay=1``: n plain events (``id:`` + ``data:``), ``delay`` apart on an absolute
  schedule, then ``data: [DONE]``.
- ``POST /v1/chat/completions?delay=1``: the chat stream bench/load.py asks every target for
  (role chunk, one chunk per word of the bench prompt's reply — the first ``delay`` after the
  start, then ``delay`` apart — finish chunk, ``[DONE]``), from f-strings: the request body is
  read and parsed (any real mock must), nothing else is done. Zero delay: one write.
"""

import json
import secrets
import time
from urllib.parse import parse_qs

from bench.chat_bench import reply_words


def app(environ, start_response):  # type: ignore[no-untyped-def]
    q = parse_qs(environ.get("QUERY_STRING", ""))
    if environ["REQUEST_METHOD"] == "POST":
        return chat(environ, start_response, float(q.get("delay", ["0"])[0]))
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


def chat(environ, start_response, delay):  # type: ignore[no-untyped-def]
    body = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
    words = reply_words(body["messages"][-1]["content"])
    head = (f'data: {{"id":"chatcmpl-{secrets.token_hex(15)[:29]}","object":'
            f'"chat.completion.chunk","created":{int(time.time())},"model":'
            f'{json.dumps(body["model"])},"choices":[{{"index":0,"delta":')
    tail = ',"logprobs":null,"finish_reason":null}]}\n\n'
    start_response("200 OK", [("Content-Type", "text/event-stream; charset=utf-8"),
                              ("Cache-Control", "no-cache")])
    first = head + '{"role":"assistant","content":""}' + tail
    tokens = [head + '{"content":' + json.dumps(w) + "}" + tail for w in words]
    last = head + '{},"logprobs":null,"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
    if not delay:
        return [(first + "".join(tokens) + last).encode()]

    def events():  # type: ignore[no-untyped-def]
        start = time.monotonic()
        yield first.encode()
        for i, chunk in enumerate(tokens):
            wait = start + (i + 1) * delay - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            yield chunk.encode()
        yield last.encode()

    return events()
