"""Image embeddings and backbone feature models, kept beside the images in the blob store."""

from __future__ import annotations

import io

import numpy as np

from tagsight.store.blobs import BlobStore


class BlobFeatureCache:
    """Image embeddings kept beside the images, keyed by backbone and content hash."""

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs

    @staticmethod
    def _key(key: str) -> str:
        backbone, content_hash = key.rsplit("/", 1)
        return f"features/{backbone}/{content_hash[:2]}/{content_hash}.npy"

    def get(self, key: str) -> np.ndarray | None:
        blob = self._key(key)
        if not self.blobs.exists(blob):
            return None
        return np.load(io.BytesIO(self.blobs.get(blob)), allow_pickle=False)

    def put(self, key: str, value: np.ndarray) -> None:
        buffer = io.BytesIO()
        np.save(buffer, value, allow_pickle=False)
        self.blobs.put(self._key(key), buffer.getvalue())

    def get_bytes(self, key: str) -> bytes | None:
        return self.blobs.get(key) if self.blobs.exists(key) else None

    def put_bytes(self, key: str, value: bytes) -> None:
        self.blobs.put(key, value)
