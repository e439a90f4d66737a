"""Image classification on a pretrained backbone: the deployable model and its linear head.

``ImageClassifier`` takes what ``pixels.model_batch`` makes (uint8 NHWC RGB at the backbone's
input size) and returns probabilities, so the exported ONNX graph carries its own normalisation.
Multiclass uses a softmax over tags; Multilabel an independent sigmoid per tag.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from tagsight.vision.backbones import Backbone


class ImageClassifier(nn.Module):
    def __init__(
        self, backbone: Backbone, num_classes: int, *, multilabel: bool, input_size: int | None = None
    ) -> None:
        super().__init__()
        self.backbone = backbone
        # Convolutions accept any size; a larger input than the backbone was trained at often
        # gives better features (the "FixRes" effect), at a higher inference cost.
        self._input_size = input_size or int(backbone.cfg.input_size)
        self.multilabel = multilabel
        self.head = nn.Linear(backbone.feature_dim, num_classes)
        cfg = backbone.cfg
        # Normalisation on the 0..255 scale, baked into the graph.
        self.register_buffer("mean", torch.tensor(cfg.mean).view(1, 3, 1, 1) * 255.0, persistent=False)
        self.register_buffer("std", torch.tensor(cfg.std).view(1, 3, 1, 1) * 255.0, persistent=False)

    @property
    def input_size(self) -> int:
        return self._input_size

    def normalise(self, pixels: torch.Tensor) -> torch.Tensor:
        """uint8 (N, S, S, 3) → float (N, 3, S, S), normalised as the backbone expects."""
        x = pixels.permute(0, 3, 1, 2).float()
        return (x - self.mean) / self.std

    def features(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.backbone.forward_features(self.normalise(pixels))

    def logits(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(pixels))

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(logits) if self.multilabel else torch.softmax(logits, dim=1)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.probabilities(self.logits(pixels))


def fit_linear_head(
    features: np.ndarray, targets: np.ndarray, *, multilabel: bool, c: float = 1.0, max_iter: int = 300
) -> tuple[np.ndarray, np.ndarray]:
    """L2-regularised logistic regression on frozen features → (weight (C, D), bias (C,)).

    The objective is scikit-learn's LogisticRegression(C=c) expressed as a mean: mean loss plus
    ||W||² / (2·c·N). L-BFGS on the full batch converges in well under a second for thousands of
    images, so no mini-batching or learning-rate tuning is needed.
    """
    with single_thread():
        return _fit(features, targets, multilabel=multilabel, c=c, max_iter=max_iter)


@contextmanager
def single_thread() -> Iterator[None]:
    """Small dense problems run far faster on one thread than on a contended pool."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _fit(
    features: np.ndarray, targets: np.ndarray, *, multilabel: bool, c: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray]:
    x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
    y = torch.from_numpy(np.ascontiguousarray(targets, dtype=np.float32))
    n, d = x.shape
    classes = y.shape[1]
    weight = torch.zeros(classes, d, requires_grad=True)
    bias = torch.zeros(classes, requires_grad=True)
    l2 = 1.0 / (2.0 * c * n)
    optimiser = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")
    labels = y.argmax(dim=1)

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        logits = x @ weight.T + bias
        if multilabel:
            # Summed over tags, averaged over images: one logistic regression per tag, as in
            # scikit-learn's one-vs-rest, rather than a regulariser C times too strong.
            loss = F.binary_cross_entropy_with_logits(logits, y, reduction="sum") / n
        else:
            loss = F.cross_entropy(logits, labels)
        loss = loss + l2 * weight.pow(2).sum()
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    optimiser.step(closure)  # type: ignore[no-untyped-call]
    return weight.detach().numpy().copy(), bias.detach().numpy().copy()


def head_probabilities(
    features: np.ndarray, weight: np.ndarray, bias: np.ndarray, *, multilabel: bool
) -> np.ndarray:
    logits = torch.from_numpy(features.astype(np.float32)) @ torch.from_numpy(weight).T + torch.from_numpy(
        bias
    )
    probs = torch.sigmoid(logits) if multilabel else torch.softmax(logits, dim=1)
    return probs.numpy()
