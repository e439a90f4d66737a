"""Model outputs -> Azure Custom Vision's ``predictions`` list, as Tagsight's Prediction API builds it.

Classification: one entry per tag, by descending probability. Detection: boxes scoring at least
0.01, by descending probability, each with a normalised ``boundingBox``. numpy only.
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
