"""What ``sse-mock cassettes list | show | prune`` print and do, as functions of a folder.

Text in, text out: the command line (``sse_mock/cli.py``) only parses arguments and prints.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from .cassette import CassetteError
from .store import CassetteStore, read_unused

__all__ = ["list_cassettes", "parse_duration", "prune", "show_cassette"]

_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``30m``, ``2h``, ``7d`` → seconds; ``ValueError`` otherwise."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if m is None:
        raise ValueError(f"expected a duration like 90s, 30m, 2h or 7d, got {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit} ago"
    return f"{seconds:.0f}s ago"


def list_cassettes(folder: str | Path) -> str:
    """One line per cassette: name, status, events (or body), duration, last used."""
    store = CassetteStore(folder)
    rows = []
    now = time.time()
    for path, cassette in store.cassettes():
        if isinstance(cassette, CassetteError):
            why = str(cassette).split(": ", 1)[-1]
            rows.append((path.name, "!", why[:50] + ("…" if len(why) > 50 else ""), "", ""))
            continue
        what = f"{len(cassette.events)} events" if cassette.streamed else "body"
        used = _age(now - path.stat().st_atime)
        rows.append((path.name, str(cassette.status), what, f"{cassette.duration:.2f}s", used))
    if not rows:
        return f"no cassettes in {store.folder}"
    header = ("CASSETTE", "STATUS", "ANSWER", "DURATION", "LAST USED")
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in (header, *rows)]
    return "\n".join(lines) + f"\n{len(rows)} cassette(s) in {store.folder}"


def show_cassette(path: str | Path) -> str:
    """A cassette as a reviewer reads it: the request, the answer, each event at its time."""
    p = Path(path)
    cassette = read_unused(p)
    req = cassette.request
    lines = [f"{p.name}",
             f"  request   {req.method} {req.path}"
             + ("?" + "&".join(f"{k}={v}" for k, v in req.query) if req.query else ""),
             f"  route     {req.route} (upstream family {req.family}), model {req.model or '-'}",
             f"  match     {', '.join(req.fields)}  (fingerprint {req.fingerprint[:16]}…)"]
    messages = req.body.get("messages") if isinstance(req.body, dict) else None
    if isinstance(messages, list) and messages and isinstance(messages[-1], dict):
        last = messages[-1].get("content")
        lines.append(f"  last msg  {str(last)[:200]!r}")
    lines.append(f"  response  {cassette.status} {cassette.content_type}")
    lines += [f"  header    {k}: {v}" for k, v in cassette.headers]
    if cassette.body is not None:
        lines.append(f"  body at   {cassette.body_at:.3f}s")
        lines.append("  " + cassette.body.decode("utf-8", "replace"))
        return "\n".join(lines)
    lines.append(f"  events    {len(cassette.events)} over {cassette.duration:.3f}s")
    for at, event in cassette.events:
        text = event.decode("utf-8", "replace").replace("\r", "\\r").replace("\n", "\\n")
        lines.append(f"  {at:8.3f}s  {text}")
    return "\n".join(lines)


def prune(folder: str | Path, unused_for: float, dry_run: bool = False) -> list[Path]:
    """Remove the cassettes neither recorded nor replayed in the last `unused_for` seconds
    (their access time, which every replay sets); returns them."""
    cutoff = time.time() - unused_for
    old = [p for p in CassetteStore(folder).paths() if p.stat().st_atime < cutoff]
    if not dry_run:
        for path in old:
            path.unlink(missing_ok=True)
    return old
