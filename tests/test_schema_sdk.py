"""Schema-valid structure through the official SDKs: structured-output helpers parse what the
mock generates, tool calls without arguments get arguments that fit the tool's schema, and a
rule's fixed arguments that do not fit are reported (journal; strict mode: 422)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal

import anthropic
import openai
import pytest
from conftest import serve
from pydantic import BaseModel, Field

from sse_mock import create_app

jsonschema = pytest.importorskip("jsonschema")


class Forecast(BaseModel):
    city: str
    unit: Literal["C", "F"]
    days: list[int] = Field(min_length=1, max_length=3)


WEATHER = {"type": "object", "required": ["city", "days"], "additionalProperties": False,
           "properties": {"city": {"type": "string", "minLength": 2},
                          "days": {"type": "integer", "minimum": 1, "maximum": 7}}}
RULES: list[dict[str, Any]] = [
    {"match": {"contains": "fixed"}, "tool_calls": [{"name": "get_weather",
                                                     "arguments": {"town": "Paris"}}]},
    {"match": {"contains": "weather"}, "tool_calls": [{"name": "get_weather"}]},
]


@pytest.fixture(scope="module")
def mock() -> Iterator[tuple[Any, str]]:
    app = create_app(delay=0, rules=RULES)
    with serve(app, "werkzeug") as base:
        yield app, base


@pytest.fixture
def oai(mock: tuple[Any, str]) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(base_url=mock[1] + "/mock/v1", api_key="x", max_retries=0,
                           timeout=10)
    yield client
    client.close()


def test_chat_parse_with_a_pydantic_model(oai: openai.OpenAI) -> None:
    done = oai.chat.completions.parse(model="gpt-4o-mini", response_format=Forecast,
                                      messages=[{"role": "user", "content": "Forecast?"}])
    parsed = done.choices[0].message.parsed
    assert isinstance(parsed, Forecast) and 1 <= len(parsed.days) <= 3
    again = oai.chat.completions.parse(model="gpt-4o-mini", response_format=Forecast,
                                       messages=[{"role": "user", "content": "Forecast?"}])
    assert again.choices[0].message.parsed == parsed  # seeded: the same every time


def test_chat_stream_with_json_schema(oai: openai.OpenAI) -> None:
    schema = Forecast.model_json_schema()
    with oai.chat.completions.stream(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Forecast?"}],
            response_format=Forecast) as stream:
        final = stream.get_final_completion()
    jsonschema.validate(json.loads(final.choices[0].message.content or ""), schema)


def test_responses_parse(oai: openai.OpenAI) -> None:
    out = oai.responses.parse(model="gpt-4o-mini", input="Forecast?", text_format=Forecast)
    assert isinstance(out.output_parsed, Forecast)


def test_tool_call_without_arguments_fits_the_tool_schema(oai: openai.OpenAI) -> None:
    tools: Any = [{"type": "function", "function": {"name": "get_weather",
                                                    "parameters": WEATHER}}]
    done = oai.chat.completions.create(model="gpt-4o-mini", tools=tools, messages=[
        {"role": "user", "content": "What is the weather?"}])
    call: Any = done.choices[0].message.tool_calls[0]  # type: ignore[index]
    jsonschema.validate(json.loads(call.function.arguments), WEATHER)
    streamed = oai.chat.completions.create(model="gpt-4o-mini", tools=tools, stream=True,
                                           messages=[{"role": "user", "content": "weather"}])
    args = "".join(c.choices[0].delta.tool_calls[0].function.arguments or ""
                   for c in streamed if c.choices and c.choices[0].delta.tool_calls)
    jsonschema.validate(json.loads(args), WEATHER)


def test_anthropic_tool_input_fits(mock: tuple[Any, str]) -> None:
    client = anthropic.Anthropic(base_url=mock[1] + "/mock", api_key="x", max_retries=0)
    message = client.messages.create(
        model="claude-sonnet-4-6", max_tokens=100,
        tools=[{"name": "get_weather", "input_schema": WEATHER}],  # type: ignore[typeddict-item]
        messages=[{"role": "user", "content": "weather?"}])
    block: Any = message.content[-1]
    assert block.type == "tool_use"
    jsonschema.validate(block.input, WEATHER)
    client.close()


def test_gemini_response_schema(mock: tuple[Any, str]) -> None:
    genai = pytest.importorskip("google.genai")
    from google.genai import types

    client = genai.Client(api_key="x", http_options={"base_url": mock[1] + "/mock"})
    r = client.models.generate_content(
        model="gemini-2.5-flash", contents="Forecast?",
        config=types.GenerateContentConfig(response_mime_type="application/json",
                                           response_schema=Forecast))
    assert isinstance(r.parsed, Forecast)


def test_ollama_format(mock: tuple[Any, str]) -> None:
    ollama = pytest.importorskip("ollama")
    with ollama.Client(host=mock[1] + "/mock") as client:
        r = client.chat(model="llama3.2", messages=[{"role": "user", "content": "Forecast?"}],
                        format=Forecast.model_json_schema())
    Forecast.model_validate_json(r.message.content or "")


def test_fixed_arguments_that_do_not_fit_are_journaled(mock: tuple[Any, str],
                                                       oai: openai.OpenAI) -> None:
    tools: Any = [{"type": "function", "function": {"name": "get_weather",
                                                    "parameters": WEATHER}}]
    done = oai.chat.completions.create(model="gpt-4o-mini", tools=tools, messages=[
        {"role": "user", "content": "fixed weather"}])
    assert done.choices[0].message.tool_calls[0].function.arguments == (  # type: ignore[union-attr,index]
        '{"town":"Paris"}')
    entry = mock[0].journal.entries()[-1]
    assert entry.schema_errors == [
        "tool_calls[0] get_weather: $: missing required property 'city'",
        "tool_calls[0] get_weather: $: missing required property 'days'",
        "tool_calls[0] get_weather: $: property 'town' is not allowed"]


def test_strict_mode_makes_a_mismatch_a_422() -> None:
    app = create_app(delay=0, strict=True, rules=[{"reply": "not json"}])
    with serve(app, "werkzeug") as base:
        client = openai.OpenAI(base_url=base + "/mock/v1", api_key="x", max_retries=0)
        with pytest.raises(openai.UnprocessableEntityError) as info:
            client.chat.completions.parse(model="gpt-4o-mini", response_format=Forecast,
                                          messages=[{"role": "user", "content": "Hi"}])
        client.close()
    assert info.value.code == "schema_mismatch"
    assert "reply: the text is not JSON" in info.value.message


def test_responses_function_call_without_arguments(oai: openai.OpenAI) -> None:
    out = oai.responses.create(model="gpt-4o-mini", input="What is the weather?", tools=[
        {"type": "function", "name": "get_weather", "parameters": WEATHER, "strict": True}])
    calls = [item for item in out.output if item.type == "function_call"]
    jsonschema.validate(json.loads(calls[0].arguments), WEATHER)  # type: ignore[union-attr]


def test_gemini_function_call_without_arguments(mock: tuple[Any, str]) -> None:
    genai = pytest.importorskip("google.genai")
    from google.genai import types

    client = genai.Client(api_key="x", http_options={"base_url": mock[1] + "/mock"})
    # The SDK sends a pydantic-free dict in Gemini's OpenAPI subset (upper-case types).
    tool = types.Tool(function_declarations=[types.FunctionDeclaration(
        name="get_weather", parameters=types.Schema(
            type=types.Type.OBJECT, required=["city", "days"], properties={
                "city": types.Schema(type=types.Type.STRING, min_length=2),
                "days": types.Schema(type=types.Type.INTEGER, minimum=1, maximum=7)}))])
    r = client.models.generate_content(
        model="gemini-2.5-flash", contents="What is the weather?",
        config=types.GenerateContentConfig(tools=[tool], automatic_function_calling=types.
                                           AutomaticFunctionCallingConfig(disable=True)))
    call = r.function_calls[0]
    jsonschema.validate(call.args, {**WEATHER, "additionalProperties": True})
