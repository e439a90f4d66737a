"""Training that fails, training across a restart, and multilabel/Negative models, through the SDK."""

from __future__ import annotations

from pathlib import Path

import imagegen
import pytest
from azure.cognitiveservices.vision.customvision.training.models import (
    CustomVisionErrorException,
    ImageFileCreateBatch,
    ImageFileCreateEntry,
    ImageIdCreateBatch,
    ImageIdCreateEntry,
    PredictionQueryToken,
)
from training_helpers import wait_for

from tagsight.training import jobs


def upload(trainer, project_id: str, files: list[Path], tag_ids: list[str]) -> list:
    batch = ImageFileCreateBatch(
        images=[ImageFileCreateEntry(name=f.name, contents=f.read_bytes()) for f in files], tag_ids=tag_ids
    )
    summary = trainer.create_images_from_files(project_id, batch)
    assert summary.is_batch_successful, [r.status for r in summary.images]
    return [r.image for r in summary.images]


def photos(shared_data: Path, split: str, kind: str, n: int, skip: int = 0) -> list[Path]:
    return sorted((shared_data / "hymenoptera" / split / kind).glob("*.jpg"))[skip : skip + n]


def two_tag_project(trainer, shared_data: Path, n: int = 5):
    project = trainer.create_project("lifecycle")
    ant, bee = trainer.create_tag(project.id, "ant"), trainer.create_tag(project.id, "bee")
    images = upload(trainer, project.id, photos(shared_data, "train", "ants", n, skip=20), [ant.id])
    images += upload(trainer, project.id, photos(shared_data, "train", "bees", n, skip=20), [bee.id])
    return project, ant, bee, images


def test_images_deleted_before_training_runs_end_in_failed(server_factory, shared_data: Path) -> None:
    server = server_factory(embedded_worker=False)
    trainer = server.trainer()
    project, _, _, images = two_tag_project(trainer, shared_data)
    iteration = trainer.train_project(project.id)
    trainer.delete_images(project.id, image_ids=[i.id for i in images[:3]])
    server.services.worker.start()
    finished = wait_for(trainer, project.id, iteration.id)
    assert finished.status == "Failed"
    assert "deleted" in finished.training_error_details
    assert finished.additional_properties["trainingMessage"] == "Failed"
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.get_iteration_performance(project.id, iteration.id)
    assert err.value.error.code == "BadRequestIterationIsNotTrained"


def test_an_iteration_interrupted_by_a_restart_is_trained_after_it(
    server_factory, tmp_path, shared_data
) -> None:
    data_dir = tmp_path / "restart"
    first = server_factory(data_dir, embedded_worker=False)
    trainer = first.trainer()
    project, *_ = two_tag_project(trainer, shared_data)
    iteration = trainer.train_project(project.id)
    # What a crash leaves behind: a job claimed by a worker that no longer exists, mid-way.
    claimed = jobs.claim_next(first.services.worker.db, "worker-of-a-crashed-process")
    assert claimed is not None and claimed.id == iteration.id
    jobs.ProgressReporter(first.services.worker.db, iteration.id)(0.4, "Embedded 4 of 10 new images")
    first.stop()

    second = server_factory(data_dir)
    trainer = second.trainer()
    finished = wait_for(trainer, project.id, iteration.id)
    assert finished.status == "Completed", finished.training_error_details
    assert len(trainer.get_iterations(project.id)) == 1


def test_multiclass_refuses_images_with_two_tags(server_factory, shared_data: Path) -> None:
    trainer = server_factory(embedded_worker=False).trainer()
    project, ant, bee, images = two_tag_project(trainer, shared_data)
    from azure.cognitiveservices.vision.customvision.training.models import ImageTagCreateEntry

    trainer.create_image_tags(project.id, tags=[ImageTagCreateEntry(image_id=images[0].id, tag_id=bee.id)])
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.train_project(project.id)
    assert err.value.error.code == "BadRequestMultiClassClassificationTrainingValidationFailed"


def test_multilabel_with_a_negative_tag(server_factory, shared_data: Path) -> None:
    server = server_factory()
    trainer = server.trainer()
    project = trainer.create_project("multilabel", classification_type="Multilabel")
    ant = trainer.create_tag(project.id, "ant")
    bee = trainer.create_tag(project.id, "bee")
    negative = trainer.create_tag(project.id, "nothing", type="Negative")
    upload(trainer, project.id, photos(shared_data, "train", "ants", 8), [ant.id])
    upload(trainer, project.id, photos(shared_data, "train", "bees", 8), [bee.id])
    raccoons = sorted((shared_data / "raccoon" / "images").glob("*.jpg"))
    upload(trainer, project.id, raccoons[:8], [negative.id])
    iteration = wait_for(trainer, project.id, trainer.train_project(project.id).id)
    assert iteration.status == "Completed", iteration.training_error_details
    assert iteration.classification_type == "Multilabel"
    perf = trainer.get_iteration_performance(project.id, iteration.id)
    assert {t.name for t in perf.per_tag_performance} == {"ant", "bee", "nothing"}

    raccoon = trainer.quick_test_image(project.id, raccoons[-1].read_bytes(), store=False)
    assert raccoon.predictions[0].tag_name == "nothing"
    assert next(p for p in raccoon.predictions if p.tag_name == "nothing").tag_type == "Negative"
    right = 0
    for photo in photos(shared_data, "val", "ants", 5):
        result = trainer.quick_test_image(project.id, photo.read_bytes(), store=False)
        scores = {p.tag_name: p.probability for p in result.predictions}
        right += scores["ant"] > scores["bee"]
    assert right >= 4
    assert all(0 <= p <= 1 for p in scores.values())


def test_stored_predictions_become_training_images(server_factory, shared_data: Path) -> None:
    server = server_factory()
    trainer = server.trainer()
    project, ant, bee, _ = two_tag_project(trainer, shared_data)
    first = wait_for(trainer, project.id, trainer.train_project(project.id).id)
    assert first.status == "Completed"
    new_bee = photos(shared_data, "val", "bees", 1, skip=5)[0].read_bytes()
    quick = trainer.quick_test_image(project.id, new_bee)  # store=True by default
    stored = trainer.query_predictions(project.id, PredictionQueryToken())
    assert [r.id for r in stored.results] == [quick.id]

    summary = trainer.create_images_from_predictions(
        project.id,
        ImageIdCreateBatch(
            images=[ImageIdCreateEntry(id=quick.id, tag_ids=[bee.id]), ImageIdCreateEntry(id=ant.id)]
        ),
    )
    assert [r.status for r in summary.images] == ["OK", "ErrorSource"]
    assert summary.images[0].image.tags[0].tag_name == "bee"
    assert trainer.get_tagged_image_count(project.id, tag_ids=[bee.id]) == 6

    second = wait_for(trainer, project.id, trainer.train_project(project.id).id)
    assert second.status == "Completed"
    counts = {t.name: t.image_count for t in trainer.get_tags(project.id, iteration_id=second.id)}
    assert counts == {"ant": 5, "bee": 6}
    assert imagegen is not None
