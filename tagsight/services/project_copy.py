"""Azure's ``export_project`` / ``import_project``: copying a project within the server.

``export_project`` answers counts and a token; ``import_project(token, name)`` makes the copy.
The token is the project id and an expiry, signed with the server's signing secret (keys.json),
so no table is needed and an altered, forged or expired token is ``BadRequestInvalidImportToken``.
The copy is taken when the token is redeemed, of the project as it is then.

What is copied: the project's settings, tags, images (metadata, tags, regions, creation times)
and its trained or failed iterations (snapshot, performance, model). Not copied: publications
(a copy starts unpublished, as on Azure), stored predictions, cached suggestions and model
exports, which the copy can make again. An iteration still training is left out.

Sharing: image blobs are keyed by content hash and only removed once no row anywhere references
them, so the copy shares them; the insert holds ``ImageFiles.lock`` so a delete of the source
running meanwhile cannot remove them between the read and the commit. Models are not shared: each
iteration owns its model blob (deleting an iteration deletes it), and a copy's model names the
copy's tag ids, so each copied iteration gets its own relabelled model.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tagsight.config import Limits
from tagsight.errors import BadRequest, ErrorCode, NotFound
from tagsight.services.image_files import ImageFiles
from tagsight.services.projects import ProjectFields, ProjectService, require_project
from tagsight.services.training import data_fingerprint
from tagsight.store.blobs import model_key
from tagsight.store.db import transaction
from tagsight.store.repos import images as image_repo
from tagsight.store.repos import iterations as iteration_repo
from tagsight.store.repos import projects as project_repo
from tagsight.store.repos import tags as tag_repo
from tagsight.store.tables import (
    Image,
    ImageTag,
    Iteration,
    IterationImage,
    IterationTag,
    Project,
    Region,
    Tag,
)
from tagsight.vision.relabel import model_labels, relabel_model

__all__ = ["ImportTokens", "ProjectCopyService", "ProjectExportInfo"]

log = logging.getLogger(__name__)

TOKEN_TTL_S = 7 * 24 * 3600
# Keeps these signatures apart from the image links signed with the same secret.
_CONTEXT = b"tagsight/project-export\n"
_INVALID = "The import token is invalid or has expired; export the project again for a new one."


@dataclass(frozen=True)
class ProjectExportInfo:
    iteration_count: int
    image_count: int
    tag_count: int
    region_count: int
    estimated_import_time_in_ms: int
    token: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class ImportTokens:
    """Signed, expiring tokens that name a project: ``<payload>.<signature>``, base64url."""

    secret: str
    ttl_s: int = TOKEN_TTL_S

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self.secret.encode(), _CONTEXT + payload, hashlib.sha256).digest()

    def issue(self, project_id: str, *, now: float | None = None) -> str:
        expires = int(now if now is not None else time.time()) + self.ttl_s
        payload = json.dumps({"p": project_id, "e": expires}, separators=(",", ":")).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def project_id(self, token: str, *, now: float | None = None) -> str:
        """The project a token names; ``BadRequestInvalidImportToken`` unless it is genuine and current."""
        try:
            payload_text, signature = (token or "").strip().split(".")
            payload = _unb64(payload_text)
            if not hmac.compare_digest(self._mac(payload), _unb64(signature)):
                raise ValueError("bad signature")
            claims = json.loads(payload)
            project_id, expires = str(claims["p"]), int(claims["e"])
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise BadRequest(ErrorCode.BadRequestInvalidImportToken, _INVALID) from exc
        if expires < (now if now is not None else time.time()):
            raise BadRequest(ErrorCode.BadRequestInvalidImportToken, _INVALID)
        return project_id


class _Ids:
    """Old id → the copy's id; ids no longer in the project (deleted tags, images) get fresh ones."""

    def __init__(self, known: dict[str, str] | None = None) -> None:
        self.map = dict(known or {})

    def __getitem__(self, old: str) -> str:
        return self.map.setdefault(old, str(uuid.uuid4()))

    def sorted(self, olds: Iterable[str]) -> list[str]:
        return sorted(self[o] for o in olds)


def _with_tag(items: list[dict[str, Any]] | None, tags: _Ids) -> list[dict[str, Any]] | None:
    """Regions or predictions as stored on an iteration image, their ``tagId`` translated."""
    return None if items is None else [{**item, "tagId": tags[item["tagId"]]} for item in items]


class ProjectCopyService:
    def __init__(
        self, db: sessionmaker[Session], files: ImageFiles, limits: Limits, tokens: ImportTokens
    ) -> None:
        self.db = db
        self.projects = ProjectService(db, limits, files)  # creating the copy follows its rules
        self.files = files
        self.tokens = tokens

    def export(self, project_id: str) -> ProjectExportInfo:
        """Counts of what an import would copy, and the token that copies it."""
        with self.db() as session:
            require_project(session, project_id)
            images = image_repo.list_filtered(
                session,
                where=image_repo.ImageFilter(project_id),
                newest_first=False,
                take=10**9,
                skip=0,
            )
            iterations = self._copyable(session, project_id)
            tag_count = tag_repo.count(session, project_id=project_id)
        regions = sum(len(i.regions) for i in images)
        # Rows are cheap; each model is read, relabelled and written again.
        estimate = 200 + 2 * len(images) + 300 * sum(1 for i in iterations if i.model_key)
        return ProjectExportInfo(
            len(iterations), len(images), tag_count, regions, estimate, self.tokens.issue(project_id)
        )

    def import_project(self, token: str, name: str | None = None) -> Project:
        """Copy the project the token names into a new project called ``name``."""
        source_id = self.tokens.project_id(token)
        try:
            source = self.projects.get(source_id)
        except NotFound as exc:
            raise BadRequest(
                ErrorCode.BadRequestInvalidImportToken, "The exported project no longer exists."
            ) from exc
        copy = self.projects.create(
            ProjectFields(
                name=name.strip() if name and name.strip() else self._default_name(source.name),
                description=source.description,
                domain_id=source.domain_id,
                classification_type=source.classification_type,
                target_export_platforms=list(source.target_export_platforms),
                image_processing=source.image_processing,
                export_model_container_uri=source.export_model_container_uri,
                notification_queue_uri=source.notification_queue_uri,
            )
        )
        written: list[str] = []
        try:
            with self.files.lock, transaction(self.db) as session:
                self._copy(session, source_id, copy.id, written)
        except BaseException:
            for key in written:
                self.files.blobs.delete(key)
            self.projects.delete(copy.id)
            raise
        return self.projects.get(copy.id)

    def _default_name(self, name: str) -> str:
        with self.db() as session:
            base = f"{name} (imported)"[:200]
            candidate, n = base, 1
            while project_repo.name_taken(session, name=candidate):
                n += 1
                candidate = f"{base[:190]} {n}"
            return candidate

    @staticmethod
    def _copyable(session: Session, project_id: str) -> list[Iteration]:
        iterations = iteration_repo.list_for_project(session, project_id=project_id)
        return [i for i in iterations if i.status != "Training"]

    def _copy(self, session: Session, source_id: str, copy_id: str, written: list[str]) -> None:
        source = require_project(session, source_id)
        tags = _Ids()
        for tag in tag_repo.list_for_project(session, project_id=source.id):
            session.add(
                Tag(
                    id=tags[tag.id],
                    project_id=copy_id,
                    name=tag.name,
                    name_key=tag.name_key,
                    description=tag.description,
                    type=tag.type,
                    created=tag.created,
                )
            )
        session.flush()
        images = _Ids()
        everything = image_repo.ImageFilter(source.id)
        for image in image_repo.list_filtered(
            session, where=everything, newest_first=False, take=10**9, skip=0
        ):
            session.add(self._image_copy(image, images[image.id], copy_id, tags))
        for iteration in self._copyable(session, source.id):
            self._copy_iteration(session, iteration, copy_id, tags, images, written)

    @staticmethod
    def _image_copy(image: Image, new_id: str, copy_id: str, tags: _Ids) -> Image:
        copy = Image(
            id=new_id,
            project_id=copy_id,
            content_hash=image.content_hash,
            width=image.width,
            height=image.height,
            format=image.format,
            metadata_=dict(image.metadata_),
            created=image.created,
        )
        copy.tags = [ImageTag(tag_id=tags[link.tag_id], created=link.created) for link in image.tags]
        copy.regions = [
            Region(
                id=str(uuid.uuid4()),
                tag_id=tags[r.tag_id],
                left=r.left,
                top=r.top,
                width=r.width,
                height=r.height,
                created=r.created,
            )
            for r in image.regions
        ]
        return copy

    def _copy_iteration(
        self, session: Session, source: Iteration, copy_id: str, tags: _Ids, images: _Ids, written: list[str]
    ) -> None:
        new_id = str(uuid.uuid4())
        key = None
        if source.model_key:
            try:
                model = self.files.blobs.get(source.model_key)
            except FileNotFoundError:
                log.warning("Iteration %s has lost its model; it is not copied.", source.id)
                return
            key = model_key(new_id)
            self.files.blobs.put(key, relabel_model(model, [tags[t] for t in model_labels(model)]))
            written.append(key)
        rows = iteration_repo.images(session, iteration_id=source.id)
        snapshot = [
            IterationImage(
                iteration_id=new_id,
                image_id=images[r.image_id],
                content_hash=r.content_hash,
                width=r.width,
                height=r.height,
                image_created=r.image_created,
                tag_ids=tags.sorted(r.tag_ids),
                regions=_with_tag(r.regions, tags),
                predictions=_with_tag(r.predictions, tags),
                fold=r.fold,
            )
            for r in rows
        ]
        session.add(self._iteration_copy(source, new_id, copy_id, key, tags, snapshot))
        session.flush()
        session.add_all(snapshot)
        for t in iteration_repo.tags(session, iteration_id=source.id):
            session.add(
                IterationTag(
                    iteration_id=new_id,
                    tag_id=tags[t.tag_id],
                    name=t.name,
                    description=t.description,
                    type=t.type,
                    image_count=t.image_count,
                    position=t.position,
                )
            )

    @staticmethod
    def _iteration_copy(
        source: Iteration, new_id: str, copy_id: str, key: str | None, tags: _Ids, rows: list[IterationImage]
    ) -> Iteration:
        evaluation = dict(source.evaluation) if source.evaluation is not None else None
        if evaluation is not None and "labels" in evaluation:
            evaluation["labels"] = [tags[t] for t in evaluation["labels"]]
        boxes = [
            [(b["tagId"], b["left"], b["top"], b["width"], b["height"]) for b in r.regions or ()]
            for r in rows
        ]
        fingerprint = data_fingerprint(
            source.domain_id,
            source.classification_type,
            source.training_type,
            [(r.content_hash, r.tag_ids, b) for r, b in zip(rows, boxes, strict=True)],
        )
        return Iteration(
            id=new_id,
            project_id=copy_id,
            name=source.name,
            status=source.status,
            created=source.created,
            last_modified=source.last_modified,
            trained_at=source.trained_at,
            domain_id=source.domain_id,
            classification_type=source.classification_type,
            training_type=source.training_type,
            reserved_budget_in_hours=source.reserved_budget_in_hours,
            training_time_in_minutes=source.training_time_in_minutes,
            training_error_details=source.training_error_details,
            progress=source.progress,
            progress_message=source.progress_message,
            selected_tags=[tags[t] for t in source.selected_tags] if source.selected_tags else None,
            fingerprint=fingerprint,
            backbone=source.backbone,
            model_key=key,
            evaluation=evaluation,
        )
