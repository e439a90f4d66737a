"""Datasets into projects and back, on a real database and blob store: round trips lose nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tagsight.api.deps import Services
from tagsight.datasets import get_format
from tagsight.errors import BadRequest

# (tag names, boxes) per content hash: what a project's labelled images are, ids aside.
Snapshot = dict[str, tuple[frozenset[str], list[tuple[str, float, float, float, float]]]]


def snapshot(services: Services, project_id: str) -> Snapshot:
    images = services.images.list(project_id, take=256)
    return {
        i.content_hash: (
            frozenset(t.tag.name for t in i.tags),
            sorted((r.tag.name, r.left, r.top, r.width, r.height) for r in i.regions),
        )
        for i in images
    }


def assert_same(a: Snapshot, b: Snapshot, tolerance: float) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key][0] == b[key][0]
        assert len(a[key][1]) == len(b[key][1])
        for x, y in zip(a[key][1], b[key][1], strict=True):
            assert x[0] == y[0] and max(abs(p - q) for p, q in zip(x[1:], y[1:], strict=True)) <= tolerance


def import_path(services: Services, name: str, path: Path, project: str):  # type: ignore[no-untyped-def]
    fmt = get_format(name)
    dataset = services.datasets.read(fmt, path)
    return services.datasets.import_dataset(dataset, project_name=project, boxes_only=fmt.boxes_only)


@pytest.mark.parametrize("name", ["coco", "voc", "yolo", "csv"])
def test_detection_round_trip(name: str, services: Services, raccoon_voc: Path, tmp_path: Path) -> None:
    first = import_path(services, "voc", raccoon_voc, "raccoons")
    assert first.project_created and first.images_added == 10 and first.skipped == []
    assert first.tags_created == ["raccoon"] and first.regions_added >= 10
    assert services.projects.get(first.project_id).domain_id == "da2e3a8a-40a5-4171-82f4-58522f70fbc1"

    exported = services.datasets.export_dataset(first.project_id, get_format(name), tmp_path / name)
    assert (exported.images, exported.boxes, exported.tags) == (10, first.regions_added, 1)
    again = import_path(services, name, tmp_path / name, f"raccoons from {name}")
    assert again.project_created and again.images_added == 10 and again.skipped == []

    # VOC stores whole pixels; the other formats at least six decimals.
    tolerance = 1 / 200 if name == "voc" else 2e-6
    assert_same(snapshot(services, first.project_id), snapshot(services, again.project_id), tolerance)
    # Images keep the names they came with.
    names = sorted(p.name for p in (raccoon_voc / "JPEGImages").iterdir())
    written = tmp_path / name / ("JPEGImages" if name == "voc" else "images")
    assert sorted(p.name for p in written.iterdir()) == names


@pytest.mark.parametrize("name", ["folder", "csv"])
def test_classification_round_trip_keeps_multilabel_images(
    name: str, services: Services, ants_and_bees: Path, tmp_path: Path
) -> None:
    # One photo in both folders: the same bytes twice, so one image with two tags.
    shared = sorted((ants_and_bees / "ants").iterdir())[0]
    (ants_and_bees / "bees" / "also-a-bee.jpg").symlink_to(shared.resolve())
    first = import_path(services, "folder", ants_and_bees, "insects")
    assert (first.images_added, first.merged) == (10, 1)
    assert services.projects.get(first.project_id).classification_type == "Multilabel"
    tags = snapshot(services, first.project_id)
    assert sorted(len(t) for t, _ in tags.values()) == [1] * 9 + [2]

    services.datasets.export_dataset(first.project_id, get_format(name), tmp_path / name)
    again = import_path(services, name, tmp_path / name, f"insects from {name}")
    assert again.images_added == 10
    assert services.projects.get(again.project_id).classification_type == "Multilabel"
    assert_same(tags, snapshot(services, again.project_id), 0)


def test_filling_a_project_reports_images_it_already_has(services: Services, ants_and_bees: Path) -> None:
    first = import_path(services, "folder", ants_and_bees, "insects")
    second = import_path(services, "folder", ants_and_bees, "INSECTS")
    assert not second.project_created and second.project_id == first.project_id
    assert second.images_added == 0 and second.tags_created == []
    assert {s.reason for s in second.skipped} == {"already in the project (its labels there are unchanged)"}
    assert services.images.count(first.project_id) == 10


def test_bad_items_are_skipped_with_reasons_and_the_rest_imported(
    services: Services, raccoon_voc: Path, tmp_path: Path
) -> None:
    root = tmp_path / "coco"
    (root / "images").mkdir(parents=True)
    photos = sorted((raccoon_voc / "JPEGImages").iterdir())[:3]
    for photo in photos:
        (root / "images" / photo.name).symlink_to(photo.resolve())
    (root / "images" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    document = {
        "images": [
            *({"id": n, "file_name": p.name, "width": 100, "height": 100} for n, p in enumerate(photos)),
            {"id": 10, "file_name": "broken.jpg", "width": 100, "height": 100},
            {"id": 11, "file_name": "gone.jpg", "width": 100, "height": 100},
        ],
        "categories": [{"id": 1, "name": "raccoon"}, {"id": 2, "name": "Raccoon"}],
        "annotations": [
            {"id": 1, "image_id": 0, "category_id": 1, "bbox": [10, 10, 20, 20]},
            {"id": 2, "image_id": 1, "category_id": 2, "bbox": [10, 10, 20, 20]},  # same tag, other case
            {"id": 3, "image_id": 2, "category_id": 1, "bbox": [90, 90, 40, 40]},  # outside
            {"id": 4, "image_id": 10, "category_id": 1, "bbox": [10, 10, 20, 20]},
        ],
    }
    (root / "annotations.json").write_text(json.dumps(document))
    summary = import_path(services, "coco", root, "messy")
    reasons = {s.item: s.reason for s in summary.skipped}
    assert set(reasons) == {photos[2].name, "broken.jpg", "gone.jpg"}
    assert reasons["gone.jpg"] == "image file not found"
    assert reasons["broken.jpg"].startswith("ErrorImageFormat")
    assert "lies outside the image" in reasons[photos[2].name]
    assert summary.tags_created == ["raccoon"]
    # The photo whose only box was refused is still imported, without a box.
    assert (summary.images_added, summary.regions_added) == (3, 2)
    assert services.images.count(summary.project_id, tagging="Untagged") == 1


def test_kinds_that_do_not_fit_are_refused(
    services: Services, raccoon_voc: Path, ants_and_bees: Path
) -> None:
    insects = import_path(services, "folder", ants_and_bees, "insects")
    with pytest.raises(BadRequest, match="classification project"):
        import_path(services, "voc", raccoon_voc, "insects")
    with pytest.raises(BadRequest, match="use folder or csv"):
        services.datasets.export_dataset(insects.project_id, get_format("coco"), Path("/nonexistent"))
    raccoons = import_path(services, "voc", raccoon_voc, "raccoons")
    with pytest.raises(
        BadRequest, match="cannot hold object detection projects; use coco or voc or yolo or csv"
    ):
        services.datasets.export_dataset(raccoons.project_id, get_format("folder"), Path("/nonexistent"))


def test_a_photo_in_the_dataset_twice_is_one_image_with_each_object_boxed_once(
    services: Services, tmp_path: Path, shared_data: Path
) -> None:
    # The raccoon set holds this photo as raccoon-11 and raccoon-116, boxed slightly differently.
    root = tmp_path / "voc"
    for folder in ("Annotations", "JPEGImages"):
        (root / folder).mkdir(parents=True)
    for stem in ("raccoon-11", "raccoon-116"):
        (root / "Annotations" / f"{stem}.xml").symlink_to(
            shared_data / "raccoon" / "annotations" / f"{stem}.xml"
        )
        (root / "JPEGImages" / f"{stem}.jpg").symlink_to(shared_data / "raccoon" / "images" / f"{stem}.jpg")
    summary = import_path(services, "voc", root, "raccoons")
    assert (summary.images_added, summary.regions_added, summary.merged) == (1, 1, 1)
    assert [s.reason.split(" (")[0] for s in summary.skipped] == [
        "same file as JPEGImages/raccoon-11.jpg; imported once with both labels",
        "box for 'raccoon' marks an object already boxed in JPEGImages/raccoon-11.jpg",
    ]
