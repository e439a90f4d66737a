from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tagsight.store.tables import Export


def get(session: Session, *, export_id: str) -> Export | None:
    return session.get(Export, export_id)


def find(session: Session, *, iteration_id: str, platform: str, flavor: str) -> Export | None:
    query = select(Export).where(
        Export.iteration_id == iteration_id, Export.platform == platform, Export.flavor == flavor
    )
    return session.scalar(query.limit(1))


def list_for_iteration(session: Session, *, iteration_id: str) -> list[Export]:
    query = select(Export).where(Export.iteration_id == iteration_id).order_by(Export.created)
    return list(session.scalars(query))


def in_status(session: Session, *, status: str) -> list[Export]:
    return list(session.scalars(select(Export).where(Export.status == status).order_by(Export.created)))


def blob_keys(session: Session) -> set[str]:
    return {k for k in session.scalars(select(Export.blob_key).where(Export.blob_key.is_not(None))) if k}
