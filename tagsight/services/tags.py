"""Tags: names unique per project (case-insensitive), one Negative and one GeneralProduct tag at most."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tagsight.config import Limits
from tagsight.errors import BadRequest, ErrorCode, NotFound
from tagsight.services.iterations import require_iteration
from tagsight.services.projects import require_project
from tagsight.store.db import transaction
from tagsight.store.repos import iterations as iteration_repo
from tagsight.store.repos import tags as tag_repo
from tagsight.store.tables import ImageTag, IterationTag, Tag

TAG_TYPES = ("Regular", "Negative", "GeneralProduct")


@dataclass(frozen=True)
class TagView:
    tag: Tag
    image_count: int


def require_tag(session: Session, project_id: str, tag_id: str) -> Tag:
    tag = tag_repo.get(session, project_id=project_id, tag_id=tag_id)
    if tag is None:
        raise NotFound(ErrorCode.NotFoundTag, f"Tag {tag_id} not found in project {project_id}.")
    return tag


class TagService:
    def __init__(self, db: sessionmaker[Session], limits: Limits) -> None:
        self.db = db
        self.limits = limits

    def list(self, project_id: str, iteration_id: str | None = None) -> list[TagView]:
        """The project's tags now, or as they were when ``iteration_id`` was trained."""
        with self.db() as session:
            require_project(session, project_id)
            if iteration_id is not None:
                require_iteration(session, project_id, iteration_id)
                return [self._as_trained(t) for t in iteration_repo.tags(session, iteration_id=iteration_id)]
            counts = tag_repo.image_counts(session, project_id=project_id)
            tags = tag_repo.list_for_project(session, project_id=project_id)
            return [TagView(t, counts.get(t.id, 0)) for t in tags]

    def get(self, project_id: str, tag_id: str, iteration_id: str | None = None) -> TagView:
        if iteration_id is not None:
            for view in self.list(project_id, iteration_id):
                if view.tag.id == tag_id:
                    return view
            raise NotFound(ErrorCode.NotFoundTag, f"Tag {tag_id} was not part of iteration {iteration_id}.")
        with self.db() as session:
            require_project(session, project_id)
            tag = require_tag(session, project_id, tag_id)
            return TagView(tag, tag_repo.image_counts(session, project_id=project_id).get(tag.id, 0))

    @staticmethod
    def _as_trained(row: IterationTag) -> TagView:
        tag = Tag(id=row.tag_id, name=row.name, description=row.description, type=row.type)
        return TagView(tag, row.image_count)

    def create(self, project_id: str, *, name: str, description: str | None, type: str | None) -> TagView:
        with transaction(self.db) as session:
            require_project(session, project_id)
            if tag_repo.count(session, project_id=project_id) >= self.limits.tags_per_project:
                raise BadRequest(
                    ErrorCode.BadRequestExceedTagPerProjectLimit,
                    f"The limit of {self.limits.tags_per_project} tags per project has been reached.",
                )
            tag = Tag(id=str(uuid.uuid4()), project_id=project_id)
            self._apply(session, tag, name=name, description=description or "", type=type or "Regular")
            session.add(tag)
            return TagView(tag, 0)

    def update(
        self, project_id: str, tag_id: str, *, name: str | None, description: str | None, type: str | None
    ) -> TagView:
        with transaction(self.db) as session:
            require_project(session, project_id)
            tag = require_tag(session, project_id, tag_id)
            new_type = type or tag.type
            if new_type == "Negative" and tag.type != "Negative":
                self._refuse_if_shared(session, tag)
            self._apply(
                session,
                tag,
                name=tag.name if name is None else name,
                description=tag.description if description is None else description,
                type=new_type,
            )
            count = tag_repo.image_counts(session, project_id=project_id).get(tag.id, 0)
            return TagView(tag, count)

    def delete(self, project_id: str, tag_id: str) -> None:
        with transaction(self.db) as session:
            require_project(session, project_id)
            session.delete(require_tag(session, project_id, tag_id))

    def _apply(self, session: Session, tag: Tag, *, name: str, description: str, type: str) -> None:
        name = name.strip()
        if not name or len(name) > self.limits.tag_name_length:
            raise BadRequest(
                ErrorCode.BadRequestTagName,
                f"A tag name must have 1 to {self.limits.tag_name_length} characters.",
            )
        other = tag_repo.find_by_name(session, project_id=tag.project_id, name=name)
        if other is not None and other.id != tag.id:
            raise BadRequest(ErrorCode.BadRequestTagNameNotUnique, f"A tag named '{name}' already exists.")
        if len(description) > self.limits.description_length:
            raise BadRequest(ErrorCode.BadRequestTagDescription, "The tag description is too long.")
        if type not in TAG_TYPES:
            raise BadRequest(
                ErrorCode.BadRequestTagType, f"Unknown tag type '{type}'; use {', '.join(TAG_TYPES)}."
            )
        if type != "Regular":
            holder = tag_repo.find_by_type(session, project_id=tag.project_id, type=type)
            if holder is not None and holder.id != tag.id:
                code = (
                    ErrorCode.BadRequestMultipleNegativeTag
                    if type == "Negative"
                    else ErrorCode.BadRequestMultipleGeneralProductTag
                )
                raise BadRequest(code, f"The project already has a {type} tag ('{holder.name}').")
        tag.name, tag.name_key, tag.description, tag.type = name, name.lower(), description, type

    def _refuse_if_shared(self, session: Session, tag: Tag) -> None:
        """A Negative tag must be alone on its images, so a shared tag cannot become Negative."""
        tagged = select(ImageTag.image_id).where(ImageTag.tag_id == tag.id)
        shared = session.scalar(
            select(ImageTag.image_id).where(ImageTag.image_id.in_(tagged), ImageTag.tag_id != tag.id).limit(1)
        )
        if shared is not None:
            raise BadRequest(
                ErrorCode.BadRequestNegativeAndRegularTagOnSameImage,
                f"Tag '{tag.name}' shares images with other tags, so it cannot become Negative.",
            )
