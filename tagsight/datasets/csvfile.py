"""CSV: one row per tag or box, for classification and detection alike.

The file has a header row. Columns (names in any case, any order):

- ``image``: the image's path, relative to the CSV file's folder (``images/cat.jpg``);
- ``tag``: the tag name; empty lists an image without a tag;
- ``left``, ``top``, ``width``, ``height`` (optional): a box, normalised to 0..1 of the image as
  Azure's regions are. A row with the box columns empty tags the whole image.

An image with several tags or boxes has several rows::

    image,tag,left,top,width,height
    images/raccoon-1.jpg,raccoon,0.124615,0.211031,0.678462,0.767386
    images/ants-1.jpg,ant,,,,

Written: ``labels.csv`` and ``images/<file name>``; the box columns only for detection projects.
Read: a ``.csv`` file, or a folder holding ``labels.csv`` or a single ``*.csv``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

from tagsight.datasets.dataset import (
    Box,
    Dataset,
    DatasetError,
    ExportItem,
    ImportItem,
    Skipped,
    box_from_corners,
    find_image,
    prepare_output,
    unique_tags,
    write_image,
)

__all__ = ["read_csv", "write_csv"]

LABELS = "labels.csv"
BOX_COLUMNS = ("left", "top", "width", "height")


def _locate(path: Path) -> Path:
    if path.is_file():
        return path
    if not path.is_dir():
        raise DatasetError(f"{path} does not exist.")
    if (path / LABELS).is_file():
        return path / LABELS
    found = sorted(path.glob("*.csv"))
    if len(found) != 1:
        raise DatasetError(f"{path}: expected {LABELS} or exactly one .csv file, found {len(found)}.")
    return found[0]


def _columns(header: Sequence[str] | None, where: str) -> dict[str, int]:
    columns = {name.strip().lower(): n for n, name in enumerate(header or ())}
    if "image" not in columns or "tag" not in columns:
        raise DatasetError(f"{where}: the header must name the columns 'image' and 'tag'.")
    present = [c for c in BOX_COLUMNS if c in columns]
    if present and len(present) != len(BOX_COLUMNS):
        raise DatasetError(f"{where}: box columns must be all of {', '.join(BOX_COLUMNS)}, or none.")
    return columns


def _row_box(tag: str, values: list[str]) -> Box | str | None:
    """The row's box, None when the box cells are empty, or why it is refused."""
    if not any(v.strip() for v in values):
        return None
    try:
        left, top, width, height = (float(v) for v in values)
    except ValueError:
        return f"box for '{tag}' has a value that is not a number: {values}"
    if not all(math.isfinite(v) for v in (left, top, width, height)):
        return f"box for '{tag}' has a coordinate that is not a number"
    return box_from_corners(tag, left, top, left + width, top + height)


def read_csv(path: Path) -> Dataset:
    """Read the rows, grouping them by image."""
    csv_path = _locate(path)
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{csv_path.name} cannot be read as CSV: {exc}") from exc
    columns = _columns(rows[0] if rows else None, csv_path.name)
    width = max(columns.values()) + 1
    tags: dict[str, list[str]] = {}
    boxes: dict[str, list[Box]] = {}
    skipped: list[Skipped] = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        row = row + [""] * (width - len(row))
        image, tag = row[columns["image"]].strip(), row[columns["tag"]].strip()
        if not image:
            skipped.append(Skipped(f"{csv_path.name} line {line}", "no image named"))
            continue
        tags.setdefault(image, [])
        boxes.setdefault(image, [])
        if not tag:
            continue
        box = _row_box(tag, [row[columns[c]] for c in BOX_COLUMNS if c in columns])
        if isinstance(box, str):
            skipped.append(Skipped(image, box))
        elif box is None:
            tags[image].append(tag)
        else:
            boxes[image].append(box)
    items = []
    for image in tags:
        found = find_image([csv_path.parent], image)
        if found is None:
            skipped.append(Skipped(image, "image file not found"))
            continue
        items.append(ImportItem(image, found, unique_tags(tags[image]), tuple(boxes[image])))
    declared = [*(t for v in tags.values() for t in v), *(b.tag for v in boxes.values() for b in v)]
    return Dataset(items, list(unique_tags(declared)), skipped)


def _fmt(value: float) -> str:
    return f"{value:.6f}"


def write_csv(out: Path, tags: Sequence[str], items: Iterable[ExportItem], *, boxes: bool = True) -> None:
    """Write ``labels.csv`` and ``images/``; ``boxes=False`` leaves out the box columns."""
    prepare_output(out)
    with (out / LABELS).open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["image", "tag", *(BOX_COLUMNS if boxes else ())])
        for item in items:
            write_image(out / "images", item)
            image = f"images/{item.name}"
            empty = [""] * len(BOX_COLUMNS) if boxes else []
            for tag in item.tags:
                writer.writerow([image, tag, *empty])
            for box in item.boxes:
                values = (box.left, box.top, box.width, box.height)
                writer.writerow([image, box.tag, *map(_fmt, values)])
