"""ZegCLIP's losses, with the published code's weights and reductions.

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

from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from zegclip.config import LossConfig
from zegclip.catalog.benchmarks import IGNORE_INDEX
from zegclip.model.fast import SigmoidMaskLoss


def global_count(n: Tensor) -> Tensor:
    """Under torchrun: the mean over processes of a per-process count (at least 1), as the
    published code all-reduces the number of present classes; otherwise ``n`` itself."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        n = n.detach().clone().float()
        torch.distributed.all_reduce(n)
        n = n / torch.distributed.get_world_size()
    return n.clamp(min=1)


def _own_class(labels: Tensor) -> Tuple[Tensor, Tensor]:
    """labels (B, H, W) -> each pixel's class (B, 1, N), 0 where ignored, and validity (B, 1, N)."""
    flat = labels.reshape(labels.shape[0], 1, -1).long()
    valid = flat != IGNORE_INDEX
    return torch.where(valid, flat, torch.zeros_like(flat)), valid


def segmentation_loss(logits: Tensor, labels: Tensor, cfg: LossConfig) -> Dict[str, Tensor]:
    """Mask logits (B, C, H, W) against labels (B, H, W) -> named loss terms (their sum trains)."""
    if cfg.kind == "ce":
        return {"ce": F.cross_entropy(logits, labels.long(), ignore_index=IGNORE_INDEX)}
    own, valid = _own_class(labels)
    count = logits.new_zeros(logits.shape[:2]).scatter_add_(1, own[:, 0], valid[:, 0].to(logits.dtype))  # (B, C)
    n = global_count((count > 0).sum())  # (image, class) pairs present in the ground truth
    if cfg.kind == "plain":
        bce, _ = SigmoidMaskLoss.apply(logits, own, valid, count, 1.0, 1.0, 0.0, n)
        return {"bce": cfg.bce_weight * bce}
    a = cfg.focal_alpha
    focal, dice = SigmoidMaskLoss.apply(logits, own, valid, count, a, 1.0 - a, cfg.focal_gamma, n)
    return {"focal": cfg.focal_weight * focal, "dice": cfg.dice_weight * dice}
