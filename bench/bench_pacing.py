"""Pacing accuracy over a real socket: 20 words/s for 10 s must end within 1 % of 10 s.

    python bench/bench_pacing.py

200 words at delay 0.05 s; the seed's pacing puts ``[DONE]`` one interval after the last word,
so the stream's last event is due at exactly 200 × 0.05 = 10 s. The baseline in the same run is
a naive generator that calls ``time.sleep(0.05)`` after each word (accumulated sleeps), to show
the drift an absolute schedule avoids.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from werkzeug.serving import make_server

from sse_mock import create_app

N, DELAY = 200, 0.05


def naive_app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "text/event-stream")])

    def generate() -> Iterator[bytes]:
        for i in range(N):
            yield f"data: w{i}\n\n".encode()
            time.sleep(DELAY)
        yield b"data: [DONE]\n\n"

    return generate()


def last_event_at(app: Any, path: str) -> float:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            start = time.monotonic()
            seen = b""
            while b"[DONE]" not in seen:
                data = sock.recv(65536)
                if not data:
                    break
                seen = seen[-64:] + data
            return time.monotonic() - start
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    reply = "+".join(f"w{i}" for i in range(N))
    target = N * DELAY
    mock = last_event_at(create_app(delay=DELAY), f"/mock/stream?reply={reply}")
    naive = last_event_at(naive_app, "/")
    err = abs(mock - target) / target * 100
    print(f"{N} words at {DELAY} s (20 words/s), [DONE] due at {target:.2f} s")
    print(f"  sse_mock (absolute schedule)   {mock:7.3f} s   error {err:5.2f} %   "
          f"{'PASS' if err <= 1 else 'MISS'} (target ≤ 1 %)")
    print(f"  naive accumulated sleeps       {naive:7.3f} s   error "
          f"{abs(naive - target) / target * 100:5.2f} %   (baseline, same run)")


if __name__ == "__main__":
    main()
