"""Cut an upstream answer into whole events, byte for byte, and tell content events apart.

:class:`EventSplitter` is sans-I/O: feed it the bytes of a stream in whatever chunks they arrive
and it returns each event as soon as its terminating empty line is complete — the unit the mock
writes (one or more whole events per write, PROTOCOLS.md §1.8 F-14). It never decodes or changes
a byte, so a recorded stream replays byte-exact.

Deliberate divergences (choices a future reader might wrongly "fix"):

Divergence #1: a comment line outside an event (a heartbeat, ``: ping``) is a unit of its own,
    passed through the moment it arrives: it is what keeps a client's read timeout alive while a
    real provider thinks (§1.8 F-11). A comment inside an event stays with its event.
Divergence #2: a CR at the end of a chunk is held until the next byte arrives: it may be the first
    half of a CRLF, and taking it for a whole line end would turn the LF into an empty line that
    ends the event early (§1.2 step 2).
Divergence #3: NDJSON streams (Ollama's) are cut at each LF instead: one JSON object per line.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .._parser import parse

__all__ = ["EventSplitter", "is_content"]

# PROTOCOLS.md §1.2 step 2: lines end at CRLF, at a lone LF and at a lone CR.
_EOL = re.compile(rb"\r\n|\r|\n")
_COLON = 0x3A


class EventSplitter:
    """Bytes in, whole units out: complete events (fields + empty line, §1.1), comment lines
    outside an event, or NDJSON lines. :meth:`close` returns what was left unterminated."""

    def __init__(self, ndjson: bool = False) -> None:
        self._buf = bytearray()
        self._pos = 0  # where the next unscanned line starts in _buf
        self._ndjson = ndjson

    def feed(self, chunk: bytes) -> list[bytes]:
        buf = self._buf
        buf += chunk
        out: list[bytes] = []
        pos = self._pos
        if self._ndjson:
            while (end := buf.find(b"\n", pos)) >= 0:
                out.append(bytes(buf[: end + 1]))
                del buf[: end + 1]
                pos = 0
            self._pos = len(buf)
            return out
        while True:
            m = _EOL.search(buf, pos)
            if m is None:
                break
            if m.end() == len(buf) and buf[m.start()] == 0x0D and m.end() - m.start() == 1:
                break  # Divergence #2: a CR at the end may be half of a CRLF
            end = m.end()
            # §1.3: an empty line dispatches the event; a line starting with ":" is a comment.
            if m.start() == pos or (pos == 0 and buf[0] == _COLON):
                out.append(bytes(buf[:end]))
                del buf[:end]
                pos = 0
            else:
                pos = end
        self._pos = pos
        return out

    def close(self) -> bytes:
        """The bytes after the last whole unit (an event the upstream never finished)."""
        rest = bytes(self._buf)
        self._buf.clear()
        self._pos = 0
        return rest


def is_content(unit: bytes) -> bool:
    """True when `unit` carries model output: what ``error_after:N`` and the like count, and what
    the mock's pacing spaces (the dialects mark the same events as ``Frame(token=True)``)."""
    stripped = unit.strip()
    if not stripped or stripped.startswith(b":"):
        return False
    if stripped.startswith(b"{"):  # an NDJSON line (Ollama)
        return _json_is_content(stripped)
    # Extra empty lines dispatch an unterminated tail and are harmless after a whole event.
    for event in parse(unit + b"\n\n"):
        if event.data == "[DONE]":
            continue
        if _json_is_content(event.data):
            return True
    return False


def _json_is_content(text: str | bytes) -> bool:
    try:
        obj: Any = json.loads(text)
    except ValueError:
        return True  # plain text data (the seed's word-per-event stream)
    if not isinstance(obj, dict):
        return False
    kind = obj.get("type")
    if isinstance(kind, str):
        # Anthropic content_block_delta (§4.2); Responses *.delta events (§3.2).
        return kind == "content_block_delta" or kind.endswith(".delta")
    choices = obj.get("choices")
    if isinstance(choices, list):  # OpenAI chat chunks and legacy completions (§2.3, §2.8)
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict) and (delta.get("content") or delta.get("tool_calls")
                                            or delta.get("refusal")):
                return True
            if choice.get("text"):
                return True
        return False
    if "candidates" in obj:  # Gemini
        return True
    if obj.get("done") is False:  # Ollama
        return True
    return False
