"""Pass-through cost: a non-matching request through SSEMockMiddleware vs the bare app.

    python bench/bench_passthrough.py

Target (issue #2): under 1 µs added per request. Reports the ratio to a trivial WSGI app and
to a Flask hello-world, measured in the same run (best of several repeats).
"""

from __future__ import annotations

import timeit
from typing import Any

from sse_mock import SSEMockMiddleware


def trivial(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hi"]


def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    pass


def environ() -> dict[str, Any]:
    from werkzeug.test import EnvironBuilder

    return EnvironBuilder(path="/api/items", method="GET").get_environ()


def best(fn: Any, number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=7)) / number


def compare(name: str, app: Any, number: int) -> float:
    wrapped = SSEMockMiddleware(app)
    env = environ()

    def bare() -> None:
        for _ in app(dict(env), start_response):
            pass

    def through() -> None:
        for _ in wrapped(dict(env), start_response):
            pass

    t_bare, t_wrapped = best(bare, number), best(through, number)
    added = (t_wrapped - t_bare) * 1e6
    print(f"{name:<18} bare {t_bare * 1e6:8.3f} µs   wrapped {t_wrapped * 1e6:8.3f} µs   "
          f"ratio {t_wrapped / t_bare:5.3f}×   added {added:+.3f} µs   "
          f"{'PASS' if added < 1.0 else 'MISS'} (target < 1 µs)")
    return added


def main() -> None:
    compare("trivial WSGI app", trivial, 200_000)
    try:
        import flask
    except ImportError:  # pragma: no cover
        print("flask not installed: skipped")
        return
    app = flask.Flask("bench")

    @app.get("/api/items")
    def items() -> str:
        return "hello"

    compare("Flask hello-world", app.wsgi_app, 20_000)


if __name__ == "__main__":
    main()
