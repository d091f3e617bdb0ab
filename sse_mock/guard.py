"""The one guard every control endpoint goes through (``/_journal`` and the routes marked
``control=True``): control endpoints are for tests and the developer, never for pages.

A control answer shows what the developer's application sent (prompts, bodies) and, for the
endpoints that act (``_reset``, ``_next``), changes what the mock does. A page on another site
must neither read it nor trigger it (docs: Security). So, before routing:

* **Origin** (PROTOCOLS.md §6): a request that carries a foreign ``Origin`` is refused with a
  403 — whatever ``cors.origins`` says — unless that exact origin is listed in
  ``control_origins``. Same-origin requests (the ``Origin`` names the ``Host`` itself) and
  requests without ``Origin`` (curl, SDKs, tests) pass. ``Sec-Fetch-Site: cross-site`` or
  ``same-site`` without an allowed origin is refused too (a cross-site ``GET`` carries no
  ``Origin``).
* **Host** (DNS rebinding): a page at ``http://evil.example:8000`` whose name the attacker points
  at 127.0.0.1 is same-origin with the mock as far as the browser knows, but its requests say
  ``Host: evil.example:8000``. Only loopback names and addresses (``localhost``, ``*.localhost``,
  127.0.0.0/8, ``::1``), the machine's own name, the in-process test clients' names (Django's
  ``testserver``, :mod:`sse_mock.testing`'s ``sse-mock.test``) and
  the configured ``allowed_hosts`` are answered.
* CORS headers on a control answer come only from ``control_origins`` (empty by default): the
  streams' policy (any origin may read a stream, the seed's design) never applies here.

Divergence #1: a request without ``Host`` (HTTP/1.0, in-process calls) passes the host check:
    browsers always send ``Host``, so such a request cannot come from a page.
Divergence #2: the refusal is a 403 in the plain (OpenAI-like) error shape, not a bare 403: a
    developer who hits it from a new host sees which key to set.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from .config import Config
from .cors import CORSPolicy
from .dialects.base import MockError

__all__ = ["ControlGuard"]

#: Names that always mean this machine (RFC 6761 §6.3: *.localhost is loopback), and the names
#: of in-process test clients: Django's ``testserver`` and ``sse-mock.test`` (sse_mock.testing's
#: transport). ``.test`` is reserved (RFC 6761 §6.2): no public DNS answers it, so a rebinding
#: page cannot be served under it.
LOOPBACK_NAMES = frozenset({"localhost", "testserver", "sse-mock.test"})


def split_host(value: str) -> str:
    """The host part of a ``Host`` header or an origin's netloc, lower case, no port."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ControlGuard:
    """Decides whether a control endpoint answers a request, and with which CORS headers."""

    def __init__(self, config: Config) -> None:
        hosts = set(config.allowed_hosts)
        self.any_host = "*" in hosts
        self.domains = tuple(h for h in hosts if h.startswith("."))
        own = socket.gethostname().lower().rstrip(".")
        self.hosts = frozenset(h for h in hosts if not h.startswith(".")) | {own}
        self.control_origins = frozenset(config.control_origins)
        # The CORS policy of control answers: only the listed origins, never "*".
        self.cors = CORSPolicy(replace(config.cors, origins=tuple(config.control_origins),
                                       allow_null_origin=False), warn_key=None)

    def host_allowed(self, host: str) -> bool:
        host = split_host(host)
        if self.any_host or is_loopback(host) or host in self.hosts:
            return True
        return any(host.endswith(d) or host == d[1:] for d in self.domains)

    def refusal(self, environ: Mapping[str, Any]) -> MockError | None:
        """None when the request may be answered; otherwise the 403 to answer."""
        host = environ.get("HTTP_HOST")
        if host is not None and not self.host_allowed(str(host)):
            return MockError(
                403, f"sse_mock: control endpoints answer only loopback hosts; Host "
                f"{str(host)[:100]!r} is not allowed (add it to allowed_hosts).",
                kind="permission", param="host", code="host_not_allowed")
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None:
            if str(origin).lower() in self.control_origins:
                return None
            if host is not None and _same_origin(str(origin), str(host)):
                return None
            return MockError(
                403, f"sse_mock: control endpoints are not for pages on other origins; Origin "
                f"{str(origin)[:100]!r} is not in control_origins.",
                kind="permission", param="origin", code="origin_not_allowed")
        if environ.get("HTTP_SEC_FETCH_SITE") in ("cross-site", "same-site"):
            return MockError(
                403, "sse_mock: control endpoints are not for pages on other sites "
                "(Sec-Fetch-Site).", kind="permission", param="origin",
                code="origin_not_allowed")
        return None


def _same_origin(origin: str, host: str) -> bool:
    """True when `origin`'s host and port are the request's ``Host`` (a page of this server)."""
    try:
        parts = urlsplit(origin)
        netloc = parts.netloc.lower()
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not netloc:
        return False
    default = ":443" if parts.scheme == "https" else ":80"
    host = host.strip().lower()
    return netloc == host or netloc + default == host or netloc == host.removesuffix(default)
