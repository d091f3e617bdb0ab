"""The original blog example's stream: one ``data: <word>`` event per whitespace-separated word,
then ``data: [DONE]`` (DESIGN.md A, ``GET /mock/stream``).

Events carry ``id:`` lines (their index) so that a reconnecting ``EventSource`` sends
``Last-Event-ID`` and the stream resumes after it; the ``[DONE]`` event has id ``len(words)``,
so a reconnect after it means "complete" (answered 204 by the route, PROTOCOLS.md §1.7).
Browsers are the audience here: ids and ``retry:`` are safe for them (unlike for the OpenAI
SDK, §5.2).

A resumed stream never splices two replies (issue 9): an id is ``<index>.<fingerprint>`` — or
``<index>.<fingerprint>.<position>`` when a rule's ``sequence``/``replies`` chose the reply — so a
reconnect, on any worker and after a restart, recomputes the reply at that position and resumes
only when its fingerprint (:func:`reply_tag`) is the same; otherwise the route answers 204.
Ids stay opaque to clients, short and free of the bytes that would make a cross-origin
``Last-Event-ID`` need a preflight (digits, letters and ``.``).

Line breaks survive: a word followed by line breaks carries them, as a multi-line ``data:``
event (§1.8 F-3: the word ``Items:`` and a line break → ``data: Items:`` + ``data:``), so a
reply with paragraphs or a markdown list arrives with its newlines while one event per word
stays the pacing unit. A client rebuilds the text by joining the events with a space, except
after an event that ends in a line break. A reply without line breaks gives the same bytes as
before.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

from ..formatter import SSEFormatter
from .base import Frame, MockError, StreamContext, dumps
from .shapes import openai_error_object

__all__ = ["PlainDialect", "parse_event_id", "reply_tag"]

_fmt = SSEFormatter()
_WORD = re.compile(r"(\S+)(\s*)")


def words_of(text: str) -> list[str]:
    r"""The events of `text`: its words, each with the line breaks that follow it.

    >>> words_of("Items:\n- one\n\n- two ")
    ['Items:\n', '-', 'one\n\n', '-', 'two']
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return [word + "\n" * gap.count("\n") for word, gap in _WORD.findall(text)]


def reply_tag(text: str, position: int | None = None) -> str:
    """What the event ids of a reply carry besides their index: 8 hex digits of BLAKE2b over
    the reply's text, then ``.<position>`` when a rule's sequence chose it."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=4).hexdigest()
    return digest if position is None else f"{digest}.{position}"


_ID = re.compile(r"(\d{1,9})(?:\.([0-9a-f]{8})(?:\.(\d{1,6}))?)?")


def parse_event_id(value: str) -> tuple[int, str | None, int | None]:
    """``(index, fingerprint, position)`` of a ``Last-Event-ID`` this stream sent (a bare index:
    an id of an older version, fingerprint None); ``ValueError`` for anything else."""
    match = _ID.fullmatch(value) if value.isascii() else None
    if match is None:
        raise ValueError(value)
    index, digest, position = match.groups()
    return int(index), digest, int(position) if position is not None else None


class PlainDialect:
    name = "plain"
    path = "/stream"
    family = "plain"

    def stream(
        self, text: str, *, after: int = -1, retry: int = 0, tag: str = ""
    ) -> Iterator[Frame]:
        """Frames for the words of `text` whose index is greater than `after`; ids are
        ``<index>.<tag>`` (:func:`reply_tag`), or the bare index without a tag."""
        words = words_of(text)
        start = after + 1
        sfx = "." + tag if tag else ""
        if retry and start < len(words):
            yield Frame(_fmt.format(words[start], id=f"{start}{sfx}", retry=retry), token=True)
            start += 1
        for i in range(start, len(words)):
            word = words[i]
            if word[-1] == "\n":  # line breaks after the word: one `data:` line each (§1.8 F-3)
                yield Frame(_fmt.format(word, id=f"{i}{sfx}"), True)
                continue
            # A word without a line break: one `data:` line, written directly (the same bytes
            # as SSEFormatter.format(word, id=str(i)), §1.8).
            yield Frame(f"id: {i}{sfx}\ndata: {word}\n\n".encode(), True)
        yield Frame(f"id: {len(words)}{sfx}\ndata: [DONE]\n\n".encode(), paced=True)

    def in_band_error(self, error: MockError, ctx: StreamContext) -> bytes:
        return _fmt.format(dumps({"error": openai_error_object(error)}), event="error")

    def end_of_stream(self, ctx: StreamContext) -> bytes:
        return b""
