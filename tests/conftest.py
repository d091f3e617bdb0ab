"""Shared test fixtures: real WSGI servers on loopback sockets, and WSGI helpers."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import tempfile
import threading
import time
import wsgiref.simple_server
import wsgiref.util
import wsgiref.validate
from collections.abc import Callable, Iterator
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import IO, Any

import pytest

SERVERS = ("werkzeug", "waitress", "wsgiref")


class _ThreadingWSGIServer(ThreadingMixIn, wsgiref.simple_server.WSGIServer):
    daemon_threads = True


class _QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def serve(app: Callable[..., Any], kind: str = "werkzeug") -> Iterator[str]:
    """Serve `app` on 127.0.0.1 (a free port) in a thread; yield the base URL."""
    if kind == "werkzeug":
        from werkzeug.serving import make_server

        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.port}"
        finally:
            server.shutdown()
            server.server_close()
    elif kind == "waitress":
        from webtest.http import StopableWSGIServer

        # No port=0 here: webtest then reports port 0 in application_url. And no ws.wait():
        # its probe leaves a socket open (a ResourceWarning); poll the port instead.
        ws = StopableWSGIServer.create(app, host="127.0.0.1", threads=8)
        try:
            wait_for_port("127.0.0.1", int(ws.adj.port))
            yield ws.application_url.rstrip("/")
        finally:
            ws.shutdown()
    elif kind == "wsgiref":
        server = wsgiref.simple_server.make_server(
            "127.0.0.1", 0, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
        )
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            server.server_close()
    else:  # pragma: no cover
        raise ValueError(kind)


@pytest.fixture(params=SERVERS)
def server_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def validated(app: Callable[..., Any]) -> Callable[..., Any]:
    """`app` under wsgiref.validate plus an explicit hop-by-hop check (PEP 3333)."""
    inner = wsgiref.validate.validator(app)

    def checked(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        def sr(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            for name, _ in headers:
                assert not wsgiref.util.is_hop_by_hop(name), f"hop-by-hop header {name}"
            return start_response(status, headers, exc_info)

        return inner(environ, sr)

    return checked


def wait_for_port(host: str, port: int, timeout: float = 10.0,
                  proc: subprocess.Popen[bytes] | None = None) -> None:
    """Poll until something accepts connections on (host, port); fail early if `proc` exits."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode}")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing listens on port {port} after {timeout} s") from None
            time.sleep(0.02)


ROOT = Path(__file__).resolve().parent.parent


class ServerProcess:
    """A server running as a subprocess: its URL, its process and what it printed."""

    def __init__(self, url: str, proc: subprocess.Popen[bytes], out: IO[bytes]) -> None:
        self.url, self.proc, self._out = url, proc, out
        self.final_log: str | None = None  # set once the process has ended

    def log(self) -> str:
        """stdout and stderr so far (or in full, once the process has ended)."""
        if self.final_log is not None:
            return self.final_log
        self._out.flush()
        self._out.seek(0)
        return self._out.read().decode(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 5) -> str:
        """The log once `text` is in it, or after `timeout` seconds (poll, bounded): a worker
        writes its lines when it gets to them."""
        deadline = time.monotonic() + timeout
        while text not in (log := self.log()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return log


@contextlib.contextmanager
def server_process(
    cmd: list[str], port: int, *, cwd: Path = ROOT, pythonpath: tuple[Path, ...] = (),
    drop_env: tuple[str, ...] = (), timeout: float = 20,
) -> Iterator[ServerProcess]:
    """Run `cmd` (a server listening on 127.0.0.1:`port`) until the block ends."""
    env = {k: v for k, v in os.environ.items() if k not in drop_env}
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [*map(str, pythonpath), str(ROOT), env.get("PYTHONPATH")]))
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        server = ServerProcess(f"http://127.0.0.1:{port}", proc, out)
        try:
            try:
                wait_for_port("127.0.0.1", port, timeout, proc)
            except AssertionError as exc:
                proc.kill()
                proc.wait(5)
                raise AssertionError(f"{exc}\n{server.log()}") from None
            yield server
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            server.final_log = server.log()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- a real redis-server (issue 10: no fake Redis) ---------------------------------------------


class RedisServer:
    """A ``redis-server`` on a loopback port, without persistence; stop() and start() again
    on the same port (tests of a Redis lost mid-run)."""

    def __init__(self, binary: str, port: int) -> None:
        self.binary, self.port = binary, port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--loglevel", "warning", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port("127.0.0.1", self.port, 10, self.proc)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.proc = None


@contextlib.contextmanager
def redis_server_process() -> Iterator[RedisServer]:
    """Start a private redis-server (skips the test when the binary or the client is absent)."""
    import shutil

    pytest.importorskip("redis", reason="the redis client is not installed (extra [redis])")
    binary = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None)
    if binary is None:
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    server = RedisServer(binary, free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the whole test session; give each test its own key prefix."""
    with redis_server_process() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def prefix() -> str:
    """A Redis key prefix of this test's own: tests share one redis-server, never its keys."""
    import uuid

    return f"t{uuid.uuid4().hex[:10]}:"
