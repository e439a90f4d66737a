"""YOLO (Darknet / Ultralytics) text labels: one ``.txt`` per image, boxes normalised.

Each label line is ``<class> <x_center> <y_center> <width> <height>`` with coordinates in 0..1.
Layout written: ``images/<file name>``, ``labels/<stem>.txt`` (empty for an image without boxes),
``data.yaml`` (Ultralytics: ``names`` by index) and ``classes.txt`` (Darknet: one name a line).
Read: class names from ``data.yaml`` / ``dataset.yaml`` or ``classes.txt`` / ``obj.names``; images
under ``images/`` with labels at the same relative path under ``labels/``, or images and ``.txt``
files side by side. An image without a label file has no boxes (a background image).

Only the ``names`` entry of the YAML file matters here, so a small reader for the forms that tools
write (block list, index map, inline list) replaces a YAML dependency.
"""

from __future__ import annotations

import json
import math
import re
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
    is_image_file,
    prepare_output,
    relative_name,
    write_image,
)

__all__ = ["parse_yaml_names", "read_yolo", "write_yolo"]

_YAML_FILES = ("data.yaml", "data.yml", "dataset.yaml", "dataset.yml")
_NAME_FILES = ("classes.txt", "obj.names", "classes.names")
_KEY = re.compile(r"^names\s*:(.*)$")


def _scalar(text: str) -> str:
    """A YAML scalar: quoted ('' escapes a quote; "..." as JSON) or plain, comment removed."""
    text = text.strip()
    if text.startswith('"'):
        end = text.rfind('"')
        return str(json.loads(text[: end + 1]))
    if text.startswith("'"):
        end = text.rfind("'")
        return text[1:end].replace("''", "'")
    return re.split(r"\s+#", text, maxsplit=1)[0].strip()


def _split_flow(body: str) -> list[str]:
    """Split ``a, 'b, c', "d"`` on the commas outside quotes."""
    parts, current, quote = [], "", ""
    for char in body:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == ",":
            parts.append(current)
            current = ""
            continue
        current += char
    if current.strip():
        parts.append(current)
    return parts


def _by_index(pairs: list[tuple[str, str]], where: str) -> list[str]:
    try:
        indexed = {int(k): _scalar(v) for k, v in pairs}
    except ValueError as exc:
        raise DatasetError(f"{where}: 'names' keys must be class numbers.") from exc
    if sorted(indexed) != list(range(len(indexed))):
        raise DatasetError(f"{where}: 'names' must number the classes 0, 1, 2, ... without gaps.")
    return [indexed[i] for i in range(len(indexed))]


def parse_yaml_names(text: str, where: str = "data.yaml") -> list[str] | None:
    """The ``names`` of a YOLO dataset file, or None when it has none."""
    lines = text.splitlines()
    for n, line in enumerate(lines):
        match = _KEY.match(line)
        if match is None:
            continue
        rest = match.group(1).strip()
        if rest.startswith("["):
            body = " ".join([rest, *lines[n + 1 :]])
            return [_scalar(p) for p in _split_flow(body[1 : body.index("]")])]
        if rest.startswith("{"):
            body = " ".join([rest, *lines[n + 1 :]])
            pairs = [p.split(":", 1) for p in _split_flow(body[1 : body.index("}")])]
            return _by_index([(k, v) for k, v in pairs], where)
        block = []
        for follower in lines[n + 1 :]:
            if follower.strip() and not follower[0].isspace() and not follower.startswith("-"):
                break
            if follower.strip() and not follower.strip().startswith("#"):
                block.append(follower.strip())
        if all(item.startswith("-") for item in block):
            return [_scalar(item[1:]) for item in block]
        return _by_index([tuple(item.split(":", 1)) for item in block], where)  # type: ignore[misc]
    return None


def _class_names(folder: Path) -> list[str]:
    for name in _YAML_FILES:
        if (folder / name).is_file():
            names = parse_yaml_names((folder / name).read_text(encoding="utf-8"), name)
            if names is not None:
                return names
    for name in _NAME_FILES:
        if (folder / name).is_file():
            lines = (folder / name).read_text(encoding="utf-8").splitlines()
            return [line.strip() for line in lines if line.strip()]
    raise DatasetError(f"{folder}: no class names (expected data.yaml with 'names', or classes.txt).")


def _images_and_labels(folder: Path) -> list[tuple[Path, Path]]:
    """(image, label file) pairs: ``images/x/y.jpg`` ↔ ``labels/x/y.txt``, or side by side."""
    images_dir = folder / "images"
    if images_dir.is_dir():
        return [
            (p, (folder / "labels" / p.relative_to(images_dir)).with_suffix(".txt"))
            for p in sorted(images_dir.rglob("*"))
            if is_image_file(p)
        ]
    return [(p, p.with_suffix(".txt")) for p in sorted(folder.rglob("*")) if is_image_file(p)]


def _parse_line(line: str, names: Sequence[str]) -> Box | str:
    parts = line.split()
    # Some tools append a confidence; polygon (segmentation) lines have more, odd-length parts.
    if len(parts) not in (5, 6):
        return f"label line {line!r:.60} is not '<class> <x> <y> <width> <height>'"
    try:
        index = int(parts[0])
        cx, cy, w, h = (float(v) for v in parts[1:5])
    except ValueError:
        return f"label line {line!r:.60} has a value that is not a number"
    if not 0 <= index < len(names):
        return f"unknown class {index} (the dataset names {len(names)} classes)"
    if not all(math.isfinite(v) for v in (cx, cy, w, h)):
        return f"box for '{names[index]}' has a coordinate that is not a number"
    return box_from_corners(names[index], cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def read_yolo(folder: Path) -> Dataset:
    """Read a YOLO folder: class names, images and their label files."""
    if not folder.is_dir():
        raise DatasetError(f"{folder} is not a folder of YOLO labels.")
    names = _class_names(folder)
    items: list[ImportItem] = []
    skipped: list[Skipped] = []
    for image, label in _images_and_labels(folder):
        name = relative_name(folder, image)
        boxes: list[Box] = []
        if label.is_file():
            for line in label.read_text(encoding="utf-8", errors="replace").splitlines():
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                box = _parse_line(line, names)
                if isinstance(box, str):
                    skipped.append(Skipped(name, box))
                else:
                    boxes.append(box)
        items.append(ImportItem(name, image, boxes=tuple(boxes)))
    return Dataset(items, list(dict.fromkeys(names)), skipped)


def _yolo_box(box: Box) -> str:
    values = (box.left + box.width / 2, box.top + box.height / 2, box.width, box.height)
    return " ".join(f"{v:.6f}" for v in values)


def write_yolo(out: Path, tags: Sequence[str], items: Iterable[ExportItem]) -> None:
    """Write ``images/``, ``labels/``, ``data.yaml`` and ``classes.txt``; classes in ``tags`` order."""
    prepare_output(out)
    index = {tag: n for n, tag in enumerate(tags)}
    (out / "labels").mkdir()
    for item in items:
        write_image(out / "images", item)
        lines = "".join(f"{index[b.tag]} {_yolo_box(b)}\n" for b in item.boxes)
        (out / "labels" / f"{Path(item.name).stem}.txt").write_text(lines)
    # JSON strings are valid YAML double-quoted scalars, so any tag name survives.
    names = "".join(f"  {n}: {json.dumps(tag)}\n" for n, tag in enumerate(tags))
    (out / "data.yaml").write_text(
        f"# Exported by Tagsight\npath: .\ntrain: images\nval: images\nnc: {len(tags)}\nnames:\n{names}",
        encoding="utf-8",
    )
    (out / "classes.txt").write_text("".join(f"{tag}\n" for tag in tags), encoding="utf-8")
