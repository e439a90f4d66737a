"""The one resize every model input goes through (training, evaluation, inference, export).

numpy and Pillow only: the prediction path imports this without torch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image


def model_pixels(image: Image.Image, size: int) -> np.ndarray:
    """RGB image → uint8 (size, size, 3), squashed rather than cropped.

    Squashing keeps every pixel of the photo in view (the object may sit near an edge in a small
    training set); bilinear matches what the backbone weights were trained with.
    """
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    if rgb.size != (size, size):
        # reducing_gap: decimate large photos in integer steps first (much faster, same result).
        rgb = rgb.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=3.0)
    return np.asarray(rgb, dtype=np.uint8)


def model_batch(images: Sequence[Image.Image], size: int) -> np.ndarray:
    """Several images → uint8 (N, size, size, 3)."""
    if not images:
        return np.empty((0, size, size, 3), dtype=np.uint8)
    return np.stack([model_pixels(image, size) for image in images])
