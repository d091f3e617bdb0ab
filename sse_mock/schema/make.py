"""Deterministic JSON instances of a JSON Schema (seeded; bounded: Divergence #4 of
:mod:`sse_mock.schema`)."""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .check import errors
from .common import (
    MAX_DEPTH,
    as_int,
    as_list,
    as_map,
    int_bound,
    merge,
    normalize,
    resolve,
    types_of,
)

__all__ = ["MAX_ITEMS", "MAX_NODES", "MAX_STRING", "instance"]

MAX_ITEMS = 64  # largest generated array, whatever minItems says (bounded answers)
MAX_STRING = 4096  # longest generated string, whatever minLength says
MAX_NODES = 20_000  # values one instance may hold; past it the rest is null (reported)

_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
          "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo")
_TYPE_ORDER = ("object", "array", "string", "integer", "number", "boolean", "null")

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
        schema = resolve(schema, self.root)
        if schema is True or not isinstance(schema, Mapping):
            return self.rng.choice(_WORDS)
        if "allOf" in schema:
            schema = merge([{k: v for k, v in schema.items() if k != "allOf"},
                             *as_list(schema["allOf"])], self.root)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return self.rng.choice(schema["enum"])
        for key in ("oneOf", "anyOf"):
            branches = schema.get(key)
            if isinstance(branches, list) and branches:
                return self._branch(schema, key, branches, depth)
        types = types_of(schema)
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
            candidate = self.make(merge([base, branches[i]], self.root), depth + 1)
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
        ilo = int_bound(lo, lo_open, up=True)
        ihi = int_bound(hi, hi_open, up=False)
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
        lo = as_int(schema.get("minItems")) or 0
        hi = as_int(schema.get("maxItems"))
        prefix = as_list(schema.get("prefixItems"))
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
        props = as_map(schema.get("properties"))
        required = [r for r in as_list(schema.get("required")) if isinstance(r, str)]
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
