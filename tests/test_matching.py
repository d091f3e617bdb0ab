"""The ``model`` matcher of rules (rules.py ``MATCH_KEYS``: "the requested model: exact, or a glob
like "gpt-4*""): exact names, ``*``, ``?`` and ``[...]`` globs, and names that must not match —
a longer name, a name that only contains the pattern, a different model. Through the official
SDKs, in-process.
"""

from __future__ import annotations

import pytest

from sse_mock import SSEMockMiddleware, create_app
from sse_mock.testing import anthropic_client, openai_client

RULES = [
    {"name": "exact", "match": {"model": "gpt-4o"}, "reply": "exact name"},
    {"name": "star", "match": {"model": "gpt-4*"}, "reply": "star glob"},
    {"name": "question", "match": {"model": "o?-mini"}, "reply": "question glob"},
    {"name": "class", "match": {"model": "claude-[sh]*-4-*"}, "reply": "class glob"},
    {"name": "and", "match": {"model": "gpt-3.5*", "contains": "both"}, "reply": "model and text"},
]
DEFAULT = "no rule"


@pytest.fixture(scope="module")
def app() -> SSEMockMiddleware:
    return create_app(delay=0, reply=DEFAULT, rules=RULES)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o", "exact name"),  # also matches "gpt-4*": the first rule wins
        ("gpt-4o-mini", "star glob"),  # the exact name is not a prefix match
        ("gpt-4.1", "star glob"),
        ("gpt-4", "star glob"),  # `*` matches nothing too
        ("o4-mini", "question glob"),
        ("o3-mini", "question glob"),
        ("o10-mini", DEFAULT),  # `?` is exactly one character
        ("o4-mini-high", DEFAULT),  # the whole name must match, not a prefix
        ("my-gpt-4o", DEFAULT),  # nor a suffix
        ("gpt-3.5-turbo", DEFAULT),  # "gpt-3.5*" alone is not enough: "contains" must hold too
        ("GPT-4o", DEFAULT),  # names are compared as sent, case included
    ],
)
def test_openai_model_names(app: SSEMockMiddleware, model: str, expected: str) -> None:
    with openai_client(app) as client:
        c = client.chat.completions.create(model=model,
                                           messages=[{"role": "user", "content": "hi"}])
    assert c.choices[0].message.content == expected


def test_every_condition_of_a_rule_must_hold(app: SSEMockMiddleware) -> None:
    with openai_client(app) as client:
        c = client.chat.completions.create(
            model="gpt-3.5-turbo", messages=[{"role": "user", "content": "say both"}])
    assert c.choices[0].message.content == "model and text"


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("claude-sonnet-4-6", "class glob"),
        ("claude-haiku-4-5", "class glob"),
        ("claude-opus-4-7", DEFAULT),  # not in [sh]
        ("claude-sonnet-3-7", DEFAULT),
    ],
)
def test_anthropic_model_names(app: SSEMockMiddleware, model: str, expected: str) -> None:
    with anthropic_client(app) as client:
        m = client.messages.create(model=model, max_tokens=50,
                                   messages=[{"role": "user", "content": "hi"}])
    assert m.content[0].type == "text"
    assert m.content[0].text == expected


def test_the_journal_names_the_rule_that_matched(app: SSEMockMiddleware) -> None:
    with openai_client(app) as client:
        client.chat.completions.create(model="o4-mini",
                                       messages=[{"role": "user", "content": "hi"}])
    assert app.journal.entries()[-1].rule == "rules[2] (question)"
