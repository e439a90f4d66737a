from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tagsight.store.tables import Iteration, IterationImage, IterationTag


def get(session: Session, *, project_id: str, iteration_id: str) -> Iteration | None:
    iteration = session.get(Iteration, iteration_id)
    return iteration if iteration is not None and iteration.project_id == project_id else None


def list_for_project(session: Session, *, project_id: str) -> list[Iteration]:
    query = select(Iteration).where(Iteration.project_id == project_id).order_by(Iteration.created)
    return list(session.scalars(query))


def count(session: Session, *, project_id: str) -> int:
    return session.scalar(select(func.count()).where(Iteration.project_id == project_id)) or 0


def names(session: Session, *, project_id: str) -> set[str]:
    return set(session.scalars(select(Iteration.name).where(Iteration.project_id == project_id)))


def in_status(session: Session, *, project_id: str, status: str) -> Iteration | None:
    query = select(Iteration).where(Iteration.project_id == project_id, Iteration.status == status)
    return session.scalar(query.limit(1))


def latest_completed(session: Session, *, project_id: str) -> Iteration | None:
    query = (
        select(Iteration)
        .where(Iteration.project_id == project_id, Iteration.status == "Completed")
        .order_by(Iteration.trained_at.desc(), Iteration.created.desc())
    )
    return session.scalar(query.limit(1))


def by_publish_name(session: Session, *, project_id: str, publish_name: str) -> Iteration | None:
    query = select(Iteration).where(
        Iteration.project_id == project_id, Iteration.publish_name == publish_name
    )
    return session.scalar(query.limit(1))


def any_published(session: Session, *, project_id: str) -> bool:
    query = select(Iteration.id).where(
        Iteration.project_id == project_id, Iteration.publish_name.is_not(None)
    )
    return session.scalar(query.limit(1)) is not None


def tags(session: Session, *, iteration_id: str) -> list[IterationTag]:
    query = (
        select(IterationTag).where(IterationTag.iteration_id == iteration_id).order_by(IterationTag.position)
    )
    return list(session.scalars(query))


def images(session: Session, *, iteration_id: str) -> list[IterationImage]:
    query = (
        select(IterationImage)
        .where(IterationImage.iteration_id == iteration_id)
        .order_by(IterationImage.image_created, IterationImage.image_id)
    )
    return list(session.scalars(query))


def image_ids(session: Session, *, iteration_id: str) -> set[str]:
    query = select(IterationImage.image_id).where(IterationImage.iteration_id == iteration_id)
    return set(session.scalars(query))


def claim_next(session: Session, *, worker_id: str, now: object) -> Iteration | None:
    """Atomically take the oldest unclaimed training job (safe with several workers)."""
    candidate = session.scalar(
        select(Iteration.id)
        .where(Iteration.status == "Training", Iteration.claimed_by.is_(None))
        .order_by(Iteration.created)
        .limit(1)
    )
    if candidate is None:
        return None
    taken = session.execute(
        update(Iteration)
        .where(Iteration.id == candidate, Iteration.claimed_by.is_(None))
        .values(claimed_by=worker_id, claimed_at=now)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.get(Iteration, candidate)


def orphaned(session: Session, *, worker_id: str) -> list[Iteration]:
    """Jobs left in Training by a worker that is gone (any claim that is not ours)."""
    query = select(Iteration).where(
        Iteration.status == "Training", Iteration.claimed_by.is_not(None), Iteration.claimed_by != worker_id
    )
    return list(session.scalars(query))
