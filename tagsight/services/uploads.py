"""Adding training images: from bytes, base64 file batches and URLs.

A batch is one transaction. Structural mistakes (unknown tags, bad regions, too many entries)
refuse the whole batch with 400 and change nothing; problems with one image (format, size,
duplicates, per-image limits) give that entry its Azure status and the batch answers 207.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from tagsight.config import Limits
from tagsight.errors import BadRequest, ErrorCode
from tagsight.services.image_files import ImageFiles
from tagsight.services.labels import RegionBox, validate_metadata, validate_region
from tagsight.services.projects import is_detection, require_project
from tagsight.store.db import transaction
from tagsight.store.repos import images as image_repo
from tagsight.store.repos import tags as tag_repo
from tagsight.store.tables import Image, ImageTag, Region, Tag
from tagsight.vision.imageio import ImageLimits, ImageRejected, PreparedImage, prepare_image

OK = "OK"
OK_DUPLICATE = "OKDuplicate"


@dataclass
class UploadEntry:
    """One image to add. ``data`` is None when the bytes could not be obtained (see ``error``)."""

    source: str
    data: bytes | None
    tag_ids: list[str] = field(default_factory=list)
    regions: list[RegionBox] = field(default_factory=list)
    error: tuple[str, str] | None = None  # (Azure status, message)
    # This image's own metadata, merged over the batch's (dataset imports keep each file name).
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class UploadResult:
    source: str
    status: str
    image: Image | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status == OK


class UploadService:
    def __init__(self, db: sessionmaker[Session], files: ImageFiles, limits: Limits) -> None:
        self.db = db
        self.files = files
        self.limits = limits
        self.image_limits = ImageLimits(max_bytes=limits.image_bytes, max_side=limits.image_side)

    def create_images(
        self,
        project_id: str,
        entries: Sequence[UploadEntry],
        *,
        batch_tag_ids: Sequence[str] = (),
        metadata: Mapping[str, str] | None = None,
    ) -> list[UploadResult]:
        """Add ``entries`` to the project; one result per entry, in order."""
        self._check_batch(entries, batch_tag_ids, metadata)
        with self.db() as session:
            project = require_project(session, project_id)
            detection = is_detection(project)
            tags = self._resolve_tags(session, project_id, entries, batch_tag_ids)
        for entry in entries:
            if entry.regions and not detection:
                raise BadRequest(
                    ErrorCode.BadRequestImageRegions,
                    f"Entry {entry.source}: regions can only be added in object detection projects.",
                )
            for region in entry.regions:
                validate_region(region, where=f"Entry {entry.source}")
                if tags[region.tag_id].type == "Negative":
                    raise BadRequest(
                        ErrorCode.BadRequestImageRegions, "A region cannot carry the Negative tag."
                    )
        prepared = [self._prepare(entry, batch_tag_ids, tags) for entry in entries]
        return self._store(project_id, entries, prepared, batch_tag_ids, tags, dict(metadata or {}))

    def _check_batch(
        self, entries: Sequence[UploadEntry], batch_tag_ids: Sequence[str], metadata: Mapping[str, str] | None
    ) -> None:
        if not entries:
            raise BadRequest(ErrorCode.BadRequestImageBatch, "The batch contains no images.")
        if len(entries) > self.limits.images_per_batch:
            raise BadRequest(
                ErrorCode.BadRequestExceededBatchSize,
                f"A batch holds at most {self.limits.images_per_batch} images; got {len(entries)}.",
            )
        if len(set(batch_tag_ids)) > self.limits.tags_per_batch:
            raise BadRequest(
                ErrorCode.BadRequestImageTags,
                f"A batch applies at most {self.limits.tags_per_batch} tags; got {len(set(batch_tag_ids))}.",
            )
        for extra in [metadata, *(e.metadata for e in entries)]:
            if extra:
                validate_metadata({**(metadata or {}), **extra}, self.limits)

    def _resolve_tags(
        self, session: Session, project_id: str, entries: Sequence[UploadEntry], batch_tag_ids: Sequence[str]
    ) -> dict[str, Tag]:
        wanted = set(batch_tag_ids)
        for entry in entries:
            wanted.update(entry.tag_ids)
            wanted.update(r.tag_id for r in entry.regions)
        found = tag_repo.by_ids(session, project_id=project_id, tag_ids=wanted)
        missing = sorted(wanted - found.keys())
        if missing:
            raise BadRequest(
                ErrorCode.BadRequestImageTags,
                f"Tag(s) {', '.join(missing)} do not exist in project {project_id}.",
            )
        return found

    def _prepare(
        self, entry: UploadEntry, batch_tag_ids: Sequence[str], tags: Mapping[str, Tag]
    ) -> PreparedImage | UploadResult:
        if entry.error is not None:
            return UploadResult(entry.source, entry.error[0], message=entry.error[1])
        tag_ids = set(batch_tag_ids) | set(entry.tag_ids) | {r.tag_id for r in entry.regions}
        types = {tags[t].type for t in tag_ids}
        if "Negative" in types and len(tag_ids) > 1:
            return UploadResult(
                entry.source,
                "ErrorNegativeAndRegularTagOnSameImage",
                message="The Negative tag cannot be combined with other tags on one image.",
            )
        if len(tag_ids) > self.limits.tags_per_image:
            return UploadResult(
                entry.source,
                "ErrorTagLimitExceed",
                message=f"An image carries at most {self.limits.tags_per_image} tags.",
            )
        if len(entry.regions) > self.limits.regions_per_image:
            return UploadResult(
                entry.source,
                "ErrorRegionLimitExceed",
                message=f"An image carries at most {self.limits.regions_per_image} regions.",
            )
        try:
            return prepare_image(entry.data or b"", self.image_limits)
        except ImageRejected as exc:
            return UploadResult(entry.source, exc.status, message=exc.message)

    def _store(
        self,
        project_id: str,
        entries: Sequence[UploadEntry],
        prepared: list[PreparedImage | UploadResult],
        batch_tag_ids: Sequence[str],
        tags: Mapping[str, Tag],
        metadata: dict[str, str],
    ) -> list[UploadResult]:
        results: list[UploadResult] = []
        created_keys: list[str] = []
        with self.files.lock:
            try:
                with transaction(self.db) as session:
                    # The tags were read in another session; attach this session's copies, or a
                    # duplicate image loading the same tag would clash with them.
                    tags = {k: session.merge(v, load=False) for k, v in tags.items()}
                    hashes = [p.content_hash for p in prepared if isinstance(p, PreparedImage)]
                    known = image_repo.by_hashes(session, project_id=project_id, hashes=hashes)
                    room = self.limits.images_per_project - image_repo.count(session, project_id=project_id)
                    for entry, item in zip(entries, prepared, strict=True):
                        if isinstance(item, UploadResult):
                            results.append(item)
                        elif item.content_hash in known:
                            results.append(UploadResult(entry.source, OK_DUPLICATE, known[item.content_hash]))
                        elif room <= 0:
                            results.append(
                                UploadResult(
                                    entry.source,
                                    "ErrorLimitExceed",
                                    message=f"The project holds {self.limits.images_per_project} "
                                    "images, its limit.",
                                )
                            )
                        else:
                            self.files.put(item, created_keys)
                            image = self._new_image(project_id, item, entry, batch_tag_ids, tags, metadata)
                            session.add(image)
                            known[item.content_hash] = image
                            room -= 1
                            results.append(UploadResult(entry.source, OK, image))
            except BaseException:
                self.files.discard_keys(created_keys)
                raise
        return results

    @staticmethod
    def _new_image(
        project_id: str,
        item: PreparedImage,
        entry: UploadEntry,
        batch_tag_ids: Sequence[str],
        tags: Mapping[str, Tag],
        metadata: dict[str, str],
    ) -> Image:
        image = Image(
            id=str(uuid.uuid4()),
            project_id=project_id,
            content_hash=item.content_hash,
            width=item.width,
            height=item.height,
            format=item.format,
            metadata_={**metadata, **entry.metadata},
        )
        tag_ids = list(dict.fromkeys([*batch_tag_ids, *entry.tag_ids, *(r.tag_id for r in entry.regions)]))
        image.tags = [ImageTag(tag_id=t, tag=tags[t]) for t in tag_ids]
        image.regions = [
            Region(id=str(uuid.uuid4()), tag_id=r.tag_id, tag=tags[r.tag_id], **r.box())
            for r in entry.regions
        ]
        return image
