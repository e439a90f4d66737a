"""Tags through the official SDK."""

from __future__ import annotations

import uuid

import pytest
from azure.cognitiveservices.vision.customvision.training.models import CustomVisionErrorException, Tag


@pytest.fixture
def project(trainer):
    return trainer.create_project(f"tags-{uuid.uuid4().hex[:8]}")


def test_create_get_list_update_delete(trainer, project) -> None:
    tag = trainer.create_tag(project.id, "Ant", description="six legs")
    assert (tag.name, tag.description, tag.type, tag.image_count) == ("Ant", "six legs", "Regular", 0)
    assert trainer.get_tag(project.id, tag.id).name == "Ant"
    updated = trainer.update_tag(
        project.id, tag.id, Tag(name="Formicidae", description="ants", type="Regular")
    )
    assert updated.name == "Formicidae"
    assert [t.name for t in trainer.get_tags(project.id)] == ["Formicidae"]
    trainer.delete_tag(project.id, tag.id)
    assert trainer.get_tags(project.id) == []
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.get_tag(project.id, tag.id)
    assert err.value.response.status_code == 404
    assert err.value.error.code == "NotFoundTag"


def test_names_unique_case_insensitively(trainer, project) -> None:
    trainer.create_tag(project.id, "bee")
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.create_tag(project.id, "BEE")
    assert err.value.error.code == "BadRequestTagNameNotUnique"


def test_only_one_negative_and_one_general_product_tag(trainer, project) -> None:
    negative = trainer.create_tag(project.id, "Negative", type="Negative")
    assert negative.type == "Negative"
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.create_tag(project.id, "Nothing", type="Negative")
    assert err.value.error.code == "BadRequestMultipleNegativeTag"
    trainer.create_tag(project.id, "product", type="GeneralProduct")
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.create_tag(project.id, "product2", type="GeneralProduct")
    assert err.value.error.code == "BadRequestMultipleGeneralProductTag"
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.create_tag(project.id, "odd", type="Sometimes")
    assert err.value.error.code == "BadRequestTagType"


def test_tag_of_another_project_is_not_found(trainer, project) -> None:
    other = trainer.create_project(f"other-{uuid.uuid4().hex[:8]}")
    foreign = trainer.create_tag(other.id, "elsewhere")
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.get_tag(project.id, foreign.id)
    assert err.value.response.status_code == 404


def test_tag_limit(server_factory) -> None:
    from tagsight.config import Limits

    trainer = server_factory(limits=Limits(tags_per_project=2)).trainer()
    project = trainer.create_project("limited")
    trainer.create_tag(project.id, "a")
    trainer.create_tag(project.id, "b")
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.create_tag(project.id, "c")
    assert err.value.error.code == "BadRequestExceedTagPerProjectLimit"
