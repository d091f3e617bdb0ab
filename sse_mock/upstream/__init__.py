"""Record real provider answers once, replay them with their timing (DESIGN.md "Record and
replay"; docs: record_replay).

The modules, in the order a request meets them:

* :mod:`.recorder` — :class:`Upstream`, what the routes call: find a cassette, replay it, or go
  upstream and record.
* :mod:`.client` — the upstream HTTP call (httpx, an optional extra: ``sse-mock[record]``).
* :mod:`.events` — cuts an upstream stream into whole events, byte for byte (PROTOCOLS.md §1).
* :mod:`.cassette` — the file format, redaction of credentials, the request fingerprint and
  the diff strict mode reports.
* :mod:`.store` — the cassette folder: lookup with a per-process cache, atomic writes.
* :mod:`.replay` — recorded events as frames, sent at their recorded times.
"""

from __future__ import annotations

from .cassette import Cassette, CassetteError, Redactor, Request
from .recorder import Exchange, Upstream
from .replay import timed
from .store import CassetteStore

__all__ = ["Cassette", "CassetteError", "CassetteStore", "Exchange", "Redactor", "Request",
           "Upstream", "timed"]
