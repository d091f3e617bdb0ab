"""Journal memory (issue 9, point 2): RSS after 1,000 one-megabyte requests vs the start.

Run from the repository root::

    python bench/bench_journal_memory.py

One ``create_app(delay=0)`` with the default journal (1,000 entries, ``journal_bytes`` 4 MiB)
answers 1,000 streamed chat requests whose last user message is about one megabyte, called
in-process (a WSGI environ with the body in ``wsgi.input``; the stream is read to the end), then
as many rejected ones (invalid JSON of the same size, a 400). The process's resident set size
(``VmRSS``) is read after 20 warm-up requests (the baseline) and after each phase. Kept whole,
the bodies would hold ~1,000 MB per phase; summarised (size, model, 200 characters of the last
user message) the journal holds a few hundred kilobytes. Target: growth ≤ 8 MB over the
baseline. Linux only (reads /proc/self/status).
"""

from __future__ import annotations

import gc
import io
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run without installing

from sse_mock import create_app  # noqa: E402
from sse_mock.journal import measure  # noqa: E402

REQUESTS = 1000
BODY_BYTES = 1_000_000
TARGET_MB = 8.0


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def body(i: int) -> bytes:
    text = f"request {i} " + "x" * (BODY_BYTES - 100)
    return json.dumps({"model": "gpt-4o-mini", "stream": True,
                       "messages": [{"role": "user", "content": text}]}).encode()


def call(app: Any, data: bytes) -> str:
    status: list[str] = []
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/mock/v1/chat/completions",
        "QUERY_STRING": "", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1", "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(data)), "HTTP_HOST": "localhost",
        "wsgi.input": io.BytesIO(data), "wsgi.errors": sys.stderr, "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0), "wsgi.multithread": True, "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    result = app(environ, lambda s, h, e=None: status.append(s))
    try:
        for _ in result:
            pass
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return status[0]


def main() -> int:
    app = create_app(delay=0)
    for i in range(20):  # warm-up: allocator arenas, caches, first-use imports
        call(app, body(i))
    gc.collect()
    start = rss_mb()
    for i in range(REQUESTS):
        assert call(app, body(i)).startswith("200"), i
    gc.collect()
    after_ok = rss_mb()
    bad = b"{" + b"x" * (BODY_BYTES - 1)
    for i in range(REQUESTS):
        assert call(app, bad).startswith("400"), i
    gc.collect()
    after_bad = rss_mb()
    entries = app.journal.entries()
    journal_bytes = sum(measure(e.to_dict()) for e in entries)
    growth = max(after_ok, after_bad) - start
    print(f"requests: {REQUESTS} accepted + {REQUESTS} rejected, {BODY_BYTES:,} bytes each")
    print(f"RSS start (after warm-up): {start:8.1f} MB")
    print(f"RSS after accepted:        {after_ok:8.1f} MB  (+{after_ok - start:.1f} MB)")
    print(f"RSS after rejected:        {after_bad:8.1f} MB  (+{after_bad - start:.1f} MB)")
    print(f"journal: {len(entries)} entries, {journal_bytes:,} bytes measured "
          f"(kept whole: ~{2 * REQUESTS * BODY_BYTES / 1e6:,.0f} MB)")
    print(f"RSS growth / start: {(start + growth) / start:.3f}x")
    ok = growth <= TARGET_MB
    print(f"growth {growth:.1f} MB, target ≤ {TARGET_MB:g} MB: {'OK' if ok else 'MISS'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
