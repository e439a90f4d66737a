"""Decoding, validation and normalisation of uploaded image bytes.

The one boundary where untrusted bytes meet Pillow: whatever goes wrong with an upload leaves
this module as ImageRejected carrying the Azure Custom Vision image status, never as a Pillow
exception or warning. Global Pillow state (MAX_IMAGE_PIXELS, LOAD_TRUNCATED_IMAGES) is not touched.
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

__all__ = ["DEFAULT_LIMITS", "ImageLimits", "ImageRejected", "PreparedImage", "RejectStatus"]
__all__ += ["decode_rgb", "image_size", "prepare_image"]

RejectStatus = Literal["ErrorImageFormat", "ErrorImageSize", "ErrorImageDimensions"]


@dataclass(frozen=True)
class ImageLimits:
    """Acceptance limits for one image; the defaults follow Azure Custom Vision."""

    max_bytes: int = 6 * 1024 * 1024  # Azure: training images up to 6 MB
    max_side: int = 10240  # larger → ErrorImageDimensions
    min_side: int = 1  # Azure scales small images up, so only degenerate ones are refused
    max_pixels: int = 10240 * 10240  # decompression-bomb guard, checked from the header
    thumbnail_side: int = 256  # longest side of stored thumbnails


DEFAULT_LIMITS: Final = ImageLimits()


class ImageRejected(Exception):
    """An image that cannot be accepted, with the Azure image status that reports it."""

    def __init__(self, status: RejectStatus, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status: RejectStatus = status
        self.message = message


@dataclass(frozen=True)
class PreparedImage:
    """A validated upload: the original bytes plus what the service stores alongside them."""

    content_hash: str  # sha256 hex of the original bytes
    data: bytes  # the original bytes, unchanged
    format: str  # "JPEG" | "PNG" | "BMP" | "GIF" | "WEBP"
    mime_type: str  # e.g. "image/jpeg"
    width: int  # after EXIF orientation
    height: int
    thumbnail: bytes  # JPEG, RGB, longest side <= limits.thumbnail_side, orientation applied


_MIME_TYPES: Final = {
    "JPEG": "image/jpeg", "PNG": "image/png", "BMP": "image/bmp", "GIF": "image/gif", "WEBP": "image/webp",
}  # fmt: skip
# Passed to Image.open so Pillow never even tries its other plugins (TIFF, ICO, EPS, ...),
# which both enforces the allow-list and keeps exotic parsers away from hostile bytes.
_FORMATS: Final = tuple(_MIME_TYPES)
# What Pillow raises on bad input. Its ImageFile already turns parser slips (IndexError, KeyError,
# TypeError) into SyntaxError/OSError, so catching those here would only mask our own bugs.
# DecompressionBombError is not an OSError and maps to a dimensions error separately.
_DECODE_ERRORS: Final = (OSError, SyntaxError, ValueError, EOFError, struct.error)
# EXIF orientation → the transpose that makes the pixels upright (same table as
# ImageOps.exif_transpose, which we avoid because it re-reads EXIF and may force a decode).
_T = Image.Transpose
_TRANSPOSE: Final = {
    2: _T.FLIP_LEFT_RIGHT, 3: _T.ROTATE_180, 4: _T.FLIP_TOP_BOTTOM,
    5: _T.TRANSPOSE, 6: _T.ROTATE_270, 7: _T.TRANSVERSE, 8: _T.ROTATE_90,
}  # fmt: skip
_FORMAT_MESSAGE: Final = "The file is not a supported image (JPEG, PNG, BMP, GIF, WebP)."
_CORRUPT_MESSAGE: Final = "The image is truncated, corrupt or uses an unsupported variant of its format."


@contextmanager
def _pil_boundary() -> Iterator[None]:
    """Silence warnings raised inside Pillow and translate its exceptions to ImageRejected.

    Pillow warns on hostile input (malformed MPO/APNG, sizes above its global MAX_IMAGE_PIXELS);
    our own checks decide acceptance. Only warnings from PIL modules are silenced, so
    deprecations triggered by this module still surface. catch_warnings is process-global before
    Python 3.14: a thread race can at worst leave this narrow filter installed.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"PIL\.")
        try:
            yield
        except Image.DecompressionBombError as exc:
            raise ImageRejected("ErrorImageDimensions", "The image has too many pixels.") from exc
        except UnidentifiedImageError as exc:  # no accepted plugin recognised the bytes
            raise ImageRejected("ErrorImageFormat", _FORMAT_MESSAGE) from exc
        except _DECODE_ERRORS as exc:  # recognised, but the header or pixel data is broken
            raise ImageRejected("ErrorImageFormat", _CORRUPT_MESSAGE) from exc


def _open(data: bytes) -> Image.Image:
    """Parse the header only (no pixel decode); must run inside _pil_boundary."""
    if not data:
        raise ImageRejected("ErrorImageFormat", "The file is empty.")
    return Image.open(io.BytesIO(data), formats=_FORMATS)  # a JPEG may come back as "MPO"


def _exif_orientation(im: Image.Image) -> int:
    """Read EXIF tag 274 from IFD0 of the header's EXIF block, or 1 when absent or invalid.

    Parsed by hand rather than with Image.getexif(): PNG's getexif() forces a full decode, and
    Pillow's TIFF parser warns or raises on the corrupt EXIF common in real uploads, which must
    not cost the user the image. Only the header's EXIF counts (a PNG eXIf chunk after IDAT is
    ignored), so image_size() and prepare_image() always agree.
    """
    raw = im.info.get("exif")
    if not isinstance(raw, bytes):
        return 1
    if raw.startswith(b"Exif\x00\x00"):
        raw = raw[6:]
    order = {b"II": "<", b"MM": ">"}.get(raw[:2])
    if order is None:
        return 1
    try:
        (ifd,) = struct.unpack_from(order + "I", raw, 4)
        (count,) = struct.unpack_from(order + "H", raw, ifd)
        for i in range(count):  # bounded: unpack_from raises once past the end of raw
            tag, kind, _, value = struct.unpack_from(order + "HHI4s", raw, ifd + 2 + 12 * i)
            if tag == 274 and kind == 3:  # Orientation, type SHORT
                (orientation,) = struct.unpack_from(order + "H", value)
                return orientation if orientation in _TRANSPOSE else 1
    except struct.error:
        return 1
    return 1


def _oriented(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    # Orientations 5..8 turn the image a quarter, so width and height swap.
    return (size[1], size[0]) if orientation >= 5 else size


def _check_dimensions(size: tuple[int, int], limits: ImageLimits) -> None:
    width, height = size
    if min(width, height) < limits.min_side or max(width, height) > limits.max_side:
        raise ImageRejected(
            "ErrorImageDimensions",
            f"The image is {width}x{height} pixels; each side must be between "
            f"{limits.min_side} and {limits.max_side} pixels.",
        )
    _check_pixels(size, limits.max_pixels)


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    # Checked from the header, before any decode, so a tiny file claiming 100000x100000
    # never allocates; Pillow's own guard depends on mutable global state, so not relied on.
    if size[0] * size[1] > max_pixels:
        raise ImageRejected(
            "ErrorImageDimensions",
            f"The image is {size[0]}x{size[1]} pixels; at most {max_pixels} pixels are allowed.",
        )


def _to_rgb(im: Image.Image) -> Image.Image:
    """Decode (if not yet) and convert any mode our formats produce to 8-bit RGB."""
    im.load()
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit grayscale PNG. Pillow's convert("L") clips at 255 (nearly everything turns
        # white), so rescale 0..65535 to 0..255 with rounding, as libpng's scale_16 does.
        # Any tRNS transparency is dropped here: 16-bit gray with alpha key is vanishingly rare.
        wide = np.clip(np.asarray(im), 0, 65535).astype(np.uint32)
        return Image.fromarray(((wide * 255 + 32895) >> 16).astype(np.uint8)).convert("RGB")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        # Composite on white rather than dropping alpha: fully transparent pixels usually hold
        # arbitrary colour (often black) that the uploader never saw; white is how viewers show
        # such images and what the thumbnail should look like. convert("RGBA") also handles
        # palette transparency given as bytes without Pillow's "convert to RGBA" warning.
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    # "1", "L", "P", "CMYK" (Adobe inversion is handled by the JPEG plugin), "YCbCr", ...
    return im if im.mode == "RGB" else im.convert("RGB")


def _upright(im: Image.Image, orientation: int) -> Image.Image:
    method = _TRANSPOSE.get(orientation)
    return im if method is None else im.transpose(method)


def image_size(data: bytes) -> tuple[int, int]:
    """Return (width, height) after EXIF orientation, reading the header only.

    Raises ImageRejected("ErrorImageFormat") for anything that is not a supported image, and
    ErrorImageDimensions when Pillow itself refuses the header as a decompression bomb. No
    limits are applied and the pixels are not decoded, so a truncated file may still pass.
    """
    with _pil_boundary():
        im = _open(data)
        return _oriented(im.size, _exif_orientation(im))


def decode_rgb(
    data: bytes, *, max_pixels: int = DEFAULT_LIMITS.max_pixels, at_least: int | None = None
) -> Image.Image:
    """Fully decode an image for training or prediction.

    Returns the first frame, upright per EXIF orientation, as an 8-bit RGB image (transparency
    composited on white, 16-bit gray rescaled, CMYK/palette/grayscale converted). Raises
    ImageRejected: ErrorImageFormat for unsupported, truncated or corrupt data, and
    ErrorImageDimensions when the header declares more than max_pixels pixels. With
    ``at_least``, a JPEG may come back smaller than full size, but never below that on either side.
    """
    with _pil_boundary():
        im = _open(data)
        _check_pixels(im.size, max_pixels)
        orientation = _exif_orientation(im)
        if at_least is not None:
            # A model that squashes to at_least x at_least never needs more: let libjpeg decode
            # at 1/2, 1/4 or 1/8 scale, keeping both sides at least that long.
            im.draft("RGB", (at_least, at_least))
        return _upright(_to_rgb(im), orientation)


def prepare_image(data: bytes, limits: ImageLimits = DEFAULT_LIMITS) -> PreparedImage:
    """Validate an upload and build what is stored with it: hash, format, size and thumbnail.

    Costs one decode: the thumbnail's decode (DCT-scaled for JPEG via Image.draft) also proves
    that the whole stream decodes. Raises ImageRejected with ErrorImageFormat (empty,
    unsupported, truncated, corrupt), ErrorImageSize (over limits.max_bytes) or
    ErrorImageDimensions (a side outside min_side..max_side, or more than max_pixels pixels).
    """
    if not data:
        raise ImageRejected("ErrorImageFormat", "The file is empty.")
    if len(data) > limits.max_bytes:
        # Before any parsing: the byte count alone decides, and it bounds all later work.
        raise ImageRejected(
            "ErrorImageSize",
            f"The file is {len(data)} bytes; at most {limits.max_bytes} bytes are allowed.",
        )
    with _pil_boundary():
        im = _open(data)
        _check_dimensions(im.size, limits)
        orientation = _exif_orientation(im)
        width, height = _oriented(im.size, orientation)
        fmt = "JPEG" if im.format == "MPO" else str(im.format)  # MPO is a JPEG with extras
        side = limits.thumbnail_side
        # JPEG only (a no-op elsewhere): let libjpeg decode at 1/2, 1/4 or 1/8 scale, still
        # at least `side` pixels on each side. All entropy-coded data is still read, so
        # truncation and corruption are detected as in a full decode, at a fraction of the cost.
        im.draft("RGB", (side, side))
        thumb = _to_rgb(im)
        thumb.thumbnail((side, side), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        _upright(thumb, orientation).save(buffer, "JPEG", quality=85)
    return PreparedImage(
        content_hash=hashlib.sha256(data).hexdigest(),
        data=data,
        format=fmt,
        mime_type=_MIME_TYPES[fmt],
        width=width,
        height=height,
        thumbnail=buffer.getvalue(),
    )
