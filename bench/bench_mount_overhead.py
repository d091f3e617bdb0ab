"""Mount overhead: what the mock costs a framework's own requests once it is mounted.

Run from the repository root::

    python bench/bench_mount_overhead.py

For Flask, Django and Pyramid it builds the app twice — bare, and wrapped as each integration
documents (``app.wsgi_app = SSEMockMiddleware(app.wsgi_app)``, ``sse_mock.django.wrap``, the
``egg:sse-mock`` filter in the example's ini pipeline) — and calls each in-process with the same
prepared environ for a route of the framework's own (a request the mock does not match). Within
each batch bare and wrapped requests alternate one by one, so machine noise falls on both alike,
and each side keeps its fastest batch (the least disturbed). The middleware's own cost on that
path is ~0.2 µs (``bench/bench_passthrough.py``), below this benchmark's noise of about ±1 µs:
expect ratios within ~1 % of 1.00, on either side. Target: wrapped / bare ≤ 1.02× per
framework. The result depends on the machine and its load; treat a MISS as a reason to look,
not as proof.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run without installing
sys.path.insert(0, str(ROOT / "examples"))  # pyramid_app
sys.path.insert(0, str(ROOT / "examples" / "django_project"))  # mysite

from werkzeug.test import EnvironBuilder  # noqa: E402

from sse_mock import SSEMockMiddleware  # noqa: E402

TARGET = 1.02
REPEATS = 30  # batches per side
BATCH_SECONDS = 0.05  # the length of one batch, calibrated per framework

WSGIApp = Callable[[dict[str, Any], Any], Any]


def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    pass


def environ(path: str) -> dict[str, Any]:
    return EnvironBuilder(path=path, method="GET", base_url="http://localhost").get_environ()


def one(app: WSGIApp, env: dict[str, Any]) -> None:
    """One request, as a server makes it: call, iterate, close."""
    body = app(dict(env), start_response)
    for _chunk in body:
        pass
    close = getattr(body, "close", None)
    if close is not None:
        close()


def batch(bare: WSGIApp, wrapped: WSGIApp, env: dict[str, Any], number: int
          ) -> tuple[float, float]:
    """`number` requests to each, alternating one by one and in turn first (so that the two
    sides share the machine's state: caches, clock speed, other processes); seconds per request
    for each."""
    clock = time.perf_counter
    t_bare = t_wrapped = 0.0
    gc.collect()
    gc.disable()  # as timeit does: a collection would land on one side at random
    try:
        for i in range(number):
            first, second = (bare, wrapped) if i % 2 == 0 else (wrapped, bare)  # no order bias
            t0 = clock()
            one(first, env)
            t1 = clock()
            one(second, env)
            t2 = clock()
            if i % 2 == 0:
                t_bare += t1 - t0
                t_wrapped += t2 - t1
            else:
                t_wrapped += t1 - t0
                t_bare += t2 - t1
    finally:
        gc.enable()
    return t_bare / number, t_wrapped / number


def compare(name: str, bare: WSGIApp, wrapped: WSGIApp, path: str) -> float:
    env = environ(path)
    # Both answer the framework's route, identically, before their speed means anything.
    for app in (bare, wrapped):
        status: list[str] = []
        body = app(dict(env), lambda s, h, e=None, status=status: status.append(s))
        b"".join(body)
        getattr(body, "close", lambda: None)()
        assert status == ["200 OK"], (name, status)
    per_call = batch(bare, wrapped, env, 50)[0]  # also the warm-up
    number = max(50, int(BATCH_SECONDS / 2 / per_call))
    t_bare = t_wrapped = float("inf")
    for _ in range(REPEATS):
        b, w = batch(bare, wrapped, env, number)
        t_bare, t_wrapped = min(t_bare, b), min(t_wrapped, w)
    ratio = t_wrapped / t_bare
    print(f"{name:<8} GET {path:<8} bare {t_bare * 1e6:8.2f} µs   wrapped {t_wrapped * 1e6:8.2f} µs"
          f"   added {(t_wrapped - t_bare) * 1e6:+6.2f} µs   ratio {ratio:.4f}×   "
          f"target ≤ {TARGET}×   {'PASS' if ratio <= TARGET else 'MISS'}")
    return ratio


def flask_apps() -> tuple[WSGIApp, WSGIApp]:
    from flask import Flask

    def make() -> Flask:
        app = Flask("bench")

        @app.get("/")
        def index() -> dict[str, str]:
            return {"hello": "from Flask"}

        return app

    bare, wrapped = make(), make()
    wrapped.wsgi_app = SSEMockMiddleware(wrapped.wsgi_app, delay=0.1)  # type: ignore[method-assign]
    return bare, wrapped


def django_apps() -> tuple[WSGIApp, WSGIApp]:
    from django.conf import settings

    # The example project's settings, minus the mock's (they are injected below).
    settings.configure(
        DEBUG=True, SECRET_KEY="bench", ALLOWED_HOSTS=["localhost"], ROOT_URLCONF="mysite.urls",
        INSTALLED_APPS=[], MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
        DATABASES={}, USE_TZ=True)
    from django.core.wsgi import get_wsgi_application

    from sse_mock.django import wrap

    bare = get_wsgi_application()
    wrapped = wrap(bare, SimpleNamespace(DEBUG=True, SSE_MOCK_DELAY=0.1))
    assert isinstance(wrapped, SSEMockMiddleware)
    return bare, wrapped


def pyramid_apps() -> tuple[WSGIApp, WSGIApp]:
    from paste.deploy import loadapp

    wrapped = loadapp("config:" + str(ROOT / "examples" / "pyramid_app" / "development.ini"))
    assert isinstance(wrapped, SSEMockMiddleware)
    return wrapped.app, wrapped  # the same Pyramid router, bare and behind the filter


def main() -> int:
    started = time.perf_counter()
    print(f"best of {REPEATS} batches of ~{BATCH_SECONDS * 1000:.0f} ms, bare and wrapped "
          "requests alternating")
    compare("Flask", *flask_apps(), "/")
    compare("Django", *django_apps(), "/hello/")
    compare("Pyramid", *pyramid_apps(), "/hello")
    print(f"({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
