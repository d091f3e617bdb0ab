"""Load generator: the same streamed chat completion from five servers, on loopback only.

    bash bench/setup_aimock.sh                # once: aimock into bench/.aimock (needs npm)
    python bench/load.py                      # the full run, writes bench/results/
    python bench/load.py --n 5000 --targets sse_mock,aimock --no-zero --no-plot

Targets, each started here as a subprocess on a free loopback port:

(a) ``sse_mock``  — ``create_app()`` under ``gunicorn -k gevent -w 2``
(b) ``serve``     — ``sse-mock serve``, the standalone command, as a user runs it
(c) ``aimock``    — npm ``@copilotkit/aimock`` (one Node process), the fastest peer; skipped with
                    a message when bench/setup_aimock.sh has not installed it
(d) ``raw``       — bench/raw_wsgi.py, a WSGI generator of pre-rendered chunks, same gunicorn
                    (the floor)
(e) ``starlette`` — sse-starlette under ``uvicorn --workers 2`` (what a user might pick instead)

Every target answers ``POST …/v1/chat/completions`` with ``"stream": true`` and one of two
prompts (bench/chat_bench.py): ``paced10``, 10 words at one per ``--delay`` seconds (the first one
``delay`` after the start), and ``bench100``, 100 words at zero delay. Both are the same number of
content chunks everywhere: one word per chunk (aimock: ``chunkSize`` = a word's length).

The client (asyncio, uvloop when installed, one process, bounded in count and time) speaks
HTTP/1.1 with keep-alive and chunked decoding, checks each stream (role chunk, every word, finish
chunk, ``[DONE]`` last), and measures each content event's lateness against its due time on an
absolute schedule (request sent + k × delay). Server CPU seconds (the whole process tree, from
/proc) and peak RSS (sampled) are reported beside it. Modes:

``--n``      paced load: N concurrent streams (one connection each), for each N.
``--zero``   zero-delay throughput: ``--clients`` keep-alive connections, each running
             ``--streams`` streams back to back; streams/s and server CPU ms per stream.
``--idle``   RSS per open idle stream (plain GET streams; sse_mock, raw and starlette only).

Figures to compare are ratios measured in one run (the machine is shared; absolute numbers move).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.chat_bench import PROMPTS, reply_text  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")
AIMOCK_DIR = Path(os.environ.get("AIMOCK_DIR", ROOT / "bench" / ".aimock"))
AIMOCK_CLI = AIMOCK_DIR / "node_modules" / "@copilotkit" / "aimock" / "dist" / "cli.js"
ALL_TARGETS = ("sse_mock", "serve", "aimock", "raw", "raw_serve", "uwsgi", "raw_uwsgi",
               "starlette")
UWSGI = Path(sys.executable).parent / "uwsgi"
MAX_STREAMS = 20000  # concurrent streams at most (one socket each, on loopback)
MODEL = "gpt-4o-mini"


# -- servers ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def aimock_missing() -> str | None:
    """Why the aimock target cannot run, or None."""
    if not AIMOCK_CLI.exists():
        return (f"aimock is not installed at {AIMOCK_DIR}: run `bash bench/setup_aimock.sh` "
                "(needs npm); skipping the aimock target")
    return None


def write_configs(folder: Path, delay: float) -> tuple[Path, Path]:
    """The same two replies for sse_mock (a JSON config of rules) and aimock (fixtures)."""
    rules, fixtures = [], []
    for prompt in PROMPTS:
        paced = prompt.startswith("paced")
        d = delay if paced else 0.0
        rules.append({"name": prompt, "match": {"regex": f"^{prompt}$"},
                      "reply": reply_text(prompt), "delay": d, "first_token_delay": d})
        fixture: dict[str, Any] = {"match": {"userMessage": prompt},
                                   "response": {"content": reply_text(prompt)},
                                   "chunkSize": 5}  # "w000 ": one word per chunk
        if paced:
            # aimock waits 1/tps before each chunk after the first (the role chunk, at ttft).
            fixture["streamingProfile"] = {"ttft": 0, "tps": 1 / d}
        fixtures.append(fixture)
    # journal off: a load test keeps no per-request history (aimock: the least it keeps, 1).
    cfg = folder / "sse_mock.json"
    cfg.write_text(json.dumps({"journal_size": 0, "rules": rules}))
    fx = folder / "aimock.json"
    fx.write_text(json.dumps({"fixtures": fixtures}))
    return cfg, fx


def server_command(target: str, port: int, workers: int, n_conn: int, cfg: Path,
                   fixtures: Path) -> list[str]:
    bind = f"127.0.0.1:{port}"
    gunicorn = [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", str(workers),
                "--worker-connections", str(max(1000, n_conn)), "--backlog", "4096",
                "--timeout", "120", "--log-level", "warning", "-b", bind,
                "-c", f"python:{READY_HOOK}"]
    if _gunicorn_has_control_socket():
        gunicorn.append("--no-control-socket")
    if target == "sse_mock":
        return [*gunicorn, f"sse_mock:create_app({str(cfg)!r})"]
    if target == "serve":
        return [sys.executable, "-c", "import sys; from sse_mock.cli import main; "
                "sys.exit(main())", "serve", "--host", "127.0.0.1", "--port", str(port),
                "--config", str(cfg)]
    if target == "aimock":
        return ["node", str(AIMOCK_CLI), "-p", str(port), "-h", "127.0.0.1", "-f", str(fixtures),
                "--log-level", "silent", "--journal-max", "1"]
    if target == "raw":
        return [*gunicorn, "bench.raw_wsgi:app"]
    if target in ("uwsgi", "raw_uwsgi"):
        # One process, as aimock and `sse-mock serve`: gevent's loop in uWSGI's C server (no
        # Python request parser or chunk writer). uWSGI's HTTP socket closes the connection
        # after each streamed response.
        return [str(UWSGI), "--http-socket", bind, "--http-keepalive", "--http-auto-chunked",
                "--gevent", str(max(1000, n_conn) + 100), "--gevent-early-monkey-patch",
                "--processes", "1", "--master", "--listen", "4096",
                "--disable-logging", "--die-on-term", "--lazy-apps",
                "--eval", f"import sse_mock; application = sse_mock.create_app({str(cfg)!r})"
                if target == "uwsgi" else "from bench.raw_wsgi import app as application"]
    if target == "raw_serve":
        return [sys.executable, "-m", "bench.raw_serve", str(port)]
    if target == "starlette":
        return [sys.executable, "-m", "uvicorn", "--workers", str(workers), "--host",
                "127.0.0.1", "--port", str(port), "--log-level", "warning",
                "--backlog", "4096", "--limit-concurrency", str(n_conn * 2 + 100),
                "bench.starlette_app:app"]
    raise ValueError(target)


#: A gunicorn configuration module whose ``post_worker_init`` hook says when each worker has
#: loaded its app: the arbiter's socket accepts before that, and a run that started while a
#: worker was still booting (an app building a Redis client takes longer) sent its first
#: streams to the other worker alone.
READY_HOOK = "bench.gunicorn_ready"

_CONTROL: bool | None = None


def _gunicorn_has_control_socket() -> bool:
    global _CONTROL
    if _CONTROL is None:
        out = subprocess.run([sys.executable, "-m", "gunicorn", "--help"], capture_output=True,
                             text=True, timeout=60).stdout
        _CONTROL = "--no-control-socket" in out
    return _CONTROL


def chat_path(target: str, delay: float) -> str:
    if target in ("sse_mock", "serve", "uwsgi"):
        return "/mock/v1/chat/completions"
    if target == "aimock":
        return "/v1/chat/completions"
    return f"/v1/chat/completions?delay={delay:g}"


class Server:
    def __init__(self, target: str, workers: int, n_conn: int, cfg: Path, fixtures: Path,
                 log: Path) -> None:
        self.target = target
        self.port = free_port()
        self.log = log.open("wb")
        ready = Path(tempfile.mkdtemp(prefix="ready-", dir=log.parent))
        command = server_command(target, self.port, workers, n_conn, cfg, fixtures)
        self.proc = subprocess.Popen(
            command, cwd=ROOT, stdout=self.log, stderr=self.log, preexec_fn=_raise_nofile,
            start_new_session=True, env={**os.environ, "BENCH_READY_DIR": str(ready)})
        # gunicorn: every worker has loaded the app (READY_HOOK); others: the port accepts.
        want = workers if f"python:{READY_HOOK}" in command else 0
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    accepting = True
            except OSError:
                accepting = False
            if accepting and len(list(ready.iterdir())) >= want:
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{target} did not start: "
                                   f"{log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)
        self.peak_rss = 0
        self._sampling = False

    def pids(self) -> list[int]:
        """The server's process tree (master and workers)."""
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
        out, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo += children.get(pid, [])
        return out

    def cpu_split(self) -> tuple[float, float]:
        """User and system CPU seconds of the server's processes."""
        user = system = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            user, system = user + int(fields[11]), system + int(fields[12])
        return user / TICKS, system / TICKS

    def rss(self) -> int:
        total = 0
        for pid in self.pids():
            try:
                total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
            except OSError:
                continue
        return total

    def start_sampling(self) -> None:
        self._sampling = True

        def loop() -> None:
            while self._sampling:
                self.peak_rss = max(self.peak_rss, self.rss())
                time.sleep(0.25)

        threading.Thread(target=loop, daemon=True).start()

    def stop(self) -> None:
        self._sampling = False
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=5)
        self.log.close()


# -- client -----------------------------------------------------------------------------------


@dataclass
class Result:
    target: str
    mode: str  # "paced" | "zero"
    n: int  # concurrent streams (paced) or keep-alive clients (zero)
    delay: float
    ok_streams: int = 0
    errors: int = 0
    bad_streams: int = 0  # lost, reordered or malformed events
    lags: list[float] = field(default_factory=list, repr=False)
    first_lags: list[float] = field(default_factory=list, repr=False)  # the role chunk
    # lateness by event: [0] the role chunk, [k] word k (which part of a stream is late)
    lags_at: dict[int, list[float]] = field(default_factory=dict, repr=False)
    wire_bytes: int = 0
    first_errors: list[str] = field(default_factory=list)
    wall: float = 0.0
    server_cpu: float = 0.0
    server_sys: float = 0.0  # the part of server_cpu spent in the kernel (system time)
    client_cpu: float = 0.0
    peak_rss_mb: float = 0.0

    def took_cpu(self, before: tuple[float, float], after: tuple[float, float]) -> None:
        """Server CPU between two ``Server.cpu_split()`` readings: in all, and the kernel's."""
        self.server_cpu = round(sum(after) - sum(before), 2)
        self.server_sys = round(after[1] - before[1], 2)

    def error(self, text: str) -> None:
        self.errors += 1
        if len(self.first_errors) < 5:
            self.first_errors.append(text)

    def summary(self) -> dict[str, Any]:
        lags = sorted(self.lags)

        def pct(values: list[float], p: float) -> float:
            if not values:
                return float("nan")
            return round(values[min(len(values) - 1, int(p * len(values)))] * 1000, 2)

        data = {k: v for k, v in asdict(self).items()
                if k not in ("lags", "first_lags", "lags_at")}
        ok = max(1, self.ok_streams)
        data.update(
            p50_ms=pct(lags, 0.5), p99_ms=pct(lags, 0.99),
            max_ms=round(lags[-1] * 1000, 2) if lags else float("nan"),
            first_event_p99_ms=pct(sorted(self.first_lags), 0.99),
            p99_by_event_ms=[pct(sorted(self.lags_at[k]), 0.99) for k in sorted(self.lags_at)],
            streams_per_s=round(self.ok_streams / self.wall, 1) if self.wall else 0.0,
            cpu_ms_per_stream=round(1000 * self.server_cpu / ok, 3),
            bytes_per_stream=round(self.wire_bytes / ok),
            wall=round(self.wall, 2))
        return data


class StreamError(Exception):
    pass


def request_bytes(path: str, prompt: str) -> bytes:
    body = json.dumps({"model": MODEL, "stream": True,
                       "messages": [{"role": "user", "content": prompt}]}).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Accept: text/event-stream\r\nAuthorization: Bearer x\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def read_stream(reader: asyncio.StreamReader, words: int, delay: float, sent: float,
                      result: Result, timed: bool) -> bool:
    """Read one chat-stream response; True if the server keeps the connection open."""
    clock = time.monotonic  # uvloop's loop.time() has millisecond steps
    head = await reader.readuntil(b"\r\n\r\n")
    nbytes = len(head)
    lines = head.split(b"\r\n")
    if not lines[0].startswith(b"HTTP/1.1 200"):
        raise StreamError(lines[0].decode(errors="replace"))
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip().lower()
    chunked = headers.get(b"transfer-encoding") == b"chunked"
    keep = headers.get(b"connection") != b"close"
    length = int(headers[b"content-length"]) if b"content-length" in headers else None
    if not chunked and length is None:
        keep = False  # the body ends when the server closes
    events = 0  # data events seen
    buf = b""
    last = b""
    expected = words + 3  # role, words, finish, [DONE]
    remaining = length
    while True:
        if chunked:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            nbytes += len(size_line)
            if size == 0:
                nbytes += len(await reader.readuntil(b"\r\n"))
                break
            data = (await reader.readexactly(size + 2))[:-2]
            nbytes += size + 2
        else:
            if remaining == 0:
                break
            data = await reader.read(65536 if remaining is None else min(65536, remaining))
            if not data:
                if remaining is None:
                    break
                raise StreamError("closed before the end of the body")
            nbytes += len(data)
            if remaining is not None:
                remaining -= len(data)
        buf += data
        if b"\r" in buf:
            if buf.endswith(b"\r"):
                continue  # a CRLF may straddle two reads
            buf = buf.replace(b"\r\n", b"\n")  # sse-starlette ends lines with CRLF
        if b"\n\n" not in buf:
            continue
        blocks = buf.split(b"\n\n")
        buf = blocks.pop()
        now = clock() if timed else 0.0
        for block in blocks:
            if b"data:" not in block:
                continue  # a comment-only block (": ok", ": ping")
            if timed and events <= words:
                # the role chunk is due at once, word k (1-based) at k × delay
                lag = max(0.0, now - (sent + events * delay))
                result.lags.append(lag)
                result.lags_at.setdefault(events, []).append(lag)
                if events == 0:
                    result.first_lags.append(lag)
            events += 1
            last = block
    if events != expected or not last.endswith(b"data: [DONE]"):
        result.bad_streams += 1
        raise StreamError(f"{events} data events (expected {expected}), last {last[-40:]!r}")
    result.wire_bytes += nbytes
    result.ok_streams += 1
    return keep


async def paced_stream(port: int, request: bytes, words: int, delay: float, result: Result,
                       timeout: float) -> None:
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            sent = time.monotonic()
            writer.write(request)
            await read_stream(reader, words, delay, sent, result, timed=True)
    except (TimeoutError, OSError, StreamError, ValueError, asyncio.IncompleteReadError,
            asyncio.LimitOverrunError) as exc:
        result.error(repr(exc)[:200])
    finally:
        if writer is not None:
            writer.close()


async def run_paced(port: int, path: str, n: int, delay: float, ramp: float,
                    result: Result) -> None:
    words = PROMPTS["paced10"]
    request = request_bytes(path, "paced10")
    timeout = 30 + (words + 1) * delay + ramp
    loop = asyncio.get_running_loop()
    tasks = []
    start = loop.time()
    for i in range(n):
        # Spread the connects over `ramp` seconds: a burst of 10,000 SYNs overflows backlogs.
        wait = start + ramp * i / n - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        tasks.append(asyncio.create_task(paced_stream(port, request, words, delay, result,
                                                      timeout)))
    await asyncio.gather(*tasks)


async def keepalive_client(port: int, request: bytes, streams: int, result: Result,
                           timeout: float, reconnects: list[int]) -> None:
    words = PROMPTS["bench100"]
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            for _ in range(streams):
                writer.write(request)
                if not await read_stream(reader, words, 0.0, 0.0, result, timed=False):
                    writer.close()
                    reconnects[0] += 1
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except (TimeoutError, OSError, StreamError, ValueError, asyncio.IncompleteReadError,
            asyncio.LimitOverrunError) as exc:
        result.error(repr(exc)[:200])
    finally:
        if writer is not None:
            writer.close()


async def run_zero(port: int, path: str, clients: int, streams: int, result: Result,
                   timeout: float) -> int:
    request = request_bytes(path, "bench100")
    reconnects = [0]
    await asyncio.gather(*(keepalive_client(port, request, streams, result, timeout, reconnects)
                           for _ in range(clients)))
    return reconnects[0]


def _run(coro: Any) -> Any:
    # The client's own collector must not disturb the measurement: earlier runs' results make
    # its heap large, and a full collection in the middle of a ramp held the connects back,
    # then sent them as a burst that started streams late on every target. Collected once
    # before, frozen during the run.
    gc.collect()
    gc.freeze()
    try:
        try:
            import uvloop  # the client's own cost, kept small: it shares the 2 cores
        except ImportError:
            return asyncio.run(coro)
        return uvloop.run(coro)
    finally:
        gc.unfreeze()


class Bench:
    def __init__(self, delay: float, workers: int = 2) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="sse-mock-load-"))
        self.cfg, self.fixtures = write_configs(self.tmp, delay)
        self.delay = delay
        self.workers = workers

    def server(self, target: str, n_conn: int) -> Server:
        return Server(target, self.workers, n_conn, self.cfg, self.fixtures,
                      self.tmp / f"{target}.log")

    def warm_up(self, server: Server, target: str) -> None:
        r = Result(target, "warm-up", 2, 0.0)
        _run(run_zero(server.port, chat_path(target, 0.0), 10, 20, r, 60))
        if r.errors:
            raise RuntimeError(f"{target}: warm-up failed: {r.first_errors}")

    def paced(self, target: str, n: int, ramp: float | None = None) -> Result:
        result = Result(target, "paced", n, self.delay)
        server = self.server(target, n)
        try:
            self.warm_up(server, target)
            cpu0, ccpu0 = server.cpu_split(), time.process_time()
            server.start_sampling()
            t0 = time.monotonic()
            ramp = ramp if ramp is not None else min(5.0, n / 2000)
            _run(run_paced(server.port, chat_path(target, self.delay), n, self.delay, ramp,
                           result))
            result.wall = time.monotonic() - t0
            result.took_cpu(cpu0, server.cpu_split())
            result.client_cpu = round(time.process_time() - ccpu0, 2)
            result.peak_rss_mb = round(server.peak_rss / 2**20, 1)
        finally:
            server.stop()
        return result

    def zero(self, target: str, clients: int, streams: int) -> Result:
        result = Result(target, "zero", clients, 0.0)
        server = self.server(target, clients)
        try:
            self.warm_up(server, target)
            cpu0, ccpu0 = server.cpu_split(), time.process_time()
            t0 = time.monotonic()
            reconnects = _run(run_zero(server.port, chat_path(target, 0.0), clients, streams,
                                       result, 120))
            result.wall = time.monotonic() - t0
            result.took_cpu(cpu0, server.cpu_split())
            result.client_cpu = round(time.process_time() - ccpu0, 2)
            if reconnects:
                result.first_errors.append(f"{reconnects} responses closed the connection")
        finally:
            server.stop()
        return result


def idle_rss(target: str, n: int) -> float:
    """Bytes of server RSS per open, idle stream (one worker, plain GET streams)."""
    bench = Bench(1.0, workers=1)
    server = bench.server(target, n)
    try:
        if target == "sse_mock":
            path = "/mock/stream?reply=a&first_token_delay=50"
        elif target == "raw":
            path = "/?n=1&delay=50"
        else:
            path = "/stream?n=1&delay=50"
        bench.warm_up(server, target)
        before = server.rss()

        async def hold() -> int:
            writers = []
            for _ in range(n):
                r, w = await asyncio.open_connection("127.0.0.1", server.port)
                w.write(f"GET {path} HTTP/1.0\r\nHost: b\r\n\r\n".encode())
                writers.append((r, w))
            for r, _ in writers:  # every stream has started (headers arrived)
                head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 60)
                if b" 200 " not in head.split(b"\r\n", 1)[0]:
                    raise RuntimeError(f"{target}: idle stream refused: {head[:60]!r}")
            await asyncio.sleep(1.0)
            after = server.rss()
            for _, w in writers:
                w.close()
            return after

        after = _run(hold())
        return (after - before) / n
    finally:
        server.stop()


# -- report -----------------------------------------------------------------------------------

PACED_COLS = ["target", "n", "ok_streams", "errors", "bad_streams", "p50_ms", "p99_ms", "max_ms",
              "first_event_p99_ms", "server_cpu", "client_cpu", "peak_rss_mb",
              "bytes_per_stream", "runs"]
ZERO_COLS = ["target", "n", "ok_streams", "errors", "streams_per_s", "cpu_ms_per_stream",
             "server_cpu", "client_cpu", "bytes_per_stream", "wall", "runs"]


def _order(targets: list[str]) -> Any:
    return lambda key: (key[2], targets.index(key[1]))


#: Each mock target's floor: the raw WSGI generator on the same server.
FLOORS = {"sse_mock": "raw", "serve": "raw_serve", "uwsgi": "raw_uwsgi"}


def run_order(targets: list[str], rep: int) -> list[str]:
    """The targets' order in run `rep`: each mock target right beside its floor, which of the
    two goes first alternating from run to run, and the groups' order rotating. The machine's
    speed drifts over minutes (shared cores): a pair measured back to back sees the same
    machine, where targets minutes apart did not (bench/results/notes.md, sixth pass)."""
    mock_of = {floor: mock for mock, floor in FLOORS.items()}
    groups = []
    for t in targets:
        if t in mock_of and mock_of[t] in targets:
            continue  # measured beside its mock target
        floor = FLOORS.get(t)
        group = [t, floor] if floor in targets else [t]
        groups.append(group[::-1] if rep % 2 else group)
    k = rep % len(groups) if groups else 0
    return [t for g in groups[k:] + groups[:k] for t in g]


def paired(runs: list[dict[str, Any]], mode: str, target: str, floor: str, n: int,
           key: str) -> list[float]:
    """`target`'s figure over `floor`'s, run by run: the i-th run of each (measured back to back
    by run_order)."""
    mine = [r[key] for r in runs if (r["mode"], r["target"], r["n"]) == (mode, target, n)]
    base = [r[key] for r in runs if (r["mode"], r["target"], r["n"]) == (mode, floor, n)]
    return sorted(a / b for a, b in zip(mine, base, strict=False) if b)


def median_run(rs: list[dict[str, Any]]) -> dict[str, Any]:
    """One row for several runs of the same measurement: each number the median, the errors
    the worst run's."""
    out = dict(rs[0])
    for key, value in rs[0].items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            values = sorted(r[key] for r in rs)
            out[key] = values[len(values) // 2]
    for key in ("errors", "bad_streams"):
        out[key] = max(r[key] for r in rs)
    out["ok_streams"] = min(r["ok_streams"] for r in rs)
    out["first_errors"] = [e for r in rs for e in r["first_errors"]][:5]
    out["runs"] = len(rs)
    return out


def table(rows: list[dict[str, Any]], cols: list[str]) -> str:
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(str(r[c]) for c in cols) + " |")
    return "\n".join(lines)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else "n/a"


def ratios(paced: list[dict[str, Any]], zero: list[dict[str, Any]],
           runs: list[dict[str, Any]] | None = None) -> list[str]:
    """The issue's targets as ratios measured in this run. Against the floor, with the runs at
    hand: the median of the run-by-run ratios (each pair measured back to back), and their
    range."""
    out = []
    by = {(r["target"], r["n"]): r for r in paced}
    for r in paced:
        if r["target"] not in ("sse_mock", "serve", "uwsgi"):
            continue
        n = r["n"]
        line = f"- paced N={n} {r['target']}: errors {r['errors']}, p99 {r['p99_ms']} ms"
        if (a := by.get(("aimock", n))) is not None:
            line += (f"; vs aimock: p99 {_ratio(r['p99_ms'], a['p99_ms'])}, "
                     f"CPU {_ratio(r['server_cpu'], a['server_cpu'])}, "
                     f"bytes {_ratio(r['bytes_per_stream'], a['bytes_per_stream'])}")
        floor = FLOORS[r["target"]]
        pairs = paired(runs or [], "paced", r["target"], floor, n, "server_cpu")
        if pairs:
            line += (f"; vs {floor}: CPU {pairs[len(pairs) // 2]:.2f}× (run by run "
                     f"{', '.join(f'{x:.2f}' for x in pairs)})")
        elif (w := by.get((floor, n))) is not None:
            line += f"; vs {floor}: CPU {_ratio(r['server_cpu'], w['server_cpu'])}"
        if r["target"] == "serve" and (g := by.get(("sse_mock", n))) is not None:
            line += f"; vs gunicorn: p99 {_ratio(r['p99_ms'], g['p99_ms'])}"
        out.append(line)
    zby = {r["target"]: r for r in zero}
    a = zby.get("aimock")
    for name in ("sse_mock", "serve", "uwsgi"):
        r = zby.get(name)
        if r is None:
            continue
        line = (f"- zero-delay {name}: {r['streams_per_s']} streams/s, "
                f"{r['cpu_ms_per_stream']} ms CPU/stream, {r['bytes_per_stream']} B/stream")
        if a is not None:
            line += (f"; vs aimock: streams/s {_ratio(r['streams_per_s'], a['streams_per_s'])}, "
                     f"CPU/stream {_ratio(r['cpu_ms_per_stream'], a['cpu_ms_per_stream'])}, "
                     f"bytes {_ratio(r['bytes_per_stream'], a['bytes_per_stream'])}")
        out.append(line)
    return out


STYLES = {"sse_mock": "o-", "serve": "D-", "uwsgi": "P-", "aimock": "v-.", "raw": "s--",
          "raw_serve": "x--", "raw_uwsgi": "+--", "starlette": "^:"}


def plot(paced: list[dict[str, Any]], zero: list[dict[str, Any]], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot (pip install matplotlib)")
        return False
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 5), width_ratios=[3, 2])
    for i, (target, style) in enumerate(STYLES.items()):
        pts = sorted((r["n"], r["p50_ms"], r["p99_ms"]) for r in paced if r["target"] == target)
        if pts:
            ns = [p[0] for p in pts]
            ax.plot(ns, [p[2] for p in pts], style, color=f"C{i}", label=f"{target} p99")
            ax.plot(ns, [p[1] for p in pts], style, color=f"C{i}", alpha=0.35,
                    label=f"{target} p50")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("concurrent streams (N)")
    ax.set_ylabel("content-event lateness vs due time (ms)")
    ax.set_title("chat stream, 10 words at 1/s, loopback, 2 cores")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    names = [r["target"] for r in zero]
    if names:
        xs = range(len(names))
        bx.bar([x - 0.2 for x in xs], [r["streams_per_s"] for r in zero], 0.4,
               label="streams/s")
        bx2 = bx.twinx()
        bx2.bar([x + 0.2 for x in xs], [r["cpu_ms_per_stream"] for r in zero], 0.4,
                color="tab:orange", label="server CPU ms/stream")
        bx.set_xticks(list(xs), names, rotation=20)
        bx.set_ylabel("streams/s (blue)")
        bx2.set_ylabel("server CPU ms per stream (orange)")
        bx.set_title("zero delay, 100 words, keep-alive clients")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", default="100,1000,5000,10000",
                        help="comma-separated paced concurrency levels ('' for none)")
    parser.add_argument("--targets", default=",".join(ALL_TARGETS))
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--no-zero", action="store_true", help="skip the zero-delay run")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--streams", type=int, default=100, help="streams per client (zero)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each measurement, the targets' order rotated each time; "
                        "each figure reported is the median over the runs, errors the worst")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--idle", type=int, default=0, metavar="N",
                        help="also measure RSS per idle stream with N streams")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--replot", action="store_true",
                        help="only redraw load.png and rewrite load.md from the load.json in "
                        "--out (and bench/results/notes.md)")
    args = parser.parse_args()
    out = Path(args.out)
    if args.replot:
        data = json.loads((out / "load.json").read_text())
        plot(data["paced"], data["zero"], out / "load.png")
        write_report(data, out)
        return
    levels = [int(x) for x in args.n.split(",") if x]
    # Bounded: loopback only, at most this many streams, every stream under a timeout.
    if any(not 1 <= n <= MAX_STREAMS for n in levels) or not 1 <= args.clients <= 1000 or not (
            1 <= args.streams <= 10000) or not 1 <= args.repeat <= 10 or not (
            0 < args.delay <= 10):
        parser.error(f"--n 1..{MAX_STREAMS}, --clients 1..1000, --streams 1..10000, "
                     "--repeat 1..10, --delay (0, 10]")
    _raise_nofile()
    targets = [t for t in args.targets.split(",") if t]
    unknown = set(targets) - set(ALL_TARGETS)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}; choose from {', '.join(ALL_TARGETS)}")
    if "aimock" in targets and (why := aimock_missing()):
        print(why, flush=True)
        targets.remove("aimock")
    if not UWSGI.exists():
        for target in ("uwsgi", "raw_uwsgi"):
            if target in targets:
                print(f"uWSGI is not installed ({UWSGI}): pip install -e '.[bench]'; skipping "
                      f"the {target} target", flush=True)
                targets.remove(target)
    bench = Bench(args.delay)
    extra: dict[str, Any] = {}
    runs: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for rep in range(args.repeat):
        order = run_order(targets, rep)
        if not args.no_zero:
            for target in order:
                s = bench.zero(target, args.clients, args.streams).summary()
                runs.setdefault(("zero", target, args.clients), []).append(s)
                print(json.dumps(s), flush=True)
        for n in levels:
            for target in order:
                s = bench.paced(target, n).summary()
                runs.setdefault(("paced", target, n), []).append(s)
                print(json.dumps(s), flush=True)
    zero = [median_run(runs[k]) for k in sorted(runs, key=_order(targets)) if k[0] == "zero"]
    paced = [median_run(runs[k]) for k in sorted(runs, key=_order(targets)) if k[0] == "paced"]
    if args.idle:
        for target in targets:
            if target in ("sse_mock", "raw", "starlette"):
                extra[f"idle_bytes_per_stream_{target}"] = round(idle_rss(target, args.idle))
                print(target, "idle bytes/stream", extra[f"idle_bytes_per_stream_{target}"],
                      flush=True)
    out.mkdir(parents=True, exist_ok=True)
    data = {"command": "python bench/load.py " + " ".join(sys.argv[1:]),
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "python": sys.version.split()[0], "delay": args.delay, "clients": args.clients,
            "streams": args.streams, "paced": paced, "zero": zero, "extra": extra,
            "runs": [r for rs in runs.values() for r in rs]}
    (out / "load.json").write_text(json.dumps(data, indent=1))
    summary = write_report(data, out)
    if not args.no_plot and plot(paced, zero, out / "load.png"):
        print("plot:", out / "load.png")
    print("\n".join(summary))


def write_report(data: dict[str, Any], out: Path) -> list[str]:
    """load.md from load.json's data, closed by bench/results/notes.md when there is one."""
    paced, zero = data["paced"], data["zero"]
    summary = ratios(paced, zero, data.get("runs"))
    report = [f"# bench/load.py results\n\nCommand: `{data['command']}`\n",
              f"Machine: {os.cpu_count()} cores (shared), Python {data.get('python', '?')}, "
              f"loopback; {data.get('when', '?')}.\n",
              "## Ratios (measured side by side in this run)\n", *summary, "",
              f"## Paced: 10 words at one per {data.get('delay', 1):g} s, N concurrent "
              "streams\n", table(paced, PACED_COLS), "",
              f"## Zero delay: 100 words, {data.get('clients', '?')} keep-alive clients × "
              f"{data.get('streams', '?')} streams\n", table(zero, ZERO_COLS), ""]
    if data.get("extra"):
        report += ["```json", json.dumps(data["extra"], indent=1), "```"]
    notes = RESULTS / "notes.md"  # the hand-written reading of these figures, kept across runs
    if notes.exists():
        report += ["", notes.read_text()]
    (out / "load.md").write_text("\n".join(report) + "\n")
    return summary

if __name__ == "__main__":
    main()
