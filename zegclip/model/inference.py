"""From mask logits to labels: scores, the seen-class calibration and slide inference."""
from __future__ import annotations

from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from zegclip.config import ModelConfig


def class_scores(logits: Tensor, sigmoid: bool) -> Tensor:
    """(B, C, H, W) logits -> scores: sigmoid for NEL models, softmax otherwise."""
    return logits.sigmoid() if sigmoid else logits.softmax(dim=1)


def predict_labels(logits: Tensor, cfg: ModelConfig, seen: Optional[Tensor] = None) -> Tensor:
    """(B, C, H, W) -> (B, H, W). ``seen`` (C,) bool: subtract ``seen_bias`` from those classes
    (inductive zero-shot evaluation); ``None`` for self-training and fully supervised models."""
    scores = class_scores(logits, cfg.loss.sigmoid)
    if seen is not None and cfg.inference.seen_bias:
        scores = scores - cfg.inference.seen_bias * seen.to(scores.dtype).view(1, -1, 1, 1)
    return scores.argmax(dim=1)


def _starts(size: int, crop: int, stride: int) -> list[int]:
    """Window starts covering ``size``; the last window is shifted back to end at the border."""
    n = max(size - crop + stride - 1, 0) // stride + 1
    return sorted({max(min(i * stride, size - crop), 0) for i in range(n)})


def slide_logits(logits_fn: Callable[[Tensor], Tensor], images: Tensor, crop: int, stride: int) -> Tensor:
    """Mask logits of ``images`` (B, 3, H, W) from ``crop``-sized windows at ``stride``.

    Overlapping logits are summed and divided by the overlap count. Windows smaller than
    ``crop`` (an image side below it) are zero-padded and their logits cut back.
    """
    B, _, H, W = images.shape
    total: Optional[Tensor] = None
    count = images.new_zeros(1, 1, H, W)
    for y in _starts(H, crop, stride):
        for x in _starts(W, crop, stride):
            window = images[:, :, y:y + crop, x:x + crop]
            h, w = window.shape[-2:]
            window = F.pad(window, (0, crop - w, 0, crop - h)) if (h, w) != (crop, crop) else window
            out = logits_fn(window)[:, :, :h, :w]  # (B, C, h, w)
            if total is None:
                total = images.new_zeros(B, out.shape[1], H, W, dtype=out.dtype)
            total[:, :, y:y + h, x:x + w] += out
            count[:, :, y:y + h, x:x + w] += 1
    return total / count


@torch.no_grad()
def sliding_predict(model, images: Tensor, text: Tensor, seen: Optional[Tensor] = None) -> Tensor:
    """Labels (B, H, W) for normalised images by slide inference with the model's settings."""
    inf = model.cfg.inference
    logits = slide_logits(lambda w: model(w, text)["masks"], images, inf.crop, inf.stride)
    return predict_labels(logits, model.cfg, seen)
