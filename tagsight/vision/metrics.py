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
