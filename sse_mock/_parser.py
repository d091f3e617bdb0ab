"""An incremental Server-Sent Events parser that follows the HTML standard (PROTOCOLS.md §1.2–1.6).

It exists to check what sse_mock sends: tests (and users) feed it the raw bytes of a response,
in whatever chunks they arrived, and get the events a conforming browser ``EventSource`` would
fire. It is sans-I/O and knows nothing about HTTP, reconnection or any LLM dialect.

.. code-block:: python

    parser = SSEParser()
    parser.feed(b"data: a\\r")   # []: the event is not finished yet
    parser.feed(b"\\n\\n")       # [Event(data="a")]: that CR and this LF are one line end
    parser.feed(b"data: b\\n")   # []
    parser.close()              # []: end of stream, the unfinished event is discarded

Real clients differ from this (PROTOCOLS.md §5.2); this parser is the reference, not a model of
any of them.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

__all__ = ["Event", "SSEParser", "parse"]

# PROTOCOLS.md §1.2 step 2: lines end at CRLF, at a lone LF and at a lone CR.
_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class Event:
    """One dispatched event, as a browser's ``MessageEvent`` would show it (PROTOCOLS.md §1.5)."""

    type: str = "message"
    data: str = ""
    # The last event ID string when the event was dispatched ("" if none was ever set).
    id: str = ""
    # The reconnection time in force when the event was dispatched (None if never set).
    retry: int | None = None


class SSEParser:
    """Turn the bytes of one event stream, fed in chunks of any size, into :class:`Event`\\ s.

    Use one parser per response; call :meth:`close` when the response ends.
    """

    def __init__(self) -> None:
        # PROTOCOLS.md §1.2 step 1: UTF-8 decode, invalid bytes become U+FFFD; the incremental
        # decoder holds back a multi-byte character split across chunks.
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._at_start = True  # no character decoded yet: a BOM may still follow
        self._skip_lf = False  # the last line ended with CR: an LF right after it is part of it
        self._partial: list[str] = []  # text of the current, unfinished line
        # PROTOCOLS.md §1.2 step 3: the three buffers of the parse.
        self._data = ""
        self._event_type = ""
        self._last_event_id_buffer = ""
        # State of the EventSource itself (PROTOCOLS.md §1.4, §1.5 step 1).
        self._last_event_id = ""
        self._retry: int | None = None
        self._closed = False

    @property
    def last_event_id(self) -> str:
        """The last event ID string: what a browser would send as ``Last-Event-ID``."""
        return self._last_event_id

    @property
    def retry(self) -> int | None:
        """The reconnection time in milliseconds set by the stream, or None if never set."""
        return self._retry

    def feed(self, chunk: bytes) -> list[Event]:
        """Parse the next bytes of the stream; return the events they complete, in order."""
        if self._closed:
            raise RuntimeError("feed() after close(): use a new SSEParser for a new stream")
        return self._feed_text(self._decoder.decode(chunk))

    def close(self) -> list[Event]:
        """End the stream. Pending data is discarded (PROTOCOLS.md §1.6), so this returns []."""
        if not self._closed:
            self._closed = True
            # PROTOCOLS.md §1.6: "any pending data must be discarded" -- an unfinished line and an
            # event without its empty line (including its id) are dropped, not dispatched.
            self._decoder.decode(b"", final=True)
            self._partial.clear()
            self._data = self._event_type = self._last_event_id_buffer = ""
        return []

    def _feed_text(self, text: str) -> list[Event]:
        if not text:
            return []
        if self._at_start:
            self._at_start = False
            # PROTOCOLS.md §1.2 step 1: exactly one leading BOM is stripped; a second is content.
            if text[0] == "\ufeff":
                text = text[1:]
        if self._skip_lf and text:
            # PROTOCOLS.md §1.2 step 2 (P21): a CR that ended the previous chunk and this LF are
            # one line end. The line was already processed when the CR arrived.
            self._skip_lf = False
            if text[0] == "\n":
                text = text[1:]
        if "\n" not in text and "\r" not in text:
            if text:
                self._partial.append(text)
            return []
        self._partial.append(text)
        lines = _LINE_END.split("".join(self._partial))
        rest = lines.pop()  # text after the last line end: the start of an unfinished line
        self._partial = [rest] if rest else []
        # A CR at the very end may be the first half of a CRLF whose LF is in the next chunk.
        self._skip_lf = text.endswith("\r")
        events: list[Event] = []
        for line in lines:
            event = self._process_line(line)
            if event is not None:
                events.append(event)
        return events

    def _process_line(self, line: str) -> Event | None:
        # PROTOCOLS.md §1.3: line interpretation.
        if not line:
            return self._dispatch()
        if line[0] == ":":
            return None  # a comment
        name, colon, value = line.partition(":")  # the field name ends at the FIRST colon
        if colon and value[:1] == " ":
            value = value[1:]  # remove exactly one U+0020 SPACE; tabs and more spaces stay
        # PROTOCOLS.md §1.4: field processing; names are compared literally (no case folding).
        if name == "event":
            self._event_type = value
        elif name == "data":
            self._data += value + "\n"
        elif name == "id":
            if "\x00" not in value:  # an id containing NUL is ignored as a whole
                self._last_event_id_buffer = value
        elif name == "retry":
            # Only ASCII digits; str.isdigit() would also accept e.g. "١٢" and "²".
            if value and value.isascii() and value.isdigit():
                self._retry = int(value)
        return None  # any other field is ignored

    def _dispatch(self) -> Event | None:
        # PROTOCOLS.md §1.5 step 1: the last event ID string is set even if no event fires.
        self._last_event_id = self._last_event_id_buffer
        # Step 2: an empty data buffer fires nothing, and the event type is forgotten.
        if not self._data:
            self._event_type = ""
            return None
        # Steps 3-6: remove the one LF added after the last data line; "" means "message".
        event = Event(
            type=self._event_type or "message",
            data=self._data[:-1],
            id=self._last_event_id,
            retry=self._retry,
        )
        # Step 7: reset the data and event type buffers (the id buffer persists).
        self._data = self._event_type = ""
        return event


def parse(data: bytes) -> list[Event]:
    """Parse a whole stream at once: :meth:`SSEParser.feed` all of ``data``, then close."""
    parser = SSEParser()
    return parser.feed(data) + parser.close()
