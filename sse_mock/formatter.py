"""Turn values into the bytes of Server-Sent Events (sans-I/O, no WSGI).

:class:`SSEFormatter` is the last step of the pipeline: it takes an event's fields and returns
the exact ``bytes`` to hand to the WSGI server, one complete event per call (PROTOCOLS.md §1.8
F-14). It never does I/O and keeps no state, so one instance can be shared freely.

.. code-block:: python

    fmt = SSEFormatter()
    fmt.format("hello")                     # b"data: hello\\n\\n"
    fmt.format("x", event="token", id="1")  # b"event: token\\nid: 1\\ndata: x\\n\\n"
    fmt.json({"a": 1})                      # b'data: {"a":1}\\n\\n'
    fmt.comment("ping")                     # b": ping\\n"

Deliberate divergences (choices a future reader might wrongly "fix"):

Divergence #1: LF only. Lines end with ``\\n``, never CRLF (which doubles the line-end bytes)
    nor CR (ambiguous at a chunk boundary for streaming parsers). PROTOCOLS.md §1.8 F-1.
Divergence #2: comment() adds no blank line. ``comment("ping")`` is ``b": ping\\n"``, not the
    common ``b": ping\\n\\n"``: a blank line makes fetch-event-source fire an empty message and,
    after any ``id:``, makes openai-python crash. The blank-line form is available only on
    request (``blank_line=True``). PROTOCOLS.md §1.8 F-11, §5.2.
Divergence #3: CR and CRLF inside data arrive as LF. SSE cannot carry a CR in a value, so
    ``"a\\r\\nb"`` and ``"a\\rb"`` are both sent as two ``data:`` lines and a client sees
    ``"a\\nb"``. PROTOCOLS.md §1.8 F-3.
Divergence #4: bad ``retry`` values raise ValueError, whatever their type (``True``, ``1.5``,
    ``"10"``, ``-1``); ``bool`` is rejected although it is an ``int``. PROTOCOLS.md §1.8 F-7.
Divergence #5: ``event=""`` is written as no ``event:`` line at all, because a client cannot
    tell it from the default ``"message"``. PROTOCOLS.md §1.8 F-5.
"""

from __future__ import annotations

import json as _json

__all__ = ["SSEFormatter"]


class SSEFormatter:
    """Format Server-Sent Events as bytes, exactly as PROTOCOLS.md §1.8–1.9 describe.

    Every method returns ``bytes`` encoded as strict UTF-8 (a lone surrogate raises
    :exc:`UnicodeEncodeError`, a :exc:`ValueError`) with LF line endings and no BOM.
    """

    __slots__ = ()

    def format(
        self,
        data: str | None = None,
        *,
        event: str | None = None,
        id: str | None = None,  # shadows the builtin: the SSE field is called "id"
        retry: int | None = None,
    ) -> bytes:
        """Return one complete event: its field lines and the terminating empty line.

        :param data: The payload; one ``data:`` line per line of it. ``None`` writes no
            ``data:`` line (a browser then fires no event); ``""`` fires an empty message.
        :param event: The event type; must not contain CR or LF. ``None`` and ``""`` both mean
            the default type ``"message"``.
        :param id: The event ID; must not contain CR, LF or NUL. ``""`` resets the client's
            last event ID.
        :param retry: The client's reconnection time in milliseconds; an ``int`` >= 0.
        :raises TypeError: if ``data``, ``event`` or ``id`` is not a ``str``.
        :raises ValueError: if the event would have no field at all, or a value cannot be
            represented (see above).
        """
        # Fast path for the common case: one line of data and nothing else.
        if (
            event is None
            and id is None
            and retry is None
            and type(data) is str
            and "\n" not in data
            and "\r" not in data
        ):
            if data:
                # PROTOCOLS.md §1.8 F-2: one space before a non-empty value; F-8: strict UTF-8.
                # (An f-string then one encode is the quickest form measured in bench/.)
                return f"data: {data}\n\n".encode()
            return b"data:\n\n"  # PROTOCOLS.md §1.8 F-2, F-4: empty data is still an event.
        return self._format(data, event, id, retry)

    def _format(
        self, data: str | None, event: str | None, id: str | None, retry: int | None
    ) -> bytes:
        """The general path of :meth:`format`; same result for every input."""
        # PROTOCOLS.md §1.8 byte layout: event, id, retry, data lines, then the empty line.
        lines: list[str] = []
        if event is not None:
            _check_str("event", event)
            if "\n" in event or "\r" in event:
                # PROTOCOLS.md §1.8 F-5: a line end would end the field and inject others.
                raise ValueError(f"event must not contain CR or LF: {event!r}")
            if event:  # PROTOCOLS.md §1.8 F-5: "" means "message"; omit it (Divergence #5).
                lines.append("event: " + event)
        if id is not None:
            _check_str("id", id)
            if "\n" in id or "\r" in id or "\x00" in id:
                # PROTOCOLS.md §1.8 F-6, §1.4: a client ignores an id that contains NUL.
                raise ValueError(f"id must not contain CR, LF or NUL: {id!r}")
            # PROTOCOLS.md §1.8 F-2, F-6: "id:" alone resets the client's last event ID.
            lines.append(("id: " + id) if id else "id:")
        if retry is not None:
            # PROTOCOLS.md §1.8 F-7: ASCII digits only; bool is an int but not a delay.
            if not isinstance(retry, int) or isinstance(retry, bool) or retry < 0:
                raise ValueError(f"retry must be an int >= 0 (milliseconds), got {retry!r}")
            lines.append("retry: " + str(int(retry)))
        if data is not None:
            _check_str("data", data)
            lines.extend(_field_lines("data", data))
        if not lines:
            # PROTOCOLS.md §1.8 F-12: a lone empty line has no meaning.
            raise ValueError("an event needs at least one of data, event, id or retry")
        # PROTOCOLS.md §1.8 F-1, F-10: LF after each line, then the empty line that dispatches.
        lines.append("\n")
        return "\n".join(lines).encode()

    def json(self, obj: object, *, event: str | None = None) -> bytes:
        """Return one event whose data is ``obj`` as compact JSON on a single ``data:`` line.

        JSON escapes CR and LF, so the payload is always one line (PROTOCOLS.md §1.8 F-13).
        Non-ASCII text is sent as UTF-8, not ``\\u`` escapes.
        """
        text = _json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
        return self.format(text, event=event)

    def comment(self, text: str = "", *, blank_line: bool = False) -> bytes:
        """Return comment line(s), which clients ignore; the usual heartbeat is ``comment("ping")``.

        Each line of ``text`` (split like data) becomes one ``: line``. No empty line follows
        unless ``blank_line`` is true (Divergence #2); never send that form in the middle of an
        event, since its empty line would dispatch the partial event. PROTOCOLS.md §1.8 F-11.
        """
        _check_str("text", text)
        lines = _field_lines("", text)  # PROTOCOLS.md §1.8 F-11: ":" + optional " " + text
        lines.append("\n" if blank_line else "")
        return "\n".join(lines).encode()


def _field_lines(name: str, value: str) -> list[str]:
    """One ``name: segment`` line per segment of ``value``, without line ends."""
    # PROTOCOLS.md §1.8 F-3: split on \r\n, \r and \n only, never str.splitlines() (which
    # also splits on \x0b, \x0c, \x1c-\x1e, \x85, \u2028, \u2029). Divergence #3.
    segments = value.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    # PROTOCOLS.md §1.8 F-2: one space before a non-empty value, none after an empty one.
    return [f"{name}: {segment}" if segment else f"{name}:" for segment in segments]


def _check_str(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
