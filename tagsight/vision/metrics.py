"""Precision, recall and average precision, as Custom Vision reports them.

All figures are computed on out-of-sample predictions (cross-validation folds or a holdout).
Standard deviations are across folds: how much the figure moves with the split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Figures:
    precision: float
    precision_std: float
    recall: float
    recall_std: float
    average_precision: float


def average_precision(truth: np.ndarray, scores: np.ndarray) -> float:
    """Area under the precision–recall curve as a step sum: Σ (Rₙ − Rₙ₋₁) · Pₙ.

    The same definition as scikit-learn's ``average_precision_score``; tied scores form one step.
    """
    positives = int(truth.sum())
    if positives == 0:
        return 0.0
    order = np.argsort(-scores, kind="stable")
    truth, scores = truth[order], scores[order]
    hits = np.cumsum(truth)
    # Only the last position of each run of equal scores is a threshold.
    last = np.r_[scores[1:] != scores[:-1], True]
    tp, seen = hits[last], np.flatnonzero(last) + 1
    precision = tp / seen
    recall = tp / positives
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _precision_recall(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    tp = float(np.sum(truth & predicted))
    chosen = float(np.sum(predicted))
    actual = float(np.sum(truth))
    return (tp / chosen if chosen else 0.0), (tp / actual if actual else 0.0)


def _std_over_folds(truth: np.ndarray, predicted: np.ndarray, folds: np.ndarray) -> tuple[float, float]:
    per_fold = [_precision_recall(truth[folds == f], predicted[folds == f]) for f in np.unique(folds)]
    if len(per_fold) < 2:
        return 0.0, 0.0
    values = np.array(per_fold)
    return float(values[:, 0].std()), float(values[:, 1].std())


def classification_figures(
    targets: np.ndarray, probabilities: np.ndarray, folds: np.ndarray, threshold: float
) -> tuple[Figures, list[Figures]]:
    """Overall (micro-averaged over tags; AP is the mean over tags) and per-tag figures.

    ``targets`` and ``probabilities`` are (N, C); only rows evaluated out of sample are passed.
    """
    truth = targets.astype(bool)
    predicted = probabilities >= threshold
    per_tag = []
    for c in range(truth.shape[1]):
        precision, recall = _precision_recall(truth[:, c], predicted[:, c])
        p_std, r_std = _std_over_folds(truth[:, c], predicted[:, c], folds)
        ap = average_precision(truth[:, c], probabilities[:, c])
        per_tag.append(Figures(precision, p_std, recall, r_std, ap))
    precision, recall = _precision_recall(truth.ravel(), predicted.ravel())
    fold_rows = np.repeat(folds, truth.shape[1])
    p_std, r_std = _std_over_folds(truth.ravel(), predicted.ravel(), fold_rows)
    mean_ap = float(np.mean([f.average_precision for f in per_tag])) if per_tag else 0.0
    return Figures(precision, p_std, recall, r_std, mean_ap), per_tag


Box = tuple[float, float, float, float]  # normalised left, top, width, height


def _iou(a: Box, b: Box) -> float:
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def interpolated_ap(hits: np.ndarray, positives: int) -> float:
    """COCO's 101-point interpolated AP of score-sorted detections (1 = true positive)."""
    if positives == 0 or len(hits) == 0:
        return 0.0
    tp = np.cumsum(hits)
    recall = tp / positives
    precision = tp / np.arange(1, len(hits) + 1)
    # The envelope: best precision at any recall at least this high.
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    thresholds = np.linspace(0.0, 1.0, 101)
    at = np.searchsorted(recall, thresholds, side="left")
    return float(np.mean([envelope[i] if i < len(envelope) else 0.0 for i in at]))


def match_detections(
    truth: list[list[tuple[int, Box]]],
    detections: list[list[tuple[int, float, Box]]],
    cls: int,
    iou_threshold: float,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Greedy matching for one class: scores (D,), hit flags (D,) sorted by score, and #positives."""
    found = sorted(
        ((score, image, box) for image, dets in enumerate(detections) for c, score, box in dets if c == cls),
        key=lambda d: -d[0],
    )
    gts = {image: [box for c, box in boxes if c == cls] for image, boxes in enumerate(truth)}
    used: set[tuple[int, int]] = set()
    hits = np.zeros(len(found))
    for k, (_, image, box) in enumerate(found):
        best, best_iou = -1, iou_threshold
        for j, gt in enumerate(gts.get(image, [])):
            overlap = _iou(box, gt)
            if overlap >= best_iou and (image, j) not in used:
                best, best_iou = j, overlap
        if best >= 0:
            used.add((image, best))
            hits[k] = 1
    scores = np.array([f[0] for f in found])
    return scores, hits, sum(len(v) for v in gts.values())


def detection_figures(
    truth: list[list[tuple[int, Box]]],
    detections: list[list[tuple[int, float, Box]]],
    num_classes: int,
    *,
    threshold: float,
    iou_threshold: float,
) -> tuple[Figures, list[Figures]]:
    """Per class: precision and recall of the detections scoring at least ``threshold``, and AP
    over all scores, a detection counting when it overlaps an unmatched true box by
    ``iou_threshold`` IoU. Overall: micro-averaged precision and recall, and mAP."""
    per_class, tps, chosen, positives_all = [], 0.0, 0.0, 0
    for cls in range(num_classes):
        scores, hits, positives = match_detections(truth, detections, cls, iou_threshold)
        keep = scores >= threshold
        tp, n = float(hits[keep].sum()), float(keep.sum())
        tps, chosen, positives_all = tps + tp, chosen + n, positives_all + positives
        per_class.append(
            Figures(
                tp / n if n else 0.0,
                0.0,
                tp / positives if positives else 0.0,
                0.0,
                interpolated_ap(hits, positives),
            )
        )
    with_truth = [
        f.average_precision for cls, f in enumerate(per_class) if any(c == cls for b in truth for c, _ in b)
    ]
    overall = Figures(
        tps / chosen if chosen else 0.0,
        0.0,
        tps / positives_all if positives_all else 0.0,
        0.0,
        float(np.mean(with_truth)) if with_truth else 0.0,
    )
    return overall, per_class


COCO_IOUS = tuple(round(0.5 + 0.05 * k, 2) for k in range(10))  # 0.50, 0.55, ..., 0.95


def coco_maps(
    truth: list[list[tuple[int, Box]]], detections: list[list[tuple[int, float, Box]]], num_classes: int
) -> tuple[float, float]:
    """(mAP@0.5, mAP@0.5:0.95): COCO's headline figures, the second averaged over ten IoU thresholds."""
    maps = []
    for iou in COCO_IOUS:
        overall, _ = detection_figures(truth, detections, num_classes, threshold=0.5, iou_threshold=iou)
        maps.append(overall.average_precision)
    return maps[0], float(np.mean(maps))
