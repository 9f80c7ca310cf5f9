"""Segmentation metrics from one confusion matrix accumulated over the whole evaluation set.

As in mmsegmentation, per-class areas are summed over every image first and every metric
is derived from those sums: pAcc, mAcc, per-class IoU, mIoU over seen, unseen and all
classes, and hIoU = 2·S·U / (S + U). A class absent from both the ground truth and the
predictions has an undefined IoU (NaN) and is left out of the means.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence

import torch
from torch import Tensor

from zegclip.catalog.benchmarks import IGNORE_INDEX


class ConfusionMatrix:
    """``matrix[t, p]`` counts pixels of ground-truth class t predicted as class p."""

    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def update(self, pred: Tensor, target: Tensor) -> None:
        """pred, target: integer label maps of the same shape; target 255 is ignored."""
        if pred.shape != target.shape:
            raise ValueError(f"prediction shape {tuple(pred.shape)} != label shape {tuple(target.shape)}")
        valid = target != IGNORE_INDEX
        t = target[valid].long().cpu()
        p = pred[valid].long().cpu()
        if t.numel() and int(t.max()) >= self.num_classes:
            raise ValueError(f"label value {int(t.max())} is outside 0..{self.num_classes - 1} and not 255")
        idx = t * self.num_classes + p
        self.matrix += torch.bincount(idx, minlength=self.num_classes ** 2).view(self.num_classes, self.num_classes)

    def merge(self, other: "ConfusionMatrix") -> None:
        self.matrix += other.matrix


def _nanmean(values: Sequence[float]) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return sum(vals) / len(vals) if vals else float("nan")


def harmonic(seen: float, unseen: float) -> float:
    if math.isnan(seen) or math.isnan(unseen) or seen + unseen == 0:
        return float("nan") if math.isnan(seen) or math.isnan(unseen) else 0.0
    return 2 * seen * unseen / (seen + unseen)


def summarize(cm: ConfusionMatrix, class_names: Sequence[str],
              unseen: Optional[Sequence[int]] = None) -> Dict[str, object]:
    """Every metric, in percent; ``unseen`` ids define the seen/unseen split (empty or None: all seen)."""
    m = cm.matrix.double()
    tp = m.diag()
    gt = m.sum(1)  # pixels per ground-truth class
    pred = m.sum(0)
    union = gt + pred - tp
    iou = [100 * float(tp[c] / union[c]) if union[c] > 0 else float("nan") for c in range(cm.num_classes)]
    acc = [100 * float(tp[c] / gt[c]) if gt[c] > 0 else float("nan") for c in range(cm.num_classes)]
    unseen_set = set(unseen or ())
    seen_ids: List[int] = [c for c in range(cm.num_classes) if c not in unseen_set]
    unseen_ids = sorted(unseen_set)
    miou_s = _nanmean([iou[c] for c in seen_ids])
    miou_u = _nanmean([iou[c] for c in unseen_ids])
    total = float(m.sum())
    return {
        "pAcc": 100 * float(tp.sum()) / total if total else float("nan"),
        "mAcc": _nanmean(acc),
        "mIoU": _nanmean(iou),
        "mIoU_S": miou_s,
        "mIoU_U": miou_u,
        "hIoU": harmonic(miou_s, miou_u) if unseen_ids else float("nan"),
        "per_class_IoU": {name: iou[c] for c, name in enumerate(class_names)},
        "per_class_Acc": {name: acc[c] for c, name in enumerate(class_names)},
        "pixels": int(total),
    }
