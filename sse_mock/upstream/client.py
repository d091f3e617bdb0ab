"""The upstream call: one request forwarded to the real provider with httpx, answer streamed back.

The request goes out as the client sent it — its own credentials included — minus what belongs to
the mock or to this hop: the ``X-Mock-*`` controls and their query parameters, the session cookie
and every other cookie, ``Origin``/``Referer``, hop-by-hop headers (PEP 3333, §5.4),
``Host`` and ``Content-Length`` (httpx sets them). The answer is read as it arrives
(``stream=True``); the caller closes it.

httpx is an optional dependency (``pip install 'sse-mock[record]'``), imported only when a
configuration goes upstream.

Deliberate divergences (choices a future reader might wrongly "fix"):

Divergence #1: ``Accept-Encoding: identity`` upstream: a compressed stream arrives in compressed
    blocks that cannot be cut at event boundaries until decompressed, which delays events.
Divergence #2: the body is the decoded JSON re-encoded (compact, UTF-8), not the client's bytes:
    the mock reads and validates the body before it decides where the answer comes from.
"""

from __future__ import annotations

import json
import os
import threading
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from ..config import UPSTREAM_FAMILIES, ConfigError
from ..dialects.base import MockError

if TYPE_CHECKING:
    import httpx

__all__ = ["HOP_BY_HOP", "UpstreamClient", "passed_back"]

#: family → the part of a route's path that the family's base URL already holds (``/v1``).
_STRIP = {family: strip for family, strip, _ in UPSTREAM_FAMILIES.values()}

#: PEP 3333 / RFC 9110 §7.6.1: never forwarded in either direction.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "trailers", "transfer-encoding", "upgrade",
})
_NOT_FORWARDED = HOP_BY_HOP | {
    "host", "content-length", "content-type", "cookie", "origin", "referer", "accept-encoding",
    "forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-real-ip",
}
# Not passed back to the client: this hop's framing, and what the mock sets itself (CORS, its own
# Content-Type, Date and Server from the WSGI server).
_NOT_PASSED_BACK = HOP_BY_HOP | {
    "content-length", "content-encoding", "content-type", "date", "server", "set-cookie", "via",
    "alt-svc",
}


def passed_back(headers: Any) -> list[tuple[str, str]]:
    """An upstream answer's headers as the client gets them when it is passed through as it came
    (an error answer): all but this hop's and the mock's own."""
    return [(k, v) for k, v in headers.multi_items()
            if k.lower() not in _NOT_PASSED_BACK and not k.lower().startswith("access-control-")]


class UpstreamClient:
    """Sends requests to the configured base URLs (``[upstream]``), one httpx pool per process.

    :param bases: route family → base URL as the provider's SDK takes it (OpenAI's ends in
        ``/v1``).
    :param controls: query parameter names that are the mock's own and never go upstream.
    """

    def __init__(
        self, bases: Mapping[str, str], *, timeout: float, connect_timeout: float,
        controls: frozenset[str] = frozenset(),
    ) -> None:
        try:
            import httpx
        except ImportError:
            raise ConfigError("key 'record': going upstream needs httpx; install it with "
                              "pip install 'sse-mock[record]'") from None
        self.bases = {family: url.rstrip("/") for family, url in bases.items() if url}
        self._controls = controls
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout, pool=connect_timeout)
        self._client: httpx.Client | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self._pool()  # now, not at the first request: building its TLS context takes a while

    def serves(self, family: str) -> bool:
        return family in self.bases

    def url(self, family: str, path: str, query_string: str) -> str:
        """The upstream URL: the base URL + the route's path without the part the base already
        holds (``/v1`` for OpenAI) + the query without the mock's controls."""
        strip = _STRIP[family]
        if strip and path.startswith(strip + "/"):
            path = path[len(strip):]
        pairs = [(k, v) for k, v in parse_qsl(query_string, keep_blank_values=True)
                 if k not in self._controls]
        return self.bases[family] + path + (f"?{urlencode(pairs)}" if pairs else "")

    def _pool(self) -> httpx.Client:
        import httpx

        with self._lock:
            # One pool per process: a pool created before a fork (gunicorn --preload) is not
            # shared with the children.
            if self._client is None or self._pid != os.getpid():
                self._client = httpx.Client(
                    timeout=self._timeout, follow_redirects=False,
                    limits=httpx.Limits(max_connections=None, max_keepalive_connections=32))
                self._pid = os.getpid()
                # Its kept-alive connections close with the middleware (or at exit), not when
                # the garbage collector finds their sockets.
                weakref.finalize(self, self._client.close)
            return self._client

    def send(
        self, family: str, method: str, path: str, environ: Mapping[str, Any],
        body: Mapping[str, Any],
    ) -> httpx.Response:
        """Send the request; the answer's body is not read yet (the caller reads and closes it).
        An upstream that cannot be reached is a 502, one that does not answer in time a 504."""
        import httpx

        url = self.url(family, path, environ.get("QUERY_STRING", ""))
        headers = {name: value for name, value in _request_headers(environ)
                   if name not in _NOT_FORWARDED and not name.startswith("x-mock-")}
        headers["content-type"] = "application/json"
        headers["accept-encoding"] = "identity"  # Divergence #1
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(
            "utf-8", "surrogatepass")  # Divergence #2
        client = self._pool()
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))  # no path: it may hold a key
        try:
            request = client.build_request(method, url, headers=headers, content=content)
            return client.send(request, stream=True)
        except httpx.TimeoutException:
            raise MockError(504, f"The upstream {origin} did not answer in time "
                            "(sse_mock recording).", kind="timeout") from None
        except httpx.HTTPError as exc:
            raise MockError(502, f"The upstream {origin} could not be reached (sse_mock "
                            f"recording): {type(exc).__name__}: {exc}", kind="server_error"
                            ) from None

    def close(self) -> None:
        with self._lock:
            if self._client is not None and self._pid == os.getpid():
                self._client.close()
            self._client = None


def _request_headers(environ: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The request's headers from the WSGI environ (``HTTP_X_API_KEY`` → ``x-api-key``)."""
    out = [(key[5:].replace("_", "-").lower(), str(value)) for key, value in environ.items()
           if key.startswith("HTTP_")]
    return out


def request_headers(environ: Mapping[str, Any]) -> dict[str, str]:
    return dict(_request_headers(environ))
