"""One mock across workers (issue 10, points 2 and 3), on real gunicorn workers over fresh
connections: with Redis state the workers answer as one process would; with memory state an
SDK's retries (``x-stainless-retry-count``, PROTOCOLS.md §2.6) still get ``*count`` right."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gunicorn.config
import httpx
import pytest
from conftest import ServerProcess, free_port, server_process

from sse_mock import create_app
from sse_mock.testing import WSGITransport

HERE = Path(__file__).resolve().parent
SEQUENCE = [{"match": {"contains": "seq"}, "replies": ["one", "two", "three"]}]


@contextlib.contextmanager
def gunicorn_workers(config: dict[str, Any], *args: str,
                     monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerProcess]:
    monkeypatch.setenv("SSE_MOCK_TEST_CONFIG", json.dumps(config))
    port = free_port()
    cmd = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--timeout", "10",
           "--graceful-timeout", "2", *args]
    if any(s.name == "control_socket_disable" for s in gunicorn.config.KNOWN_SETTINGS):
        cmd.append("--no-control-socket")
    cmd.append("workers_app:make()")
    with server_process(cmd, port, pythonpath=(HERE,)) as server:
        # The port opens with the first worker; the others may still be importing (slowly, on
        # a busy machine). Wait until every worker has answered once, so that the kernel has
        # all of them to hand connections to.
        workers = int(args[args.index("-w") + 1])
        pids: set[str] = set()
        deadline = time.monotonic() + 30
        while len(pids) < workers and time.monotonic() < deadline:
            pids.add(fresh_get(server.url + "/nothing").headers["x-worker"])
        assert len(pids) >= workers, f"only {len(pids)} of {workers} workers answered in 30 s"
        yield server


def fresh_get(url: str, **kwargs: Any) -> httpx.Response:
    """A GET on a new connection (no keep-alive): any worker may take it."""
    with httpx.Client(timeout=10) as client:
        return client.get(url, **kwargs)


def outcome(r: httpx.Response) -> str:
    if r.status_code != 200:
        return str(r.status_code)
    data = [line[6:] for line in r.text.splitlines() if line.startswith("data: ")]
    return " ".join(d for d in data if d != "[DONE]")


# The same script of requests against the workers and against one process.
SCRIPT = ["/mock/stream?fault=rate_limit*2", "/mock/stream?prompt=seq", "/mock/stream"] * 6

# Which worker accepts a new connection is the kernel's choice, and on a busy machine one worker
# may take nearly all of them. --max-requests 4 retires each worker after four requests and the
# arbiter forks a new one, so the script always meets several workers — each new one with only
# what Redis holds.
RECYCLE = ("--max-requests", "4")

WORKERS = [
    # --preload: the app (and its Redis client) is built before the fork; each worker must
    # still open its own connections and journal writer.
    pytest.param(("-k", "gthread", "-w", "2", "--threads", "4", "--preload", *RECYCLE),
                 id="gthread"),
    pytest.param(("-k", "gevent", "-w", "2", *RECYCLE), id="gevent", marks=pytest.mark.skipif(
        importlib.util.find_spec("gevent") is None, reason="gevent is not installed")),
]


@pytest.mark.parametrize("worker", WORKERS)
def test_redis_state_makes_two_workers_one_mock(
    worker: tuple[str, ...], redis_url: str, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = {"delay": 0, "state": redis_url, "state_prefix": prefix, "rules": SEQUENCE,
              "seed": 7, "chaos": {"server_error": 0.2}}
    with gunicorn_workers(config, *worker, monkeypatch=monkeypatch) as server:
        answers = [fresh_get(server.url + path) for path in SCRIPT]
        # Worker pid → the journal it lists. A stream's record is written just after its last
        # event has left (the journal's end of a stream): poll, briefly, for the last one.
        journals: dict[str, list[dict[str, Any]]] = {}
        deadline = time.monotonic() + 10
        while len(journals) < 2 and time.monotonic() < deadline:
            r = fresh_get(server.url + "/mock/_journal")
            if len(r.json()["data"]) >= len(SCRIPT):
                journals[r.headers["x-worker"]] = r.json()["data"]
        # An action queued through one worker (POST /mock/_next) is served by the other at once:
        # Redis tells every worker that the queue changed. (?seed=2: no chaos draw on these.)
        crossed = 0
        for i in range(40):
            with httpx.Client(timeout=10) as c:
                queued = c.post(server.url + "/mock/_next", json={"reply": f"queued{i}"})
            assert queued.status_code < 300, queued.text
            served = fresh_get(server.url + "/mock/stream?seed=2")
            assert outcome(served) == f"queued{i}"
            crossed += served.headers["x-worker"] != queued.headers["x-worker"]
            if crossed >= 3:
                break
        assert crossed >= 3
        assert outcome(fresh_get(server.url + "/mock/stream?seed=2")).startswith("Hello")
    pids = {r.headers["x-worker"] for r in answers}
    assert len(pids) >= 2, f"one worker answered everything: {pids}"
    got = [outcome(r) for r in answers]
    # The same outcomes as one process with the same seed and the same request order.
    one = create_app(**{**config, "state": "memory"})
    with httpx.Client(transport=WSGITransport(one), base_url="http://mock") as local:
        expected = [outcome(local.get(path)) for path in SCRIPT]
    assert got == expected
    # And what they are: rate_limit*2 fails twice then succeeds; the sequence goes round (a
    # chaos 500 takes its step too); seeded chaos (server_error 20 %) shows up.
    counted = [o for o, p in zip(got, SCRIPT, strict=True) if "fault" in p]
    assert counted == ["429", "429", "Hello, this is a mocked chatbot. How can I help you?"] * 2
    seq = [o for o, p in zip(got, SCRIPT, strict=True) if "seq" in p]
    assert all(o in ("500", ["one", "two", "three"][i % 3]) for i, o in enumerate(seq)), seq
    assert "500" in got
    # The journal, read through each worker, lists every request in order.
    assert len(journals) == 2
    for data in journals.values():
        assert [e["status"] for e in data] == [r.status_code for r in answers]
        assert [f"{e['path']}?{e['query']}".rstrip("?") for e in data] == SCRIPT


def test_sdk_retries_pass_a_count_fault_on_four_workers_with_memory_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Point 3: memory state, four workers, no keep-alive on either side: the SDKs' attempt
    number decides, so ``rate_limit*2`` with the default two retries fails, fails, succeeds —
    every time, whichever worker takes each attempt; with one retry it never succeeds.

    Which worker accepts a connection is the kernel's choice, and it may well be the same one
    every time. So each sync worker here serves one request and is replaced
    (``--max-requests 1``): every attempt meets a different worker with fresh memory state."""
    import anthropic
    import openai

    seen: list[tuple[int, str, str]] = []  # (status, retry count sent, worker)

    def note(response: Any) -> None:
        seen.append((response.status_code,
                     response.request.headers.get("x-stainless-retry-count", "-"),
                     response.headers.get("x-worker", "?")))

    def http_client(sdk: Any) -> Any:
        # The SDK's own httpx flavour (httpx or httpx2), with keep-alive off.
        limits = type(sdk.DEFAULT_CONNECTION_LIMITS)(max_keepalive_connections=0)
        return sdk.DefaultHttpxClient(limits=limits, timeout=10,
                                      event_hooks={"response": [note]})

    fault = {"X-Mock-Fault": "rate_limit:0.01*2"}
    msgs = [{"role": "user", "content": "hi"}]
    with gunicorn_workers({"delay": 0}, "-k", "sync", "-w", "4", "--max-requests", "1",
                          "--preload", monkeypatch=monkeypatch) as server:
        with openai.OpenAI(base_url=server.url + "/mock/v1", api_key="x", max_retries=2,
                           http_client=http_client(openai)) as oai:
            for _ in range(4):
                answer = oai.chat.completions.create(model="gpt-4o-mini", messages=msgs,
                                                     extra_headers=fault)
                assert answer.choices[0].message.content
        with anthropic.Anthropic(base_url=server.url + "/mock", api_key="x", max_retries=2,
                                 http_client=http_client(anthropic)) as claude:
            message = claude.messages.create(model="claude-haiku-4-5", max_tokens=50,
                                             messages=msgs, extra_headers=fault)
            assert message.stop_reason == "end_turn"
        seen_ok = list(seen)
        seen.clear()
        with openai.OpenAI(base_url=server.url + "/mock/v1", api_key="x", max_retries=1,
                           http_client=http_client(openai)) as oai:
            for _ in range(2):
                with pytest.raises(openai.RateLimitError):
                    oai.chat.completions.create(model="gpt-4o-mini", messages=msgs,
                                                extra_headers=fault)
    assert [(s, n) for s, n, _ in seen_ok] == [(429, "0"), (429, "1"), (200, "2")] * 5
    assert len({w for _, _, w in seen_ok}) == len(seen_ok), "a worker served two attempts"
    assert [(s, n) for s, n, _ in seen] == [(429, "0"), (429, "1")] * 2
