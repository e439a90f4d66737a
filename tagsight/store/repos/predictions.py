from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tagsight.store.tables import StoredPrediction


def query(
    session: Session,
    *,
    project_id: str,
    iteration_id: str | None,
    application: str | None,
    start_time: datetime | None,
    end_time: datetime | None,
    newest_first: bool,
) -> list[StoredPrediction]:
    q = select(StoredPrediction).where(StoredPrediction.project_id == project_id)
    if iteration_id:
        q = q.where(StoredPrediction.iteration_id == iteration_id)
    if application:
        q = q.where(StoredPrediction.application == application)
    if start_time:
        q = q.where(StoredPrediction.created >= start_time)
    if end_time:
        q = q.where(StoredPrediction.created <= end_time)
    order = StoredPrediction.created.desc() if newest_first else StoredPrediction.created
    return list(session.scalars(q.order_by(order, StoredPrediction.id)))


def get(session: Session, *, project_id: str, prediction_id: str) -> StoredPrediction | None:
    row = session.get(StoredPrediction, prediction_id)
    return row if row is not None and row.project_id == project_id else None


def delete(session: Session, *, project_id: str, ids: list[str]) -> set[str]:
    rows = list(
        session.scalars(
            select(StoredPrediction).where(
                StoredPrediction.project_id == project_id, StoredPrediction.id.in_(ids)
            )
        )
    )
    for row in rows:
        session.delete(row)
    return {r.content_hash for r in rows}
