"""Runs one training job: snapshot → vision training → artifact and evaluation in the store."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from tagsight.store.blobs import BlobStore, original_key
from tagsight.store.repos import iterations as iteration_repo
from tagsight.store.tables import Iteration
from tagsight.training import jobs
from tagsight.training.worker import JobFailed
from tagsight.vision.imageio import ImageRejected
from tagsight.vision.train_classifier import ClassifierTrainConfig, TrainingImage, train_regular


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


def model_key(iteration_id: str) -> str:
    return f"models/{iteration_id}.onnx"


class TrainingRunner:
    def __init__(self, db: sessionmaker[Session], blobs: BlobStore) -> None:
        self.db = db
        self.blobs = blobs
        self.cache = BlobFeatureCache(blobs)

    def _loader(self, image_id: str, content_hash: str) -> Callable[[], bytes]:
        def load() -> bytes:
            try:
                return self.blobs.get(original_key(content_hash))
            except FileNotFoundError as exc:
                raise JobFailed(
                    f"Image {image_id} was deleted while the iteration was training; train again."
                ) from exc

        return load

    def __call__(self, iteration: Iteration, progress: Callable[..., None]) -> None:
        started = time.monotonic()
        with self.db() as session:
            tags = iteration_repo.tags(session, iteration_id=iteration.id)
            rows = iteration_repo.images(session, iteration_id=iteration.id)
        positions = {t.tag_id: t.position for t in tags}
        targets = np.zeros((len(rows), len(tags)), dtype=np.float32)
        for i, row in enumerate(rows):
            for tag_id in row.tag_ids:
                targets[i, positions[tag_id]] = 1.0
        images = [TrainingImage(r.content_hash, self._loader(r.image_id, r.content_hash)) for r in rows]
        cfg = ClassifierTrainConfig(
            backbone=iteration.backbone, multilabel=iteration.classification_type == "Multilabel"
        )
        try:
            trained = train_regular(
                images, targets, [t.tag_id for t in tags], cfg, cache=self.cache, progress=progress
            )
        except ImageRejected as exc:
            raise JobFailed(f"An image could not be decoded for training: {exc.message}") from exc
        key = model_key(iteration.id)
        self.blobs.put(key, trained.onnx)
        predictions: dict[str, tuple[int, list[dict[str, Any]]]] = {}
        for i, row in enumerate(rows):
            if trained.folds[i] >= 0:
                scores = [
                    {"tagId": t.tag_id, "probability": float(trained.probabilities[i, t.position])}
                    for t in tags
                ]
                predictions[row.image_id] = (int(trained.folds[i]), scores)
        evaluation = {**trained.evaluation, "labels": [t.tag_id for t in tags]}
        if not jobs.complete(
            self.db,
            iteration.id,
            model_key=key,
            evaluation=evaluation,
            predictions=predictions,
            seconds=time.monotonic() - started,
        ):
            self.blobs.delete(key)
