"""The smart labeler through the official SDK: suggested tags and regions, the uncertainty queue,
artifacts, and stored predictions turned back into training images, on real photos."""

from __future__ import annotations

import math
import re
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import onnx
import pytest
from azure.cognitiveservices.vision.customvision.training.models import (
    CustomVisionErrorException,
    ImageFileCreateBatch,
    ImageFileCreateEntry,
    ImageIdCreateBatch,
    ImageIdCreateEntry,
    ImageTagCreateEntry,
    PredictionQueryToken,
    Region,
    SuggestedTagAndRegionQueryToken,
)
from msrest.exceptions import HttpOperationError, ValidationError
from raccoon import raccoon_entry, raccoon_names
from training_helpers import wait_for

GENERAL_DETECTION = "da2e3a8a-40a5-4171-82f4-58522f70fbc1"
PER_TAG = 5  # tagged training images per tag
UNTAGGED = 6  # untagged val images per tag


def photos(root: Path, split: str, kind: str, n: int, skip: int = 0) -> list[Path]:
    return sorted((root / "hymenoptera" / split / kind).glob("*.jpg"))[skip : skip + n]


def upload(trainer: Any, project_id: str, files: list[Path], tag_ids: list[str] | None = None) -> list[Any]:
    entries = [ImageFileCreateEntry(name=f.name, contents=f.read_bytes()) for f in files]
    summary = trainer.create_images_from_files(
        project_id, ImageFileCreateBatch(images=entries, tag_ids=tag_ids)
    )
    assert summary.is_batch_successful, [r.status for r in summary.images]
    return [r.image for r in summary.images]


def error_code(exc: pytest.ExceptionInfo[Any]) -> tuple[int, str]:
    return exc.value.response.status_code, exc.value.error.code


def all_pages(trainer: Any, project_id: str, iteration_id: str, **token: Any) -> list[list[Any]]:
    pages = []
    query = SuggestedTagAndRegionQueryToken(**token)
    while True:
        answer = trainer.query_suggested_images(project_id, iteration_id, query)
        pages.append(answer.results)
        if not answer.token.continuation:
            return pages
        query = answer.token


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from conftest import LiveServer, make_settings

    settings = make_settings(
        tmp_path_factory.mktemp("suggest"),
        detection_input_size=224,
        detection_epochs=6,
        min_images_per_tag_detection=8,
    )
    live = LiveServer(settings).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def cls(server, shared_data: Path) -> dict[str, Any]:
    """Ants and bees: 5 tagged per tag, trained; 6 untagged val photos per tag to label."""
    trainer = server.trainer()
    project = trainer.create_project("smart-labeler", classification_type="Multiclass")
    ant = trainer.create_tag(project.id, "ant")
    bee = trainer.create_tag(project.id, "bee")
    tagged = upload(trainer, project.id, photos(shared_data, "train", "ants", PER_TAG), [ant.id])
    tagged += upload(trainer, project.id, photos(shared_data, "train", "bees", PER_TAG), [bee.id])
    truth = {i.id: ant.id for i in upload(trainer, project.id, photos(shared_data, "val", "ants", UNTAGGED))}
    truth |= {i.id: bee.id for i in upload(trainer, project.id, photos(shared_data, "val", "bees", UNTAGGED))}
    iteration = wait_for(trainer, project.id, trainer.train_project(project.id).id)
    assert iteration.status == "Completed", iteration.training_error_details
    return {
        "trainer": trainer,
        "project": project,
        "iteration": iteration,
        "ant": ant,
        "bee": bee,
        "truth": truth,
        "tagged": tagged,
    }


def test_suggested_tags_carry_calibrated_probabilities_and_entropy(cls) -> None:
    trainer, project, iteration = cls["trainer"], cls["project"], cls["iteration"]
    ids = list(cls["truth"])
    suggestions = trainer.suggest_tags_and_regions(project.id, iteration.id, ids)
    assert [s.id for s in suggestions] == ids  # in the order asked
    right = 0
    for s in suggestions:
        assert s.project == project.id and s.iteration == iteration.id
        assert {p.tag_name for p in s.predictions} == {"ant", "bee"}
        assert [p.probability for p in s.predictions] == sorted(
            (p.probability for p in s.predictions), reverse=True
        )
        assert sum(p.probability for p in s.predictions) == pytest.approx(1, abs=1e-4)
        # Multiclass: the entropy of the two probabilities, in bits (log 2 is the maximum).
        entropy = -sum(p.probability * math.log(p.probability) for p in s.predictions if p.probability > 0)
        assert s.prediction_uncertainty == pytest.approx(entropy / math.log(2), abs=1e-4)
        right += s.predictions[0].tag_id == cls["truth"][s.id]
    assert right >= 10, f"only {right} of {len(ids)} suggestions are right"
    cls["first_seen"] = {s.id: (s.created, s.prediction_uncertainty) for s in suggestions}
    # Images already tagged can be asked about too (Azure's smart labeler only lists untagged ones).
    trained = trainer.suggest_tags_and_regions(project.id, iteration.id, [cls["tagged"][0].id])
    assert trained[0].predictions[0].tag_name == "ant"


def test_suggestions_are_computed_once(cls) -> None:
    trainer, project, iteration = cls["trainer"], cls["project"], cls["iteration"]
    first_seen = cls.get("first_seen") or {
        s.id: (s.created, s.prediction_uncertainty)
        for s in trainer.suggest_tags_and_regions(project.id, iteration.id, list(cls["truth"]))
    }
    time.sleep(0.05)  # a recomputation now would carry a later creation time
    ids = list(cls["truth"])[::-1]
    again = trainer.suggest_tags_and_regions(project.id, iteration.id, ids)
    # The cached rows come back as they were stored: same time of creation, same numbers.
    assert {s.id: (s.created, s.prediction_uncertainty) for s in again} == first_seen
    queried = {r.id: r.created for page in all_pages(trainer, project.id, iteration.id) for r in page}
    assert queried == {i: created for i, (created, _) in first_seen.items()}


def test_query_pages_through_every_untagged_image_sorted_by_uncertainty(cls) -> None:
    trainer, project, iteration = cls["trainer"], cls["project"], cls["iteration"]
    pages = all_pages(trainer, project.id, iteration.id, max_count=5)
    assert [len(p) for p in pages] == [5, 5, 2]
    results = [r for page in pages for r in page]
    assert sorted(r.id for r in results) == sorted(cls["truth"])  # each untagged image once
    uncertainties = [r.prediction_uncertainty for r in results]
    assert uncertainties == sorted(uncertainties, reverse=True)  # most uncertain first by default
    first = results[0]
    assert first.width > 0 and first.height > 0 and first.domain == "Classification"
    assert httpx.get(first.thumbnail_uri).headers["content-type"] == "image/jpeg"

    ascending = [
        r.id
        for page in all_pages(trainer, project.id, iteration.id, max_count=7, sort_by="UncertaintyAscending")
        for r in page
    ]
    assert ascending == [r.id for r in results][::-1]


def test_query_filters_by_suggested_tag_and_threshold(cls) -> None:
    trainer, project, iteration = cls["trainer"], cls["project"], cls["iteration"]
    ant, bee = cls["ant"].id, cls["bee"].id
    top = {
        s.id: s.predictions[0]
        for s in trainer.suggest_tags_and_regions(project.id, iteration.id, list(cls["truth"]))
    }

    def ids(**token: Any) -> set[str]:
        return {r.id for page in all_pages(trainer, project.id, iteration.id, **token) for r in page}

    assert ids(tag_ids=[ant]) == {i for i, p in top.items() if p.tag_id == ant}
    assert ids(tag_ids=[ant, bee]) == set(top)
    confident = {i for i, p in top.items() if p.probability >= 0.9}
    assert ids(threshold=0.9) == confident
    assert ids(tag_ids=[bee], threshold=0.9) == {i for i in confident if top[i].tag_id == bee}

    counts = trainer.query_suggested_image_count(project.id, iteration.id)
    assert counts == {
        ant: sum(p.tag_id == ant for p in top.values()),
        bee: sum(p.tag_id == bee for p in top.values()),
    }
    assert sum(counts.values()) == len(cls["truth"])
    strict = trainer.query_suggested_image_count(project.id, iteration.id, tag_ids=[bee], threshold=0.9)
    assert strict == {bee: len(ids(tag_ids=[bee], threshold=0.9))}


def test_a_labelled_image_leaves_the_queue(cls) -> None:
    trainer, project, iteration = cls["trainer"], cls["project"], cls["iteration"]
    image_id, bee = next(iter(cls["truth"])), cls["bee"].id
    before = sum(trainer.query_suggested_image_count(project.id, iteration.id).values())
    trainer.create_image_tags(project.id, tags=[ImageTagCreateEntry(image_id=image_id, tag_id=bee)])
    try:
        listed = {r.id for page in all_pages(trainer, project.id, iteration.id) for r in page}
        assert image_id not in listed
        assert sum(trainer.query_suggested_image_count(project.id, iteration.id).values()) == before - 1
    finally:
        trainer.delete_image_tags(project.id, [image_id], [bee])
    assert sum(trainer.query_suggested_image_count(project.id, iteration.id).values()) == before


def test_cli_prints_the_most_uncertain_images(cls, server) -> None:
    # The same queue from the command line, reading the server's data folder while it runs.
    import subprocess
    import sys

    trainer, project, iteration = cls["trainer"], cls["project"], cls["iteration"]
    data_dir = str(server.settings.data_dir)
    args = [sys.executable, "-m", "tagsight", "suggest", "--data-dir", data_dir, "--take", "3"]
    out = subprocess.run([*args, "--project", "SMART-LABELER"], capture_output=True, text=True, check=True)
    expected = [
        r.id
        for r in trainer.query_suggested_images(
            project.id, iteration.id, SuggestedTagAndRegionQueryToken(max_count=3)
        ).results
    ]
    listed = [m.group(0) for line in out.stdout.splitlines() if (m := re.search(r"[0-9a-f-]{36}", line))]
    assert listed == expected, out.stdout
    assert f"3 of {len(cls['truth'])} untagged images" in out.stdout
    missing = subprocess.run([*args, "--project", "nope"], capture_output=True, text=True, check=False)
    assert missing.returncode == 1 and "No project is named 'nope'" in missing.stderr


def test_refusals(cls, server, shared_data: Path) -> None:
    trainer, project, iteration = cls["trainer"], cls["project"], cls["iteration"]
    other = trainer.create_project("someone-else")
    tag = trainer.create_tag(other.id, "thing")
    [stranger] = upload(trainer, other.id, photos(shared_data, "val", "ants", 1, skip=20))
    with pytest.raises(CustomVisionErrorException) as err:  # another project's image
        trainer.suggest_tags_and_regions(project.id, iteration.id, [cls["tagged"][0].id, stranger.id])
    assert error_code(err) == (404, "NotFoundImage") and stranger.id in err.value.message
    with pytest.raises(CustomVisionErrorException) as err:  # this iteration, asked through another project
        trainer.suggest_tags_and_regions(other.id, iteration.id, [stranger.id])
    assert error_code(err) == (404, "NotFoundIteration")
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.query_suggested_images(other.id, iteration.id, SuggestedTagAndRegionQueryToken())
    assert error_code(err) == (404, "NotFoundIteration")
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.query_suggested_image_count(project.id, iteration.id, tag_ids=[tag.id])
    assert error_code(err) == (404, "NotFoundTag")  # a tag of another project
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.query_suggested_images(
            project.id, iteration.id, SuggestedTagAndRegionQueryToken(sort_by="Newest")
        )
    assert error_code(err) == (400, "BadRequestInvalid")
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.query_suggested_images(
            project.id, iteration.id, SuggestedTagAndRegionQueryToken(threshold=1.5)
        )
    assert error_code(err) == (400, "BadRequestInvalid")
    with pytest.raises(CustomVisionErrorException) as err:
        token = SuggestedTagAndRegionQueryToken(continuation="not-a-token")
        trainer.query_suggested_images(project.id, iteration.id, token)
    assert error_code(err) == (400, "BadRequestInvalid")
    # A continuation is only good for the query it came from.
    page = trainer.query_suggested_images(
        project.id, iteration.id, SuggestedTagAndRegionQueryToken(max_count=2)
    )
    page.token.sort_by = "UncertaintyAscending"
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.query_suggested_images(project.id, iteration.id, page.token)
    assert error_code(err) == (400, "BadRequestInvalid")

    # More than 64 images: the SDK refuses before sending, and so does the server.
    many = [cls["tagged"][0].id] * 65
    with pytest.raises(ValidationError):
        trainer.suggest_tags_and_regions(project.id, iteration.id, many)
    response = httpx.post(
        f"{server.url}/customvision/v3.4-preview/training/projects/{project.id}/tagsandregions/suggestions",
        params={"iterationId": iteration.id, "imageIds": ",".join(str(uuid.uuid4()) for _ in range(65))},
        headers={"Training-Key": server.training_key},
    )
    assert response.status_code == 400 and response.json()["code"] == "BadRequestInvalidIds"


def test_an_iteration_that_is_not_trained_is_refused(server_factory, shared_data: Path) -> None:
    server = server_factory(embedded_worker=False)  # nothing trains: the iteration stays Training
    trainer = server.trainer()
    project = trainer.create_project("not-trained")
    ant = trainer.create_tag(project.id, "ant")
    bee = trainer.create_tag(project.id, "bee")
    upload(trainer, project.id, photos(shared_data, "train", "ants", PER_TAG), [ant.id])
    upload(trainer, project.id, photos(shared_data, "train", "bees", PER_TAG), [bee.id])
    untagged = upload(trainer, project.id, photos(shared_data, "val", "ants", 1))
    iteration = trainer.train_project(project.id)
    assert iteration.status == "Training"
    calls = [
        lambda: trainer.suggest_tags_and_regions(project.id, iteration.id, [untagged[0].id]),
        lambda: trainer.query_suggested_images(project.id, iteration.id, SuggestedTagAndRegionQueryToken()),
        lambda: trainer.query_suggested_image_count(project.id, iteration.id),
    ]
    for call in calls:
        with pytest.raises(CustomVisionErrorException) as err:
            call()
        assert error_code(err) == (400, "BadRequestIterationIsNotTrained")
    with pytest.raises(HttpOperationError) as err:
        b"".join(trainer.get_artifact(project.id, f"iterations/{iteration.id}/model.onnx"))
    assert err.value.response.json()["code"] == "BadRequestInvalidArtifactUri"


def test_artifacts(cls, shared_data: Path) -> None:
    trainer, project, iteration = cls["trainer"], cls["project"], cls["iteration"]
    image = cls["tagged"][0]
    original = b"".join(trainer.get_artifact(project.id, f"images/{image.id}/original"))
    assert original == photos(shared_data, "train", "ants", 1)[0].read_bytes()
    thumbnail = b"".join(trainer.get_artifact(project.id, f"images/{image.id}/thumbnail"))
    assert thumbnail[:3] == b"\xff\xd8\xff" and len(thumbnail) < len(original)
    model = onnx.load_from_string(
        b"".join(trainer.get_artifact(project.id, f"iterations/{iteration.id}/model.onnx"))
    )
    assert {p.key: p.value for p in model.metadata_props}["classification_type"] == "Multiclass"

    other = trainer.create_project("artifact-stranger")
    for path in (
        "../keys.json",
        "tagsight.db",
        f"originals/{image.id[:2]}/{image.id}",  # a blob key is not an artifact path
        f"images/{image.id}/../../keys.json",
        f"images/{image.id}/exif",
        "images/not-a-guid/original",
        f"iterations/{image.id}/model.onnx",  # an id, but not an iteration's
    ):
        with pytest.raises(HttpOperationError) as err:
            b"".join(trainer.get_artifact(project.id, path))
        assert err.value.response.status_code == 400, path
        assert err.value.response.json()["code"] == "BadRequestInvalidArtifactUri", path
    with pytest.raises(HttpOperationError) as err:  # this project's image, asked through another project
        b"".join(trainer.get_artifact(other.id, f"images/{image.id}/original"))
    assert err.value.response.json()["code"] == "BadRequestInvalidArtifactUri"


def test_predictions_become_training_images_and_count_in_the_next_iteration(
    cls, server, shared_data: Path
) -> None:
    trainer, project, iteration = cls["trainer"], cls["project"], cls["iteration"]
    bee = cls["bee"]
    trainer.publish_iteration(project.id, iteration.id, "labeler-v1", "/local")
    predictor = server.predictor()
    new_bee, new_ant = photos(shared_data, "val", "bees", 2, skip=UNTAGGED)
    with open(new_bee, "rb") as f:
        bee_prediction = predictor.classify_image(project.id, "labeler-v1", f)
    with open(new_ant, "rb") as f:
        ant_prediction = predictor.classify_image(project.id, "labeler-v1", f)
    stored = trainer.query_predictions(project.id, PredictionQueryToken(order_by="Oldest"))
    assert [r.id for r in stored.results] == [bee_prediction.id, ant_prediction.id]
    # The stored image is an artifact of the project, byte for byte what was sent.
    kept = b"".join(trainer.get_artifact(project.id, f"predictions/{bee_prediction.id}/original"))
    assert kept == new_bee.read_bytes()

    summary = trainer.create_images_from_predictions(
        project.id,
        ImageIdCreateBatch(
            images=[
                ImageIdCreateEntry(id=bee_prediction.id, tag_ids=[bee.id]),
                ImageIdCreateEntry(id=ant_prediction.id),  # added untagged: it joins the queue
            ]
        ),
    )
    assert [r.status for r in summary.images] == ["OK", "OK"]
    tagged_bee, untagged_ant = (r.image for r in summary.images)
    assert [t.tag_name for t in tagged_bee.tags] == ["bee"] and not untagged_ant.tags
    queue = {r.id for page in all_pages(trainer, project.id, iteration.id) for r in page}
    assert untagged_ant.id in queue and tagged_bee.id not in queue

    trainer.unpublish_iteration(project.id, iteration.id)
    second = wait_for(trainer, project.id, trainer.train_project(project.id).id)
    assert second.status == "Completed", second.training_error_details
    counts = {t.name: t.image_count for t in trainer.get_tags(project.id, iteration_id=second.id)}
    assert counts == {"ant": PER_TAG, "bee": PER_TAG + 1}
    assert trainer.get_tagged_image_count(project.id, iteration_id=second.id) == 2 * PER_TAG + 1
    # The new iteration has its own suggestions, for every image still untagged.
    fresh = trainer.query_suggested_image_count(project.id, second.id)
    assert sum(fresh.values()) == len(cls["truth"]) + 1


@pytest.fixture(scope="module")
def det(server, shared_data: Path) -> dict[str, Any]:
    """Raccoons: a small, quick detector (8 photos, 224 px, 6 epochs) and 4 untagged val photos."""
    trainer = server.trainer()
    project = trainer.create_project("smart-boxes", domain_id=GENERAL_DETECTION)
    raccoon = trainer.create_tag(project.id, "raccoon")
    names = raccoon_names(shared_data, "train")[:8]
    entries = [raccoon_entry(shared_data, n, raccoon.id) for n in names]
    summary = trainer.create_images_from_files(project.id, ImageFileCreateBatch(images=entries))
    assert summary.is_batch_successful
    val = [shared_data / "raccoon" / "images" / n for n in raccoon_names(shared_data, "val")[:4]]
    untagged = upload(trainer, project.id, val)
    iteration = wait_for(trainer, project.id, trainer.train_project(project.id).id)
    assert iteration.status == "Completed", iteration.training_error_details
    return {
        "trainer": trainer,
        "project": project,
        "iteration": iteration,
        "tag": raccoon,
        "untagged": untagged,
    }


def test_detection_suggests_boxes(det) -> None:
    trainer, project, iteration, tag = det["trainer"], det["project"], det["iteration"], det["tag"]
    ids = [i.id for i in det["untagged"]]
    suggestions = trainer.suggest_tags_and_regions(project.id, iteration.id, ids)
    assert [s.id for s in suggestions] == ids
    for s in suggestions:
        assert 0.0 <= s.prediction_uncertainty <= 1.0
        assert s.predictions, "a detector that saw raccoons suggests some box on a raccoon photo"
        assert all(p.tag_id == tag.id and p.bounding_box is not None for p in s.predictions)
        best = s.predictions[0]
        box = best.bounding_box
        assert 0 <= box.left and box.left + box.width <= 1.0001 and box.top + box.height <= 1.0001
        # Never less doubt than the best box leaves about the image (1 - its probability).
        assert s.prediction_uncertainty >= 1 - best.probability - 1e-6

    pages = all_pages(trainer, project.id, iteration.id, max_count=3)
    results = [r for page in pages for r in page]
    assert sorted(r.id for r in results) == sorted(ids) and results[0].domain == "ObjectDetection"
    sure = {s.id for s in suggestions if s.predictions[0].probability >= 0.3}
    counts = trainer.query_suggested_image_count(project.id, iteration.id, threshold=0.3)
    assert counts == {tag.id: len(sure)}
    listed = {r.id for page in all_pages(trainer, project.id, iteration.id, threshold=0.3) for r in page}
    assert listed == sure


def test_a_detection_becomes_a_training_region(det, shared_data: Path) -> None:
    trainer, project, tag = det["trainer"], det["project"], det["tag"]
    photo = shared_data / "raccoon" / "images" / raccoon_names(shared_data, "val")[5]
    prediction = trainer.quick_test_image(project.id, photo.read_bytes())  # stored
    best = prediction.predictions[0].bounding_box
    region = Region(tag_id=tag.id, left=best.left, top=best.top, width=best.width, height=best.height)
    summary = trainer.create_images_from_predictions(
        project.id, ImageIdCreateBatch(images=[ImageIdCreateEntry(id=prediction.id, regions=[region])])
    )
    assert summary.images[0].status == "OK"
    [image] = trainer.get_images_by_ids(project.id, [summary.images[0].image.id])
    assert [(r.tag_name, round(r.left, 4)) for r in image.regions] == [("raccoon", round(best.left, 4))]
    assert trainer.get_tagged_image_count(project.id, tag_ids=[tag.id]) == 9
