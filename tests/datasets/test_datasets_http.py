"""The portal's dataset routes on a live server: a zip in, a zip out, the training key required."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tagsight.datasets import zip_folder
from tagsight.datasets.yolo import read_yolo

IMPORT = "/tagsight/api/datasets/import"


@pytest.fixture
def server(server_factory: Callable[..., object]):  # type: ignore[no-untyped-def]
    return server_factory()


def client(server) -> httpx.Client:  # type: ignore[no-untyped-def]
    return httpx.Client(base_url=server.url, headers={"Training-Key": server.training_key}, timeout=60)


def test_import_a_zip_then_export_it_in_another_format(server, raccoon_voc: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    zip_folder(raccoon_voc, tmp_path / "voc.zip")
    with client(server) as http:
        answer = http.post(
            IMPORT,
            params={"format": "voc", "projectName": "Raccoons"},
            content=(tmp_path / "voc.zip").read_bytes(),
            headers={"Content-Type": "application/zip"},
        )
        assert answer.status_code == 200, answer.text
        summary = answer.json()
        assert summary["projectCreated"] and summary["imagesAdded"] == 10 and summary["skipped"] == []
        assert summary["tagsCreated"] == ["raccoon"]

        exported = http.get(
            f"/tagsight/api/projects/{summary['projectId']}/dataset", params={"format": "yolo"}
        )
        assert exported.status_code == 200 and exported.headers["content-type"] == "application/zip"
        assert exported.headers["x-tagsight-boxes"] == str(summary["regionsAdded"])
        assert "Raccoons-yolo.zip" in exported.headers["content-disposition"]
        zipfile.ZipFile(io.BytesIO(exported.content)).extractall(tmp_path / "yolo")
        back = read_yolo(tmp_path / "yolo")
        assert len(back.items) == 10 and sum(len(i.boxes) for i in back.items) == summary["regionsAdded"]

        # The same zip again, into the project by id: nothing new, everything accounted for.
        again = http.post(
            IMPORT,
            params={"format": "yolo", "projectId": summary["projectId"]},
            content=exported.content,
        )
        assert again.status_code == 200 and again.json()["imagesAdded"] == 0
        assert len(again.json()["skipped"]) == 10


def test_bad_requests_are_refused_with_azure_style_errors(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with client(server) as http:
        not_zip = http.post(IMPORT, params={"format": "coco", "projectName": "x"}, content=b"plain text")
        assert not_zip.status_code == 400 and "not a readable zip" in not_zip.json()["message"]
        unknown = http.post(IMPORT, params={"format": "pascal", "projectName": "x"}, content=b"PK")
        assert unknown.status_code == 400 and "Unknown dataset format" in unknown.json()["message"]
        neither = http.post(IMPORT, params={"format": "coco"}, content=b"PK")
        assert neither.status_code == 400 and neither.json()["code"] == "BadRequest"
        missing = http.get(
            "/tagsight/api/projects/00000000-0000-0000-0000-000000000000/dataset", params={"format": "coco"}
        )
        assert missing.status_code == 404 and missing.json()["code"] == "NotFoundProject"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zf:
            zf.writestr("annotations.json", "{not json")
        malformed = http.post(
            IMPORT, params={"format": "coco", "projectName": "x"}, content=buffer.getvalue()
        )
        assert malformed.status_code == 400 and "not valid JSON" in malformed.json()["message"]
        # Nothing was created by the refused imports.
        assert http.get("/customvision/v3.3/training/projects").json() == []
    anonymous = httpx.post(
        f"{server.url}{IMPORT}", params={"format": "coco", "projectName": "x"}, content=b"PK"
    )
    assert anonymous.status_code == 401
