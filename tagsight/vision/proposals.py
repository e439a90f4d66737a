"""Class-agnostic region proposals before any detector is trained.

Where an ImageNet backbone's mid-level features are strongest is usually where objects are. The
stride-32 activation energy is thresholded at several levels; each connected blob becomes a box,
scored by how much stronger it is inside than around it. Crude next to a trained detector, but
a useful first box to adjust when labelling. numpy only.
"""

from __future__ import annotations

import numpy as np

Box = tuple[float, float, float, float]  # normalised left, top, width, height


def _components(mask: np.ndarray) -> list[np.ndarray]:
    """4-connected blobs of a small boolean grid, as arrays of (row, col)."""
    seen = np.zeros_like(mask, dtype=bool)
    blobs = []
    for start in zip(*np.nonzero(mask), strict=True):
        if seen[start]:
            continue
        stack, cells = [start], []
        seen[start] = True
        while stack:
            r, c = stack.pop()
            cells.append((r, c))
            for nr, nc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
                if 0 <= nr < mask.shape[0] and 0 <= nc < mask.shape[1] and mask[nr, nc] and not seen[nr, nc]:
                    seen[nr, nc] = True
                    stack.append((nr, nc))
        blobs.append(np.array(cells))
    return blobs


def _iou(a: Box, b: Box) -> float:
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter + 1e-9)


def saliency_proposals(feature_map: np.ndarray, *, max_proposals: int = 10) -> list[tuple[float, Box]]:
    """Proposals from one (C, H, W) backbone map; confidences in 0..1, best first."""
    energy = np.sqrt((feature_map.astype(np.float32) ** 2).sum(axis=0))
    energy = (energy - energy.min()) / max(float(energy.max() - energy.min()), 1e-6)
    rows, cols = energy.shape
    candidates: list[tuple[float, Box]] = []
    for level in (0.3, 0.45, 0.6, 0.75):
        for blob in _components(energy >= level):
            if len(blob) < 2:
                continue
            (r0, c0), (r1, c1) = blob.min(0), blob.max(0) + 1
            inside = energy[r0:r1, c0:c1].mean()
            ring = np.concatenate([energy[max(r0 - 1, 0) : r1 + 1, max(c0 - 1, 0) : c1 + 1].ravel(), [0.0]])
            contrast = float(
                inside - (ring.sum() - energy[r0:r1, c0:c1].sum()) / max(ring.size - (r1 - r0) * (c1 - c0), 1)
            )
            box = (c0 / cols, r0 / rows, (c1 - c0) / cols, (r1 - r0) / rows)
            candidates.append((float(np.clip(0.5 * inside + contrast, 0.0, 1.0)), box))
    candidates.sort(key=lambda c: -c[0])
    kept: list[tuple[float, Box]] = []
    for score, box in candidates:
        if all(_iou(box, other) < 0.7 for _, other in kept):
            kept.append((score, box))
        if len(kept) == max_proposals:
            break
    return kept
