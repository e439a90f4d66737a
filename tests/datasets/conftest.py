"""Small real datasets in temporary folders: links to ../shared/data, never copies in the repo."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from raccoon import raccoon_names

from tagsight.api.app import build_services
from tagsight.api.deps import Services

RACCOONS = 10
PER_CLASS = 5


@pytest.fixture
def raccoon_voc(tmp_path: Path, shared_data: Path) -> Path:
    """Ten raccoon photos in Pascal VOC layout (Annotations/, JPEGImages/)."""
    root = tmp_path / "raccoon-voc"
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    for name in raccoon_names(shared_data, "train")[:RACCOONS]:
        stem = Path(name).stem
        (root / "Annotations" / f"{stem}.xml").symlink_to(
            shared_data / "raccoon" / "annotations" / f"{stem}.xml"
        )
        (root / "JPEGImages" / name).symlink_to(shared_data / "raccoon" / "images" / name)
    return root


@pytest.fixture
def ants_and_bees(tmp_path: Path, shared_data: Path) -> Path:
    """Five ants and five bees, one folder per tag."""
    root = tmp_path / "ants-and-bees"
    for tag in ("ants", "bees"):
        (root / tag).mkdir(parents=True)
        for photo in sorted((shared_data / "hymenoptera" / "train" / tag).glob("*.jpg"))[:PER_CLASS]:
            (root / tag / photo.name).symlink_to(photo)
    return root


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    """The server's services on a fresh data folder, without HTTP."""
    from conftest import make_settings

    services = build_services(make_settings(tmp_path / "data"))
    yield services
    services.files.db.kw["bind"].dispose()
