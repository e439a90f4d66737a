"""Azure's whole classification workflow through the official SDK, on real ant and bee photos."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import imagegen
import pytest
from azure.cognitiveservices.vision.customvision.prediction.models import (
    CustomVisionErrorException as PredictionError,
)
from azure.cognitiveservices.vision.customvision.training.models import (
    CustomVisionErrorException,
    ImageFileCreateBatch,
    ImageFileCreateEntry,
    PredictionQueryToken,
)
from training_helpers import wait_for

PER_TAG = 15


def upload_folder(trainer, project_id: str, folder: Path, tag_ids: list[str], n: int, skip: int = 0) -> list:
    files = sorted(folder.glob("*.jpg"))[skip : skip + n]
    batch = ImageFileCreateBatch(
        images=[ImageFileCreateEntry(name=f.name, contents=f.read_bytes()) for f in files], tag_ids=tag_ids
    )
    summary = trainer.create_images_from_files(project_id, batch)
    assert summary.is_batch_successful
    return [r.image for r in summary.images]


class _Photos(BaseHTTPRequestHandler):
    photo = b""

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(self.photo)))
        self.end_headers()
        self.wfile.write(self.photo)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def photo_url(shared_data: Path) -> Iterator[str]:
    _Photos.photo = sorted((shared_data / "hymenoptera" / "val" / "bees").glob("*.jpg"))[0].read_bytes()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Photos)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/bee.jpg"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, shared_data: Path):
    from conftest import LiveServer, make_settings

    # Loopback URLs allowed so this test can serve its own photo.
    live = LiveServer(
        make_settings(tmp_path_factory.mktemp("cls"), allow_private_urls=True, max_advanced_training_s=40)
    ).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def trained(server, shared_data: Path):
    trainer = server.trainer()
    project = trainer.create_project("ants-and-bees", classification_type="Multiclass")
    ant = trainer.create_tag(project.id, "ant")
    bee = trainer.create_tag(project.id, "bee")
    train = shared_data / "hymenoptera" / "train"
    upload_folder(trainer, project.id, train / "ants", [ant.id], PER_TAG)
    upload_folder(trainer, project.id, train / "bees", [bee.id], PER_TAG)
    iteration = trainer.train_project(project.id)
    assert iteration.status == "Training"
    # The server answers while training runs in the background.
    assert trainer.get_project(project.id).id == project.id
    iteration = wait_for(trainer, project.id, iteration.id)
    assert iteration.status == "Completed", iteration.training_error_details
    return {"trainer": trainer, "project": project, "iteration": iteration, "ant": ant, "bee": bee}


def test_iteration_fields(trained) -> None:
    trainer, project, iteration = trained["trainer"], trained["project"], trained["iteration"]
    assert iteration.name == "Iteration 1"
    assert iteration.trained_at is not None and iteration.classification_type == "Multiclass"
    assert iteration.training_type == "Regular"
    assert iteration.additional_properties["trainingProgress"] == 1.0
    assert [i.id for i in trainer.get_iterations(project.id)] == [iteration.id]
    assert {t.name: t.image_count for t in trainer.get_tags(project.id, iteration_id=iteration.id)} == {
        "ant": PER_TAG,
        "bee": PER_TAG,
    }
    assert trainer.get_tagged_image_count(project.id, iteration_id=iteration.id) == 2 * PER_TAG


def test_performance_is_in_range_and_matches_per_image_results(trained) -> None:
    trainer, project, iteration = trained["trainer"], trained["project"], trained["iteration"]
    perf = trainer.get_iteration_performance(project.id, iteration.id, threshold=0.5)
    assert 0.7 <= perf.precision <= 1 and 0.7 <= perf.recall <= 1 and 0.8 <= perf.average_precision <= 1
    assert {t.name for t in perf.per_tag_performance} == {"ant", "bee"}
    assert all(0 <= t.precision_std_deviation <= 0.5 for t in perf.per_tag_performance)

    images = trainer.get_image_performances(project.id, iteration.id, take=256)
    assert trainer.get_image_performance_count(project.id, iteration.id) == len(images) == 2 * PER_TAG
    # Recompute recall at 0.5 from the per-image results: it must agree with the summary.
    hits = sum(
        1
        for image in images
        for p in image.predictions
        if p.probability >= 0.5 and p.tag_id in {t.tag_id for t in image.tags}
    )
    assert hits / len(images) == pytest.approx(perf.recall)
    assert all(
        image.predictions == sorted(image.predictions, key=lambda p: -p.probability) for image in images
    )
    only_ants = trainer.get_image_performances(
        project.id, iteration.id, tag_ids=[trained["ant"].id], take=256
    )
    assert len(only_ants) == PER_TAG
    strict = trainer.get_iteration_performance(project.id, iteration.id, threshold=0.99)
    assert strict.recall <= perf.recall


def test_publish_classify_store_and_unpublish(trained, server, shared_data: Path, photo_url: str) -> None:
    trainer, project, iteration = trained["trainer"], trained["project"], trained["iteration"]
    assert (
        trainer.publish_iteration(project.id, iteration.id, "bees-v1", "/subscriptions/local/tagsight")
        is True
    )
    assert trainer.get_iteration(project.id, iteration.id).publish_name == "bees-v1"
    predictor = server.predictor()
    val = shared_data / "hymenoptera" / "val"
    with open(sorted((val / "ants").glob("*.jpg"))[0], "rb") as f:
        ant_result = predictor.classify_image(project.id, "bees-v1", f, application="tests")
    assert ant_result.predictions[0].tag_name == "ant"
    assert [p.probability for p in ant_result.predictions] == sorted(
        (p.probability for p in ant_result.predictions), reverse=True
    )
    assert sum(p.probability for p in ant_result.predictions) == pytest.approx(1, abs=1e-3)
    url_result = predictor.classify_image_url(project.id, "bees-v1", url=photo_url)
    assert url_result.predictions[0].tag_name == "bee"
    predictor.classify_image_with_no_store(project.id, "bees-v1", imagegen.noise_jpeg(5))

    stored = trainer.query_predictions(project.id, PredictionQueryToken(order_by="Newest"))
    assert {r.id for r in stored.results} == {ant_result.id, url_result.id}
    assert stored.results[0].thumbnail_uri and stored.results[0].predictions
    only_app = trainer.query_predictions(project.id, PredictionQueryToken(application="tests"))
    assert [r.id for r in only_app.results] == [ant_result.id]
    trainer.delete_prediction(project.id, ids=[ant_result.id])
    assert [r.id for r in trainer.query_predictions(project.id, PredictionQueryToken()).results] == [
        url_result.id
    ]

    with pytest.raises(CustomVisionErrorException) as err:
        trainer.delete_iteration(project.id, iteration.id)
    assert err.value.error.code == "BadRequestIterationIsPublished"
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.delete_project(project.id)
    assert err.value.error.code == "BadRequestIterationIsPublished"

    trainer.unpublish_iteration(project.id, iteration.id)
    with pytest.raises(PredictionError) as err:
        predictor.classify_image(project.id, "bees-v1", imagegen.noise_jpeg(6))
    assert err.value.response.status_code == 404


def test_quick_test(trained, shared_data: Path, photo_url: str) -> None:
    trainer, project = trained["trainer"], trained["project"]
    bee = sorted((shared_data / "hymenoptera" / "val" / "bees").glob("*.jpg"))[3].read_bytes()
    result = trainer.quick_test_image(project.id, bee, store=False)
    assert result.iteration == trained["iteration"].id
    assert result.predictions[0].tag_name == "bee"
    by_url = trainer.quick_test_image_url(project.id, url=photo_url, iteration_id=trained["iteration"].id)
    assert by_url.predictions[0].tag_name == "bee"


def test_prediction_key_is_required(trained, server) -> None:
    import httpx

    url = f"{server.url}/customvision/v3.0/prediction/{trained['project'].id}/classify/iterations/x/image"
    assert httpx.post(url, content=b"x", headers={"Prediction-Key": server.training_key}).status_code == 401


def test_rename_and_retrain_rules(trained) -> None:
    trainer, project, iteration = trained["trainer"], trained["project"], trained["iteration"]
    renamed = trainer.update_iteration(project.id, iteration.id, name="first model")
    assert renamed.name == "first model"
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.train_project(project.id)
    assert err.value.error.code == "BadRequestTrainingNotNeeded"
    again = trainer.train_project(project.id, force_train=True)
    again = wait_for(trainer, project.id, again.id)
    assert again.status == "Completed" and again.name == "Iteration 2"
    trainer.delete_iteration(project.id, again.id)
    assert [i.id for i in trainer.get_iterations(project.id)] == [iteration.id]


def test_training_validation(server, shared_data: Path) -> None:
    trainer = server.trainer()
    project = trainer.create_project("too-few")
    ant = trainer.create_tag(project.id, "ant")
    bee = trainer.create_tag(project.id, "bee")
    train = shared_data / "hymenoptera" / "train"
    upload_folder(trainer, project.id, train / "ants", [ant.id], 5)
    upload_folder(trainer, project.id, train / "bees", [bee.id], 3)
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.train_project(project.id)
    assert err.value.response.status_code == 400
    assert err.value.error.code == "BadRequestTrainingValidationFailed"
    assert "'bee' (3)" in err.value.message
    assert trainer.get_iterations(project.id) == []
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.train_project(project.id, training_type="Advanced", reserved_budget_in_hours=0)
    assert err.value.error.code == "BadRequestReservedBudgetInHoursNotEnoughForAdvancedTraining"


def test_advanced_training_fine_tunes_within_its_budget(trained, shared_data: Path) -> None:
    trainer, project = trained["trainer"], trained["project"]
    iteration = trainer.train_project(project.id, training_type="Advanced", reserved_budget_in_hours=1)
    assert iteration.training_type == "Advanced" and iteration.status == "Training"
    iteration = wait_for(trainer, project.id, iteration.id)
    assert iteration.status == "Completed", iteration.training_error_details
    perf = trainer.get_iteration_performance(project.id, iteration.id)
    assert 0.5 <= perf.precision <= 1.0
    # Performance comes from the held-out split only.
    assert 1 <= trainer.get_image_performance_count(project.id, iteration.id) < 2 * PER_TAG
    bee = sorted((shared_data / "hymenoptera" / "val" / "bees").glob("*.jpg"))[3].read_bytes()
    result = trainer.quick_test_image(project.id, bee, iteration_id=iteration.id, store=False)
    assert result.predictions[0].tag_name == "bee"
