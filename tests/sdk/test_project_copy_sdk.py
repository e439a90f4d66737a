"""Azure's export_project / import_project through the official SDK: a whole project copied."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from azure.cognitiveservices.vision.customvision.training.models import (
    CustomVisionErrorException,
    ImageFileCreateBatch,
    ImageFileCreateEntry,
    Region,
)
from raccoon import raccoon_boxes, raccoon_names
from training_helpers import wait_for

COMPACT = "0732100f-1a38-4e49-a514-c9b44c697ab5"  # General (compact): the quickest backbone
GENERAL_DETECTION = "da2e3a8a-40a5-4171-82f4-58522f70fbc1"
PER_TAG = 4


@pytest.fixture(scope="module")
def server(tmp_path_factory):  # type: ignore[no-untyped-def]
    from conftest import LiveServer, make_settings

    live = LiveServer(make_settings(tmp_path_factory.mktemp("copy"), min_images_per_tag=3)).start()
    yield live
    live.stop()


def photos(shared_data: Path, tag: str) -> list[Path]:
    return sorted((shared_data / "hymenoptera" / "train" / tag).glob("*.jpg"))[:PER_TAG]


@pytest.fixture(scope="module")
def trained(server, shared_data: Path):  # type: ignore[no-untyped-def]
    trainer = server.trainer()
    project = trainer.create_project("insects", domain_id=COMPACT, classification_type="Multiclass")
    for name in ("ants", "bees"):
        tag = trainer.create_tag(project.id, name)
        entries = [
            ImageFileCreateEntry(name=p.name, contents=p.read_bytes()) for p in photos(shared_data, name)
        ]
        summary = trainer.create_images_from_files(
            project.id, ImageFileCreateBatch(images=entries, tag_ids=[tag.id])
        )
        assert summary.is_batch_successful
    image = trainer.get_images(project.id, take=1)[0]
    trainer.update_image_metadata(project.id, [image.id], {"camera": "left"})
    iteration = wait_for(trainer, project.id, trainer.train_project(project.id).id)
    assert iteration.status == "Completed", iteration.training_error_details
    return {"trainer": trainer, "project": project, "iteration": iteration}


def labels(trainer, project_id: str) -> set[tuple]:  # type: ignore[no-untyped-def]
    """What a project's images are, ids aside: size, tag names, metadata."""
    images = trainer.get_images(project_id, take=256)
    return {
        (
            i.width,
            i.height,
            frozenset(t.tag_name for t in i.tags or ()),
            frozenset((i.metadata or {}).items()),
        )
        for i in images
    }


def classify(server, project_id: str, photo: Path) -> dict[str, float]:  # type: ignore[no-untyped-def]
    with photo.open("rb") as f:
        result = server.predictor().classify_image(project_id, "v1", f)
    return {p.tag_name: p.probability for p in result.predictions}


def test_export_project_answers_counts_and_a_token(trained) -> None:  # type: ignore[no-untyped-def]
    export = trained["trainer"].export_project(trained["project"].id)
    assert (export.iteration_count, export.image_count, export.tag_count, export.region_count) == (1, 8, 2, 0)
    assert export.estimated_import_time_in_ms > 0 and len(export.token) > 40


def test_import_copies_the_project_and_its_trained_iteration(trained, server, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    trainer, source = trained["trainer"], trained["project"]
    copy = trainer.import_project(trainer.export_project(source.id).token, name="insects, copied")
    assert copy.id != source.id and copy.name == "insects, copied"
    assert copy.settings.domain_id == COMPACT and copy.settings.classification_type == "Multiclass"
    assert {(t.name, t.image_count) for t in trainer.get_tags(copy.id)} == {("ants", 4), ("bees", 4)}
    assert labels(trainer, copy.id) == labels(trainer, source.id)

    [iteration] = trainer.get_iterations(copy.id)
    assert (iteration.name, iteration.status) == (trained["iteration"].name, "Completed")
    assert iteration.publish_name is None  # a copy starts unpublished, as on Azure
    assert len(trainer.get_images(copy.id, iteration_id=iteration.id, take=256)) == 8
    before = trainer.get_iteration_performance(source.id, trained["iteration"].id, threshold=0.5)
    after = trainer.get_iteration_performance(copy.id, iteration.id, threshold=0.5)
    assert (after.precision, after.recall, after.average_precision) == (
        before.precision,
        before.recall,
        before.average_precision,
    )
    copy_tags = {t.id for t in trainer.get_tags(copy.id)}
    assert {t.id for t in after.per_tag_performance} == copy_tags

    # The copied model predicts what the original does, under the copy's tag ids.
    trainer.publish_iteration(source.id, trained["iteration"].id, "v1", "/subscriptions/local/tagsight")
    trainer.publish_iteration(copy.id, iteration.id, "v1", "/subscriptions/local/tagsight")
    photo = sorted((shared_data / "hymenoptera" / "val" / "bees").glob("*.jpg"))[0]
    original = classify(server, source.id, photo)
    copied = classify(server, copy.id, photo)
    assert original.keys() == copied.keys() == {"ants", "bees"}
    assert all(abs(original[k] - copied[k]) < 1e-6 for k in original)

    # Same data as its iteration: training the copy again is "not needed", as for the original.
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.train_project(copy.id)
    assert err.value.error.code == "BadRequestTrainingNotNeeded"

    # Deleting the original leaves the copy whole: shared image files stay, the model predicts.
    trainer.unpublish_iteration(source.id, trained["iteration"].id)
    trainer.delete_project(source.id)
    for image in trainer.get_images(copy.id, take=256):
        assert httpx.get(image.original_image_uri).status_code == 200
    assert classify(server, copy.id, photo) == copied


def test_a_bad_token_is_refused(server) -> None:  # type: ignore[no-untyped-def]
    trainer = server.trainer()
    project = trainer.create_project("to export")
    token = trainer.export_project(project.id).token
    payload, signature = token.split(".")
    forged = f"{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{signature}"
    for bad in ("garbage", forged, f"{payload}.{signature[::-1]}"):
        with pytest.raises(CustomVisionErrorException) as err:
            trainer.import_project(bad)
        assert err.value.response.status_code == 400
        assert err.value.error.code == "BadRequestInvalidImportToken"
    trainer.delete_project(project.id)
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.import_project(token)
    assert err.value.error.code == "BadRequestInvalidImportToken"


def test_detection_copy_keeps_every_region(server, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    trainer = server.trainer()
    project = trainer.create_project("raccoons", domain_id=GENERAL_DETECTION)
    tag = trainer.create_tag(project.id, "raccoon")
    names = raccoon_names(shared_data, "val")[:4]
    entries = [
        ImageFileCreateEntry(
            name=n,
            contents=(shared_data / "raccoon" / "images" / n).read_bytes(),
            regions=[
                Region(tag_id=tag.id, left=x, top=y, width=w, height=h)
                for x, y, w, h in raccoon_boxes(shared_data, n)
            ],
        )
        for n in names
    ]
    assert trainer.create_images_from_files(
        project.id, ImageFileCreateBatch(images=entries)
    ).is_batch_successful
    export = trainer.export_project(project.id)
    assert (export.image_count, export.iteration_count) == (4, 0) and export.region_count >= 4
    copy = trainer.import_project(export.token)
    assert copy.name == "raccoons (imported)" and copy.settings.domain_id == GENERAL_DETECTION

    def boxes(project_id: str) -> set[tuple]:  # type: ignore[type-arg]
        return {
            (i.width, i.height, r.tag_name, r.left, r.top, r.width, r.height)
            for i in trainer.get_images(project_id, take=256)
            for r in i.regions
        }

    assert boxes(copy.id) == boxes(project.id) and len(boxes(copy.id)) == export.region_count
    assert trainer.import_project(export.token).name == "raccoons (imported) 2"
