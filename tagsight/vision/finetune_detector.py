"""Advanced detection training: fine-tune the backbone's last blocks with the pyramid and head.

Read top to bottom: hold out a fifth of the images; warm-start pyramid and head as Regular training
does (frozen backbone, cached augmented views), which is epoch 0 and the model kept if fine-tuning
never beats it; then train the last backbone blocks, the pyramid and the head on freshly augmented
views every epoch, scoring held-out mAP@0.5:0.95 after each. Training stops at the epoch cap, after
``patience`` epochs without a better held-out mAP, or when the budget is nearly spent. The best
epoch's held-out detections are the performance figures; that model then trains a couple of gentle
epochs on every image, held-out ones included, and ships.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image
from torch import nn

from tagsight.vision.backbones import EfficientNetLite
from tagsight.vision.box_augment import augment
from tagsight.vision.detection_loss import detection_loss
from tagsight.vision.detector import Detector
from tagsight.vision.finetune import lr_factor, pick_device, torch_threads
from tagsight.vision.imageio import decode_rgb
from tagsight.vision.metrics import coco_maps
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
    # AdamW peaks. Small: the warm start is already good. On raccoons (160 images, 32 held out)
    # 2e-4 / 1e-3 never beat the warm start's held-out mAP@0.5:0.95 (0.528) in 4 epochs; 2e-5 / 2e-4
    # with frozen head norms did (0.506, 0.521, 0.529 after epochs 1-3, still rising).
    lr: float = 2e-5  # the backbone blocks
    head_lr: float = 2e-4  # pyramid and head
    weight_decay: float = 1e-4
    threads: int = 2  # torch CPU threads during the call (restored after)
    device: str | None = None  # None: CUDA when available, else the CPU
    export_reserve_s: float = 5.0
    # After the best epoch is chosen, epochs on all images (held-out ones included) at this share
    # of the peak learning rates: the shipped model sees every labelled image, as Regular's does.
    settle_epochs: int = 2
    # The pyramid's and head's BatchNorms keep the statistics of the warm start, which saw 4 views
    # of every image in batches of 16; batches of 8 fresh views only add noise to them.
    freeze_head_norms: bool = True
    settle_lr_factor: float = 0.1
    # Average every prediction with the mirrored image's (see DetectorConfig.mirror_test): on
    # raccoons it added 0.02-0.04 val mAP@0.5 for twice the backbone's inference time.
    mirror_test: bool = True
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


def training_mode(detector: Detector, frozen: int, *, freeze_head_norms: bool = False) -> None:
    """Stochastic depth on in the trained blocks; backbone BatchNorms keep their ImageNet
    statistics, and with ``freeze_head_norms`` the pyramid's and head's keep the warm start's."""
    detector.eval()
    for block in _backbone(detector)._blocks[frozen:]:
        block.train()
    for module in detector.backbone.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.eval()
    if not freeze_head_norms:
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


def held_out_maps(
    samples: Sequence[DetectionSample], detections: list, num_classes: int
) -> tuple[float, float]:
    """(mAP@0.5, mAP@0.5:0.95) of the held-out images."""
    truth = [
        [(int(c), (b[0], b[1], b[2] - b[0], b[3] - b[1])) for b, c in zip(s.boxes, s.labels, strict=True)]
        for s in samples
    ]
    return coco_maps(truth, detections, num_classes)


@dataclass
class _Epochs:
    """What the fine-tuning loop needs from one epoch to the next."""

    detector: Detector
    optimiser: torch.optim.Optimizer
    base_lrs: list[float]
    frozen: int
    ranges: torch.Tensor
    device: torch.device
    rng: np.random.Generator
    step: int = 0


def train_epoch(
    state: _Epochs,
    images: Sequence[Image.Image],
    samples: Sequence[DetectionSample],
    cfg: DetectorFinetuneConfig,
    *,
    lr_at: Callable[[int], float],
    deadline: float,
    progress: Callable[[float], None],
) -> None:
    """One pass over freshly augmented views of ``images`` (whose boxes are in ``samples``)."""
    detector, size = state.detector, cfg.regular.input_size
    training_mode(detector, state.frozen, freeze_head_norms=cfg.freeze_head_norms)
    order = state.rng.permutation(len(images))
    for start in range(0, len(order), cfg.batch_size):
        batch = order[start : start + cfg.batch_size]
        views = [augment(images[j], samples[j].boxes, state.rng) for j in batch]
        pixels = torch.from_numpy(np.stack([model_pixels(im, size) for im, _ in views])).to(state.device)
        targets = [
            (
                torch.from_numpy(b * size).to(state.device),
                torch.from_numpy(samples[j].labels).long().to(state.device),
            )
            for (_, b), j in zip(views, batch, strict=True)
        ]
        cls, box, ctr = detector.raw(split_maps(detector, pixels, state.frozen))
        loss = detection_loss(cls, box, ctr, detector.points, detector.strides, state.ranges, targets)
        for group, lr in zip(state.optimiser.param_groups, state.base_lrs, strict=True):
            group["lr"] = lr * lr_at(state.step)
        state.optimiser.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        state.optimiser.step()
        state.step += 1
        progress(min(1.0, (start + len(batch)) / len(order)))
        if time.monotonic() > deadline:
            return


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
    detector = build_detector(regular, len(labels)).with_mirror_test(cfg.mirror_test)
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
        held_images = [decode_rgb(s.load(), at_least=size * 2) for s in held_samples]
        held_pixels = (
            np.stack([model_pixels(im, size) for im in held_images])
            if held_samples
            else np.zeros((0, size, size, 3), dtype=np.uint8)
        )
        best_found = detect_images(detector, held_pixels, device)
        # Epochs are compared on mAP@0.5:0.95: on a few dozen held-out images mAP@0.5 soon reaches
        # 1.0 and stops telling epochs apart, while box quality keeps improving.
        best_maps = held_out_maps(held_samples, best_found, len(labels)) if held_samples else (-1.0, -1.0)
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
        state = _Epochs(
            detector,
            optimiser,
            [g["lr"] for g in optimiser.param_groups],
            frozen,
            level_ranges(detector).to(device),
            device,
            np.random.default_rng(cfg.seed),
        )
        steps_per_epoch = max(1, -(-len(train) // cfg.batch_size))
        total = cfg.max_epochs * steps_per_epoch
        train_samples = [samples[i] for i in train]
        stale, best_epoch, epoch = 0, 0, 0
        while epoch < cfg.max_epochs and stale < cfg.patience and time.monotonic() < deadline:
            train_epoch(
                state,
                images,
                train_samples,
                cfg,
                lr_at=lambda step: lr_factor(step, total, steps_per_epoch),
                deadline=deadline,
                progress=lambda f, e=epoch: progress(
                    0.25 + 0.65 * (e + f) / cfg.max_epochs, f"Epoch {e + 1} of at most {cfg.max_epochs}"
                ),
            )
            epoch += 1
            found = detect_images(detector, held_pixels, device)
            # Without held-out images the latest epoch is the best there is.
            maps = held_out_maps(held_samples, found, len(labels)) if held_samples else (epoch, epoch)
            progress(0.25 + 0.65 * epoch / cfg.max_epochs, f"Epoch {epoch}: held-out mAP {maps[1]:.3f}")
            if maps[1] > best_maps[1]:
                best_maps, best_found, best_epoch, stale = maps, found, epoch, 0
                best_state = {k: v.detach().cpu().clone() for k, v in detector.state_dict().items()}
            else:
                stale += 1
        detector.load_state_dict(best_state)
        if held_samples and cfg.settle_epochs and time.monotonic() < deadline:
            # Measured on the held-out images; now let the best model learn from them too, gently.
            for e in range(cfg.settle_epochs):
                train_epoch(
                    state,
                    images + held_images,
                    train_samples + held_samples,
                    cfg,
                    lr_at=lambda _step: cfg.settle_lr_factor,
                    deadline=deadline,
                    progress=lambda f, e=e: progress(
                        0.9 + 0.05 * (e + f) / cfg.settle_epochs, "Adding the held-out images"
                    ),
                )
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
        "held_out_map_50": round(best_maps[0], 4),
        "held_out_map_50_95": round(best_maps[1], 4),
        "settle_epochs": cfg.settle_epochs if held_samples else 0,
        "device": str(device),
    }
    return TrainedDetector(export_detector(detector, regular, labels), predictions, evaluation)
