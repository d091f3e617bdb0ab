"""Hardening (issue #6, item 5): 1,000 clients that vanish mid-stream, at seeded random points.

Each client asks for a 2,000-token stream (the plain ``GET /mock/stream`` or a streamed chat,
Anthropic messages or Responses request), reads 1–150 events, and goes away — half with an RST
(``SO_LINGER`` 0), half with a plain close. Afterwards every journal entry says
``client went away`` (none is left ``in progress``, none ``completed``) and nothing leaked:

a) threads: werkzeug's threaded dev server in this process, 100 clients at a time on a thread
   pool; ``threading.active_count()`` returns to its baseline.
b) greenlets: ``soak_gevent.py`` in a subprocess — monkey-patched, ``gevent.pywsgi`` server and
   clients as greenlets in one process; the live greenlet count returns to its baseline.

The app (``soak_gevent.soak_app``) paces tokens every 10 ms with a 50 ms heartbeat, so the
server writes often and notices a vanished client on its next write.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import serve
from soak_gevent import STREAM_TOKENS, plans, soak_app, vanish

CLIENTS = 1000
CONCURRENCY = 100
SEED = 6
SETTLE = 15.0  # seconds allowed for the server side to notice the last client has gone


def test_threads_1000_vanishing_clients_leave_no_stream_or_thread_behind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    started = time.monotonic()
    app = soak_app()
    todo = plans(CLIENTS, SEED)
    assert {p.rst for p in todo} == {True, False}
    with serve(app, "werkzeug") as base:
        port = urlsplit(base).port
        assert port is not None
        baseline = threading.active_count()
        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            seen = list(pool.map(lambda plan: vanish(port, plan), todo))
        assert all(n >= p.events for n, p in zip(seen, todo, strict=True))
        clients_done = time.monotonic() - started

        deadline = time.monotonic() + SETTLE
        while True:
            outcomes = Counter(e.outcome for e in app.journal.entries())
            threads = threading.active_count()
            settled = outcomes["in progress"] == 0 and threads <= baseline
            if settled or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        entries = app.journal.entries()
    print(f"\nthreads soak: {CLIENTS} clients in {clients_done:.1f}s, settled after "
          f"{time.monotonic() - started:.1f}s; outcomes {dict(outcomes)}; threads {threads} "
          f"(baseline {baseline})")
    assert outcomes == {"client went away": CLIENTS}, outcomes
    assert threads <= baseline, (threads, baseline, [t.name for t in threading.enumerate()])
    # Every stream was cut long before its end.
    assert all(e.status == 200 and e.events < STREAM_TOKENS // 2 for e in entries)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not any("Error on request" in r.getMessage() for r in caplog.records)


def test_greenlets_1000_vanishing_clients_leave_no_stream_or_greenlet_behind() -> None:
    pytest.importorskip("gevent")
    script = Path(__file__).with_name("soak_gevent.py")
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(script), "--clients", str(CLIENTS), "--seed", str(SEED),
         "--concurrency", str(CONCURRENCY), "--settle", str(SETTLE)],
        capture_output=True, text=True, timeout=90, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"\ngevent soak ({time.monotonic() - started:.1f}s): {result}")
    assert result["failed_clients"] == 0, result["failures"]
    assert result["outcomes"] == {"client went away": CLIENTS}, result
    assert result["greenlets_after"] <= result["greenlets_before"] + 2, result
    assert not result["errors_logged"], result["errors_logged"]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
