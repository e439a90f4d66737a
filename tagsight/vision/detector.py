"""An anchor-free one-stage detector (FCOS-style) on a pretrained EfficientNet-Lite backbone.

Why FCOS rather than CenterNet or anchors: it predicts at every location of a three-level feature
pyramid (strides 8, 16, 32), so small and large objects are both served without anchor shapes to
tune, and its per-location targets make a light head trainable in minutes on a CPU.

The whole deployable model is one graph: uint8 NHWC RGB in (squashed to ``input_size``),
normalisation, backbone, pyramid, head, box decoding and non-maximum suppression, and out come at
most ``max_detections`` boxes per image (normalised left, top, width, height), their scores and
classes, sorted by score. Suppressed slots have score 0.

NMS is "Fast NMS" (Bolya et al., YOLACT 2019): one IoU matrix over the top candidates, and a box
is dropped when any higher-scoring box of its class overlaps it too much. It is fully vectorised,
so it exports to ONNX with plain tensor ops (no torchvision, no loops); it can drop slightly more
than greedy NMS when chains of overlapping boxes occur.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from tagsight.vision.backbones import Backbone

STRIDES = (8, 16, 32)


@dataclass(frozen=True)
class DetectorConfig:
    num_classes: int
    backbone: str = "efficientnet_lite0"
    input_size: int = 320  # multiple of 32; squash-resized, as classification
    fpn_channels: int = 64
    # A box goes to the level whose range holds its largest distance from the location to an edge
    # (FCOS's size ranges, as fractions of the input side so they scale with input_size).
    level_ranges: tuple[tuple[float, float], ...] = ((0.0, 0.15), (0.15, 0.3), (0.3, 10.0))
    pre_nms: int = 300  # candidates kept before NMS
    max_detections: int = 200  # Azure returns at most 200 predictions per image
    nms_iou: float = 0.5
    # Test-time augmentation: also run the mirrored image and average the two predictions at every
    # location before decoding (one NMS, no box voting). Twice the backbone work; Advanced uses it.
    mirror_test: bool = False


def _separable(channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False),
        nn.Conv2d(channels, channels, 1, bias=False),
        nn.BatchNorm2d(channels),
        nn.ReLU(inplace=True),
    )


class FeaturePyramid(nn.Module):
    """Top-down pyramid over the backbone's stride 8/16/32 maps, all brought to ``channels``."""

    def __init__(self, in_channels: tuple[int, int, int], channels: int) -> None:
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(c, channels, 1) for c in in_channels)
        self.smooth = nn.ModuleList(_separable(channels) for _ in in_channels)

    def forward(self, maps: list[torch.Tensor]) -> list[torch.Tensor]:
        laterals = [conv(m) for conv, m in zip(self.lateral, maps, strict=True)]
        for i in range(len(laterals) - 2, -1, -1):
            laterals[i] = laterals[i] + F.interpolate(
                laterals[i + 1], size=laterals[i].shape[-2:], mode="nearest"
            )
        return [smooth(x) for smooth, x in zip(self.smooth, laterals, strict=True)]


class DetectionHead(nn.Module):
    """Shared across levels: class logits, box distances (l, t, r, b) in pixels, centerness logit."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.tower = nn.Sequential(_separable(channels), _separable(channels))
        self.cls = nn.Conv2d(channels, num_classes, 3, padding=1)
        self.box = nn.Conv2d(channels, 4, 3, padding=1)
        self.ctr = nn.Conv2d(channels, 1, 3, padding=1)
        self.scales = nn.Parameter(torch.ones(len(STRIDES)))
        # Focal-loss prior: start every location at 1% foreground, so the first steps are stable.
        nn.init.constant_(self.cls.bias, -math.log(99.0))
        nn.init.normal_(self.cls.weight, std=0.01)
        nn.init.normal_(self.box.weight, std=0.01)
        nn.init.normal_(self.ctr.weight, std=0.01)

    def forward(self, levels: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Each (N, L, ·), L the locations of all levels in order: (N,L,K), (N,L,4), (N,L)."""
        cls, box, ctr = [], [], []
        for i, (x, stride) in enumerate(zip(levels, STRIDES, strict=True)):
            t = self.tower(x)
            n = t.shape[0]
            cls.append(self.cls(t).flatten(2).transpose(1, 2))
            # exp keeps distances positive; the per-level scale and the stride set their range.
            distances = torch.exp((self.scales[i] * self.box(t)).clamp(max=8.0)) * stride
            box.append(distances.flatten(2).transpose(1, 2))
            ctr.append(self.ctr(t).reshape(n, -1))
        return torch.cat(cls, 1), torch.cat(box, 1), torch.cat(ctr, 1)


def level_points(input_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Centres (L, 2) in input pixels (x, y) of every location, and each location's stride (L,)."""
    points, strides = [], []
    for stride in STRIDES:
        side = math.ceil(input_size / stride)
        centres = (torch.arange(side, dtype=torch.float32) + 0.5) * stride
        ys, xs = torch.meshgrid(centres, centres, indexing="ij")
        points.append(torch.stack([xs.flatten(), ys.flatten()], dim=1))
        strides.append(torch.full((side * side,), float(stride)))
    return torch.cat(points), torch.cat(strides)


class MirrorAverage(nn.Module):
    """Averages head outputs with those of the mirrored image, brought back to unmirrored locations.

    Index permutations (ONNX Gather) rather than flips: negative-step slices do not survive every
    exporter's converter, and one Gather serves all three levels at once.
    """

    def __init__(self, input_size: int) -> None:
        super().__init__()
        mirrored = []
        offset = 0
        for stride in STRIDES:
            side = math.ceil(input_size / stride)
            grid = torch.arange(side * side).view(side, side)
            mirrored.append(offset + grid.flip(1).flatten())
            offset += side * side
        self.register_buffer("columns", torch.arange(input_size - 1, -1, -1), persistent=False)
        self.register_buffer("locations", torch.cat(mirrored), persistent=False)
        # Mirroring swaps a box's left and right distances.
        self.register_buffer("sides", torch.tensor([2, 1, 0, 3]), persistent=False)

    def pair(self, pixels: torch.Tensor) -> torch.Tensor:
        """NHWC pixels followed by their mirror images (2N, H, W, C)."""
        return torch.cat([pixels, torch.index_select(pixels, 2, self.columns)])

    def forward(
        self, cls: torch.Tensor, box: torch.Tensor, ctr: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n = cls.shape[0] // 2

        def back(t: torch.Tensor) -> torch.Tensor:
            return torch.index_select(t[n:], 1, self.locations)

        mirrored_box = torch.index_select(back(box), 2, self.sides)
        return (cls[:n] + back(cls)) / 2, (box[:n] + mirrored_box) / 2, (ctr[:n] + back(ctr)) / 2


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU of xyxy boxes: (..., P, 4) x (..., Q, 4) → (..., P, Q)."""
    lt = torch.maximum(a[..., :, None, :2], b[..., None, :, :2])
    rb = torch.minimum(a[..., :, None, 2:], b[..., None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area_a = (a[..., 2:] - a[..., :2]).clamp(min=0).prod(-1)
    area_b = (b[..., 2:] - b[..., :2]).clamp(min=0).prod(-1)
    return inter / (area_a[..., :, None] + area_b[..., None, :] - inter + 1e-9)


class Detector(nn.Module):
    def __init__(self, backbone: Backbone, cfg: DetectorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = backbone
        self.pyramid = FeaturePyramid(backbone.feature_channels, cfg.fpn_channels)
        self.head = DetectionHead(cfg.fpn_channels, cfg.num_classes)
        bcfg = backbone.cfg
        self.register_buffer("mean", torch.tensor(bcfg.mean).view(1, 3, 1, 1) * 255.0, persistent=False)
        self.register_buffer("std", torch.tensor(bcfg.std).view(1, 3, 1, 1) * 255.0, persistent=False)
        points, strides = level_points(cfg.input_size)
        self.register_buffer("points", points, persistent=False)
        self.register_buffer("strides", strides, persistent=False)
        self.mirror = MirrorAverage(cfg.input_size) if cfg.mirror_test else None

    def backbone_maps(self, pixels: torch.Tensor) -> list[torch.Tensor]:
        x = (pixels.permute(0, 3, 1, 2).float() - self.mean) / self.std
        return self.backbone.forward_feature_maps(x)

    def raw(self, maps: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Head outputs from backbone maps (what training's losses consume)."""
        return self.head(self.pyramid(maps))

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.mirror is None:
            return self.detect(*self.raw(self.backbone_maps(pixels)))
        return self.detect(*self.mirror(*self.raw(self.backbone_maps(self.mirror.pair(pixels)))))

    def detect(
        self, cls: torch.Tensor, box: torch.Tensor, ctr: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Decode and suppress → boxes (N, M, 4) normalised ltwh, scores (N, M), classes (N, M)."""
        cfg = self.cfg
        n, locations, k = cls.shape
        scores = torch.sqrt(torch.sigmoid(cls) * torch.sigmoid(ctr).unsqueeze(-1)).reshape(n, locations * k)
        top_scores, top = scores.topk(min(cfg.pre_nms, locations * k), dim=1)
        where, classes = top // k, top % k
        points = self.points[where]  # (N, P, 2)
        dist = torch.gather(box, 1, where.unsqueeze(-1).expand(-1, -1, 4))
        xyxy = torch.cat([points - dist[..., :2], points + dist[..., 2:]], dim=-1).clamp(0, cfg.input_size)
        keep = fast_nms(xyxy, classes, cfg.nms_iou)
        final_scores, order = (top_scores * keep).topk(min(cfg.max_detections, top_scores.shape[1]), dim=1)
        xyxy = torch.gather(xyxy, 1, order.unsqueeze(-1).expand(-1, -1, 4)) / cfg.input_size
        ltwh = torch.cat([xyxy[..., :2], xyxy[..., 2:] - xyxy[..., :2]], dim=-1)
        return ltwh, final_scores, torch.gather(classes, 1, order)


def fast_nms(xyxy: torch.Tensor, classes: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """1.0 for boxes to keep, 0.0 for suppressed; inputs sorted by descending score."""
    iou = box_iou(xyxy, xyxy)
    same_class = classes.unsqueeze(2) == classes.unsqueeze(1)
    # Only a higher-scoring box (earlier row) can suppress a later one.
    earlier = torch.triu(torch.ones_like(iou, dtype=torch.bool), diagonal=1)
    overlap = torch.where(same_class & earlier, iou, torch.zeros_like(iou)).amax(dim=1)
    return (overlap <= iou_threshold).float()
