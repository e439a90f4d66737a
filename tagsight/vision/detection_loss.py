"""FCOS training targets and losses (Tian et al., 2019), for one batch of images."""

from __future__ import annotations

import torch
from torch.nn import functional as F

# Only locations within this many strides of a box centre are positives ("centre sampling"),
# which keeps the corners of large boxes, often background, out of the positives.
CENTRE_RADIUS = 1.5


def assign(
    points: torch.Tensor,
    strides: torch.Tensor,
    ranges: torch.Tensor,
    boxes: torch.Tensor,
    labels: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Targets for one image. ``boxes`` (G, 4) xyxy in input pixels, ``labels`` (G,).

    Returns the class of every location (L,), -1 for background, and its box (L, 4) xyxy.
    ``ranges`` (L, 2) is each location's accepted size range in pixels.
    """
    num_points = points.shape[0]
    if boxes.numel() == 0:
        background = torch.full((num_points,), -1, dtype=torch.long, device=points.device)
        return background, points.new_zeros(num_points, 4)
    x, y = points[:, 0:1], points[:, 1:2]
    ltrb = torch.stack(
        [x - boxes[:, 0], y - boxes[:, 1], boxes[:, 2] - x, boxes[:, 3] - y], dim=2
    )  # (L, G, 4)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    radius = strides[:, None] * CENTRE_RADIUS
    near_centre = ((x - centres[:, 0]).abs() < radius) & ((y - centres[:, 1]).abs() < radius)
    inside = ltrb.min(dim=2).values > 0
    reach = ltrb.max(dim=2).values
    in_range = (reach >= ranges[:, 0:1]) & (reach <= ranges[:, 1:2])
    area = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).expand(num_points, -1)
    candidates = inside & near_centre & in_range
    # A location inside several boxes takes the smallest, as in FCOS.
    area = torch.where(candidates, area, torch.full_like(area, float("inf")))
    best_area, best = area.min(dim=1)
    classes = torch.where(torch.isfinite(best_area), labels[best], torch.full_like(best, -1))
    return classes, boxes[best]


def centerness(points: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """How central each point is in its box (1 at the centre, →0 at the edge)."""
    left, top = points[:, 0] - boxes[:, 0], points[:, 1] - boxes[:, 1]
    right, bottom = boxes[:, 2] - points[:, 0], boxes[:, 3] - points[:, 1]
    lr = torch.stack([left, right], 1).clamp(min=1e-6)
    tb = torch.stack([top, bottom], 1).clamp(min=1e-6)
    return torch.sqrt((lr.min(1).values / lr.max(1).values) * (tb.min(1).values / tb.max(1).values))


def giou_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 − generalised IoU of matching xyxy boxes (P, 4) → (P,)."""
    lt = torch.maximum(pred[:, :2], target[:, :2])
    rb = torch.minimum(pred[:, 2:], target[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(1)
    area_p = (pred[:, 2:] - pred[:, :2]).prod(1)
    area_t = (target[:, 2:] - target[:, :2]).prod(1)
    union = area_p + area_t - inter
    hull = (torch.maximum(pred[:, 2:], target[:, 2:]) - torch.minimum(pred[:, :2], target[:, :2])).prod(1)
    return 1 - (inter / union - (hull - union) / hull.clamp(min=1e-6))


def detection_loss(
    cls: torch.Tensor,
    box: torch.Tensor,
    ctr: torch.Tensor,
    points: torch.Tensor,
    strides: torch.Tensor,
    ranges: torch.Tensor,
    targets: list[tuple[torch.Tensor, torch.Tensor]],
) -> torch.Tensor:
    """Focal loss on classes, GIoU on boxes and BCE on centerness, averaged over positives."""
    assigned = [assign(points, strides, ranges, boxes, labels) for boxes, labels in targets]
    classes = torch.stack([a[0] for a in assigned])  # (N, L)
    target_boxes = torch.stack([a[1] for a in assigned])  # (N, L, 4)
    positive = classes >= 0
    num_pos = max(float(positive.sum()), 1.0)

    one_hot = torch.zeros_like(cls)
    one_hot[positive] = F.one_hot(classes[positive], cls.shape[-1]).to(cls.dtype)
    cls_loss = sigmoid_focal_loss(cls, one_hot).sum() / num_pos
    if not positive.any():
        return cls_loss

    pts = points.expand(cls.shape[0], -1, -1)[positive]
    dist = box[positive]
    pred_boxes = torch.cat([pts - dist[:, :2], pts + dist[:, 2:]], dim=1)
    tgt = target_boxes[positive]
    ctr_target = centerness(pts, tgt)
    box_loss = (giou_loss(pred_boxes, tgt) * ctr_target).sum() / ctr_target.sum().clamp(min=1e-6)
    ctr_loss = F.binary_cross_entropy_with_logits(ctr[positive], ctr_target, reduction="sum") / num_pos
    return cls_loss + box_loss + ctr_loss


def sigmoid_focal_loss(
    logits: torch.Tensor, targets: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0
) -> torch.Tensor:
    """Sigmoid focal loss (Lin et al., 2017), elementwise."""
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    weight = alpha * targets + (1 - alpha) * (1 - targets)
    return weight * ce * (1 - p_t) ** gamma
