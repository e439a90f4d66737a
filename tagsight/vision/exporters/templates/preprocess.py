"""Image bytes -> the model's input, exactly as Tagsight's Prediction API prepares it.

numpy and Pillow only. Steps: decode the first frame (JPEGs at a reduced scale that keeps both
sides at least the model's input size, as Tagsight does), turn it upright per EXIF orientation,
make it 8-bit RGB (transparency composited on white), then squash the whole photo (no crop) to
size x size with bilinear resizing. The result is uint8 (size, size, 3); normalisation is inside
the model.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(274, 1)
    except Exception:  # corrupt EXIF: Tagsight ignores it too
        return 1
    return value if value in _TRANSPOSE else 1


def _rgb(image: Image.Image) -> Image.Image:
    image.load()
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        wide = np.clip(np.asarray(image), 0, 65535).astype(np.uint32)
        return Image.fromarray(((wide * 255 + 32895) >> 16).astype(np.uint8)).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def decode(data: bytes, size: int) -> Image.Image:
    """Encoded image -> upright RGB image (possibly smaller than the original, never below size)."""
    image = Image.open(io.BytesIO(data))
    orientation = _orientation(image)
    image.draft("RGB", (size, size))
    image = _rgb(image)
    method = _TRANSPOSE.get(orientation)
    return image if method is None else image.transpose(method)


def to_pixels(image: Image.Image, size: int) -> np.ndarray:
    """RGB image -> uint8 (size, size, 3), squashed with bilinear resizing."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=3.0)
    return np.asarray(rgb, dtype=np.uint8)


def prepare(data: bytes, size: int) -> np.ndarray:
    """Encoded image -> uint8 (1, size, size, 3), the batch the model takes."""
    return to_pixels(decode(data, size), size)[None]
