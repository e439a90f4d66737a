from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tagsight.store.tables import Project


def get(session: Session, *, project_id: str) -> Project | None:
    return session.get(Project, project_id)


def list_all(session: Session) -> list[Project]:
    return list(session.scalars(select(Project).order_by(Project.created)))


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Project)) or 0


def name_taken(session: Session, *, name: str, exclude_id: str | None = None) -> bool:
    query = select(Project.id).where(func.lower(Project.name) == name.lower())
    if exclude_id is not None:
        query = query.where(Project.id != exclude_id)
    return session.scalar(query.limit(1)) is not None
