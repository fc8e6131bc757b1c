"""Content-addressed result cache: an in-memory LRU in front of a persistent LMDB store.

Keys are 16-byte BLAKE2b digests of (backend name, backend version, backend options, canonical call),
so a new backend version or a changed option never reads a stale answer.  Values are the JSON bytes
of a successful tool result's value (only ``ok`` results are cached: a timeout is not an answer).

LMDB is copy-on-write and commits atomically, so killing a process at any moment leaves the store
consistent, and several processes (runs) can share one store.  Writes go to the store on a writer
thread, in order (a commit waits for the disk: 4-20 ms here, which on the caller's thread held the
scorer's event loop up once per batch); until a write is committed its items are served from memory,
and ``flush``/``close`` wait for every write (a process that exits without ``close`` still finishes
them: the writer is joined at interpreter exit).  The store is bounded by
``max_size_mb``: when it is full, a quarter of the entries are evicted (in key order, i.e. at random
since keys are hashes) and the write is retried.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

KEY_BYTES = 16
#: writes waiting for the writer thread before ``put_many`` waits for the oldest
MAX_QUEUED_WRITES = 16

log = logging.getLogger(__name__)


class CacheError(OSError):
    """The cache cannot be opened where and how the config says (path, permissions, size)."""


def make_salt(backend: str, version: str, options_json: bytes) -> bytes:
    """The per-backend prefix hashed into every key of that backend."""
    return hashlib.blake2b(b"\x00".join([backend.encode(), version.encode(), options_json]), digest_size=16).digest()


def make_key(salt: bytes, call_key: bytes) -> bytes:
    return hashlib.blake2b(salt + call_key, digest_size=KEY_BYTES).digest()


@dataclass
class CacheStats:
    hits: int = 0
    memory_hits: int = 0
    disk_hits: int = 0
    misses: int = 0
    writes: int = 0
    evictions: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class Cache:
    """LRU (``memory_items`` entries) over an optional LMDB directory at ``path``."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, max_size_mb: int = 1024, memory_items: int = 100_000) -> None:
        self.memory_items = memory_items
        self._lru: OrderedDict[bytes, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.stats = CacheStats()
        self.path = Path(path) if path else None
        self._env = None
        #: items handed to the writer thread and not committed yet (served by reads meanwhile)
        self._unwritten: dict[bytes, bytes] = {}
        self._writes: list[Future[None]] = []  # the writer's queue, oldest first
        self._writer: ThreadPoolExecutor | None = None
        if self.path is not None:
            self._env = self._open(self.path, max_size_mb)

    @staticmethod
    def _open(path: Path, max_size_mb: int):  # noqa: ANN205 - lmdb.Environment
        import lmdb

        where = f"cache.path {str(path)!r}"
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(f"{where}: cannot create the cache directory: {exc.strerror or exc} "
                             "(set cache.path elsewhere, or cache.path = \"\" for memory only)") from None
        if not os.access(path, os.W_OK | os.X_OK):
            raise CacheError(f"{where}: the directory is not writable "
                             "(set cache.path elsewhere, or cache.path = \"\" for memory only)")
        try:
            return lmdb.open(
                str(path),
                map_size=max_size_mb * 1024 * 1024,
                subdir=True,
                metasync=False,  # a system crash may undo the last commit; the store stays consistent
                readahead=False,
                max_readers=256,
            )
        except (lmdb.Error, OverflowError, OSError) as exc:
            if isinstance(exc, lmdb.MemoryError | OverflowError) or "Cannot allocate" in str(exc) or "too large" in str(exc):
                raise CacheError(f"cache.max_size_mb = {max_size_mb}: cannot map a store that large here ({exc})") from None
            raise CacheError(f"{where}: cannot open the LMDB store: {exc}") from None

    # -- reads ----------------------------------------------------------------------------
    def get_many(self, keys: Sequence[bytes]) -> list[bytes | None]:
        out: list[bytes | None] = [None] * len(keys)
        missing: list[int] = []
        with self._lock:
            unwritten = self._unwritten
            for i, key in enumerate(keys):
                value = self._lru.get(key)
                if value is not None:
                    self._lru.move_to_end(key)
                    out[i] = value
                    self.stats.memory_hits += 1
                elif unwritten and (value := unwritten.get(key)) is not None:
                    out[i] = value
                    self.stats.memory_hits += 1
                else:
                    missing.append(i)
        if missing and self._env is not None:
            found: list[tuple[bytes, bytes]] = []
            with self._env.begin(buffers=False) as txn:
                for i in missing:
                    value = txn.get(keys[i])
                    if value is not None:
                        out[i] = value
                        found.append((keys[i], value))
            self.stats.disk_hits += len(found)
            self._remember(found)
        hits = sum(v is not None for v in out)
        self.stats.hits += hits
        self.stats.misses += len(keys) - hits
        return out

    def get(self, key: bytes) -> bytes | None:
        return self.get_many([key])[0]

    # -- writes ---------------------------------------------------------------------------
    def _remember(self, items: Iterable[tuple[bytes, bytes]]) -> None:
        if self.memory_items <= 0:
            return
        with self._lock:
            for key, value in items:
                self._lru[key] = value
                self._lru.move_to_end(key)
            while len(self._lru) > self.memory_items:
                self._lru.popitem(last=False)

    def put_many(self, items: Sequence[tuple[bytes, bytes]]) -> None:
        """Store ``items``: in memory now, in the store once the writer thread has committed them
        (in order; reads see them meanwhile).  At most ``MAX_QUEUED_WRITES`` writes wait: a caller
        faster than the disk then waits for the oldest."""
        if not items:
            return
        items = list(items)
        self._remember(items)
        self.stats.writes += len(items)
        if self._env is None:
            return
        with self._lock:
            self._unwritten.update(items)
            if self._writer is None:
                self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chil-cache-writer")
            self._writes = [w for w in self._writes if not w.done()]
            oldest = self._writes[0] if len(self._writes) >= MAX_QUEUED_WRITES else None
            self._writes.append(self._writer.submit(self._write, items))
        if oldest is not None:
            wait([oldest])

    def _write(self, items: list[tuple[bytes, bytes]]) -> None:
        """The writer thread: one transaction for ``items``; a full store evicts and retries."""
        import lmdb

        try:
            env = self._env
            if env is None:  # closed meanwhile (close() waits for the writer: only after a failure)
                return
            for _attempt in range(3):
                try:
                    with env.begin(write=True) as txn:
                        for key, value in items:
                            txn.put(key, value)
                    return
                except lmdb.MapFullError:
                    self._evict(0.25)
            # still full (a single batch larger than the whole store): kept in memory only
        except Exception:  # noqa: BLE001 - a cache that cannot write must not fail anyone: logged
            log.warning("cache: a write of %d item(s) to %s failed; they stay in memory only", len(items), self.path, exc_info=True)
        finally:
            with self._lock:
                for key, value in items:
                    if self._unwritten.get(key) is value:
                        del self._unwritten[key]

    def flush(self) -> None:
        """Wait until every write handed to the writer thread is committed."""
        with self._lock:
            writes, self._writes = self._writes, []
        if writes:
            wait(writes)

    def put(self, key: bytes, value: bytes) -> None:
        self.put_many([(key, value)])

    def _evict(self, fraction: float) -> None:
        assert self._env is not None
        n = max(1, int(self._env.stat()["entries"] * fraction))
        with self._env.begin(write=True) as txn:
            cursor = txn.cursor()
            removed = 0
            if cursor.first():
                while removed < n and cursor.delete():
                    removed += 1
        self.stats.evictions += removed

    def __len__(self) -> int:
        self.flush()
        if self._env is not None:
            return int(self._env.stat()["entries"])
        return len(self._lru)

    def clear(self) -> None:
        self.flush()
        with self._lock:
            self._lru.clear()
        if self._env is not None:
            with self._env.begin(write=True) as txn:
                txn.drop(self._env.open_db(), delete=False)

    def close(self) -> None:
        self.flush()
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None
        if self._env is not None:
            self._env.close()
            self._env = None
