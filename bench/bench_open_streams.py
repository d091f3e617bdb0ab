"""sse_mock's own share of a paced stream's CPU, in process, beside the raw WSGI generator.

``python bench/bench_open_streams.py [--n 3000] [--rounds 7]``

N paced chat streams (bench/load.py's ``paced10``: role chunk, ten words one second apart,
finish, ``[DONE]``) are opened through the WSGI app and then driven round robin, one write of
each stream per turn, so that every stream's state is as cold as under a server holding N
streams. A fake clock stands in for time: a sleep moves it on, nothing waits. Printed: set-up
(the WSGI call and the first write) and the later writes, in µs per stream (the minimum over
the rounds), and the GC-tracked objects each open stream holds — for sse_mock
(``create_app()``, journal off, as in bench/load.py) and for bench/raw_wsgi.py.

No sockets and no server: what a server adds is in bench/load.py (targets ``raw``,
``raw_serve``, ``raw_uwsgi``).
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.chat_bench import reply_text  # noqa: E402

BODY = json.dumps({"model": "gpt-4o-mini", "stream": True,
                   "messages": [{"role": "user", "content": "paced10"}]}).encode()


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def build(target: str, clock: FakeTime) -> tuple[Callable[..., Any], str, str]:
    if target == "sse_mock":
        import sse_mock

        app = sse_mock.create_app({"journal_size": 0, "rules": [
            {"name": "paced10", "match": {"regex": "^paced10$"},
             "reply": reply_text("paced10"), "delay": 1, "first_token_delay": 1}]})
        app.pacer.clock = clock.monotonic
        return app, "/mock/v1/chat/completions", ""
    from bench.raw_wsgi import app as raw

    return raw, "/v1/chat/completions", "delay=1"


def environ(path: str, query: str) -> dict[str, Any]:
    return {"REQUEST_METHOD": "POST", "PATH_INFO": path, "QUERY_STRING": query,
            "REMOTE_ADDR": "127.0.0.1", "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(BODY)), "wsgi.input": io.BytesIO(BODY),
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "HTTP_HOST": "127.0.0.1:8000",
            "HTTP_ACCEPT": "text/event-stream", "HTTP_AUTHORIZATION": "Bearer x",
            "wsgi.url_scheme": "http", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.version": (1, 0),
            "wsgi.multiprocess": False, "wsgi.multithread": True, "wsgi.errors": sys.stderr}


def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    pass


def measure(target: str, n: int, rounds: int) -> dict[str, float]:
    clock = FakeTime()
    real_sleep, real_monotonic = time.sleep, time.monotonic
    time.sleep, time.monotonic = clock.sleep, clock.monotonic  # the raw generator's clock
    try:
        app, path, query = build(target, clock)

        def open_streams() -> list[Iterator[bytes]]:
            streams = []
            for _ in range(n):
                it = iter(app(environ(path, query), start_response))
                next(it)
                streams.append(it)
            return streams

        open_streams()  # warm
        gc.collect()
        before = Counter(type(o).__qualname__ for o in gc.get_objects())
        held = open_streams()
        gc.collect()
        objects = (len(gc.get_objects()) - sum(before.values())) / n
        del held
        setups, rests = [], []
        for _ in range(rounds):
            gc.collect()
            t0 = time.process_time()
            streams = open_streams()
            t1 = time.process_time()
            writes = 0
            while streams:
                alive = []
                for it in streams:
                    try:
                        next(it)
                    except StopIteration:
                        continue
                    writes += 1
                    alive.append(it)
                streams = alive
            t2 = time.process_time()
            setups.append((t1 - t0) / n * 1e6)
            rests.append((t2 - t1) / n * 1e6)
        return {"setup_us": min(setups), "writes_us": min(rests), "writes": writes / n,
                "objects": objects}
    finally:
        time.sleep, time.monotonic = real_sleep, real_monotonic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    gc.collect()
    gc.freeze()
    got = {t: measure(t, args.n, args.rounds) for t in ("raw", "sse_mock")}
    for t, r in got.items():
        print(f"{t:9s} set-up {r['setup_us']:6.1f} µs/stream   later writes {r['writes_us']:6.1f}"
              f" µs/stream ({r['writes']:.0f} writes)   GC-tracked objects per open stream "
              f"{r['objects']:.0f}")
    s, w = got["sse_mock"], got["raw"]
    total = (s["setup_us"] + s["writes_us"]) / (w["setup_us"] + w["writes_us"])
    print(f"sse_mock / raw: set-up {s['setup_us'] / w['setup_us']:.2f}x, later writes "
          f"{s['writes_us'] / w['writes_us']:.2f}x, whole stream {total:.2f}x "
          f"(+{s['setup_us'] + s['writes_us'] - w['setup_us'] - w['writes_us']:.0f} µs)")


if __name__ == "__main__":
    main()
