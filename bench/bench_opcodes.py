"""Python bytecode instructions one paced stream executes: sse_mock's against the raw generator.

``python bench/bench_opcodes.py [--top 25]``

One paced10 chat stream (bench/bench_open_streams.py's request, its fake clock) is run under
``sys.settrace`` with opcode events, after warm-up runs: the instructions of its set-up (the WSGI
call and the first write) and of its later writes, in total and per function. Unlike a timing,
the count does not move with the machine's load, so it can tell a 3 % change apart; it leaves
out what C code does (JSON parsing, regular expressions, allocation) and the cost of memory gone
cold, which bench/bench_open_streams.py and bench/load.py measure.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_open_streams import FakeTime, build, environ, start_response  # noqa: E402


def count(target: str) -> tuple[Counter[str], Counter[str], int]:
    clock = FakeTime()
    real = time.sleep, time.monotonic
    time.sleep, time.monotonic = clock.sleep, clock.monotonic
    try:
        app, path, query = build(target, clock)
        for _ in range(50):  # warm: caches filled, specialised bytecode
            for _ in app(environ(path, query), start_response):
                pass
        ops: Counter[str] = Counter()

        def tracer(frame: FrameType, event: str, arg: Any) -> Any:
            frame.f_trace_opcodes = True
            if event == "opcode":
                code = frame.f_code
                ops[f"{Path(code.co_filename).name}:{code.co_name}"] += 1
            return tracer

        sys.settrace(tracer)
        it = iter(app(environ(path, query), start_response))
        next(it)
        sys.settrace(None)
        setup = ops.copy()
        ops.clear()
        writes = 0
        sys.settrace(tracer)
        for _ in it:
            writes += 1
        sys.settrace(None)
        return setup, ops, writes
    finally:
        time.sleep, time.monotonic = real


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    totals = {}
    for target in ("raw", "sse_mock"):
        setup, later, writes = count(target)
        totals[target] = (sum(setup.values()), sum(later.values()))
        print(f"{target}: set-up {totals[target][0]} instructions, {writes} later writes "
              f"{totals[target][1]}")
        for name, n in setup.most_common(args.top):
            print(f"  set-up  {n:6d}  {name}")
        for name, n in later.most_common(5):
            print(f"  writes  {n:6d}  {name}")
    (rs, rw), (ms, mw) = totals["raw"], totals["sse_mock"]
    print(f"sse_mock / raw: set-up {ms / rs:.2f}x, later writes {mw / rw:.2f}x "
          "(the fake clock's own calls included on both sides)")


if __name__ == "__main__":
    main()
