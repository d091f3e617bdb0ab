"""How long does the mock take to answer 1,000 embedding inputs of 1,536 dimensions?

Run from the repository root::

    python bench/bench_embeddings.py

It measures, in one run, best of several repeats each:

(a) a naive pure-Python baseline: per input, ``random.Random((seed, text))``, 1,536 Gaussian
    draws, normalized, and ``json.dumps`` of the whole answer;
(b) ``sse_mock.embeddings.vector_json`` for the same 1,000 texts (the vectors alone);
(c) the whole request through the middleware in process: ``POST /mock/v1/embeddings`` with
    1,000 inputs, JSON parsing of the request and the answer's bytes included;
(d) the same with ``encoding_format: "base64"``.

and checks (c) against the target of the issue: well under a second (TARGET_SECONDS), and prints
each as a ratio to (a). The machine may be shared; treat a MISS as a reason to look, not proof.
"""

from __future__ import annotations

import io
import json
import math
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run without installing

from sse_mock import create_app  # noqa: E402
from sse_mock.embeddings import vector_json  # noqa: E402

N, DIMS = 1000, 1536
TARGET_SECONDS = 0.5
REPEATS = 5
TEXTS = [f"document chunk number {i}: some text to embed" for i in range(N)]


def best(fn: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def baseline() -> bytes:
    data = []
    for i, text in enumerate(TEXTS):
        rng = random.Random(f"0:{text}")
        vec = [rng.gauss(0.0, 1.0) for _ in range(DIMS)]
        norm = math.sqrt(math.fsum(x * x for x in vec))
        data.append({"object": "embedding", "index": i, "embedding": [x / norm for x in vec]})
    return json.dumps({"object": "list", "data": data}).encode()


def vectors_only() -> list[str]:
    return [vector_json(t, DIMS, 0) for t in TEXTS]


APP = create_app(delay=0, journal_size=0)


def request(fmt: str) -> Callable[[], bytes]:
    body = json.dumps({"model": "text-embedding-3-small", "input": TEXTS,
                       "encoding_format": fmt}).encode()

    def run() -> bytes:
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/mock/v1/embeddings",
                   "SERVER_NAME": "localhost", "SERVER_PORT": "80", "HTTP_HOST": "localhost",
                   "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
                   "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http",
                   "wsgi.errors": sys.stderr, "wsgi.multithread": True,
                   "wsgi.multiprocess": False, "wsgi.run_once": False, "wsgi.version": (1, 0),
                   "SCRIPT_NAME": "", "QUERY_STRING": "", "SERVER_PROTOCOL": "HTTP/1.1"}
        status: list[str] = []
        out = b"".join(APP(environ, lambda s, h, e=None: status.append(s)))  # type: ignore[arg-type]
        assert status == ["200 OK"], (status, out[:200])
        return out

    return run


def main() -> int:
    sizes = {"float": len(request("float")()), "base64": len(request("base64")())}
    a = best(baseline)
    b = best(vectors_only)
    c = best(request("float"))
    d = best(request("base64"))
    print(f"{N} inputs x {DIMS} dimensions, best of {REPEATS}")
    print(f"(a) naive baseline (gauss + json.dumps): {a:7.3f} s   1.00x")
    print(f"(b) vector_json only:                    {b:7.3f} s   {a / b:5.2f}x faster")
    print(f"(c) POST /v1/embeddings, float:          {c:7.3f} s   {a / c:5.2f}x faster"
          f"   ({sizes['float'] / 1e6:.1f} MB)")
    print(f"(d) POST /v1/embeddings, base64:         {d:7.3f} s   {a / d:5.2f}x faster"
          f"   ({sizes['base64'] / 1e6:.1f} MB)")
    ok = c < TARGET_SECONDS
    print(f"target (c) < {TARGET_SECONDS} s: {'OK' if ok else 'MISS'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
