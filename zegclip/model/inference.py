"""From mask logits to labels: scores, the seen-class calibration and slide inference.

The published test path (``model.inference.fusion="scores"``) turns each window into
calibrated scores on its own, averages the overlapping windows' scores, resizes the average
bilinearly to the label size and takes the argmax. ``fusion="logits"`` averages and resizes
logits instead and computes the scores last.
"""
from __future__ import annotations

from typing import Callable, Optional, Tuple

import torch.nn.functional as F
from torch import Tensor

from zegclip.config import ModelConfig


def class_scores(logits: Tensor, sigmoid: bool) -> Tensor:
    """(B, C, H, W) logits -> scores: sigmoid for NEL models, softmax otherwise."""
    return logits.sigmoid() if sigmoid else logits.softmax(dim=1)


def calibrated_scores(logits: Tensor, cfg: ModelConfig, seen: Optional[Tensor] = None) -> Tensor:
    """(B, C, H, W) logits -> scores. ``seen`` (C,) bool: subtract ``seen_bias`` from those classes
    (inductive zero-shot evaluation); ``None`` for self-training and fully supervised models."""
    scores = class_scores(logits, cfg.loss.sigmoid)
    if seen is not None and cfg.inference.seen_bias:
        scores = scores - cfg.inference.seen_bias * seen.to(scores.dtype).view(1, -1, 1, 1)
    return scores


def predict_labels(logits: Tensor, cfg: ModelConfig, seen: Optional[Tensor] = None) -> Tensor:
    """(B, C, H, W) logits -> (B, H, W) labels: the argmax of the calibrated scores."""
    return calibrated_scores(logits, cfg, seen).argmax(dim=1)


def window_starts(size: int, crop: int, stride: int) -> list[int]:
    """Window starts along a side of ``size`` pixels; the last window is shifted back to end at
    the border. With ``stride <= crop`` (the config's rule) they cover every pixel."""
    n = max(size - crop + stride - 1, 0) // stride + 1
    return sorted({max(min(i * stride, size - crop), 0) for i in range(n)})


def slide_average(window_fn: Callable[[Tensor], Tensor], images: Tensor, crop: int, stride: int) -> Tensor:
    """``window_fn`` (a per-window map (B, 3, crop, crop) -> (B, C, crop, crop)) over ``images``
    (B, 3, H, W) from ``crop``-sized windows at ``stride``: overlapping outputs are summed and
    divided by the overlap count. Windows smaller than ``crop`` (an image side below it) are
    zero-padded and their outputs cut back."""
    B, _, H, W = images.shape
    total: Optional[Tensor] = None
    count = images.new_zeros(1, 1, H, W)
    for y in window_starts(H, crop, stride):
        for x in window_starts(W, crop, stride):
            window = images[:, :, y:y + crop, x:x + crop]
            h, w = window.shape[-2:]
            window = F.pad(window, (0, crop - w, 0, crop - h)) if (h, w) != (crop, crop) else window
            out = window_fn(window)[:, :, :h, :w]  # (B, C, h, w)
            if total is None:
                total = images.new_zeros(B, out.shape[1], H, W, dtype=out.dtype)
            total[:, :, y:y + h, x:x + w] += out
            count[:, :, y:y + h, x:x + w] += 1
    if not bool(count.all()):  # never let a pixel without a window become a NaN score, then a label
        raise ValueError(f"slide windows of {crop} at stride {stride} leave pixels of a {H}x{W} image uncovered")
    return total / count


def slide_scores(logits_fn: Callable[[Tensor], Tensor], images: Tensor, cfg: ModelConfig,
                 seen: Optional[Tensor], size: Tuple[int, int]) -> Tensor:
    """Calibrated scores (B, C, *size) of ``images`` (B, 3, H, W) by slide inference, resized
    bilinearly to ``size`` (the label's), fused as ``cfg.inference.fusion`` says."""
    inf = cfg.inference
    if inf.fusion == "scores":  # published: per-window scores, averaged, resized
        fused = slide_average(lambda w: calibrated_scores(logits_fn(w).float(), cfg, seen), images,
                              inf.crop, inf.stride)
        return F.interpolate(fused, size=size, mode="bilinear", align_corners=False)
    logits = slide_average(lambda w: logits_fn(w).float(), images, inf.crop, inf.stride)
    logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
    return calibrated_scores(logits, cfg, seen)

