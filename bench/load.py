"""Load generator: N concurrent SSE streams against three servers, on loopback only.

    python bench/load.py                      # the full sweep, writes bench/results/
    python bench/load.py --n 1000 --targets sse_mock,raw --no-plot

Targets, each started here as a subprocess on a free loopback port:

(a) ``sse_mock``  — ``create_app()`` under ``gunicorn -k gevent`` (2 workers)
(b) ``raw``       — bench/raw_wsgi.py, a 15-line WSGI generator, same gunicorn (the floor)
(c) ``starlette`` — sse-starlette under ``uvicorn --workers 2`` (what a user might pick instead)

The stream spec is the same for all: 10 events ``delay`` seconds apart (1 s by default, and a
zero-delay variant), each with an ``id:``, then ``[DONE]``. The client (asyncio, one process,
bounded in count and time) checks that every event arrived in order, and measures each event's
lag against its due time (request sent + id × delay). Server CPU seconds (the whole process tree,
from /proc) and peak RSS (sampled) are reported beside it. Modes:

``--idle``   RSS per open idle stream (one worker; streams whose first event is a minute away).
``--zero``   zero-delay throughput, events/s to 1 and to 100 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


# -- servers ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def server_command(target: str, port: int, workers: int, n_conn: int) -> list[str]:
    bind = f"127.0.0.1:{port}"
    gunicorn = [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", str(workers),
                "--worker-connections", str(max(1000, n_conn)), "--backlog", "4096",
                "--timeout", "120", "--log-level", "warning", "-b", bind]
    if _gunicorn_has_control_socket():
        gunicorn.append("--no-control-socket")
    if target == "sse_mock":
        # journal off: a load test keeps no per-request history. Long replies (the zero-delay
        # runs) come from rules: a reply of 20,000 words does not fit in a request line.
        rules = [{"match": {"regex": f"^n{n}$"}, "lorem": n} for n in LONG_REPLIES]
        return [*gunicorn, f"sse_mock:create_app(journal_size=0, rules={rules!r})"]
    if target == "raw":
        return [*gunicorn, "bench.raw_wsgi:app"]
    if target == "starlette":
        return [sys.executable, "-m", "uvicorn", "--workers", str(workers), "--host",
                "127.0.0.1", "--port", str(port), "--log-level", "warning",
                "--backlog", "4096", "--limit-concurrency", str(n_conn * 2 + 100),
                "bench.starlette_app:app"]
    raise ValueError(target)


_CONTROL: bool | None = None


def _gunicorn_has_control_socket() -> bool:
    global _CONTROL
    if _CONTROL is None:
        out = subprocess.run([sys.executable, "-m", "gunicorn", "--help"], capture_output=True,
                             text=True, timeout=60).stdout
        _CONTROL = "--no-control-socket" in out
    return _CONTROL


LONG_REPLIES = (2000, 20000)


def stream_path(target: str, n: int, delay: float) -> str:
    if target == "sse_mock":
        if n in LONG_REPLIES:
            return f"/mock/stream?prompt=n{n}&delay={delay:g}"
        reply = "+".join(f"w{i}" for i in range(n))
        return f"/mock/stream?reply={reply}&delay={delay:g}"
    if target == "raw":
        return f"/?n={n}&delay={delay:g}"
    return f"/stream?n={n}&delay={delay:g}"


class Server:
    def __init__(self, target: str, workers: int, n_conn: int) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            server_command(target, self.port, workers, n_conn), cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=_raise_nofile,
            start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                    raise RuntimeError(f"{target} did not start: {err}") from None
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

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime + stime
        return total / TICKS

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
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        if self.proc.stderr:
            self.proc.stderr.close()


# -- client -----------------------------------------------------------------------------------


@dataclass
class Result:
    target: str
    n: int
    delay: float
    events_per_stream: int
    ok_streams: int = 0
    errors: int = 0
    lost_or_reordered: int = 0
    lags: list[float] = field(default_factory=list, repr=False)
    first_lags: list[float] = field(default_factory=list, repr=False)  # event 0 only
    first_errors: list[str] = field(default_factory=list)
    wall: float = 0.0
    server_cpu: float = 0.0
    peak_rss_mb: float = 0.0

    def summary(self) -> dict[str, Any]:
        lags = sorted(self.lags)

        def pct(p: float) -> float:
            return lags[min(len(lags) - 1, int(p * len(lags)))] * 1000 if lags else float("nan")

        data = {k: v for k, v in asdict(self).items() if k not in ("lags", "first_lags")}
        firsts = sorted(self.first_lags)
        data["first_event_p99_ms"] = round(
            firsts[int(0.99 * (len(firsts) - 1))] * 1000, 2) if firsts else float("nan")
        data.update(p50_ms=round(pct(0.5), 2), p99_ms=round(pct(0.99), 2),
                    max_ms=round(lags[-1] * 1000, 2) if lags else float("nan"),
                    events=len(lags), events_per_s=round(len(lags) / self.wall, 1)
                    if self.wall else 0)
        return data


async def one_stream(port: int, path: str, n_events: int, delay: float, result: Result,
                     timeout: float) -> None:
    loop = asyncio.get_running_loop()
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port), timeout)
    except (TimeoutError, OSError) as exc:
        result.errors += 1
        if len(result.first_errors) < 5:
            result.first_errors.append(f"connect: {exc!r}")
        return
    try:
        sent = loop.time()
        # HTTP/1.0: no chunked framing; the body ends when the server closes.
        writer.write(f"GET {path} HTTP/1.0\r\nHost: bench\r\nAccept: text/event-stream\r\n"
                     "\r\n".encode())
        buf = b""
        deadline = sent + timeout
        while b"\r\n\r\n" not in buf:
            chunk = await asyncio.wait_for(reader.read(65536), deadline - loop.time())
            if not chunk:
                raise ConnectionError("closed before the headers")
            buf += chunk
        head, _, buf = buf.partition(b"\r\n\r\n")
        buf = buf.replace(b"\r\n", b"\n")  # sse-starlette ends lines with CRLF
        if not head.startswith((b"HTTP/1.0 200", b"HTTP/1.1 200")):
            raise ConnectionError(head.split(b"\r\n", 1)[0].decode())
        expected = 0
        while True:
            while b"\n\n" in buf:
                block, _, buf = buf.partition(b"\n\n")
                ident = None
                for line in block.split(b"\n"):
                    if line.startswith(b"id: "):
                        ident = int(line[4:])
                if ident is None:
                    continue  # a comment-only block (": ok", ": ping")
                if ident != expected:
                    result.lost_or_reordered += 1
                expected = ident + 1
                lag = max(0.0, loop.time() - (sent + ident * delay))
                result.lags.append(lag)
                if ident == 0:
                    result.first_lags.append(lag)
            chunk = await asyncio.wait_for(reader.read(65536), deadline - loop.time())
            if not chunk:
                break
            buf = (buf + chunk).replace(b"\r\n", b"\n")  # CRLF may straddle two reads
        if expected != n_events:
            result.lost_or_reordered += abs(n_events - expected)
        else:
            result.ok_streams += 1
    except (TimeoutError, OSError, ConnectionError, ValueError) as exc:
        result.errors += 1
        if len(result.first_errors) < 5:
            result.first_errors.append(repr(exc))
    finally:
        writer.close()


async def run_load(port: int, path: str, n: int, n_events: int, delay: float, ramp: float,
                   result: Result) -> None:
    timeout = 30 + n_events * delay + ramp
    tasks = []
    start = asyncio.get_running_loop().time()
    for i in range(n):
        # Spread the connects over `ramp` seconds: a burst of 10,000 SYNs overflows backlogs.
        at = start + ramp * i / n
        wait = at - asyncio.get_running_loop().time()
        if wait > 0:
            await asyncio.sleep(wait)
        tasks.append(asyncio.create_task(one_stream(port, path, n_events, delay, result,
                                                    timeout)))
    await asyncio.gather(*tasks)


def measure(target: str, n: int, delay: float, events: int = 10, workers: int = 2,
            ramp: float | None = None) -> Result:
    result = Result(target, n, delay, events + 1)
    server = Server(target, workers, n)
    try:
        path = stream_path(target, events, delay)
        asyncio.run(run_load(server.port, path, 2, events + 1, 0.0, 0.0, Result(
            target, 2, 0.0, events + 1)))  # warm-up: imports, first requests
        cpu0 = server.cpu_seconds()
        server.start_sampling()
        t0 = time.monotonic()
        ramp = ramp if ramp is not None else min(5.0, n / 2000)
        asyncio.run(run_load(server.port, path, n, events + 1, delay, ramp, result))
        result.wall = time.monotonic() - t0
        result.server_cpu = round(server.cpu_seconds() - cpu0, 2)
        result.peak_rss_mb = round(server.peak_rss / 2**20, 1)
    finally:
        server.stop()
    return result


def idle_rss(target: str, n: int) -> float:
    """Bytes of server RSS per open, idle stream (one worker)."""
    server = Server(target, 1, n)
    try:
        if target == "sse_mock":
            path = "/mock/stream?reply=a&first_token_delay=120"
        elif target == "raw":
            path = "/?n=1&delay=120"
        else:
            path = "/stream?n=1&delay=120"
        asyncio.run(run_load(server.port, stream_path(target, 2, 0), 4, 3, 0, 0,
                             Result(target, 4, 0, 3)))
        before = server.rss()

        async def hold() -> int:
            writers = []
            for _ in range(n):
                r, w = await asyncio.open_connection("127.0.0.1", server.port)
                w.write(f"GET {path} HTTP/1.0\r\nHost: b\r\n\r\n".encode())
                writers.append((r, w))
            for r, _ in writers:  # every stream has started (headers arrived)
                await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 60)
            await asyncio.sleep(1.0)
            after = server.rss()
            for _, w in writers:
                w.close()
            return after

        after = asyncio.run(hold())
        return (after - before) / n
    finally:
        server.stop()


# -- main -------------------------------------------------------------------------------------


def table(rows: list[dict[str, Any]]) -> str:
    cols = ["target", "n", "delay", "ok_streams", "errors", "lost_or_reordered", "p50_ms",
            "p99_ms", "max_ms", "events_per_s", "server_cpu", "peak_rss_mb"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(str(r[c]) for c in cols) + " |")
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot (pip install matplotlib)")
        return False
    fig, ax = plt.subplots(figsize=(8, 5))
    for target, style in (("sse_mock", "o-"), ("raw", "s--"), ("starlette", "^:")):
        pts = sorted((r["n"], r["p50_ms"], r["p99_ms"]) for r in rows
                     if r["target"] == target and r["delay"] > 0)
        if pts:
            ns = [p[0] for p in pts]
            ax.plot(ns, [p[2] for p in pts], style, label=f"{target} p99")
            ax.plot(ns, [p[1] for p in pts], style, alpha=0.4, label=f"{target} p50")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(bottom=0.5)
    ax.set_xlabel("concurrent streams (N)")
    ax.set_ylabel("event lag vs due time (ms)")
    ax.set_title("SSE event lag, 10 events at 1/s, loopback, 2 cores")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", default="100,1000,5000,10000",
                        help="comma-separated concurrency levels (default: 100,1000,5000,10000)")
    parser.add_argument("--targets", default="sse_mock,raw,starlette")
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--idle", type=int, default=0, metavar="N",
                        help="also measure RSS per idle stream with N streams")
    parser.add_argument("--zero", action="store_true",
                        help="also measure zero-delay throughput (1 and 100 clients)")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--replot", action="store_true",
                        help="only redraw load.png from the load.json in --out")
    args = parser.parse_args()
    if args.replot:
        out = Path(args.out)
        plot(json.loads((out / "load.json").read_text())["rows"], out / "load.png")
        return
    _raise_nofile()
    targets = args.targets.split(",")
    rows = []
    for n in (int(x) for x in args.n.split(",")):
        for target in targets:
            r = measure(target, n, args.delay)
            s = r.summary()
            rows.append(s)
            print(json.dumps(s), flush=True)
    extra: dict[str, Any] = {}
    if args.zero:
        for clients in (1, 100):
            for target in targets:
                r = measure(target, clients, 0.0, events=2000 if clients > 1 else 20000)
                s = r.summary()
                extra[f"zero_{target}_{clients}"] = s
                print(json.dumps(s), flush=True)
    if args.idle:
        for target in targets:
            extra[f"idle_bytes_per_stream_{target}"] = round(idle_rss(target, args.idle))
            print(target, "idle bytes/stream", extra[f"idle_bytes_per_stream_{target}"],
                  flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = "python bench/load.py " + " ".join(sys.argv[1:])
    report = [f"# bench/load.py results\n\nCommand: `{command}`\n",
              f"Machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, loopback.\n",
              table(rows), ""]
    if extra:
        report += ["```json", json.dumps(extra, indent=1), "```"]
    (out / "load.md").write_text("\n".join(report) + "\n")
    (out / "load.json").write_text(json.dumps({"command": command, "rows": rows,
                                               "extra": extra}, indent=1))
    if not args.no_plot and plot(rows, out / "load.png"):
        print("plot:", out / "load.png")
    print(table(rows))
    if rows:
        print("median p99 across rows:", statistics.median(r["p99_ms"] for r in rows))


if __name__ == "__main__":
    main()
