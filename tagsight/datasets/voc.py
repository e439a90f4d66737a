"""Pascal VOC annotations: one XML file per image, boxes in pixels."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class VocObject:
    name: str
    # Normalised to 0..1 of the annotated image size.
    left: float
    top: float
    right: float
    bottom: float
    difficult: bool = False


@dataclass(frozen=True)
class VocAnnotation:
    filename: str
    width: int
    height: int
    objects: tuple[VocObject, ...]


def read_voc(path: Path) -> VocAnnotation:
    """Parse one annotation; coordinates are clipped to the image and normalised."""
    root = ET.parse(path).getroot()  # noqa: S314 - local files the user chose to import
    size = root.find("size")
    width = int(float(size.findtext("width", "0"))) if size is not None else 0
    height = int(float(size.findtext("height", "0"))) if size is not None else 0
    if width <= 0 or height <= 0:
        raise ValueError(f"{path}: the annotation gives no image size")
    objects = []
    for obj in root.iter("object"):
        box = obj.find("bndbox")
        if box is None:
            continue
        x1, y1, x2, y2 = (float(box.findtext(k, "0")) for k in ("xmin", "ymin", "xmax", "ymax"))
        objects.append(
            VocObject(
                name=(obj.findtext("name") or "").strip(),
                left=max(0.0, min(x1, width)) / width,
                top=max(0.0, min(y1, height)) / height,
                right=max(0.0, min(x2, width)) / width,
                bottom=max(0.0, min(y2, height)) / height,
                difficult=obj.findtext("difficult", "0").strip() == "1",
            )
        )
    return VocAnnotation(root.findtext("filename", path.stem), width, height, tuple(objects))
