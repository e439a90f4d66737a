"""Dataset formats on their own: files written by one writer read back the same, bad files reported."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from tagsight.datasets import FORMATS, DatasetError, ExportItem, extract_zip, get_format, zip_folder
from tagsight.datasets.coco import read_coco
from tagsight.datasets.csvfile import read_csv
from tagsight.datasets.voc import read_voc_dataset
from tagsight.datasets.yolo import parse_yaml_names, read_yolo


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def boxes_by_image(dataset) -> dict[str, list[tuple]]:  # type: ignore[no-untyped-def]
    return {
        digest(item.path): sorted((b.tag, b.left, b.top, b.width, b.height) for b in item.boxes)
        for item in dataset.items
    }


def close(a: dict[str, list[tuple]], b: dict[str, list[tuple]], tolerance: float) -> bool:
    if a.keys() != b.keys():
        return False
    for key in a:
        if len(a[key]) != len(b[key]):
            return False
        for x, y in zip(a[key], b[key], strict=True):
            if x[0] != y[0] or any(abs(p - q) > tolerance for p, q in zip(x[1:], y[1:], strict=True)):
                return False
    return True


def export_items(dataset) -> list[ExportItem]:  # type: ignore[no-untyped-def]
    items = []
    for item in dataset.items:
        with Image.open(item.path) as im:
            width, height = im.size
        items.append(ExportItem(Path(item.name).name, width, height, item.path.read_bytes, boxes=item.boxes))
    return items


def test_the_raccoon_annotations_read_as_normalised_boxes(raccoon_voc: Path) -> None:
    dataset = read_voc_dataset(raccoon_voc)
    assert len(dataset.items) == 10 and dataset.tags == ["raccoon"]
    assert dataset.skipped == []
    for item in dataset.items:
        assert item.boxes and all(0 <= b.left < b.left + b.width <= 1 for b in item.boxes)


@pytest.mark.parametrize("name", ["coco", "voc", "yolo", "csv"])
def test_detection_formats_read_back_what_they_write(name: str, raccoon_voc: Path, tmp_path: Path) -> None:
    source = read_voc_dataset(raccoon_voc)
    fmt = get_format(name)
    assert fmt.write_detection is not None
    fmt.write_detection(tmp_path / name, source.tags, export_items(source))
    back = fmt.read(tmp_path / name)
    assert back.skipped == [] and back.tags == ["raccoon"]
    # VOC keeps whole pixels; the others keep at least six decimals.
    assert close(boxes_by_image(back), boxes_by_image(source), 1e-6 if name != "voc" else 1e-9 + 1 / 200)


def test_every_format_is_registered_with_a_reader_and_a_writer() -> None:
    for fmt in FORMATS.values():
        assert fmt.write_classification or fmt.write_detection
    with pytest.raises(DatasetError, match="use one of coco, voc, yolo, folder, csv"):
        get_format("pascal")


def coco_folder(tmp_path: Path, raccoon_voc: Path, document: dict) -> Path:  # type: ignore[type-arg]
    root = tmp_path / "coco"
    (root / "images").mkdir(parents=True)
    for photo in sorted((raccoon_voc / "JPEGImages").iterdir())[:2]:
        (root / "images" / photo.name).symlink_to(photo.resolve())
    (root / "annotations.json").write_text(json.dumps(document))
    return root


def test_malformed_coco_json_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "annotations.json").write_text('{"images": [')
    with pytest.raises(DatasetError, match="annotations.json is not valid JSON"):
        read_coco(tmp_path)
    (tmp_path / "annotations.json").write_text('{"annotations": []}')
    with pytest.raises(DatasetError, match="no 'images' list"):
        read_coco(tmp_path)
    (tmp_path / "images").mkdir()
    with pytest.raises(DatasetError, match="no COCO annotation file"):
        read_coco(tmp_path / "images")


def test_coco_problems_are_reported_and_the_rest_is_read(tmp_path: Path, raccoon_voc: Path) -> None:
    first, second = sorted(p.name for p in (raccoon_voc / "JPEGImages").iterdir())[:2]
    document = {
        "images": [
            {"id": 1, "file_name": first, "width": 100, "height": 100},
            {"id": 2, "file_name": second, "width": 100, "height": 100},
            {"id": 3, "file_name": "missing.jpg", "width": 100, "height": 100},
        ],
        "categories": [{"id": 7, "name": "raccoon"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 7, "bbox": [10, 10, 50, 50]},
            {"id": 2, "image_id": 1, "category_id": 7, "bbox": [80, 80, 50, 50]},  # far outside
            {"id": 3, "image_id": 2, "category_id": 9, "bbox": [10, 10, 5, 5]},  # unknown category
            {"id": 4, "image_id": 2, "category_id": 7, "bbox": [0, 0, 100.4, 100]},  # rounding: clipped
            {"id": 5, "image_id": 42, "category_id": 7, "bbox": [0, 0, 1, 1]},
        ],
    }
    dataset = read_coco(coco_folder(tmp_path, raccoon_voc, document))
    reasons = {(s.item, s.reason.split(" (")[0]) for s in dataset.skipped}
    assert reasons == {
        (first, "box for 'raccoon' lies outside the image"),
        (second, "unknown category id 9"),
        ("missing.jpg", "image file not found"),
        ("annotation 5", "refers to image id 42, not listed"),
    }
    boxes = {item.name: item.boxes for item in dataset.items}
    assert [(b.left, b.top, b.width, b.height) for b in boxes[first]] == [(0.1, 0.1, 0.5, 0.5)]
    assert [(b.left, b.width) for b in boxes[second]] == [(0.0, 1.0)]


def test_annotation_paths_cannot_leave_the_dataset(tmp_path: Path, raccoon_voc: Path) -> None:
    document = {"images": [{"id": 1, "file_name": "../../etc/passwd", "width": 9, "height": 9}]}
    dataset = read_coco(coco_folder(tmp_path, raccoon_voc, document))
    assert dataset.items == [] and dataset.skipped[0].reason == "image file not found"


def test_yolo_lines_that_are_not_boxes_are_reported(tmp_path: Path, raccoon_voc: Path) -> None:
    (tmp_path / "images").mkdir()
    photo = sorted((raccoon_voc / "JPEGImages").iterdir())[0]
    (tmp_path / "images" / "a.jpg").symlink_to(photo.resolve())
    (tmp_path / "images" / "b.jpg").symlink_to(photo.resolve())  # no label file: a background image
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "a.txt").write_text(
        "0 0.5 0.5 0.2 0.2\n3 0.5 0.5 0.2 0.2\n0 0.5 x 0.2 0.2\n0 1.5 0.5 0.2 0.2\n"
    )
    (tmp_path / "classes.txt").write_text("raccoon\n")
    dataset = read_yolo(tmp_path)
    assert [(i.name, len(i.boxes)) for i in dataset.items] == [("images/a.jpg", 1), ("images/b.jpg", 0)]
    assert [s.reason.split(" (")[0] for s in dataset.skipped] == [
        "unknown class 3",
        "label line '0 0.5 x 0.2 0.2' has a value that is not a number",
        "box for 'raccoon' lies outside the image",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "path: .\nnames:\n  0: ant\n  1: 'bee, honey'\nnc: 2\n",
        "names: [ant, 'bee, honey']\n",
        'names:\n- ant\n- "bee, honey"\n',
        "names: {0: ant, 1: 'bee, honey'}\n",
    ],
)
def test_yaml_class_names_in_the_forms_tools_write(text: str) -> None:
    names = parse_yaml_names(text)
    assert names is not None and names[0] == "ant" and names[1].startswith("bee")
    assert parse_yaml_names("train: images\n") is None


def test_csv_needs_its_header_and_reports_bad_rows(tmp_path: Path, raccoon_voc: Path) -> None:
    photo = sorted((raccoon_voc / "JPEGImages").iterdir())[0]
    (tmp_path / "a.jpg").symlink_to(photo.resolve())
    (tmp_path / "labels.csv").write_text("file,label\na.jpg,x\n")
    with pytest.raises(DatasetError, match="'image' and 'tag'"):
        read_csv(tmp_path)
    (tmp_path / "labels.csv").write_text(
        "image,tag,left,top,width,height\na.jpg,cat,0.1,0.1,0.5,0.5\na.jpg,dog,0.1,wide,0.5,0.5\n"
        "a.jpg,bird,,,,\nnope.jpg,cat,,,,\n"
    )
    dataset = read_csv(tmp_path)
    assert [(i.tags, [b.tag for b in i.boxes]) for i in dataset.items] == [(("bird",), ["cat"])]
    assert [s.item for s in dataset.skipped] == ["a.jpg", "nope.jpg"]


def test_zip_extraction_refuses_unsafe_names(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("../escape.txt", "x")
    with pytest.raises(DatasetError, match="unsafe path"):
        extract_zip(io.BytesIO(buffer.getvalue()), tmp_path / "x", max_bytes=10**6)
    with pytest.raises(DatasetError, match="not a readable zip"):
        extract_zip(io.BytesIO(b"not a zip"), tmp_path / "y", max_bytes=10**6)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("big.bin", b"0" * 2000)
    with pytest.raises(DatasetError, match="more than 1000 bytes"):
        extract_zip(io.BytesIO(buffer.getvalue()), tmp_path / "z", max_bytes=1000)


def test_a_zipped_folder_is_the_dataset_but_a_lone_tag_folder_is_not(
    tmp_path: Path, ants_and_bees: Path
) -> None:
    zip_folder(ants_and_bees, tmp_path / "both.zip")
    root = extract_zip(tmp_path / "both.zip", tmp_path / "both", max_bytes=10**8)
    assert sorted(p.name for p in root.iterdir()) == ["ants", "bees"]
    wrapped = io.BytesIO()
    with zipfile.ZipFile(wrapped, "w") as zf:
        for photo in sorted((ants_and_bees / "ants").iterdir()):
            zf.write(photo, f"ants/{photo.name}")
    root = extract_zip(wrapped, tmp_path / "one", max_bytes=10**8)
    assert [p.name for p in root.iterdir()] == ["ants"]
