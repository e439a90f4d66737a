"""Projects out as datasets: a project's tagged images in any format that can hold its kind.

Each image is written under the file name it was imported with (``fileName`` metadata) when it
has one; its bytes are read from the blob store one image at a time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from tagsight.datasets import FORMATS, Box, DatasetError, ExportItem, Skipped
from tagsight.datasets.formats import DatasetFormat
from tagsight.errors import BadRequest, ErrorCode
from tagsight.services.image_files import ImageFiles
from tagsight.services.images import ImageService
from tagsight.services.projects import ProjectService, is_detection
from tagsight.services.tags import TagService
from tagsight.store.blobs import original_key
from tagsight.store.tables import Image

__all__ = ["FILE_NAME_KEY", "DatasetExporter", "ExportSummary", "Progress", "export_name"]

# Called as progress(done, total) as the work goes.
Progress = Callable[[int, int], None]

# Each imported image keeps the name it had in the dataset here, so exports can use it again.
FILE_NAME_KEY = "fileName"
_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "BMP": ".bmp", "GIF": ".gif", "WEBP": ".webp"}
_SAME_FORMAT = {".jpeg": "JPEG", ".jpe": "JPEG"}
_UNSAFE = re.compile(r"[\x00-\x1f/\\:*?\"<>|]")


@dataclass
class ExportSummary:
    images: int = 0
    boxes: int = 0
    tags: int = 0
    # Images without any tag are not part of a labelled dataset.
    untagged_left_out: int = 0
    skipped: list[Skipped] = field(default_factory=list)


class DatasetExporter:
    def __init__(
        self, projects: ProjectService, tags: TagService, images: ImageService, files: ImageFiles
    ) -> None:
        self.projects = projects
        self.tags = tags
        self.images = images
        self.files = files

    def export(
        self, project_id: str, fmt: DatasetFormat, out: Path, *, progress: Progress | None = None
    ) -> ExportSummary:
        """Write the project's tagged images to the new (or empty) folder ``out``."""
        project = self.projects.get(project_id)
        detection = is_detection(project)
        writer = fmt.write_detection if detection else fmt.write_classification
        if writer is None:
            kind = "object detection" if detection else "classification"
            fits = [
                f.name
                for f in FORMATS.values()
                if (f.write_detection if detection else f.write_classification)
            ]
            raise BadRequest(
                ErrorCode.BadRequestNotSupported,
                f"The {fmt.name} format cannot hold {kind} projects; use {' or '.join(fits)}.",
            )
        tag_names = [v.tag.name for v in self.tags.list(project_id)]
        summary = ExportSummary(
            tags=len(tag_names), untagged_left_out=self.images.count(project_id, tagging="Untagged")
        )
        items = self._items(project_id, detection, summary, progress)
        try:
            writer(out, tag_names, items)
        except DatasetError as exc:
            raise BadRequest(ErrorCode.BadRequest, str(exc)) from exc
        return summary

    def _items(
        self, project_id: str, detection: bool, summary: ExportSummary, progress: Progress | None
    ) -> Iterator[ExportItem]:
        total = self.images.count(project_id, tagging="Tagged")
        taken: set[str] = set()
        skip = 0
        while page := self.images.list(project_id, tagging="Tagged", order_by="Oldest", take=256, skip=skip):
            skip += len(page)
            for image in page:
                if not self.files.blobs.exists(original_key(image.content_hash)):
                    summary.skipped.append(Skipped(image.id, "the image file is missing from the store"))
                    continue
                item = self._item(image, detection, export_name(image, taken))
                summary.images += 1
                summary.boxes += len(item.boxes)
                yield item
                if progress:
                    progress(summary.images, total)

    def _item(self, image: Image, detection: bool, name: str) -> ExportItem:
        boxes = tuple(Box(r.tag.name, r.left, r.top, r.width, r.height) for r in image.regions)
        boxed = {b.tag for b in boxes}
        tags = tuple(t.tag.name for t in image.tags if t.tag.name not in boxed)
        content_hash = image.content_hash
        return ExportItem(
            name,
            image.width,
            image.height,
            lambda: self.files.original(content_hash),
            tags,
            boxes if detection else (),
        )


def export_name(image: Image, taken: set[str]) -> str:
    """A file name for the image: the one it was imported with when there was one, unique by stem.

    Stems must be unique (YOLO and VOC pair files by stem), ignoring case (case-insensitive file
    systems); a clash gets part of the content hash.
    """
    extension = _EXTENSIONS.get(image.format, ".jpg")
    original = PurePath(str(image.metadata_.get(FILE_NAME_KEY, "")).replace("\\", "/")).name
    stem, suffix = PurePath(original).stem, PurePath(original).suffix.lower()
    stem = _UNSAFE.sub("_", stem).lstrip(".").strip() or image.content_hash[:16]
    if suffix == extension or _SAME_FORMAT.get(suffix) == image.format:
        extension = suffix
    if stem.lower() in taken:
        stem = f"{stem}-{image.content_hash[:8]}"
    taken.add(stem.lower())
    return f"{stem}{extension}"
