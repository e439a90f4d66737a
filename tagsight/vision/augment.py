"""Training-time augmentation for classification, with numpy and Pillow only.

Every training image is kept in memory once, squashed to a square (``pixels.model_pixels``, the
resize inference uses). A view is a random crop of that square, resized to the training size,
maybe mirrored, with mild colour changes. Cropping the squashed square is the same as cropping
the photo and then squashing: the squash scales each axis independently, so a rectangle maps to
a rectangle; only the distribution of crop shapes differs with the photo's aspect ratio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class AugmentConfig:
    # Share of the square a crop keeps. Small training sets often have the subject filling the
    # frame, so crops never go below half the area (ImageNet recipes use 8%) and sometimes keep it all.
    scale: tuple[float, float] = (0.5, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)  # crop width / height, sampled log-uniformly
    full_view: float = 0.2  # probability of using the whole square, as inference sees it
    flip: bool = True  # left-right mirror half of the time (not for text or handedness tags)
    jitter: float = 0.2  # brightness, contrast and saturation each scaled by 1 ± up to this


def crop_box(size: int, rng: np.random.Generator, cfg: AugmentConfig) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of a random crop of a size x size square."""
    if rng.random() < cfg.full_view:
        return 0.0, 0.0, float(size), float(size)
    area = rng.uniform(*cfg.scale)
    ratio = math.exp(rng.uniform(math.log(cfg.ratio[0]), math.log(cfg.ratio[1])))
    # Clamping a side to the square shrinks the area a little below `area`; fine for a prior.
    w = min(1.0, math.sqrt(area * ratio)) * size
    h = min(1.0, math.sqrt(area / ratio)) * size
    left = rng.uniform(0.0, size - w)
    top = rng.uniform(0.0, size - h)
    return left, top, left + w, top + h


def colour_jitter(pixels: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """uint8 (H, W, 3) → uint8, with random brightness, contrast and saturation."""
    if strength <= 0:
        return pixels
    brightness, contrast, saturation = rng.uniform(1 - strength, 1 + strength, size=3)
    x = pixels.astype(np.float32) * brightness
    x = (x - x.mean()) * contrast + x.mean()
    grey = x.mean(axis=2, keepdims=True)
    x = grey + (x - grey) * saturation
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)


def random_view(square: np.ndarray, size: int, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """uint8 (R, R, 3) squashed image → uint8 (size, size, 3) augmented view."""
    side = square.shape[0]
    assert square.shape == (side, side, 3), f"expected a square RGB image, got {square.shape}"
    box = crop_box(side, rng, cfg)
    # One bilinear resample for crop and resize together (Pillow's box argument); reducing_gap
    # as model_pixels, so a full view is exactly what inference would feed at this size.
    view = Image.fromarray(square).resize((size, size), Image.Resampling.BILINEAR, box=box, reducing_gap=3.0)
    pixels = np.asarray(view, dtype=np.uint8)
    if cfg.flip and rng.random() < 0.5:
        pixels = pixels[:, ::-1]
    return np.ascontiguousarray(colour_jitter(pixels, rng, cfg.jitter))
