"""ZegCLIP's losses (reference.md section 1).

- ``plus`` (NEL): sigmoid focal loss (alpha 0.25, gamma 2) x 100 + dice x 1;
- ``plain`` (NEL): binary cross-entropy only;
- ``ce`` (without NEL): softmax cross-entropy over classes, mutually exclusive.

For the sigmoid losses the targets are one-hot per class over every pixel: a pixel
labelled ignore (255: void, padding, unseen classes in inductive training) is a
negative for every class. Per-(image, class) means over pixels are summed over pairs
and divided by ``n``, the number of (image, class) pairs present in the ground truth
(at least 1), as the published code normalises.
"""
from __future__ import annotations

from typing import Dict

import torch
import torch.nn.functional as F
from torch import Tensor

from zegclip.config import LossConfig
from zegclip.data.catalog import IGNORE_INDEX


def one_hot_targets(labels: Tensor, num_classes: int) -> Tensor:
    """labels (B, H, W) in 0..C-1 or 255 -> float targets (B, C, H, W); ignore is all-negative."""
    valid = labels != IGNORE_INDEX
    safe = torch.where(valid, labels, torch.zeros_like(labels))
    onehot = F.one_hot(safe.long(), num_classes).permute(0, 3, 1, 2)  # (B, C, H, W)
    return (onehot * valid.unsqueeze(1)).float()


def present_pairs(targets: Tensor) -> Tensor:
    """(B, C) boolean: which classes appear in each image's ground truth."""
    return targets.flatten(2).amax(dim=-1) > 0


def sigmoid_focal(logits: Tensor, targets: Tensor, alpha: float, gamma: float) -> Tensor:
    """Per-(image, class) mean over pixels of the sigmoid focal loss: (B, C)."""
    p = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
    return (alpha_t * (1 - p_t) ** gamma * ce).flatten(2).mean(-1)


def binary_ce(logits: Tensor, targets: Tensor) -> Tensor:
    """Per-(image, class) mean over pixels of the binary cross-entropy: (B, C)."""
    return F.binary_cross_entropy_with_logits(logits, targets, reduction="none").flatten(2).mean(-1)


def dice(logits: Tensor, targets: Tensor) -> Tensor:
    """Per-(image, class) dice loss 1 - (2*sum(p*y) + 1) / (sum(p) + sum(y) + 1): (B, C)."""
    p = logits.sigmoid().flatten(2)
    y = targets.flatten(2)
    return 1 - (2 * (p * y).sum(-1) + 1) / (p.sum(-1) + y.sum(-1) + 1)


def global_count(n: Tensor) -> Tensor:
    """Under torchrun: the mean over processes of a per-process count (at least 1), as the
    published code all-reduces the number of present classes; otherwise ``n`` itself."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        n = n.detach().clone().float()
        torch.distributed.all_reduce(n)
        n = n / torch.distributed.get_world_size()
    return n.clamp(min=1)


def segmentation_loss(logits: Tensor, labels: Tensor, cfg: LossConfig) -> Dict[str, Tensor]:
    """Mask logits (B, C, H, W) against labels (B, H, W) -> named loss terms (their sum trains)."""
    if cfg.kind == "ce":
        return {"ce": F.cross_entropy(logits, labels.long(), ignore_index=IGNORE_INDEX)}
    targets = one_hot_targets(labels, logits.shape[1])
    present = present_pairs(targets)
    n = global_count(present.sum())
    if cfg.kind == "plain":
        return {"bce": cfg.bce_weight * binary_ce(logits, targets).sum() / n}
    focal = sigmoid_focal(logits, targets, cfg.focal_alpha, cfg.focal_gamma).sum() / n
    dice_term = (dice(logits, targets) * present).sum() / n
    return {"focal": cfg.focal_weight * focal, "dice": cfg.dice_weight * dice_term}
