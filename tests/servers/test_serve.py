"""``sse-mock serve`` over real sockets: HTTP/1.1 keep-alive, concurrent paced streams, and the
thread-per-connection fallback that says so when gevent is missing (sse_mock/serving.py)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from conftest import free_port, server_process, wait_for_port

from sse_mock._parser import parse

pytest.importorskip("gevent")

SERVE = [sys.executable, "-c", "import sys; from sse_mock.cli import main; sys.exit(main())"]
# The same command with gevent made unimportable (None in sys.modules: ImportError).
NO_GEVENT = [sys.executable, "-c", "import sys; sys.modules['gevent'] = None; "
             "from sse_mock.cli import main; sys.exit(main())"]


def read_response(sock: socket.socket, buf: bytes = b"") -> tuple[bytes, bytes, bytes]:
    """One chunked HTTP/1.1 response: (head, decoded body, bytes read past it)."""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        assert data, "closed before the headers"
        buf += data
    head, _, buf = buf.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower(), head
    body = b""
    while True:
        while b"\r\n" not in buf:
            data = sock.recv(65536)
            assert data, "closed inside the body"
            buf += data
        line, _, buf = buf.partition(b"\r\n")
        size = int(line, 16)
        while len(buf) < size + 2:
            data = sock.recv(65536)
            assert data, "closed inside a chunk"
            buf += data
        if size == 0:
            return head, body, buf[2:]
        body += buf[:size]
        buf = buf[size + 2:]


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


def test_serve_keeps_the_connection_alive() -> None:
    port = free_port()
    with server_process([*SERVE, "serve", "--port", str(port), "--delay", "0"], port) as server:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            rest = b""
            for reply in ("one two", "three", "four five six"):
                sock.sendall(get(f"/mock/stream?reply={reply.replace(' ', '+')}"))
                head, body, rest = read_response(sock, rest)
                assert head.startswith(b"HTTP/1.1 200"), head
                assert b"connection: close" not in head.lower()
                assert [e.data for e in parse(body)] == [*reply.split(), "[DONE]"]
        log = server.log()
    assert "one thread per connection" not in log
    assert "Traceback" not in log


def test_serve_reads_headers_and_bodies_and_refuses_malformed_header_lines() -> None:
    """serving.py Divergence #3: its own header parser. A POST body (Content-Length), a
    header control and the next request on the same connection; folding and colon-less lines
    are a 400."""
    port = free_port()
    body = json.dumps({"model": "gpt-4o-mini", "stream": True,
                       "messages": [{"role": "user", "content": "hi"}]}).encode()
    post = (b"POST /mock/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nX-Mock-Reply:   Hello%20there\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    with server_process([*SERVE, "serve", "--port", str(port), "--delay", "0"], port) as server:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(post + get("/mock/stream?reply=next"))
            head, stream, rest = read_response(sock)
            assert head.startswith(b"HTTP/1.1 200"), head
            datas = [e.data for e in parse(stream)]
            assert datas[-1] == "[DONE]"
            text = "".join(json.loads(d)["choices"][0]["delta"].get("content") or ""
                           for d in datas[:-1] if json.loads(d)["choices"])
            assert text == "Hello there"
            head, stream, _ = read_response(sock, rest)
            assert [e.data for e in parse(stream)] == ["next", "[DONE]"]
        for bad in (b"X-A: 1\r\n folded\r\n", b"no colon here\r\n", b"X-A : 1\r\n"):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(b"GET /mock/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n" + bad
                             + b"\r\n")
                assert sock.recv(65536).startswith(b"HTTP/1.1 400"), bad
        assert "Traceback" not in server.log()


def test_without_gevent_serve_says_so_and_still_streams() -> None:
    port = free_port()
    with server_process([*NO_GEVENT, "serve", "--port", str(port), "--delay", "0"],
                        port) as server:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /mock/stream?reply=a+b HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        assert data.startswith(b"HTTP/1.1 200") or data.startswith(b"HTTP/1.0 200"), data[:40]
        assert [e.data for e in parse(data.partition(b"\r\n\r\n")[2])] == ["a", "b", "[DONE]"]
        log = server.log()
    assert "gevent is not installed: serving with one thread per connection" in log, log
    assert "Traceback" not in log


def test_serve_streams_concurrently_on_one_event_loop() -> None:
    """40 streams of 4 tokens 0.25 s apart, all at once: together they take about as long as
    one (1 s), not 40 times as long; each keeps its own pace."""
    port = free_port()
    n, tokens, interval = 40, 4, 0.25
    with server_process([*SERVE, "serve", "--port", str(port)], port) as server:
        results: list[tuple[float, list[str]]] = []
        errors: list[BaseException] = []
        started = threading.Barrier(n)

        def one() -> None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                    started.wait(timeout=10)
                    t0 = time.monotonic()
                    sock.sendall(get(f"/mock/stream?reply={'+'.join(['w'] * tokens)}"
                                     f"&delay={interval}"))
                    _, body, _ = read_response(sock)
                    results.append((time.monotonic() - t0, [e.data for e in parse(body)]))
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=one) for _ in range(n)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        wall = time.monotonic() - t0
        assert not errors, errors
        assert len(results) == n
        for took, datas in results:
            assert datas == ["w"] * tokens + ["[DONE]"]
            assert took >= (tokens - 1) * interval * 0.95  # paced, not dumped at once
        assert wall < 6, f"{n} streams of ~{(tokens - 1) * interval} s took {wall:.1f} s"
        assert "Traceback" not in server.log()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_idle_serve_stops_at_once_on_a_signal(sig: signal.Signals) -> None:
    """serving.py Divergence #5: an idle server (no request in flight, a keep-alive connection
    closed) stops on Ctrl-C or SIGTERM at once, exit status 0, no traceback."""
    port = free_port()
    proc = subprocess.Popen([*SERVE, "serve", "--port", str(port), "--delay", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port("127.0.0.1", port, timeout=20, proc=proc)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(get("/mock/stream?reply=hi"))
            read_response(sock)
        time.sleep(0.3)  # idle: the loop is waiting in epoll, nothing due
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "stopped" in out
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
