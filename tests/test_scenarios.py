"""Scenarios: reply selection (rules, sequences, fixtures, strict, lorem), faults, chaos and the
journal — through the plain route in-process, and the pure pieces directly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import validated
from werkzeug.test import Client

from sse_mock import SSEMockMiddleware, create_app
from sse_mock._parser import parse
from sse_mock.config import ConfigError
from sse_mock.dialects.base import Frame, MockError, StreamContext
from sse_mock.faults import Fault, StreamAbort, apply_stream_fault, parse_fault
from sse_mock.tokens import count_tokens, lorem, tokenize


def words(app: Any, prompt: str = "", **query: str) -> list[str]:
    q = "&".join(f"{k}={v}" for k, v in {"prompt": prompt, **query}.items() if v)
    r = Client(validated(app)).get("/mock/stream?" + q, buffered=True)
    assert r.status_code == 200, r.get_data()
    return [e.data for e in parse(r.get_data())][:-1]


def status_and_error(app: Any, path: str) -> tuple[int, dict[str, Any], Any]:
    r = Client(validated(app)).get(path, buffered=True)
    is_json = r.headers.get("Content-Type") == "application/json"
    return r.status_code, json.loads(r.get_data()) if is_json else {}, r.headers


# -- reply selection -----------------------------------------------------------------------------


RULES = [
    {"name": "weather", "match": {"contains": "WEATHER"}, "reply": "It is sunny."},
    {"match": {"regex": r"^\d+$"}, "reply": "A number."},
    {"match": {"contains": "again"}, "replies": ["first", "second"]},
    {"match": {"contains": "echo"}, "echo": True},
    {"match": {"contains": "lorem"}, "lorem": 5},
]


def test_rules_first_match_wins_and_default_otherwise() -> None:
    app = create_app(delay=0, rules=RULES)
    assert words(app, "what's+the+weather") == ["It", "is", "sunny."]
    assert words(app, "42") == ["A", "number."]
    assert words(app, "hello") == "Hello, this is a mocked chatbot. How can I help you?".split()
    assert words(app, "echo+me") == ["echo", "me"]
    assert words(app, "lorem") == ["Lorem", "ipsum", "dolor", "sit", "amet."]


def test_sequences_are_served_in_turn_then_start_over() -> None:
    app = create_app(delay=0, rules=RULES)
    assert [words(app, "again") for _ in range(3)] == [["first"], ["second"], ["first"]]
    app.scenario.reset()
    assert words(app, "again") == ["first"]


def test_header_model_and_route_matchers() -> None:
    app = create_app(delay=0, rules=[
        {"match": {"header": {"X-Scenario": "slow"}}, "reply": "slow one"},
        {"match": {"header": {"X-Any": "*"}}, "reply": "any value"},
        {"match": {"route": "plain"}, "reply": "plain route"},
    ])
    c = Client(app)
    got = parse(c.get("/mock/stream", headers={"X-Scenario": "slow"}).get_data())
    assert got[0].data == "slow"
    got = parse(c.get("/mock/stream", headers={"X-Any": "whatever"}).get_data())
    assert got[0].data == "any"
    assert words(app) == ["plain", "route"]


def test_echo_config_answers_with_the_last_user_message() -> None:
    app = create_app(delay=0, echo=True)
    assert words(app, "parrot+this") == ["parrot", "this"]
    assert words(app)[0] == "Hello,"  # nothing to echo: the default reply


def test_lorem_tokens_config_for_load_tests() -> None:
    app = create_app(delay=0, lorem_tokens=100)
    assert len(words(app)) == 100
    assert lorem(100) == lorem(100)
    assert count_tokens(lorem(1000)) == 1000


def test_strict_mode_names_the_nearest_rule() -> None:
    app = create_app(delay=0, strict=True, rules=RULES)
    status, body, _ = status_and_error(app, "/mock/stream?prompt=the+wether+today")
    assert status == 404
    assert body["error"]["code"] == "no_matching_rule"
    assert "weather" in body["error"]["message"]
    assert words(app, "weather") == ["It", "is", "sunny."]


def test_fixture_files_are_loaded_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "answer.md").write_text("From a file.", encoding="utf-8")
    (tmp_path / "rules.toml").write_text(
        '[[rules]]\nmatch = { contains = "file" }\nreply_file = "answer.md"\n')
    (tmp_path / "mock.toml").write_text('delay = 0\nfixtures = ["rules.toml"]\n')
    app = create_app(tmp_path / "mock.toml")
    assert words(app, "file") == ["From", "a", "file."]


@pytest.mark.parametrize(
    ("fixture", "words_in_error"),
    [
        ('[[rules]]\ntext = "hi"\n', ["rules.toml", "rules[0]", "'text'", "'reply'"]),
        ('[[rules]]\nreply = "a"\n[[rules]]\nmatch = { regex = "(" }\nreply = "b"\n',
         ["rules.toml", "rules[1].match.regex", "does not compile"]),
        ('[[rules]]\nreply_file = "missing.md"\n', ["rules[0].reply_file", "missing.md"]),
        ('[[rules]]\nfault = "explode"\n', ["rules[0].fault", "unknown fault"]),
        ('[[rules]]\ndelay = -1\n', ["rules[0].delay", "from 0"]),
        ('[[rules]]\nmatch = { turn = 0 }\n', ["rules[0].match.turn", "≥ 1"]),
        ('[[rules]]\ntool_calls = [{ name = "f", arguments = "{not json" }]\n',
         ["rules[0].tool_calls[0].arguments", "JSON"]),
        ('[[rules]]\nmatch = { contians = "x" }\n', ["rules[0].match", "'contians'",
                                                     "did you mean 'contains'"]),
        ("rules = 3\n", ["rules.toml", "list"]),
        ('[[rules]]\nreply = "a"\nreplies = ["b"]\n', ["rules[0]", "inside its items"]),
    ],
)
def test_fixture_errors_name_file_rule_and_key(tmp_path: Path, fixture: str,
                                               words_in_error: list[str]) -> None:
    (tmp_path / "rules.toml").write_text(fixture)
    (tmp_path / "mock.toml").write_text('fixtures = ["rules.toml"]\n')
    with pytest.raises(ConfigError) as info:
        SSEMockMiddleware(create_app, tmp_path / "mock.toml")
    for word in words_in_error:
        assert word in str(info.value), str(info.value)


def test_missing_fixture_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.toml"):
        create_app(fixtures=[str(tmp_path / "nope.toml")])


def test_a_rule_after_a_catch_all_warns() -> None:
    with pytest.warns(UserWarning, match=r"rules\[1\].*can never match"):
        create_app(rules=[{"reply": "always"}, {"match": {"contains": "x"}, "reply": "never"}])


def test_yaml_fixture_when_pyyaml_is_installed(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - match: {contains: yaml}\n    reply: From YAML\n")
    app = create_app(delay=0, fixtures=[str(tmp_path / "rules.yaml")])
    assert words(app, "yaml") == ["From", "YAML"]


# -- faults --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "fault"),
    [
        ("rate_limit", Fault("rate_limit", seconds=1.0, spec="rate_limit")),
        ("rate_limit:0.25*2", Fault("rate_limit", seconds=0.25, count=2,
                                    spec="rate_limit:0.25*2")),
        ("error_after:3", Fault("error_after", after=3, spec="error_after:3")),
        ("stall_after:2:1.5", Fault("stall_after", after=2, seconds=1.5,
                                    spec="stall_after:2:1.5")),
        ("timeout:2", Fault("timeout", seconds=2.0, spec="timeout:2")),
    ],
)
def test_fault_grammar(spec: str, fault: Fault) -> None:
    assert parse_fault(spec) == fault


@pytest.mark.parametrize("spec", ["", "nope", "error_after", "error_after:-1", "error_after:1.5",
                                  "stall_after:1", "rate_limit:abc", "rate_limit:-1",
                                  "rate_limit*0", "error_after:1*2", "timeout:99999",
                                  "server_error:1:2", "rate_limit:inf"])
def test_bad_fault_specs_are_rejected(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_fault(spec)


class Errors:
    def in_band_error(self, error: MockError, ctx: StreamContext) -> bytes:
        return b"event: error\ndata: {}\n\n"

    def end_of_stream(self, ctx: StreamContext) -> bytes:
        return b"data: [DONE]\n\n"


def frames(n: int) -> list[Frame]:
    return [Frame(b"data: start\n\n"),
            *(Frame(f'data: {{"token":{i}}}\n\n'.encode(), token=True) for i in range(n)),
            Frame(b"data: end\n\n")]


def apply(spec: str, n: int = 5) -> list[Frame]:
    return list(apply_stream_fault(frames(n), parse_fault(spec), Errors(), StreamContext.new(
        "x", "m")))


def test_stream_faults_cut_after_n_content_events() -> None:
    out = apply("error_after:2")
    assert [f.data for f in out] == [b"data: start\n\n", b'data: {"token":0}\n\n',
                                     b'data: {"token":1}\n\n',
                                     b"event: error\ndata: {}\n\ndata: [DONE]\n\n"]
    assert [f.data for f in apply("truncate_after:1")] == [b"data: start\n\n",
                                                           b'data: {"token":0}\n\n']
    assert [f.data for f in apply("error_after:0")][-1].startswith(b"event: error")
    assert len(apply("error_after:9")) == 7  # fewer tokens than N: a normal stream
    with pytest.raises(StreamAbort):
        apply("disconnect_after:3")
    stalled = apply("stall_after:2:1.5")
    assert [f.pause for f in stalled] == [0, 0, 0, 1.5, 0, 0, 0]
    bad = apply("malformed_after:1")
    assert bad[2].data.startswith(b"data: ") and bad[2].data.endswith(b"\n\n")
    with pytest.raises(ValueError):
        json.loads(parse(bad[2].data)[0].data)
    assert len(bad) == 7


def test_http_faults_on_the_plain_route() -> None:
    app = create_app(delay=0)
    status, body, headers = status_and_error(app, "/mock/stream?fault=rate_limit:0.5")
    assert status == 429
    assert headers["retry-after"] == "1" and headers["retry-after-ms"] == "500"
    assert body["error"]["code"] == "rate_limit_exceeded"
    for spec, code in (("server_error", 500), ("overloaded", 503), ("unauthorized", 401)):
        assert status_and_error(app, f"/mock/stream?fault={spec}")[0] == code
    _, _, headers = status_and_error(app, "/mock/stream?fault=server_error&should_retry=false")
    assert headers["x-should-retry"] == "false"


def test_count_faults_fail_n_times_then_answer() -> None:
    app = create_app(delay=0)
    codes = [status_and_error(app, "/mock/stream?fault=rate_limit:0*2")[0] for _ in range(6)]
    assert codes == [429, 429, 200, 429, 429, 200]


def test_mid_stream_error_on_the_plain_route() -> None:
    app = create_app(delay=0)
    r = Client(app).get("/mock/stream?fault=error_after:2")
    events = parse(r.get_data())
    assert [e.data for e in events[:2]] == ["Hello,", "this"]
    assert events[2].type == "error"
    assert json.loads(events[2].data)["error"]["type"] == "server_error"
    assert app.journal.entries()[-1].outcome == "fault"


def test_chaos_is_reproducible_from_the_seed() -> None:
    def run(seed: int) -> list[int]:
        app = create_app(delay=0, seed=seed, chaos={"rate_limit": 0.3, "server_error": 0.2})
        return [status_and_error(app, "/mock/stream")[0] for _ in range(40)]

    a, b, c = run(1), run(1), run(2)
    assert a == b
    assert a != c
    assert set(a) == {200, 429, 500}
    # A per-request seed decides that request alone.
    app = create_app(delay=0, chaos={"rate_limit": 0.5})
    per_seed = {s: status_and_error(app, f"/mock/stream?seed={s}")[0] for s in range(20)}
    again = {s: status_and_error(app, f"/mock/stream?seed={s}")[0] for s in range(20)}
    assert per_seed == again and set(per_seed.values()) == {200, 429}


def test_rule_timing_and_fault_and_request_override() -> None:
    app = create_app(delay=5, rules=[{"match": {"contains": "fast"}, "delay": 0,
                                      "reply": "quick"},
                                     {"match": {"contains": "boom"}, "fault": "server_error"}])
    assert words(app, "fast") == ["quick"]
    assert status_and_error(app, "/mock/stream?prompt=boom")[0] == 500
    assert words(app, "fast", reply="override") == ["override"]


# -- journal -------------------------------------------------------------------------------------


def test_journal_records_rule_fault_events_and_outcome() -> None:
    app = create_app(delay=0, rules=RULES)
    words(app, "weather")
    status_and_error(app, "/mock/stream?fault=rate_limit")
    entries = app.journal.entries()
    assert entries[0].rule == "rules[0] (weather)"
    assert entries[0].events == 3 and entries[0].outcome == "completed"
    assert entries[1].fault == "rate_limit" and entries[1].outcome == "fault"
    assert entries[1].status == 429
    app.journal.clear()
    assert app.journal.entries() == []


def test_journal_is_bounded() -> None:
    app = create_app(delay=0, journal_size=3)
    for _ in range(5):
        words(app)
    assert [e.id for e in app.journal.entries()] == [3, 4, 5]
    app = create_app(delay=0, journal_size=0)
    words(app)
    assert app.journal.entries() == []


def test_tokenizer_round_trips() -> None:
    text = "  Hello,\n world  ✓ "
    assert "".join(tokenize(text)) == text
    assert tokenize("Hello, this is") == ["Hello,", " this", " is"]


def test_a_reconnect_resumes_the_reply_it_was_given_and_uses_up_no_state() -> None:
    app = create_app(delay=0, rules=[{"match": {"route": "plain"},
                                      "replies": ["Hi", "One two three four five"]}])
    c = Client(app)
    first = parse(c.get("/mock/stream").get_data())
    assert [e.data for e in first] == ["Hi", "[DONE]"]
    # The browser reconnects after [DONE] (the last id): complete, 204 — not the next reply.
    assert c.get("/mock/stream", headers={"Last-Event-ID": first[-1].id}).status_code == 204
    got = parse(c.get("/mock/stream").get_data())
    assert [e.data for e in got] == ["One", "two", "three", "four", "five", "[DONE]"]
    resumed = parse(c.get("/mock/stream", headers={"Last-Event-ID": got[2].id}).get_data())
    assert [e.data for e in resumed] == ["four", "five", "[DONE]"]
    assert words(app) == ["Hi"]  # the sequence moved on once per new stream only


def test_fixture_rule_labels_name_their_file(tmp_path: Path) -> None:
    (tmp_path / "more.toml").write_text('[[rules]]\nname = "x"\nmatch = { contains = "zz" }\n'
                                        'reply = "z"\n')
    app = create_app(delay=0, rules=[{"match": {"contains": "aa"}, "reply": "a"}],
                     fixtures=[str(tmp_path / "more.toml")])
    words(app, "zz")
    assert app.journal.entries()[-1].rule == "more.toml: rules[0] (x)"


def test_unreachable_rule_warning_points_at_the_caller() -> None:
    with pytest.warns(UserWarning) as record:
        create_app(rules=[{"reply": "always"}, {"match": {"contains": "x"}, "reply": "never"}])
    assert record[0].filename == __file__


def test_nested_config_errors_name_the_dotted_key() -> None:
    with pytest.raises(ConfigError, match=r"key 'cors\.max_age'"):
        create_app(cors={"max_age": -1})
