"""Starting training: Azure's validation rules, then an iteration with a snapshot of the data.

The iteration is created at once with status ``Training``; the worker (``tagsight.training``)
picks it up. The snapshot (images, their tags and boxes, the tags) is what the model is trained
and evaluated on, whatever happens to the project afterwards.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tagsight.config import Limits
from tagsight.errors import BadRequest, ErrorCode
from tagsight.services import domains
from tagsight.services.projects import domain_of, require_project
from tagsight.store.db import transaction
from tagsight.store.repos import iterations as iteration_repo
from tagsight.store.repos import tags as tag_repo
from tagsight.store.tables import Image, ImageTag, Iteration, IterationImage, IterationTag, Project, Tag

TRAINING_TYPES = ("Regular", "Advanced")


@dataclass(frozen=True)
class TrainingRules:
    """Minimum data per tag; Azure's defaults, configurable for small experiments."""

    min_images_per_tag: int = 5
    min_images_per_tag_detection: int = 15
    min_tags: int = 2


@dataclass(frozen=True)
class TrainRequest:
    training_type: str = "Regular"
    reserved_budget_in_hours: int = 0
    force: bool = False
    selected_tags: Sequence[str] | None = None


def _fail(code: ErrorCode, message: str) -> BadRequest:
    return BadRequest(code, message)


Box = tuple[str, float, float, float, float]  # (tag id, left, top, width, height)


def data_fingerprint(
    domain_id: str,
    classification_type: str | None,
    training_type: str,
    images: Iterable[tuple[str, Sequence[str], Sequence[Box]]],
) -> str:
    """Identifies labelled data as trained: (content hash, sorted tag ids, boxes) per image.

    A project copy recomputes it with the copy's ids, so "nothing changed" holds there too.
    """
    digest = hashlib.sha256()
    digest.update(f"{domain_id}|{classification_type}|{training_type}".encode())
    for content_hash, tag_ids, boxes in sorted(images, key=lambda item: item[0]):
        digest.update(f"{content_hash}:{','.join(tag_ids)}:{sorted(boxes)}\n".encode())
    return digest.hexdigest()


class TrainingService:
    def __init__(self, db: sessionmaker[Session], limits: Limits, rules: TrainingRules) -> None:
        self.db = db
        self.limits = limits
        self.rules = rules

    def train(self, project_id: str, request: TrainRequest) -> Iteration:
        with transaction(self.db) as session:
            project = require_project(session, project_id)
            self._check_request(session, project, request)
            tags = self._training_tags(session, project, request.selected_tags)
            images = self._boxed_only(project, self._snapshot_images(session, tags))
            self._validate(project, tags, images)
            fingerprint = self._fingerprint(project, request, images)
            latest = iteration_repo.latest_completed(session, project_id=project.id)
            if latest is not None and latest.fingerprint == fingerprint and not request.force:
                raise _fail(
                    ErrorCode.BadRequestTrainingNotNeeded,
                    "Nothing changed since the last iteration; use forceTrain=true to train anyway.",
                )
            iteration = self._new_iteration(session, project, request, fingerprint)
            session.add(iteration)
            session.flush()
            self._add_snapshot(session, iteration, tags, images)
            return iteration

    def _check_request(self, session: Session, project: Project, request: TrainRequest) -> None:
        if request.training_type not in TRAINING_TYPES:
            raise _fail(ErrorCode.BadRequest, f"trainingType must be one of {', '.join(TRAINING_TYPES)}.")
        if request.training_type == "Advanced" and request.reserved_budget_in_hours < 1:
            raise _fail(
                ErrorCode.BadRequestReservedBudgetInHoursNotEnoughForAdvancedTraining,
                "Advanced training needs reservedBudgetInHours of at least 1.",
            )
        if iteration_repo.in_status(session, project_id=project.id, status="Training") is not None:
            raise _fail(
                ErrorCode.BadRequestTrainingAlreadyInProgress, "The project is already training an iteration."
            )
        if iteration_repo.count(session, project_id=project.id) >= self.limits.iterations_per_project:
            raise _fail(
                ErrorCode.BadRequestExceedIterationPerProjectLimit,
                f"The project has {self.limits.iterations_per_project} iterations, its limit; "
                "delete one to train again.",
            )

    def _training_tags(self, session: Session, project: Project, selected: Sequence[str] | None) -> list[Tag]:
        tags = tag_repo.list_for_project(session, project_id=project.id)
        if selected:
            known = {t.id for t in tags}
            unknown = sorted(set(selected) - known)
            if unknown:
                raise _fail(
                    ErrorCode.BadRequestTrainingValidationFailed, f"Unknown tag(s): {', '.join(unknown)}."
                )
            tags = [t for t in tags if t.id in set(selected)]
        return tags

    def _snapshot_images(self, session: Session, tags: list[Tag]) -> list[tuple[Image, list[str]]]:
        """Every image carrying at least one of ``tags``, with the ones it carries."""
        tag_ids = {t.id for t in tags}
        if not tag_ids:
            return []
        query = (
            select(Image)
            .join(ImageTag, ImageTag.image_id == Image.id)
            .where(ImageTag.tag_id.in_(tag_ids))
            .distinct()
            .order_by(Image.created, Image.id)
        )
        images = list(session.scalars(query))
        return [(image, sorted(t.tag_id for t in image.tags if t.tag_id in tag_ids)) for image in images]

    @staticmethod
    def _boxed_only(project: Project, images: list[tuple[Image, list[str]]]) -> list[tuple[Image, list[str]]]:
        """Detection trains on images with boxes; a tag without a box says nothing about where."""
        if domain_of(project).type != domains.OBJECT_DETECTION:
            return images
        return [
            (image, tag_ids)
            for image, tag_ids in images
            if image.regions or any(t.tag.type == "Negative" for t in image.tags)
        ]

    def _validate(self, project: Project, tags: list[Tag], images: list[tuple[Image, list[str]]]) -> None:
        if domain_of(project).type == domains.OBJECT_DETECTION:
            self._validate_detection(tags, images)
            return
        counts = Counter(tag_id for _, tag_ids in images for tag_id in tag_ids)
        self._check_counts(tags, counts, self.rules.min_images_per_tag, self.rules.min_tags)
        if project.classification_type == "Multiclass":
            multi = sum(1 for _, tag_ids in images if len(tag_ids) > 1)
            if multi:
                raise _fail(
                    ErrorCode.BadRequestMultiClassClassificationTrainingValidationFailed,
                    f"{multi} image(s) carry more than one tag, which a Multiclass project does not "
                    "allow; untag them or make the project Multilabel.",
                )

    def _validate_detection(self, tags: list[Tag], images: list[tuple[Image, list[str]]]) -> None:
        negative = {t.id for t in tags if t.type == "Negative"}
        if any(negative & set(tag_ids) for _, tag_ids in images):
            raise _fail(
                ErrorCode.BadRequestDetectionTrainingNotAllowNegativeTag,
                "Object detection cannot train with the Negative tag; remove it from the images.",
            )
        counts = Counter(tag_id for image, _ in images for tag_id in {r.tag_id for r in image.regions})
        self._check_counts(
            tags,
            counts,
            self.rules.min_images_per_tag_detection,
            1,
            code=ErrorCode.BadRequestDetectionTrainingValidationFailed,
            what="images with boxes",
        )

    def _check_counts(
        self,
        tags: list[Tag],
        counts: Counter[str],
        minimum: int,
        min_tags: int,
        *,
        code: ErrorCode = ErrorCode.BadRequestTrainingValidationFailed,
        what: str = "images",
    ) -> None:
        used = [t for t in tags if counts[t.id] > 0]
        too_few = [f"'{t.name}' ({counts[t.id]})" for t in used if counts[t.id] < minimum]
        if len(used) < min_tags or too_few:
            detail = f" Too few {what}: {', '.join(too_few)}." if too_few else ""
            raise _fail(
                code,
                f"Training needs at least {min_tags} tag(s) with at least {minimum} {what} each; "
                f"the project has {len(used)} tag(s) with {what}.{detail}",
            )

    @staticmethod
    def _fingerprint(project: Project, request: TrainRequest, images: list[tuple[Image, list[str]]]) -> str:
        snapshot = [
            (
                image.content_hash,
                tag_ids,
                [(r.tag_id, r.left, r.top, r.width, r.height) for r in image.regions],
            )
            for image, tag_ids in images
        ]
        return data_fingerprint(
            project.domain_id, project.classification_type, request.training_type, snapshot
        )

    @staticmethod
    def _next_name(session: Session, project: Project) -> str:
        names = iteration_repo.names(session, project_id=project.id)
        numbers = [int(m.group(1)) for name in names if (m := re.fullmatch(r"Iteration (\d+)", name))]
        # Renamed iterations still count, so numbers keep rising as on Azure.
        return f"Iteration {max([*numbers, len(names)], default=0) + 1}"

    def _new_iteration(
        self, session: Session, project: Project, request: TrainRequest, fingerprint: str
    ) -> Iteration:
        return Iteration(
            id=str(uuid.uuid4()),
            project_id=project.id,
            name=self._next_name(session, project),
            status="Training",
            domain_id=project.domain_id,
            classification_type=project.classification_type,
            training_type=request.training_type,
            reserved_budget_in_hours=request.reserved_budget_in_hours,
            progress=0.0,
            progress_message="Queued",
            selected_tags=list(request.selected_tags) if request.selected_tags else None,
            fingerprint=fingerprint,
            backbone=domains.backbone_for_domain(project.domain_id),
        )

    @staticmethod
    def _add_snapshot(
        session: Session, iteration: Iteration, tags: list[Tag], images: list[tuple[Image, list[str]]]
    ) -> None:
        counts = Counter(tag_id for _, tag_ids in images for tag_id in tag_ids)
        used = [t for t in tags if counts[t.id] > 0]
        for position, tag in enumerate(used):
            session.add(
                IterationTag(
                    iteration_id=iteration.id,
                    tag_id=tag.id,
                    name=tag.name,
                    description=tag.description,
                    type=tag.type,
                    image_count=counts[tag.id],
                    position=position,
                )
            )
        for image, tag_ids in images:
            session.add(
                IterationImage(
                    iteration_id=iteration.id,
                    image_id=image.id,
                    content_hash=image.content_hash,
                    width=image.width,
                    height=image.height,
                    image_created=image.created,
                    tag_ids=tag_ids,
                    regions=[
                        {
                            "tagId": r.tag_id,
                            "left": r.left,
                            "top": r.top,
                            "width": r.width,
                            "height": r.height,
                        }
                        for r in image.regions
                        if r.tag_id in tag_ids
                    ]
                    or None,
                )
            )
