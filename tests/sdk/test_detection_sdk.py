"""Azure's object detection workflow through the official SDK, on the raccoon set."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from azure.cognitiveservices.vision.customvision.training.models import (
    CustomVisionErrorException,
    ImageFileCreateBatch,
    ImageFileCreateEntry,
    Region,
)
from PIL import Image
from raccoon import raccoon_boxes, raccoon_entry, raccoon_names
from training_helpers import wait_for

GENERAL_DETECTION = "da2e3a8a-40a5-4171-82f4-58522f70fbc1"
TRAIN_IMAGES = 16


def iou(a, b) -> float:
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from conftest import LiveServer, make_settings

    settings = make_settings(
        tmp_path_factory.mktemp("det"),
        detection_input_size=224,
        detection_epochs=25,
        min_images_per_tag_detection=10,
        allow_private_urls=True,
        max_advanced_training_s=45,
    )
    live = LiveServer(settings).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def trained(server, shared_data: Path):
    trainer = server.trainer()
    project = trainer.create_project("raccoons", domain_id=GENERAL_DETECTION)
    raccoon = trainer.create_tag(project.id, "raccoon")
    names = raccoon_names(shared_data, "train")[:TRAIN_IMAGES]
    for start in range(0, len(names), 8):
        entries = [raccoon_entry(shared_data, n, raccoon.id) for n in names[start : start + 8]]
        summary = trainer.create_images_from_files(project.id, ImageFileCreateBatch(images=entries))
        assert summary.is_batch_successful, [r.status for r in summary.images]
        assert all(r.image.regions for r in summary.images)
    iteration = wait_for(trainer, project.id, trainer.train_project(project.id).id)
    assert iteration.status == "Completed", iteration.training_error_details
    photo = (shared_data / "raccoon" / "images" / names[0]).read_bytes()
    return {
        "trainer": trainer,
        "project": project,
        "iteration": iteration,
        "tag": raccoon,
        "names": names,
        "photo": photo,
    }


def test_finds_the_raccoon_in_a_training_image(trained, server, shared_data: Path) -> None:
    trainer, project, iteration = trained["trainer"], trained["project"], trained["iteration"]
    trainer.publish_iteration(project.id, iteration.id, "raccoons-v1", "/local")
    predictor = server.predictor()
    name = trained["names"][0]
    with open(shared_data / "raccoon" / "images" / name, "rb") as f:
        result = predictor.detect_image(project.id, "raccoons-v1", f)
    best = result.predictions[0]
    assert best.tag_name == "raccoon" and best.bounding_box is not None
    box = (best.bounding_box.left, best.bounding_box.top, best.bounding_box.width, best.bounding_box.height)
    assert max(iou(box, truth) for truth in raccoon_boxes(shared_data, name)) >= 0.5
    assert [p.probability for p in result.predictions] == sorted(
        (p.probability for p in result.predictions), reverse=True
    )
    assert len(result.predictions) <= 200


def test_detection_performance_and_per_image_boxes(trained) -> None:
    trainer, project, iteration = trained["trainer"], trained["project"], trained["iteration"]
    perf = trainer.get_iteration_performance(project.id, iteration.id, threshold=0.3, overlap_threshold=0.3)
    assert [t.name for t in perf.per_tag_performance] == ["raccoon"]
    assert 0.0 <= perf.precision <= 1.0 and 0.0 <= perf.recall <= 1.0
    assert perf.average_precision > 0.3
    images = trainer.get_image_performances(project.id, iteration.id)
    assert 1 <= len(images) < TRAIN_IMAGES  # only the held-out images are scored
    assert all(p.bounding_box is not None for image in images for p in image.predictions)
    assert all(image.regions for image in images)
    strict = trainer.get_iteration_performance(project.id, iteration.id, threshold=0.3, overlap_threshold=0.9)
    assert strict.average_precision <= perf.average_precision


def test_detect_url_nostore_and_wrong_route(trained, server, shared_data: Path) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    photo = (shared_data / "raccoon" / "images" / trained["names"][1]).read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", str(len(photo)))
            self.end_headers()
            self.wfile.write(photo)

        def log_message(self, *args: object) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    try:
        trainer, project, iteration = trained["trainer"], trained["project"], trained["iteration"]
        trainer.publish_iteration(project.id, iteration.id, "raccoons-url", "/local")
        predictor = server.predictor()
        url = f"http://127.0.0.1:{http.server_address[1]}/r.jpg"
        by_url = predictor.detect_image_url_with_no_store(project.id, "raccoons-url", url=url)
        assert by_url.predictions and by_url.predictions[0].bounding_box is not None
        stored = predictor.detect_image_url(project.id, "raccoons-url", url=url)
        assert stored.predictions[0].probability == pytest.approx(by_url.predictions[0].probability, abs=1e-5)
        from azure.cognitiveservices.vision.customvision.prediction.models import (
            CustomVisionErrorException as E,
        )

        with pytest.raises(E) as err:
            predictor.classify_image_url(project.id, "raccoons-url", url=url)
        assert err.value.response.status_code == 400
        quick = trainer.quick_test_image(project.id, photo, store=False)
        assert quick.predictions[0].bounding_box is not None
    finally:
        http.shutdown()
        http.server_close()


def test_region_proposals_from_the_trained_detector(trained, shared_data: Path) -> None:
    trainer, project = trained["trainer"], trained["project"]
    image = trainer.get_tagged_images(project.id, take=1)[0]
    proposals = trainer.get_image_region_proposals(project.id, image.id)
    assert proposals.image_id == image.id and proposals.proposals
    truth = [(r.left, r.top, r.width, r.height) for r in image.regions]
    best = max(
        iou((p.bounding_box.left, p.bounding_box.top, p.bounding_box.width, p.bounding_box.height), t)
        for p in proposals.proposals
        for t in truth
    )
    assert best >= 0.5


def test_region_proposals_before_training(server, shared_data: Path) -> None:
    trainer = server.trainer()
    project = trainer.create_project("fresh-boxes", domain_id=GENERAL_DETECTION)
    name = raccoon_names(shared_data, "val")[0]
    data = (shared_data / "raccoon" / "images" / name).read_bytes()
    image = trainer.create_images_from_data(project.id, data).images[0].image
    proposals = trainer.get_image_region_proposals(project.id, image.id).proposals
    assert proposals
    assert all(0 <= p.confidence <= 1 and p.bounding_box.width > 0 for p in proposals)
    best = max(
        iou((p.bounding_box.left, p.bounding_box.top, p.bounding_box.width, p.bounding_box.height), t)
        for p in proposals
        for t in raccoon_boxes(shared_data, name)
    )
    assert best >= 0.3  # a useful starting box, not a trained detector


def test_detection_validation(server, shared_data: Path) -> None:
    trainer = server.trainer()
    project = trainer.create_project("too-few-boxes", domain_id=GENERAL_DETECTION)
    tag = trainer.create_tag(project.id, "raccoon")
    names = raccoon_names(shared_data, "train")[:4]
    trainer.create_images_from_files(
        project.id, ImageFileCreateBatch(images=[raccoon_entry(shared_data, n, tag.id) for n in names])
    )
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.train_project(project.id)
    assert err.value.error.code == "BadRequestDetectionTrainingValidationFailed"
    assert "'raccoon' (4)" in err.value.message
    outside = ImageFileCreateEntry(
        name="x.jpg",
        contents=(shared_data / "raccoon" / "images" / names[0]).read_bytes(),
        regions=[Region(tag_id=tag.id, left=0.8, top=0.1, width=0.5, height=0.3)],
    )
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.create_images_from_files(project.id, ImageFileCreateBatch(images=[outside]))
    assert err.value.error.code == "BadRequestImageRegions"


def test_advanced_training_within_its_budget(trained, server) -> None:
    """Advanced fine-tunes the backbone too; the server caps its budget for this test."""
    trainer, project = trained["trainer"], trained["project"]
    iteration = trainer.train_project(project.id, training_type="Advanced", reserved_budget_in_hours=1)
    assert iteration.training_type == "Advanced" and iteration.reserved_budget_in_hours == 1
    iteration = wait_for(trainer, project.id, iteration.id)
    assert iteration.status == "Completed", iteration.training_error_details
    perf = trainer.get_iteration_performance(project.id, iteration.id, threshold=0.3)
    assert 0.0 <= perf.average_precision <= 1.0
    result = trainer.quick_test_image(
        project.id, iteration_id=iteration.id, image_data=trained["photo"], store=False
    )
    assert result.predictions and result.predictions[0].bounding_box is not None

    # Advanced averages each prediction with the mirror image's, so a mirrored photo gets the
    # mirrored boxes with the same probabilities (lossless PNGs, so only the mirroring differs).
    def quick_test(image: Image.Image) -> list:
        data = io.BytesIO()
        image.save(data, format="PNG")
        found = trainer.quick_test_image(
            project.id, iteration_id=iteration.id, image_data=data.getvalue(), store=False
        ).predictions
        return [(p.probability, p.bounding_box) for p in found if p.probability > 0.05]

    photo = Image.open(io.BytesIO(trained["photo"])).convert("RGB")
    plain, mirrored = quick_test(photo), quick_test(photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    assert plain and len(plain) == len(mirrored)
    for (p, box), (q, other) in zip(plain, mirrored, strict=True):
        assert q == pytest.approx(p, abs=1e-3)
        assert other.left == pytest.approx(1 - box.left - box.width, abs=2e-3)
        same = pytest.approx((box.top, box.width, box.height), abs=2e-3)
        assert (other.top, other.width, other.height) == same
