"""Schema-valid structure (sse_mock/schema.py): generated instances validate with the
``jsonschema`` library over many hypothesis-made schemas, and :func:`errors` agrees with it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sse_mock.dialects.base import Prompt, Reply, ToolCall
from sse_mock.schema import errors, instance, normalize, schemas_of, structure

jsonschema = pytest.importorskip("jsonschema")
Validator = jsonschema.Draft202012Validator

# -- schema strategies (satisfiable by construction) --------------------------------------------

WORDS = st.text(alphabet="abcdefghij", min_size=1, max_size=6)


@st.composite
def strings(draw: st.DrawFn) -> dict[str, Any]:
    s: dict[str, Any] = {"type": "string"}
    lo = draw(st.none() | st.integers(0, 30))
    hi = draw(st.none() | st.integers(lo or 0, 40))
    if lo is not None:
        s["minLength"] = lo
    if hi is not None:
        s["maxLength"] = hi
    if draw(st.booleans()):
        s["format"] = draw(st.sampled_from(["date-time", "date", "email", "uri", "uuid",
                                            "ipv4", "hostname", "time"]))
    return s


@st.composite
def numbers(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["integer", "number"]))
    s: dict[str, Any] = {"type": kind}
    lo = draw(st.none() | st.integers(-1000, 1000))
    hi = draw(st.none() | st.integers(lo if lo is not None else -1000, 1000))
    if lo is not None:
        s["exclusiveMinimum" if draw(st.booleans()) and hi != lo and (
            hi is None or hi - lo >= 2) else "minimum"] = lo
    if hi is not None:
        s["exclusiveMaximum" if "minimum" in s and hi - lo >= 2 and draw(  # type: ignore[operator]
            st.booleans()) else "maximum"] = hi
    if lo is None and hi is None and draw(st.booleans()):
        s["multipleOf"] = draw(st.sampled_from([1, 2, 5, 10, 0.5, 0.25] if kind == "number"
                                               else [1, 2, 3, 7]))
    return s


def leaves() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        strings(), numbers(),
        st.just({"type": "boolean"}), st.just({"type": "null"}),
        st.lists(st.one_of(WORDS, st.integers(-5, 5), st.booleans()), min_size=1, max_size=4,
                 unique=True).map(lambda e: {"enum": e}),
        st.one_of(WORDS, st.integers()).map(lambda c: {"const": c}),
        strings().map(lambda s: {**s, "type": ["string", "null"]}),
    )


def extend(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    @st.composite
    def objects(draw: st.DrawFn) -> dict[str, Any]:
        props = draw(st.dictionaries(WORDS, children, max_size=5))
        required = [k for k in props if draw(st.booleans())]
        s: dict[str, Any] = {"type": "object", "properties": props, "required": required}
        if draw(st.booleans()):
            s["additionalProperties"] = False
        return s

    @st.composite
    def arrays(draw: st.DrawFn) -> dict[str, Any]:
        lo = draw(st.integers(0, 4))
        s: dict[str, Any] = {"type": "array", "items": draw(children), "minItems": lo}
        if draw(st.booleans()):
            s["maxItems"] = draw(st.integers(lo, 6))
        return s

    unions = st.lists(children, min_size=1, max_size=3).map(lambda b: {"anyOf": b})
    one_of = st.tuples(strings(), st.just({"type": "integer"})).map(
        lambda b: {"oneOf": list(b)})
    all_of = st.tuples(objects(), objects()).map(lambda b: {"allOf": [_open(b[0], ""),
                                                                      _open(b[1], "z_")]})
    unique = st.integers(0, 5).map(lambda n: {"type": "array", "uniqueItems": True,
                                              "minItems": n, "items": {"type": "integer"}})
    return st.one_of(objects(), arrays(), unions, one_of, all_of, unique)


def _open(obj: dict[str, Any], prefix: str) -> dict[str, Any]:
    """An allOf part that cannot contradict the other (satisfiable by construction)."""
    return {"type": "object", "required": [prefix + k for k in obj["required"]],
            "properties": {prefix + k: v for k, v in obj["properties"].items()}}


SCHEMAS = st.recursive(leaves(), extend, max_leaves=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=SCHEMAS, seed=st.integers(0, 2**32))
def test_instances_validate_with_jsonschema(schema: dict[str, Any], seed: int) -> None:
    value = instance(schema, seed)
    Validator(schema).validate(value)
    assert errors(value, schema) == []
    assert instance(schema, seed) == value  # deterministic
    json.dumps(value)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=SCHEMAS, value=st.recursive(
    st.none() | st.booleans() | st.integers(-2000, 2000) | st.floats(-2000, 2000) | WORDS,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(WORDS, c, max_size=4), max_leaves=10))
def test_errors_agree_with_jsonschema(schema: dict[str, Any], value: Any) -> None:
    assert (errors(value, schema) == []) == Validator(schema).is_valid(value)


@pytest.mark.parametrize("seed", range(20))
def test_refs_defs_and_recursion(seed: int) -> None:
    schema = {
        "$defs": {"node": {"type": "object", "required": ["name", "children"], "properties": {
            "name": {"type": "string", "minLength": 2},
            "children": {"type": "array", "maxItems": 2, "items": {"$ref": "#/$defs/node"}}}}},
        "$ref": "#/$defs/node",
    }
    value = instance(schema, seed)
    Validator(schema).validate(value)
    assert errors(value, schema) == []


def test_gemini_openapi_schema_is_normalized() -> None:
    gemini = {"type": "OBJECT", "properties": {
        "city": {"type": "STRING", "nullable": True},
        "unit": {"type": "STRING", "format": "enum", "enum": ["C", "F"]},
        "days": {"type": "ARRAY", "items": {"type": "INTEGER", "minimum": 1, "maximum": 7}}},
        "required": ["city", "unit"], "propertyOrdering": ["city", "unit"]}
    schema = normalize(gemini)
    assert schema["properties"]["city"]["type"] == ["string", "null"]
    assert "format" not in schema["properties"]["unit"]
    value = instance(gemini, 3)
    Validator(schema).validate(value)
    assert value["unit"] in ("C", "F")


def test_error_messages_name_the_path() -> None:
    schema = {"type": "object", "required": ["city"], "additionalProperties": False,
              "properties": {"city": {"type": "string"}, "days": {"type": "integer",
                                                                  "maximum": 7}}}
    assert errors({"days": 9, "x": 1}, schema) == [
        "$: missing required property 'city'", "$.days: more than the maximum 7",
        "$: property 'x' is not allowed"]
    assert errors({"city": 3}, schema) == ["$.city: expected string, got integer"]


# -- structure(): what the routes do with a reply -----------------------------------------------

WEATHER = {"type": "object", "required": ["city", "unit"], "additionalProperties": False,
           "properties": {"city": {"type": "string"}, "unit": {"enum": ["C", "F"]}}}


def chat(**body: Any) -> Prompt:
    return Prompt(route="openai-chat", body=body)


def test_tool_call_without_arguments_gets_an_instance() -> None:
    prompt = chat(tools=[{"type": "function", "function": {"name": "w", "parameters": WEATHER}}])
    reply, problems = structure(Reply(tool_calls=(ToolCall("w", ""), ToolCall("other", ""))),
                                prompt, seed=1, given=False)
    args = json.loads(reply.tool_calls[0].arguments)
    Validator(WEATHER).validate(args)
    assert reply.tool_calls[1].arguments == "{}" and problems == []
    again, _ = structure(Reply(tool_calls=(ToolCall("w", ""),)), prompt, seed=1, given=False)
    assert again.tool_calls[0].arguments == reply.tool_calls[0].arguments


def test_fixed_arguments_are_checked() -> None:
    prompt = chat(tools=[{"type": "function", "function": {"name": "w", "parameters": WEATHER}}])
    reply, problems = structure(Reply(tool_calls=(ToolCall("w", '{"city":"Paris"}'),)), prompt,
                                seed=0, given=False)
    assert reply.tool_calls[0].arguments == '{"city":"Paris"}'
    assert problems == ["tool_calls[0] w: $: missing required property 'unit'"]


@pytest.mark.parametrize(("prompt", "schema"), [
    (chat(response_format={"type": "json_schema", "json_schema": {"name": "x",
                                                                  "schema": WEATHER}}), WEATHER),
    (chat(response_format={"type": "json_object"}), {"type": "object"}),
    (Prompt(route="openai-responses", body={"text": {"format": {
        "type": "json_schema", "name": "x", "schema": WEATHER}}}), WEATHER),
    (Prompt(route="gemini", body={"generationConfig": {
        "responseMimeType": "application/json",
        "responseSchema": {"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}},
                           "required": ["n"]}}}),
     {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}),
    (Prompt(route="ollama-chat", body={"format": WEATHER}), WEATHER),
    (Prompt(route="ollama-generate", body={"format": "json"}), {"type": "object"}),
    (Prompt(route="anthropic-messages", body={"output_format": {"type": "json_schema",
                                                                "schema": WEATHER}}), WEATHER),
])
def test_structured_output_is_generated_or_checked(prompt: Prompt, schema: Any) -> None:
    assert schemas_of(prompt).output is not None
    reply, problems = structure(Reply(text="Hello there"), prompt, seed=5, given=False)
    Validator(schema).validate(json.loads(reply.text))
    assert problems == []
    kept, problems = structure(Reply(text="Hello there"), prompt, seed=5, given=True)
    assert kept.text == "Hello there" and problems == ["reply: the text is not JSON"]


def test_no_schemas_no_change() -> None:
    reply = Reply(text="hi")
    assert structure(reply, chat(messages=[]), 0, False) == (reply, [])


# -- what a request's schema may not do to the mock (bounded, never an exception) ---------------

@pytest.mark.parametrize("schema", [
    {"allOf": [{"$ref": "#"}]},  # allOf through a $ref loop
    {"type": "object", "required": ["a"], "properties": {"a": {"$ref": "#"}}},  # endless
    {"type": "string", "minLength": 10**9},
    {"type": "array", "minItems": 10**6, "items": {"type": "array", "minItems": 10**6,
                                                    "items": {"type": "string"}}},
    {"type": "_class__"},
    {"type": ["integer", None], "exclusiveMinimum": True},
    {"type": "number", "minimum": -1.7e308, "maximum": 1.7e308},
    {"type": "integer", "minimum": "3", "multipleOf": 0},
    {"anyOf": "x", "oneOf": [], "enum": "ab", "properties": [1], "required": "a"},
])
def test_hostile_schemas_give_bounded_json(schema: Any) -> None:
    value = instance(schema, 1)
    text = json.dumps(value, allow_nan=False)
    assert len(text) < 5_000_000
    errors(value, schema)


def test_patterns_are_never_run() -> None:
    """A request's pattern could take exponential time (Divergence #1): not checked."""
    evil = {"type": "string", "pattern": "^(a+)+$"}
    assert errors("a" * 64 + "!", evil) == []
