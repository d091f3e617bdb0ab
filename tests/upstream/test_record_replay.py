"""Record from a real upstream over a socket, then replay with the upstream gone.

The upstream is a second sse_mock served by werkzeug, with its own timing (first-token delay,
interval with jitter) and faults; the recording middleware is served over a socket too, and the
official ``openai`` and ``anthropic`` SDKs are the clients. Once the upstream is stopped, the
replays must be byte-identical to what the client received while recording, timed within 5 %
of it, and parsed by the SDKs; no cassette may hold a credential.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from conftest import SERVERS, serve

from sse_mock import create_app
from sse_mock.upstream.events import EventSplitter, is_content

try:  # openai 3 speaks httpx2: a dropped connection is its transport error, not httpx's
    import httpx2

    DROPPED: tuple[type[Exception], ...] = (httpx.HTTPError, httpx2.HTTPError, openai.APIError)
except ImportError:  # pragma: no cover
    DROPPED = (httpx.HTTPError, openai.APIError)

OPENAI_KEY = "sk-proj-RECORDSECRETopenai0123456789abcdef"
ANTHROPIC_KEY = "sk-ant-api03-RECORDSECRETanthropic0123456789"
QUERY_SECRET = "query-secret-4242"
BODY_SECRET = "hunter2-bodysecret"
REPLY = "The quick brown fox jumps over the lazy dog while we record every event"
MODEL = "gpt-4o-mini"
CLAUDE = "claude-sonnet-4-6"

UPSTREAM_RULES: list[dict[str, Any]] = [
    {"match": {"contains": "limit me"}, "fault": "rate_limit:7"},
    {"match": {"contains": "drop me"}, "fault": "disconnect_after:2"},
    {"match": {"contains": "slowly"}, "delay": 0.3, "reply": "one two three four five"},
]


def upstream_app() -> Any:
    # Its own timing: time to first token, an interval with jitter (recorded, not recomputed).
    return create_app(reply=REPLY, delay=0.07, first_token_delay=0.15, jitter=0.4, seed=3,
                      require_api_key=True, rules=UPSTREAM_RULES)


def recorder(folder: Path, upstream: str, **options: Any) -> Any:
    options.setdefault("record", "new")
    return create_app(cassettes=str(folder), upstream={"openai": upstream + "/mock/v1",
                                                       "anthropic": upstream + "/mock"},
                      redact_patterns=[r"hunter2-\w+"], **options)


def openai_client(base: str, **kw: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=base + "/mock/v1", api_key=OPENAI_KEY, max_retries=0,
                         timeout=10, default_query={"key": QUERY_SECRET}, **kw)


def anthropic_client(base: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=base + "/mock", api_key=ANTHROPIC_KEY, max_retries=0,
                               timeout=10)


CHAT = {"model": MODEL, "messages": [{"role": "system", "content": "Be brief."},
                                     {"role": "user", "content": f"My password is {BODY_SECRET}"},
                                     {"role": "assistant", "content": "Noted."},
                                     {"role": "user", "content": "Tell me a story"}]}
CLAUDE_MSG = {"model": CLAUDE, "max_tokens": 200,
              "messages": [{"role": "user", "content": "Tell me a story"}]}

Timed = list[tuple[float, bytes]]


def units(chunks: Iterable[bytes], t0: float) -> Timed:
    """The whole events of a raw response with the time (since t0) each was complete."""
    splitter = EventSplitter()
    out: Timed = []
    for chunk in chunks:
        now = time.monotonic() - t0
        out += [(now, unit) for unit in splitter.feed(chunk)]
    tail = splitter.close()  # a JSON body: no event boundary at all
    return out + [(time.monotonic() - t0, tail)] if tail else out


def raw_openai(base: str, stream: bool = True, **kw: Any) -> Timed:
    client = openai_client(base)
    t0 = time.monotonic()
    with client.chat.completions.with_streaming_response.create(
            **CHAT, stream=stream, **kw) as response:  # type: ignore[call-overload]
        return units(response.iter_bytes(), t0)


def raw_anthropic(base: str) -> Timed:
    client = anthropic_client(base)
    t0 = time.monotonic()
    with client.messages.with_streaming_response.create(**CLAUDE_MSG, stream=True) as response:
        return units(response.iter_bytes(), t0)


def data(timed: Timed) -> bytes:
    return b"".join(unit for _, unit in timed)


@contextlib.contextmanager
def stoppable(app: Any) -> Iterator[tuple[str, contextlib.ExitStack]]:
    with contextlib.ExitStack() as stack:
        yield stack.enter_context(serve(app)), stack


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Record once through the SDKs, then stop the upstream: the tests replay."""
    folder = tmp_path_factory.mktemp("cassettes")
    up = upstream_app()
    with stoppable(up) as (up_url, stack):
        # Warm up (the SDKs import their resources at the first call, the mock its dialects):
        # the recording's offsets should be the upstream's timing, not first-call costs.
        raw_openai(up_url)
        raw_anthropic(up_url)
        up.journal.clear()
        rec = recorder(folder, up_url)
        with serve(rec) as url:
            out = {
                "folder": folder,
                "openai": raw_openai(url),
                "anthropic": raw_anthropic(url),
                "openai_json": raw_openai(url, stream=False),
                "journal": rec.journal.entries(),
                "upstream_journal": up.journal.entries(),
            }
        stack.close()  # the upstream is gone from here on
    yield out


def test_recording_streams_through_what_the_upstream_sent(recorded: dict[str, Any]) -> None:
    chat = recorded["openai"]
    # The recorder's own first chunk, then the upstream's stream untouched, [DONE] last.
    assert chat[0][1] == b": ok\n" and chat[1][1] == b": ok\n"
    assert chat[-1][1] == b"data: [DONE]\n\n"
    text = "".join(json.loads(u[6:])["choices"][0]["delta"].get("content") or ""
                   for _, u in chat if u.startswith(b"data: {"))
    assert text == REPLY
    assert recorded["anthropic"][-1][1].startswith(b"event: message_stop\n")
    sources = [(e.route, e.source, e.outcome) for e in recorded["journal"]]
    assert sources == [("openai-chat", "recording", "completed"),
                       ("anthropic-messages", "recording", "completed"),
                       ("openai-chat", "recording", "completed")]
    names = sorted(p.name for p in recorded["folder"].iterdir())
    assert names == sorted(e.cassette for e in recorded["journal"])
    assert [n.split("--")[:2] for n in names] == [
        ["anthropic-messages", CLAUDE], ["openai-chat", MODEL], ["openai-chat", MODEL]]
    # The caller's credentials went upstream (the upstream requires a key), the mock's did not.
    assert all(e.status == 200 for e in recorded["upstream_journal"])
    assert QUERY_SECRET in recorded["upstream_journal"][0].query


def test_no_credential_reaches_a_cassette(recorded: dict[str, Any]) -> None:
    files = list(recorded["folder"].iterdir())
    assert len(files) == 3
    for path in files:
        text = path.read_text()
        for secret in (OPENAI_KEY, ANTHROPIC_KEY, QUERY_SECRET, BODY_SECRET, "RECORDSECRET"):
            assert secret not in text, (secret, path.name)
    chat = next(p for p in files if '"stream": true' in p.read_text()
                and p.name.startswith("openai-chat"))
    assert "My password is [REDACTED]" in chat.read_text()


def replay_app(folder: Path, **options: Any) -> Any:
    # No upstream at all: record = "none" (the default) and no base URLs. The same redaction
    # as when recording: the fingerprint is taken of the redacted request.
    return create_app(cassettes=str(folder), redact_patterns=[r"hunter2-\w+"], **options)


def shifted(timed: Timed) -> Timed:
    return [(t - timed[0][0], unit) for t, unit in timed]


def within(replay: Timed, recording: Timed, fraction: float = 0.05) -> None:
    total = recording[-1][0]
    assert abs(replay[-1][0] - total) <= fraction * total, (replay[-1][0], total)
    for (t1, u1), (t2, _) in zip(recording, replay, strict=True):
        assert abs(t2 - t1) <= fraction * total, (u1, t1, t2)


def test_openai_replay_is_byte_identical_and_timed_like_the_recording(
    recorded: dict[str, Any]
) -> None:
    app = replay_app(recorded["folder"])
    with serve(app) as url:
        replay = raw_openai(url)
        assert data(replay) == data(recorded["openai"])
        within(replay, recorded["openai"])
        # The SDK parses it, and its content events are spaced as they were (measured from the
        # first: the SDK's own first-call imports are not the recording's business).
        seen = [(time.monotonic(), c.choices[0].delta.content)
                for c in openai_client(url).chat.completions.create(**CHAT, stream=True)
                if c.choices and c.choices[0].delta.content]
    assert "".join(text for _, text in seen) == REPLY
    content = [t for t, u in recorded["openai"] if is_content(u)]
    within([(t - seen[0][0], b"") for t, _ in seen], [(t - content[0], b"") for t in content])
    entry = app.journal.entries()[0]
    assert (entry.source, entry.outcome, entry.events) == ("replay", "completed",
                                                           len(REPLY.split()))
    assert entry.cassette == recorded["journal"][0].cassette


def test_anthropic_replay_is_byte_identical_and_timed_like_the_recording(
    recorded: dict[str, Any]
) -> None:
    with serve(replay_app(recorded["folder"])) as url:
        replay = raw_anthropic(url)
        assert data(replay) == data(recorded["anthropic"])
        within(replay, recorded["anthropic"])
        with anthropic_client(url).messages.stream(**CLAUDE_MSG) as stream:
            assert stream.get_final_text() == REPLY
            assert stream.get_final_message().stop_reason == "end_turn"


@pytest.mark.parametrize("kind", SERVERS)
def test_replays_on_every_server_and_in_a_fresh_process_state(
    recorded: dict[str, Any], kind: str
) -> None:
    # Each server gets a new middleware: only the files are shared (as between workers).
    with serve(replay_app(recorded["folder"], replay_speed=0), kind) as url:
        t0 = time.monotonic()
        assert data(raw_openai(url)) == data(recorded["openai"])
        assert data(raw_anthropic(url)) == data(recorded["anthropic"])
        assert time.monotonic() - t0 < recorded["openai"][-1][0]  # speed 0: no waiting


def test_replays_across_gunicorn_workers(recorded: dict[str, Any]) -> None:
    # Two processes, gevent workers (time.sleep patched after import): the cassettes are files.
    import sys

    from conftest import free_port, server_process

    port = free_port()
    app = f"sse_mock:create_app(cassettes={str(recorded['folder'])!r})"
    cmd = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "-w", "2",
           "-k", "gevent", "--timeout", "10", "--graceful-timeout", "2", app]
    with server_process(cmd, port) as server:
        replays = [raw_anthropic(server.url) for _ in range(2)]
    for replay in replays:
        assert data(replay) == data(recorded["anthropic"])
        # Spaced as recorded, counted from the first byte (a fresh worker's first request
        # pays for its imports before it).
        within(shifted(replay), shifted(recorded["anthropic"]))
    assert len({line.split()[-1] for line in server.final_log.splitlines()  # type: ignore
                if "Booting worker with pid" in line}) == 2


def test_non_streamed_answers_replay_too(recorded: dict[str, Any]) -> None:
    with serve(replay_app(recorded["folder"])) as url:
        assert data(raw_openai(url, stream=False)) == data(recorded["openai_json"])
        completion = openai_client(url).chat.completions.create(**CHAT, stream=False)
    assert completion.choices[0].message.content == REPLY


def test_faults_compose_with_a_replay(recorded: dict[str, Any]) -> None:
    with serve(replay_app(recorded["folder"], replay_speed=0)) as url:
        # disconnect_after:3 — three content events, then the connection drops.
        got = bytearray()
        client = openai_client(url)
        with pytest.raises(DROPPED, match="incomplete chunked read"):
            with client.chat.completions.with_streaming_response.create(
                    **CHAT, stream=True, extra_headers={"X-Mock-Fault": "disconnect_after:3"}
            ) as response:
                for chunk in response.iter_bytes():
                    got += chunk
        expected = [u for _, u in recorded["openai"]]
        cut = [i for i, u in enumerate(expected) if is_content(u)][3]
        assert bytes(got) == b"".join(expected[:cut])
        # error_after:2 — the provider's in-band error, parsed by the SDK.
        stream = openai_client(url).chat.completions.create(
            **CHAT, stream=True, extra_headers={"X-Mock-Fault": "error_after:2"})
        texts: list[str] = []
        with pytest.raises(openai.APIError):
            for chunk in stream:
                texts += [c.delta.content for c in chunk.choices if c.delta.content]
        assert texts == REPLY.split(" ")[:1] + [" " + w for w in REPLY.split(" ")[1:2]]
        # An HTTP fault answers before the replay starts.
        with pytest.raises(openai.RateLimitError):
            openai_client(url).chat.completions.create(
                **CHAT, extra_headers={"X-Mock-Fault": "rate_limit"})


def test_strict_mode_names_the_nearest_cassette(recorded: dict[str, Any]) -> None:
    asked = json.loads(json.dumps(CHAT))
    asked["messages"][3]["content"] = "Tell me a joke"
    with serve(replay_app(recorded["folder"], strict=True)) as url:
        with pytest.raises(openai.NotFoundError) as info:
            openai_client(url).chat.completions.create(**asked, stream=True)
    assert "differs in messages[3].content" in str(info.value)
    assert info.value.code == "no_matching_cassette"


def test_replay_timing_mock_uses_the_mocks_pacing(recorded: dict[str, Any]) -> None:
    with serve(replay_app(recorded["folder"], replay_timing="mock", delay=0)) as url:
        t0 = time.monotonic()
        assert data(raw_anthropic(url)) == data(recorded["anthropic"])
        assert time.monotonic() - t0 < recorded["anthropic"][-1][0] / 2


# -- a live upstream: streaming through, clients that leave, errors, rewriting ------------------


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Any, Any, str, Path]]:
    up = upstream_app()
    with serve(up) as up_url:
        rec = recorder(tmp_path, up_url, record="all")
        with serve(rec) as url:
            yield up, rec, url, tmp_path


def slow_request(url: str) -> httpx.Response:
    body = {"model": MODEL, "stream": True,
            "messages": [{"role": "user", "content": "answer slowly please"}]}
    client = httpx.Client(timeout=10)
    return client.send(client.build_request(
        "POST", url + "/mock/v1/chat/completions", json=body,
        headers={"Authorization": f"Bearer {OPENAI_KEY}"}), stream=True)


def test_events_reach_the_client_before_the_upstream_finishes(
    live: tuple[Any, Any, str, Path]
) -> None:
    up, rec, url, folder = live
    response = slow_request(url)
    splitter = EventSplitter()
    upstream_state_at_first_content = None
    try:
        for chunk in response.iter_bytes():
            for unit in splitter.feed(chunk):
                if is_content(unit) and upstream_state_at_first_content is None:
                    # The upstream's own journal: its answer is still being written.
                    upstream_state_at_first_content = up.journal.entries()[-1].outcome
    finally:
        response.close()
    assert upstream_state_at_first_content == "in progress"
    assert up.journal.entries()[-1].outcome == "completed"
    assert [e.source for e in rec.journal.entries()] == ["recording"]
    assert len(list(folder.iterdir())) == 1


def test_a_client_that_leaves_stops_the_upstream_request(
    live: tuple[Any, Any, str, Path]
) -> None:
    up, rec, url, folder = live
    response = slow_request(url)
    splitter = EventSplitter()
    for chunk in response.iter_bytes():
        if any(is_content(u) for u in splitter.feed(chunk)):
            break
    response.close()
    deadline = time.monotonic() + 5
    while up.journal.entries()[-1].outcome == "in progress":
        assert time.monotonic() < deadline, "the upstream request went on"
        time.sleep(0.02)
    assert up.journal.entries()[-1].outcome == "client went away"
    assert up.journal.entries()[-1].events < 5
    assert list(folder.iterdir()) == []  # an unfinished exchange is not a cassette


def test_an_upstream_429_passes_through_with_its_headers(
    live: tuple[Any, Any, str, Path]
) -> None:
    up, rec, url, folder = live
    with pytest.raises(openai.RateLimitError) as info:
        openai_client(url).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "limit me"}], stream=True)
    headers = info.value.response.headers
    assert headers["retry-after"] == "7" and headers["retry-after-ms"] == "7000"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert "mocked by sse_mock" in info.value.message  # the upstream's own error body
    entry = rec.journal.entries()[-1]
    assert (entry.source, entry.status, entry.outcome, entry.retry_after) == (
        "upstream", 429, "fault", 7.0)
    assert list(folder.iterdir()) == []


def test_an_upstream_that_drops_the_stream_drops_the_client(
    live: tuple[Any, Any, str, Path]
) -> None:
    up, rec, url, folder = live
    stream = openai_client(url).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "drop me"}], stream=True)
    texts: list[str] = []
    with pytest.raises(DROPPED):
        for chunk in stream:
            texts += [c.delta.content for c in chunk.choices if c.delta.content]
    assert len(texts) == 2
    assert rec.journal.entries()[-1].outcome == "fault"
    assert list(folder.iterdir()) == []


def test_record_all_rewrites_the_cassette(live: tuple[Any, Any, str, Path]) -> None:
    up, rec, url, folder = live
    ids = []
    for _ in range(2):
        openai_client(url).chat.completions.create(model=MODEL, messages=[
            {"role": "user", "content": "Hi"}])
        (path,) = folder.iterdir()
        ids.append(json.loads(path.read_text())["response"]["headers"]["x-request-id"])
    assert ids[0] != ids[1]  # the second answer replaced the first
    assert [e.source for e in rec.journal.entries()] == ["recording", "recording"]


def test_upstream_unreachable_is_a_502_in_the_clients_shape(tmp_path: Path) -> None:
    from conftest import free_port

    app = recorder(tmp_path, f"http://127.0.0.1:{free_port()}")
    with serve(app) as url:
        with pytest.raises(openai.InternalServerError) as info:
            openai_client(url).chat.completions.create(model=MODEL, messages=[
                {"role": "user", "content": "Hi"}])
    assert info.value.status_code == 502
    assert "could not be reached" in info.value.message


# -- the second-round dialects: Gemini (google-genai) and Ollama (ollama) -----------------------

GOOGLE_KEY = "AIza" + "RECORDSECRETgoogle0123456789abcdefgh"[:35]


def tee(app: Any, sink: list[bytearray]) -> Any:
    """`app`, keeping the bytes of each answer as the server sent them to the client."""

    def wrapped(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        body = bytearray()
        sink.append(body)
        result = app(environ, start_response)
        try:
            for chunk in result:
                body += chunk
                yield chunk
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

    return wrapped


def gemini_text(base: str) -> str:
    from google import genai

    client = genai.Client(api_key=GOOGLE_KEY, http_options={"base_url": base + "/mock",
                                                            "timeout": 10_000})
    return "".join(c.text or "" for c in client.models.generate_content_stream(
        model="gemini-2.5-flash", contents="Tell me a story"))


def ollama_text(base: str) -> str:
    import ollama

    with ollama.Client(host=base + "/mock", timeout=10) as client:
        return "".join(p.message.content or "" for p in client.chat(
            model="llama3.2", messages=[{"role": "user", "content": "Tell me a story"}],
            stream=True))


@pytest.mark.parametrize(("name", "ask"), [("gemini", gemini_text), ("ollama", ollama_text)])
def test_gemini_and_ollama_record_and_replay(tmp_path: Path, name: str, ask: Any) -> None:
    sent: list[bytearray] = []
    up = create_app(reply=REPLY, delay=0.02)
    with serve(up) as up_url:
        rec = create_app(cassettes=str(tmp_path), record="new",
                         upstream={name: up_url + "/mock"})
        with serve(tee(rec, sent)) as url:
            assert ask(url) == REPLY
    entry = rec.journal.entries()[0]
    assert entry.source == "recording" and entry.outcome == "completed"
    (cassette,) = tmp_path.iterdir()
    assert GOOGLE_KEY not in cassette.read_text() and "RECORDSECRET" not in cassette.read_text()
    # The upstream is gone: the SDK's identical request is answered from the cassette, with the
    # bytes the client got while recording.
    replayed: list[bytearray] = []
    app = create_app(cassettes=str(tmp_path), replay_speed=0)
    with serve(tee(app, replayed)) as url:
        assert ask(url) == REPLY
    assert app.journal.entries()[0].source == "replay"
    assert replayed[0] == sent[0] and len(sent[0]) > len(REPLY)
