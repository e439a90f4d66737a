"""Advanced detection training: fine-tune the backbone's last blocks with the pyramid and head.

Read top to bottom: hold out a fifth of the images; warm-start pyramid and head as Regular training
does (frozen backbone, cached augmented views), which is epoch 0 and the model kept if fine-tuning
never beats it; then train the last backbone blocks, the pyramid and the head on freshly augmented
views every epoch, scoring held-out mAP@0.5 after each. Training stops at the epoch cap, after
``patience`` epochs without a better held-out mAP, or when the budget is nearly spent. The best
epoch ships; its held-out detections are the performance figures.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from tagsight.vision.backbones import EfficientNetLite
from tagsight.vision.box_augment import augment
from tagsight.vision.detection_loss import detection_loss
from tagsight.vision.detector import Detector
from tagsight.vision.finetune import lr_factor, pick_device, torch_threads
from tagsight.vision.imageio import decode_rgb
from tagsight.vision.metrics import detection_figures
from tagsight.vision.pixels import model_pixels
from tagsight.vision.train_classifier import FeatureCache
from tagsight.vision.train_detector import (
    DetectionSample,
    DetectorTrainConfig,
    TrainedDetector,
    build_detector,
    embed_views,
    export_detector,
    holdout_split,
    level_ranges,
    maps_model,
    train_head,
)

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class DetectorFinetuneConfig:
    regular: DetectorTrainConfig = field(default_factory=DetectorTrainConfig)  # the warm start
    budget_s: float = 3600.0  # hard wall-clock bound for the whole call, export included
    max_epochs: int = 20
    patience: int = 4  # epochs without a better held-out mAP before stopping
    trainable_blocks: int = 6  # last MBConv blocks trained with the pyramid and head
    batch_size: int = 8
    lr: float = 2e-4  # AdamW peak for the backbone blocks
    head_lr: float = 1e-3  # pyramid and head, already warm
    weight_decay: float = 1e-4
    threads: int = 2  # torch CPU threads during the call (restored after)
    device: str | None = None  # None: CUDA when available, else the CPU
    export_reserve_s: float = 5.0
    seed: int = 0


def _backbone(detector: Detector) -> EfficientNetLite:
    backbone = detector.backbone
    if not isinstance(backbone, EfficientNetLite):
        raise ValueError("Advanced detection training supports EfficientNet-Lite backbones")
    return backbone


def split_maps(detector: Detector, pixels: torch.Tensor, frozen: int) -> list[torch.Tensor]:
    """backbone_maps with the first ``frozen`` blocks run without autograd."""
    backbone = _backbone(detector)
    x = (pixels.permute(0, 3, 1, 2).float() - detector.mean) / detector.std
    maps: list[torch.Tensor] = []
    with torch.no_grad():
        x = backbone._stem(x)
        for i, block in enumerate(backbone._blocks[:frozen]):
            x = block(x)
            if i in backbone._feature_blocks:
                maps.append(x)
    for i, block in enumerate(backbone._blocks[frozen:], start=frozen):
        x = block(x)
        if i in backbone._feature_blocks:
            maps.append(x)
    return maps


def set_trainable(detector: Detector, frozen: int) -> None:
    detector.requires_grad_(False)
    for module in [*_backbone(detector)._blocks[frozen:], detector.pyramid, detector.head]:
        module.requires_grad_(True)


def training_mode(detector: Detector, frozen: int) -> None:
    """Backbone BatchNorms keep their ImageNet statistics; pyramid and head train normally."""
    detector.eval()
    for block in _backbone(detector)._blocks[frozen:]:
        block.train()
    for module in detector.backbone.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.eval()
    detector.pyramid.train()
    detector.head.train()


@torch.no_grad()
def detect_images(
    detector: Detector, pixels: np.ndarray, device: torch.device
) -> list[list[tuple[int, float, tuple[float, ...]]]]:
    detector.eval()
    found = []
    for start in range(0, len(pixels), 8):
        boxes, scores, classes = detector(torch.from_numpy(pixels[start : start + 8]).to(device))
        for b, s, c in zip(boxes.cpu(), scores.cpu(), classes.cpu(), strict=True):
            found.append(
                [
                    (int(k), float(v), tuple(float(x) for x in box))
                    for box, v, k in zip(b, s, c, strict=True)
                    if v > 0.01
                ]
            )
    return found


def held_out_map(samples: Sequence[DetectionSample], detections: list, num_classes: int) -> float:
    truth = [
        [(int(c), (b[0], b[1], b[2] - b[0], b[3] - b[1])) for b, c in zip(s.boxes, s.labels, strict=True)]
        for s in samples
    ]
    overall, _ = detection_figures(truth, detections, num_classes, threshold=0.5, iou_threshold=0.5)
    return overall.average_precision


def train_detector_advanced(
    samples: Sequence[DetectionSample],
    labels: Sequence[str],
    cfg: DetectorFinetuneConfig,
    *,
    cache: FeatureCache,
    progress: Progress,
) -> TrainedDetector:
    started = time.monotonic()
    deadline = started + cfg.budget_s - cfg.export_reserve_s
    size = cfg.regular.input_size
    held = sorted(holdout_split(len(samples), cfg.regular).tolist())
    train = [i for i in range(len(samples)) if i not in set(held)]
    held_samples = [samples[i] for i in held]

    progress(0.01, "Warm start: training the head on frozen features")
    regular = dataclasses.replace(cfg.regular, budget_s=cfg.budget_s * 0.3)
    views = embed_views(
        [samples[i] for i in train],
        regular,
        maps_model(regular, cache),
        lambda f, m: progress(0.01 + 0.1 * f, m),
    )
    detector = build_detector(regular, len(labels))
    train_head(
        detector,
        views,
        list(range(len(views.image))),
        regular,
        deadline=started + cfg.budget_s * 0.3,
        progress=lambda f: progress(0.1 + 0.15 * f, "Warm start: training the head on frozen features"),
    )

    with torch_threads(cfg.threads):
        device = pick_device(cfg)  # type: ignore[arg-type]
        detector.to(device)
        images = [decode_rgb(samples[i].load(), at_least=size * 2) for i in train]
        held_pixels = (
            np.stack([model_pixels(decode_rgb(s.load(), at_least=size), size) for s in held_samples])
            if held_samples
            else np.zeros((0, size, size, 3), dtype=np.uint8)
        )
        best_found = detect_images(detector, held_pixels, device)
        best_map = held_out_map(held_samples, best_found, len(labels)) if held_samples else -1.0
        best_state = {k: v.detach().cpu().clone() for k, v in detector.state_dict().items()}
        frozen = max(0, len(_backbone(detector)._blocks) - cfg.trainable_blocks)
        set_trainable(detector, frozen)
        optimiser = torch.optim.AdamW(
            [
                {
                    "params": [p for m in _backbone(detector)._blocks[frozen:] for p in m.parameters()],
                    "lr": cfg.lr,
                },
                {"params": [*detector.pyramid.parameters(), *detector.head.parameters()], "lr": cfg.head_lr},
            ],
            weight_decay=cfg.weight_decay,
        )
        base_lrs = [g["lr"] for g in optimiser.param_groups]
        steps_per_epoch = max(1, -(-len(train) // cfg.batch_size))
        total, step, stale, best_epoch, epoch = cfg.max_epochs * steps_per_epoch, 0, 0, 0, 0
        rng = np.random.default_rng(cfg.seed)
        ranges = level_ranges(detector).to(device)
        while epoch < cfg.max_epochs and stale < cfg.patience and time.monotonic() < deadline:
            training_mode(detector, frozen)
            order = rng.permutation(len(train))
            for start in range(0, len(train), cfg.batch_size):
                batch = order[start : start + cfg.batch_size]
                views_b = [augment(images[j], samples[train[j]].boxes, rng) for j in batch]
                pixels = torch.from_numpy(np.stack([model_pixels(im, size) for im, _ in views_b])).to(device)
                targets = [
                    (
                        torch.from_numpy(b * size).to(device),
                        torch.from_numpy(samples[train[j]].labels).long().to(device),
                    )
                    for (_, b), j in zip(views_b, batch, strict=True)
                ]
                cls, box, ctr = detector.raw(split_maps(detector, pixels, frozen))
                loss = detection_loss(cls, box, ctr, detector.points, detector.strides, ranges, targets)
                for group, lr in zip(optimiser.param_groups, base_lrs, strict=True):
                    group["lr"] = lr * lr_factor(step, total, steps_per_epoch)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[no-untyped-call]
                optimiser.step()
                step += 1
                progress(0.25 + 0.7 * step / total, f"Epoch {epoch + 1}: loss {loss.item():.3f}")
                if time.monotonic() > deadline:
                    break
            epoch += 1
            found = detect_images(detector, held_pixels, device)
            # Without held-out images the latest epoch is the best there is.
            score = held_out_map(held_samples, found, len(labels)) if held_samples else float(epoch)
            if score > best_map:
                best_map, best_found, best_epoch, stale = score, found, epoch, 0
                best_state = {k: v.detach().cpu().clone() for k, v in detector.state_dict().items()}
            else:
                stale += 1
        detector.load_state_dict(best_state)
        detector.to("cpu")
    progress(0.96, "Exporting the model")
    predictions: list[list[tuple[int, float, tuple[float, float, float, float]]] | None] = [None] * len(
        samples
    )
    for i, found in zip(held, best_found, strict=True):
        predictions[i] = found  # type: ignore[assignment]
    evaluation = {
        "method": "holdout",
        "folds": 1,
        "images": len(samples),
        "held_out": len(held),
        "epochs": epoch,
        "best_epoch": best_epoch,
        "held_out_map_50": round(best_map, 4),
        "device": str(device),
    }
    return TrainedDetector(export_detector(detector, regular, labels), predictions, evaluation)
