"""The cassette folder: find a request's cassette, write new ones, say which one was nearest.

Cassettes are plain files, so every worker of every server sees the same ones: a lookup opens
the file named after the request's fingerprint; parsed cassettes are cached per process and
checked against the file's modification time and size on every lookup (one ``stat``), so a
cassette re-recorded by another worker is seen at once. Writes go to a temporary file in the same
folder and are renamed into place: a reader never sees half a cassette.

A replay sets the file's access time (its modification time is kept): ``sse-mock cassettes prune
--unused-for`` removes the cassettes no test has used lately.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

from .cassette import Cassette, CassetteError, Request, differences

__all__ = ["CassetteStore", "read_unused"]

log = logging.getLogger("sse_mock")

#: Parsed cassettes kept per process, in bytes of their files.
CACHE_BYTES = 64 * 1024 * 1024
#: Most cassettes a strict-mode miss compares (the work one bad request can cause is bounded).
MAX_COMPARED = 1000
#: How often a replay refreshes the access time of the same cassette (seconds).
TOUCH_EVERY = 60.0


class CassetteStore:
    """A folder of cassettes (created at the first recording)."""

    def __init__(self, folder: str | os.PathLike[str], cache_bytes: int = CACHE_BYTES) -> None:
        self.folder = Path(folder)
        self._cache: OrderedDict[str, tuple[tuple[int, int], Cassette, float]] = OrderedDict()
        self._cache_bytes = cache_bytes
        self._cached = 0
        self._lock = threading.Lock()

    def find(self, request: Request) -> Cassette | None:
        """The cassette recorded for `request`, or None. A damaged file raises
        :class:`CassetteError` naming it."""
        path = self.folder / request.name
        try:
            st = path.stat()
        except OSError:
            return None
        stamp = (st.st_mtime_ns, st.st_size)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(request.name)
            if hit is not None and hit[0] == stamp:
                self._cache.move_to_end(request.name)
                cassette, touched = hit[1], hit[2]
                if now - touched >= TOUCH_EVERY:
                    self._cache[request.name] = (stamp, cassette, now)
                    _touch(path, st.st_mtime_ns)
                return cassette if cassette.request.fingerprint == request.fingerprint else None
        try:
            cassette = Cassette.loads(path.read_text("utf-8", "surrogateescape"), str(path))
        except FileNotFoundError:
            return None  # removed between stat and read
        except OSError as exc:
            raise CassetteError(f"{path}: cannot read: {exc.strerror}") from None
        _touch(path, st.st_mtime_ns)
        with self._lock:
            old = self._cache.pop(request.name, None)
            if old is not None:
                self._cached -= old[0][1]
            if st.st_size <= self._cache_bytes:
                self._cache[request.name] = (stamp, cassette, now)
                self._cached += st.st_size
                while self._cached > self._cache_bytes:
                    _, (old_stamp, _, _) = self._cache.popitem(last=False)
                    self._cached -= old_stamp[1]
        return cassette if cassette.request.fingerprint == request.fingerprint else None

    def save(self, cassette: Cassette) -> Path:
        """Write `cassette` atomically (temporary file + rename); returns its path."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / cassette.request.name
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            tmp.write_text(cassette.dumps(), "utf-8", "surrogateescape")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    def paths(self, pattern: str = "*.json") -> list[Path]:
        """The cassette files in the folder (those matching `pattern`), by name."""
        try:
            return sorted(p for p in self.folder.glob(pattern) if p.is_file())
        except OSError:
            return []

    def cassettes(self) -> Iterator[tuple[Path, Cassette | CassetteError]]:
        """Every cassette of the folder, read without marking it used."""
        for path in self.paths():
            try:
                yield path, read_unused(path)
            except CassetteError as exc:
                yield path, exc
            except OSError as exc:
                yield path, CassetteError(f"{path}: cannot read: {exc.strerror}")

    def nearest(self, request: Request) -> str:
        """Why no cassette answers `request`, for strict mode's error: the nearest cassette of
        the same route and the first place where it differs."""
        best: tuple[int, str, list[str]] | None = None
        for path in self.paths(f"{request.route}--*.json")[:MAX_COMPARED]:
            try:
                cassette = read_unused(path)
            except (CassetteError, OSError):
                continue
            if cassette.request.route != request.route:
                continue
            other = cassette.request
            diff = differences(other.selected(), request.selected())
            if other.stream != request.stream:
                diff.insert(0, "stream")
            if other.path != request.path:
                diff.insert(0, "the path")
            if other.query != request.query:
                diff.insert(0, "the query")
            if best is None or len(diff) < best[0]:
                best = (len(diff), path.name, diff)
        if best is None:
            return f"no cassette for {request.route} in {self.folder}"
        _, name, diff = best
        if not diff:
            return f"the nearest cassette, {name}, was recorded with other match fields"
        more = f" (and {len(diff) - 1} more)" if len(diff) > 1 else ""
        return f"the nearest cassette, {name}, differs in {diff[0]}{more}"


def read_unused(path: Path) -> Cassette:
    """Read a cassette for a listing or a diff: its access time — "last used", which only
    replays set — is put back (a read may move it, e.g. under the ``relatime`` mount option)."""
    st = path.stat()
    try:
        return Cassette.loads(path.read_text("utf-8", "surrogateescape"), str(path))
    finally:
        try:
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        except OSError:
            pass


def _touch(path: Path, mtime_ns: int) -> None:
    try:
        os.utime(path, ns=(time.time_ns(), mtime_ns))
    except OSError:
        pass  # a read-only folder (CI): replays still work, prune just knows less
