"""Record and replay, as the routes see it: one :class:`Upstream` per middleware.

For each LLM request the route asks :meth:`Upstream.find` for a cassette; on a hit it answers
with :meth:`Upstream.replay`, on a miss that may go upstream (``record = "new"``, or every request
with ``"all"``) with :meth:`Upstream.call`, which forwards the request and streams the answer
through as it arrives while recording it; otherwise the scenario answers as if no cassette
existed. Both return an :class:`Exchange`: what to answer, in no WSGI terms.

Deliberate divergences (choices a future reader might wrongly "fix"):

Divergence #1: only complete 2xx answers are written. An error (a 429 with its headers, a 500)
    is passed through as it came but not recorded — a cassette that replays a passing rate
    limit forever is a trap; the fault catalogue replays errors on purpose. A stream that broke
    off, or whose client went away, is not written either.
Divergence #2: a recording larger than ``MAX_RECORDING`` bytes streams through unrecorded (with
    a warning): the events of a stream are held in memory until it ends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..config import UPSTREAM_FAMILIES, Config, ConfigError
from ..controls import CONTROLS
from ..dialects.base import Frame, MockError
from ..faults import StreamAbort
from .cassette import Cassette, CassetteError, Redactor, Request, response_headers
from .client import UpstreamClient, passed_back, request_headers
from .events import EventSplitter, is_content
from .replay import frames as replay_frames
from .store import CassetteStore

if TYPE_CHECKING:
    import httpx

__all__ = ["Exchange", "Upstream"]

log = logging.getLogger("sse_mock")

#: Largest recording held in memory (events of one stream, or one body), in bytes.
MAX_RECORDING = 32 * 1024 * 1024
#: Query parameters that are the mock's own: never sent upstream nor written.
MOCK_PARAMS = frozenset(CONTROLS) | {"session", "prompt"}


@dataclass
class Exchange:
    """An answer from a cassette or from the upstream.

    ``source``: "replay" (a cassette), "recording" (upstream, being written to a cassette) or
    "upstream" (passed through, not recorded: an error answer). A stream has ``frames``; a
    non-streamed answer has ``body`` after ``wait`` seconds (its recorded time).
    """

    source: str
    cassette: str
    status: int
    headers: list[tuple[str, str]]
    content_type: str = ""
    body: bytes = b""
    frames: Iterator[Frame] | None = None
    wait: float = 0.0
    live: bool = False  # frames arrive from the network: write each at once, never batch
    timed: bool = False  # frames carry their recorded gaps (``Frame.pause``)
    close: Callable[[], None] = field(default=lambda: None)


class Upstream:
    """Cassettes and the upstream client of one middleware.

    :raises ConfigError: when the configuration cannot work (recording without a base URL,
        httpx not installed); named with the key.
    """

    def __init__(self, config: Config) -> None:
        self.mode = config.record
        self.prefix = config.prefix
        self.store = CassetteStore(config.cassettes)
        self.redactor = Redactor(config.redact_headers, config.redact_patterns)
        self.fields = config.cassette_match
        self.speed = config.replay_speed
        self.recorded_timing = config.replay_timing == "recorded"
        up = config.upstream
        bases = {family: up[name] for name, (family, _, _) in UPSTREAM_FAMILIES.items()
                 if up.get(name)}
        self.client: UpstreamClient | None = None
        if self.mode != "none":
            if not bases:
                raise ConfigError(f"{config.source}: key 'record' is {self.mode!r} but no "
                                  "upstream is configured: set upstream.openai, "
                                  "upstream.anthropic, …")
            self.client = UpstreamClient(bases, timeout=up["timeout"],
                                         connect_timeout=up["connect_timeout"],
                                         controls=MOCK_PARAMS)

    @classmethod
    def from_config(cls, config: Config) -> Upstream | None:
        """None when the configuration names no cassette folder (record and replay off)."""
        if not config.cassettes:
            if config.record != "none":
                raise ConfigError(f"{config.source}: key 'cassettes' is needed when 'record' "
                                  f"is {config.record!r}: the folder to write cassettes to")
            return None
        return cls(config)

    # -- lookup ------------------------------------------------------------------------------

    def request(
        self, route: str, family: str, environ: Mapping[str, Any], body: Mapping[str, Any],
        model: str, stream: bool,
    ) -> Request:
        path = environ.get("PATH_INFO", "")[len(self.prefix):]
        return Request.build(
            route=route, family=family, method=environ.get("REQUEST_METHOD", "POST"), path=path,
            query_string=environ.get("QUERY_STRING", ""), headers=request_headers(environ),
            body=body, model=model, stream=stream, fields=self.fields, redactor=self.redactor,
            drop_params=MOCK_PARAMS)

    def records(self, request: Request) -> bool:
        """True when a request that no cassette answers goes upstream."""
        return self.client is not None and self.client.serves(request.family)

    def find(self, request: Request) -> Cassette | None:
        """The request's cassette; None on a miss, and always with ``record = "all"`` (when
        the request's family has an upstream)."""
        if self.mode == "all" and self.records(request):
            return None
        try:
            return self.store.find(request)
        except CassetteError as exc:
            raise MockError(500, f"sse_mock: {exc}", kind="server_error") from None

    def nearest(self, request: Request) -> str:
        return self.store.nearest(request)

    # -- answers -----------------------------------------------------------------------------

    def replay(self, cassette: Cassette) -> Exchange:
        speed = self.speed if self.recorded_timing else None
        name = cassette.request.name
        if not cassette.streamed:
            wait = cassette.body_at / self.speed if self.recorded_timing and self.speed else 0.0
            return Exchange("replay", name, cassette.status, list(cassette.headers),
                            cassette.content_type, body=cassette.body or b"", wait=wait)
        return Exchange("replay", name, cassette.status, list(cassette.headers),
                        cassette.content_type, frames=iter(replay_frames(cassette, speed)),
                        timed=self.recorded_timing)

    def call(self, request: Request, environ: Mapping[str, Any],
             body: Mapping[str, Any]) -> Exchange:
        """Forward `request`; stream the answer through, recording a 2xx one."""
        assert self.client is not None
        started = time.monotonic()
        response = self.client.send(request.family, request.method, request.path, environ, body)
        content_type = response.headers.get("content-type", "")
        media = content_type.split(";", 1)[0].strip().lower()
        ok = 200 <= response.status_code < 300
        if media in ("text/event-stream", "application/x-ndjson") and ok:
            kept = response_headers(response.headers.multi_items(), self.redactor)
            stream = self._stream(response, request, started, content_type, kept,
                                  ndjson=media != "text/event-stream")

            def close() -> None:  # also when the stream never started (HEAD, an early error)
                stream.close()
                response.close()

            return Exchange("recording", request.name, response.status_code, kept, content_type,
                            frames=stream, live=True, close=close)
        try:
            data = _read(response)
        finally:
            response.close()
        if not ok:
            return Exchange("upstream", "", response.status_code, passed_back(response.headers),
                            content_type, body=data)
        kept = response_headers(response.headers.multi_items(), self.redactor)
        cassette = Cassette(request, response.status_code, content_type, kept,
                            body=self._redact(data), body_at=time.monotonic() - started)
        self._save(cassette)
        return Exchange("recording", request.name, response.status_code, kept, content_type,
                        body=data)

    def _stream(
        self, response: httpx.Response, request: Request, started: float, content_type: str,
        headers: list[tuple[str, str]], ndjson: bool,
    ) -> Generator[Frame, None, None]:
        """The upstream's events as frames, each the moment it is complete; the cassette is
        written when the upstream ends the stream (Divergence #1)."""
        import httpx

        splitter = EventSplitter(ndjson=ndjson)
        events: list[tuple[float, bytes]] = []
        size = 0
        complete = False
        try:
            try:
                for chunk in response.iter_bytes():
                    at = time.monotonic() - started
                    for unit in splitter.feed(chunk):
                        if size <= MAX_RECORDING:
                            size += len(unit)
                            events.append((at, unit))
                        yield Frame(unit, token=is_content(unit))
                tail = splitter.close()
                if tail:  # an event the upstream never finished: passed on as it came
                    events.append((time.monotonic() - started, tail))
                    yield Frame(tail)
            except httpx.HTTPError as exc:
                log.warning("sse_mock: the upstream stream of %s broke off (%s: %s); the "
                            "connection to the client is dropped too", request.path,
                            type(exc).__name__, exc)
                raise StreamAbort("upstream stream broke off") from None
            complete = True
        finally:
            response.close()  # a client that went away stops the upstream request
        if size > MAX_RECORDING:
            log.warning("sse_mock: the answer to %s is larger than %d bytes: not recorded",
                        request.path, MAX_RECORDING)
        elif complete:
            self._save(Cassette(request, response.status_code, content_type, headers,
                                events=[(t, self._redact(e)) for t, e in events]))

    def _redact(self, data: bytes) -> bytes:
        text = data.decode("utf-8", "surrogateescape")
        clean = self.redactor.text(text)
        return data if clean == text else clean.encode("utf-8", "surrogateescape")

    def _save(self, cassette: Cassette) -> None:
        try:
            path = self.store.save(cassette)
        except (OSError, ValueError) as exc:  # a full disk; a lone surrogate in the request
            log.warning("sse_mock: cannot write cassette %s: %s", cassette.request.name, exc)
            return
        log.info("sse_mock: recorded %s", path)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


def _read(response: httpx.Response) -> bytes:
    """A non-streamed answer's body, at most ``MAX_RECORDING`` bytes (then a 502)."""
    import httpx

    data = bytearray()
    try:
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) > MAX_RECORDING:
                raise MockError(502, f"The upstream answer is larger than {MAX_RECORDING} bytes "
                                "(sse_mock recording).", kind="server_error")
    except httpx.TimeoutException:
        raise MockError(504, "The upstream did not finish its answer in time (sse_mock "
                        "recording).", kind="timeout") from None
    except httpx.HTTPError as exc:
        raise MockError(502, f"The upstream answer broke off (sse_mock recording): "
                        f"{type(exc).__name__}", kind="server_error") from None
    return bytes(data)
