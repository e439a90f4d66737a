"""Iterations: reading, renaming, deleting, publishing, and their performance figures."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from tagsight.errors import BadRequest, ErrorCode, NotFound
from tagsight.services import domains
from tagsight.services.projects import require_project
from tagsight.store.blobs import BlobStore
from tagsight.store.db import transaction
from tagsight.store.repos import iterations as iteration_repo
from tagsight.store.tables import Iteration, IterationImage, IterationTag, utcnow
from tagsight.vision.metrics import Figures, classification_figures, detection_figures

_PUBLISH_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}$")


def require_iteration(session: Session, project_id: str, iteration_id: str) -> Iteration:
    iteration = iteration_repo.get(session, project_id=project_id, iteration_id=iteration_id)
    if iteration is None:
        raise NotFound(
            ErrorCode.NotFoundIteration, f"Iteration {iteration_id} not found in project {project_id}."
        )
    return iteration


def require_trained(iteration: Iteration) -> None:
    if iteration.status != "Completed":
        raise BadRequest(
            ErrorCode.BadRequestIterationIsNotTrained,
            f"Iteration '{iteration.name}' is {iteration.status}, not Completed.",
        )


@dataclass(frozen=True)
class Performance:
    overall: Figures
    per_tag: list[tuple[IterationTag, Figures]]


@dataclass(frozen=True)
class ImagePerformanceView:
    row: IterationImage
    tag_names: dict[str, str]


class IterationService:
    def __init__(self, db: sessionmaker[Session], blobs: BlobStore) -> None:
        self.db = db
        self.blobs = blobs

    def list(self, project_id: str) -> list[Iteration]:
        with self.db() as session:
            require_project(session, project_id)
            return iteration_repo.list_for_project(session, project_id=project_id)

    def get(self, project_id: str, iteration_id: str) -> Iteration:
        with self.db() as session:
            require_project(session, project_id)
            return require_iteration(session, project_id, iteration_id)

    def rename(self, project_id: str, iteration_id: str, name: str | None) -> Iteration:
        with transaction(self.db) as session:
            require_project(session, project_id)
            iteration = require_iteration(session, project_id, iteration_id)
            name = (name or "").strip()
            if not name or len(name) > 256:
                raise BadRequest(
                    ErrorCode.BadRequestIterationName, "An iteration name must have 1 to 256 characters."
                )
            others = iteration_repo.names(session, project_id=project_id) - {iteration.name}
            if name in others:
                raise BadRequest(
                    ErrorCode.BadRequestIterationNameNotUnique, f"An iteration named '{name}' already exists."
                )
            iteration.name = name
            iteration.last_modified = utcnow()
            return iteration

    def delete(self, project_id: str, iteration_id: str) -> None:
        with transaction(self.db) as session:
            require_project(session, project_id)
            iteration = require_iteration(session, project_id, iteration_id)
            if iteration.publish_name is not None:
                raise BadRequest(
                    ErrorCode.BadRequestIterationIsPublished,
                    f"Iteration '{iteration.name}' is published as '{iteration.publish_name}'; "
                    "unpublish it first.",
                )
            key = iteration.model_key
            session.delete(iteration)
        if key:
            self.blobs.delete(key)

    def publish(
        self, project_id: str, iteration_id: str, *, publish_name: str, prediction_id: str, overwrite: bool
    ) -> None:
        if not _PUBLISH_NAME.match(publish_name or ""):
            raise BadRequest(
                ErrorCode.BadRequestInvalidPublishName,
                "A publish name has 1 to 255 letters, digits, '-', '_' or '.', "
                "starting with a letter or digit.",
            )
        if not prediction_id:
            raise BadRequest(
                ErrorCode.BadRequestInvalidPublishTarget, "predictionId (the resource id) is required."
            )
        with transaction(self.db) as session:
            require_project(session, project_id)
            iteration = require_iteration(session, project_id, iteration_id)
            require_trained(iteration)
            holder = iteration_repo.by_publish_name(session, project_id=project_id, publish_name=publish_name)
            if holder is not None and holder.id != iteration.id:
                if not overwrite:
                    raise BadRequest(
                        ErrorCode.BadRequestInvalidPublishName,
                        f"'{publish_name}' already publishes iteration '{holder.name}'; pass overwrite=true.",
                    )
                holder.publish_name = None
                holder.original_publish_resource_id = None
                session.flush()
            iteration.publish_name = publish_name
            iteration.original_publish_resource_id = prediction_id
            iteration.last_modified = utcnow()

    def unpublish(self, project_id: str, iteration_id: str) -> None:
        with transaction(self.db) as session:
            require_project(session, project_id)
            iteration = require_iteration(session, project_id, iteration_id)
            if iteration.publish_name is None:
                raise BadRequest(
                    ErrorCode.BadRequestIterationNotPublished,
                    f"Iteration '{iteration.name}' is not published.",
                )
            iteration.publish_name = None
            iteration.original_publish_resource_id = None
            iteration.last_modified = utcnow()

    def performance(
        self, project_id: str, iteration_id: str, *, threshold: float, overlap_threshold: float = 0.3
    ) -> Performance:
        for name, value in (("threshold", threshold), ("overlapThreshold", overlap_threshold)):
            if not 0.0 <= value <= 1.0:
                raise BadRequest(ErrorCode.BadRequest, f"{name} must be between 0 and 1.")
        with self.db() as session:
            require_project(session, project_id)
            iteration = require_iteration(session, project_id, iteration_id)
            require_trained(iteration)
            tags = iteration_repo.tags(session, iteration_id=iteration_id)
            rows = [
                r
                for r in iteration_repo.images(session, iteration_id=iteration_id)
                if r.predictions is not None
            ]
        position = {t.tag_id: t.position for t in tags}
        if domains.get_domain(iteration.domain_id).type == domains.OBJECT_DETECTION:
            overall, per_tag = _detection_performance(rows, position, threshold, overlap_threshold)
        else:
            overall, per_tag = _classification_performance(rows, position, threshold)
        return Performance(overall, list(zip(tags, per_tag, strict=True)))

    def image_performances(
        self,
        project_id: str,
        iteration_id: str,
        *,
        tag_ids: Sequence[str] = (),
        order_by: str | None = None,
        take: int = 50,
        skip: int = 0,
    ) -> list[ImagePerformanceView]:
        rows, names = self._evaluated(project_id, iteration_id, tag_ids)
        if (order_by or "Newest") == "Newest":
            rows.reverse()
        return [ImagePerformanceView(r, names) for r in rows[skip : skip + take]]

    def image_performance_count(
        self, project_id: str, iteration_id: str, *, tag_ids: Sequence[str] = ()
    ) -> int:
        return len(self._evaluated(project_id, iteration_id, tag_ids)[0])

    def _evaluated(
        self, project_id: str, iteration_id: str, tag_ids: Sequence[str]
    ) -> tuple[list[IterationImage], dict[str, str]]:
        with self.db() as session:
            require_project(session, project_id)
            iteration = require_iteration(session, project_id, iteration_id)
            require_trained(iteration)
            names = {t.tag_id: t.name for t in iteration_repo.tags(session, iteration_id=iteration_id)}
            rows = [
                r
                for r in iteration_repo.images(session, iteration_id=iteration_id)
                if r.predictions is not None
            ]
        if tag_ids:
            wanted = set(tag_ids)
            rows = [r for r in rows if wanted & set(r.tag_ids)]
        return rows, names


def _classification_performance(
    rows: list[IterationImage], position: dict[str, int], threshold: float
) -> tuple[Figures, list[Figures]]:
    targets = np.zeros((len(rows), len(position)), dtype=np.float32)
    probabilities = np.zeros_like(targets)
    for i, row in enumerate(rows):
        for tag_id in row.tag_ids:
            targets[i, position[tag_id]] = 1
        for p in row.predictions or ():
            if p["tagId"] in position:
                probabilities[i, position[p["tagId"]]] = p["probability"]
    folds = np.array([r.fold if r.fold is not None else 0 for r in rows])
    return classification_figures(targets, probabilities, folds, threshold)


def _ltwh(box: dict[str, float]) -> tuple[float, float, float, float]:
    return (box["left"], box["top"], box["width"], box["height"])


def _detection_performance(
    rows: list[IterationImage], position: dict[str, int], threshold: float, overlap: float
) -> tuple[Figures, list[Figures]]:
    truth = [[(position[r["tagId"]], _ltwh(r)) for r in row.regions or ()] for row in rows]
    found = [
        [(position[p["tagId"]], p["probability"], _ltwh(p["boundingBox"])) for p in row.predictions or ()]
        for row in rows
    ]
    return detection_figures(truth, found, len(position), threshold=threshold, iou_threshold=overlap)
