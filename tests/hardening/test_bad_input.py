"""Hardening (issue #6, item 4): malformed requests on every route.

Hundreds of generated requests — wrong JSON types for every field each dialect reads, deeply
nested junk, huge numbers, truncated / oversize / non-UTF-8 / non-object bodies, wrong
Content-Types, CR/LF/NUL and absurd values in every control (query and ``X-Mock-*`` headers),
bad ``Last-Event-ID``, unknown methods and paths, absurd query strings — sent in-process through
``wsgiref.validate`` (``conftest.validated``) and, for a sample, over real sockets.

Every answer must be 2xx or 4xx, never 5xx; every 4xx is JSON in its route's error shape
(PROTOCOLS.md §2.6 for the OpenAI and plain routes, §4.5 for Anthropic); and nothing is logged at
ERROR (no traceback). Some generated bodies are valid requests: they get their 200, streamed or
not, which is fine.

Bugs found are kept as regression tests at the end of the module.
``SSE_MOCK_FUZZ=explore`` runs the generators unseeded and 5× longer.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import re
import sys
import wsgiref.util
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from conftest import serve, validated
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from sse_mock import SSEMockMiddleware, create_app

pytestmark = pytest.mark.filterwarnings(
    # wsgiref.validate warns about methods it does not know; unknown methods are the point here.
    "ignore:Unknown REQUEST_METHOD:wsgiref.validate.WSGIWarning",
)

LIMIT = 4096  # max_body_size of the app under test
EXPLORE = os.environ.get("SSE_MOCK_FUZZ") == "explore"

#: requests sent, per kind (each fuzz test checks its own count: see fuzz())
SENT: Counter[str] = Counter()


def fuzz_settings(n: int) -> settings:
    return settings(
        max_examples=n * 5 if EXPLORE else n,
        deadline=None,
        derandomize=not EXPLORE,  # CI: the same examples every run
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                               HealthCheck.data_too_large],
    )


def fuzz(name: str, n: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """:func:`fuzz_settings` for a ``@given`` test, which then also checks that it sent a request
    for every one of its `n` examples (``SENT[name]``): proof that the generators really ran, held
    by each test itself, whatever the order or selection of tests."""
    config = fuzz_settings(n)

    def decorate(given_test: Callable[..., None]) -> Callable[..., None]:
        test = config(given_test)

        @functools.wraps(test)
        def counted(*args: Any, **kwargs: Any) -> None:
            before = SENT[name]
            test(*args, **kwargs)
            sent = SENT[name] - before
            assert sent >= config.max_examples, f"{name}: {sent} of {config.max_examples} sent"

        return counted

    return decorate


def make_app() -> SSEMockMiddleware:
    return create_app(delay=0, max_body_size=LIMIT, journal_size=100)


@pytest.fixture(scope="module")
def app() -> SSEMockMiddleware:
    return make_app()


@pytest.fixture(scope="module")
def client(app: SSEMockMiddleware) -> Client:
    return Client(validated(app))


# -- routes ------------------------------------------------------------------------------------

CHAT, COMPLETIONS, RESPONSES, MESSAGES = (
    "/mock/v1/chat/completions", "/mock/v1/completions", "/mock/v1/responses",
    "/mock/v1/messages")
POST_ROUTES = (CHAT, COMPLETIONS, RESPONSES, MESSAGES)
GET_ROUTES = ("/mock/stream", "/mock/_journal", "/mock/v1/models", "/mock/v1/models/gpt-4o",
              "/mock/v1/models/no-such-model")
ALL_ROUTES = POST_ROUTES + GET_ROUTES
OPENAI_PATHS = (CHAT, COMPLETIONS, RESPONSES, "/mock/v1/models")

#: a valid body per POST route: the generators start from these and break them
VALID: dict[str, dict[str, Any]] = {
    CHAT: {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
    COMPLETIONS: {"model": "gpt-3.5-turbo-instruct", "prompt": "hi"},
    RESPONSES: {"model": "gpt-4o-mini", "input": "hi"},
    MESSAGES: {"model": "claude-sonnet-4-6", "max_tokens": 64,
               "messages": [{"role": "user", "content": "hi"}]},
}


def family_of(path: str) -> str:
    """Which error shape the answer to `path` must have: openai, anthropic or plain."""
    if path == MESSAGES:
        return "anthropic"
    if path in OPENAI_PATHS or (path.startswith("/mock/v1/models/") and len(path) > 16):
        return "openai"
    return "plain"  # /stream, /_journal, and the fallback's JSON 404 (OpenAI-like)


# -- one request, one answer, every check ------------------------------------------------------


@dataclass
class Req:
    method: str
    path: str
    body: bytes | None = None
    ctype: str | None = "application/json"
    query: str = ""
    environ: dict[str, str] = field(default_factory=dict)  # HTTP_* and other overrides


@dataclass
class Ans:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


def send(client: Client, req: Req, test: str) -> Ans:
    SENT[test] += 1
    overrides = {"QUERY_STRING": req.query, **req.environ}
    if req.ctype is not None:
        overrides["CONTENT_TYPE"] = req.ctype
    r = client.open(req.path, method=req.method, data=req.body or b"",
                    environ_overrides=overrides, buffered=True)
    try:
        return Ans(r.status_code, list(r.headers.items()), r.get_data())
    finally:
        r.close()


def check(req: Req, ans: Ans) -> None:
    """The contract for any request: 2xx or 4xx, errors as JSON in the route's shape."""
    where = f"{req.method} {req.path}?{req.query[:80]} -> {ans.status} {ans.body[:300]!r}"
    assert 200 <= ans.status < 500, where
    for name, value in ans.headers:
        assert not re.search(r"[\x00-\x1f\x7f]", name + value), f"header {name!r}: {value!r}"
    if req.method == "HEAD" or ans.status == 204:
        assert ans.body == b"", where
        return
    ctype = ans.header("Content-Type")
    if ans.status >= 400:
        assert ctype == "application/json", where
        check_error_shape(family_of(req.path), json.loads(ans.body), where)
    elif ctype == "application/json":
        json.loads(ans.body)
    else:
        assert ctype == "text/event-stream; charset=utf-8", where
        assert ans.body.startswith(b": ok\n"), where


def check_error_shape(family: str, body: Any, where: str) -> None:
    assert isinstance(body, dict), where
    if family == "anthropic":
        assert set(body) == {"type", "error", "request_id"}, where
        assert body["type"] == "error", where
        assert isinstance(body["request_id"], str) and body["request_id"], where
        error = body["error"]
        assert isinstance(error, dict) and set(error) == {"type", "message"}, where
        assert isinstance(error["type"], str) and isinstance(error["message"], str), where
        return
    assert set(body) == {"error"}, where
    error = body["error"]
    assert isinstance(error, dict) and set(error) == {"message", "type", "param", "code"}, where
    assert isinstance(error["message"], str) and error["message"], where
    assert isinstance(error["type"], str), where
    assert error["param"] is None or isinstance(error["param"], str), where
    assert error["code"] is None or isinstance(error["code"], str), where


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]


def run(client: Client, req: Req, caplog: pytest.LogCaptureFixture, test: str) -> Ans:
    caplog.clear()
    ans = send(client, req, test)
    check(req, ans)
    assert not errors_logged(caplog), (req, errors_logged(caplog))
    return ans


# -- generators --------------------------------------------------------------------------------

LATIN1 = st.characters(max_codepoint=255)
CTL = st.sampled_from(["\r", "\n", "\r\n", "\x00", "\t", "\x0b", "\x7f", "\x85", "\xa0"])
HUGE_NUMBERS: list[Any] = [1e308, -1e308, -1, 0, 2**64, -(2**64), 2**63, 10**30, 5e-324, -0.0,
                           1.5, math.inf, -math.inf, math.nan, 10**400]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
    st.sampled_from(HUGE_NUMBERS),
)
junk = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)


def nest(value: Any, depth: int, in_dicts: bool) -> Any:
    for _ in range(depth):
        value = {"a": value} if in_dicts else [value]
    return value


# Deeply nested junk: up to 150 levels (deeper than routes.MAX_DEPTH is a 400: see the regressions).
deep = st.builds(nest, junk, st.integers(1, 150), st.booleans())
anything = st.one_of(junk, junk, deep)


def either(*good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A plausible value or anything at all."""
    return st.one_of(*good, anything)


def ints(lo: int = -5, hi: int = 200) -> st.SearchStrategy[Any]:
    return either(st.integers(lo, hi), st.sampled_from(HUGE_NUMBERS))


def obj(**optional: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=optional)


def lists_of(s: st.SearchStrategy[Any], max_size: int = 4) -> st.SearchStrategy[Any]:
    return either(st.lists(s, max_size=max_size))


texts = either(st.text(max_size=30))
bools = either(st.booleans())
stop = either(st.text(max_size=5), st.lists(either(st.text(max_size=5)), max_size=6))
stream_options = either(obj(include_usage=bools, include_obfuscation=bools))

chat_part = either(obj(
    type=either(st.sampled_from(["text", "image_url", "input_audio", "refusal", "audio", "file",
                                 "input_text", "TEXT", ""])),
    text=texts, refusal=texts, image_url=anything,
))
chat_content = either(st.text(max_size=30), st.lists(chat_part, max_size=3))
tool_call = either(obj(id=texts, type=either(st.just("function")),
                       function=either(obj(name=texts, arguments=texts))))
chat_message = either(obj(
    role=either(st.sampled_from(["system", "user", "assistant", "tool", "function", "developer",
                                 "USER", "bot", ""])),
    content=chat_content, tool_calls=lists_of(tool_call), tool_call_id=texts, name=texts,
    refusal=texts, function_call=anything,
))
chat_tool = either(obj(
    type=either(st.sampled_from(["function", "custom", "web_search"])),
    function=either(obj(name=either(st.sampled_from(["get_weather", "a" * 65, "bad name", ""])),
                        parameters=anything)),
    custom=either(obj(name=texts)),
))
token_lists = st.lists(either(st.integers(-1, 2**40)), max_size=5)
prompt = either(st.text(max_size=30), st.lists(st.text(max_size=10), max_size=4), token_lists,
                st.lists(token_lists, max_size=3))
resp_part = either(obj(
    type=either(st.sampled_from(["input_text", "input_image", "input_file", "output_text",
                                 "refusal", "text", ""])),
    text=texts, refusal=texts,
))
resp_item = either(obj(
    type=either(st.sampled_from(["message", "function_call", "function_call_output",
                                 "custom_tool_call_output", "reasoning", "item_reference"])),
    role=either(st.sampled_from(["user", "assistant", "system", "developer", "tool"])),
    content=either(st.text(max_size=20), st.lists(resp_part, max_size=3)),
    call_id=texts, output=either(st.text(max_size=10), st.lists(resp_part, max_size=2)),
    name=texts, arguments=texts,
))
resp_tool = either(obj(type=either(st.sampled_from(["function", "custom", "web_search"])),
                       name=texts, parameters=anything))
ant_block = either(obj(
    type=either(st.sampled_from(["text", "image", "tool_use", "tool_result", "thinking", ""])),
    text=texts, tool_use_id=texts, id=texts, name=texts, input=anything,
    content=either(st.text(max_size=10), st.lists(either(obj(type=either(st.just("text")),
                                                             text=texts)), max_size=2)),
))
ant_message = either(obj(role=either(st.sampled_from(["user", "assistant", "system", ""])),
                         content=either(st.text(max_size=20), st.lists(ant_block, max_size=3))))

#: every field each dialect reads, with generators of wrong (and sometimes right) values
FIELDS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    CHAT: {
        "model": texts, "messages": lists_of(chat_message), "stream": bools, "n": ints(),
        "max_tokens": ints(), "max_completion_tokens": ints(), "stop": stop,
        "stream_options": stream_options, "tools": lists_of(chat_tool), "temperature": anything,
        "tool_choice": anything,
    },
    COMPLETIONS: {
        "model": texts, "prompt": prompt, "stream": bools, "echo": bools,
        "max_tokens": ints(), "logprobs": ints(), "best_of": ints(), "n": ints(),
        "stop": stop, "stream_options": stream_options, "suffix": anything,
    },
    RESPONSES: {
        "model": texts, "input": either(st.text(max_size=30), st.lists(resp_item, max_size=4)),
        "instructions": texts, "stream": bools, "max_output_tokens": ints(0, 10**6),
        "temperature": either(st.floats(-1, 3)), "top_p": either(st.floats(-1, 2)),
        "store": bools, "parallel_tool_calls": bools, "metadata": either(obj(k=texts)),
        "stream_options": stream_options, "tools": lists_of(resp_tool),
        "text": anything, "reasoning": anything, "tool_choice": anything,
        "truncation": anything, "user": anything, "previous_response_id": anything,
    },
    MESSAGES: {
        "model": texts, "max_tokens": ints(), "messages": lists_of(ant_message),
        "system": either(st.text(max_size=20), st.lists(ant_block, max_size=2)),
        "stream": bools, "stop_sequences": stop,
        "tools": lists_of(either(obj(name=texts, input_schema=anything))),
        "temperature": anything, "metadata": anything, "thinking": anything,
    },
}


@st.composite
def bodies(draw: st.DrawFn, path: str) -> dict[str, Any]:
    """A route's valid body with some fields replaced, removed or added."""
    body = dict(VALID[path])
    fields = FIELDS[path]
    body.update(draw(st.fixed_dictionaries({}, optional=fields)))
    for name in draw(st.sets(st.sampled_from(sorted(fields)), max_size=2)):
        body.pop(name, None)
    body.update(draw(st.dictionaries(st.text(max_size=12), anything, max_size=2)))
    return body


def encode(body: Any) -> bytes:
    return json.dumps(body).encode()  # NaN and Infinity allowed: Python's json reads them


raw_bodies = st.one_of(
    # truncated JSON
    st.builds(lambda b, f: b[: max(1, int(len(b) * f))],
              st.sampled_from([encode(b) for b in VALID.values()]), st.floats(0, 0.99)),
    # invalid UTF-8 inside an otherwise valid body
    st.builds(lambda b, i, x: b[:i] + x + b[i:], st.sampled_from([encode(b) for b in
                                                                   VALID.values()]),
              st.integers(0, 40), st.binary(min_size=1, max_size=3).map(lambda x: b"\xff" + x)),
    # JSON that is not an object
    st.builds(encode, st.one_of(st.lists(junk, max_size=3), scalars, deep)),
    # other encodings, BOMs, blanks, bytes
    st.sampled_from([
        b"", b" ", b"\n\r\t ", b"\x00", b"{", b"}", b"{}", b"[]", b"null", b"0", b'""',
        b"\xef\xbb\xbf" + encode(VALID[CHAT]), encode(VALID[CHAT]).decode().encode("utf-16"),
        b'{"model": "m", "messages": [}', b"{'model': 'm'}", b'{"a":1}{"b":2}',
        b"1" * 5000, b'{"model":"' + b"9" * 5000 + b'"}', b'{"n": ' + b"9" * 4300 + b"}",
        b'{"model":"m","messages":[{"role":"user","content":"\\ud800"}]}',
        b'{"model":"m","messages":[{"role":"user","content":"\x00"}]}',
        b'{"model":"m","stream":true,"stream":false,"messages":[{"role":"user","content":"x"}]}',
    ]),
    st.binary(max_size=64),
    # oversize: over max_body_size → 413
    st.builds(lambda n, b: b * (n // len(b) + 1), st.integers(LIMIT + 1, 3 * LIMIT),
              st.sampled_from([b" ", b"[1,", b'{"a":']))
)
content_types = st.one_of(
    st.sampled_from([None, "", "application/json", "application/json; charset=utf-8",
                     "APPLICATION/JSON", "application/vnd.api+json", "text/plain",
                     "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                     "application/json\r\nX-Evil: 1", "application/jsonx", ";", "*/*"]),
    st.text(LATIN1, max_size=30),
)

# -- controls ----------------------------------------------------------------------------------

CONTROL_HEADERS = {
    "delay": "HTTP_X_MOCK_DELAY", "first_token_delay": "HTTP_X_MOCK_FIRST_TOKEN_DELAY",
    "jitter": "HTTP_X_MOCK_JITTER", "reply": "HTTP_X_MOCK_REPLY", "fault": "HTTP_X_MOCK_FAULT",
    "seed": "HTTP_X_MOCK_SEED", "should_retry": "HTTP_X_MOCK_SHOULD_RETRY",
}
ABSURD = ["", " ", "-1", "1e308", "-1e308", "inf", "-inf", "nan", "NaN", "3601", "1e-400",
          "0x10", "1_0", "١", "²", "--1", "+-1", "1.2.3", str(2**64), "9" * 30, "0" * 50,
          "true", "True", "TRUE", "yes", "1", "0", "null", "[]", "{}", "%00", "%ff", "%",
          "é", "\xff", "a" * 300]
FAULTS = [
    # invalid ones
    "nope", "rate_limit:", "rate_limit:abc", "rate_limit:-1", "rate_limit:1e9", "rate_limit*0",
    "rate_limit*1001", "rate_limit*x", "rate_limit*", "server_error:1", "error_after",
    "error_after:", "error_after:-1", "error_after:1.5", "error_after:1e3", "error_after:1:2",
    "error_after:99999999", "stall_after:1", "stall_after:1:nan", "stall_after:1:-1",
    "stall_after:1:inf", "timeout:-1", "timeout:1e9", "timeout:nan", "disconnect_after*2",
    "error_after:²", "rate_limit*²", ":", "*", "**", "rate_limit::", "RATE_LIMIT",
    # valid ones that neither sleep nor answer 5xx on purpose
    "rate_limit", "rate_limit:0", "rate_limit:3600", "unauthorized", "unauthorized*2",
    "error_after:0", "error_after:3", "truncate_after:1", "malformed_after:0",
    "malformed_after:2", "stall_after:1:0", " error_after:2 ",
]
SLOW = 0.002  # a valid delay above this would slow the fuzzing down: not generated


def _slow_number(value: str) -> bool:
    try:
        x = float(value.strip())
    except ValueError:
        return False
    return math.isfinite(x) and SLOW < x <= 3600


def control_value(name: str) -> st.SearchStrategy[str]:
    base: st.SearchStrategy[str] = st.one_of(
        st.sampled_from(ABSURD),
        st.text(LATIN1, max_size=20),
        st.builds(lambda a, c, b: a + c + b, st.sampled_from(["0", "1", "true", "rate_limit"]),
                  CTL, st.sampled_from(["", "0", "X-Evil: 1"])),
    )
    if name == "fault":
        base = st.one_of(base, st.sampled_from(FAULTS), st.sampled_from(FAULTS))
    elif name == "reply":
        base = st.one_of(base, st.text(max_size=60), st.just("%E2%82%AC%F0%9F%98%80"),
                         st.just("%ff%fe"))
    elif name in ("delay", "first_token_delay", "jitter"):
        base = st.one_of(base, st.floats().map(repr), st.sampled_from(["0", "0.0", " 0 "]))
    elif name == "seed":
        base = st.one_of(base, st.integers().map(str))
    if name in ("delay", "first_token_delay"):
        base = base.filter(lambda v: not _slow_number(v))
    return base


@st.composite
def controls(draw: st.DrawFn) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """(query pairs, environ HTTP_X_MOCK_* headers) with some controls set to bad values."""
    names = sorted(CONTROL_HEADERS)
    query = [(n, draw(control_value(n))) for n in draw(st.lists(st.sampled_from(names),
                                                                max_size=3))]
    headers = {CONTROL_HEADERS[n]: draw(control_value(n)).encode("latin-1", "replace").decode(
        "latin-1") for n in draw(st.sets(st.sampled_from(names), max_size=3))}
    return query, headers


def query_string(pairs: list[tuple[str, str]]) -> str:
    return "&".join(quote(k, safe="") + "=" + quote(v, safe="") for k, v in pairs)


absurd_queries = st.one_of(
    st.text(LATIN1, max_size=60),
    st.sampled_from([
        "&&&", "=", "==", "a=%", "delay=%zz", "%ff=1", "delay=%ff", "reply=%C0%AF",
        "a=1;b=2", "reply=" + "w+" * 2000, "x=" + "a" * 10_000, "&".join(["a=1"] * 101),
        "&".join(["delay=0"] * 100), "delay=0&delay=-1", "prompt=%00", "seed=%00",
        "fault=rate_limit%0d%0aX-Evil:%201", "reply=%0d%0a%0d%0adata:%20evil",
    ]),
)

# -- the fuzz tests ----------------------------------------------------------------------------


@fuzz("fields", 300)
@given(data=st.data())
def test_llm_routes_answer_wrong_fields_with_a_4xx_in_their_shape(
    client: Client, caplog: pytest.LogCaptureFixture, data: st.DataObject
) -> None:
    path = data.draw(st.sampled_from(POST_ROUTES))
    body = data.draw(bodies(path))
    ans = run(client, Req("POST", path, encode(body)), caplog, "fields")
    if ans.status >= 400:
        assert ans.status in (400, 413), ans.body  # a body that big is a 413


@fuzz("bodies", 120)
@given(path=st.sampled_from(POST_ROUTES), body=raw_bodies, ctype=content_types)
def test_bad_bodies_and_content_types(
    client: Client, caplog: pytest.LogCaptureFixture, path: str, body: bytes, ctype: str | None
) -> None:
    ans = run(client, Req("POST", path, body, ctype), caplog, "bodies")
    assert ans.status >= 400 or body.strip().startswith(b"{"), ans.body
    media = (ctype or "").split(";", 1)[0].strip().lower()
    if len(body) > LIMIT and (not media or media == "application/json" or media.endswith("+json")):
        assert ans.status == 413, ans.body


@fuzz("controls", 150)
@given(data=st.data(), ctl=controls())
def test_bad_controls_in_query_and_headers(
    client: Client, caplog: pytest.LogCaptureFixture, data: st.DataObject,
    ctl: tuple[list[tuple[str, str]], dict[str, str]],
) -> None:
    path = data.draw(st.sampled_from(ALL_ROUTES))
    pairs, headers = ctl
    if path in POST_ROUTES:
        # error_after:N on a request that is not streamed is a deliberate 500: stream those.
        faults = [v for _, v in pairs if _ == "fault"] + [headers.get("HTTP_X_MOCK_FAULT", "")]
        streamed = any("error_after" in v for v in faults) or data.draw(st.booleans())
        body = dict(VALID[path], stream=streamed)
        req = Req("POST", path, encode(body), query=query_string(pairs), environ=headers)
    else:
        req = Req("GET", path, None, None, query=query_string(pairs), environ=headers)
    run(client, req, caplog, "controls")


METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT",
           "BREW", "PROPFIND", "get", "Post", "X" * 100]
PATHS = list(ALL_ROUTES) + [
    "/mock", "/mock/", "/mock/stream/", "/mock/stream/x", "/mock/v1", "/mock/v1/models/",
    "/mock/v1/chat/completions/", "/mock/v1//messages", "/mock/_journal/x", "/mock/%00",
    "/mock/v1/models/" + "m" * 5000, "/mock/v1/models/\x00\r\n", "/mock/v1/models/%2e%2e",
    "/mock/v1/models/gpt-4o/extra", "/mock/v1/messages/batches",
]


@fuzz("methods", 150)
@given(
    method=st.sampled_from(METHODS),
    path=st.one_of(st.sampled_from(PATHS),
                   st.text(LATIN1, max_size=30).map(lambda s: "/mock/v1/models/x" + s)),
    query=absurd_queries,
    last_event_id=st.one_of(st.none(), st.sampled_from(
        ["0", "5", "11", "12", "-1", " 1", "1 ", "+1", "1e3", "999999999", "9999999999",
         "٣", "²", "", "\x00", "1\r\n", "a" * 1000, "0x1"]), st.text(LATIN1, max_size=12)),
    origin=st.one_of(st.none(), st.sampled_from(
        ["http://localhost:5173", "null", "https://a.example", "http://a.example/path",
         "http://a\r\nX-Evil: 1", "javascript:alert(1)", "*", ""]), st.text(LATIN1, max_size=20)),
    extra=st.dictionaries(st.sampled_from([
        "HTTP_AUTHORIZATION", "HTTP_X_API_KEY", "HTTP_ANTHROPIC_VERSION",
        "HTTP_ACCESS_CONTROL_REQUEST_METHOD", "HTTP_ACCESS_CONTROL_REQUEST_HEADERS",
        "HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK", "HTTP_ACCEPT"]),
        st.text(LATIN1, max_size=30), max_size=3),
    body=st.one_of(st.none(), raw_bodies, st.sampled_from([encode(b) for b in VALID.values()])),
)
def test_methods_paths_queries_and_headers(
    client: Client, caplog: pytest.LogCaptureFixture, method: str, path: str, query: str,
    last_event_id: str | None, origin: str | None, extra: dict[str, str], body: bytes | None,
) -> None:
    environ = dict(extra)
    if last_event_id is not None:
        environ["HTTP_LAST_EVENT_ID"] = last_event_id
    if origin is not None:
        environ["HTTP_ORIGIN"] = origin
    run(client, Req(method, path, body, query=query, environ=environ), caplog, "methods")


# -- hand-picked cases, in-process -------------------------------------------------------------


def _explicit_cases() -> Iterator[tuple[str, Req]]:
    yield "huge numbers in n", Req("POST", CHAT, encode(dict(VALID[CHAT], n=2**64)))
    yield "1e308 max_tokens", Req("POST", MESSAGES, encode(dict(VALID[MESSAGES], max_tokens=1e308)))
    yield "-1 max_tokens", Req("POST", COMPLETIONS, encode(dict(VALID[COMPLETIONS], max_tokens=-1)))
    yield "NaN temperature", Req("POST", RESPONSES, b'{"model":"m","input":"x","temperature":NaN}')
    yield "Infinity max_output", Req("POST", RESPONSES,
                                     b'{"model":"m","input":"x","max_output_tokens":Infinity}')
    yield "4301-digit int", Req("POST", CHAT, b'{"model":"m","n":' + b"1" * 4301 + b"}")
    yield "nested 2000 deep", Req("POST", CHAT, b'{"model":' + b"[" * 2000 + b"]" * 2000 + b"}")
    yield "lone surrogate", Req("POST", MESSAGES, b'{"model":"\\udfff","max_tokens":1,'
                                b'"messages":[{"role":"user","content":"\\ud800"}]}')
    for path in POST_ROUTES:
        yield f"array body {path}", Req("POST", path, b"[]")
        yield f"string body {path}", Req("POST", path, b'"x"')
        yield f"null body {path}", Req("POST", path, b"null")
        yield f"oversize {path}", Req("POST", path, b" " * (LIMIT + 1))
        yield f"exactly the limit {path}", Req("POST", path, b" " * (LIMIT - 2) + b"{}")
        yield f"form post {path}", Req("POST", path, b"a=1", "application/x-www-form-urlencoded")
        yield f"GET {path}", Req("GET", path, None, None)
        yield f"HEAD {path}", Req("HEAD", path, None, None)
    for name, env in CONTROL_HEADERS.items():
        for bad in ("1\r\nX-Evil: 1", "\x00", "\n", "-1", "1e308", "nan", "²"):
            yield f"header {name}={bad!r}", Req("GET", "/mock/stream", None, None,
                                                environ={env: bad})
            yield f"query {name}={bad!r}", Req("POST", CHAT, encode(VALID[CHAT]),
                                               query=quote(name) + "=" + quote(bad, safe=""))
    yield "delete journal", Req("DELETE", "/mock/_journal", None, None)
    yield "post journal", Req("POST", "/mock/_journal", b"{}")
    yield "put models", Req("PUT", "/mock/v1/models", b"{}")


EXPLICIT = list(_explicit_cases())


def test_hand_picked_bad_requests(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    for label, req in EXPLICIT:
        caplog.clear()
        ans = send(client, req, "explicit")
        try:
            check(req, ans)
        except AssertionError as exc:
            raise AssertionError(f"{label}: {exc}") from None
        assert not errors_logged(caplog), (label, errors_logged(caplog))


def test_the_journal_still_answers_after_the_fuzzing(client: Client) -> None:
    r = client.get("/mock/_journal", buffered=True)
    SENT["explicit"] += 1
    assert r.status_code == 200
    assert json.loads(r.get_data())["object"] == "list"


# -- over real sockets -------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["werkzeug", "waitress"])
def base_url(request: pytest.FixtureRequest, app: SSEMockMiddleware) -> Iterator[str]:
    with serve(app, request.param) as base:
        yield base


def _socket_cases() -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    chat = encode(VALID[CHAT])
    yield "oversize", "POST", CHAT, {"content": b" " * (LIMIT + 10)}
    yield "oversize chunked", "POST", CHAT, {"content": iter([b" " * 1000] * 6)}
    yield "chunked ok", "POST", CHAT, {"content": iter([chat[:10], chat[10:]])}
    yield "invalid utf-8", "POST", MESSAGES, {"content": b'{"model":"\xff\xfe"}'}
    yield "truncated", "POST", RESPONSES, {"content": b'{"model":"m","inp'}
    yield "array", "POST", COMPLETIONS, {"content": b"[1,2]"}
    yield "text/plain", "POST", CHAT, {"content": chat, "headers": {"content-type": "text/plain"}}
    yield "no content-type", "POST", CHAT, {"content": chat}
    yield "bad delay header", "GET", "/mock/stream", {"headers": {"x-mock-delay": "-1"}}
    yield "latin-1 reply header", "GET", "/mock/stream", {"headers": {"x-mock-reply": b"\xe9"}}
    yield "latin-1 fault header", "GET", "/mock/stream", {"headers": {"x-mock-fault": b"\xff"}}
    yield "bad should_retry", "POST", CHAT, {"content": chat,
                                             "headers": {"x-mock-should-retry": "TRUE"}}
    yield "non-ASCII Last-Event-ID", "GET", "/mock/stream", {"headers": {"last-event-id": b"\xe9"}}
    yield "huge Last-Event-ID", "GET", "/mock/stream", {"headers": {"last-event-id": "9" * 50}}
    yield "absurd query", "GET", "/mock/stream?" + "&".join(["a=1"] * 150), {}
    yield "bad percent", "GET", "/mock/stream?reply=%ff%fe&delay=%zz", {}
    yield "long query", "GET", "/mock/stream?x=" + "a" * 6000, {}
    yield "BREW", "BREW", "/mock/stream", {}
    yield "PATCH", "PATCH", MESSAGES, {"content": b"{}"}
    yield "HEAD on POST route", "HEAD", RESPONSES, {}
    yield "DELETE models", "DELETE", "/mock/v1/models", {}
    yield "odd model id", "GET", "/mock/v1/models/%00%ff..%2F", {}
    yield "unknown mock path", "GET", "/mock/nothing-here", {}
    yield "valid stream", "POST", CHAT, {"content": encode(dict(VALID[CHAT], stream=True))}


SOCKET_CASES = list(_socket_cases())


@pytest.mark.parametrize("case", SOCKET_CASES, ids=[c[0] for c in SOCKET_CASES])
def test_bad_requests_over_a_socket(
    base_url: str, caplog: pytest.LogCaptureFixture, case: tuple[str, str, str, dict[str, Any]]
) -> None:
    label, method, path, kw = case
    headers = {"content-type": "application/json", **kw.get("headers", {})}
    if label == "no content-type":
        headers.pop("content-type")
    with httpx.Client(base_url=base_url, timeout=10) as c:
        r = c.request(method, path, content=kw.get("content"), headers=headers)
        SENT["socket"] += 1
    req = Req(method, path.split("?")[0], None)
    check(req, Ans(r.status_code, list(r.headers.items()), r.content))
    assert not any("Error on request" in r.getMessage() for r in caplog.records)
    assert not errors_logged(caplog), errors_logged(caplog)


@fuzz("socket", 25)
@given(path=st.sampled_from(POST_ROUTES), body=raw_bodies, data=st.data())
def test_generated_bodies_over_a_socket(
    base_url: str, caplog: pytest.LogCaptureFixture, path: str, body: bytes,
    data: st.DataObject,
) -> None:
    if data.draw(st.booleans()):
        body = encode(data.draw(bodies(path)))
    caplog.clear()
    with httpx.Client(base_url=base_url, timeout=10) as c:
        r = c.post(path, content=body, headers={"content-type": "application/json"})
        SENT["socket"] += 1
    check(Req("POST", path, body), Ans(r.status_code, list(r.headers.items()), r.content))
    assert not errors_logged(caplog), errors_logged(caplog)


# -- regressions: bugs this module found, now fixed -----------------------------------------
# 1. a seed like "--1" or "²" passed isdigit() and reached int() → 500 (controls.py)
# 2. a Last-Event-ID of "²" passed isdigit() → 500 (routes.py)
# 3. a body nested ~500–980 levels deep broke GET /_journal (RecursionError) → bodies deeper
#    than routes.MAX_DEPTH are a 400, and Entry.to_dict() no longer recurses
# 4. the same depth, echoed by a streamed /v1/responses, cut the stream (RecursionError)
# 5. an Origin with a trailing LF was reflected (`$` matches before a final newline) → fullmatch
# 6. the fallback 404 had a body on HEAD


def call_raw(app: Any, environ_extra: dict[str, str], method: str = "GET",
             path: str = "/mock/stream", body: bytes = b"") -> tuple[str, list[tuple[str, str]],
                                                                   bytes]:
    """Call the WSGI app without validator or test client: what any WSGI server would see."""
    import io

    environ: dict[str, Any] = {}
    wsgiref.util.setup_testing_defaults(environ)
    environ.update(REQUEST_METHOD=method, PATH_INFO=path, CONTENT_TYPE="application/json",
                   CONTENT_LENGTH=str(len(body)), **environ_extra)
    environ["wsgi.input"] = io.BytesIO(body)
    got: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        got.update(status=status, headers=headers)
        return lambda data: None

    it = app(environ, start_response)
    try:
        out = b"".join(it)
    finally:
        close: Callable[[], None] | None = getattr(it, "close", None)
        if close is not None:
            close()
    return got["status"], got["headers"], out


@pytest.mark.parametrize("where", ["query --1", "query ²", "header ²", "header -²"])
def test_bug_seed_that_looks_like_digits_is_a_400(
    where: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app()
    kind, value = where.split(" ")
    if kind == "query":
        extra = {"QUERY_STRING": "seed=" + quote(value)}  # "²" as %C2%B2 (UTF-8)
    else:
        extra = {"HTTP_X_MOCK_SEED": value}  # "²": the latin-1 byte 0xB2 on the wire
    status, _, body = call_raw(app, extra)
    assert status.startswith("400"), (status, body)
    assert not errors_logged(caplog)


def test_bug_last_event_id_superscript_digit_is_a_400(
    base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with httpx.Client(base_url=base_url, timeout=10) as c:
        r = c.get("/mock/stream", headers={b"last-event-id": b"\xb2"})
    assert r.status_code == 400, r.text
    assert not errors_logged(caplog)


def _max_parsed_depth(status_of: Callable[[bytes], int], template: bytes) -> int:
    """The deepest `[[…]]` nesting at "@" in `template` that read_json_body still parses
    (``status_of(body)`` is the status of a non-streamed request with that body)."""
    lo, hi = 1, sys.getrecursionlimit() + 100
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if status_of(template.replace(b"@", b"[" * mid + b"]" * mid)) == 400:
            hi = mid - 1
        else:
            lo = mid
    return lo


def test_bug_journal_with_a_deeply_nested_body(caplog: pytest.LogCaptureFixture) -> None:
    app = make_app()
    client = Client(validated(app))

    def status_of(body: bytes) -> int:
        r = client.post(CHAT, data=body, content_type="application/json", buffered=True)
        r.close()
        return r.status_code

    depth = _max_parsed_depth(
        status_of, b'{"model":"m","messages":[{"role":"user","content":"hi"}],"x":@}') - 10
    body = b'{"model":"m","messages":[{"role":"user","content":"hi"}],"x":' + (
        b"[" * depth + b"]" * depth + b"}")
    r = client.post(CHAT, data=body, content_type="application/json", buffered=True)
    r.close()
    assert r.status_code == 200  # accepted: a valid request
    caplog.clear()
    r = client.get("/mock/_journal", buffered=True)
    r.close()
    assert r.status_code == 200, r.get_data()[:200]
    assert not errors_logged(caplog)


def test_bug_responses_stream_with_tools_nested_at_the_parse_limit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app(delay=0, max_body_size=65536, journal_size=0)
    template = b'{"model":"m","input":"x","stream":@S,"tools":[{"type":"web_search","x":@}]}'
    broken = []
    with serve(app, "werkzeug") as base, httpx.Client(base_url=base, timeout=10) as c:

        def post(body: bytes) -> httpx.Response:
            return c.post(RESPONSES, content=body, headers={"content-type": "application/json"})

        # The thread's stack is the server's, not pytest's: the same limit every run.
        top = _max_parsed_depth(lambda b: post(b).status_code,
                                template.replace(b"@S", b"false"))
        for depth in range(top, top - 6, -1):
            body = template.replace(b"@S", b"true").replace(b"@", b"[" * depth + b"]" * depth)
            caplog.clear()
            try:
                r = post(body)
                complete = r.status_code == 200 and b"response.completed" in r.content
            except httpx.TransportError:
                complete = False
                r = None
            if not complete or errors_logged(caplog):
                broken.append((depth, r and r.status_code, errors_logged(caplog)[:1]))
    assert not broken, broken


@pytest.mark.parametrize("origins", ["*", ["http://a.example"]], ids=["any", "listed"])
@pytest.mark.parametrize("method", ["GET", "OPTIONS"])
def test_bug_origin_with_a_trailing_newline_is_not_reflected(origins: Any, method: str) -> None:
    # Not reflected at all: neither as sent nor stripped (the same origin without the newline
    # is allowed, so a strip-then-reflect bug would grant it).
    app = create_app(delay=0, cors={"origins": origins})
    preflight = {"HTTP_ACCESS_CONTROL_REQUEST_METHOD": "GET"} if method == "OPTIONS" else {}
    for origin in ("http://a.example\n", "http://a.example\r\n", " http://a.example"):
        _, headers, _ = call_raw(app, {"HTTP_ORIGIN": origin, **preflight}, method=method)
        for name, value in headers:
            assert "\n" not in value, (name, value)
        names = {name.lower() for name, _ in headers}
        assert not names & {"access-control-allow-origin", "access-control-allow-methods",
                            "access-control-allow-headers"}, (origin, headers)
    # the same origin without the newline is granted (so the check above can fail)
    _, headers, _ = call_raw(app, {"HTTP_ORIGIN": "http://a.example", **preflight},
                             method=method)
    assert ("Access-Control-Allow-Origin", "http://a.example") in headers


def test_minor_head_on_an_unrouted_mock_path_has_no_body(client: Client) -> None:
    r = client.open("/mock/nothing-here", method="HEAD", buffered=True)
    r.close()
    assert r.status_code == 404
    assert r.get_data() == b""



@pytest.mark.parametrize(("text", "ok"), [
    ('{"a":' + "[" * 64 + "]" * 64 + "}", False),  # 65 levels
    ('{"a":' + "[" * 63 + "]" * 63 + "}", True),  # 64 levels: the limit
    ('{"a":"' + "[{" * 100 + '","b":[[1]]}', True),  # brackets in a string are no nesting
])
def test_the_depth_limit_counts_nesting_not_brackets(text: str, ok: bool) -> None:
    # exchange.read_json_body: the walk runs only when the text opens more than MAX_DEPTH
    # brackets; nesting, not the count, decides.
    import io

    from sse_mock.dialects.base import MockError
    from sse_mock.exchange import MAX_DEPTH, read_json_body

    assert MAX_DEPTH == 64
    body = text.encode()
    environ = {"CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
               "wsgi.input": io.BytesIO(body)}
    if ok:
        assert read_json_body(environ, 1 << 20)["a"]
    else:
        with pytest.raises(MockError, match="nested more than 64 levels"):
            read_json_body(environ, 1 << 20)
