"""Runs one training job: snapshot → vision training → artifact and evaluation in the store."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from tagsight.services import domains
from tagsight.store.blobs import BlobStore, model_key, original_key
from tagsight.store.feature_cache import BlobFeatureCache
from tagsight.store.repos import iterations as iteration_repo
from tagsight.store.tables import Iteration, IterationImage, IterationTag
from tagsight.training import jobs
from tagsight.training.worker import JobFailed
from tagsight.vision.finetune import FinetuneConfig, fixres_size, train_advanced
from tagsight.vision.imageio import ImageRejected
from tagsight.vision.train_classifier import (
    ClassifierTrainConfig,
    TrainedClassifier,
    TrainingImage,
    train_regular,
)
from tagsight.vision.train_detector import (
    DetectionSample,
    DetectorTrainConfig,
    advanced_config,
    train_detector,
)

# What a training produces: the ONNX model, how it was evaluated, and per image (fold, predictions).
Outcome = tuple[bytes, dict[str, Any], dict[str, tuple[int, list[dict[str, Any]]]]]


class TrainingRunner:
    def __init__(
        self,
        db: sessionmaker[Session],
        blobs: BlobStore,
        *,
        detection: DetectorTrainConfig | None = None,
        max_advanced_s: float = 24 * 3600.0,
    ) -> None:
        self.db = db
        self.blobs = blobs
        self.detection = detection or DetectorTrainConfig()
        self.max_advanced_s = max_advanced_s
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
        detection = domains.get_domain(iteration.domain_id).type == domains.OBJECT_DETECTION
        try:
            if detection:
                onnx, evaluation, predictions = self._detector(iteration, tags, rows, progress)
            else:
                onnx, evaluation, predictions = self._classifier(iteration, tags, rows, progress)
        except ImageRejected as exc:
            raise JobFailed(f"An image could not be decoded for training: {exc.message}") from exc
        key = model_key(iteration.id)
        self.blobs.put(key, onnx)
        evaluation = {**evaluation, "labels": [t.tag_id for t in tags]}
        if not jobs.complete(
            self.db,
            iteration.id,
            model_key=key,
            evaluation=evaluation,
            predictions=predictions,
            seconds=time.monotonic() - started,
        ):
            self.blobs.delete(key)

    def budget_s(self, iteration: Iteration) -> float:
        """The wall-clock bound for Advanced training: the reserved hours, capped by the setting."""
        return min(iteration.reserved_budget_in_hours * 3600.0, self.max_advanced_s)

    def _classifier(
        self,
        iteration: Iteration,
        tags: list[IterationTag],
        rows: list[IterationImage],
        progress: Callable[..., None],
    ) -> Outcome:
        positions = {t.tag_id: t.position for t in tags}
        targets = np.zeros((len(rows), len(tags)), dtype=np.float32)
        for i, row in enumerate(rows):
            for tag_id in row.tag_ids:
                targets[i, positions[tag_id]] = 1.0
        images = [TrainingImage(r.content_hash, self._loader(r.image_id, r.content_hash)) for r in rows]
        multilabel = iteration.classification_type == "Multilabel"
        labels = [t.tag_id for t in tags]
        trained: TrainedClassifier
        if iteration.training_type == "Advanced":
            advanced = FinetuneConfig(
                backbone=iteration.backbone,
                multilabel=multilabel,
                input_size=fixres_size(iteration.backbone),
                budget_s=self.budget_s(iteration),
            )
            trained = train_advanced(images, targets, labels, advanced, cache=self.cache, progress=progress)
        else:
            cfg = ClassifierTrainConfig(backbone=iteration.backbone, multilabel=multilabel)
            trained = train_regular(images, targets, labels, cfg, cache=self.cache, progress=progress)
        predictions: dict[str, tuple[int, list[dict[str, Any]]]] = {}
        for i, row in enumerate(rows):
            if trained.folds[i] >= 0:
                scores = [
                    {"tagId": t.tag_id, "probability": float(trained.probabilities[i, t.position])}
                    for t in tags
                ]
                predictions[row.image_id] = (int(trained.folds[i]), scores)
        return trained.onnx, trained.evaluation, predictions

    def _detector(
        self,
        iteration: Iteration,
        tags: list[IterationTag],
        rows: list[IterationImage],
        progress: Callable[..., None],
    ) -> Outcome:
        positions = {t.tag_id: t.position for t in tags}
        samples = []
        for row in rows:
            regions = row.regions or []
            boxes = np.array(
                [[r["left"], r["top"], r["left"] + r["width"], r["top"] + r["height"]] for r in regions],
                dtype=np.float32,
            ).reshape(-1, 4)
            labels = np.array([positions[r["tagId"]] for r in regions], dtype=np.int64)
            samples.append(
                DetectionSample(row.content_hash, self._loader(row.image_id, row.content_hash), boxes, labels)
            )
        cfg = dataclasses.replace(self.detection, backbone=iteration.backbone)
        if iteration.training_type == "Advanced":
            cfg = advanced_config(cfg, self.budget_s(iteration))
        trained = train_detector(samples, [t.tag_id for t in tags], cfg, cache=self.cache, progress=progress)
        predictions: dict[str, tuple[int, list[dict[str, Any]]]] = {}
        for row, found in zip(rows, trained.predictions, strict=True):
            if found is not None:
                predictions[row.image_id] = (
                    0,
                    [detection_dict(tags[c].tag_id, score, box) for c, score, box in found],
                )
        return trained.onnx, trained.evaluation, predictions


def detection_dict(tag_id: str, probability: float, box: tuple[float, ...]) -> dict[str, Any]:
    left, top, width, height = box
    return {
        "tagId": tag_id,
        "probability": probability,
        "boundingBox": {"left": left, "top": top, "width": width, "height": height},
    }
