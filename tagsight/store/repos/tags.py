from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tagsight.store.tables import ImageTag, Tag


def get(session: Session, *, project_id: str, tag_id: str) -> Tag | None:
    tag = session.get(Tag, tag_id)
    return tag if tag is not None and tag.project_id == project_id else None


def list_for_project(session: Session, *, project_id: str) -> list[Tag]:
    return list(session.scalars(select(Tag).where(Tag.project_id == project_id).order_by(Tag.created)))


def by_ids(session: Session, *, project_id: str, tag_ids: Iterable[str]) -> dict[str, Tag]:
    ids = list(set(tag_ids))
    if not ids:
        return {}
    rows = session.scalars(select(Tag).where(Tag.project_id == project_id, Tag.id.in_(ids)))
    return {t.id: t for t in rows}


def count(session: Session, *, project_id: str) -> int:
    return session.scalar(select(func.count()).where(Tag.project_id == project_id)) or 0


def find_by_name(session: Session, *, project_id: str, name: str) -> Tag | None:
    return session.scalar(select(Tag).where(Tag.project_id == project_id, Tag.name_key == name.lower()))


def find_by_type(session: Session, *, project_id: str, type: str) -> Tag | None:
    return session.scalar(select(Tag).where(Tag.project_id == project_id, Tag.type == type).limit(1))


def image_counts(session: Session, *, project_id: str) -> dict[str, int]:
    query = (
        select(ImageTag.tag_id, func.count())
        .join(Tag, Tag.id == ImageTag.tag_id)
        .where(Tag.project_id == project_id)
        .group_by(ImageTag.tag_id)
    )
    return {tag_id: n for tag_id, n in session.execute(query)}
