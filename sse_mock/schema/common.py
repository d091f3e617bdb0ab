"""What the schema modules share: tolerant accessors, Gemini's OpenAPI subset normalized,
local ``$ref`` resolution, type inference and ``allOf`` merging (PROTOCOLS.md §2.11)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["MAX_DEPTH", "as_int", "as_list", "as_map", "int_bound", "merge", "normalize",
           "resolve", "types_of"]

MAX_DEPTH = 16  # deeper than this, objects keep only required keys and arrays their minimum


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def as_int(value: Any) -> int | None:
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

def resolve(schema: Any, root: Any) -> Any:
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


def int_bound(x: float, open_: bool, up: bool) -> int | None:
    """The smallest (`up`) or largest whole number within a bound; None without one."""
    if not math.isfinite(x):
        return None
    v = math.ceil(x) if up else math.floor(x)
    if open_ and v == x:
        v += 1 if up else -1
    return v


def types_of(schema: Mapping[str, Any]) -> list[str]:
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


def merge(parts: Sequence[Any], root: Any, depth: int = 0) -> dict[str, Any]:
    """``allOf`` as one schema: properties merged, required united, other keys: last wins."""
    out: dict[str, Any] = {}
    if depth > MAX_DEPTH:  # allOf through $ref loops
        return out
    closed: list[set[str]] = []  # the keys each `additionalProperties: false` part allows
    for part in parts:
        part = resolve(part, root)
        if not isinstance(part, Mapping):
            continue
        if "allOf" in part:
            part = {**{k: v for k, v in part.items() if k != "allOf"},
                    **merge(as_list(part["allOf"]), root, depth + 1)}
        if part.get("additionalProperties") is False:
            closed.append(set(as_map(part.get("properties"))))
        for key, value in part.items():
            if key == "properties" and isinstance(value, Mapping):
                out["properties"] = {**out.get("properties", {}), **value}
            elif key == "required" and isinstance(value, list):
                out["required"] = list(dict.fromkeys([*out.get("required", []), *value]))
            else:
                out[key] = value
    if closed and "properties" in out:
        allowed = set.intersection(*closed) | set(as_list(out.get("required")))
        out["properties"] = {k: v for k, v in out["properties"].items() if k in allowed}
    return out
