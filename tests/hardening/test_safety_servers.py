"""Issue 9 on real servers over real sockets: waitress' default four threads survive abandoned
long requests (point 1); a client that leaves during a stall is noticed within one heartbeat
plus one event (Also); injected disconnects log no traceback (point 6); the loud start-up
warning under the servers' default logging (point 4).
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from conftest import wait_for_port

from sse_mock import SSEMockMiddleware
from sse_mock.config import DEFAULT_REPLY


def app_page(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
    return [b"page"]


@contextmanager
def waitress_server(app: Any, threads: int = 4) -> Iterator[tuple[str, int]]:
    """waitress with its default four threads, on a free port."""
    from webtest.http import StopableWSGIServer

    ws = StopableWSGIServer.create(app, host="127.0.0.1", threads=threads)
    try:
        wait_for_port("127.0.0.1", int(ws.adj.port))
        yield "127.0.0.1", int(ws.adj.port)
    finally:
        ws.shutdown()


def send_and_abandon(addr: tuple[str, int], request: bytes) -> None:
    """Send a request and go away without reading (the socket is closed at once)."""
    with socket.create_connection(addr, timeout=5) as s:
        s.sendall(request)
        time.sleep(0.05)  # let the server read it before the FIN


def chat_request(headers: str = "", text: str = "hi", stream: bool = False) -> bytes:
    body = json.dumps({"model": "gpt-4o-mini", "stream": stream,
                       "messages": [{"role": "user", "content": text}]}).encode()
    return (b"POST /mock/v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\n" + headers.encode() +
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def get_page(addr: tuple[str, int], timeout: float) -> float:
    """GET / of the wrapped app; the seconds it took (fails after `timeout`)."""
    t0 = time.monotonic()
    with socket.create_connection(addr, timeout=timeout) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while not data.endswith(b"page"):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"page"), data
    return time.monotonic() - t0


def test_four_abandoned_long_requests_do_not_take_waitress_pages_down() -> None:
    cap = 1.0
    mw = SSEMockMiddleware(app_page, delay=0, max_request_seconds=cap, rules=[
        {"match": {"contains": "configured"}, "fault": "timeout:3600"}])
    with waitress_server(mw) as addr:
        # Asked by the request: refused at once (400), no thread held.
        for _ in range(4):
            send_and_abandon(addr, chat_request("X-Mock-Fault: timeout:3600\r\n"))
        assert get_page(addr, timeout=cap + 2) < cap
        for _ in range(4):
            send_and_abandon(addr, chat_request("X-Mock-First-Token-Delay: 3600\r\n"))
        assert get_page(addr, timeout=cap + 2) < cap
        # Asked by the configuration: a blind wait, held to the cap.
        for _ in range(4):
            send_and_abandon(addr, chat_request(text="configured"))
        assert get_page(addr, timeout=cap + 3) < cap + 1.5
