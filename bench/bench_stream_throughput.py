"""Events per second of the plain stream at delay 0, through werkzeug's threaded server to one
client, against the seed's generator on the same server in the same run.

    python bench/bench_stream_throughput.py [N_EVENTS]

Target (issue #2): ≥ 0.8× the seed. The seed writes one event per ``yield``; the mock writes
events that are due together in one write (PROTOCOLS.md §1.8 F-14: whole events only).
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from werkzeug.serving import make_server

from sse_mock import create_app
from sse_mock.tokens import lorem


def seed_app(words: list[str]) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/event-stream"),
                                  ("Cache-Control", "no-cache"),
                                  ("Access-Control-Allow-Origin", "*")])

        def generate() -> Iterator[bytes]:
            for word in words:
                yield f"data: {word}\n\n".encode()
            yield b"data: [DONE]\n\n"

        return generate()

    return app


def measure(app: Any, path: str) -> tuple[float, int]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
        start = time.perf_counter()
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        total = bytearray()
        while True:
            data = sock.recv(1 << 16)
            if not data:
                break
            total += data
        elapsed = time.perf_counter() - start
        sock.close()
        events = total.count(b"\n\n") - 1  # minus the header/body separator
        return elapsed, events
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    text = lorem(n)
    words = text.split()
    rounds = []
    for _ in range(3):
        t_seed, e_seed = measure(seed_app(words), "/")
        t_mock, e_mock = measure(create_app(delay=0, reply=text), "/mock/stream")
        rounds.append((e_seed / t_seed, e_mock / t_mock))
    seed_rate = max(r[0] for r in rounds)
    mock_rate = max(r[1] for r in rounds)
    ratio = mock_rate / seed_rate
    print(f"{n} events, werkzeug threaded server, one client, best of 3")
    print(f"  seed generator   {seed_rate:12,.0f} events/s")
    print(f"  sse_mock stream  {mock_rate:12,.0f} events/s")
    print(f"  ratio {ratio:.2f}×  {'PASS' if ratio >= 0.8 else 'MISS'} (target ≥ 0.8×)")


if __name__ == "__main__":
    main()
