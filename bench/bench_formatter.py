"""How much does SSEFormatter cost per token compared with formatting inline?

Run from the repository root::

    python bench/bench_formatter.py

It measures, in one run and with the best of several ``timeit`` repeats each:

(a) the inline ``f"data: {t}\\n\\n".encode()`` the first prototype used,
(b) ``SSEFormatter().format(t)`` through a bound method (its fast path),
(c) ``format(t, event=..., id=...)`` (the general path),

for a short token, and checks that (b) reaches at least 0.3x the throughput of (a). The
result depends on the machine and its load; treat a MISS as a reason to look, not as proof.
"""

from __future__ import annotations

import sys
import timeit
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run without installing

from sse_mock.formatter import SSEFormatter  # noqa: E402

TOKEN = "hello"
TARGET = 0.3  # (b) / (a)
REPEATS = 7
NUMBER = 200_000  # calls per repeat; ~7 x 3 x 200k short calls stays well under 10 s


def best_ops_per_second(stmt: str, namespace: dict[str, Any]) -> float:
    """Runs of ``stmt`` per second in the fastest of REPEATS repeats (the least disturbed)."""
    # A statement string, not a lambda: no extra call is timed around the expression itself.
    best = min(timeit.repeat(stmt, repeat=REPEATS, number=NUMBER, globals=namespace))
    return NUMBER / best


def main() -> int:
    t = TOKEN
    fmt = SSEFormatter().format
    # The three candidates must agree on the bytes before their speed means anything.
    assert fmt(t) == f"data: {t}\n\n".encode()
    assert fmt(t, event="token", id="1") == b"event: token\nid: 1\ndata: hello\n\n"

    namespace = {"t": t, "fmt": fmt}
    inline = best_ops_per_second('f"data: {t}\\n\\n".encode()', namespace)
    fast = best_ops_per_second("fmt(t)", namespace)
    general = best_ops_per_second('fmt(t, event="token", id="1")', namespace)

    print(f"token {t!r}, best of {REPEATS} x {NUMBER:,} calls")
    print(f"(a) inline f-string .encode()       {inline:>14,.0f} ops/s")
    print(f"(b) SSEFormatter().format(t)        {fast:>14,.0f} ops/s")
    print(f"(c) format(t, event=..., id=...)    {general:>14,.0f} ops/s")
    ratio = fast / inline
    verdict = "PASS" if ratio >= TARGET else "MISS"
    print(f"(b)/(a) = {ratio:.2f}x   target >= {TARGET}x   {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
