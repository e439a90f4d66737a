"""A batch is one transaction: a failure halfway leaves no rows and no orphan blobs."""

from __future__ import annotations

from pathlib import Path

import imagegen
import pytest

from tagsight.api.app import build_services
from tagsight.config import Settings
from tagsight.services.projects import ProjectFields
from tagsight.services.uploads import UploadEntry
from tagsight.store.blobs import LocalBlobStore


class DiskFullAfter(LocalBlobStore):
    """A real blob folder that fails like a full disk after ``n`` writes."""

    def __init__(self, root: Path, n: int) -> None:
        super().__init__(root)
        self.remaining = n

    def put(self, key: str, data: bytes) -> bool:
        if self.remaining == 0:
            raise OSError(28, "No space left on device")
        self.remaining -= 1
        return super().put(key, data)


def blob_files(settings: Settings) -> list[Path]:
    return [p for p in settings.blob_dir.rglob("*") if p.is_file()]


def test_failure_halfway_rolls_back_rows_and_blobs(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    services = build_services(settings)
    project = services.projects.create(ProjectFields(name="atomic"))
    tag = services.tags.create(project.id, name="t", description=None, type=None).tag
    services.uploads.create_images(project.id, [UploadEntry("kept", imagegen.noise_jpeg(1))])
    before = blob_files(settings)
    assert len(before) == 2  # original + thumbnail

    services.files.blobs = DiskFullAfter(settings.blob_dir, n=5)  # fails inside the third image
    entries = [UploadEntry(f"{n}", imagegen.noise_jpeg(10 + n), tag_ids=[tag.id]) for n in range(4)]
    with pytest.raises(OSError):
        services.uploads.create_images(project.id, entries)

    assert services.images.count(project.id) == 1
    assert sorted(blob_files(settings)) == sorted(before)
    assert services.tags.get(project.id, tag.id).image_count == 0


def test_orphans_from_a_crash_are_swept_at_start(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    services = build_services(settings)
    project = services.projects.create(ProjectFields(name="sweep"))
    services.uploads.create_images(project.id, [UploadEntry("kept", imagegen.noise_jpeg(2))])
    orphan = settings.blob_dir / "originals" / "ab" / ("ab" + "0" * 62)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"left by a crash between blob write and commit")

    build_services(settings)  # what a restart does

    assert not orphan.exists()
    assert len(blob_files(settings)) == 2
