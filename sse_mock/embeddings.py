"""Deterministic embedding vectors: the same (seed, text, dimensions) always gives the same unit
vector, in pure Python, fast (PROTOCOLS.md §2.10, §8.8, §9.7; bench/bench_embeddings.py).

A vector of ``d`` dimensions is made from the first ``d`` bytes of SHAKE-256 over the seed and
the text: byte ``b`` becomes one of 64 levels, the odd integer ``2·(b mod 64) − 63`` (never 0),
and the vector is divided by its length. SHAKE's output is a stream, so a shorter vector is the
*prefix* of a longer one, renormalized — what OpenAI's ``dimensions`` does to text-embedding-3
vectors.

Speed: each vector has at most 64 distinct components, so their values (and JSON texts) are
computed once per vector and the components are table look-ups done in C
(``operator.itemgetter``): no per-component Python arithmetic or float formatting.

Deliberate divergences (choices a future reader might wrongly "fix"):

Divergence #1: vectors carry no meaning: similar texts are not closer than others. Use them to
    test plumbing (storage, dimensions, batching), not retrieval quality.
Divergence #2: the JSON floats are Python's shortest round-trip ``repr`` (up to 17 significant
    digits), so a client parsing them gets exactly a unit vector back.
"""

from __future__ import annotations

import base64
import hashlib
import math
import operator
import sys
from array import array
from collections.abc import Callable, Sequence
from typing import TypeVar

_T = TypeVar("_T")

__all__ = ["MAX_DIMENSIONS", "MAX_INPUTS", "vector", "vector_base64", "vector_json"]

#: Bounds on what one request may ask for (bytes of answer: inputs × dimensions × ~20).
MAX_DIMENSIONS = 4096
MAX_INPUTS = 2048

#: 64 levels: byte b gives the odd integer 2·(b mod 64) − 63 (never 0). Tables of 256 entries
#: (the 64 repeated 4 times) are indexed by the byte itself.
LEVELS = 64
_VALUES = tuple(2 * (b % LEVELS) - (LEVELS - 1) for b in range(256))
_SQUARES = tuple(v * v for v in _VALUES)


def _digest(text: str, dims: int, seed: int) -> bytes:
    return hashlib.shake_256(f"sse_mock\x00{seed}\x00{text}".encode()).digest(dims)


def _pick(data: bytes) -> Callable[[Sequence[_T]], tuple[_T, ...]]:
    """``pick(table)`` = ``tuple(table[b] for b in data)``, in C (operator.itemgetter)."""
    if len(data) == 1:
        return lambda table: (table[data[0]],)
    return operator.itemgetter(*data)


def _scaled(pick: Callable[[Sequence[int]], tuple[int, ...]]) -> list[float]:
    """The 256-entry table of component values of the vector `pick` selects."""
    norm = math.sqrt(sum(pick(_SQUARES)))
    return [v / norm for v in _VALUES[:LEVELS]] * (256 // LEVELS)


def vector(text: str, dims: int, seed: int = 0) -> list[float]:
    """The unit vector of `text` as floats."""
    pick = _pick(_digest(text, dims, seed))
    return list(pick(_scaled(pick)))


def vector_json(text: str, dims: int, seed: int = 0) -> str:
    """The same vector as a JSON array text, ``[0.01…,-0.02…,…]``."""
    pick = _pick(_digest(text, dims, seed))
    texts = list(map(repr, _scaled(pick)[:LEVELS])) * (256 // LEVELS)
    return "[" + ",".join(pick(texts)) + "]"


def vector_base64(text: str, dims: int, seed: int = 0) -> str:
    """The same vector as little-endian float32, base64 (OpenAI's ``encoding_format``, §2.10)."""
    floats = array("f", vector(text, dims, seed))
    if sys.byteorder == "big":  # pragma: no cover - no big-endian CI
        floats.byteswap()
    return base64.b64encode(floats.tobytes()).decode("ascii")
