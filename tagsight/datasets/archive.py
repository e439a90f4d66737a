"""Zip archives of datasets, for moving them over HTTP.

Extraction trusts nothing in the archive: names that are absolute or climb out with ``..`` are
refused, and both the declared and the actual sizes are capped (a small zip can claim or inflate
to gigabytes).
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from tagsight.datasets.dataset import IMAGE_SUFFIXES, DatasetError

__all__ = ["extract_zip", "zip_folder"]

_CHUNK = 1 << 20
# Finder and Windows litter that is never part of a dataset.
_JUNK = ("__MACOSX/", ".DS_Store", "Thumbs.db")


def _safe_member(name: str) -> PurePosixPath | None:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise DatasetError(f"The archive holds an unsafe path: {name!r}.")
    if any(part in _JUNK or f"{part}/" in _JUNK for part in path.parts):
        return None
    return path


def extract_zip(archive: Path | BinaryIO, dest: Path, *, max_bytes: int, max_files: int = 200_000) -> Path:
    """Extract ``archive`` into ``dest`` and return the dataset folder.

    When everything sits in one top-level folder (what zipping a folder gives), that folder is the
    dataset. Raises ``DatasetError`` for a file that is not a zip, unsafe names, or too much data.
    """
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            if len(members) > max_files:
                raise DatasetError(f"The archive holds {len(members)} files, more than {max_files}.")
            if sum(m.file_size for m in members) > max_bytes:
                raise DatasetError(f"The archive unpacks to more than {max_bytes} bytes.")
            written = 0
            for member in members:
                relative = _safe_member(member.filename)
                if relative is None:
                    continue
                target = dest.joinpath(*relative.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, target.open("wb") as out:
                    while chunk := src.read(_CHUNK):
                        written += len(chunk)
                        if written > max_bytes:
                            raise DatasetError(f"The archive unpacks to more than {max_bytes} bytes.")
                        out.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise DatasetError(f"The upload is not a readable zip archive: {exc}") from exc
    return _dataset_root(dest)


def _dataset_root(dest: Path) -> Path:
    """``dest``, or the one folder it holds when that folder is a whole dataset.

    A lone folder of nothing but images is a tag folder (a classification set with one tag), so the
    archive's root stays the dataset.
    """
    entries = [p for p in dest.iterdir() if not p.name.startswith(".")]
    if len(entries) != 1 or not entries[0].is_dir():
        return dest
    inner = list(entries[0].iterdir())
    only_images = all(p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES for p in inner)
    return dest if only_images else entries[0]


def zip_folder(folder: Path, target: Path | BinaryIO) -> None:
    """Zip everything under ``folder`` (names relative to it); images are stored, text compressed."""
    with zipfile.ZipFile(target, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if not path.is_file():
                continue
            # Photos are already compressed: deflating them costs time and saves nothing.
            method = zipfile.ZIP_STORED if path.suffix.lower() in IMAGE_SUFFIXES else zipfile.ZIP_DEFLATED
            zf.write(path, path.relative_to(folder).as_posix(), compress_type=method)
