"""Cached suggestions: one row per (iteration, image), written once and then only read."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from tagsight.store.tables import Image, ImageTag, Suggestion


def by_images(session: Session, *, iteration_id: str, image_ids: Iterable[str]) -> dict[str, Suggestion]:
    ids = list(set(image_ids))
    if not ids:
        return {}
    query = select(Suggestion).where(Suggestion.iteration_id == iteration_id, Suggestion.image_id.in_(ids))
    return {s.image_id: s for s in session.scalars(query)}


def add(session: Session, *, rows: Iterable[Suggestion]) -> None:
    """Add rows whose (iteration, image) is not cached yet; a row already there is kept as is."""
    rows = list(rows)
    if not rows:
        return
    existing = by_images(session, iteration_id=rows[0].iteration_id, image_ids=[r.image_id for r in rows])
    session.add_all(r for r in rows if r.image_id not in existing)


def _untagged(project_id: str):  # type: ignore[no-untyped-def]
    return Image.project_id == project_id, ~exists().where(ImageTag.image_id == Image.id)


def untagged_missing(session: Session, *, project_id: str, iteration_id: str) -> list[Image]:
    """Untagged images of the project that the iteration has no suggestion for yet."""
    cached = exists().where(Suggestion.iteration_id == iteration_id, Suggestion.image_id == Image.id)
    query = select(Image).where(*_untagged(project_id), ~cached).order_by(Image.created, Image.id)
    return list(session.scalars(query))


def untagged(session: Session, *, project_id: str, iteration_id: str) -> list[tuple[Suggestion, Image]]:
    """Every cached suggestion of the iteration for an image of the project that is still untagged."""
    query = (
        select(Suggestion, Image)
        .join(Image, Image.id == Suggestion.image_id)
        .where(Suggestion.iteration_id == iteration_id, *_untagged(project_id))
    )
    return [(s, i) for s, i in session.execute(query)]
