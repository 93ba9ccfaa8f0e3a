"""A content-addressed cache of small registry objects: manifests by digest and configs.

What a digest names never changes, so a cached copy cannot be stale, and each copy is hashed
again when read: a damaged or altered file is a miss (and is removed), never a wrong answer.
Tags are never cached: what a tag points at is always asked of the registry. The cache tells
what a digest contains, not whether a repository still holds it.

Used by ``regkit overview`` (repeated runs read only the tags' manifests). Files live under
``$REGKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/regkit/content``, else
``~/.cache/regkit/content``, in a 0700 directory, one 0600 file per digest (first line the
media type, then the bytes). ``REGKIT_CACHE=off`` turns it off. Writes are atomic (temporary
file, rename), so concurrent runs share it safely. Best effort: an unwritable directory only
means no cache. The newest ``MAX_ENTRIES`` objects are kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import threading
from pathlib import Path

MAX_ENTRY = 1024 * 1024  # larger objects are not cached (configs and manifests are KiB)
MAX_ENTRIES = 20_000
TRIM_TO = 15_000
_DIGEST = re.compile(r"sha256:([0-9a-f]{64})")
_OFF = ("0", "off", "false", "no")


def default_cache_dir() -> Path:
    explicit = os.environ.get("REGKIT_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "regkit" / "content"


class ContentCache:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.hits = 0
        self.writes = 0
        self._lock = threading.Lock()
        self._serial = 0
        self._dirs: set[Path] = set()
        self._pending: list[tuple[str, str, bytes]] = []

    @classmethod
    def from_environment(cls) -> ContentCache | None:
        """The user's cache, or None when ``REGKIT_CACHE`` turns it off."""
        if os.environ.get("REGKIT_CACHE", "").strip().lower() in _OFF:
            return None
        return cls(default_cache_dir())

    def _path(self, digest: str) -> Path | None:
        match = _DIGEST.fullmatch(digest)
        if match is None:
            return None
        hexpart = match.group(1)
        return self.root / "sha256" / hexpart[:2] / hexpart

    def get(self, digest: str) -> tuple[str, bytes] | None:
        """``(media type, bytes)`` of ``digest``, or None (absent, unreadable, or damaged)."""
        path = self._path(digest)
        if path is None:
            return None
        data = _read_entry(path)
        if data is None:
            return None
        head, sep, raw = data.partition(b"\n")
        if not sep or "sha256:" + hashlib.sha256(raw).hexdigest() != digest:
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        with self._lock:
            self.hits += 1
        return head.decode("ascii", "replace"), raw

    def put(self, digest: str, media_type: str, raw: bytes) -> None:
        """Keep ``raw`` under ``digest`` at the next ``flush``: writing files from many worker
        threads mid-operation costs more than writing them all at the end."""
        if len(raw) <= MAX_ENTRY:
            with self._lock:
                self._pending.append((digest, media_type, raw))

    def flush(self) -> None:
        """Write what ``put`` kept (what hashes to its digest and is small); errors are
        ignored."""
        with self._lock:
            pending, self._pending = self._pending, []
        for digest, media_type, raw in pending:
            self._write(digest, media_type, raw)

    def _write(self, digest: str, media_type: str, raw: bytes) -> None:
        path = self._path(digest)
        if (
            path is None
            or len(raw) > MAX_ENTRY
            or "\n" in media_type
            or not media_type.isascii()
            or "sha256:" + hashlib.sha256(raw).hexdigest() != digest
        ):
            return
        try:
            self._ensure_dir(path.parent)
            with self._lock:
                self._serial += 1
                tmp = path.parent / f".tmp-{os.getpid()}-{self._serial}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(media_type.encode("ascii") + b"\n" + raw)
                os.replace(tmp, path)  # atomic; a concurrent writer wrote the same bytes
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError:
            return
        with self._lock:
            self.writes += 1

    def _ensure_dir(self, directory: Path) -> None:
        if directory in self._dirs:
            return
        if not self._dirs:  # the first write of this process: the cache root, owner only
            (self.root / "sha256").mkdir(parents=True, exist_ok=True)
            os.chmod(self.root, 0o700)
            os.chmod(self.root / "sha256", 0o700)
        directory.mkdir(mode=0o700, exist_ok=True)
        with self._lock:
            self._dirs.add(directory)

    def trim(self, keep: int = TRIM_TO, limit: int = MAX_ENTRIES) -> int:
        """Above ``limit`` objects, remove the least recently written down to ``keep``."""
        try:
            files = [p for p in (self.root / "sha256").glob("*/*") if not p.name.startswith(".")]
        except OSError:
            return 0
        if len(files) <= limit:
            return 0
        stamped: list[tuple[float, Path]] = []
        for p in files:
            with contextlib.suppress(OSError):
                stamped.append((p.stat().st_mtime, p))
        stamped.sort()
        removed = 0
        for _mtime, p in stamped[: max(0, len(stamped) - keep)]:
            with contextlib.suppress(OSError):
                p.unlink()
                removed += 1
        return removed


__all__ = ["ContentCache", "default_cache_dir"]


#: The most ``get`` reads of one file: an entry's bytes and its media type line.
_READ_AT_MOST = MAX_ENTRY + 256


def _read_entry(path: Path) -> bytes | None:
    """The bytes of the regular file at ``path``, or None: absent, unreadable, not a regular
    file (a FIFO, a device, a link: never opened to wait or read without end), or larger than
    any entry ``put`` writes (what is read stops there)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            data = b""
        else:
            with os.fdopen(fd, "rb", closefd=False) as f:
                data = f.read(_READ_AT_MOST + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data if 0 < len(data) <= _READ_AT_MOST else b""
