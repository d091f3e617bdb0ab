"""The seed's stream: one ``data: <word>`` event per whitespace-separated word, then
``data: [DONE]`` (DESIGN.md A, ``GET /mock/stream``).

Events carry ``id:`` lines (their index) so that a reconnecting ``EventSource`` sends
``Last-Event-ID`` and the stream resumes after it; the ``[DONE]`` event has id ``len(words)``,
so a reconnect after it means "complete" (answered 204 by the route, PROTOCOLS.md §1.7).
Browsers are the audience here: ids and ``retry:`` are safe for them (unlike for the OpenAI
SDK, §5.2).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..formatter import SSEFormatter
from .base import Frame, MockError, StreamContext, dumps
from .shapes import openai_error_object

__all__ = ["PlainDialect"]

_fmt = SSEFormatter()


class PlainDialect:
    name = "plain"
    path = "/stream"
    family = "plain"

    def stream(self, text: str, *, after: int = -1, retry: int = 0) -> Iterator[Frame]:
        """Frames for the words of `text` whose id is greater than `after`."""
        words = text.split()
        start = after + 1
        if retry and start < len(words):
            yield Frame(_fmt.format(words[start], id=str(start), retry=retry), token=True)
            start += 1
        for i in range(start, len(words)):
            # A word from str.split() holds no CR or LF: one `data:` line, written directly
            # (the same bytes as SSEFormatter.format(word, id=str(i)), §1.8).
            yield Frame(f"id: {i}\ndata: {words[i]}\n\n".encode(), True)
        yield Frame(f"id: {len(words)}\ndata: [DONE]\n\n".encode(), paced=True)

    def in_band_error(self, error: MockError, ctx: StreamContext) -> bytes:
        return _fmt.format(dumps({"error": openai_error_object(error)}), event="error")

    def end_of_stream(self, ctx: StreamContext) -> bytes:
        return b""
