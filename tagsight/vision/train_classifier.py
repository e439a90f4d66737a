"""Regular (quick) classification training: frozen backbone, cached features, a linear head.

Read top to bottom: embed every image once (features are cached by content hash, so retraining
after adding ten images embeds only those ten), measure the head honestly by k-fold
cross-validation (or one holdout split for large sets), fit the final head on everything, and
export backbone + head + normalisation as one ONNX graph.

Embedding runs the backbone with onnxruntime, which is two to three times faster than eager
PyTorch on a CPU; the features model is exported once per backbone and cached.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from tagsight.vision.backbones import create_backbone
from tagsight.vision.classifier import ImageClassifier, fit_linear_head, head_probabilities
from tagsight.vision.export import export_onnx
from tagsight.vision.imageio import decode_rgb
from tagsight.vision.pixels import model_pixels
from tagsight.vision.runtime import OnnxModel

Progress = Callable[[float, str], None]
FEATURES_VERSION = "v1"  # bump when preprocessing or the features model changes


class FeatureCache(Protocol):
    """Where embeddings (by backbone and content hash) and feature models are kept."""

    def get(self, key: str) -> np.ndarray | None: ...

    def put(self, key: str, value: np.ndarray) -> None: ...

    def get_bytes(self, key: str) -> bytes | None: ...

    def put_bytes(self, key: str, value: bytes) -> None: ...


@dataclass(frozen=True)
class TrainingImage:
    content_hash: str
    load: Callable[[], bytes]  # the encoded image; raises if it is gone


@dataclass(frozen=True)
class ClassifierTrainConfig:
    backbone: str = "efficientnet_lite2"
    multilabel: bool = False
    input_size: int | None = None  # None: the backbone's own
    c: float = 1.0  # inverse L2 strength, as scikit-learn's LogisticRegression
    folds: int = 5  # k-fold cross-validation for the performance figures...
    holdout_above: int = 2000  # ...or, above this many images, one 20% holdout split
    batch_size: int = 8
    seed: int = 0


@dataclass
class TrainedClassifier:
    onnx: bytes
    probabilities: np.ndarray  # (N, C) out-of-sample probabilities; NaN rows were not evaluated
    folds: np.ndarray  # (N,) fold of each image, -1 when it was only trained on
    evaluation: dict[str, object] = field(default_factory=dict)


class FeaturesOnly(torch.nn.Module):
    def __init__(self, model: ImageClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model.features(pixels)


def feature_model(backbone: str, cache: FeatureCache, input_size: int | None = None) -> OnnxModel:
    """The backbone as an ONNX features model (uint8 NHWC in, pooled features out)."""
    key = f"feature-models/{backbone}{_size_tag(input_size)}-{FEATURES_VERSION}.onnx"
    model_bytes = cache.get_bytes(key)
    if model_bytes is None:
        classifier = ImageClassifier(
            create_backbone(backbone, pretrained=True, num_classes=0),
            1,
            multilabel=False,
            input_size=input_size,
        )
        size = classifier.input_size
        model_bytes = export_onnx(
            FeaturesOnly(classifier),
            torch.zeros(1, size, size, 3, dtype=torch.uint8),
            output_names=["features"],
            metadata={"kind": "features", "backbone": backbone, "input_size": str(size)},
        )
        cache.put_bytes(key, model_bytes)
    return OnnxModel(model_bytes)


def embed(
    images: Sequence[TrainingImage], *, cfg: ClassifierTrainConfig, cache: FeatureCache, progress: Progress
) -> np.ndarray:
    """(N, D) features; only images missing from the cache are decoded and run."""
    prefix = f"{cfg.backbone}{_size_tag(cfg.input_size)}-{FEATURES_VERSION}"
    found = [cache.get(f"{prefix}/{image.content_hash}") for image in images]
    missing = [i for i, f in enumerate(found) if f is None]
    if missing:
        model = feature_model(cfg.backbone, cache, cfg.input_size)
        size = model.input_size
        for start in range(0, len(missing), cfg.batch_size):
            chunk = missing[start : start + cfg.batch_size]
            pixels = np.stack(
                [model_pixels(decode_rgb(images[i].load(), at_least=size), size) for i in chunk]
            )
            for i, f in zip(chunk, model.run_pixels(pixels)["features"], strict=True):
                found[i] = f
                cache.put(f"{prefix}/{images[i].content_hash}", f.astype(np.float16))
            done = start + len(chunk)
            progress(0.05 + 0.75 * done / len(missing), f"Embedded {done} of {len(missing)} new images")
    return np.stack([np.asarray(f, dtype=np.float32) for f in found])


def _size_tag(input_size: int | None) -> str:
    # Features at the backbone's own size keep the original key, so existing caches stay valid.
    return "" if input_size is None else f"-s{input_size}"


def assign_folds(targets: np.ndarray, cfg: ClassifierTrainConfig) -> np.ndarray:
    """Stratified by each image's first tag, so every fold sees every tag."""
    rng = np.random.default_rng(cfg.seed)
    n = len(targets)
    if n > cfg.holdout_above:
        folds = np.full(n, -1)
        folds[rng.permutation(n)[: n // 5]] = 0
        return folds
    primary = targets.argmax(axis=1)
    k = max(2, min(cfg.folds, int(np.bincount(primary).min())))
    folds = np.empty(n, dtype=int)
    for label in np.unique(primary):
        members = rng.permutation(np.flatnonzero(primary == label))
        folds[members] = np.arange(len(members)) % k
    return folds


def cross_validate(
    features: np.ndarray, targets: np.ndarray, folds: np.ndarray, cfg: ClassifierTrainConfig
) -> np.ndarray:
    probs = np.full(targets.shape, np.nan, dtype=np.float32)
    for fold in sorted(set(folds.tolist()) - {-1}):
        held = folds == fold
        weight, bias = fit_linear_head(features[~held], targets[~held], multilabel=cfg.multilabel, c=cfg.c)
        probs[held] = head_probabilities(features[held], weight, bias, multilabel=cfg.multilabel)
    return probs


def train_regular(
    images: Sequence[TrainingImage],
    targets: np.ndarray,
    labels: Sequence[str],
    cfg: ClassifierTrainConfig,
    *,
    cache: FeatureCache,
    progress: Progress,
) -> TrainedClassifier:
    """Train and evaluate a linear head on frozen features; ``targets`` is (N, C) of 0/1."""
    torch.manual_seed(cfg.seed)
    progress(0.02, "Preparing the backbone")
    features = embed(images, cfg=cfg, cache=cache, progress=progress)

    progress(0.82, "Measuring performance on held-out images")
    folds = assign_folds(targets, cfg)
    probabilities = cross_validate(features, targets, folds, cfg)

    progress(0.88, "Fitting the final model")
    weight, bias = fit_linear_head(features, targets, multilabel=cfg.multilabel, c=cfg.c)
    model = ImageClassifier(
        create_backbone(cfg.backbone, pretrained=True, num_classes=0),
        len(labels),
        multilabel=cfg.multilabel,
        input_size=cfg.input_size,
    )
    with torch.no_grad():
        model.head.weight.copy_(torch.from_numpy(weight))
        model.head.bias.copy_(torch.from_numpy(bias))
    progress(0.94, "Exporting the model")
    onnx_bytes = export_onnx(
        model,
        torch.zeros(1, model.input_size, model.input_size, 3, dtype=torch.uint8),
        output_names=["probabilities"],
        metadata=model_metadata(model, labels, cfg),
    )
    method = "holdout" if len(images) > cfg.holdout_above else "cross-validation"
    evaluation = {"method": method, "folds": int(folds.max()) + 1, "images": len(images)}
    return TrainedClassifier(onnx_bytes, probabilities, folds, evaluation)


def model_metadata(
    model: ImageClassifier, labels: Sequence[str], cfg: ClassifierTrainConfig
) -> dict[str, str]:
    return {
        "kind": "classification",
        "classification_type": "Multilabel" if cfg.multilabel else "Multiclass",
        "backbone": cfg.backbone,
        "input_size": str(model.input_size),
        "input_layout": "NHWC",
        "input_dtype": "uint8",
        "color_order": "RGB",
        "input_range": "0-255",
        "resize": "squash to input_size x input_size, bilinear",
        "labels": json.dumps(list(labels)),
    }
