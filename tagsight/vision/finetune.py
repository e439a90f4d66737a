"""Advanced classification training: fine-tune the backbone's last blocks, within a time budget.

Read top to bottom: hold out a stratified fifth of the images; warm-start the head with the
logistic regression Regular training fits on cached frozen features (so epoch 0 is already a
Regular-quality model, and the one kept if fine-tuning never beats it); then fine-tune the last
few MBConv blocks, the head conv and the head on augmented views, scoring the held-out images at
the inference size after every epoch. Training stops at the epoch cap, after `patience` epochs
without a better held-out loss, or when the budget is nearly spent. The best epoch's weights are
exported exactly as Regular exports its model; its held-out probabilities are the performance
figures, so they come from a model that never trained on those images.

Choices that make this affordable on a small CPU (see FinetuneConfig for the measured numbers):
BatchNorm keeps its ImageNet statistics (batches of 16 would only add noise); early blocks stay
frozen, so they run without autograd and the held-out images pass through them once, not every
epoch; views are smaller than the inference size, which is both cheaper and, with random crops
that enlarge objects, a better match to what the model sees at inference (the FixRes effect).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from tagsight.vision.augment import AugmentConfig, random_view
from tagsight.vision.backbones import EfficientNetLite, create_backbone
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
    max_epochs: int = 15
    patience: int = 4  # epochs without a better held-out loss before stopping
    holdout: float = 0.2  # share of each tag's images held out (at least one, never all)
    train_size: int = 192  # side of training views; held-out scoring and inference use the backbone's
    trainable_blocks: int = 6  # last MBConv blocks trained, with the head conv; the rest stay frozen
    batch_size: int = 16
    lr: float = 3e-4  # AdamW peak for the backbone blocks
    head_lr: float = 1e-3  # the warm-started head
    weight_decay: float = 0.01
    warmup_epochs: float = 1.0  # linear warm-up, then cosine decay to zero at max_epochs
    label_smoothing: float = 0.1  # Multiclass only
    dropout: float = 0.2  # on the pooled features, as the backbone's own classifier
    drop_path: float = 0.2  # stochastic depth of the trained blocks (the backbone's default rate)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    c: float = 1.0  # the warm-start head's inverse L2 strength, as ClassifierTrainConfig.c
    threads: int = 2  # torch CPU threads during the call (restored after)
    device: str | None = None  # None: CUDA when available, else the CPU
    export_reserve_s: float = 3.0  # kept back from the budget for the export (~0.5 s for Lite2)
    seed: int = 0
    sgd: bool = False  # EXPERIMENT


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Set torch's intra-op threads for the call; the setting is process-wide, so restore it."""
    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def pick_device(cfg: FinetuneConfig) -> torch.device:
    if cfg.device is not None:
        return torch.device(cfg.device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


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


def load_pixels(
    images: Sequence[TrainingImage], size: int, progress: Callable[[float], None]
) -> np.ndarray:
    """(N, size, size, 3) uint8, squashed exactly as inference does; decoded once, kept in memory."""
    pixels = np.empty((len(images), size, size, 3), dtype=np.uint8)
    for i, image in enumerate(images):
        pixels[i] = model_pixels(decode_rgb(image.load(), at_least=size), size)
        progress((i + 1) / len(images))
    return pixels


def build_model(cfg: FinetuneConfig, classes: int, *, pretrained: bool = True) -> ImageClassifier:
    backbone = create_backbone(cfg.backbone, pretrained=pretrained, num_classes=0, drop_path_rate=cfg.drop_path)
    if not isinstance(backbone, EfficientNetLite):
        # The frozen/trained split below walks EfficientNetLite's blocks.
        raise ValueError(f"Advanced training supports EfficientNet-Lite backbones, not {cfg.backbone!r}")
    # Evaluation mode from the start: in training mode BatchNorm would use (and learn) batch statistics.
    return ImageClassifier(backbone, classes, multilabel=cfg.multilabel, input_size=cfg.input_size).eval()


def blocks(model: ImageClassifier) -> nn.ModuleList:
    backbone = model.backbone
    assert isinstance(backbone, EfficientNetLite)
    return backbone._blocks


def frozen_count(model: ImageClassifier, cfg: FinetuneConfig) -> int:
    return max(0, len(blocks(model)) - cfg.trainable_blocks)


def frozen_prefix(model: ImageClassifier, pixels: torch.Tensor, frozen: int) -> torch.Tensor:
    """uint8 (B, S, S, 3) → activations entering the first trained block; no autograd."""
    backbone = model.backbone
    assert isinstance(backbone, EfficientNetLite)
    prefix = [backbone._conv_stem, backbone._bn0, *blocks(model)[:frozen]]
    assert not any(m.training for m in prefix), "frozen blocks must run in evaluation mode"
    with torch.no_grad():
        x = backbone._stem(model.normalise(pixels))
        for block in blocks(model)[:frozen]:
            x = block(x)
    return x


def trained_suffix(model: ImageClassifier, x: torch.Tensor, frozen: int, dropout: float = 0.0) -> torch.Tensor:
    """Activations from frozen_prefix → (B, C) logits; with frozen_prefix, equals model.logits."""
    backbone = model.backbone
    assert isinstance(backbone, EfficientNetLite)
    for block in blocks(model)[frozen:]:
        x = block(x)
    x = F.relu6(backbone._bn1(backbone._conv_head(x)))  # the tail of EfficientNetLite.forward_features
    features = F.dropout(x.mean(dim=(2, 3)), dropout, training=dropout > 0)
    return model.head(features)


def set_trainable(model: ImageClassifier, frozen: int) -> None:
    """Gradients for the last blocks, head conv and head; everything else is fixed."""
    model.requires_grad_(False)
    backbone = model.backbone
    assert isinstance(backbone, EfficientNetLite)
    for module in [*blocks(model)[frozen:], backbone._conv_head, backbone._bn1, model.head]:
        module.requires_grad_(True)


def training_mode(model: ImageClassifier, frozen: int) -> None:
    """Stochastic depth on in the trained blocks; every BatchNorm keeps its ImageNet statistics."""
    model.eval()
    for block in blocks(model)[frozen:]:
        block.train()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.eval()


def optimiser_for(model: ImageClassifier, cfg: FinetuneConfig) -> torch.optim.Optimizer:
    """AdamW; the head at head_lr, the backbone at lr; no decay on norms and biases."""
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if param.requires_grad:
            groups.setdefault((name.startswith("head."), param.ndim > 1), []).append(param)
    if cfg.sgd:
        return torch.optim.SGD([
            {"params": params, "lr": cfg.head_lr if head else cfg.lr, "weight_decay": cfg.weight_decay if decay else 0.0}
            for (head, decay), params in groups.items()], momentum=0.9, nesterov=True)
    return torch.optim.AdamW(
        [
            {"params": params, "lr": cfg.head_lr if head else cfg.lr, "weight_decay": cfg.weight_decay if decay else 0.0}
            for (head, decay), params in groups.items()
        ]
    )


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warm-up to 1, then cosine to 0 at `total` steps."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def loss_of(logits: torch.Tensor, targets: torch.Tensor, *, multilabel: bool, smoothing: float = 0.0) -> torch.Tensor:
    if multilabel:
        return F.binary_cross_entropy_with_logits(logits, targets)
    return F.cross_entropy(logits, targets.argmax(dim=1), label_smoothing=smoothing)


@torch.no_grad()
def score(model: ImageClassifier, prefix: torch.Tensor, frozen: int, batch: int) -> torch.Tensor:
    """(N, C) probabilities of images whose frozen-prefix activations are given."""
    model.eval()
    logits = [trained_suffix(model, chunk, frozen) for chunk in prefix.split(batch)]
    return model.probabilities(torch.cat(logits))


def holdout_loss(probabilities: np.ndarray, targets: np.ndarray, multilabel: bool) -> float:
    """Mean log loss, the early-stopping criterion: smoother than accuracy on a few dozen images."""
    p = np.clip(probabilities.astype(np.float64), 1e-7, 1 - 1e-7)
    if multilabel:
        return float(-np.mean(targets * np.log(p) + (1 - targets) * np.log(1 - p)))
    return float(-np.mean(np.log(p[np.arange(len(p)), targets.argmax(axis=1)])))


def export_classifier(state: dict[str, torch.Tensor], labels: Sequence[str], cfg: FinetuneConfig) -> bytes:
    """The trained weights in a freshly built classifier, exported exactly as Regular's model."""
    model = ImageClassifier(
        create_backbone(cfg.backbone, pretrained=False, num_classes=0),
        len(labels),
        multilabel=cfg.multilabel,
        input_size=cfg.input_size,
    )
    model.load_state_dict(state, strict=True)
    size = model.input_size
    return export_onnx(
        model,
        torch.zeros(1, size, size, 3, dtype=torch.uint8),
        output_names=["probabilities"],
        metadata=model_metadata(
            model, labels, ClassifierTrainConfig(backbone=cfg.backbone, multilabel=cfg.multilabel)
        ),
    )


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
        rng = np.random.default_rng(cfg.seed)
        held = holdout_split(targets, cfg.holdout, cfg.seed)
        train_idx, held_idx = np.flatnonzero(~held), np.flatnonzero(held)

        # Epoch 0: Regular's logistic regression on cached features, fitted without the held-out images.
        progress(0.01, "Preparing the backbone")
        regular = ClassifierTrainConfig(
            backbone=cfg.backbone, multilabel=cfg.multilabel, c=cfg.c, input_size=cfg.input_size
        )
        features = embed(images, cfg=regular, cache=cache, progress=lambda f, m: progress(0.01 + 0.14 * f, m))
        weight, bias = fit_linear_head(features[train_idx], targets[train_idx], multilabel=cfg.multilabel, c=cfg.c)
        model = build_model(cfg, classes)
        with torch.no_grad():
            model.head.weight.copy_(torch.from_numpy(weight))
            model.head.bias.copy_(torch.from_numpy(bias))
        best_probs = head_probabilities(features[held_idx], weight, bias, multilabel=cfg.multilabel)
        best_loss = holdout_loss(best_probs, targets[held_idx], cfg.multilabel)
        best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        best_epoch, epoch, stopped = 0, 0, "epochs"
        model.to(device)

        progress(0.15, "Loading images")
        size = model.input_size
        pixels = load_pixels(images, size, lambda f: progress(0.15 + 0.05 * f, "Loading images"))
        frozen = frozen_count(model, cfg)
        set_trainable(model, frozen)
        # The held-out images never change, so they go through the frozen blocks once.
        held_prefix = torch.cat(
            [frozen_prefix(model, torch.from_numpy(chunk).to(device), frozen) for chunk in np.array_split(pixels[held_idx], max(1, len(held_idx) // 32))]
        ) if len(held_idx) else torch.empty(0)
        target_tensor = torch.from_numpy(targets.astype(np.float32)).to(device)

        optimiser = optimiser_for(model, cfg)
        base_lrs = [group["lr"] for group in optimiser.param_groups]
        steps_per_epoch = math.ceil(len(train_idx) / cfg.batch_size)
        total_steps = cfg.max_epochs * steps_per_epoch
        warmup = round(cfg.warmup_epochs * steps_per_epoch)
        step, step_s, score_s = 0, 0.0, 0.0
        while epoch < cfg.max_epochs and stopped == "epochs":
            training_mode(model, frozen)
            order = rng.permutation(train_idx)
            for start in range(0, len(order), cfg.batch_size):
                if time.monotonic() + step_s + score_s > deadline:
                    stopped = "budget"
                    break
                tick = time.monotonic()
                batch = order[start : start + cfg.batch_size]
                views = np.stack([random_view(pixels[i], cfg.train_size, rng, cfg.augment) for i in batch])
                for group, base in zip(optimiser.param_groups, base_lrs, strict=True):
                    group["lr"] = base * lr_factor(step, total_steps, warmup)
                x = frozen_prefix(model, torch.from_numpy(views).to(device), frozen)
                logits = trained_suffix(model, x, frozen, cfg.dropout)
                loss = loss_of(logits, target_tensor[batch], multilabel=cfg.multilabel, smoothing=cfg.label_smoothing)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[no-untyped-call]
                optimiser.step()
                step += 1
                step_s = time.monotonic() - tick if step_s == 0 else 0.8 * step_s + 0.2 * (time.monotonic() - tick)
                done = (epoch + (start + len(batch)) / len(order)) / cfg.max_epochs
                progress(0.2 + 0.75 * done, f"Epoch {epoch + 1}: training loss {loss.item():.3f}")
            if stopped == "budget":
                break  # a partial epoch is never scored: the best full epoch stands
            epoch += 1
            if not len(held_idx):
                best_epoch, best_state = epoch, {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
                continue
            tick = time.monotonic()
            probs = score(model, held_prefix, frozen, 32).cpu().numpy()
            score_s = time.monotonic() - tick
            loss_value = holdout_loss(probs, targets[held_idx], cfg.multilabel)
            if loss_value < best_loss:
                best_loss, best_probs, best_epoch = loss_value, probs, epoch
                best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            elif epoch - best_epoch >= cfg.patience:
                stopped = "patience"
            progress(0.2 + 0.75 * epoch / cfg.max_epochs, f"Epoch {epoch}: held-out loss {loss_value:.3f}")

        progress(0.96, "Exporting the model")
        onnx_bytes = export_classifier(best_state, labels, cfg)

    probabilities = np.full(targets.shape, np.nan, dtype=np.float32)
    probabilities[held_idx] = best_probs
    folds = np.where(held, 0, -1)
    evaluation: dict[str, object] = {
        "method": "holdout",
        "folds": 1,
        "images": n,
        "held_out": len(held_idx),
        "epochs": epoch,
        "best_epoch": best_epoch,
        "held_out_loss": round(best_loss, 4) if len(held_idx) else None,
        "stopped": stopped,
        "device": device.type,
        "seconds": round(time.monotonic() - started, 1),
    }
    return TrainedClassifier(onnx_bytes, probabilities, folds, evaluation)
