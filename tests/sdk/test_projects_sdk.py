"""Domains and projects through the official SDK."""

from __future__ import annotations

import uuid

import pytest
from azure.cognitiveservices.vision.customvision.training.models import (
    CustomVisionErrorException,
    Project,
    ProjectSettings,
)

GENERAL_CLASSIFICATION = "ee85a74c-405e-4adc-bb47-ffa8ca0c9f31"
GENERAL_DETECTION = "da2e3a8a-40a5-4171-82f4-58522f70fbc1"
COMPACT_CLASSIFICATION = "0732100f-1a38-4e49-a514-c9b44c697ab5"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_domains_include_the_ones_quickstarts_pick(trainer) -> None:
    domains = trainer.get_domains()
    detection = next(d for d in domains if d.type == "ObjectDetection" and d.name == "General")
    classification = next(d for d in domains if d.type == "Classification" and d.name == "General")
    assert detection.id == GENERAL_DETECTION
    assert classification.id == GENERAL_CLASSIFICATION
    compact = trainer.get_domain(COMPACT_CLASSIFICATION)
    assert compact.exportable and "ONNX" in compact.exportable_platforms
    assert compact.model_information.description
    assert not trainer.get_domain(GENERAL_CLASSIFICATION).exportable


def test_unknown_domain_is_404(trainer) -> None:
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.get_domain(str(uuid.uuid4()))
    assert err.value.response.status_code == 404
    assert err.value.error.code == "NotFoundDomain"


def test_create_defaults_to_general_multiclass(trainer) -> None:
    name = unique("defaults")
    project = trainer.create_project(name)
    assert project.name == name
    assert project.settings.domain_id == GENERAL_CLASSIFICATION
    assert project.settings.classification_type == "Multiclass"
    assert project.created is not None and project.created.tzinfo is not None
    assert trainer.get_project(project.id).name == name
    assert project.id in {p.id for p in trainer.get_projects()}


def test_create_with_every_option(trainer) -> None:
    project = trainer.create_project(
        unique("full"),
        description="Edge model",
        domain_id=COMPACT_CLASSIFICATION,
        classification_type="Multilabel",
        target_export_platforms=["ONNX", "CoreML"],
        export_model_container_uri="https://example.invalid/container",
    )
    assert project.description == "Edge model"
    assert project.settings.classification_type == "Multilabel"
    assert project.settings.target_export_platforms == ["ONNX", "CoreML"]
    assert project.settings.export_model_container_uri == "https://example.invalid/container"


def test_a_uuid_object_as_name_works_like_the_quickstart(trainer) -> None:
    name = uuid.uuid4()
    assert trainer.create_project(name).name == str(name)


def test_detection_project_has_no_classification_type(trainer) -> None:
    project = trainer.create_project(unique("od"), domain_id=GENERAL_DETECTION)
    assert trainer.get_domain(project.settings.domain_id).type == "ObjectDetection"
    assert project.settings.classification_type is None


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"domain_id": str(uuid.uuid4())}, "BadRequestProjectUnknownDomain"),
        ({"classification_type": "Multiway"}, "BadRequestProjectUnknownClassification"),
        ({"target_export_platforms": ["ONNX"]}, "BadRequestProjectUnsupportedExportPlatform"),
    ],
)
def test_create_validation(trainer, kwargs, code) -> None:
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.create_project(unique("bad"), **kwargs)
    assert err.value.response.status_code == 400
    assert err.value.error.code == code


def test_names_are_unique_and_not_blank(trainer) -> None:
    name = unique("dup")
    trainer.create_project(name)
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.create_project(name.upper())
    assert err.value.error.code == "BadRequestProjectNameNotUnique"
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.create_project("   ")
    assert err.value.error.code == "BadRequestProjectName"


def test_update_project(trainer) -> None:
    project = trainer.create_project(unique("upd"), description="before")
    updated = trainer.update_project(
        project.id,
        Project(
            name=project.name + "-renamed",
            description="after",
            settings=ProjectSettings(domain_id=COMPACT_CLASSIFICATION, classification_type="Multilabel"),
        ),
    )
    assert updated.name == project.name + "-renamed"
    assert updated.description == "after"
    assert updated.settings.domain_id == COMPACT_CLASSIFICATION
    assert updated.settings.classification_type == "Multilabel"
    assert updated.last_modified >= project.last_modified
    again = trainer.get_project(project.id)
    assert again.description == "after"


def test_update_cannot_switch_to_detection(trainer) -> None:
    project = trainer.create_project(unique("switch"))
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.update_project(
            project.id,
            Project(name=project.name, description="", settings=ProjectSettings(domain_id=GENERAL_DETECTION)),
        )
    assert err.value.error.code == "BadRequestProjectUnsupportedDomainTypeChange"
    assert trainer.get_project(project.id).settings.domain_id == GENERAL_CLASSIFICATION


def test_delete_project(trainer) -> None:
    project = trainer.create_project(unique("del"))
    trainer.delete_project(project.id)
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.get_project(project.id)
    assert err.value.response.status_code == 404
    assert err.value.error.code == "NotFoundProject"
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.delete_project(project.id)
    assert err.value.response.status_code == 404


def test_malformed_project_id_is_400(trainer) -> None:
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.get_project("not-a-guid")
    assert err.value.response.status_code == 400
    assert err.value.error.code == "BadRequestInvalidIds"


def test_project_limit(server_factory) -> None:
    from tagsight.config import Limits

    server = server_factory(limits=Limits(projects=2))
    trainer = server.trainer()
    trainer.create_project("one")
    trainer.create_project("two")
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.create_project("three")
    assert err.value.error.code == "BadRequestExceedProjectLimit"
    assert len(trainer.get_projects()) == 2


def test_endpoint_with_trailing_slash(live_server) -> None:
    from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
    from msrest.authentication import ApiKeyCredentials

    credentials = ApiKeyCredentials(in_headers={"Training-key": live_server.training_key})
    trainer = CustomVisionTrainingClient(live_server.url + "/", credentials)
    assert any(d.name == "General" for d in trainer.get_domains())


def test_older_sdk_base_urls(live_server) -> None:
    """SDK 2.0 called v3.2 and 3.0 called v3.3; both must reach the same handlers."""
    for version in ("v3.2", "v3.3"):
        trainer = live_server.trainer()
        trainer.config.base_url = "{Endpoint}/customvision/" + version + "/training"
        project = trainer.create_project(unique(version))
        assert trainer.get_project(project.id).name == project.name


def test_project_thumbnail_is_its_newest_image(trainer) -> None:
    import io

    import httpx
    from imagegen import noise_jpeg
    from PIL import Image

    project = trainer.create_project(unique("thumb"))
    assert project.thumbnail_uri is None  # nothing to show yet
    trainer.create_images_from_data(project.id, noise_jpeg(1))
    newest = trainer.create_images_from_data(project.id, noise_jpeg(2)).images[0].image
    listed = next(p for p in trainer.get_projects() if p.id == project.id)
    for seen in (trainer.get_project(project.id), listed):
        # The same file; the signature's expiry may differ across an hour boundary.
        assert seen.thumbnail_uri.split("?")[0] == newest.thumbnail_uri.split("?")[0]
    reply = httpx.get(newest.thumbnail_uri)  # signed: no key needed
    assert reply.status_code == 200
    assert Image.open(io.BytesIO(reply.content)).size[0] <= 256
