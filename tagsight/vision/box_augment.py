"""Augmentation for detection: every transform moves the boxes with the pixels.

Boxes are (G, 4) arrays of normalised x1, y1, x2, y2. Crops never cut a box: they always contain
every labelled object, so no label is lost or truncated.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageEnhance

FILL = (124, 116, 104)  # ImageNet mean colour for padding


def hflip(image: Image.Image, boxes: np.ndarray) -> tuple[Image.Image, np.ndarray]:
    flipped = boxes.copy()
    flipped[:, [0, 2]] = 1.0 - boxes[:, [2, 0]]
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), flipped


def crop_keeping_boxes(
    image: Image.Image, boxes: np.ndarray, rng: np.random.Generator, min_scale: float = 0.5
) -> tuple[Image.Image, np.ndarray]:
    """Zoom in: a random window of 50-100% of each side that still holds every box."""
    if len(boxes):
        lo, hi = boxes[:, :2].min(0), boxes[:, 2:].max(0)
    else:
        lo, hi = np.array([0.5, 0.5]), np.array([0.5, 0.5])
    size = np.maximum(rng.uniform(min_scale, 1.0, 2), hi - lo)
    low, high = np.maximum(0.0, hi - size), np.minimum(lo, 1.0 - size)
    start = np.clip(low + rng.uniform(0.0, 1.0, 2) * np.maximum(high - low, 0.0), 0.0, 1.0 - size)
    w, h = image.size
    box = (int(start[0] * w), int(start[1] * h), int((start[0] + size[0]) * w), int((start[1] + size[1]) * h))
    cropped = image.crop(box)
    scale = np.array([box[2] - box[0], box[3] - box[1]]) / np.array([w, h])
    offset = np.array([box[0], box[1]]) / np.array([w, h])
    moved = boxes.copy()
    moved[:, :2] = (boxes[:, :2] - offset) / scale
    moved[:, 2:] = (boxes[:, 2:] - offset) / scale
    return cropped, np.clip(moved, 0.0, 1.0)


def zoom_out(
    image: Image.Image, boxes: np.ndarray, rng: np.random.Generator, max_scale: float = 1.6
) -> tuple[Image.Image, np.ndarray]:
    """Place the image on a larger canvas: objects become smaller, for the fine levels to learn."""
    scale = rng.uniform(1.0, max_scale)
    w, h = image.size
    canvas = Image.new("RGB", (int(w * scale), int(h * scale)), FILL)
    x, y = int(rng.uniform(0, canvas.width - w)), int(rng.uniform(0, canvas.height - h))
    canvas.paste(image, (x, y))
    moved = boxes.copy()
    moved[:, [0, 2]] = (boxes[:, [0, 2]] * w + x) / canvas.width
    moved[:, [1, 3]] = (boxes[:, [1, 3]] * h + y) / canvas.height
    return canvas, moved


def colour(image: Image.Image, rng: np.random.Generator, strength: float = 0.25) -> Image.Image:
    for enhance in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        image = enhance(image).enhance(float(rng.uniform(1 - strength, 1 + strength)))
    return image


def augment(
    image: Image.Image, boxes: np.ndarray, rng: np.random.Generator
) -> tuple[Image.Image, np.ndarray]:
    """One random view: zoom in or out (or neither), mirror half the time, colour jitter."""
    roll = rng.uniform()
    if roll < 0.45:
        image, boxes = crop_keeping_boxes(image, boxes, rng)
    elif roll < 0.75:
        image, boxes = zoom_out(image, boxes, rng)
    if rng.uniform() < 0.5:
        image, boxes = hflip(image, boxes)
    return colour(image, rng), boxes


def mosaic(
    tiles: Sequence[tuple[Image.Image, np.ndarray, np.ndarray]], rng: np.random.Generator, size: int
) -> tuple[Image.Image, np.ndarray, np.ndarray]:
    """Four (image, boxes, labels) in a 2x2 grid of side ``size``: each squashed into its square cell
    (as inference squashes a whole photo) and mirrored half the time, then colour jitter.

    Most photos in a small data set hold one object, and a detector trained on them tends to draw
    one box around two animals side by side. A mosaic puts objects next to each other in every
    view, at half scale.
    """
    cell = size // 2
    canvas = Image.new("RGB", (size, size), FILL)
    boxes, labels = [], []
    for k, (image, tile_boxes, tile_labels) in enumerate(tiles):
        if rng.uniform() < 0.5:
            image, tile_boxes = hflip(image, tile_boxes)
        x, y = (k % 2) * cell, (k // 2) * cell
        canvas.paste(image.resize((cell, cell), Image.Resampling.BILINEAR, reducing_gap=3.0), (x, y))
        boxes.append(tile_boxes * (cell / size) + np.array([x, y, x, y], dtype=np.float32) / size)
        labels.append(tile_labels)
    return colour(canvas, rng), np.concatenate(boxes).astype(np.float32), np.concatenate(labels)
