"""The fault catalogue: how the mock fails, on demand and reproducibly.

A fault is written ``name[:arg[:arg]][*count]``:

=========================  =================================================================
``rate_limit[:S]``         429 with ``retry-after`` (S seconds, default 1), ``retry-after-ms``
                           and rate-limit headers; the provider's error body (§2.6, §4.5)
``server_error``           500 (OpenAI ``server_error``, Anthropic ``api_error``)
``overloaded``             503 (OpenAI) / 529 ``overloaded_error`` (Anthropic)
``unauthorized``           401 (``invalid_api_key`` / ``authentication_error``)
``timeout[:S]``            hold the request S seconds (default 30), then 504
``error_after:N``          after N content events, an in-band error event (§2.6, §3.4, §4.3)
``disconnect_after:N``     after N content events, drop the connection: no terminator
``truncate_after:N``       after N content events, end cleanly with no finish/terminator
``stall_after:N:S``        after N content events, S seconds of silence, then go on
``malformed_after:N``      after N content events, one event whose JSON is corrupt
=========================  =================================================================

``*count`` (HTTP faults only) fails ``count`` times, then answers normally once, and so on in
cycles: ``rate_limit*2`` against an SDK with its default two retries fails, fails, succeeds.
"""

from __future__ import annotations

import difflib
import errno
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from .dialects.base import Frame, MockError, StreamContext

__all__ = ["HTTP_FAULTS", "STREAM_FAULTS", "Fault", "StreamAbort", "apply_stream_fault",
           "parse_fault"]

#: name → (argument names, defaults)
HTTP_FAULTS: dict[str, tuple[str, ...]] = {
    "rate_limit": ("seconds",),
    "server_error": (),
    "overloaded": (),
    "unauthorized": (),
    "timeout": ("seconds",),
}
STREAM_FAULTS: dict[str, tuple[str, ...]] = {
    "error_after": ("after",),
    "disconnect_after": ("after",),
    "truncate_after": ("after",),
    "stall_after": ("after", "seconds"),
    "malformed_after": ("after",),
}
_DEFAULT_SECONDS = {"rate_limit": 1.0, "timeout": 30.0}
_MAX_SECONDS = 3600.0


class StreamAbort(ConnectionResetError):
    """Raised inside a stream to drop the connection without a terminator.

    A ``ConnectionResetError`` (errno ECONNRESET) on purpose: werkzeug and gunicorn treat it as
    a dropped connection — they close the socket without writing the final chunk and without
    logging a traceback — so the client sees the body end early, as with a real network fault.
    """

    def __init__(self, spec: str = "disconnect") -> None:
        super().__init__(errno.ECONNRESET, f"sse_mock fault {spec}: connection dropped")


@dataclass(frozen=True)
class Fault:
    name: str
    after: int = 0
    seconds: float = 0.0
    count: int = 0  # *N: fail N times, then answer once (0 = fail every time)
    spec: str = ""

    @property
    def in_stream(self) -> bool:
        return self.name in STREAM_FAULTS

    def to_error(self, family: str, should_retry: bool | None = None) -> MockError:
        """The HTTP answer of a fault that fails before the stream starts."""
        anthropic = family == "anthropic"
        headers: list[tuple[str, str]] = []
        if should_retry is not None:
            headers.append(("x-should-retry", "true" if should_retry else "false"))
        if self.name == "rate_limit":
            # §2.6: the SDKs honour retry-after-ms first, then retry-after (seconds).
            headers += [
                ("retry-after", str(max(1, math.ceil(self.seconds)))),
                ("retry-after-ms", str(int(self.seconds * 1000))),
            ]
            if anthropic:
                headers += [
                    ("anthropic-ratelimit-requests-limit", "50"),
                    ("anthropic-ratelimit-requests-remaining", "0"),
                ]
            else:
                headers += [
                    ("x-ratelimit-remaining-requests", "0"),
                    ("x-ratelimit-reset-requests", f"{self.seconds:g}s"),
                ]
            message = (
                "This request would exceed your organization's rate limit (mocked by sse_mock)."
                if anthropic
                else "Rate limit reached for requests (mocked by sse_mock). "
                f"Please try again in {self.seconds:g}s."
            )
            return MockError(429, message, kind="rate_limit", headers=headers)
        if self.name == "server_error":
            return MockError(500, "The server had an error while processing your request "
                             "(mocked by sse_mock).", kind="server_error", headers=headers)
        if self.name == "overloaded":
            if anthropic:
                return MockError(529, "Overloaded", kind="overloaded", headers=headers)
            return MockError(503, "The engine is currently overloaded, please try again later "
                             "(mocked by sse_mock).", kind="overloaded", headers=headers)
        if self.name == "unauthorized":
            message = ("invalid x-api-key (mocked by sse_mock)" if anthropic else
                       "Incorrect API key provided (mocked by sse_mock).")
            return MockError(401, message, kind="authentication", headers=headers)
        if self.name == "timeout":
            return MockError(504, f"The request timed out after {self.seconds:g}s "
                             "(mocked by sse_mock).", kind="timeout", headers=headers)
        raise AssertionError(self.name)  # pragma: no cover - stream faults never get here


def parse_fault(spec: str) -> Fault:
    """Parse ``name[:arg[:arg]][*count]``; ``ValueError`` says what is wrong and allowed."""
    if not isinstance(spec, str):
        raise ValueError(f"a fault is a string like 'rate_limit' or 'error_after:3', got {spec!r}")
    text = spec.strip()
    count = 0
    if "*" in text:
        text, _, count_text = text.partition("*")
        if not count_text.isdigit() or not 1 <= int(count_text) <= 1000:
            raise ValueError(f"fault {spec!r}: the count after '*' must be a whole number 1–1000")
        count = int(count_text)
    name, *args = text.split(":")
    params = HTTP_FAULTS.get(name, STREAM_FAULTS.get(name))
    if params is None:
        names = sorted({**HTTP_FAULTS, **STREAM_FAULTS})
        near = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise ValueError(f"unknown fault {name!r}{hint}; known faults: {', '.join(names)}")
    if count and name in STREAM_FAULTS:
        raise ValueError(f"fault {spec!r}: '*count' applies to HTTP faults only")
    required = 0 if name in HTTP_FAULTS else len(params)
    if not required <= len(args) <= len(params):
        usage = name + "".join(f":{p.upper()}" for p in params)
        raise ValueError(f"fault {spec!r}: expected {usage}")
    after, seconds = 0, _DEFAULT_SECONDS.get(name, 0.0)
    for param, arg in zip(params, args, strict=False):
        if param == "after":
            if not arg.isdigit() or int(arg) > 1_000_000:
                raise ValueError(f"fault {spec!r}: N must be a whole number ≥ 0, got {arg!r}")
            after = int(arg)
        else:
            try:
                seconds = float(arg)
            except ValueError:
                seconds = -1.0
            if not (0 <= seconds <= _MAX_SECONDS) or not math.isfinite(seconds):
                raise ValueError(
                    f"fault {spec!r}: SECONDS must be a number from 0 to 3600, got {arg!r}"
                ) from None
    return Fault(name=name, after=after, seconds=seconds, count=count, spec=spec.strip())


class InBandErrors(Protocol):
    """The part of a dialect that a mid-stream fault needs."""

    def in_band_error(self, error: MockError, ctx: StreamContext) -> bytes: ...

    def end_of_stream(self, ctx: StreamContext) -> bytes: ...


def apply_stream_fault(
    frames: Iterable[Frame], fault: Fault, dialect: InBandErrors, ctx: StreamContext
) -> Iterator[Frame]:
    """Inject a mid-stream fault after ``fault.after`` content (token) frames."""
    tokens = 0
    it = iter(frames)
    for frame in it:
        if tokens >= fault.after and frame.token:
            break
        yield frame
        if frame.token:
            tokens += 1
    else:
        # The stream had fewer content events than N: it ended normally.
        return
    # `frame` is the first content frame past N (not yet sent).
    name = fault.name
    if name == "error_after":
        error = MockError(500, "The server had an error while processing your request "
                          "(mocked by sse_mock).", kind="server_error")
        yield Frame(dialect.in_band_error(error, ctx) + dialect.end_of_stream(ctx))
    elif name == "disconnect_after":
        raise StreamAbort(fault.spec)
    elif name == "truncate_after":
        return
    elif name == "stall_after":
        yield Frame(frame.data, token=frame.token, paced=frame.paced, pause=fault.seconds)
        yield from it
    elif name == "malformed_after":
        # The next content event, its JSON cut in half: same `event:` line, corrupt `data:`.
        # An NDJSON line (Ollama, PROTOCOLS.md §9.2) has no `data:`: its JSON is cut, one line.
        body = frame.data.rstrip(b"\r\n")
        found = body.rfind(b"data: ")
        start = found + len(b"data: ") if found >= 0 else 0
        end = b"\n\n" if found >= 0 else b"\n"
        corrupt = body[: start + max(1, (len(body) - start) // 2)] + end
        yield Frame(corrupt, token=True, paced=frame.paced)
        yield from it
