"""Blob storage for image bytes and model artifacts.

``BlobStore`` is the seam: ``LocalBlobStore`` keeps blobs in a folder now; an S3-compatible store
implements the same five methods later. Keys are ``/``-separated relative names such as
``originals/ab/ab12….`` and never contain ``..``.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

_KEY = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


class BlobStore(Protocol):
    def put(self, key: str, data: bytes) -> bool:
        """Store ``data`` under ``key``; return False when the key already existed (left untouched)."""
        ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def keys(self, prefix: str) -> Iterator[str]: ...


class LocalBlobStore:
    """Blobs as files under ``root``; writes are atomic (temporary file, fsync, rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        if not _KEY.match(key) or ".." in key.split("/"):
            raise ValueError(f"Invalid blob key {key!r}")
        return self.root / key

    def put(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        if path.exists():
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return True

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def keys(self, prefix: str) -> Iterator[str]:
        base = self._path(prefix.rstrip("/"))
        if not base.exists():
            return
        for path in base.rglob("*"):
            if path.is_file() and not path.name.startswith(".tmp-"):
                yield path.relative_to(self.root).as_posix()


def original_key(content_hash: str) -> str:
    return f"originals/{content_hash[:2]}/{content_hash}"


def thumbnail_key(content_hash: str) -> str:
    return f"thumbnails/{content_hash[:2]}/{content_hash}.jpg"


def model_key(iteration_id: str) -> str:
    """Where an iteration's ONNX model lives; each iteration owns its own (deleted with it)."""
    return f"models/{iteration_id}.onnx"
