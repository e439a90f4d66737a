"""Predicting with a trained iteration: the Prediction API, quick tests and stored predictions."""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tagsight.config import Limits
from tagsight.errors import BadRequest, ErrorCode, NotFound
from tagsight.services import domains
from tagsight.services.image_files import ImageFiles
from tagsight.services.iterations import require_iteration, require_trained
from tagsight.services.projects import require_project
from tagsight.store.blobs import BlobStore
from tagsight.store.db import transaction
from tagsight.store.repos import iterations as iteration_repo
from tagsight.store.repos import predictions as prediction_repo
from tagsight.store.tables import Iteration, StoredPrediction, utcnow
from tagsight.vision.imageio import ImageLimits, ImageRejected, decode_rgb, prepare_image
from tagsight.vision.runtime import OnnxModel

MAX_RESULTS = 200
# Detections below this score are noise to a caller; Azure also leaves them out.
MIN_DETECTION_SCORE = 0.01
PROPOSAL_MIN_SCORE = 0.05


def _classes(model: OnnxModel, image: Any, tags: dict[str, Any]) -> list[dict[str, Any]]:
    probabilities = model.classify([image])[0]
    results = [
        {"tagId": tag_id, "tagName": tags[tag_id].name, "tagType": tags[tag_id].type, "probability": float(p)}
        for tag_id, p in zip(model.labels, probabilities, strict=True)
    ]
    return sorted(results, key=lambda r: -r["probability"])[:MAX_RESULTS]


def _detections(model: OnnxModel, image: Any, tags: dict[str, Any]) -> list[dict[str, Any]]:
    out = model.run([image])
    results = []
    for box, score, cls in zip(out["boxes"][0], out["scores"][0], out["classes"][0], strict=True):
        if score < MIN_DETECTION_SCORE:
            continue
        tag = tags[model.labels[int(cls)]]
        left, top, width, height = (float(v) for v in box)
        results.append(
            {
                "tagId": tag.tag_id,
                "tagName": tag.name,
                "tagType": tag.type,
                "probability": float(score),
                "boundingBox": {"left": left, "top": top, "width": width, "height": height},
            }
        )
    return sorted(results, key=lambda r: -r["probability"])[:MAX_RESULTS]


class ModelCache:
    """Loaded ONNX sessions by artifact key (artifacts are immutable, so no invalidation)."""

    def __init__(self, blobs: BlobStore, capacity: int = 8) -> None:
        self.blobs = blobs
        self.capacity = capacity
        self._models: OrderedDict[str, OnnxModel] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> OnnxModel:
        with self._lock:
            model = self._models.get(key)
            if model is not None:
                self._models.move_to_end(key)
                return model
        model = OnnxModel(self.blobs.get(key))  # load outside the lock: it takes a while
        with self._lock:
            self._models[key] = model
            while len(self._models) > self.capacity:
                self._models.popitem(last=False)
        return model


@dataclass(frozen=True)
class PredictionResult:
    id: str
    project_id: str
    iteration_id: str
    created: Any
    predictions: list[dict[str, Any]]


class PredictionService:
    def __init__(
        self, db: sessionmaker[Session], files: ImageFiles, models: ModelCache, limits: Limits
    ) -> None:
        self.db = db
        self.files = files
        self.models = models
        self.image_limits = ImageLimits(max_bytes=limits.prediction_image_bytes, max_side=limits.image_side)

    def published_iteration(self, project_id: str, publish_name: str) -> Iteration:
        with self.db() as session:
            require_project(session, project_id)
            iteration = iteration_repo.by_publish_name(
                session, project_id=project_id, publish_name=publish_name
            )
        if iteration is None:
            raise NotFound(
                ErrorCode.NotFound,
                f"Invalid iteration: nothing is published as '{publish_name}' in project {project_id}.",
            )
        return iteration

    def quick_test_iteration(self, project_id: str, iteration_id: str | None) -> Iteration:
        with self.db() as session:
            require_project(session, project_id)
            if iteration_id is None:
                iteration = iteration_repo.latest_completed(session, project_id=project_id)
                if iteration is None:
                    raise NotFound(
                        ErrorCode.NotFoundProjectDefaultIteration, "The project has no trained iteration yet."
                    )
                return iteration
            iteration = require_iteration(session, project_id, iteration_id)
        require_trained(iteration)
        return iteration

    def predict(
        self,
        iteration: Iteration,
        data: bytes,
        *,
        store: bool,
        application: str | None = None,
        expect: str | None = None,
    ) -> PredictionResult:
        """Run ``iteration`` on the encoded image; ``expect`` is the route's kind of model."""
        kind = domains.get_domain(iteration.domain_id).type
        if expect is not None and kind != expect:
            verb = "detect" if kind == domains.OBJECT_DETECTION else "classify"
            raise BadRequest(
                ErrorCode.BadRequestNotSupported,
                f"This iteration is a {kind} model; call the /{verb}/ route instead.",
            )
        if iteration.model_key is None:
            raise BadRequest(ErrorCode.BadRequestIterationIsNotTrained, "The iteration has no model.")
        model = self.models.get(iteration.model_key)
        prepared = None
        try:
            if store:
                prepared = prepare_image(data, self.image_limits)
            elif len(data) > self.image_limits.max_bytes:
                raise ImageRejected("ErrorImageSize", "too large")
            image = decode_rgb(data, at_least=model.input_size)
        except ImageRejected as exc:
            if exc.status == "ErrorImageSize":
                raise BadRequest(
                    ErrorCode.BadRequestImageSizeBytes,
                    f"Prediction images must be at most {self.image_limits.max_bytes} bytes.",
                ) from exc
            raise BadRequest(ErrorCode.BadRequestImageFormat, exc.message) from exc
        with self.db() as session:
            tags = {t.tag_id: t for t in iteration_repo.tags(session, iteration_id=iteration.id)}
        if kind == domains.OBJECT_DETECTION:
            results = _detections(model, image, tags)
        else:
            results = _classes(model, image, tags)
        prediction_id = str(uuid.uuid4())
        created = utcnow()
        if prepared is not None:
            self._store(prediction_id, iteration, prepared, results, application, created)
        return PredictionResult(prediction_id, iteration.project_id, iteration.id, created, results)

    def region_proposals(self, iteration: Iteration, data: bytes) -> list[tuple[float, tuple[float, ...]]]:
        """Class-agnostic boxes from a trained detector: (confidence, (left, top, width, height))."""
        if iteration.model_key is None:
            return []
        model = self.models.get(iteration.model_key)
        out = model.run([decode_rgb(data, at_least=model.input_size)])
        return [
            (float(score), tuple(float(v) for v in box))
            for box, score in zip(out["boxes"][0], out["scores"][0], strict=True)
            if score >= PROPOSAL_MIN_SCORE
        ]

    def _store(self, prediction_id, iteration, prepared, results, application, created) -> None:  # type: ignore[no-untyped-def]
        written: list[str] = []
        with self.files.lock:
            try:
                with transaction(self.db) as session:
                    self.files.put(prepared, written)
                    session.add(
                        StoredPrediction(
                            id=prediction_id,
                            project_id=iteration.project_id,
                            iteration_id=iteration.id,
                            created=created,
                            content_hash=prepared.content_hash,
                            width=prepared.width,
                            height=prepared.height,
                            application=application,
                            results=results,
                        )
                    )
            except BaseException:
                self.files.discard_keys(written)
                raise


@dataclass(frozen=True)
class PredictionQuery:
    """Azure's PredictionQueryToken, parsed: filters plus a continuation offset."""

    iteration_id: str | None = None
    application: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    tag_thresholds: tuple[tuple[str, float, float], ...] = ()  # (tag id, min, max)
    newest_first: bool = True
    max_count: int = 50
    offset: int = 0


class StoredPredictionService:
    def __init__(self, db: sessionmaker[Session], files: ImageFiles) -> None:
        self.db = db
        self.files = files

    def query(self, project_id: str, query: PredictionQuery) -> tuple[list[StoredPrediction], int | None]:
        """One page of stored predictions and the offset of the next page (None at the end)."""
        with self.db() as session:
            require_project(session, project_id)
            rows = prediction_repo.query(
                session,
                project_id=project_id,
                iteration_id=query.iteration_id,
                application=query.application,
                start_time=query.start_time,
                end_time=query.end_time,
                newest_first=query.newest_first,
            )
        if query.tag_thresholds:
            rows = [r for r in rows if _matches(r, query.tag_thresholds)]
        page = rows[query.offset : query.offset + query.max_count]
        following = query.offset + len(page)
        return page, following if following < len(rows) else None

    def image_bytes(self, project_id: str, prediction_ids: list[str]) -> dict[str, bytes]:
        """The images behind stored predictions, by prediction id (unknown ids left out)."""
        with self.db() as session:
            require_project(session, project_id)
            rows = [
                prediction_repo.get(session, project_id=project_id, prediction_id=p) for p in prediction_ids
            ]
        found: dict[str, bytes] = {}
        for row in rows:
            if row is None:
                continue
            try:
                found[row.id] = self.files.original(row.content_hash)
            except FileNotFoundError:
                continue
        return found

    def delete(self, project_id: str, ids: list[str]) -> None:
        with transaction(self.db) as session:
            require_project(session, project_id)
            hashes = prediction_repo.delete(session, project_id=project_id, ids=ids)
        self.files.discard_unreferenced(hashes)


def _matches(row: StoredPrediction, thresholds: tuple[tuple[str, float, float], ...]) -> bool:
    scores = {r["tagId"]: r["probability"] for r in row.results}
    return all(low <= scores.get(tag_id, 0.0) <= high for tag_id, low, high in thresholds)
