"""Vanishing clients: the plan and the client, shared by both soaks of test_disconnect_soak.py;
run as a script, the soak under gevent (issue #6, item 5b).

``python soak_gevent.py [--clients N] [--seed S] [--concurrency C]`` monkey-patches, serves
:func:`soak_app` with ``gevent.pywsgi.WSGIServer`` on a free port, runs N clients (C at a time,
as greenlets) that read a random number of events of a long stream and vanish (half of them
with an RST, half with a plain close), waits until the journal has no stream "in progress" any
more, and prints one JSON line::

    {"outcomes": {"client went away": 1000}, "greenlets_before": 3, "greenlets_after": 3, ...}

Importing this module (as the threaded soak does) patches nothing: gevent and sse_mock are
imported inside :func:`main`, after ``monkey.patch_all()``.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import struct
import sys
from dataclasses import dataclass
from typing import Any

#: Every stream is this many tokens long (20 s at 10 ms each); no client reads more than
#: MAX_EVENTS events, so each stream is far from its end when its client goes away, even on a
#: loaded machine where the pacer catches up with a burst.
STREAM_TOKENS = 2000
MAX_EVENTS = 150
KINDS = ("plain", "chat", "messages", "responses")
SOCKET_TIMEOUT = 10.0


def soak_app() -> Any:
    """Tokens every 10 ms and a 50 ms heartbeat: a vanished client is noticed on the next
    write, within milliseconds. Every default reply is a lorem of STREAM_TOKENS tokens."""
    from sse_mock import create_app

    return create_app(delay=0.01, heartbeat=0.05, journal_size=5000,
                      lorem_tokens=STREAM_TOKENS)


@dataclass(frozen=True)
class Plan:
    """One client: what it asks for, how many events it reads, how it goes away."""

    kind: str
    events: int  # ≥ 1, so the request has reached the mock (and its journal) before the client
    rst: bool  # True: SO_LINGER 0, the close sends an RST; False: a plain close (FIN)


def plans(n: int, seed: int) -> list[Plan]:
    rng = random.Random(seed)
    return [Plan(rng.choice(KINDS), rng.randint(1, MAX_EVENTS), rng.random() < 0.5)
            for _ in range(n)]


_BODIES = {
    "chat": {"model": "gpt-4o-mini", "stream": True,
             "messages": [{"role": "user", "content": "hi"}]},
    "messages": {"model": "claude-sonnet-4-6", "max_tokens": 8192, "stream": True,
                 "messages": [{"role": "user", "content": "hi"}]},
    "responses": {"model": "gpt-4o-mini", "input": "hi", "stream": True},
}
_PATHS = {"chat": "/mock/v1/chat/completions", "messages": "/mock/v1/messages",
          "responses": "/mock/v1/responses"}


def request_bytes(kind: str) -> bytes:
    if kind == "plain":
        return b"GET /mock/stream HTTP/1.1\r\nHost: soak\r\nAccept: text/event-stream\r\n\r\n"
    body = json.dumps(_BODIES[kind]).encode()
    return (f"POST {_PATHS[kind]} HTTP/1.1\r\nHost: soak\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body


def vanish(port: int, plan: Plan) -> int:
    """Ask for a stream, read until `plan.events` events have arrived, go away.

    Returns the events seen; raises if the stream ended (or stalled) before that.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT)
    try:
        sock.sendall(request_bytes(plan.kind))
        seen = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                events = seen.count(b"\n\n")
                raise AssertionError(f"{plan}: the stream ended after {events} events")
            seen += chunk
            if seen.count(b"\n\n") >= plan.events:  # every event ends with a blank line
                break
        if plan.rst:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return seen.count(b"\n\n")
    finally:
        sock.close()


# -- the gevent soak ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict[str, Any]:
    import os

    # Numeric addresses only: resolve them inline, not in gevent's resolver threadpool, whose
    # idle worker threads (each with a hub and a main greenlet) would linger in the count.
    os.environ.setdefault("GEVENT_RESOLVER", "block")
    from gevent import monkey

    monkey.patch_all()

    import gc
    import logging
    import time
    from collections import Counter

    import gevent
    import greenlet
    from gevent.pool import Pool
    from gevent.pywsgi import WSGIServer

    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--settle", type=float, default=20.0, help="seconds to wait for the "
                        "journal to settle")
    args = parser.parse_args(argv)

    class Errors(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.ERROR)
            self.records: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.records.append(f"{record.name}: {record.getMessage()[:300]}")

    errors = Errors()
    logging.getLogger("sse_mock").addHandler(errors)
    error_log = logging.getLogger("soak.pywsgi")  # pywsgi's tracebacks go here, at ERROR
    error_log.addHandler(errors)
    error_log.propagate = False

    def live_greenlets() -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects()
                   if isinstance(o, greenlet.greenlet) and not o.dead)

    app = soak_app()  # sse_mock imported now, after the patching (pacing binds time.sleep)
    server = WSGIServer(("127.0.0.1", 0), app, log=None, error_log=error_log)
    server.start()
    port = server.server_port
    gevent.sleep(0)
    before = live_greenlets()

    started = time.monotonic()
    failures: list[str] = []

    def client(plan: Plan) -> None:
        try:
            vanish(port, plan)
        except Exception as exc:  # reported, not raised: the pool goes on
            failures.append(f"{plan}: {exc!r}")

    pool = Pool(args.concurrency)
    for plan in plans(args.clients, args.seed):
        pool.spawn(client, plan)
    pool.join(timeout=60)
    clients_done = time.monotonic() - started

    # Each server greenlet notices its client is gone on its next write: poll, bounded.
    deadline = time.monotonic() + args.settle
    while True:
        outcomes = Counter(e.outcome for e in app.journal.entries())
        if outcomes["in progress"] == 0 or time.monotonic() > deadline:
            break
        gevent.sleep(0.05)
    while live_greenlets() > before and time.monotonic() < deadline:
        gevent.sleep(0.05)
    after = live_greenlets()
    server.stop(timeout=5)
    return {
        "outcomes": dict(outcomes),
        "entries": len(app.journal.entries()),
        "greenlets_before": before,
        "greenlets_after": after,
        "failures": failures[:10],
        "failed_clients": len(failures),
        "errors_logged": errors.records[:10],
        "clients_seconds": round(clients_done, 2),
        "total_seconds": round(time.monotonic() - started, 2),
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])), flush=True)
