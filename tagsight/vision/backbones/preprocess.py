"""Backbone input preprocessing with numpy and PIL only, so the ONNX inference path never imports torch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from PIL import Image

__all__ = ["NormalizeCfg", "image_to_array", "images_to_batch"]

_RESAMPLING = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}


class NormalizeCfg(Protocol):
    """The slice of BackboneCfg preprocessing needs; a Protocol so this module need not import torch."""

    @property
    def input_size(self) -> int: ...
    @property
    def mean(self) -> tuple[float, float, float]: ...
    @property
    def std(self) -> tuple[float, float, float]: ...
    @property
    def interpolation(self) -> str: ...


def image_to_array(image: Image.Image, cfg: NormalizeCfg) -> np.ndarray:
    """Squash-resize to input_size x input_size RGB and normalise -> float32 (3, S, S).

    Squashing rather than cropping keeps every labelled pixel in view, which matters for small training
    sets where the object may sit near an edge.
    """
    try:
        resample = _RESAMPLING[cfg.interpolation]
    except KeyError:
        raise ValueError(
            f"unknown interpolation {cfg.interpolation!r}; known: {sorted(_RESAMPLING)}"
        ) from None
    size = cfg.input_size
    # convert() first: palette, greyscale, CMYK and alpha images all have to become plain RGB.
    rgb = image.convert("RGB").resize((size, size), resample)
    pixels = np.asarray(rgb, dtype=np.float32) / 255.0
    mean = np.asarray(cfg.mean, dtype=np.float32)
    std = np.asarray(cfg.std, dtype=np.float32)
    normalised = (pixels - mean) / std
    return np.ascontiguousarray(normalised.transpose(2, 0, 1))


def images_to_batch(images: Sequence[Image.Image], cfg: NormalizeCfg) -> np.ndarray:
    """Several images -> float32 (N, 3, S, S)."""
    if not images:
        return np.empty((0, 3, cfg.input_size, cfg.input_size), dtype=np.float32)
    return np.stack([image_to_array(image, cfg) for image in images])
