"""Whether a JSON value fits a JSON Schema, and where not (bounded work; ``pattern`` and
``format`` are not asserted: Divergences #1 and #3 of :mod:`sse_mock.schema`)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from .common import as_list, as_map, normalize, resolve

__all__ = ["MAX_CHECK_DEPTH", "MAX_CHECK_STEPS", "errors"]


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
        schema = resolve(schema, self.root)
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
        for b in as_list(schema.get("allOf")):
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
        prefix = as_list(schema.get("prefixItems"))
        items = schema.get("items")
        for i, item in enumerate(value):
            if i < len(prefix):
                self.run(item, prefix[i], f"{path}[{i}]", depth)
            elif items is not None:
                self.run(item, items, f"{path}[{i}]", depth)

    def object(self, value: dict[str, Any], schema: Mapping[str, Any], path: str,
               depth: int) -> None:
        out = self.out
        props = as_map(schema.get("properties"))
        for key in as_list(schema.get("required")):
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
