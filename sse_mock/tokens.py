"""The mock's tokenizer: deterministic, dependency-free, documented.

A token is a run of whitespace followed by a run of non-whitespace (``\\s*\\S+``); trailing
whitespace is a token of its own. So ``"Hello, this is"`` is ``["Hello,", " this", " is"]``:
the tokens concatenate back to the text exactly (whitespace included), the same text always
gives the same tokens, and usage counts are the number of tokens. Real tokenizers give about
1.3 tokens per English word; this one gives 1 — close enough for a mock, and easy to predict.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["count_tokens", "lorem", "tokenize"]

_TOKEN_RE = re.compile(r"\s*\S+|\s+")

_LOREM = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt "
    "ut labore et dolore magna aliqua ut enim ad minim veniam quis nostrud exercitation "
    "ullamco laboris nisi ut aliquip ex ea commodo consequat"
).split()


def tokenize(text: str) -> list[str]:
    """Split `text` into tokens that concatenate back to it exactly."""
    return _TOKEN_RE.findall(text)


def count_tokens(texts: str | Iterable[str]) -> int:
    """Number of tokens in one text or in several (usage counts)."""
    if isinstance(texts, str):
        return len(_TOKEN_RE.findall(texts))
    return sum(len(_TOKEN_RE.findall(t)) for t in texts)


def lorem(n: int) -> str:
    """A deterministic lorem-ipsum text of exactly `n` tokens (for load tests)."""
    words = [_LOREM[i % len(_LOREM)] for i in range(n)]
    if words:
        words[0] = words[0].capitalize()
    return " ".join(words) + ("." if words else "")
