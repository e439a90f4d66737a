from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, delete, exists, func, select
from sqlalchemy.orm import Session

from tagsight.store.tables import Image, ImageTag, IterationImage, Region, StoredPrediction


@dataclass(frozen=True)
class ImageFilter:
    """Which images of a project a listing or count covers."""

    project_id: str
    tagging: str = "All"  # "All" | "Tagged" | "Untagged"
    tag_ids: Sequence[str] = ()  # any of these tags (implies tagged)
    metadata: Sequence[tuple[str, str]] = ()  # every (key, value) pair must match
    iteration_id: str | None = None  # only images the iteration was trained on


def _where(query: Select[tuple[Image]] | Select[tuple[int]], f: ImageFilter):  # type: ignore[no-untyped-def]
    query = query.where(Image.project_id == f.project_id)
    tagged = exists().where(ImageTag.image_id == Image.id)
    if f.tag_ids:
        query = query.where(
            exists().where(ImageTag.image_id == Image.id, ImageTag.tag_id.in_(list(f.tag_ids)))
        )
    elif f.tagging == "Tagged":
        query = query.where(tagged)
    elif f.tagging == "Untagged":
        query = query.where(~tagged)
    if f.iteration_id is not None:
        trained = select(IterationImage.image_id).where(IterationImage.iteration_id == f.iteration_id)
        query = query.where(Image.id.in_(trained))
    for key, value in f.metadata:
        query = query.where(Image.metadata_[key].as_string() == value)
    return query


def list_filtered(
    session: Session, *, where: ImageFilter, newest_first: bool, take: int, skip: int
) -> list[Image]:
    order = (Image.created.desc(), Image.id.desc()) if newest_first else (Image.created, Image.id)
    query = _where(select(Image), where).order_by(*order).offset(skip).limit(take)
    return list(session.scalars(query))


def count_filtered(session: Session, *, where: ImageFilter) -> int:
    return session.scalar(_where(select(func.count(Image.id)), where)) or 0


def count(session: Session, *, project_id: str) -> int:
    return session.scalar(select(func.count()).where(Image.project_id == project_id)) or 0


def by_ids(session: Session, *, project_id: str, image_ids: Iterable[str]) -> dict[str, Image]:
    ids = list(set(image_ids))
    if not ids:
        return {}
    rows = session.scalars(select(Image).where(Image.project_id == project_id, Image.id.in_(ids)))
    return {i.id: i for i in rows}


def by_hashes(session: Session, *, project_id: str, hashes: Iterable[str]) -> dict[str, Image]:
    wanted = list(set(hashes))
    if not wanted:
        return {}
    query = select(Image).where(Image.project_id == project_id, Image.content_hash.in_(wanted))
    return {i.content_hash: i for i in session.scalars(query)}


def hashes_for(session: Session, *, project_id: str, image_ids: Iterable[str] | None) -> set[str]:
    """Content hashes of some images of a project (all of them, and its predictions', for None)."""
    query = select(Image.content_hash).where(Image.project_id == project_id)
    if image_ids is not None:
        return set(session.scalars(query.where(Image.id.in_(list(image_ids)))))
    predictions = select(StoredPrediction.content_hash).where(StoredPrediction.project_id == project_id)
    return set(session.scalars(query.union(predictions)))


def referenced_hashes(session: Session, *, hashes: Iterable[str]) -> set[str]:
    """Which of ``hashes`` an image or a stored prediction still uses."""
    wanted = list(set(hashes))
    if not wanted:
        return set()
    images = select(Image.content_hash).where(Image.content_hash.in_(wanted))
    predictions = select(StoredPrediction.content_hash).where(StoredPrediction.content_hash.in_(wanted))
    return set(session.scalars(images.union(predictions)))


def all_hashes(session: Session) -> set[str]:
    images = select(Image.content_hash)
    return set(session.scalars(images.union(select(StoredPrediction.content_hash))))


def delete_images(session: Session, *, project_id: str, image_ids: Iterable[str] | None) -> int:
    query = delete(Image).where(Image.project_id == project_id)
    if image_ids is not None:
        query = query.where(Image.id.in_(list(image_ids)))
    return session.execute(query).rowcount  # type: ignore[attr-defined, no-any-return]


def regions_by_ids(session: Session, *, project_id: str, region_ids: Iterable[str]) -> list[Region]:
    query = (
        select(Region)
        .join(Image, Image.id == Region.image_id)
        .where(Image.project_id == project_id, Region.id.in_(list(set(region_ids))))
    )
    return list(session.scalars(query))
