"""COCO object detection ("instances") JSON: one file for the whole dataset, boxes in pixels.

Layout written: ``annotations.json`` and ``images/<file_name>``. Read: a JSON file, or a folder
holding ``annotations.json``, ``_annotations.coco.json``, a single ``annotations/*.json`` or a
single top-level ``*.json``; each ``file_name`` is looked up next to the JSON file, then in an
``images/`` folder beside it or in the dataset folder. ``bbox`` is ``[x, y, width, height]`` in
pixels of the size the ``images`` entry states.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

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
    write_image,
)

__all__ = ["read_coco", "write_coco"]

ANNOTATIONS = "annotations.json"
_CANDIDATES = (ANNOTATIONS, "_annotations.coco.json", "instances.json")


def _locate(path: Path) -> tuple[Path, list[Path]]:
    """The annotation file and the folders its ``file_name``s may be relative to."""
    if path.is_file():
        json_path, base = path, path.parent
    elif path.is_dir():
        json_path = _find_json(path)
        base = path
    else:
        raise DatasetError(f"{path} does not exist.")
    roots = [json_path.parent, json_path.parent / "images", base, base / "images"]
    return json_path, list(dict.fromkeys(roots))


def _find_json(folder: Path) -> Path:
    for name in _CANDIDATES:
        if (folder / name).is_file():
            return folder / name
    for pattern in ("annotations/*.json", "*.json"):
        found = sorted(folder.glob(pattern))
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            names = ", ".join(p.name for p in found)
            raise DatasetError(f"{folder}: several annotation files ({names}); name the one to import.")
    raise DatasetError(f"{folder}: no COCO annotation file (expected {ANNOTATIONS}).")


def _load(json_path: Path) -> dict[str, Any]:
    try:
        document = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{json_path.name} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("images"), list):
        raise DatasetError(f"{json_path.name} is not a COCO file: it has no 'images' list.")
    for key in ("categories", "annotations"):
        if not isinstance(document.get(key, []), list):
            raise DatasetError(f"{json_path.name}: '{key}' must be a list.")
    return document


def _categories(document: dict[str, Any], where: str) -> dict[Any, str]:
    categories: dict[Any, str] = {}
    for category in document.get("categories", []):
        name = category.get("name") if isinstance(category, dict) else None
        if not isinstance(name, str) or not name.strip() or not _is_id(category.get("id")):
            raise DatasetError(f"{where}: every category needs an 'id' and a non-empty 'name'.")
        categories[category["id"]] = name.strip()
    return categories


def _is_id(value: Any) -> bool:
    return isinstance(value, int | str) and not isinstance(value, bool)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def read_coco(path: Path) -> Dataset:
    """Read a COCO instances file and find its images."""
    json_path, roots = _locate(path)
    document = _load(json_path)
    categories = _categories(document, json_path.name)
    skipped: list[Skipped] = []
    images: dict[Any, tuple[str, float, float]] = {}
    for entry in document["images"]:
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("file_name"), str)
            or not _is_id(entry.get("id"))
        ):
            skipped.append(Skipped(json_path.name, f"image entry without 'id' or 'file_name': {entry!r:.80}"))
            continue
        width, height = _number(entry.get("width")), _number(entry.get("height"))
        if not width or not height or width <= 0 or height <= 0:
            skipped.append(Skipped(entry["file_name"], "the image entry gives no width and height"))
            continue
        images[entry["id"]] = (entry["file_name"], width, height)
    boxes = _boxes(document.get("annotations", []), images, categories, skipped)
    items = []
    for image_id, (file_name, _, _) in images.items():
        found = find_image(roots, file_name)
        if found is None:
            skipped.append(Skipped(file_name, "image file not found"))
            continue
        items.append(ImportItem(file_name, found, boxes=tuple(boxes.get(image_id, ()))))
    return Dataset(items, list(dict.fromkeys(categories.values())), skipped)


def _boxes(
    annotations: Iterable[Any],
    images: dict[Any, tuple[str, float, float]],
    categories: dict[Any, str],
    skipped: list[Skipped],
) -> dict[Any, list[Box]]:
    boxes: dict[Any, list[Box]] = {}
    for n, annotation in enumerate(annotations):
        if not isinstance(annotation, dict):
            skipped.append(Skipped(f"annotation #{n}", "not a JSON object"))
            continue
        image = images.get(annotation["image_id"]) if _is_id(annotation.get("image_id")) else None
        if image is None:
            label = f"annotation {annotation.get('id', f'#{n}')}"
            skipped.append(Skipped(label, f"refers to image id {annotation.get('image_id')!r}, not listed"))
            continue
        file_name, width, height = image
        tag = categories.get(annotation["category_id"]) if _is_id(annotation.get("category_id")) else None
        if tag is None:
            skipped.append(Skipped(file_name, f"unknown category id {annotation.get('category_id')!r}"))
            continue
        bbox = annotation.get("bbox")
        values = [_number(v) for v in bbox] if isinstance(bbox, list) else []
        if len(values) != 4 or any(v is None for v in values):
            skipped.append(Skipped(file_name, f"box for '{tag}' is not [x, y, width, height]"))
            continue
        x, y, w, h = (v or 0.0 for v in values)
        box = box_from_corners(tag, x / width, y / height, (x + w) / width, (y + h) / height)
        if isinstance(box, str):
            skipped.append(Skipped(file_name, box))
        else:
            boxes.setdefault(annotation["image_id"], []).append(box)
    return boxes


def write_coco(out: Path, tags: Sequence[str], items: Iterable[ExportItem]) -> None:
    """Write ``annotations.json`` and ``images/``; category ids count from 1 in ``tags`` order."""
    prepare_output(out)
    category = {tag: n for n, tag in enumerate(tags, start=1)}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for image_id, item in enumerate(items, start=1):
        write_image(out / "images", item)
        images.append({"id": image_id, "file_name": item.name, "width": item.width, "height": item.height})
        for box in item.boxes:
            w, h = box.width * item.width, box.height * item.height
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": category[box.tag],
                    "bbox": [box.left * item.width, box.top * item.height, w, h],
                    "area": w * h,
                    "iscrowd": 0,
                    "segmentation": [],
                }
            )
    document = {
        "info": {"description": "Exported by Tagsight"},
        "images": images,
        "annotations": annotations,
        "categories": [{"id": n, "name": tag, "supercategory": ""} for tag, n in category.items()],
    }
    (out / ANNOTATIONS).write_text(json.dumps(document, indent=1), encoding="utf-8")
