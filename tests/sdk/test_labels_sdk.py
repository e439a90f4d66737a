"""Image tags, regions and metadata through the official SDK."""

from __future__ import annotations

import uuid

import imagegen
import pytest
from azure.cognitiveservices.vision.customvision.training.models import (
    CustomVisionErrorException,
    ImageFileCreateBatch,
    ImageFileCreateEntry,
    ImageRegionCreateEntry,
    ImageTagCreateEntry,
    Region,
)

GENERAL_DETECTION = "da2e3a8a-40a5-4171-82f4-58522f70fbc1"


def upload(trainer, project_id: str, n: int, seed: int, **kw) -> list:
    batch = ImageFileCreateBatch(
        images=[
            ImageFileCreateEntry(name=f"{i}.jpg", contents=imagegen.noise_jpeg(seed + i)) for i in range(n)
        ],
        **kw,
    )
    summary = trainer.create_images_from_files(project_id, batch)
    assert summary.is_batch_successful
    return [r.image for r in summary.images]


@pytest.fixture
def classification(trainer):
    return trainer.create_project(f"labels-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def detection(trainer):
    return trainer.create_project(f"boxes-{uuid.uuid4().hex[:8]}", domain_id=GENERAL_DETECTION)


def test_tag_and_untag_images(trainer, classification) -> None:
    project = classification
    ant, bee = trainer.create_tag(project.id, "ant"), trainer.create_tag(project.id, "bee")
    images = upload(trainer, project.id, 3, seed=300)
    summary = trainer.create_image_tags(
        project.id,
        tags=[
            ImageTagCreateEntry(image_id=images[0].id, tag_id=ant.id),
            ImageTagCreateEntry(image_id=images[1].id, tag_id=ant.id),
            ImageTagCreateEntry(image_id=images[1].id, tag_id=bee.id),
        ],
    )
    assert len(summary.created) == 3 and not summary.duplicated
    again = trainer.create_image_tags(
        project.id, tags=[ImageTagCreateEntry(image_id=images[0].id, tag_id=ant.id)]
    )
    assert len(again.duplicated) == 1 and not again.created
    counts = {t.name: t.image_count for t in trainer.get_tags(project.id)}
    assert counts == {"ant": 2, "bee": 1}
    assert trainer.get_untagged_image_count(project.id) == 1
    trainer.delete_image_tags(project.id, image_ids=[images[1].id], tag_ids=[ant.id, bee.id])
    assert trainer.get_untagged_image_count(project.id) == 2
    assert {t.name: t.image_count for t in trainer.get_tags(project.id)} == {"ant": 1, "bee": 0}


def test_tag_images_validation(trainer, classification) -> None:
    project = classification
    negative = trainer.create_tag(project.id, "nothing", type="Negative")
    ant = trainer.create_tag(project.id, "ant")
    (image,) = upload(trainer, project.id, 1, seed=320, tag_ids=[ant.id])
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.create_image_tags(
            project.id, tags=[ImageTagCreateEntry(image_id=image.id, tag_id=negative.id)]
        )
    assert err.value.error.code == "BadRequestNegativeAndRegularTagOnSameImage"
    other = trainer.create_project(f"other-{uuid.uuid4().hex[:8]}")
    foreign = trainer.create_tag(other.id, "foreign")
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.create_image_tags(
            project.id, tags=[ImageTagCreateEntry(image_id=image.id, tag_id=foreign.id)]
        )
    assert err.value.response.status_code == 400
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.create_image_tags(
            project.id, tags=[ImageTagCreateEntry(image_id=str(uuid.uuid4()), tag_id=ant.id)]
        )
    assert err.value.response.status_code == 400
    assert [t.tag_name for t in trainer.get_images_by_ids(project.id, image_ids=[image.id])[0].tags] == [
        "ant"
    ]


def test_a_shared_tag_cannot_become_negative(trainer, classification) -> None:
    from azure.cognitiveservices.vision.customvision.training.models import Tag

    project = classification
    a, b = trainer.create_tag(project.id, "a"), trainer.create_tag(project.id, "b")
    upload(trainer, project.id, 1, seed=340, tag_ids=[a.id, b.id])
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.update_tag(project.id, a.id, Tag(name="a", description="", type="Negative"))
    assert err.value.error.code == "BadRequestNegativeAndRegularTagOnSameImage"


def test_regions_upload_add_and_delete(trainer, detection) -> None:
    project = detection
    raccoon = trainer.create_tag(project.id, "raccoon")
    batch = ImageFileCreateBatch(
        images=[
            ImageFileCreateEntry(
                name="r.jpg",
                contents=imagegen.noise_jpeg(400),
                regions=[Region(tag_id=raccoon.id, left=0.1, top=0.2, width=0.5, height=0.6)],
            )
        ]
    )
    summary = trainer.create_images_from_files(project.id, batch)
    image = summary.images[0].image
    assert summary.is_batch_successful
    assert [(r.tag_name, r.left, r.width) for r in image.regions] == [("raccoon", 0.1, 0.5)]
    assert [t.tag_name for t in image.tags] == ["raccoon"]

    added = trainer.create_image_regions(
        project.id,
        regions=[
            ImageRegionCreateEntry(
                image_id=image.id, tag_id=raccoon.id, left=0.6, top=0.1, width=0.3, height=0.3
            ),
            ImageRegionCreateEntry(
                image_id=image.id, tag_id=raccoon.id, left=0.1, top=0.2, width=0.5, height=0.6
            ),
        ],
    )
    assert len(added.created) == 1 and len(added.duplicated) == 1
    assert added.created[0].region_id and added.created[0].tag_name == "raccoon"
    regions = trainer.get_images_by_ids(project.id, image_ids=[image.id])[0].regions
    assert len(regions) == 2
    trainer.delete_image_regions(project.id, region_ids=[r.region_id for r in regions])
    after = trainer.get_images_by_ids(project.id, image_ids=[image.id])[0]
    assert after.regions == [] and after.tags == []
    assert trainer.get_untagged_image_count(project.id) == 1


@pytest.mark.parametrize(
    "box",
    [(-0.1, 0.1, 0.5, 0.5), (0.6, 0.1, 0.5, 0.5), (0.1, 0.1, 0.0, 0.5), (0.1, 0.9, 0.2, 0.2)],
)
def test_regions_outside_the_image_are_refused(trainer, detection, box) -> None:
    project = detection
    tag = trainer.create_tag(project.id, "thing")
    (image,) = upload(trainer, project.id, 1, seed=500)
    left, top, width, height = box
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.create_image_regions(
            project.id,
            regions=[
                ImageRegionCreateEntry(
                    image_id=image.id, tag_id=tag.id, left=left, top=top, width=width, height=height
                )
            ],
        )
    assert err.value.response.status_code == 400
    assert err.value.error.code == "BadRequestImageRegions"
    with pytest.raises(CustomVisionErrorException):
        trainer.create_images_from_files(
            project.id,
            ImageFileCreateBatch(
                images=[
                    ImageFileCreateEntry(
                        name="x.jpg",
                        contents=imagegen.noise_jpeg(501),
                        regions=[Region(tag_id=tag.id, left=left, top=top, width=width, height=height)],
                    )
                ]
            ),
        )
    assert trainer.get_image_count(project.id) == 1


def test_regions_in_a_classification_project_are_refused(trainer, classification) -> None:
    project = classification
    tag = trainer.create_tag(project.id, "thing")
    (image,) = upload(trainer, project.id, 1, seed=600)
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.create_image_regions(
            project.id,
            regions=[
                ImageRegionCreateEntry(
                    image_id=image.id, tag_id=tag.id, left=0.1, top=0.1, width=0.2, height=0.2
                )
            ],
        )
    assert err.value.error.code == "BadRequestImageRegions"


def test_region_limit_per_image(server_factory) -> None:
    from tagsight.config import Limits

    trainer = server_factory(limits=Limits(regions_per_image=2)).trainer()
    project = trainer.create_project("few-boxes", domain_id=GENERAL_DETECTION)
    tag = trainer.create_tag(project.id, "box")
    boxes = [Region(tag_id=tag.id, left=0.1 * i, top=0.1, width=0.05, height=0.05) for i in range(3)]
    summary = trainer.create_images_from_files(
        project.id,
        ImageFileCreateBatch(
            images=[ImageFileCreateEntry(name="a.jpg", contents=imagegen.noise_jpeg(1), regions=boxes)]
        ),
    )
    assert summary.images[0].status == "ErrorRegionLimitExceed"
    (image,) = upload(trainer, project.id, 1, seed=2)
    added = trainer.create_image_regions(
        project.id,
        regions=[ImageRegionCreateEntry(image_id=image.id, **b.as_dict()) for b in boxes],
    )
    assert len(added.created) == 2 and len(added.exceeded) == 1


def test_update_metadata(trainer, classification) -> None:
    project = classification
    images = upload(trainer, project.id, 2, seed=700)
    missing = str(uuid.uuid4())
    summary = trainer.update_image_metadata(
        project.id, image_ids=[images[0].id, missing], metadata={"camera": "trap-3", "site": "north"}
    )
    assert not summary.is_batch_successful
    assert {e.image_id: e.status for e in summary.images} == {
        images[0].id: "OK",
        missing: "ErrorImageNotFound",
    }
    got = trainer.get_images_by_ids(project.id, image_ids=[images[0].id])[0]
    assert got.metadata == {"camera": "trap-3", "site": "north"}
    assert [i.id for i in trainer.get_images(project.id, filter="metadata/camera eq 'trap-3'")] == [
        images[0].id
    ]
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.update_image_metadata(project.id, image_ids=[images[1].id], metadata={"k" * 200: "v"})
    assert err.value.error.code == "BadRequestImageMetadataKey"


def test_a_batch_with_a_duplicate_of_a_boxed_image(trainer, detection) -> None:
    """A duplicate loads the tag its boxes carry; new boxes with that tag must still save."""
    project = detection
    tag = trainer.create_tag(project.id, "thing")
    box = Region(tag_id=tag.id, left=0.1, top=0.1, width=0.3, height=0.3)
    first = imagegen.noise_jpeg(800)
    trainer.create_images_from_files(
        project.id,
        ImageFileCreateBatch(images=[ImageFileCreateEntry(name="a.jpg", contents=first, regions=[box])]),
    )
    summary = trainer.create_images_from_files(
        project.id,
        ImageFileCreateBatch(
            images=[
                ImageFileCreateEntry(name="a-again.jpg", contents=first, regions=[box]),
                ImageFileCreateEntry(name="b.jpg", contents=imagegen.noise_jpeg(801), regions=[box]),
            ]
        ),
    )
    assert [r.status for r in summary.images] == ["OKDuplicate", "OK"]
    assert summary.images[1].image.regions[0].tag_name == "thing"
