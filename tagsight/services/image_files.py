"""Image bytes in the blob store, kept in step with the image rows.

Originals are stored once per content hash and shared by every project holding the same file.
A blob is written before the rows that reference it commit and removed once no row references
it; ``lock`` serialises those two steps so a delete never removes a blob that an upload in flight
is about to reference. Given a ``lock_path``, the lock also holds an advisory file lock there, so
separate processes on one data folder (the server and ``tagsight dataset import``) serialise too.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import IO

try:
    import fcntl
except ImportError:  # not POSIX: the lock then covers this process only
    fcntl = None  # type: ignore[assignment]

from sqlalchemy.orm import Session, sessionmaker

from tagsight.store.blobs import BlobStore, original_key, thumbnail_key
from tagsight.store.repos import images as image_repo
from tagsight.vision.imageio import PreparedImage

log = logging.getLogger(__name__)


class GcLock:
    """A re-entrant lock for threads that, held from outside, also holds ``path`` locked (flock)."""

    def __init__(self, path: Path | None = None) -> None:
        self._threads = threading.RLock()
        self._path = path
        self._depth = 0  # only changed by the thread holding _threads
        self._file: IO[bytes] | None = None

    def __enter__(self) -> GcLock:
        self._threads.acquire()
        if self._depth == 0 and self._path is not None and fcntl is not None:
            try:
                self._file = self._path.open("ab")
                fcntl.flock(self._file, fcntl.LOCK_EX)
            except BaseException:
                self._close()
                self._threads.release()
                raise
        self._depth += 1
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._close()
        self._threads.release()

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the file releases its flock
            self._file = None


class ImageFiles:
    def __init__(self, blobs: BlobStore, db: sessionmaker[Session], *, lock_path: Path | None = None) -> None:
        self.blobs = blobs
        self.db = db
        self.lock = GcLock(lock_path)

    def put(self, image: PreparedImage, created: list[str]) -> None:
        """Store original and thumbnail, appending each key written to ``created`` (for rollback)."""
        for key, data in (
            (original_key(image.content_hash), image.data),
            (thumbnail_key(image.content_hash), image.thumbnail),
        ):
            if self.blobs.put(key, data):
                created.append(key)

    def original(self, content_hash: str) -> bytes:
        return self.blobs.get(original_key(content_hash))

    def thumbnail(self, content_hash: str) -> bytes:
        return self.blobs.get(thumbnail_key(content_hash))

    def discard_unreferenced(self, hashes: Iterable[str]) -> int:
        """Delete the blobs of ``hashes`` that no image row references any more."""
        wanted = set(hashes)
        if not wanted:
            return 0
        with self.lock, self.db() as session:
            orphans = wanted - image_repo.referenced_hashes(session, hashes=wanted)
            for content_hash in orphans:
                self.blobs.delete(original_key(content_hash))
                self.blobs.delete(thumbnail_key(content_hash))
        return len(orphans)

    def discard_keys(self, keys: Iterable[str]) -> None:
        """Undo ``put`` after a failed transaction (only blobs nothing references)."""
        hashes = {key.split("/")[-1].removesuffix(".jpg") for key in keys}
        self.discard_unreferenced(hashes)

    def sweep(self) -> int:
        """Remove blobs no row references (left by a crash between blob write and commit)."""
        with self.lock, self.db() as session:
            live = image_repo.all_hashes(session)
        stale = set()
        for prefix in ("originals", "thumbnails"):
            for key in self.blobs.keys(prefix):
                content_hash = key.split("/")[-1].removesuffix(".jpg")
                if content_hash not in live:
                    stale.add(content_hash)
        removed = self.discard_unreferenced(stale)
        if removed:
            log.info("Removed %d unreferenced image blobs", removed)
        return removed
