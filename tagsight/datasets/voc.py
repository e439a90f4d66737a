"""Pascal VOC annotations: one XML file per image, boxes in pixels.

Layout written: ``Annotations/<stem>.xml`` and ``JPEGImages/<file name>``, boxes as whole pixels
(what VOC tools expect). Read: the XML files in ``Annotations/`` (or ``annotations/``, or the
folder itself); each ``<filename>`` is looked up in ``JPEGImages/``, ``images/``, beside the XML
file and in the dataset folder. Coordinates are normalised by the ``<size>`` the file states.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tagsight.datasets.dataset import (
    IMAGE_SUFFIXES,
    Box,
    Dataset,
    DatasetError,
    ExportItem,
    ImportItem,
    Skipped,
    box_from_corners,
    find_image,
    prepare_output,
    relative_name,
    write_image,
)

__all__ = ["VocAnnotation", "VocObject", "read_voc", "read_voc_dataset", "write_voc"]


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


def _parse(path: Path) -> tuple[str, int, int, list[tuple[str, tuple[float, ...], bool]]]:
    """(filename, width, height, [(name, (xmin, ymin, xmax, ymax) in pixels, difficult)])."""
    root = ET.parse(path).getroot()  # noqa: S314 - local files the user chose to import
    size = root.find("size")
    width = int(float(size.findtext("width", "0"))) if size is not None else 0
    height = int(float(size.findtext("height", "0"))) if size is not None else 0
    if width <= 0 or height <= 0:
        raise ValueError(f"{path.name}: the annotation gives no image size")
    objects = []
    for obj in root.iter("object"):
        box = obj.find("bndbox")
        if box is None:
            continue
        corners = tuple(float(box.findtext(k, "0")) for k in ("xmin", "ymin", "xmax", "ymax"))
        name = (obj.findtext("name") or "").strip()
        objects.append((name, corners, obj.findtext("difficult", "0").strip() == "1"))
    return (root.findtext("filename") or path.stem).strip(), width, height, objects


def read_voc(path: Path) -> VocAnnotation:
    """Parse one annotation; coordinates are clipped to the image and normalised."""
    filename, width, height, objects = _parse(path)
    parsed = []
    for name, (x1, y1, x2, y2), difficult in objects:
        parsed.append(
            VocObject(
                name=name,
                left=max(0.0, min(x1, width)) / width,
                top=max(0.0, min(y1, height)) / height,
                right=max(0.0, min(x2, width)) / width,
                bottom=max(0.0, min(y2, height)) / height,
                difficult=difficult,
            )
        )
    return VocAnnotation(filename, width, height, tuple(parsed))


def _annotation_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise DatasetError(f"{folder} is not a folder of Pascal VOC annotations.")
    for name in ("Annotations", "annotations"):
        if (folder / name).is_dir():
            return sorted((folder / name).glob("*.xml"))
    return sorted(folder.glob("*.xml"))


def _image_for(roots: Sequence[Path], filename: str, xml: Path) -> Path | None:
    found = find_image(roots, filename)
    if found is None and not Path(filename).suffix:
        # Some tools write the file name without its extension.
        for suffix in sorted(IMAGE_SUFFIXES):
            found = find_image(roots, filename + suffix)
            if found is not None:
                break
    return found


def read_voc_dataset(folder: Path) -> Dataset:
    """Every annotated image of a VOC folder, boxes normalised; problems are reported, not raised."""
    files = _annotation_files(folder)
    if not files:
        raise DatasetError(f"{folder}: no Pascal VOC annotation files (*.xml) found.")
    roots = [folder / "JPEGImages", folder / "images", files[0].parent, folder]
    items: list[ImportItem] = []
    skipped: list[Skipped] = []
    tags: list[str] = []
    for xml in files:
        try:
            filename, width, height, objects = _parse(xml)
        except (ET.ParseError, ValueError) as exc:
            skipped.append(Skipped(xml.name, f"unreadable annotation: {exc}"))
            continue
        image = _image_for(roots, filename, xml)
        if image is None:
            skipped.append(Skipped(filename, f"image file not found (named in {xml.name})"))
            continue
        boxes: list[Box] = []
        for name, (x1, y1, x2, y2), _ in objects:
            if not name:
                skipped.append(Skipped(filename, f"an object in {xml.name} has no name"))
                continue
            box = box_from_corners(name, x1 / width, y1 / height, x2 / width, y2 / height)
            if isinstance(box, str):
                skipped.append(Skipped(filename, box))
                continue
            boxes.append(box)
            tags.append(name)
        items.append(ImportItem(relative_name(folder, image), image, boxes=tuple(boxes)))
    return Dataset(items, list(dict.fromkeys(tags)), skipped)


def _element(parent: ET.Element, tag: str, text: str | int) -> ET.Element:
    child = ET.SubElement(parent, tag)
    child.text = str(text)
    return child


def annotation_xml(item: ExportItem) -> bytes:
    root = ET.Element("annotation")
    _element(root, "folder", "JPEGImages")
    _element(root, "filename", item.name)
    size = ET.SubElement(root, "size")
    _element(size, "width", item.width)
    _element(size, "height", item.height)
    _element(size, "depth", 3)
    _element(root, "segmented", 0)
    for box in item.boxes:
        obj = ET.SubElement(root, "object")
        _element(obj, "name", box.tag)
        _element(obj, "pose", "Unspecified")
        _element(obj, "truncated", 0)
        _element(obj, "difficult", 0)
        corners = ET.SubElement(obj, "bndbox")
        _element(corners, "xmin", round(box.left * item.width))
        _element(corners, "ymin", round(box.top * item.height))
        _element(corners, "xmax", round((box.left + box.width) * item.width))
        _element(corners, "ymax", round((box.top + box.height) * item.height))
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data


def write_voc(out: Path, tags: Sequence[str], items: Iterable[ExportItem]) -> None:
    """Write ``Annotations/`` and ``JPEGImages/``; ``tags`` is unused (VOC has no class list)."""
    prepare_output(out)
    (out / "Annotations").mkdir()
    for item in items:
        write_image(out / "JPEGImages", item)
        (out / "Annotations" / f"{Path(item.name).stem}.xml").write_bytes(annotation_xml(item))
