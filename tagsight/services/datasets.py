"""Datasets in and out of projects: COCO, Pascal VOC, YOLO, folders and CSV.

Importing goes through ``UploadService`` like any API upload, so image validation, deduplication
by content hash and the blob store behave exactly the same. Before anything is uploaded, files
with identical bytes are merged (a multilabel folder dataset holds an image once per tag), which
also tells whether the new project must be Multilabel. Nothing that cannot be imported is dropped
silently: every image, box or label left out is in the summary with its reason. Exporting is
``dataset_export.DatasetExporter``'s; this service is the one way in for the CLI and the API.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session, sessionmaker

from tagsight.config import Limits
from tagsight.datasets import (
    Box,
    Dataset,
    DatasetError,
    ImportItem,
    Skipped,
    extract_zip,
    get_format,
    zip_folder,
)
from tagsight.datasets.formats import DatasetFormat
from tagsight.errors import BadRequest, ErrorCode, NotFound
from tagsight.services import domains
from tagsight.services.dataset_export import FILE_NAME_KEY, DatasetExporter, ExportSummary, Progress
from tagsight.services.image_files import ImageFiles
from tagsight.services.images import ImageService
from tagsight.services.labels import RegionBox
from tagsight.services.projects import ProjectFields, ProjectService, is_detection
from tagsight.services.tags import TagService
from tagsight.services.uploads import OK, OK_DUPLICATE, UploadEntry, UploadService
from tagsight.store.tables import Project, Tag

__all__ = ["DatasetService", "ExportSummary", "ImportSummary", "Progress"]

# Upload batches are also cut by size, so a batch of large photos does not sit in memory at once.
BATCH_BYTES = 48 * 1024 * 1024
# Zips sent over HTTP: the most the archive may hold unpacked.
MAX_ARCHIVE_BYTES = 4 * 1024**3
# Boxes of one tag overlapping this much on copies of one image mark the same object.
SAME_OBJECT_IOU = 0.5


@dataclass
class ImportSummary:
    project_id: str
    project_name: str
    project_created: bool
    images_added: int = 0
    regions_added: int = 0
    tags_created: list[str] = field(default_factory=list)
    # Dataset files whose bytes repeat another's: imported once, with the labels of all.
    merged: int = 0
    skipped: list[Skipped] = field(default_factory=list)


@dataclass
class _Distinct:
    """One image of the dataset after merging files with the same bytes."""

    name: str
    path: Path
    size: int
    tags: list[str]
    boxes: list[Box]

    def merge(self, item: ImportItem, skipped: list[Skipped]) -> None:
        """Add the labels of ``item``, the same file under another name.

        Datasets that hold a photo twice often box its objects twice, slightly differently; a box
        that overlaps one of the same tag already there is that object again and is left out.
        """
        self.tags.extend(t for t in item.tags if t not in self.tags)
        for box in item.boxes:
            same = [b for b in self.boxes if b.tag == box.tag and b.iou(box) >= SAME_OBJECT_IOU]
            if not same:
                self.boxes.append(box)
            elif box not in same:
                overlap = max(b.iou(box) for b in same)
                reason = (
                    f"box for '{box.tag}' marks an object already boxed in {self.name} (IoU {overlap:.2f})"
                )
                skipped.append(Skipped(item.name, reason))

    @property
    def tag_keys(self) -> set[str]:
        return {_key(t) for t in self.tags} | {_key(b.tag) for b in self.boxes}


def _key(tag: str) -> str:
    """Tag names match ignoring case and surrounding spaces, as Azure's do."""
    return tag.strip().lower()


class DatasetService:
    def __init__(self, db: sessionmaker[Session], files: ImageFiles, limits: Limits) -> None:
        # The same services the API uses (they hold no state), so imports obey the same rules.
        self.projects = ProjectService(db, limits, files)
        self.tags = TagService(db, limits)
        self.images = ImageService(db, files)
        self.uploads = UploadService(db, files, limits)
        self.files = files
        self.limits = limits
        self.exporter = DatasetExporter(self.projects, self.tags, self.images, files)

    # --- import ---------------------------------------------------------------------------------

    def import_dataset(
        self,
        dataset: Dataset,
        *,
        project_id: str | None = None,
        project_name: str | None = None,
        boxes_only: bool = False,
        progress: Progress | None = None,
    ) -> ImportSummary:
        """Add ``dataset`` to the project ``project_id``, or to the one named ``project_name``.

        A project named ``project_name`` is created when there is none: object detection when the
        dataset has boxes (or its format only describes boxes, ``boxes_only``), else
        classification, Multilabel when an image carries several tags. Tags are created as needed
        (names match case-insensitively, as on Azure).
        """
        skipped = list(dataset.skipped)
        distinct, merged = self._distinct(dataset.items, skipped)
        detection = boxes_only or any(d.boxes for d in distinct)
        multilabel = any(len(d.tag_keys) > 1 for d in distinct)
        used = [*(t for d in distinct for t in d.tags), *(b.tag for d in distinct for b in d.boxes)]
        names = self._valid_tag_names([*dataset.tags, *used], skipped)
        if len({_key(n) for n in names}) > self.limits.tags_per_project:
            raise BadRequest(
                ErrorCode.BadRequestExceedTagPerProjectLimit,
                f"The dataset has more than {self.limits.tags_per_project} tags, a project's limit.",
            )
        project, created = self._project(project_id, project_name, detection, multilabel)
        if any(d.boxes for d in distinct) and not is_detection(project):
            raise BadRequest(
                ErrorCode.BadRequestImageRegions,
                f"The dataset has boxes, but project '{project.name}' is a classification project; "
                "import it into an object detection project.",
            )
        summary = ImportSummary(project.id, project.name, created, merged=merged, skipped=skipped)
        tags = self._ensure_tags(project, names, summary)
        self._upload(project, distinct, tags, summary, progress)
        return summary

    def import_archive(
        self,
        archive: Path | BinaryIO,
        format_name: str,
        *,
        project_id: str | None = None,
        project_name: str | None = None,
    ) -> ImportSummary:
        """Import a zip holding a dataset in ``format_name`` (the HTTP route's way in)."""
        fmt = self.format(format_name)
        with tempfile.TemporaryDirectory(prefix="tagsight-import-") as tmp:
            try:
                root = extract_zip(archive, Path(tmp), max_bytes=MAX_ARCHIVE_BYTES)
            except DatasetError as exc:
                raise BadRequest(ErrorCode.BadRequest, str(exc)) from exc
            dataset = self.read(fmt, root)
            return self.import_dataset(
                dataset, project_id=project_id, project_name=project_name, boxes_only=fmt.boxes_only
            )

    def projects_named(self, name: str) -> list[Project]:
        """The project called ``name`` (names are unique ignoring case), as a list of 0 or 1."""
        wanted = name.strip().lower()
        return [p for p in self.projects.list() if wanted and p.name.lower() == wanted]

    def find_project(self, name: str) -> Project:
        found = self.projects_named(name)
        if not found:
            raise NotFound(ErrorCode.NotFoundProject, f"There is no project named '{name}'.")
        return found[0]

    @staticmethod
    def format(name: str) -> DatasetFormat:
        try:
            return get_format(name)
        except DatasetError as exc:
            raise BadRequest(ErrorCode.BadRequest, str(exc)) from exc

    @staticmethod
    def read(fmt: DatasetFormat, path: Path) -> Dataset:
        """Parse a dataset; a dataset that cannot be read at all is a 400 with the reader's reason."""
        try:
            return fmt.read(path)
        except DatasetError as exc:
            raise BadRequest(ErrorCode.BadRequest, str(exc)) from exc

    def _distinct(self, items: Sequence[ImportItem], skipped: list[Skipped]) -> tuple[list[_Distinct], int]:
        by_hash: dict[str, _Distinct] = {}
        merged = 0
        for item in items:
            try:
                data = item.path.read_bytes()
            except OSError as exc:
                skipped.append(Skipped(item.name, f"cannot read the file: {exc.strerror or exc}"))
                continue
            digest = hashlib.sha256(data).hexdigest()
            first = by_hash.get(digest)
            if first is None:
                by_hash[digest] = _Distinct(
                    item.name, item.path, len(data), list(item.tags), list(item.boxes)
                )
            else:
                merged += 1
                skipped.append(
                    Skipped(item.name, f"same file as {first.name}; imported once with both labels")
                )
                first.merge(item, skipped)
        return list(by_hash.values()), merged

    def _valid_tag_names(self, names: Sequence[str], skipped: list[Skipped]) -> list[str]:
        valid = []
        for name in dict.fromkeys(n.strip() for n in names):  # later lookups strip the same way
            if name and len(name) <= self.limits.tag_name_length:
                valid.append(name)
            else:
                skipped.append(Skipped(f"tag {name!r:.40}", "invalid tag name; its labels are left out"))
        return valid

    def _project(
        self, project_id: str | None, name: str | None, detection: bool, multilabel: bool
    ) -> tuple[Project, bool]:
        if project_id is not None:
            return self.projects.get(project_id), False
        existing = self.projects_named(name or "")
        if existing:
            return existing[0], False
        fields = ProjectFields(
            name=name,
            description="Imported dataset",
            domain_id=domains.DEFAULT_DETECTION_DOMAIN if detection else None,
            classification_type=None if detection else ("Multilabel" if multilabel else "Multiclass"),
        )
        return self.projects.create(fields), True

    def _ensure_tags(self, project: Project, names: Sequence[str], summary: ImportSummary) -> dict[str, Tag]:
        """The project's tags by key, after creating the missing ones (checked against the limit first)."""
        existing = {_key(v.tag.name): v.tag for v in self.tags.list(project.id)}
        missing: dict[str, str] = {}
        for name in names:
            if _key(name) not in existing:
                missing.setdefault(_key(name), name)
        if len(existing) + len(missing) > self.limits.tags_per_project:
            raise BadRequest(
                ErrorCode.BadRequestExceedTagPerProjectLimit,
                f"The dataset needs {len(missing)} new tags; project '{project.name}' has "
                f"{len(existing)} of at most {self.limits.tags_per_project}.",
            )
        for key, name in missing.items():
            existing[key] = self.tags.create(project.id, name=name, description="", type=None).tag
            summary.tags_created.append(name)
        return existing

    def _entry(
        self, item: _Distinct, data: bytes, tags: dict[str, Tag], skipped: list[Skipped]
    ) -> UploadEntry:
        regions = []
        for box in item.boxes:
            tag = tags.get(_key(box.tag))
            if tag is not None and tag.type == "Negative":
                skipped.append(Skipped(item.name, f"a box cannot carry the Negative tag '{box.tag}'"))
            elif tag is not None:
                regions.append(RegionBox(tag.id, box.left, box.top, box.width, box.height))
        tag_ids = [tags[_key(t)].id for t in item.tags if _key(t) in tags]
        fits = len(item.name) <= self.limits.metadata_value_length
        return UploadEntry(
            item.name, data, tag_ids, regions, metadata={FILE_NAME_KEY: item.name} if fits else {}
        )

    def _upload(
        self,
        project: Project,
        distinct: list[_Distinct],
        tags: dict[str, Tag],
        summary: ImportSummary,
        progress: Progress | None,
    ) -> None:
        done = 0
        if progress:
            progress(0, len(distinct))
        for batch in self._batches(distinct):
            entries = []
            for item in batch:
                try:
                    data = item.path.read_bytes()
                except OSError as exc:
                    summary.skipped.append(Skipped(item.name, f"cannot read the file: {exc.strerror or exc}"))
                    continue
                entries.append(self._entry(item, data, tags, summary.skipped))
            if entries:
                self._upload_batch(project.id, entries, summary)
            done += len(batch)
            if progress:
                progress(done, len(distinct))

    def _batches(self, distinct: list[_Distinct]) -> Iterator[list[_Distinct]]:
        batch: list[_Distinct] = []
        size = 0
        for item in distinct:
            if batch and (len(batch) >= self.limits.images_per_batch or size + item.size > BATCH_BYTES):
                yield batch
                batch, size = [], 0
            batch.append(item)
            size += item.size
        if batch:
            yield batch

    def _upload_batch(self, project_id: str, entries: list[UploadEntry], summary: ImportSummary) -> None:
        try:
            results = self.uploads.create_images(project_id, entries)
        except BadRequest as exc:
            # A batch is all or nothing; say so for each of its images and go on with the next.
            summary.skipped.extend(Skipped(e.source, exc.message) for e in entries)
            return
        for entry, result in zip(entries, results, strict=True):
            if result.status == OK:
                summary.images_added += 1
                summary.regions_added += len(entry.regions)
            elif result.status == OK_DUPLICATE:
                summary.skipped.append(
                    Skipped(entry.source, "already in the project (its labels there are unchanged)")
                )
            else:
                summary.skipped.append(Skipped(entry.source, f"{result.status}: {result.message}"))

    # --- export ---------------------------------------------------------------------------------

    def export_dataset(
        self, project_id: str, fmt: DatasetFormat, out: Path, *, progress: Progress | None = None
    ) -> ExportSummary:
        """Write the project's tagged images to the new (or empty) folder ``out``."""
        return self.exporter.export(project_id, fmt, out, progress=progress)

    def export_archive(self, project_id: str, format_name: str, target: Path) -> ExportSummary:
        """Write the project as a zip of a ``format_name`` dataset to the file ``target``."""
        fmt = self.format(format_name)
        with tempfile.TemporaryDirectory(prefix="tagsight-export-") as tmp:
            summary = self.export_dataset(project_id, fmt, Path(tmp) / "dataset")
            zip_folder(Path(tmp) / "dataset", target)
        return summary
