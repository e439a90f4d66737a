"""Labels on existing images: tags, regions (boxes) and metadata."""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from tagsight.config import Limits
from tagsight.errors import BadRequest, ErrorCode
from tagsight.services.projects import is_detection, require_project
from tagsight.store.db import transaction
from tagsight.store.repos import images as image_repo
from tagsight.store.repos import tags as tag_repo
from tagsight.store.tables import Image, ImageTag, Region, Tag

# Boxes drawn in a browser and rounded may overshoot an edge by a hair.
_EDGE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class RegionBox:
    tag_id: str
    left: float
    top: float
    width: float
    height: float

    def box(self) -> dict[str, float]:
        return {"left": self.left, "top": self.top, "width": self.width, "height": self.height}


def validate_region(region: RegionBox, *, where: str) -> None:
    values = (region.left, region.top, region.width, region.height)
    inside = (
        all(math.isfinite(v) for v in values)
        and region.left >= 0
        and region.top >= 0
        and region.width > 0
        and region.height > 0
        and region.left + region.width <= 1 + _EDGE_TOLERANCE
        and region.top + region.height <= 1 + _EDGE_TOLERANCE
    )
    if not inside:
        raise BadRequest(
            ErrorCode.BadRequestImageRegions,
            f"{where}: region (left={region.left}, top={region.top}, width={region.width}, "
            f"height={region.height}) must lie inside the image, in coordinates normalised to 0..1.",
        )


def validate_metadata(metadata: Mapping[str, str], limits: Limits) -> None:
    if len(metadata) > limits.metadata_per_image:
        raise BadRequest(
            ErrorCode.BadRequestImageMetadataKey,
            f"An image carries at most {limits.metadata_per_image} metadata entries.",
        )
    for key, value in metadata.items():
        if not key or len(key) > limits.metadata_key_length:
            raise BadRequest(
                ErrorCode.BadRequestImageMetadataKey,
                f"Metadata keys must have 1 to {limits.metadata_key_length} characters.",
            )
        if not isinstance(value, str) or len(value) > limits.metadata_value_length:
            raise BadRequest(
                ErrorCode.BadRequestImageMetadataValue,
                f"Metadata values must be strings of at most {limits.metadata_value_length} characters.",
            )


@dataclass
class TagLinkSummary:
    created: list[tuple[str, str]] = field(default_factory=list)  # (image_id, tag_id)
    duplicated: list[tuple[str, str]] = field(default_factory=list)
    exceeded: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class RegionSummary:
    created: list[Region] = field(default_factory=list)
    duplicated: list[tuple[str, RegionBox]] = field(default_factory=list)  # (image_id, region)
    exceeded: list[tuple[str, RegionBox]] = field(default_factory=list)


def _images_or_400(session: Session, project_id: str, image_ids: Sequence[str]) -> dict[str, Image]:
    found = image_repo.by_ids(session, project_id=project_id, image_ids=image_ids)
    missing = sorted(set(image_ids) - found.keys())
    if missing:
        raise BadRequest(
            ErrorCode.BadRequestInvalidIds, f"Image(s) {', '.join(missing)} do not exist in this project."
        )
    return found


def _tags_or_400(session: Session, project_id: str, tag_ids: Sequence[str]) -> dict[str, Tag]:
    found = tag_repo.by_ids(session, project_id=project_id, tag_ids=tag_ids)
    missing = sorted(set(tag_ids) - found.keys())
    if missing:
        raise BadRequest(
            ErrorCode.BadRequestImageTags, f"Tag(s) {', '.join(missing)} do not exist in this project."
        )
    return found


class LabelService:
    def __init__(self, db: sessionmaker[Session], limits: Limits) -> None:
        self.db = db
        self.limits = limits

    def tag_images(self, project_id: str, links: Sequence[tuple[str, str]]) -> TagLinkSummary:
        if len(links) > self.limits.image_tag_entries_per_batch:
            raise BadRequest(
                ErrorCode.BadRequestExceededBatchSize,
                f"At most {self.limits.image_tag_entries_per_batch} image tags per batch.",
            )
        summary = TagLinkSummary()
        with transaction(self.db) as session:
            require_project(session, project_id)
            images = _images_or_400(session, project_id, [i for i, _ in links])
            tags = _tags_or_400(session, project_id, [t for _, t in links])
            for image_id, tag_id in dict.fromkeys(links):
                image = images[image_id]
                current = {link.tag_id for link in image.tags}
                if tag_id in current:
                    summary.duplicated.append((image_id, tag_id))
                    continue
                after = {tags[tag_id].type} | {link.tag.type for link in image.tags}
                if "Negative" in after and current:
                    raise BadRequest(
                        ErrorCode.BadRequestNegativeAndRegularTagOnSameImage,
                        f"Image {image_id}: the Negative tag cannot be combined with other tags.",
                    )
                if len(current) >= self.limits.tags_per_image:
                    summary.exceeded.append((image_id, tag_id))
                    continue
                image.tags.append(ImageTag(tag_id=tag_id, tag=tags[tag_id]))
                summary.created.append((image_id, tag_id))
        return summary

    def untag_images(self, project_id: str, image_ids: Sequence[str], tag_ids: Sequence[str]) -> None:
        with transaction(self.db) as session:
            require_project(session, project_id)
            owned = list(image_repo.by_ids(session, project_id=project_id, image_ids=image_ids))
            if not owned or not tag_ids:
                return
            session.execute(
                delete(ImageTag).where(ImageTag.image_id.in_(owned), ImageTag.tag_id.in_(list(tag_ids)))
            )
            # In detection projects a tag on an image is its boxes; removing the tag removes them.
            session.execute(
                delete(Region).where(Region.image_id.in_(owned), Region.tag_id.in_(list(tag_ids)))
            )

    def add_regions(self, project_id: str, entries: Sequence[tuple[str, RegionBox]]) -> RegionSummary:
        if len(entries) > self.limits.images_per_batch:
            raise BadRequest(
                ErrorCode.BadRequestExceededBatchSize,
                f"At most {self.limits.images_per_batch} regions per batch.",
            )
        summary = RegionSummary()
        with transaction(self.db) as session:
            project = require_project(session, project_id)
            if not is_detection(project):
                raise BadRequest(
                    ErrorCode.BadRequestImageRegions,
                    "Regions can only be added in object detection projects.",
                )
            images = _images_or_400(session, project_id, [i for i, _ in entries])
            tags = _tags_or_400(session, project_id, [r.tag_id for _, r in entries])
            for n, (_, region) in enumerate(entries):
                validate_region(region, where=f"Region {n}")
                if tags[region.tag_id].type == "Negative":
                    raise BadRequest(
                        ErrorCode.BadRequestImageRegions, "A region cannot carry the Negative tag."
                    )
            for image_id, region in entries:
                self._add_region(images[image_id], region, tags[region.tag_id], summary)
        return summary

    def _add_region(self, image: Image, region: RegionBox, tag: Tag, summary: RegionSummary) -> None:
        same = any(
            r.tag_id == region.tag_id and all(abs(getattr(r, k) - v) < 1e-9 for k, v in region.box().items())
            for r in image.regions
        )
        if same:
            summary.duplicated.append((image.id, region))
            return
        if len(image.regions) >= self.limits.regions_per_image:
            summary.exceeded.append((image.id, region))
            return
        if any(t.tag.type == "Negative" for t in image.tags):
            raise BadRequest(
                ErrorCode.BadRequestNegativeAndRegularTagOnSameImage,
                f"Image {image.id} carries the Negative tag, so it cannot have regions.",
            )
        new = Region(id=str(uuid.uuid4()), image_id=image.id, tag_id=tag.id, tag=tag, **region.box())
        image.regions.append(new)
        if all(link.tag_id != tag.id for link in image.tags):
            image.tags.append(ImageTag(tag_id=tag.id, tag=tag))
        summary.created.append(new)

    def delete_regions(self, project_id: str, region_ids: Sequence[str]) -> None:
        with transaction(self.db) as session:
            require_project(session, project_id)
            regions = image_repo.regions_by_ids(session, project_id=project_id, region_ids=region_ids)
            touched = {(r.image_id, r.tag_id) for r in regions}
            for region in regions:
                session.delete(region)
            session.flush()
            for image_id, tag_id in touched:
                left = session.scalar(
                    select(Region.id).where(Region.image_id == image_id, Region.tag_id == tag_id).limit(1)
                )
                if left is None:
                    session.execute(
                        delete(ImageTag).where(ImageTag.image_id == image_id, ImageTag.tag_id == tag_id)
                    )

    def update_metadata(
        self, project_id: str, image_ids: Sequence[str], metadata: Mapping[str, str]
    ) -> list[tuple[str, str, dict[str, str]]]:
        """Merge ``metadata`` into each image; returns (image_id, status, metadata) per image."""
        validate_metadata(metadata, self.limits)
        results = []
        with transaction(self.db) as session:
            require_project(session, project_id)
            images = image_repo.by_ids(session, project_id=project_id, image_ids=image_ids)
            for image_id in dict.fromkeys(image_ids):
                image = images.get(image_id)
                if image is None:
                    results.append((image_id, "ErrorImageNotFound", dict(metadata)))
                    continue
                merged = {**image.metadata_, **metadata}
                if len(merged) > self.limits.metadata_per_image:
                    results.append((image_id, "ErrorLimitExceed", dict(metadata)))
                    continue
                image.metadata_ = merged
                results.append((image_id, "OK", merged))
        return results
