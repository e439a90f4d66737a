"""What every format reads into and writes from: labelled images with normalised boxes.

Readers return a ``Dataset``: the images they found (``ImportItem``, bytes left on disk), the tags
the files declare, and what they had to leave out and why (``Skipped``). A problem with one image
or one box is a ``Skipped`` entry, never an exception; only a dataset that cannot be read at all
(no annotation file, malformed JSON) raises ``DatasetError``. Writers take ``ExportItem``s, whose
bytes are read one image at a time so that a large project never sits in memory.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Box", "Dataset", "DatasetError", "ExportItem", "ImportItem", "Skipped"]
__all__ += ["IMAGE_SUFFIXES", "box_from_corners", "find_image", "inside", "is_image_file", "prepare_output"]
__all__ += ["relative_name", "unique_tags", "write_image"]

# What the upload service accepts (JPEG, PNG, BMP, GIF, WebP); other files are not images to import.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".gif", ".webp"})
# A box may overshoot an edge by this fraction of the side (annotation tools round, and VOC counts
# pixels from 1); it is clipped. Anything further out is a labelling mistake and is reported.
EDGE_TOLERANCE = 0.01


class DatasetError(ValueError):
    """The dataset as a whole cannot be read (missing or malformed annotation file)."""


@dataclass(frozen=True)
class Box:
    """A tagged box, normalised to 0..1 of the image as Azure's regions are."""

    tag: str
    left: float
    top: float
    width: float
    height: float

    def iou(self, other: Box) -> float:
        """Intersection over union of the two boxes."""
        width = min(self.left + self.width, other.left + other.width) - max(self.left, other.left)
        height = min(self.top + self.height, other.top + other.height) - max(self.top, other.top)
        inter = max(0.0, width) * max(0.0, height)
        union = self.width * self.height + other.width * other.height - inter
        return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class Skipped:
    """Something left out: ``item`` names the file (or annotation), ``reason`` says why."""

    item: str
    reason: str


@dataclass(frozen=True)
class ImportItem:
    """One image a reader found. ``name`` is its path relative to the dataset, ``/``-separated."""

    name: str
    path: Path
    tags: tuple[str, ...] = ()  # image-level tags (classification)
    boxes: tuple[Box, ...] = ()

    @property
    def all_tags(self) -> tuple[str, ...]:
        """Image-level tags, then the tags of its boxes, each once."""
        return unique_tags([*self.tags, *(b.tag for b in self.boxes)])


@dataclass
class Dataset:
    items: list[ImportItem]
    # Every tag the files declare, in their order (COCO categories, YOLO names), including tags no
    # image carries, so that a round trip keeps them.
    tags: list[str]
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def has_boxes(self) -> bool:
        return any(item.boxes for item in self.items)


@dataclass(frozen=True)
class ExportItem:
    """One labelled image to write. ``name`` is a unique file name; ``read`` gives its bytes."""

    name: str
    width: int
    height: int
    read: Callable[[], bytes]
    tags: tuple[str, ...] = ()  # image-level tags not already implied by a box
    boxes: tuple[Box, ...] = ()


def unique_tags(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def box_from_corners(tag: str, x1: float, y1: float, x2: float, y2: float) -> Box | str:
    """A box from normalised corners, clipped to the image; a string says why it is refused."""
    values = (x1, y1, x2, y2)
    if not all(math.isfinite(v) for v in values):
        return f"box for '{tag}' has a coordinate that is not a number"
    if x2 <= x1 or y2 <= y1:
        return f"box for '{tag}' is empty (no width or height)"
    low, high = -EDGE_TOLERANCE, 1 + EDGE_TOLERANCE
    if min(values) < low or max(values) > high:
        return f"box for '{tag}' lies outside the image ({_fmt(values)}, normalised)"
    x1, y1, x2, y2 = (min(1.0, max(0.0, v)) for v in values)
    if x2 <= x1 or y2 <= y1:
        return f"box for '{tag}' lies outside the image ({_fmt(values)}, normalised)"
    return Box(tag, x1, y1, x2 - x1, y2 - y1)


def _fmt(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.3f}" for v in values)


def inside(root: Path, relative: str) -> Path | None:
    """``root / relative`` unless the name climbs out of ``root`` (``..``, an absolute path).

    Checked on the names, not on resolved paths: a local dataset may link to images kept
    elsewhere, while an uploaded zip cannot hold links (extraction writes plain files).
    """
    if not relative or "\x00" in relative:
        return None
    base = os.path.normpath(root)
    candidate = os.path.normpath(os.path.join(base, relative.replace("\\", "/")))
    return Path(candidate) if os.path.commonpath([base, candidate]) == base else None


def find_image(roots: Sequence[Path], relative: str) -> Path | None:
    """The first ``root / relative`` that is an image file inside its root."""
    for root in roots:
        candidate = inside(root, relative)
        if candidate is not None and is_image_file(candidate):
            return candidate
    return None


def prepare_output(out: Path) -> None:
    """Create ``out``; refuse a folder that already holds files rather than mix two datasets."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DatasetError(f"{out} already exists and is not an empty folder.")
    out.mkdir(parents=True, exist_ok=True)


def write_image(folder: Path, item: ExportItem) -> Path:
    """Write the item's bytes as ``folder / item.name`` (a plain file name, chosen by the caller)."""
    if "/" in item.name or "\\" in item.name or item.name in ("", ".", ".."):
        raise ValueError(f"Export file names are plain names, got {item.name!r}")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / item.name
    target.write_bytes(item.read())
    return target


def relative_name(root: Path, path: Path) -> str:
    """``path`` relative to the dataset folder, ``/``-separated, as reports and metadata show it."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name
