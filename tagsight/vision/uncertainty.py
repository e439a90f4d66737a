"""How unsure a model is about an image, as one number in [0, 1] (1: most unsure).

Active learning asks a person to label the images the model is least sure of. Each measure here
is 0 when the model is certain and 1 at its most uncertain, so one threshold or sort works for
every kind of project:

- **Multiclass** (softmax over C tags): the entropy of the probabilities divided by its maximum,
  ``-Σ p log p / log C``. It is 1 when every tag is equally likely and looks at the whole
  distribution, not only the top two tags as a margin would.
- **Multilabel** (one sigmoid per tag): the tags are independent yes/no questions, so the entropy
  of the whole labelling is the sum of the binary entropies; divided by its maximum (C bits) it is
  the mean binary entropy in bits. One undecided tag among ten counts a tenth, ten tags at 0.1
  each count more: both are real doubt about what to label.
- **Object detection** (boxes with probabilities): the chance that the labelling the detector
  proposes is wrong somewhere, reading its probabilities at face value:
  ``1 - best · Π max(s_i, 1 - s_i)`` over the other boxes with ``s_i ≥ 0.3``. The best box must be
  right (every training image of a detection project shows an object, so an image where the
  detector finds nothing scores 1), and each other plausible box must be rightly kept or dropped.
  Boxes below 0.3 are left out: an FCOS-style detector returns around a hundred background boxes
  per image at 0.1-0.2 (measured on raccoons), which would otherwise swamp the product.

Probabilities are the model's own outputs (logistic regression heads, which are reasonably
calibrated); nothing here needs to know how they were made.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "binary_entropy",
    "detection_uncertainty",
    "multiclass_uncertainty",
    "multilabel_uncertainty",
]

_EPS = 1e-12


def binary_entropy(p: np.ndarray | float) -> np.ndarray:
    """Entropy in bits of a yes/no event of probability ``p`` (elementwise, 0 at p = 0 or 1)."""
    q = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(q * np.log2(np.maximum(q, _EPS)) + (1 - q) * np.log2(np.maximum(1 - q, _EPS)))
    return np.clip(h, 0.0, 1.0)


def multiclass_uncertainty(probabilities: np.ndarray) -> np.ndarray:
    """Normalised entropy of each row of (N, C) softmax probabilities → (N,) in [0, 1].

    Rows are renormalised first, so rounding in the model's output cannot push a value past 1.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    assert p.ndim == 2, f"expected (N, C) probabilities, got shape {p.shape}"
    classes = p.shape[1]
    if classes < 2:
        return np.zeros(len(p))
    p = np.clip(p, 0.0, None)
    p = p / np.maximum(p.sum(axis=1, keepdims=True), _EPS)
    entropy = -(p * np.log(np.maximum(p, _EPS))).sum(axis=1)
    return np.clip(entropy / np.log(classes), 0.0, 1.0) + 0.0  # + 0.0: no -0.0 for a certain row


def multilabel_uncertainty(probabilities: np.ndarray) -> np.ndarray:
    """Mean binary entropy (bits) over the tags of each row of (N, C) sigmoids → (N,) in [0, 1]."""
    p = np.asarray(probabilities, dtype=np.float64)
    assert p.ndim == 2, f"expected (N, C) probabilities, got shape {p.shape}"
    if p.shape[1] == 0:
        return np.zeros(len(p))
    return np.asarray(binary_entropy(p).mean(axis=1))


PLAUSIBLE_BOX = 0.3  # below this a box is background noise, not a decision for the labeller


def detection_uncertainty(scores: Sequence[float] | np.ndarray) -> float:
    """One image's uncertainty from the probabilities of the boxes found on it (any order)."""
    s = np.sort(np.clip(np.asarray(scores, dtype=np.float64).ravel(), 0.0, 1.0))[::-1]
    if s.size == 0:
        return 1.0
    others = s[1:][s[1:] >= PLAUSIBLE_BOX]
    right = s[0] * np.prod(np.maximum(others, 1.0 - others))
    return float(1.0 - right)
