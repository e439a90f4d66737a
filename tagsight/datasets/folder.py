"""Classification as folders: one subfolder per tag, holding that tag's images.

Read: each subfolder of the dataset folder is a tag, and the image files directly inside it carry
that tag; images directly in the dataset folder are imported without a tag. Deeper folders are
reported, not guessed at (``train/ants`` under a root would otherwise become a tag ``train``).
An image in several tag folders (the same bytes) carries all those tags once imported.
Written: ``<tag>/<file name>``, an image with several tags once in each of their folders, and an
empty folder for a tag without images so that the tag list survives a round trip.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from tagsight.datasets.dataset import (
    Dataset,
    DatasetError,
    ExportItem,
    ImportItem,
    Skipped,
    is_image_file,
    prepare_output,
    write_image,
)

__all__ = ["folder_name", "read_folder", "write_folder"]


def _files(folder: Path, prefix: str, tags: tuple[str, ...], skipped: list[Skipped]) -> list[ImportItem]:
    items = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        name = f"{prefix}{path.name}"
        if is_image_file(path):
            items.append(ImportItem(name, path, tags=tags))
        elif path.is_dir():
            if prefix:
                skipped.append(Skipped(f"{name}/", "nested folder ignored (one level of tag folders)"))
        else:
            skipped.append(Skipped(name, "not an image file (JPEG, PNG, BMP, GIF or WebP)"))
    return items


def read_folder(folder: Path) -> Dataset:
    """Tags from subfolder names, images from the files in them."""
    if not folder.is_dir():
        raise DatasetError(f"{folder} is not a folder.")
    skipped: list[Skipped] = []
    items = _files(folder, "", (), skipped)
    tags = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        tags.append(sub.name)
        items.extend(_files(sub, f"{sub.name}/", (sub.name,), skipped))
    if not tags and not items:
        raise DatasetError(f"{folder} holds no images and no tag folders.")
    return Dataset(items, tags, skipped)


def folder_name(tag: str) -> str:
    """A tag as a folder name: path separators cannot be part of one."""
    name = tag.replace("/", "_").replace("\\", "_").replace("\x00", "_")
    return "_" + name if name in (".", "..") or name.startswith(".") else name


def write_folder(out: Path, tags: Sequence[str], items: Iterable[ExportItem]) -> None:
    """One folder per tag; boxes are not written (folders are for classification)."""
    prepare_output(out)
    for tag in tags:
        (out / folder_name(tag)).mkdir(exist_ok=True)
    for item in items:
        for tag in item.tags:
            write_image(out / folder_name(tag), item)
