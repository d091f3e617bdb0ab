"""Schema-valid structure: JSON instances made from a request's JSON Schema (``make.py``), and
checks of fixed ones against it (``check.py``): PROTOCOLS.md §2.11 (structured outputs and tool
parameters), §8.2, §9.3.

When a request declares tools with JSON-Schema parameters and the reply calls one *without*
arguments, or asks for structured output (Chat Completions ``response_format`` ``json_schema``,
Responses ``text.format``, Gemini ``responseSchema``/``responseJsonSchema``, Ollama
``format``, Anthropic ``output_format``), :func:`structure` fills in a deterministic instance:
same seed, same schema → same JSON. Arguments or a reply text that a rule gives are kept and
checked; :func:`errors` lists what does not fit, for the journal (and strict mode's error).

Supported keywords: ``type`` (one or a list), ``enum``, ``const``, ``properties``,
``required``, ``additionalProperties``, ``minProperties``/``maxProperties``, ``items``,
``prefixItems``, ``minItems``/``maxItems``, ``uniqueItems``, ``minLength``/``maxLength``,
``format`` (date-time, date, time, email, uri, uuid, ipv4, hostname), ``minimum``/``maximum``,
``exclusiveMinimum``/``exclusiveMaximum`` (numbers, or draft-4 booleans), ``multipleOf``,
``anyOf``/``oneOf``/``allOf``, ``not`` (checked only), ``$ref`` to ``#``, ``#/$defs/…`` and
``#/definitions/…``, OpenAPI's ``nullable`` and Gemini's upper-case type names.

Deliberate divergences (choices a future reader might wrongly "fix"):

Divergence #1: ``pattern`` is neither generated from nor checked: a request's regular
    expression is never run (a pattern can take exponential time: the request chooses it), and
    inverting one is out of scope for a mock.
Divergence #2: every declared property is filled in, optional ones too (what OpenAI's strict
    structured outputs require), unless ``maxProperties`` forces some out.
Divergence #3: ``format`` is not asserted by :func:`errors` (as in JSON Schema 2020-12 and the
    ``jsonschema`` library's default); generated strings do follow the formats listed above.
Divergence #4: what a request's schema can make the mock build is bounded: strings of at most
    ``MAX_STRING`` characters, arrays of ``MAX_ITEMS``, ``MAX_NODES`` values in all
    (``make.py``), checks ``MAX_CHECK_STEPS`` schema steps (``check.py``); a schema that asks for
    more gets a smaller instance (which the check then reports).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..dialects.base import Prompt, Reply
from .check import errors
from .common import as_list, normalize
from .make import instance

__all__ = ["Schemas", "errors", "instance", "normalize", "schemas_of", "structure"]


@dataclass(frozen=True)
class Schemas:
    """The JSON Schemas a request declares: per tool name, and for the reply's text."""

    tools: Mapping[str, Any]
    output: Any = None  # None: no structured output asked for


def _dig(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def schemas_of(prompt: Prompt) -> Schemas:
    """Where each dialect carries tool parameters and the output schema (§2.11)."""
    body = prompt.body
    route = prompt.route
    tools: dict[str, Any] = {}
    output: Any = None
    raw_tools = as_list(body.get("tools"))
    if route in ("openai-chat", "ollama-chat"):
        for tool in raw_tools:
            name, params = _dig(tool, "function", "name"), _dig(tool, "function", "parameters")
            if isinstance(name, str) and isinstance(params, Mapping):
                tools[name] = params
        fmt = body.get("response_format") if route == "openai-chat" else None
        if _dig(fmt, "type") == "json_schema":
            output = _dig(fmt, "json_schema", "schema") or {"type": "object"}
        elif _dig(fmt, "type") == "json_object":
            output = {"type": "object"}
    elif route == "openai-responses":
        for tool in raw_tools:
            if _dig(tool, "type") == "function" and isinstance(_dig(tool, "name"), str):
                params = _dig(tool, "parameters")
                if isinstance(params, Mapping):
                    tools[tool["name"]] = params
        fmt = _dig(body, "text", "format")
        if _dig(fmt, "type") == "json_schema":
            output = _dig(fmt, "schema") or {"type": "object"}
        elif _dig(fmt, "type") == "json_object":
            output = {"type": "object"}
    elif route == "anthropic-messages":
        for tool in raw_tools:
            name, params = _dig(tool, "name"), _dig(tool, "input_schema")
            if isinstance(name, str) and isinstance(params, Mapping):
                tools[name] = params
        fmt = body.get("output_format")
        if _dig(fmt, "type") == "json_schema":
            output = _dig(fmt, "schema") or {"type": "object"}
    elif route == "gemini":
        for tool in raw_tools:
            for decl in as_list(_dig(tool, "functionDeclarations")):
                name = _dig(decl, "name")
                params = _dig(decl, "parametersJsonSchema") or _dig(decl, "parameters")
                if isinstance(name, str) and isinstance(params, Mapping):
                    tools[name] = normalize(params)
        config = body.get("generationConfig") or {}
        schema = _dig(config, "responseJsonSchema") or _dig(config, "responseSchema")
        if isinstance(schema, Mapping):
            output = normalize(schema)
        elif _dig(config, "responseMimeType") == "application/json":
            output = {"type": "object"}
    if route in ("ollama-chat", "ollama-generate"):
        fmt = body.get("format")
        if fmt == "json":
            output = {"type": "object"}
        elif isinstance(fmt, Mapping):
            output = fmt
    return Schemas(tools, output)


#: The request keys that carry a schema in some dialect (schemas_of): a body without any of
#: them declares none.
SCHEMA_KEYS = frozenset({"tools", "response_format", "text", "output_format", "generationConfig",
                         "format"})


def structure(reply: Reply, prompt: Prompt, seed: int, given: bool) -> tuple[Reply, list[str]]:
    """Fill in what the request's schemas ask for; return the reply and what does not fit.

    Tool calls without arguments get an instance of the tool's schema (``{}`` without one);
    given arguments are checked. With structured output and no tool calls, the text is an
    instance of the output schema, or — when `given` (a rule's text) — checked against it.
    """
    calls = reply.tool_calls
    needs_args = any(c.arguments == "" for c in calls)
    if not needs_args and prompt.body.keys().isdisjoint(SCHEMA_KEYS):
        return reply, []  # most requests: no tools, no output format
    schemas = schemas_of(prompt)
    if not schemas.tools and schemas.output is None and not needs_args:
        return reply, []
    problems: list[str] = []
    new_calls = []
    for i, call in enumerate(calls):
        schema = schemas.tools.get(call.name)
        if call.arguments == "":
            args = instance(schema, f"{seed}:{call.name}:{i}") if schema is not None else {}
            call = replace(call, arguments=json.dumps(args, separators=(",", ":")))
        elif schema is not None:
            try:
                parsed = json.loads(call.arguments)
            except ValueError:
                problems.append(f"tool_calls[{i}] {call.name}: the arguments are not JSON")
            else:
                problems += [f"tool_calls[{i}] {call.name}: {e}" for e in errors(parsed, schema)]
        new_calls.append(call)
    text = reply.text
    if schemas.output is not None and not calls:
        if given:
            try:
                parsed = json.loads(text)
            except ValueError:
                problems.append("reply: the text is not JSON")
            else:
                problems += [f"reply: {e}" for e in errors(parsed, schemas.output)]
        else:
            text = json.dumps(instance(schemas.output, f"{seed}:output"), ensure_ascii=False)
    if text is reply.text and not needs_args:
        return reply, problems
    return replace(reply, text=text, tool_calls=tuple(new_calls)), problems
