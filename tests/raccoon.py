"""The raccoon detection set (Pascal VOC) as SDK upload entries with normalised regions."""

from __future__ import annotations

from pathlib import Path

from azure.cognitiveservices.vision.customvision.training.models import ImageFileCreateEntry, Region

from tagsight.datasets.voc import read_voc


def raccoon_names(root: Path, split: str) -> list[str]:
    return (root / "raccoon" / f"{split}.txt").read_text().split()


def raccoon_entry(root: Path, name: str, tag_id: str) -> ImageFileCreateEntry:
    annotation = read_voc(root / "raccoon" / "annotations" / f"{Path(name).stem}.xml")
    regions = [
        Region(tag_id=tag_id, left=o.left, top=o.top, width=o.right - o.left, height=o.bottom - o.top)
        for o in annotation.objects
    ]
    return ImageFileCreateEntry(
        name=name, contents=(root / "raccoon" / "images" / name).read_bytes(), regions=regions
    )


def raccoon_boxes(root: Path, name: str) -> list[tuple[float, float, float, float]]:
    annotation = read_voc(root / "raccoon" / "annotations" / f"{Path(name).stem}.xml")
    return [(o.left, o.top, o.right - o.left, o.bottom - o.top) for o in annotation.objects]
