"""Detection training: frozen backbone, augmented views embedded once, FCOS pyramid and head.

Read top to bottom: each image yields a few views (the original plus random zooms, mirrors and
colour changes, boxes moved with the pixels); the frozen backbone turns every view into its three
feature maps once, with onnxruntime; the pyramid and head then train for many epochs on those maps,
which is cheap. Performance is measured by a model trained without a held-out fifth of the images;
the model that ships is that model after a few more epochs that include them. Backbone, pyramid,
head, decoding and NMS are exported as one ONNX graph.

Regular and Advanced differ in configuration only (``advanced_config``): Advanced embeds twice the
views, so it trains about twice as long, three of them 2x2 mosaics of the image with three others,
and its model averages each prediction with the mirror image's. Mosaics target the errors that
decide raccoon mAP@0.5: photos of two animals side by side got one box around both, since most
training photos hold one. Fine-tuning the backbone was tried for Advanced and dropped: on a CPU
budget, with 160 raccoons, it moved validation mAP@0.5 by -0.02 to +0.05 from seed to seed.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image
from torch import nn

from tagsight.vision.backbones import create_backbone
from tagsight.vision.box_augment import augment, mosaic
from tagsight.vision.classifier import single_thread
from tagsight.vision.detection_loss import detection_loss
from tagsight.vision.detector import Detector, DetectorConfig
from tagsight.vision.export import export_onnx
from tagsight.vision.finetune import pick_device
from tagsight.vision.imageio import decode_rgb
from tagsight.vision.pixels import model_pixels
from tagsight.vision.runtime import OnnxModel
from tagsight.vision.train_classifier import FeatureCache

Progress = Callable[[float, str], None]
MAPS_VERSION = "v1"


@dataclass(frozen=True)
class DetectionSample:
    content_hash: str
    load: Callable[[], bytes]
    boxes: np.ndarray  # (G, 4) normalised x1, y1, x2, y2
    labels: np.ndarray  # (G,) class indices


@dataclass(frozen=True)
class DetectorTrainConfig:
    backbone: str = "efficientnet_lite0"
    input_size: int = 320
    views: int = 4  # per image: the original and views-1 augmented ones, embedded once
    mosaics: int = 0  # of those augmented views, how many are 2x2 mosaics with three other images
    epochs: int = 30
    batch_size: int = 16
    lr: float = 3e-3
    weight_decay: float = 1e-4
    holdout: float = 0.2  # share of images held out to measure performance
    budget_s: float = 900.0  # wall-clock bound for the whole training
    mirror_test: bool = False  # average predictions with the mirror image's (DetectorConfig)
    device: str | None = None  # where the pyramid and head train; None: CUDA when available
    seed: int = 0


def advanced_config(regular: DetectorTrainConfig, budget_s: float) -> DetectorTrainConfig:
    """Advanced training: twice Regular's views, three of them mosaics, and mirror averaging."""
    return dataclasses.replace(
        regular, views=regular.views * 2, mosaics=3, mirror_test=True, budget_s=budget_s
    )


@dataclass
class TrainedDetector:
    onnx: bytes
    # Per image: held-out detections [(class, score, (l, t, w, h))], None for images trained on.
    predictions: list[list[tuple[int, float, tuple[float, float, float, float]]] | None]
    evaluation: dict[str, object] = field(default_factory=dict)


class _Maps(nn.Module):
    def __init__(self, detector: Detector) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, pixels: torch.Tensor) -> list[torch.Tensor]:
        return self.detector.backbone_maps(pixels)


def build_detector(cfg: DetectorTrainConfig, num_classes: int) -> Detector:
    backbone = create_backbone(cfg.backbone, pretrained=True, num_classes=0)
    return Detector(
        backbone,
        DetectorConfig(
            num_classes=num_classes,
            backbone=cfg.backbone,
            input_size=cfg.input_size,
            mirror_test=cfg.mirror_test,
        ),
    )


def maps_model(cfg: DetectorTrainConfig, cache: FeatureCache) -> OnnxModel:
    key = f"feature-models/{cfg.backbone}-maps{cfg.input_size}-{MAPS_VERSION}.onnx"
    model_bytes = cache.get_bytes(key)
    if model_bytes is None:
        size = cfg.input_size
        model_bytes = export_onnx(
            _Maps(build_detector(cfg, 1)),
            torch.zeros(1, size, size, 3, dtype=torch.uint8),
            output_names=["s8", "s16", "s32"],
            metadata={"kind": "feature-maps", "backbone": cfg.backbone, "input_size": str(size)},
        )
        cache.put_bytes(key, model_bytes)
    return OnnxModel(model_bytes)


@dataclass
class Views:
    """Feature maps (float16) of every view, with the view's image index, boxes and labels."""

    maps: list[list[torch.Tensor]]  # per level, per view: (C, H, W)
    image: list[int]
    boxes: list[np.ndarray]
    labels: list[np.ndarray]


def embed_views(
    samples: Sequence[DetectionSample],
    cfg: DetectorTrainConfig,
    model: OnnxModel,
    progress: Progress,
    *,
    partners: Sequence[int],
) -> Views:
    """Embed every sample's views; mosaics draw their other three images from ``partners`` only."""
    rng = np.random.default_rng(cfg.seed)
    views = Views([[], [], []], [], [], [])
    size = cfg.input_size

    @functools.lru_cache(maxsize=256)
    def tile(i: int) -> Image.Image:  # a mosaic cell is half the input side
        return decode_rgb(samples[i].load(), at_least=size // 2)

    def tiled(i: int) -> tuple[Image.Image, np.ndarray, np.ndarray]:
        return tile(i), samples[i].boxes, samples[i].labels

    pool = np.asarray(partners)
    for n, sample in enumerate(samples):
        image = decode_rgb(sample.load(), at_least=size * 2)
        variants = [(image, sample.boxes, sample.labels)]
        for _ in range(cfg.views - 1 - cfg.mosaics):
            variants.append((*augment(image, sample.boxes, rng), sample.labels))
        for _ in range(cfg.mosaics):
            tiles = [tiled(n), *(tiled(int(i)) for i in rng.choice(pool, 3))]
            variants.append(mosaic([tiles[k] for k in rng.permutation(4)], rng, size))
        pixels = np.stack([model_pixels(im, size) for im, _, _ in variants])
        outputs = model.run_pixels(pixels)
        for level, name in enumerate(("s8", "s16", "s32")):
            views.maps[level].extend(torch.from_numpy(outputs[name]).half().unbind(0))
        for _, boxes, labels in variants:
            views.image.append(n)
            views.boxes.append(boxes.astype(np.float32))
            views.labels.append(labels)
        progress(0.05 + 0.35 * (n + 1) / len(samples), f"Embedded {n + 1} of {len(samples)} images")
    return views


def train_head(
    detector: Detector,
    views: Views,
    use: list[int],
    cfg: DetectorTrainConfig,
    *,
    deadline: float,
    progress: Callable[[float], None],
) -> None:
    """Fit pyramid and head on the cached maps of the views listed in ``use``."""
    # Small convolutions: one thread is barely slower than two on an idle machine, and many
    # times faster when another process (or the server answering requests) holds a core.
    with single_thread():
        try:
            _train_head(detector, views, use, cfg, deadline=deadline, progress=progress)
        finally:
            detector.to("cpu")  # where it is evaluated and exported


def _train_head(
    detector: Detector,
    views: Views,
    use: list[int],
    cfg: DetectorTrainConfig,
    *,
    deadline: float,
    progress: Callable[[float], None],
) -> None:
    torch.manual_seed(cfg.seed)
    device = pick_device(cfg)
    detector.to(device)
    params = [*detector.pyramid.parameters(), *detector.head.parameters()]
    optimiser = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = max(1, math.ceil(len(use) / cfg.batch_size))
    total = cfg.epochs * steps_per_epoch
    # Warm-up then cosine decay; defined by hand because OneCycleLR divides by zero on tiny runs.
    warmup = max(1, total // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: _lr_factor(step, total, warmup))
    ranges = level_ranges(detector).to(device)
    size = cfg.input_size
    detector.pyramid.train()
    detector.head.train()
    step = 0
    for _ in range(cfg.epochs):
        order = np.random.default_rng(cfg.seed + step).permutation(use)
        for start in range(0, len(order), cfg.batch_size):
            batch = order[start : start + cfg.batch_size]
            maps = [
                torch.stack([views.maps[level][i] for i in batch]).to(device).float() for level in range(3)
            ]
            targets = [
                (
                    torch.from_numpy(views.boxes[i] * size).to(device),
                    torch.from_numpy(views.labels[i]).long().to(device),
                )
                for i in batch
            ]
            cls, box, ctr = detector.raw(maps)
            loss = detection_loss(cls, box, ctr, detector.points, detector.strides, ranges, targets)
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            nn.utils.clip_grad_norm_(params, 10.0)
            optimiser.step()
            schedule.step()
            step += 1
            progress(step / total)
            if time.monotonic() > deadline:
                return


def _lr_factor(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))


def level_ranges(detector: Detector) -> torch.Tensor:
    """Each location's accepted object size range, in input pixels (L, 2)."""
    size = detector.cfg.input_size
    per_level = torch.tensor(detector.cfg.level_ranges) * size
    level_of = {8: 0, 16: 1, 32: 2}
    return torch.stack([per_level[level_of[int(s)]] for s in detector.strides])


@torch.no_grad()
def detect_cached(
    detector: Detector, views: Views, index: list[int]
) -> list[list[tuple[int, float, tuple[float, ...]]]]:
    detector.eval()
    results = []
    for i in index:
        maps = [views.maps[level][i].float().unsqueeze(0) for level in range(3)]
        boxes, scores, classes = detector.detect(*detector.raw(maps))
        results.append(_found(boxes[0], scores[0], classes[0]))
    return results


@torch.no_grad()
def detect_samples(
    detector: Detector, samples: Sequence[DetectionSample]
) -> list[list[tuple[int, float, tuple[float, ...]]]]:
    """The whole model (backbone included) on each sample's image, as it will run once exported."""
    detector.eval()
    size = detector.cfg.input_size
    results = []
    for sample in samples:
        pixels = model_pixels(decode_rgb(sample.load(), at_least=size), size)
        boxes, scores, classes = detector(torch.from_numpy(np.stack([pixels])))
        results.append(_found(boxes[0], scores[0], classes[0]))
    return results


def _found(
    boxes: torch.Tensor, scores: torch.Tensor, classes: torch.Tensor
) -> list[tuple[int, float, tuple[float, ...]]]:
    """One image's detections worth keeping: (class, score, (l, t, w, h))."""
    return [
        (int(c), float(s), tuple(float(v) for v in b))
        for b, s, c in zip(boxes, scores, classes, strict=True)
        if s > 0.01
    ]


def holdout_split(n: int, cfg: DetectorTrainConfig) -> np.ndarray:
    held = max(1, round(n * cfg.holdout)) if n >= 5 else 0
    return np.random.default_rng(cfg.seed).permutation(n)[:held]


def train_detector(
    samples: Sequence[DetectionSample],
    labels: Sequence[str],
    cfg: DetectorTrainConfig,
    *,
    cache: FeatureCache,
    progress: Progress,
) -> TrainedDetector:
    started = time.monotonic()
    deadline = started + cfg.budget_s
    progress(0.02, "Preparing the backbone")
    held = set(holdout_split(len(samples), cfg).tolist())
    # A held-out image must not reach training inside another image's mosaic.
    partners = [i for i in range(len(samples)) if i not in held]
    views = embed_views(samples, cfg, maps_model(cfg, cache), progress, partners=partners)

    predictions: list[list[tuple[int, float, tuple[float, float, float, float]]] | None] = [None] * len(
        samples
    )
    detector = build_detector(cfg, len(labels))
    everything = list(range(len(views.image)))
    if held:
        train_views = [v for v, image in enumerate(views.image) if image not in held]
        train_head(
            detector,
            views,
            train_views,
            cfg,
            deadline=started + cfg.budget_s * 0.8,
            progress=lambda f: progress(0.4 + 0.4 * f, "Training the detector"),
        )
        originals = [v for v, image in enumerate(views.image) if image in held and _is_original(views, v)]
        if detector.mirror is None:
            found_held = detect_cached(detector, views, originals)
        else:  # the mirror images were never embedded: run the whole model on the held-out images
            found_held = detect_samples(detector, [samples[views.image[v]] for v in originals])
        for v, found in zip(originals, found_held, strict=True):
            predictions[views.image[v]] = found  # type: ignore[assignment]
        # Measured; now let the same model see the held-out images too, briefly and gently.
        settle = dataclasses.replace(cfg, epochs=max(2, cfg.epochs // 4), lr=cfg.lr / 3)
        train_head(
            detector,
            views,
            everything,
            settle,
            deadline=deadline,
            progress=lambda f: progress(0.8 + 0.15 * f, "Adding the held-out images"),
        )
    else:
        train_head(
            detector,
            views,
            everything,
            cfg,
            deadline=deadline,
            progress=lambda f: progress(0.4 + 0.55 * f, "Training the detector"),
        )
    progress(0.96, "Exporting the model")
    onnx_bytes = export_detector(detector, cfg, labels)
    evaluation = {"method": "holdout", "folds": 1, "images": len(samples), "held_out": len(held)}
    return TrainedDetector(onnx_bytes, predictions, evaluation)


def export_detector(detector: Detector, cfg: DetectorTrainConfig, labels: Sequence[str]) -> bytes:
    size = cfg.input_size
    return export_onnx(
        detector.eval(),
        torch.zeros(1, size, size, 3, dtype=torch.uint8),
        output_names=["boxes", "scores", "classes"],
        metadata={
            "kind": "detection",
            "backbone": cfg.backbone,
            "input_size": str(size),
            "input_layout": "NHWC",
            "input_dtype": "uint8",
            "color_order": "RGB",
            "input_range": "0-255",
            "resize": "squash to input_size x input_size, bilinear",
            "test_time_augmentation": "mirror, averaged" if detector.cfg.mirror_test else "none",
            "outputs": "boxes: normalised left, top, width, height; scores; classes (index into labels)",
            "labels": json.dumps(list(labels)),
        },
    )


def _is_original(views: Views, v: int) -> bool:
    # Views are stored image by image, the original first.
    return v == 0 or views.image[v - 1] != views.image[v]
