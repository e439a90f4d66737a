"""Datasets in the portal: import a zipped VOC set as a new project, export it as COCO."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from raccoon import raccoon_names

from tagsight.datasets import zip_folder

expect = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed").expect


def test_import_then_export_a_dataset(server_factory, make_portal, shared_data: Path, tmp_path: Path) -> None:
    root = tmp_path / "voc"
    for folder in ("Annotations", "JPEGImages"):
        (root / folder).mkdir(parents=True)
    for name in raccoon_names(shared_data, "val")[:4]:
        stem = Path(name).stem
        (root / "Annotations" / f"{stem}.xml").symlink_to(
            shared_data / "raccoon" / "annotations" / f"{stem}.xml"
        )
        (root / "JPEGImages" / name).symlink_to(shared_data / "raccoon" / "images" / name)
    (root / "JPEGImages" / "notes.jpg").write_text("not a photo")  # named by no annotation: ignored
    zip_folder(root, tmp_path / "raccoons.zip")

    server = server_factory()
    portal = make_portal(server.url)
    page = portal.page
    portal.sign_in(server.training_key)

    page.get_by_role("button", name="Import dataset").click()
    dialog = portal.dialog()
    dialog.get_by_label("Dataset (zip)").set_input_files(str(tmp_path / "raccoons.zip"))
    dialog.get_by_label("Format").select_option("voc")
    dialog.get_by_label("Project").fill("Portal raccoons")
    dialog.get_by_role("button", name="Import").click()
    expect(dialog).to_contain_text("Created “Portal raccoons”: 4 images added")
    expect(dialog).to_contain_text("Nothing was left out.")
    portal.screenshot("dataset-imported")
    dialog.get_by_role("button", name="Done").click()

    card = page.locator(".project-card", has_text="Portal raccoons")
    expect(card).to_contain_text("4 images")
    card.get_by_role("button", name="Export dataset").click()
    dialog = portal.dialog()
    dialog.get_by_label("Format").select_option("coco")
    portal.screenshot("dataset-export")
    with page.expect_download() as download:
        dialog.get_by_role("button", name="Download").click()
    assert download.value.suggested_filename == "Portal raccoons-coco.zip"
    download.value.save_as(tmp_path / "coco.zip")
    with zipfile.ZipFile(tmp_path / "coco.zip") as zf:
        document = json.loads(zf.read("annotations.json"))
    assert len(document["images"]) == 4 and [c["name"] for c in document["categories"]] == ["raccoon"]
