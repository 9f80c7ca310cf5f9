"""The published recipe's augmentation (mmsegmentation's pipeline as ZegCLIP configures it), in torch.

Train: keep-ratio rescale to (2048, 512) x r, r ~ U(0.5, 2.0); a crop re-drawn up to 10
times until no class covers 75% or more of its labelled pixels; horizontal flip; mmseg's
photometric distortion; normalisation with the ImageNet mean/std; padding to the crop
(image 0, label 255). Test: keep-ratio rescale to (2048, 512) (short side 512).
All randomness comes from the ``rng`` passed in, so a sample's augmentation depends only
on its seed, never on worker scheduling.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from zegclip.config import AugmentConfig
from zegclip.catalog.benchmarks import IGNORE_INDEX


def rescale_size(h: int, w: int, scale: Tuple[float, float]) -> Tuple[int, int]:
    """mmcv's keep-ratio rescale: the largest size with long side <= max(scale), short <= min(scale)."""
    factor = min(max(scale) / max(h, w), min(scale) / min(h, w))
    return int(h * factor + 0.5), int(w * factor + 0.5)


def resize(image: Tensor, label: Tensor | None, size: Tuple[int, int]) -> Tuple[Tensor, Tensor | None]:
    """image (3, H, W) float bilinearly, label (H, W) by nearest neighbour."""
    image = F.interpolate(image[None], size=size, mode="bilinear", align_corners=False)[0]
    if label is not None:
        label = F.interpolate(label[None, None].float(), size=size, mode="nearest")[0, 0].to(label.dtype)
    return image, label


def random_crop(image: Tensor, label: Tensor, crop: int, cat_max_ratio: float,
                rng: np.random.Generator) -> Tuple[Tensor, Tensor]:
    H, W = label.shape
    ch, cw = min(crop, H), min(crop, W)
    lab = label.numpy()  # numpy: a tenth of torch's per-call overhead on these small windows
    for _ in range(10):
        y = int(rng.integers(0, H - ch + 1))
        x = int(rng.integers(0, W - cw + 1))
        if cat_max_ratio >= 1.0:
            break
        window = lab[y:y + ch, x:x + cw]
        counts = np.bincount(window[window != IGNORE_INDEX])
        counts = counts[counts > 0]
        if len(counts) > 1 and counts.max() / counts.sum() < cat_max_ratio:
            break
    return image[:, y:y + ch, x:x + cw], label[y:y + ch, x:x + cw]


def rgb_to_hsv(img: Tensor) -> Tensor:
    """(3, H, W) RGB in [0, 1] -> HSV with H in [0, 1)."""
    r, g, b = img
    maxc, _ = img.max(0)
    minc, _ = img.min(0)
    delta = maxc - minc
    s = torch.where(maxc > 0, delta / maxc.clamp(min=1e-12), torch.zeros_like(maxc))
    d = delta.clamp(min=1e-12)
    h = torch.where(maxc == r, (g - b) / d, torch.where(maxc == g, 2.0 + (b - r) / d, 4.0 + (r - g) / d))
    h = torch.where(delta > 0, (h / 6.0) % 1.0, torch.zeros_like(h))
    return torch.stack([h, s, maxc])


def hsv_to_rgb(hsv: Tensor) -> Tensor:
    h, s, v = hsv
    i = torch.floor(h * 6.0)
    f = h * 6.0 - i
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    i = i.long() % 6
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = torch.zeros_like(hsv)
    for k, (r, g, b) in enumerate(choices):
        m = i == k
        out[0][m], out[1][m], out[2][m] = r[m], g[m], b[m]
    return out


def photometric_distortion(img: Tensor, rng: np.random.Generator) -> Tensor:
    """mmseg's PhotoMetricDistortion on a (3, H, W) image in 0..255 (clipped after each step)."""
    def convert(x: Tensor, alpha: float = 1.0, beta: float = 0.0) -> Tensor:
        return (x * alpha + beta).clamp(0, 255).round()

    if rng.integers(2):
        img = convert(img, beta=float(rng.uniform(-32, 32)))
    contrast_first = bool(rng.integers(2))

    def contrast(x: Tensor) -> Tensor:
        return convert(x, alpha=float(rng.uniform(0.5, 1.5))) if rng.integers(2) else x

    if contrast_first:
        img = contrast(img)
    do_sat, do_hue = bool(rng.integers(2)), bool(rng.integers(2))
    sat = float(rng.uniform(0.5, 1.5))
    hue = int(rng.integers(-18, 19))
    if do_sat or do_hue:
        hsv = rgb_to_hsv(img / 255.0)
        if do_sat:
            hsv[1] = (hsv[1] * sat).clamp(0, 1)
        if do_hue:
            hsv[0] = (hsv[0] + hue / 180.0) % 1.0  # mmseg shifts OpenCV hue (0..180) by -18..18
        img = (hsv_to_rgb(hsv) * 255.0).round()
    if not contrast_first:
        img = contrast(img)
    return img


def normalize(img: Tensor, cfg: AugmentConfig) -> Tensor:
    mean = torch.tensor(cfg.mean, dtype=img.dtype).view(3, 1, 1)
    std = torch.tensor(cfg.std, dtype=img.dtype).view(3, 1, 1)
    return (img - mean) / std


def to_tensors(image: np.ndarray, label: np.ndarray | None) -> Tuple[Tensor, Tensor | None]:
    img = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float()  # (3, H, W)
    return img, None if label is None else torch.from_numpy(np.ascontiguousarray(label))


def train_transform(image: np.ndarray, label: np.ndarray, cfg: AugmentConfig,
                    rng: np.random.Generator) -> Tuple[Tensor, Tensor, Tensor]:
    """-> normalised image (3, S, S), label (S, S) uint8, valid (S, S) bool (False on padding)."""
    img, lbl = to_tensors(image, label)
    r = float(rng.uniform(*cfg.ratio_range))
    img, lbl = resize(img, lbl, rescale_size(*lbl.shape, (cfg.scale[0] * r, cfg.scale[1] * r)))
    img, lbl = random_crop(img, lbl, cfg.crop, cfg.cat_max_ratio, rng)
    if rng.random() < cfg.flip_prob:
        img, lbl = img.flip(-1), lbl.flip(-1)
    if cfg.photometric:
        img = photometric_distortion(img, rng)
    img = normalize(img, cfg)
    h, w = lbl.shape
    pad = (0, cfg.crop - w, 0, cfg.crop - h)
    valid = F.pad(torch.ones(h, w, dtype=torch.bool), pad, value=False)
    return F.pad(img, pad, value=0.0), F.pad(lbl, pad, value=IGNORE_INDEX), valid


def eval_transform(image: np.ndarray, cfg: AugmentConfig) -> Tensor:
    """-> the normalised image (3, h, w) rescaled so that its short side is min(test_scale)."""
    img, _ = to_tensors(image, None)
    img, _ = resize(img, None, rescale_size(img.shape[1], img.shape[2], cfg.test_scale))
    return normalize(img, cfg)
