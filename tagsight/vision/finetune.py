"""Advanced classification training: fine-tune the backbone's last blocks, within a time budget.

Read top to bottom: hold out a stratified fifth of the images; warm-start the head with the
logistic regression Regular training fits on cached frozen features (so epoch 0 is already a
Regular-quality model, and the one kept if fine-tuning never beats it); then fine-tune the last
few MBConv blocks, the head conv and the head on augmented views, scoring the held-out images at
the inference size after every epoch. Training stops at the epoch cap, after `patience` epochs
without a better held-out loss, or when the budget is nearly spent. The best epoch's weights are
exported exactly as Regular exports its model; its held-out probabilities are the performance
figures, so they come from a model that never trained on those images.

What makes this affordable on a small CPU: BatchNorm keeps its ImageNet statistics (batches of 16
would only add noise), and the early blocks stay frozen, so they run without autograd and the
held-out images pass through them once rather than every epoch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from tagsight.vision.augment import AugmentConfig, random_view
from tagsight.vision.backbones import EfficientNetLite, create_backbone, get_backbone_cfg
from tagsight.vision.classifier import ImageClassifier, fit_linear_head, head_probabilities
from tagsight.vision.export import export_onnx
from tagsight.vision.imageio import decode_rgb
from tagsight.vision.pixels import model_pixels
from tagsight.vision.train_classifier import (
    ClassifierTrainConfig,
    FeatureCache,
    TrainedClassifier,
    TrainingImage,
    embed,
    model_metadata,
)

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class FinetuneConfig:
    backbone: str = "efficientnet_lite2"
    multilabel: bool = False
    # Inference (and held-out scoring) side; None is the backbone's own. Larger than the training
    # views on purpose: on hymenoptera, frozen Lite2 features reach 0.961 val accuracy at 260 px,
    # 0.967 at 320 and 0.974 at 384 (the FixRes effect), at a higher inference cost.
    input_size: int | None = None
    budget_s: float = 3600.0  # hard wall-clock bound for the whole call, export included
    max_epochs: int = 8  # held-out loss has always bottomed out by epoch 5 on hymenoptera
    patience: int = 2  # epochs without a better held-out loss before stopping
    holdout: float = 0.2  # share of each tag's images held out (at least one, never all)
    # Side of the training views; None: 5/6 of the input size, a multiple of 32 (320 for 384).
    # Random crops enlarge objects, so slightly smaller views match what inference sees. Views far
    # smaller than the input hurt badly: 192 px views for 384 px inference cost 20+ points.
    train_size: int | None = None
    trainable_blocks: int = 6  # last MBConv blocks trained, with the head conv; the rest stay frozen
    batch_size: int = 16
    # Adam. Small on purpose: the warm-started model is already good, and on hymenoptera 3e-4
    # wrecked it (0.6 held-out loss after one epoch) while 1e-5 improved held-out loss steadily.
    lr: float = 1e-5
    warmup_epochs: float = 0.5  # linear warm-up, then cosine decay to zero at max_epochs
    # Multiclass only. Off: smoothed targets cap confidence, which the held-out log loss used for
    # early stopping reads as getting worse (0.033 → 0.15 on hymenoptera at 0.1).
    label_smoothing: float = 0.0
    dropout: float = 0.0  # on the pooled features, before the head
    drop_path: float = 0.2  # stochastic depth in the trained blocks (the backbone's default rate)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    c: float = 1.0  # the warm-start head's inverse L2 strength, as ClassifierTrainConfig.c
    # Torch CPU threads during the call (restored after). One: on 2 cores a second thread is ~1.7x
    # faster on an idle machine but 1.5-2x slower than one when anything else holds a core.
    threads: int = 1
    device: str | None = None  # None: CUDA when available, else the CPU
    export_reserve_s: float = 3.0  # kept back from the budget for the export (~0.5 s for Lite2)
    seed: int = 0


class HasDevice(Protocol):
    @property
    def device(self) -> str | None: ...


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Set torch's intra-op threads for the call; the setting is process-wide, so restore it."""
    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def pick_device(cfg: HasDevice) -> torch.device:
    if cfg.device is not None:
        return torch.device(cfg.device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def fixres_size(backbone: str) -> int:
    """Advanced models run at 1.5x the backbone's size, a multiple of 32 (see FinetuneConfig)."""
    return int(round(get_backbone_cfg(backbone).input_size * 1.5 / 32) * 32)


def view_size(cfg: FinetuneConfig, input_size: int) -> int:
    return cfg.train_size or max(32, round(input_size * 5 / 6 / 32) * 32)


def holdout_split(targets: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """(N,) bool, True for held-out images: stratified by first tag, at least one per tag."""
    rng = np.random.default_rng(seed)
    # Images without any tag (possible in Multilabel) form a group of their own.
    primary = np.where(targets.any(axis=1), targets.argmax(axis=1), -1)
    held = np.zeros(len(targets), dtype=bool)
    for label in np.unique(primary):
        members = rng.permutation(np.flatnonzero(primary == label))
        if len(members) >= 2:  # a tag needs an image on each side of the split
            count = min(len(members) - 1, max(1, round(fraction * len(members))))
            held[members[:count]] = True
    return held


def load_pixels(images: Sequence[TrainingImage], size: int, progress: Callable[[float], None]) -> np.ndarray:
    """(N, size, size, 3) uint8, squashed exactly as inference does; decoded once, kept in memory.

    Training views are cropped from these squares (see augment.py), so N x size² x 3 bytes in all:
    110 MB for 245 images at 384 px.
    """
    pixels = np.empty((len(images), size, size, 3), dtype=np.uint8)
    for i, image in enumerate(images):
        pixels[i] = model_pixels(decode_rgb(image.load(), at_least=size), size)
        progress((i + 1) / len(images))
    return pixels


def build_model(cfg: FinetuneConfig, classes: int) -> ImageClassifier:
    backbone = create_backbone(cfg.backbone, pretrained=True, num_classes=0, drop_path_rate=cfg.drop_path)
    if not isinstance(backbone, EfficientNetLite):
        # The frozen/trained split below walks EfficientNetLite's blocks.
        raise ValueError(f"Advanced training supports EfficientNet-Lite backbones, not {cfg.backbone!r}")
    # Evaluation mode from the start: in training mode BatchNorm would use (and learn) batch statistics.
    return ImageClassifier(backbone, classes, multilabel=cfg.multilabel, input_size=cfg.input_size).eval()


def lite(model: ImageClassifier) -> EfficientNetLite:
    assert isinstance(model.backbone, EfficientNetLite), "build_model checks this"
    return model.backbone


def frozen_count(model: ImageClassifier, cfg: FinetuneConfig) -> int:
    return max(0, len(lite(model)._blocks) - cfg.trainable_blocks)


def frozen_prefix(model: ImageClassifier, pixels: torch.Tensor, frozen: int) -> torch.Tensor:
    """uint8 (B, S, S, 3) → activations entering the first trained block; no autograd."""
    backbone = lite(model)
    prefix = [backbone._conv_stem, backbone._bn0, *backbone._blocks[:frozen]]
    assert not any(m.training for m in prefix), "frozen blocks must run in evaluation mode"
    with torch.no_grad():
        x = backbone._stem(model.normalise(pixels))
        for block in backbone._blocks[:frozen]:
            x = block(x)
    return x


def prefix_in_chunks(
    model: ImageClassifier, pixels: np.ndarray, frozen: int, chunk: int = 32
) -> list[torch.Tensor]:
    """frozen_prefix of many images, a few at a time to bound memory."""
    device = next(model.parameters()).device
    return [
        frozen_prefix(model, torch.from_numpy(pixels[i : i + chunk]).to(device), frozen)
        for i in range(0, len(pixels), chunk)
    ]


def trained_suffix(
    model: ImageClassifier, x: torch.Tensor, frozen: int, dropout: float = 0.0
) -> torch.Tensor:
    """Activations from frozen_prefix → (B, C) logits; together the two equal model.logits."""
    backbone = lite(model)
    for block in backbone._blocks[frozen:]:
        x = block(x)
    x = F.relu6(backbone._bn1(backbone._conv_head(x)))  # the tail of EfficientNetLite.forward_features
    features = F.dropout(x.mean(dim=(2, 3)), dropout, training=dropout > 0)
    return model.head(features)


def set_trainable(model: ImageClassifier, frozen: int) -> list[nn.Parameter]:
    """Gradients for the last blocks, head conv and head only; returns those parameters."""
    backbone = lite(model)
    model.requires_grad_(False)
    for module in [*backbone._blocks[frozen:], backbone._conv_head, backbone._bn1, model.head]:
        module.requires_grad_(True)
    return [p for p in model.parameters() if p.requires_grad]


def training_mode(model: ImageClassifier, frozen: int) -> None:
    """Stochastic depth on in the trained blocks; every BatchNorm keeps its ImageNet statistics."""
    model.eval()
    for block in lite(model)._blocks[frozen:]:
        block.train()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.eval()


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warm-up to 1, then cosine to 0 at `total` steps."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def loss_of(
    logits: torch.Tensor, targets: torch.Tensor, *, multilabel: bool, smoothing: float = 0.0
) -> torch.Tensor:
    if multilabel:
        return F.binary_cross_entropy_with_logits(logits, targets)  # one sigmoid per tag
    return F.cross_entropy(logits, targets.argmax(dim=1), label_smoothing=smoothing)


def train_step(
    model: ImageClassifier,
    optimiser: torch.optim.Optimizer,
    views: torch.Tensor,
    targets: torch.Tensor,
    frozen: int,
    cfg: FinetuneConfig,
) -> float:
    """One update on uint8 (B, S, S, 3) views; returns the batch loss."""
    x = frozen_prefix(model, views, frozen)
    logits = trained_suffix(model, x, frozen, cfg.dropout)
    loss = loss_of(logits, targets, multilabel=cfg.multilabel, smoothing=cfg.label_smoothing)
    optimiser.zero_grad(set_to_none=True)
    loss.backward()  # type: ignore[no-untyped-call]
    optimiser.step()
    return float(loss.item())


@torch.no_grad()
def score(model: ImageClassifier, prefix: list[torch.Tensor], frozen: int) -> np.ndarray:
    """(N, C) probabilities of images whose frozen-prefix activations are given, in chunks."""
    model.eval()
    probs = [model.probabilities(trained_suffix(model, chunk, frozen)).cpu().numpy() for chunk in prefix]
    return np.concatenate(probs) if probs else np.zeros((0, model.head.out_features), dtype=np.float32)


def holdout_loss(probabilities: np.ndarray, targets: np.ndarray, multilabel: bool) -> float:
    """Mean log loss, the early-stopping criterion: smoother than accuracy on a few dozen images."""
    if len(targets) == 0:
        return math.inf
    p = np.clip(probabilities.astype(np.float64), 1e-7, 1 - 1e-7)
    if multilabel:
        return float(-np.mean(targets * np.log(p) + (1 - targets) * np.log(1 - p)))
    return float(-np.mean(np.log(p[np.arange(len(p)), targets.argmax(axis=1)])))


@dataclass
class Checkpoint:
    epoch: int
    loss: float  # held-out log loss
    probabilities: np.ndarray  # (H, C) held-out probabilities
    state: dict[str, torch.Tensor]  # on the CPU


def checkpoint(model: ImageClassifier, epoch: int, loss: float, probabilities: np.ndarray) -> Checkpoint:
    state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    return Checkpoint(epoch, loss, probabilities, state)


def export_classifier(state: dict[str, torch.Tensor], labels: Sequence[str], cfg: FinetuneConfig) -> bytes:
    """The trained weights in a freshly built classifier, exported exactly as Regular's model."""
    model = ImageClassifier(
        create_backbone(cfg.backbone, pretrained=False, num_classes=0),
        len(labels),
        multilabel=cfg.multilabel,
        input_size=cfg.input_size,
    )
    model.load_state_dict(state, strict=True)  # every weight comes from training
    size = model.input_size
    return export_onnx(
        model,
        torch.zeros(1, size, size, 3, dtype=torch.uint8),
        output_names=["probabilities"],
        metadata=model_metadata(
            model, labels, ClassifierTrainConfig(backbone=cfg.backbone, multilabel=cfg.multilabel)
        ),
    )


def fine_tune(
    model: ImageClassifier,
    pixels: np.ndarray,
    targets: np.ndarray,
    held: np.ndarray,
    best: Checkpoint,
    cfg: FinetuneConfig,
    *,
    deadline: float,
    progress: Progress,
) -> tuple[Checkpoint, int, str]:
    """Train on augmented views of the images not held out; → (best checkpoint, epochs, why stopped)."""
    device = next(model.parameters()).device
    train_idx, held_idx = np.flatnonzero(~held), np.flatnonzero(held)
    rng = np.random.default_rng(cfg.seed)
    frozen = frozen_count(model, cfg)
    params = set_trainable(model, frozen)
    # The held-out images never change, so they pass through the frozen blocks only once.
    held_prefix = prefix_in_chunks(model, pixels[held_idx], frozen)
    target_tensor = torch.from_numpy(targets.astype(np.float32)).to(device)
    optimiser = torch.optim.Adam(params, lr=cfg.lr)
    steps_per_epoch = math.ceil(len(train_idx) / cfg.batch_size)
    total_steps = cfg.max_epochs * steps_per_epoch
    warmup = max(1, round(cfg.warmup_epochs * steps_per_epoch))
    size = view_size(cfg, model.input_size)
    step, step_s, score_s = 0, 0.0, 0.0
    for epoch in range(cfg.max_epochs):
        training_mode(model, frozen)
        order = rng.permutation(train_idx)
        for start in range(0, len(order), cfg.batch_size):
            # Stop before a batch that would leave no time to score the epoch (estimates from the
            # batches and scorings so far); the unscored partial epoch is dropped.
            if time.monotonic() + step_s + score_s > deadline:
                return best, epoch, "budget"
            tick = time.monotonic()
            batch = order[start : start + cfg.batch_size]
            views = np.stack([random_view(pixels[i], size, rng, cfg.augment) for i in batch])
            for group in optimiser.param_groups:
                group["lr"] = cfg.lr * lr_factor(step, total_steps, warmup)
            loss = train_step(
                model, optimiser, torch.from_numpy(views).to(device), target_tensor[batch], frozen, cfg
            )
            step += 1
            step_s = time.monotonic() - tick if step == 1 else 0.8 * step_s + 0.2 * (time.monotonic() - tick)
            done = (epoch + (start + len(batch)) / len(order)) / cfg.max_epochs
            progress(0.2 + 0.75 * done, f"Epoch {epoch + 1} of {cfg.max_epochs}: training loss {loss:.3f}")
        tick = time.monotonic()
        probs = score(model, held_prefix, frozen)
        score_s = time.monotonic() - tick
        held_loss = holdout_loss(probs, targets[held_idx], cfg.multilabel)
        progress(
            0.2 + 0.75 * (epoch + 1) / cfg.max_epochs, f"Epoch {epoch + 1}: held-out loss {held_loss:.3f}"
        )
        if held_loss < best.loss or not len(held_idx):  # with nothing held out: the latest epoch
            best = checkpoint(model, epoch + 1, held_loss, probs)
        elif epoch + 1 - best.epoch >= cfg.patience:
            return best, epoch + 1, "patience"
    return best, cfg.max_epochs, "epochs"


def train_advanced(
    images: Sequence[TrainingImage],
    targets: np.ndarray,
    labels: Sequence[str],
    cfg: FinetuneConfig,
    *,
    cache: FeatureCache,
    progress: Progress,
) -> TrainedClassifier:
    """Fine-tune and evaluate on a held-out split; ``targets`` is (N, C) of 0/1."""
    started = time.monotonic()
    deadline = started + cfg.budget_s - cfg.export_reserve_s
    n, classes = targets.shape
    assert len(images) == n and len(labels) == classes, "images, targets and labels disagree"
    device = pick_device(cfg)
    with torch_threads(cfg.threads):
        torch.manual_seed(cfg.seed)
        held = holdout_split(targets, cfg.holdout, cfg.seed)
        train_idx, held_idx = np.flatnonzero(~held), np.flatnonzero(held)

        # Epoch 0: Regular's logistic regression on cached features, fitted without the held-out images.
        progress(0.01, "Preparing the backbone")
        regular = ClassifierTrainConfig(
            backbone=cfg.backbone, multilabel=cfg.multilabel, c=cfg.c, input_size=cfg.input_size
        )
        features = embed(images, cfg=regular, cache=cache, progress=lambda f, m: progress(0.01 + 0.14 * f, m))
        weight, bias = fit_linear_head(
            features[train_idx], targets[train_idx], multilabel=cfg.multilabel, c=cfg.c
        )
        model = build_model(cfg, classes)
        with torch.no_grad():
            model.head.weight.copy_(torch.from_numpy(weight))
            model.head.bias.copy_(torch.from_numpy(bias))
        probs = head_probabilities(features[held_idx], weight, bias, multilabel=cfg.multilabel)
        best = checkpoint(model, 0, holdout_loss(probs, targets[held_idx], cfg.multilabel), probs)

        epochs, stopped = 0, "budget"  # unless there is time left after the warm start
        if time.monotonic() < deadline:
            progress(0.15, "Loading images")
            pixels = load_pixels(
                images, model.input_size, lambda f: progress(0.15 + 0.05 * f, "Loading images")
            )
            best, epochs, stopped = fine_tune(
                model.to(device), pixels, targets, held, best, cfg, deadline=deadline, progress=progress
            )

        progress(0.96, "Exporting the model")
        onnx_bytes = export_classifier(best.state, labels, cfg)

    probabilities = np.full(targets.shape, np.nan, dtype=np.float32)
    probabilities[held_idx] = best.probabilities
    evaluation: dict[str, object] = {
        "method": "holdout",
        "folds": 1,
        "images": n,
        "held_out": len(held_idx),
        "epochs": epochs,
        "best_epoch": best.epoch,
        "held_out_loss": round(best.loss, 4) if len(held_idx) else None,
        "stopped": stopped,  # "epochs", "patience" or "budget"
        "device": device.type,
        "seconds": round(time.monotonic() - started, 1),
    }
    return TrainedClassifier(onnx_bytes, probabilities, np.where(held, 0, -1), evaluation)
