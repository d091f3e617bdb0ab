"""Cross-origin policy for every intercepted answer (PROTOCOLS.md §6, policy §6.5).

* A well-formed ``Origin`` that the configuration allows is reflected, with ``Vary: Origin``;
  ``"*"`` in the configuration means "any origin" and is implemented by reflection, so the same
  default works with and without credentials (§6.3). ``Origin: null`` only by opt-in (§6.3).
* Without an ``Origin`` nothing is sent: non-browser clients ignore CORS (§6.5).
* Preflights are answered 204 before any routing, auth or fault logic (§6.2), reflecting
  ``Access-Control-Request-Headers`` — a fixed list would miss ``Authorization`` (``*`` never
  covers it) and the SDKs' ``x-stainless-*`` headers (§6.1).
* Response headers that page code needs (request ids, rate limits, retry hints) are exposed
  (§6.4).
* A well-formed origin that the configuration refuses is logged once, at WARNING, with the key
  that would allow it (``cors.origins``, or ``cors.allow_null_origin`` for ``null``): the
  browser only says "blocked by CORS policy", on the page's side. At most
  :data:`MAX_WARNED_ORIGINS` distinct origins are remembered (a page may send any).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from typing import Any

from .config import CORSConfig
from .controls import CONTROLS

__all__ = ["EXPOSE_HEADERS", "CORSPolicy"]

# §6.4: what the browser SDKs and page code read.
EXPOSE_HEADERS = ", ".join(
    (
        "x-request-id", "openai-processing-ms", "openai-version", "openai-organization",
        "x-ratelimit-limit-requests", "x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-requests", "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens",
        "retry-after", "retry-after-ms", "x-should-retry", "request-id",
        "anthropic-ratelimit-requests-limit", "anthropic-ratelimit-requests-remaining",
        "anthropic-ratelimit-requests-reset", "anthropic-ratelimit-tokens-limit",
        "anthropic-ratelimit-tokens-remaining", "anthropic-ratelimit-tokens-reset",
    )
)

# §6.5: what a configured allow-list must hold when the request names nothing.
DEFAULT_ALLOW_HEADERS = ", ".join(
    (
        "authorization", "content-type", "x-api-key", "anthropic-version", "anthropic-beta",
        "anthropic-dangerous-direct-browser-access", "openai-organization", "openai-project",
        "last-event-id", "x-mock-session", *(header.lower() for header, _ in CONTROLS.values()),
    )
)

log = logging.getLogger("sse_mock")

#: How many refused origins are logged (each once); then one last line says it stops.
MAX_WARNED_ORIGINS = 64

ALLOW_METHODS = "GET, POST, DELETE, OPTIONS"  # DELETE: the control endpoints (guard.py)

# scheme://host[:port], nothing else: a reflected value must not carry CR/LF or a path (§5.4).
# (fullmatch, never `$`: `$` also matches before a trailing newline)
_ORIGIN_RE = re.compile(r"[a-z][a-z0-9+.-]*://[a-z0-9.\-\[\]:_~%]+", re.IGNORECASE)
# RFC 9110 token list, as sent in Access-Control-Request-Headers.
_TOKEN_LIST_RE = re.compile(r"[!#$%&'*+.^_`|~0-9a-z-]+(?:[ \t]*,[ \t]*[!#$%&'*+.^_`|~0-9a-z-]+)*",
                            re.IGNORECASE)


class CORSPolicy:
    """Computes CORS headers; everything that does not depend on the request is fixed here."""

    def __init__(self, config: CORSConfig | None = None, *,
                 warn_key: str | None = "cors.origins") -> None:
        # warn_key: the key named when a refused origin is logged; None: refusals are silent
        # (the control guard, which answers them with its own 403).
        cfg = config or CORSConfig()
        self.warn_key = warn_key
        self.any_origin = "*" in cfg.origins
        self.origins = frozenset(o for o in cfg.origins if o != "*")
        self.allow_null = cfg.allow_null_origin
        self.credentials = cfg.credentials
        self.private_network = cfg.private_network
        self._max_age = str(cfg.max_age)
        self._warned: set[str] = set()
        self._warn_lock = threading.Lock()

    def allowed_origin(self, origin: str | None) -> str | None:
        """The value for Access-Control-Allow-Origin, or None when the origin is not allowed."""
        if not origin or len(origin) > 2048:
            return None
        if origin == "null":
            return "null" if self.allow_null else None
        if not _ORIGIN_RE.fullmatch(origin):
            return None
        if self.any_origin or origin.lower() in self.origins:
            return origin
        return None

    def _origin_headers(self, environ: Mapping[str, Any]) -> list[tuple[str, str]]:
        origin = environ.get("HTTP_ORIGIN")
        allowed = self.allowed_origin(origin)
        if allowed is None:
            if (origin and self.warn_key is not None
                    and (origin == "null" or _ORIGIN_RE.fullmatch(origin))
                    and origin.partition("://")[2].lower() != str(
                        environ.get("HTTP_HOST", "")).lower()):  # same-origin needs no CORS
                self._warn_refused(origin)
            return []
        headers = [("Access-Control-Allow-Origin", allowed)]
        if self.credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        return headers

    def _warn_refused(self, origin: str) -> None:
        with self._warn_lock:
            if origin in self._warned or len(self._warned) > MAX_WARNED_ORIGINS:
                return
            self._warned.add(origin)
            last = len(self._warned) > MAX_WARNED_ORIGINS
        if origin == "null":
            log.warning("sse_mock: refused CORS for Origin: null (a file:// page or a sandboxed "
                        "frame); cors.allow_null_origin = true would allow it")
        else:
            log.warning("sse_mock: refused CORS for origin %s: it is not in %s; add it there "
                        "to let that page read the mock's answers", origin, self.warn_key)
        if last:
            log.warning("sse_mock: more than %d refused origins; no more are logged",
                        MAX_WARNED_ORIGINS)

    def response_headers(self, environ: Mapping[str, Any]) -> list[tuple[str, str]]:
        """For every non-preflight answer: the stream, JSON bodies and errors (§6.3, §6.4)."""
        if "HTTP_ORIGIN" not in environ:
            return []
        headers = self._origin_headers(environ)
        if headers:
            headers.append(("Access-Control-Expose-Headers", EXPOSE_HEADERS))
        headers.append(("Vary", "Origin"))
        return headers

    def preflight_headers(self, environ: Mapping[str, Any]) -> list[tuple[str, str]]:
        """For ``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method`` (§6.2)."""
        headers = self._origin_headers(environ)
        if headers:
            requested = environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "")
            if requested and _TOKEN_LIST_RE.fullmatch(requested):
                allow_headers = requested
            else:
                allow_headers = DEFAULT_ALLOW_HEADERS
            headers += [
                ("Access-Control-Allow-Methods", ALLOW_METHODS),
                ("Access-Control-Allow-Headers", allow_headers),
                ("Access-Control-Max-Age", self._max_age),
            ]
            if self.private_network and (
                environ.get("HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK") == "true"
            ):
                headers.append(("Access-Control-Allow-Private-Network", "true"))
        headers.append(
            ("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
        )
        return headers
