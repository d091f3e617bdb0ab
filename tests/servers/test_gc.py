"""The garbage collector of a server process (sse_mock/serving.py, Divergence #6): set up for
serving by ``sse-mock serve`` and by ``create_app()`` in a gunicorn worker, left alone
everywhere else; and sse_mock's own requests leave no reference cycles behind, so collecting
the full generation less often keeps nothing of ours longer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

PROBE = textwrap.dedent("""
    import gc, json, sys
    before = gc.get_threshold()
    import sse_mock
    app = sse_mock.create_app(delay=0)
    first = (gc.get_freeze_count(), gc.get_threshold())
    sse_mock.create_app(delay=0)  # a second app in the process changes nothing more
    print(json.dumps({"before": before, "frozen": first[0], "after": first[1],
                      "again": gc.get_threshold(), "frozen_again": gc.get_freeze_count()}))
""")


def probe(server_software: str | None) -> dict[str, object]:
    env = dict(os.environ)
    env.pop("SERVER_SOFTWARE", None)
    if server_software is not None:
        env["SERVER_SOFTWARE"] = server_software
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                         timeout=60, check=True)
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_create_app_in_a_gunicorn_worker_settles_the_collector() -> None:
    # gunicorn's arbiter puts SERVER_SOFTWARE=gunicorn/<version> in its workers' environment.
    got = probe("gunicorn/23.0.0")
    young, middle, full = got["before"]  # type: ignore[misc]
    assert got["frozen"] > 1000  # type: ignore[operator]  # start-up's objects, frozen
    assert got["after"] == [young, middle, max(full, 100)]
    assert got["again"] == got["after"]
    assert got["frozen_again"] == got["frozen"]  # once per process


@pytest.mark.parametrize("software", [None, "Werkzeug/3.0", "waitress"])
def test_create_app_elsewhere_leaves_the_collector_alone(software: str | None) -> None:
    got = probe(software)
    assert got["frozen"] == 0
    assert got["after"] == got["before"]


CYCLES = textwrap.dedent("""
    import gc, io, json, sys
    from collections import Counter
    import sse_mock

    app = sse_mock.create_app(delay=0, rules=[{"match": {"contains": "tool"}, "tool_calls": [
        {"name": "lookup", "arguments": {"q": "x"}}]}])

    def call(method, path, body=None, query=""):
        data = json.dumps(body).encode() if body is not None else b""
        environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
                   "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(data)),
                   "wsgi.input": io.BytesIO(data), "SERVER_NAME": "127.0.0.1",
                   "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1", "wsgi.url_scheme": "http",
                   "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.errors": sys.stderr,
                   "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False}
        return environ

    def run(environ, abandon):
        body = app(environ, lambda status, headers, exc_info=None: None)
        try:
            for n, _chunk in enumerate(body):
                if abandon and n == 1:
                    break  # the client went away mid-stream
        finally:
            getattr(body, "close", lambda: None)()

    chat = {"model": "gpt-4o-mini", "stream": True,
            "messages": [{"role": "user", "content": "hello there"}]}
    tools = dict(chat, messages=[{"role": "user", "content": "use a tool"}],
                 tools=[{"type": "function", "function": {"name": "lookup", "parameters": {}}}])
    claude = {"model": "claude-3-5-haiku-latest", "max_tokens": 50, "stream": True,
              "messages": [{"role": "user", "content": "hello"}]}
    requests = [
        lambda: call("POST", "/mock/v1/chat/completions", chat),
        lambda: call("POST", "/mock/v1/chat/completions", dict(chat, stream=False)),
        lambda: call("POST", "/mock/v1/chat/completions", tools),
        lambda: call("POST", "/mock/v1/messages", claude),
        lambda: call("POST", "/mock/v1/responses", {"model": "gpt-4o", "input": "hi",
                                                    "stream": True}),
        lambda: call("GET", "/mock/stream", query="prompt=hi"),
        lambda: call("POST", "/mock/v1/chat/completions", {"model": 5}),  # a 400
        lambda: call("GET", "/mock/_journal"),
    ]
    for make in requests * 3:  # warm: first-use caches are not garbage
        run(make(), False)
        run(make(), True)
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    for make in requests * 20:
        run(make(), False)
        run(make(), True)
    gc.collect()
    print(json.dumps(Counter(type(o).__name__ for o in gc.garbage).most_common(10)))
""")


def test_requests_leave_no_reference_cycles() -> None:
    out = subprocess.run([sys.executable, "-c", CYCLES], capture_output=True, text=True,
                         timeout=120, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
