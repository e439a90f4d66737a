"""The dataset formats by name: how each reads and writes, and which projects it can describe."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tagsight.datasets.coco import read_coco, write_coco
from tagsight.datasets.csvfile import read_csv, write_csv
from tagsight.datasets.dataset import Dataset, DatasetError, ExportItem
from tagsight.datasets.folder import read_folder, write_folder
from tagsight.datasets.voc import read_voc_dataset, write_voc
from tagsight.datasets.yolo import read_yolo, write_yolo

__all__ = ["FORMATS", "DatasetFormat", "get_format"]

Writer = Callable[[Path, Sequence[str], Iterable[ExportItem]], None]


@dataclass(frozen=True)
class DatasetFormat:
    name: str
    read: Callable[[Path], Dataset]
    # (out, tags, items): writes the dataset into the empty or new folder ``out``.
    write_classification: Writer | None
    write_detection: Writer | None
    # Box formats describe detection datasets: importing one always makes a detection project.
    boxes_only: bool


def _csv_classification(out: Path, tags: Sequence[str], items: Iterable[ExportItem]) -> None:
    write_csv(out, tags, items, boxes=False)


FORMATS: dict[str, DatasetFormat] = {
    f.name: f
    for f in (
        DatasetFormat("coco", read_coco, None, write_coco, boxes_only=True),
        DatasetFormat("voc", read_voc_dataset, None, write_voc, boxes_only=True),
        DatasetFormat("yolo", read_yolo, None, write_yolo, boxes_only=True),
        DatasetFormat("folder", read_folder, write_folder, None, boxes_only=False),
        DatasetFormat("csv", read_csv, _csv_classification, write_csv, boxes_only=False),
    )
}


def get_format(name: str) -> DatasetFormat:
    """The format called ``name`` (case-insensitive); ``DatasetError`` names the known ones."""
    found = FORMATS.get((name or "").strip().lower())
    if found is None:
        raise DatasetError(f"Unknown dataset format {name!r}; use one of {', '.join(FORMATS)}.")
    return found
