"""How the Redis backend opens its TCP connections: resolving the host without gevent's thread
pool.

Divergence #1: under gevent's monkey-patching (gunicorn's gevent worker, ``sse-mock serve``),
    ``socket.getaddrinfo`` runs on the hub's thread pool, even for a literal IP address, and the
    native thread it starts stays alive, idle, for the life of the process. A gevent worker with
    such a thread started streams a few milliseconds later under load (2,000 paced streams: a
    p99 lateness of 6.3 ms with Redis state against 3.4 ms with memory state), and one
    ``getaddrinfo`` reproduced it with no Redis at all (bench/results/notes.md). So a
    connection resolves its host with the original, blocking ``getaddrinfo``: instant for an IP
    address, ``localhost`` or a name in ``/etc/hosts``; a name that needs a DNS query holds the
    event loop for that query, once per connection the process opens (at most the pool's size,
    and again after Redis was lost). The host is resolved again for every new connection, so a
    Redis that moves is found again.
Divergence #2: only plain ``redis://`` connections: ``rediss://`` (TLS) and ``unix://`` keep
    redis-py's own classes.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from typing import Any

import redis

__all__ = ["connection_kwargs"]


def _blocking_getaddrinfo() -> Callable[..., list[Any]]:
    """The stdlib's ``getaddrinfo``, even when gevent has patched the ``socket`` module."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("socket"):
        original: Callable[..., list[Any]] = monkey.get_original("socket", "getaddrinfo")
        return original
    return socket.getaddrinfo


class ResolvingConnection(redis.Connection):
    """redis-py's TCP connection, with the host resolved by :func:`_blocking_getaddrinfo`
    (Divergence #1); the socket options are the ones redis-py documents for its own."""

    def _connect(self) -> socket.socket:
        last: OSError | None = None
        addresses = _blocking_getaddrinfo()(self.host, self.port, self.socket_type,
                                            socket.SOCK_STREAM)
        for family, kind, proto, _name, address in addresses:
            sock = socket.socket(family, kind, proto)  # gevent's socket once patched
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if self.socket_keepalive:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                    for option, value in self.socket_keepalive_options.items():
                        sock.setsockopt(socket.IPPROTO_TCP, option, value)
                sock.settimeout(self.socket_connect_timeout)
                sock.connect(address)
                sock.settimeout(self.socket_timeout)
                return sock
            except OSError as exc:
                last = exc
                sock.close()
        raise last if last is not None else OSError(f"no address for {self.host}:{self.port}")


def connection_kwargs(url: str) -> dict[str, Any]:
    """Extra keyword arguments for ``ConnectionPool.from_url(url, …)`` (Divergence #2)."""
    if url.lower().startswith("redis://"):
        return {"connection_class": ResolvingConnection}
    return {}
