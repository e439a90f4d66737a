"""`tagsight dataset import|export` as a user runs them: a subprocess on a data folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from raccoon import raccoon_names

from tagsight.datasets.coco import read_coco


def tagsight(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tagsight", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )


@pytest.fixture
def raccoon_voc(tmp_path: Path, shared_data: Path) -> Path:
    root = tmp_path / "voc"
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    for name in raccoon_names(shared_data, "train")[:6]:
        stem = Path(name).stem
        (root / "Annotations" / f"{stem}.xml").symlink_to(
            shared_data / "raccoon" / "annotations" / f"{stem}.xml"
        )
        (root / "JPEGImages" / name).symlink_to(shared_data / "raccoon" / "images" / name)
    return root


def test_import_export_import(tmp_path: Path, raccoon_voc: Path) -> None:
    data = str(tmp_path / "data")
    first = tagsight(
        "dataset", "import", "--format", "voc", str(raccoon_voc), "--project", "Raccoons", "--data-dir", data
    )
    assert first.returncode == 0, first.stderr
    assert "Created project 'Raccoons'" in first.stdout
    assert "Images added: 6" in first.stdout and "Tags created: 1 (raccoon)" in first.stdout
    assert "Skipped" not in first.stdout

    out = tmp_path / "coco"
    exported = tagsight(
        "dataset", "export", "--format", "coco", "--project", "raccoons", str(out), "--data-dir", data
    )
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.startswith("Wrote 6 images")
    assert len(read_coco(out).items) == 6

    again = tagsight(
        "dataset", "import", "--format", "coco", str(out), "--project", "Raccoons", "--data-dir", data
    )
    assert again.returncode == 0, again.stderr
    assert "Filled project 'Raccoons'" in again.stdout and "Images added: 0" in again.stdout
    assert again.stdout.count("already in the project") == 6


def test_errors_are_one_line_and_exit_status_2(tmp_path: Path) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "annotations.json").write_text(json.dumps({"images": "none"}))
    data = str(tmp_path / "data")
    bad = tagsight(
        "dataset", "import", "--format", "coco", str(tmp_path / "bad"), "--project", "x", "--data-dir", data
    )
    assert bad.returncode == 2 and bad.stderr.splitlines()[-1] == (
        "tagsight: annotations.json is not a COCO file: it has no 'images' list."
    )
    missing = tagsight(
        "dataset", "export", "--format", "csv", "--project", "nope", str(tmp_path / "o"), "--data-dir", data
    )
    assert missing.returncode == 2 and "no project named 'nope'" in missing.stderr
