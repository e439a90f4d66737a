"""Model outputs -> Azure Custom Vision's ``predictions`` list, as Tagsight's Prediction API builds it.

Classification: one entry per tag, by descending probability. Detection: boxes scoring at least
0.01, by descending probability, each with a normalised ``boundingBox``. numpy only.

Detection models whose format has no place for Tagsight's box decoding and suppression (their
``metadata.json`` has a ``decode`` entry) output the raw head instead; ``decode`` below does, in
numpy, exactly what the ONNX model does inside.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_RESULTS = 200
MIN_DETECTION_SCORE = 0.01


def predictions(metadata: dict[str, Any], outputs: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Outputs of one image (batch of 1), keyed boxes/scores/classes or probabilities."""
    tags = metadata["tags"]
    results = []
    if metadata["kind"] == "detection" and "decode" in metadata:
        outputs = decode(outputs, **metadata["decode"])
    if metadata["kind"] == "detection":
        boxes, scores, classes = outputs["boxes"][0], outputs["scores"][0], outputs["classes"][0]
        for box, score, cls in zip(boxes, scores, classes, strict=True):
            if score < MIN_DETECTION_SCORE:
                continue
            tag = tags[int(cls)]
            left, top, width, height = (float(v) for v in box)
            results.append(
                {
                    "tagId": tag["id"],
                    "tagName": tag["name"],
                    "tagType": tag.get("type", "Regular"),
                    "probability": float(score),
                    "boundingBox": {"left": left, "top": top, "width": width, "height": height},
                }
            )
    else:
        for tag, probability in zip(tags, outputs["probabilities"][0], strict=True):
            results.append(
                {
                    "tagId": tag["id"],
                    "tagName": tag["name"],
                    "tagType": tag.get("type", "Regular"),
                    "probability": float(probability),
                }
            )
    results.sort(key=lambda r: -r["probability"])
    return results[:MAX_RESULTS]


def _points(input_size: int, strides: list[int]) -> np.ndarray:
    """Centres (L, 2), in input pixels (x, y), of every location of every pyramid level."""
    points = []
    for stride in strides:
        side = -(-input_size // stride)
        centres = (np.arange(side, dtype=np.float32) + 0.5) * stride
        ys, xs = np.meshgrid(centres, centres, indexing="ij")
        points.append(np.stack([xs.reshape(-1), ys.reshape(-1)], axis=1))
    return np.concatenate(points)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _top(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-values, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(values, order, axis=1), order


def decode(
    outputs: dict[str, np.ndarray],
    *,
    inputSize: int,  # noqa: N803 - metadata.json's camelCase keys
    strides: list[int],
    preNms: int,  # noqa: N803
    maxDetections: int,  # noqa: N803
    nmsIou: float,  # noqa: N803
) -> dict[str, np.ndarray]:
    """Raw head outputs -> boxes (N, M, 4) normalised ltwh, scores (N, M), classes (N, M).

    Scores are sqrt(sigmoid(class) * sigmoid(centerness)); the best ``preNms`` (location, class)
    pairs are decoded from their distances to the box edges; a box is dropped when a
    higher-scoring box of its class overlaps it by more than ``nmsIou`` ("Fast NMS"); the best
    ``maxDetections`` remain, suppressed slots scoring 0.
    """
    logits = outputs["class_logits"].astype(np.float32)
    distances = outputs["box_distances"].astype(np.float32)
    centerness = outputs["centerness_logits"].astype(np.float32)
    n, locations, k = logits.shape
    scores = np.sqrt(_sigmoid(logits) * _sigmoid(centerness)[..., None]).reshape(n, locations * k)
    top_scores, top = _top(scores, min(preNms, locations * k))
    where, classes = top // k, top % k
    points = _points(inputSize, strides)[where]
    dist = np.take_along_axis(distances, where[..., None], axis=1)
    xyxy = np.clip(np.concatenate([points - dist[..., :2], points + dist[..., 2:]], axis=-1), 0, inputSize)
    lt = np.maximum(xyxy[:, :, None, :2], xyxy[:, None, :, :2])
    rb = np.minimum(xyxy[:, :, None, 2:], xyxy[:, None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area = np.clip(xyxy[..., 2:] - xyxy[..., :2], 0, None).prod(-1)
    iou = inter / (area[:, :, None] + area[:, None, :] - inter + 1e-9)
    earlier = np.triu(np.ones(iou.shape[1:], dtype=bool), k=1)
    same = classes[:, :, None] == classes[:, None, :]
    overlap = np.where(same & earlier, iou, 0.0).max(axis=1)
    kept = top_scores * (overlap <= nmsIou)
    final, order = _top(kept, min(maxDetections, kept.shape[1]))
    xyxy = np.take_along_axis(xyxy, order[..., None], axis=1) / inputSize
    boxes = np.concatenate([xyxy[..., :2], xyxy[..., 2:] - xyxy[..., :2]], axis=-1)
    return {"boxes": boxes, "scores": final, "classes": np.take_along_axis(classes, order, axis=1)}
