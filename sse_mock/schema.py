"""Schema-valid structure: JSON instances made from a request's JSON Schema, and checks of fixed
ones against it (PROTOCOLS.md §2.11 structured outputs and tool parameters, §8.2, §9.3).

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
    :data:`MAX_STRING` characters, arrays of :data:`MAX_ITEMS`, :data:`MAX_NODES` values in
    all; a schema that asks for more gets a smaller instance (which the check then reports).
"""

from __future__ import annotations

import json
import math
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .dialects.base import Prompt, Reply

__all__ = ["Schemas", "errors", "instance", "normalize", "schemas_of", "structure"]

MAX_DEPTH = 16  # deeper than this, objects keep only required keys and arrays their minimum
MAX_ITEMS = 64  # largest generated array, whatever minItems says (bounded answers)
MAX_STRING = 4096  # longest generated string, whatever minLength says
MAX_NODES = 20_000  # values one instance may hold; past it the rest is null (reported)

_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
          "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo")
_TYPE_ORDER = ("object", "array", "string", "integer", "number", "boolean", "null")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# --- normalizing -------------------------------------------------------------------------------

def normalize(schema: Any) -> Any:
    """JSON Schema from Gemini's OpenAPI subset: upper-case types lower-cased, ``nullable``
    folded into ``type``; anything else is returned as given (a new object, never mutated)."""
    if isinstance(schema, list):
        return [normalize(s) for s in schema]
    if not isinstance(schema, Mapping):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("properties", "$defs", "definitions", "patternProperties") and isinstance(
                value, Mapping):
            out[key] = {k: normalize(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not", "anyOf", "oneOf", "allOf",
                     "prefixItems"):
            out[key] = normalize(value)
        elif key == "type":
            out[key] = [t.lower() if isinstance(t, str) else t for t in value] if isinstance(
                value, list) else (value.lower() if isinstance(value, str) else value)
        else:
            out[key] = value
    if out.pop("nullable", False) is True and "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"] if "null" not in types else types
    if out.get("format") == "enum":  # Gemini: {"type": "STRING", "format": "enum", "enum": …}
        out.pop("format")
    return out


# --- $ref --------------------------------------------------------------------------------------

def _resolve(schema: Any, root: Any) -> Any:
    """Follow ``$ref`` (local only) until a schema without one; unknown refs → ``{}``."""
    seen = 0
    while isinstance(schema, Mapping) and isinstance(schema.get("$ref"), str) and seen < 32:
        ref: str = schema["$ref"]
        seen += 1
        if ref == "#":
            target: Any = root
        elif ref.startswith("#/"):
            target = root
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                target = target.get(part) if isinstance(target, Mapping) else None
        else:
            return {}
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **rest} if isinstance(target, Mapping) and rest else (
            target if target is not None else {})
    return schema


def _int_bound(x: float, open_: bool, up: bool) -> int | None:
    """The smallest (`up`) or largest whole number within a bound; None without one."""
    if not math.isfinite(x):
        return None
    v = math.ceil(x) if up else math.floor(x)
    if open_ and v == x:
        v += 1 if up else -1
    return v


def _types(schema: Mapping[str, Any]) -> list[str]:
    t = schema.get("type")
    if isinstance(t, str):
        return [t]
    if isinstance(t, list) and t:
        return [x for x in t if isinstance(x, str)]
    if "properties" in schema or "required" in schema or "additionalProperties" in schema:
        return ["object"]
    if "items" in schema or "prefixItems" in schema:
        return ["array"]
    if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                                  "multipleOf")):
        return ["number"]
    if any(k in schema for k in ("minLength", "maxLength", "pattern", "format")):
        return ["string"]
    return []


def _merge(parts: Sequence[Any], root: Any, depth: int = 0) -> dict[str, Any]:
    """``allOf`` as one schema: properties merged, required united, other keys: last wins."""
    out: dict[str, Any] = {}
    if depth > MAX_DEPTH:  # allOf through $ref loops
        return out
    closed: list[set[str]] = []  # the keys each `additionalProperties: false` part allows
    for part in parts:
        part = _resolve(part, root)
        if not isinstance(part, Mapping):
            continue
        if "allOf" in part:
            part = {**{k: v for k, v in part.items() if k != "allOf"},
                    **_merge(_list(part["allOf"]), root, depth + 1)}
        if part.get("additionalProperties") is False:
            closed.append(set(_map(part.get("properties"))))
        for key, value in part.items():
            if key == "properties" and isinstance(value, Mapping):
                out["properties"] = {**out.get("properties", {}), **value}
            elif key == "required" and isinstance(value, list):
                out["required"] = list(dict.fromkeys([*out.get("required", []), *value]))
            else:
                out[key] = value
    if closed and "properties" in out:
        allowed = set.intersection(*closed) | set(_list(out.get("required")))
        out["properties"] = {k: v for k, v in out["properties"].items() if k in allowed}
    return out


# --- generating --------------------------------------------------------------------------------

def instance(schema: Any, seed: int | str = 0) -> Any:
    """A deterministic JSON value valid against `schema` (within the supported keywords)."""
    schema = normalize(schema)
    return _Maker(schema, random.Random(f"sse_mock-schema:{seed}")).make(schema, 0)


@dataclass
class _Maker:
    root: Any
    rng: random.Random
    budget: int = MAX_NODES

    def make(self, schema: Any, depth: int) -> Any:
        self.budget -= 1
        if depth > 4 * MAX_DEPTH or self.budget < 0:  # a schema without end (Divergence #4)
            return None
        schema = _resolve(schema, self.root)
        if schema is True or not isinstance(schema, Mapping):
            return self.rng.choice(_WORDS)
        if "allOf" in schema:
            schema = _merge([{k: v for k, v in schema.items() if k != "allOf"},
                             *_list(schema["allOf"])], self.root)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return self.rng.choice(schema["enum"])
        for key in ("oneOf", "anyOf"):
            branches = schema.get(key)
            if isinstance(branches, list) and branches:
                return self._branch(schema, key, branches, depth)
        types = _types(schema)
        if not types:
            return self.rng.choice(_WORDS)
        kind = self._pick_type(types)
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, depth)
        if kind == "integer":
            return self._integer(schema, depth)
        if kind == "number":
            return self._number(schema, depth)
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "null":
            return None
        return self._string(schema, depth)

    def _pick_type(self, types: list[str]) -> str:
        real = [t for t in types if t != "null"] or types
        return self.rng.choice(sorted(real, key=lambda t: _TYPE_ORDER.index(t)
                                      if t in _TYPE_ORDER else 99))

    def _branch(self, schema: Mapping[str, Any], key: str, branches: list[Any],
                depth: int) -> Any:
        base = {k: v for k, v in schema.items() if k != key}
        order = list(range(len(branches)))
        self.rng.shuffle(order)
        first: Any = None
        for n, i in enumerate(order):
            candidate = self.make(_merge([base, branches[i]], self.root), depth + 1)
            if n == 0:
                first = candidate
            if not errors(candidate, schema, self.root):
                return candidate
        return first

    def _bounds(self, schema: Mapping[str, Any]) -> tuple[float, float, bool, bool]:
        lo, hi = schema.get("minimum"), schema.get("maximum")
        xlo, xhi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
        lo_open = hi_open = False
        if isinstance(xlo, bool):  # draft 4
            lo_open = xlo
        elif isinstance(xlo, int | float) and (lo is None or xlo >= lo):
            lo, lo_open = xlo, True
        if isinstance(xhi, bool):
            hi_open = xhi
        elif isinstance(xhi, int | float) and (hi is None or xhi <= hi):
            hi, hi_open = xhi, True
        flo = float(lo) if isinstance(lo, int | float) else -math.inf
        fhi = float(hi) if isinstance(hi, int | float) else math.inf
        return flo, fhi, lo_open, hi_open

    def _integer(self, schema: Mapping[str, Any], depth: int) -> int:
        lo, hi, lo_open, hi_open = self._bounds(schema)
        ilo = _int_bound(lo, lo_open, up=True)
        ihi = _int_bound(hi, hi_open, up=False)
        if ilo is None and ihi is None:
            ilo, ihi = 0, 100
        elif ilo is None:
            ilo = ihi - 100  # type: ignore[operator]
        elif ihi is None:
            ihi = ilo + 100
        assert ilo is not None and ihi is not None
        step = schema.get("multipleOf")
        if isinstance(step, int) and not isinstance(step, bool) and step > 0:
            first, last = -(-ilo // step), ihi // step
            if first <= last:
                return step * self.rng.randint(first, min(last, first + 100))
        if ilo > ihi:
            return ilo
        return self.rng.randint(ilo, min(ihi, ilo + 1000))

    def _number(self, schema: Mapping[str, Any], depth: int) -> float | int:
        step = schema.get("multipleOf")
        if isinstance(step, int) and not isinstance(step, bool):
            return self._integer(schema, depth)
        lo, hi, lo_open, hi_open = self._bounds(schema)
        if not math.isfinite(lo) and not math.isfinite(hi):
            lo, hi = 0.0, 100.0
        elif not math.isfinite(lo):
            lo = hi - 100.0
        elif not math.isfinite(hi):
            hi = lo + 100.0
        if isinstance(step, float) and step > 0:
            first, last = math.ceil(lo / step), math.floor(hi / step)
            for k in range(first, min(last, first + 200) + 1):
                value = k * step
                if (lo <= value <= hi and not (lo_open and value == lo)
                        and not (hi_open and value == hi) and value / step == int(value / step)):
                    return value
        value = round(lo + (hi - lo) * (0.1 + 0.8 * self.rng.random()), 2)
        if not lo < value < hi:
            value = lo + (hi - lo) / 2
        if not math.isfinite(value):  # bounds near the float limit
            value = lo if math.isfinite(lo) else hi
        if (lo_open and value <= lo) or (hi_open and value >= hi) or not lo <= value <= hi:
            value = lo if not lo_open else hi if not hi_open else (lo + hi) / 2
        return value

    def _string(self, schema: Mapping[str, Any], depth: int) -> str:
        rng = self.rng
        fmt = schema.get("format")
        if fmt == "date-time":
            text = f"2025-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T12:{rng.randint(10, 59)}:00Z"
        elif fmt == "date":
            text = f"2025-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
        elif fmt == "time":
            text = f"12:{rng.randint(10, 59)}:00Z"
        elif fmt == "email":
            text = f"{rng.choice(_WORDS)}@example.com"
        elif fmt in ("uri", "url", "uri-reference", "iri"):
            text = f"https://example.com/{rng.choice(_WORDS)}"
        elif fmt == "uuid":
            text = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        elif fmt == "ipv4":
            text = f"192.0.2.{rng.randint(1, 254)}"
        elif fmt == "hostname":
            text = f"{rng.choice(_WORDS)}.example.com"
        else:
            text = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 3)))
        lo = schema.get("minLength")
        hi = schema.get("maxLength")
        if isinstance(lo, int) and len(text) < lo:
            filler = "x" if fmt is None else "0"
            text += filler * (min(lo, MAX_STRING) - len(text))
        if isinstance(hi, int) and len(text) > hi:
            text = text[:hi]
        return text

    def _array(self, schema: Mapping[str, Any], depth: int) -> list[Any]:
        lo = _int(schema.get("minItems")) or 0
        hi = _int(schema.get("maxItems"))
        prefix = _list(schema.get("prefixItems"))
        items = schema.get("items", {})
        count = lo if depth >= MAX_DEPTH else max(lo, self.rng.randint(1, 3))
        if hi is not None:
            count = min(count, hi)
        if items is False:
            count = min(count, len(prefix))
        count = min(max(count, 0), MAX_ITEMS)
        out: list[Any] = []
        unique = schema.get("uniqueItems") is True
        for i in range(count):
            sub = prefix[i] if i < len(prefix) else items
            value = self.make(sub, depth + 1)
            tries = 0
            while unique and value in out and tries < 20:
                value = self.make(sub, depth + 1)
                tries += 1
            out.append(value)
        return out

    def _object(self, schema: Mapping[str, Any], depth: int) -> dict[str, Any]:
        props = _map(schema.get("properties"))
        required = [r for r in _list(schema.get("required")) if isinstance(r, str)]
        keys = list(dict.fromkeys([*required, *props]))
        if depth >= MAX_DEPTH:
            keys = required
        hi = schema.get("maxProperties")
        if isinstance(hi, int) and len(keys) > hi:
            keys = keys[: max(hi, len(required))]
        out: dict[str, Any] = {}
        for key in keys:
            out[key] = self.make(props.get(key, {}), depth + 1)
        lo = schema.get("minProperties")
        extra = schema.get("additionalProperties", True)
        n = 1
        while isinstance(lo, int) and len(out) < lo and extra is not False and n < 1000:
            name = f"extra_{n}"
            if name not in out:
                out[name] = self.make(extra if isinstance(extra, Mapping) else {}, depth + 1)
            n += 1
        return out


# --- checking ----------------------------------------------------------------------------------

def errors(value: Any, schema: Any, root: Any = None) -> list[str]:
    """What in `value` does not fit `schema`: ``["$.city: expected a string", …]`` (empty = fits).
    """
    schema = normalize(schema) if root is None else schema
    check = _Check(schema if root is None else root)
    check.run(value, schema, "$", 0)
    return check.out


MAX_CHECK_DEPTH = 200  # schema steps into one value ($ref and allOf loops stop here)
MAX_CHECK_STEPS = 50_000  # schema steps in all (anyOf over $ref loops branch out)


def _is_type(value: Any, kind: str) -> bool:
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer())
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    return True


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but True != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return bool(a == b) and (isinstance(a, int | float) == isinstance(b, int | float))


def _json_kind(value: Any) -> str:
    for kind in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _is_type(value, kind):
            return kind
    return type(value).__name__


class _Check:
    """One check of one value: the messages so far and the steps left (bounded work)."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self.out: list[str] = []
        self.steps = MAX_CHECK_STEPS

    def fits(self, value: Any, schema: Any, depth: int) -> bool:
        """Whether `value` fits `schema`, without adding messages."""
        saved, self.out = self.out, []
        self.run(value, schema, "$", depth)
        fits = not self.out
        self.out = saved
        return fits

    def run(self, value: Any, schema: Any, path: str, depth: int) -> None:
        out = self.out
        self.steps -= 1
        if depth > MAX_CHECK_DEPTH or self.steps < 0:
            out.append(f"{path}: the schema is too complex to check")
            return
        depth += 1
        schema = _resolve(schema, self.root)
        if schema is True or not isinstance(schema, Mapping):
            if schema is False:
                out.append(f"{path}: no value is allowed here")
            return
        types = schema.get("type")
        if types is not None:
            kinds = types if isinstance(types, list) else [types]
            if not any(_is_type(value, k) for k in kinds if isinstance(k, str)):
                out.append(f"{path}: expected {' or '.join(map(str, kinds))}, got "
                           f"{_json_kind(value)}")
                return
        if "const" in schema and not _equal(value, schema["const"]):
            out.append(f"{path}: expected {json.dumps(schema['const'])[:60]}")
        if isinstance(schema.get("enum"), list) and not any(_equal(value, e)
                                                            for e in schema["enum"]):
            out.append(f"{path}: {json.dumps(value)[:60]} is not one of "
                       f"{json.dumps(schema['enum'])[:100]}")
        for b in _list(schema.get("allOf")):
            self.run(value, b, path, depth)
        branches = schema.get("anyOf")
        if isinstance(branches, list) and not any(self.fits(value, b, depth)
                                                  for b in branches):
            out.append(f"{path}: fits none of anyOf")
        branches = schema.get("oneOf")
        if isinstance(branches, list):
            count = sum(self.fits(value, b, depth) for b in branches)
            if count != 1:
                out.append(f"{path}: fits {count} of oneOf, not exactly one")
        if "not" in schema and self.fits(value, schema["not"], depth):
            out.append(f"{path}: must not fit the 'not' schema")
        if isinstance(value, str):
            self.string(value, schema, path)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            self.number(value, schema, path)
        elif isinstance(value, list):
            self.array(value, schema, path, depth)
        elif isinstance(value, dict):
            self.object(value, schema, path, depth)

    def string(self, value: str, schema: Mapping[str, Any], path: str) -> None:
        lo, hi = schema.get("minLength"), schema.get("maxLength")
        if isinstance(lo, int) and len(value) < lo:
            self.out.append(f"{path}: shorter than {lo} characters")
        if isinstance(hi, int) and len(value) > hi:
            self.out.append(f"{path}: longer than {hi} characters")
        # `pattern` is not checked: the request chooses the expression (Divergence #1).

    def number(self, value: float, schema: Mapping[str, Any], path: str) -> None:
        out = self.out
        lo, hi = schema.get("minimum"), schema.get("maximum")
        xlo, xhi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
        if isinstance(lo, int | float) and not isinstance(lo, bool):
            if value < lo or (xlo is True and value == lo):
                out.append(f"{path}: less than the minimum {lo}")
        if isinstance(hi, int | float) and not isinstance(hi, bool):
            if value > hi or (xhi is True and value == hi):
                out.append(f"{path}: more than the maximum {hi}")
        if isinstance(xlo, int | float) and not isinstance(xlo, bool) and value <= xlo:
            out.append(f"{path}: not more than the exclusive minimum {xlo}")
        if isinstance(xhi, int | float) and not isinstance(xhi, bool) and value >= xhi:
            out.append(f"{path}: not less than the exclusive maximum {xhi}")
        step = schema.get("multipleOf")
        if isinstance(step, int | float) and not isinstance(step, bool) and step > 0:
            # As the jsonschema library decides it (so a float step is exact or nothing).
            if isinstance(step, float):
                quotient = value / step
                bad = not math.isfinite(quotient) or int(quotient) != quotient
            else:
                bad = value % step != 0
            if bad:
                out.append(f"{path}: not a multiple of {step}")

    def array(self, value: list[Any], schema: Mapping[str, Any], path: str, depth: int) -> None:
        out = self.out
        lo, hi = schema.get("minItems"), schema.get("maxItems")
        if isinstance(lo, int) and len(value) < lo:
            out.append(f"{path}: fewer than {lo} items")
        if isinstance(hi, int) and len(value) > hi:
            out.append(f"{path}: more than {hi} items")
        if schema.get("uniqueItems") is True:
            for i, item in enumerate(value):
                if any(_equal(item, other) for other in value[:i]):
                    out.append(f"{path}[{i}]: repeats an earlier item")
                    break
        prefix = _list(schema.get("prefixItems"))
        items = schema.get("items")
        for i, item in enumerate(value):
            if i < len(prefix):
                self.run(item, prefix[i], f"{path}[{i}]", depth)
            elif items is not None:
                self.run(item, items, f"{path}[{i}]", depth)

    def object(self, value: dict[str, Any], schema: Mapping[str, Any], path: str,
               depth: int) -> None:
        out = self.out
        props = _map(schema.get("properties"))
        for key in _list(schema.get("required")):
            if key not in value:
                out.append(f"{path}: missing required property {key!r}")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in props:
                self.run(item, props[key], f"{path}.{key}", depth)
            elif extra is False:
                out.append(f"{path}: property {key!r} is not allowed")
            elif isinstance(extra, Mapping):
                self.run(item, extra, f"{path}.{key}", depth)
        lo, hi = schema.get("minProperties"), schema.get("maxProperties")
        if isinstance(lo, int) and len(value) < lo:
            out.append(f"{path}: fewer than {lo} properties")
        if isinstance(hi, int) and len(value) > hi:
            out.append(f"{path}: more than {hi} properties")


# --- what a request declares -------------------------------------------------------------------

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
    raw_tools = _list(body.get("tools"))
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
            for decl in _list(_dig(tool, "functionDeclarations")):
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


def structure(reply: Reply, prompt: Prompt, seed: int, given: bool) -> tuple[Reply, list[str]]:
    """Fill in what the request's schemas ask for; return the reply and what does not fit.

    Tool calls without arguments get an instance of the tool's schema (``{}`` without one);
    given arguments are checked. With structured output and no tool calls, the text is an
    instance of the output schema, or — when `given` (a rule's text) — checked against it.
    """
    calls = reply.tool_calls
    needs_args = any(c.arguments == "" for c in calls)
    if not needs_args and not prompt.body:
        return reply, []
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
