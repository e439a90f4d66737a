"""Tests for tagsight.vision.imageio: the single boundary where uploaded bytes meet Pillow."""

from __future__ import annotations

import hashlib
import io
import random
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, ImageOps
from shared_data import SHARED_DATA

from tagsight.vision.imageio import (
    DEFAULT_LIMITS,
    ImageLimits,
    ImageRejected,
    PreparedImage,
    decode_rgb,
    image_size,
    prepare_image,
)

DATA = SHARED_DATA or Path("/nonexistent")
ANTS = DATA / "hymenoptera" / "train" / "ants"
TRAIN = DATA / "hymenoptera" / "train"
needs_data = pytest.mark.skipif(not ANTS.is_dir(), reason="shared data folder not present")

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


# ---------------------------------------------------------------------------------------------
# helpers


def encode(im: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, fmt, **params)
    return buffer.getvalue()


def png_chunk(tag: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))


def crafted_png(width: int, height: int, *, with_idat: bool = True) -> bytes:
    """A well-formed PNG header (8-bit grayscale) claiming any size, with almost no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = png_chunk(b"IDAT", zlib.compress(b"\x00" * 16)) if with_idat else b""
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + idat + png_chunk(b"IEND", b"")


def marked(size: tuple[int, int] = (40, 20)) -> Image.Image:
    """Blue image with a red 6x6 block in the top-left corner, to follow pixels through rotation."""
    im = Image.new("RGB", size, BLUE)
    im.paste(RED, (0, 0, 6, 6))
    return im


def jpeg_with_orientation(im: Image.Image, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[274] = orientation
    return encode(im, "JPEG", quality=95, exif=exif.tobytes())


def near(pixel: object, colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    assert isinstance(pixel, tuple)
    return all(abs(int(a) - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


def rejected(data: bytes, limits: ImageLimits = DEFAULT_LIMITS) -> str:
    with pytest.raises(ImageRejected) as info:
        prepare_image(data, limits)
    return info.value.status


def check_thumbnail(prepared: PreparedImage, side: int = 256) -> Image.Image:
    with Image.open(io.BytesIO(prepared.thumbnail)) as thumb:
        assert thumb.format == "JPEG"
        assert thumb.mode == "RGB"
        assert max(thumb.size) <= side
        thumb.load()
        return thumb.copy()


# ---------------------------------------------------------------------------------------------
# accepted formats


@pytest.mark.parametrize(
    ("fmt", "mode", "params", "mime"),
    [
        ("JPEG", "RGB", {}, "image/jpeg"),
        ("JPEG", "L", {}, "image/jpeg"),
        ("PNG", "RGB", {}, "image/png"),
        ("PNG", "RGBA", {}, "image/png"),
        ("PNG", "LA", {}, "image/png"),
        ("PNG", "P", {}, "image/png"),
        ("PNG", "1", {}, "image/png"),
        ("BMP", "RGB", {}, "image/bmp"),
        ("BMP", "P", {}, "image/bmp"),
        ("GIF", "P", {}, "image/gif"),
        ("WEBP", "RGB", {}, "image/webp"),
        ("WEBP", "RGBA", {"lossless": True}, "image/webp"),
    ],
)
def test_accepted_formats(fmt: str, mode: str, params: dict[str, object], mime: str) -> None:
    data = encode(marked((300, 120)).convert(mode), fmt, **params)
    prepared = prepare_image(data)
    assert (prepared.format, prepared.mime_type) == (fmt, mime)
    assert (prepared.width, prepared.height) == (300, 120) == image_size(data)
    assert prepared.data is data
    assert prepared.content_hash == hashlib.sha256(data).hexdigest()
    assert check_thumbnail(prepared).size == (256, 102)
    rgb = decode_rgb(data)
    assert (rgb.mode, rgb.size) == ("RGB", (300, 120))


def test_rgba_png_is_composited_on_white() -> None:
    im = Image.new("RGBA", (10, 10), (0, 0, 0, 0))  # transparent black: must not show as black
    im.putpixel((0, 0), (255, 0, 0, 255))
    rgb = decode_rgb(encode(im, "PNG"))
    assert rgb.getpixel((0, 0)) == RED
    assert rgb.getpixel((5, 5)) == WHITE


def test_palette_with_transparency_is_composited_on_white_without_warning() -> None:
    im = Image.new("P", (10, 10), 1)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    im.putpixel((0, 0), 0)
    png = encode(im, "PNG", transparency=bytes([0, 255]))  # tRNS as bytes: Pillow warns on convert
    gif = encode(im, "GIF", transparency=0)
    for data in (png, gif):
        rgb = decode_rgb(data)
        assert rgb.getpixel((0, 0)) == WHITE
        assert rgb.getpixel((5, 5)) == RED


def test_cmyk_jpeg_converts_to_rgb() -> None:
    data = encode(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    rgb = decode_rgb(data)
    assert rgb.mode == "RGB"
    assert near(rgb.getpixel((16, 16)), RED)
    assert prepare_image(data).format == "JPEG"


def test_16bit_grayscale_png_is_rescaled_not_clipped() -> None:
    levels = np.array([0, 257, 16384, 32768, 49152, 65535], dtype=np.uint16)
    data = encode(Image.fromarray(np.tile(levels, (4, 1))), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    rgb = np.asarray(decode_rgb(data))
    assert rgb.shape == (4, 6, 3)
    row = rgb[0, :, 0].astype(int)
    assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()
    assert row.tolist() == [0, 1, 64, 128, 191, 255]  # relative brightness kept
    check_thumbnail(prepare_image(data))


def test_animated_gif_uses_first_frame() -> None:
    frames = [Image.new("RGB", (20, 20), colour) for colour in (RED, GREEN, BLUE)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 3
    assert decode_rgb(data).getpixel((10, 10)) == RED
    assert near(check_thumbnail(prepare_image(data)).getpixel((10, 10)), RED)


def test_mpo_is_reported_as_jpeg() -> None:
    data = encode(marked(), "MPO", save_all=True, append_images=[marked()])
    assert Image.open(io.BytesIO(data)).format == "MPO"
    prepared = prepare_image(data)
    assert (prepared.format, prepared.mime_type) == ("JPEG", "image/jpeg")


def test_tiny_image_is_accepted_and_never_enlarged() -> None:
    prepared = prepare_image(encode(Image.new("RGB", (1, 1), RED), "PNG"))
    assert (prepared.width, prepared.height) == (1, 1)
    assert check_thumbnail(prepared).size == (1, 1)


def test_thumbnail_of_tall_image_and_custom_side() -> None:
    data = encode(marked((100, 3000)), "JPEG")
    assert check_thumbnail(prepare_image(data)).size == (9, 256)
    small = prepare_image(data, ImageLimits(thumbnail_side=64))
    assert check_thumbnail(small, 64).size == (2, 64)


# ---------------------------------------------------------------------------------------------
# EXIF orientation


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_matches_pillow_reference(orientation: int) -> None:
    data = jpeg_with_orientation(marked(), orientation)
    expected = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    got = decode_rgb(data)
    assert got.size == expected.size == image_size(data)
    assert np.array_equal(np.asarray(got), np.asarray(expected))
    prepared = prepare_image(data)
    assert (prepared.width, prepared.height) == got.size


@pytest.mark.parametrize(
    ("orientation", "red_corner"),
    [(6, "top-right"), (8, "bottom-left"), (3, "bottom-right"), (1, "top-left")],
)
def test_orientation_really_rotates_pixels(orientation: int, red_corner: str) -> None:
    data = jpeg_with_orientation(marked((40, 20)), orientation)
    prepared = prepare_image(data)
    quarter = orientation in (6, 8)
    assert (prepared.width, prepared.height) == ((20, 40) if quarter else (40, 20))
    for im in (decode_rgb(data), check_thumbnail(prepared)):
        assert im.size == (prepared.width, prepared.height)
        w, h = im.size
        corners = {
            "top-left": (1, 1),
            "top-right": (w - 2, 1),
            "bottom-left": (1, h - 2),
            "bottom-right": (w - 2, h - 2),
        }
        for name, xy in corners.items():
            assert near(im.getpixel(xy), RED if name == red_corner else BLUE), name


@pytest.mark.parametrize(
    "exif",
    [
        b"Exif\x00\x00MM\x00\x2a\xff\xff\xff\xf0",  # IFD offset far past the end
        b"Exif\x00\x00II\x2a\x00\x08\x00\x00\x00\xff\xff",  # 65535 entries claimed, none there
        b"Exif\x00\x00II\x2a\x00\x08\x00\x00\x00\x01\x00\x12\x01\x03\x00\x01\x00\x00\x00\x09\x00",
        b"garbage",
    ],
)
def test_corrupt_or_invalid_exif_is_ignored(exif: bytes) -> None:
    data = encode(marked(), "JPEG", exif=exif)
    prepared = prepare_image(data)  # metadata trouble must not cost the user the image
    assert (prepared.width, prepared.height) == (40, 20) == decode_rgb(data).size


# ---------------------------------------------------------------------------------------------
# hostile input


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00",
        random.Random(7).randbytes(4096),
        b"hello, this is a text file\n" * 20,
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n",
        b"\x89PNG\r\n\x1a\n",  # signature only
        b"\xff\xd8\xff",  # JPEG start only
    ],
    ids=["empty", "one-byte", "random", "text", "pdf", "png-signature", "jpeg-soi"],
)
def test_non_images_are_format_errors(data: bytes) -> None:
    assert rejected(data) == "ErrorImageFormat"
    for call in (decode_rgb, image_size):
        with pytest.raises(ImageRejected) as info:
            call(data)
        assert info.value.status == "ErrorImageFormat"


@pytest.mark.parametrize("fmt", ["TIFF", "ICO", "PPM", "TGA", "PCX"])
def test_other_real_image_formats_are_refused(fmt: str) -> None:
    data = encode(marked((64, 64)), fmt)
    assert Image.open(io.BytesIO(data)).format == fmt  # Pillow itself could read it
    assert rejected(data) == "ErrorImageFormat"
    with pytest.raises(ImageRejected, match="ErrorImageFormat"):
        image_size(data)


def test_rejection_carries_status_and_message() -> None:
    with pytest.raises(ImageRejected) as info:
        prepare_image(b"not an image at all")
    error = info.value
    assert error.status == "ErrorImageFormat"
    assert error.message == "The file is not a supported image (JPEG, PNG, BMP, GIF, WebP)."
    assert str(error).startswith("ErrorImageFormat: ")


def test_truncated_file_gets_a_corruption_message() -> None:
    with pytest.raises(ImageRejected) as info:
        prepare_image(encode(marked((300, 200)), "PNG")[:200])
    assert info.value.status == "ErrorImageFormat"
    assert "truncated" in info.value.message


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "BMP", "GIF", "WEBP"])
def test_truncated_files_are_refused(fmt: str) -> None:
    noise = np.random.default_rng(3).integers(0, 255, (200, 300, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise).convert("P" if fmt == "GIF" else "RGB"), fmt)
    half = data[: len(data) // 2]
    assert rejected(half) == "ErrorImageFormat"
    with pytest.raises(ImageRejected, match="ErrorImageFormat"):
        decode_rgb(half)


def test_truncated_jpeg_near_the_end_is_refused() -> None:
    # Only the last few hundred bytes of entropy-coded data are missing: the scaled (draft)
    # decode used for the thumbnail must still notice.
    noise = np.random.default_rng(4).integers(0, 255, (600, 800, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise), "JPEG")
    assert rejected(data[:-300]) == "ErrorImageFormat"
    assert rejected(data[:-2]) == "ErrorImageFormat"  # even just a missing EOI marker
    assert image_size(data[:-300]) == (800, 600)  # header-only, by design


def test_png_bomb_is_refused_from_the_header(monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = crafted_png(100_000, 100_000)
    assert len(bomb) < 100
    assert rejected(bomb) == "ErrorImageDimensions"
    # Not relying on Pillow's global guard: with it switched off, our own header check holds.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    assert rejected(bomb) == "ErrorImageDimensions"
    with pytest.raises(ImageRejected, match="ErrorImageDimensions"):
        decode_rgb(bomb)
    assert image_size(bomb) == (100_000, 100_000)


def test_pillow_bomb_warning_neither_escapes_nor_decides() -> None:
    # 9600x9600 is above Pillow's warning threshold (~89.5 Mpx) but within our limits.
    data = crafted_png(9600, 9600, with_idat=False)
    assert image_size(data) == (9600, 9600)
    # Above max_side (and above Pillow's warning threshold too): our dimension error.
    assert rejected(crafted_png(12_000, 8_000)) == "ErrorImageDimensions"


def test_pixel_limit_is_checked_before_decoding() -> None:
    # No IDAT at all: a decode would fail with a format error, so a dimensions error proves the
    # limit was applied from the header alone.
    header_only = crafted_png(5000, 5000, with_idat=False)
    assert rejected(header_only, ImageLimits(max_pixels=1_000_000)) == "ErrorImageDimensions"
    with pytest.raises(ImageRejected, match="ErrorImageDimensions"):
        decode_rgb(header_only, max_pixels=1_000_000)
    assert rejected(header_only) == "ErrorImageFormat"


def test_zero_width_png_is_refused() -> None:
    assert rejected(crafted_png(0, 10)) in ("ErrorImageFormat", "ErrorImageDimensions")


def test_oversize_file() -> None:
    data = encode(marked(), "PNG")
    assert rejected(data, ImageLimits(max_bytes=len(data) - 1)) == "ErrorImageSize"
    assert prepare_image(data, ImageLimits(max_bytes=len(data))).width == 40
    # The byte limit is checked before parsing: even garbage gets ErrorImageSize.
    assert rejected(b"x" * 100, ImageLimits(max_bytes=99)) == "ErrorImageSize"


@pytest.mark.parametrize(
    ("limits", "ok"),
    [
        (ImageLimits(max_side=40), True),
        (ImageLimits(max_side=39), False),
        (ImageLimits(min_side=20), True),
        (ImageLimits(min_side=21), False),
        (ImageLimits(max_pixels=800), True),
        (ImageLimits(max_pixels=799), False),
    ],
)
def test_dimension_limits(limits: ImageLimits, ok: bool) -> None:
    data = encode(marked((40, 20)), "PNG")
    if ok:
        assert prepare_image(data, limits).width == 40
    else:
        assert rejected(data, limits) == "ErrorImageDimensions"


def test_decode_rgb_pixel_limit() -> None:
    data = encode(marked((40, 20)), "PNG")
    assert decode_rgb(data, max_pixels=800).size == (40, 20)
    with pytest.raises(ImageRejected, match="ErrorImageDimensions"):
        decode_rgb(data, max_pixels=799)


def test_mutation_fuzz_only_ever_raises_image_rejected() -> None:
    rng = random.Random(1234)
    seeds = [
        encode(marked((48, 32)), "JPEG", exif=Image.Exif().tobytes()),
        encode(marked((48, 32)).convert("P"), "PNG"),
        encode(marked((48, 32)).convert("P"), "GIF"),
        encode(marked((48, 32)), "BMP"),
        encode(marked((48, 32)), "WEBP"),
    ]
    for seed in seeds:
        for _ in range(60):
            mutated = bytearray(seed)
            for _ in range(rng.choice([1, 3, 10])):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            for call in (prepare_image, decode_rgb, image_size):
                try:
                    call(bytes(mutated))
                except ImageRejected:
                    pass


def test_no_global_pillow_state_is_changed() -> None:
    max_pixels = Image.MAX_IMAGE_PIXELS
    filters = list(warnings.filters)
    for data in (crafted_png(100_000, 100_000), encode(marked(), "JPEG")[:300], b""):
        with pytest.raises(ImageRejected):
            prepare_image(data)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    assert Image.MAX_IMAGE_PIXELS == max_pixels
    assert warnings.filters == filters


# ---------------------------------------------------------------------------------------------
# real data


@needs_data
def test_real_palette_gif_placeholder() -> None:
    data = (ANTS / "imageNotFound.gif").read_bytes()
    prepared = prepare_image(data)
    assert (prepared.format, prepared.mime_type) == ("GIF", "image/gif")
    assert (prepared.width, prepared.height) == (300, 300)
    assert check_thumbnail(prepared).size == (256, 256)
    assert decode_rgb(data).mode == "RGB"


@needs_data
def test_real_small_jpeg_is_accepted() -> None:
    data = (ANTS / "formica.jpeg").read_bytes()
    prepared = prepare_image(data)
    assert (prepared.format, prepared.width, prepared.height) == ("JPEG", 193, 130)
    assert check_thumbnail(prepared).size == (193, 130)


@needs_data
def test_every_real_training_image_is_accepted() -> None:
    paths = sorted(p for p in TRAIN.rglob("*") if p.is_file())
    assert len(paths) > 200
    for path in paths:
        data = path.read_bytes()
        prepared = prepare_image(data)
        assert (prepared.width, prepared.height) == image_size(data), path.name
        check_thumbnail(prepared)


@needs_data
def test_largest_real_jpeg_thumbnail() -> None:
    largest = max((p for p in DATA.glob("hymenoptera/*/*/*.jp*g")), key=lambda p: p.stat().st_size)
    data = largest.read_bytes()
    prepared = prepare_image(data)
    rgb = decode_rgb(data)
    assert rgb.size == (prepared.width, prepared.height)
    thumb = check_thumbnail(prepared)
    assert max(thumb.size) == 256
    # The draft (DCT-scaled) thumbnail must look like a downscaled full decode.
    reference = np.asarray(rgb.resize(thumb.size, Image.Resampling.LANCZOS), dtype=np.int16)
    assert np.abs(np.asarray(thumb, dtype=np.int16) - reference).mean() < 8
