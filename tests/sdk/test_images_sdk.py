"""Image upload, listing and deletion through the official SDK, on real and hand-made files."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import httpx
import imagegen
import pytest
from azure.cognitiveservices.vision.customvision.training.models import (
    CustomVisionErrorException,
    ImageFileCreateBatch,
    ImageFileCreateEntry,
)
from PIL import Image, ImageOps


@pytest.fixture
def project(trainer):
    return trainer.create_project(f"images-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def ants(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "hymenoptera" / "train" / "ants").glob("*.jpg"))


def entry(name: str, data: bytes, **kw) -> ImageFileCreateEntry:
    return ImageFileCreateEntry(name=name, contents=data, **kw)


def oriented_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        return ImageOps.exif_transpose(im).size


def test_upload_from_data_in_every_form_the_sdk_sends(trainer, project, ants) -> None:
    tag = trainer.create_tag(project.id, "ant")
    with open(ants[0], "rb") as f:  # open file: a file part with a filename
        by_file = trainer.create_images_from_data(project.id, f, tag_ids=[tag.id])
    by_bytesio = trainer.create_images_from_data(project.id, io.BytesIO(ants[1].read_bytes()))
    by_bytes = trainer.create_images_from_data(project.id, ants[2].read_bytes())  # plain form field
    for summary, path in ((by_file, ants[0]), (by_bytesio, ants[1]), (by_bytes, ants[2])):
        assert summary.is_batch_successful
        (result,) = summary.images
        assert result.status == "OK"
        assert (result.image.width, result.image.height) == oriented_size(path)
    assert by_file.images[0].source_url == f'"{ants[0].name}"'
    assert [t.tag_name for t in by_file.images[0].image.tags] == ["ant"]
    assert trainer.get_image_count(project.id) == 3
    assert trainer.get_tagged_image_count(project.id) == 1
    assert trainer.get_untagged_image_count(project.id) == 2


def test_file_batch_listing_paging_and_counts(trainer, project, ants) -> None:
    ant = trainer.create_tag(project.id, "ant")
    other = trainer.create_tag(project.id, "other")
    batch = ImageFileCreateBatch(
        images=[entry(p.name, p.read_bytes()) for p in ants[:10]],
        tag_ids=[ant.id],
        metadata={"source": "ants"},
    )
    summary = trainer.create_images_from_files(project.id, batch)
    assert summary.is_batch_successful, [i.status for i in summary.images]
    assert [r.source_url for r in summary.images] == [f'"{p.name}"' for p in ants[:10]]
    ids = [r.image.id for r in summary.images]
    assert trainer.get_tags(project.id)[0].image_count == 10

    newest = trainer.get_tagged_images(project.id, take=4, skip=0)
    oldest = trainer.get_tagged_images(project.id, order_by="Oldest", take=256)
    assert len(newest) == 4 and len(oldest) == 10
    assert {i.id for i in oldest} == set(ids)
    assert [i.id for i in oldest][::-1][:4] == [i.id for i in newest]
    page2 = trainer.get_tagged_images(project.id, take=4, skip=4)
    assert not {i.id for i in page2} & {i.id for i in newest}
    assert trainer.get_tagged_images(project.id, tag_ids=[other.id]) == []
    assert trainer.get_tagged_image_count(project.id, tag_ids=[ant.id]) == 10
    assert trainer.get_images(project.id, tagging_status="Untagged") == []
    assert len(trainer.get_images(project.id, take=256)) == 10
    assert trainer.get_image_count(project.id, tagging_status="Tagged") == 10
    assert len(trainer.get_images(project.id, filter="metadata/source eq 'ants'")) == 10
    assert trainer.get_images(project.id, filter="metadata/source eq 'bees'") == []

    picked = trainer.get_images_by_ids(project.id, image_ids=[ids[3], ids[1], str(uuid.uuid4())])
    assert [i.id for i in picked] == [ids[3], ids[1]]
    assert picked[0].metadata == {"source": "ants"}


def test_duplicates_are_reported_and_stored_once(live_server, trainer, project, ants) -> None:
    data = ants[0].read_bytes()
    first = trainer.create_images_from_files(project.id, ImageFileCreateBatch(images=[entry("a.jpg", data)]))
    again = trainer.create_images_from_files(
        project.id, ImageFileCreateBatch(images=[entry("b.jpg", data), entry("c.jpg", ants[1].read_bytes())])
    )
    assert not again.is_batch_successful
    assert [r.status for r in again.images] == ["OKDuplicate", "OK"]
    assert again.images[0].image.id == first.images[0].image.id
    assert trainer.get_image_count(project.id) == 2
    same_twice = trainer.create_images_from_files(
        project.id, ImageFileCreateBatch(images=[entry("d.jpg", ants[3].read_bytes())] * 2)
    )
    assert [r.status for r in same_twice.images] == ["OK", "OKDuplicate"]

    # The same file in another project is a new image there, but its bytes are stored once.
    other = trainer.create_project(f"other-{uuid.uuid4().hex[:8]}")
    elsewhere = trainer.create_images_from_files(
        other.id, ImageFileCreateBatch(images=[entry("a.jpg", data)])
    )
    assert elsewhere.images[0].status == "OK"
    blobs = list((live_server.settings.data_dir / "blobs" / "originals").rglob("*"))
    digest = first.images[0].image.original_image_uri.split("?")[0].rsplit("/", 1)[-1]
    assert sum(1 for b in blobs if b.name == digest) == 1


def test_hostile_and_awkward_files_get_their_status(trainer, project, shared_data) -> None:
    gif = shared_data / "hymenoptera" / "train" / "ants" / "imageNotFound.gif"
    small = shared_data / "hymenoptera" / "train" / "ants" / "formica.jpeg"
    cases = {
        "truncated.jpg": (imagegen.truncated_jpeg(), "ErrorImageFormat"),
        "empty.jpg": (b"", "ErrorImageFormat"),
        "bomb.png": (imagegen.png_bomb(), "ErrorImageDimensions"),
        "notes.txt": (b"just some text, not an image", "ErrorImageFormat"),
        "tiff.tif": (imagegen.encoded(Image.new("RGB", (32, 32)), "TIFF"), "ErrorImageFormat"),
        "placeholder.gif": (gif.read_bytes(), "OK"),
        "formica.jpeg": (small.read_bytes(), "OK"),
        "cmyk.jpg": (imagegen.cmyk_jpeg(), "OK"),
        "deep.png": (imagegen.png16(), "OK"),
        "rotated.jpg": (imagegen.exif_rotated_jpeg(40, 20, 6), "OK"),
        "image.webp": (imagegen.encoded(Image.new("RGB", (50, 30), (1, 2, 3)), "WEBP"), "OK"),
        "image.bmp": (imagegen.encoded(Image.new("RGB", (30, 50), (4, 5, 6)), "BMP"), "OK"),
    }
    batch = ImageFileCreateBatch(images=[entry(name, data) for name, (data, _) in cases.items()])
    summary = trainer.create_images_from_files(project.id, batch)
    assert not summary.is_batch_successful
    got = {r.source_url.strip('"'): r for r in summary.images}
    assert {name: r.status for name, r in got.items()} == {name: s for name, (_, s) in cases.items()}
    assert (got["rotated.jpg"].image.width, got["rotated.jpg"].image.height) == (20, 40)
    assert (got["formica.jpeg"].image.width, got["formica.jpeg"].image.height) == (193, 130)
    assert (got["placeholder.gif"].image.width, got["placeholder.gif"].image.height) == (300, 300)
    assert got["truncated.jpg"].image is None
    assert trainer.get_image_count(project.id) == 7
    # The server is fine afterwards.
    assert trainer.get_project(project.id).id == project.id


def test_batch_over_64_is_refused_whole(trainer, project) -> None:
    images = [entry(f"{n}.jpg", imagegen.noise_jpeg(n, 32, 32)) for n in range(65)]
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.create_images_from_files(project.id, ImageFileCreateBatch(images=images))
    assert err.value.response.status_code == 400
    assert err.value.error.code == "BadRequestExceededBatchSize"
    assert trainer.get_image_count(project.id) == 0


def test_size_and_count_limits(server_factory, shared_data) -> None:
    from tagsight.config import Limits

    trainer = server_factory(
        limits=Limits(image_bytes=50_000, images_per_project=2, tags_per_image=1)
    ).trainer()
    project = trainer.create_project("limits")
    big = max((shared_data / "hymenoptera" / "train" / "bees").glob("*.jpg"), key=lambda p: p.stat().st_size)
    a, b = trainer.create_tag(project.id, "a"), trainer.create_tag(project.id, "b")
    summary = trainer.create_images_from_files(
        project.id,
        ImageFileCreateBatch(
            images=[
                entry("big.jpg", big.read_bytes()),
                entry("two-tags.jpg", imagegen.noise_jpeg(1, 64, 64), tag_ids=[a.id, b.id]),
                entry("1.jpg", imagegen.noise_jpeg(2, 64, 64)),
                entry("2.jpg", imagegen.noise_jpeg(3, 64, 64)),
                entry("3.jpg", imagegen.noise_jpeg(4, 64, 64)),
            ]
        ),
    )
    assert [r.status for r in summary.images] == [
        "ErrorImageSize",
        "ErrorTagLimitExceed",
        "OK",
        "OK",
        "ErrorLimitExceed",
    ]


def test_tags_in_a_batch_must_belong_to_the_project(trainer, project) -> None:
    other = trainer.create_project(f"other-{uuid.uuid4().hex[:8]}")
    foreign = trainer.create_tag(other.id, "foreign")
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.create_images_from_files(
            project.id, ImageFileCreateBatch(images=[entry("x.jpg", imagegen.jpeg())], tag_ids=[foreign.id])
        )
    assert err.value.response.status_code == 400
    assert err.value.error.code == "BadRequestImageTags"
    assert trainer.get_image_count(project.id) == 0


def test_negative_tag_cannot_join_another(trainer, project) -> None:
    negative = trainer.create_tag(project.id, "none", type="Negative")
    ant = trainer.create_tag(project.id, "ant")
    summary = trainer.create_images_from_files(
        project.id,
        ImageFileCreateBatch(
            images=[
                entry("both.jpg", imagegen.noise_jpeg(10), tag_ids=[negative.id, ant.id]),
                entry("neg.jpg", imagegen.noise_jpeg(11), tag_ids=[negative.id]),
            ]
        ),
    )
    assert [r.status for r in summary.images] == ["ErrorNegativeAndRegularTagOnSameImage", "OK"]


def test_image_links_serve_the_files(trainer, project, ants) -> None:
    data = ants[4].read_bytes()
    image = trainer.create_images_from_data(project.id, data).images[0].image
    original = httpx.get(image.original_image_uri)  # no key: the link is signed
    assert original.status_code == 200 and original.content == data
    assert original.headers["content-type"] == "image/jpeg"
    thumb = httpx.get(image.thumbnail_uri)
    assert thumb.status_code == 200
    with Image.open(io.BytesIO(thumb.content)) as im:
        assert im.format == "JPEG" and max(im.size) <= 256
    tampered = image.original_image_uri.replace("sig=", "sig=0")
    assert httpx.get(tampered).status_code == 403


def test_delete_images_by_id_and_all(live_server, trainer, project) -> None:
    summary = trainer.create_images_from_files(
        project.id,
        ImageFileCreateBatch(images=[entry(f"{n}.jpg", imagegen.noise_jpeg(100 + n)) for n in range(5)]),
    )
    images = [r.image for r in summary.images]
    trainer.delete_images(project.id, image_ids=[images[0].id, images[1].id])
    assert trainer.get_image_count(project.id) == 3
    assert httpx.get(images[0].original_image_uri).status_code == 404  # the blob is gone too
    assert httpx.get(images[2].original_image_uri).status_code == 200
    trainer.delete_images(project.id, all_images=True)
    assert trainer.get_image_count(project.id) == 0
    assert httpx.get(images[2].thumbnail_uri).status_code == 404
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.delete_images(project.id)
    assert err.value.response.status_code == 400


def test_deleting_a_project_removes_its_blobs(live_server, trainer) -> None:
    project = trainer.create_project(f"gone-{uuid.uuid4().hex[:8]}")
    image = trainer.create_images_from_data(project.id, imagegen.noise_jpeg(777)).images[0].image
    trainer.delete_project(project.id)
    assert httpx.get(image.original_image_uri).status_code == 404


def test_unknown_iteration_filter_is_404(trainer, project) -> None:
    with pytest.raises(CustomVisionErrorException) as err:
        trainer.get_tagged_images(project.id, iteration_id=str(uuid.uuid4()))
    assert err.value.response.status_code == 404
    assert err.value.error.code == "NotFoundIteration"
