"""The fast CPU kernels, each beside the plain computation it replaces.

A mini-world step is small enough that PyTorch's general-purpose paths dominate it on a CPU;
these kernels compute the same thing in fewer passes. Each ``X`` here has ``X_plain``, the
obvious version (autograd, ``F.interpolate``, ``nn.MultiheadAttention``...), and
``tests/test_fast.py`` checks that the two agree in value and gradient. The README's speed
section gives each kernel's measured gain.
"""
from __future__ import annotations

import functools
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


# ----------------------------------------------------------------------------- sigmoid focal / BCE + dice

def softplus(x: Tensor) -> Tensor:
    """log(1 + e^x) as max(x, 0) - log(sigmoid(|x|)): F.softplus and log1p are scalar loops on
    CPU, 6x slower; the absolute error stays below 1e-7."""
    return x.clamp(min=0) - x.abs().sigmoid().log()


class SigmoidMaskLoss(torch.autograd.Function):
    """Sigmoid focal (or binary cross-entropy) and dice over every (image, class, pixel), with
    hand-written gradients: a few passes over the (B, C, N) logits instead of the dozens autograd
    records, and no dense one-hot targets. A pixel has at most one positive class, so the loss is
    its all-negative form everywhere plus a correction at each labelled pixel's own class.

    Per element, with p = sigmoid(x), focal weights (a+, a-) and exponent gamma:
      negative: a- * p^gamma * softplus(x)          positive: a+ * (1-p)^gamma * softplus(-x)
    (gamma 0, a+ = a- = 1 is the binary cross-entropy). Returns the sums of the per-(image, class)
    pixel means, over n, of that loss and of the dice loss of the present pairs.
    """

    @staticmethod
    def forward(ctx, logits: Tensor, own: Tensor, valid: Tensor, count: Tensor, a_pos: float, a_neg: float,
                gamma: float, n: Tensor) -> Tuple[Tensor, Tensor]:
        B, C = logits.shape[:2]
        x = logits.reshape(B, C, -1)  # (B, C, N)
        N = x.shape[-1]
        p = x.sigmoid()
        x_own = x.gather(1, own)  # (B, 1, N): each pixel's logit for its own class
        p_own = p.gather(1, own)
        v = valid.to(x.dtype)
        sp = softplus(x)
        sp_own = sp.gather(1, own)
        neg_all = a_neg * (p.pow(gamma) * sp).sum()
        own_pos = a_pos * (1 - p_own).pow(gamma) * (sp_own - x_own)  # softplus(-x) = softplus(x) - x
        own_neg = a_neg * p_own.pow(gamma) * sp_own
        focal = (neg_all + ((own_pos - own_neg) * v).sum()) / (N * n)

        inter = x.new_zeros(B, C).scatter_add_(1, own[:, 0], (p_own * v)[:, 0])  # sum of p * y
        denom = p.sum(-1) + count + 1
        present = (count > 0).to(x.dtype)
        dice = ((1 - (2 * inter + 1) / denom) * present).sum() / n
        ctx.save_for_backward(p, sp, own, v, x_own, p_own, sp_own, denom, inter, present, n)
        ctx.consts = (a_pos, a_neg, gamma, logits.shape)
        return focal, dice

    @staticmethod
    def backward(ctx, g_focal: Tensor, g_dice: Tensor):
        p, sp, own, v, x_own, p_own, sp_own, denom, inter, present, n = ctx.saved_tensors
        a_pos, a_neg, gamma, shape = ctx.consts
        N = p.shape[-1]
        f = g_focal / (N * n)
        # d/dx of a negative: a- p^gamma (gamma (1-p) softplus(x) + p); dice: dL/dp * p(1-p)
        dice_all = (g_dice / n) * present * (2 * inter + 1) / denom ** 2  # (B, C)
        q = 1 - p
        grad = (f * a_neg) * p.pow(gamma) * (gamma * q * sp + p) + dice_all.unsqueeze(-1) * p * q
        # own class: swap the negative's gradient for the positive's, and dice's -2 / denom term
        q_own = 1 - p_own
        d_pos = -a_pos * q_own.pow(gamma) * (gamma * p_own * (sp_own - x_own) + q_own)
        d_neg = a_neg * p_own.pow(gamma) * (gamma * q_own * sp_own + p_own)
        d_dice = -2 * (g_dice / n) / denom.gather(1, own[:, 0]).unsqueeze(1) * p_own * q_own
        grad.scatter_add_(1, own, (f * (d_pos - d_neg) + d_dice) * v)
        return grad.reshape(shape), None, None, None, None, None, None, None


def softplus_plain(x: Tensor) -> Tensor:
    return F.softplus(x)


def sigmoid_mask_loss_plain(logits: Tensor, own: Tensor, valid: Tensor, count: Tensor, a_pos: float,
                            a_neg: float, gamma: float, n: Tensor) -> Tuple[Tensor, Tensor]:
    """What ``SigmoidMaskLoss`` computes, by autograd over dense one-hot targets (B, C, N)."""
    B, C = logits.shape[:2]
    x = logits.reshape(B, C, -1)  # (B, C, N)
    y = torch.zeros_like(x).scatter_(1, own, valid.to(x.dtype))  # (B, C, N) one-hot, 0 where ignored
    p = x.sigmoid()
    ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    weight = a_pos * y * (1 - p).pow(gamma) + a_neg * (1 - y) * p.pow(gamma)
    focal = (weight * ce).sum() / (x.shape[-1] * n)
    dice = 1 - (2 * (p * y).sum(-1) + 1) / (p.sum(-1) + count + 1)  # (B, C)
    return focal, (dice * (count > 0).to(x.dtype)).sum() / n


# ----------------------------------------------------------------------------- encoder attention

def self_attention(attn: nn.MultiheadAttention, x: Tensor) -> Tensor:
    """What open_clip's block.attention(x) computes (batch-first, no mask), from the same
    parameters, without nn.MultiheadAttention's per-call checks and transposes (a tenth of a
    mini encoder's time on a CPU). x: (B, N, D)."""
    B, N, D = x.shape
    H = attn.num_heads
    qkv = F.linear(x, attn.in_proj_weight, attn.in_proj_bias).view(B, N, 3, H, D // H)
    q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, H, N, d)
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=attn.dropout if attn.training else 0.0)
    return attn.out_proj(out.transpose(1, 2).reshape(B, N, D))  # (B, N, D)


def self_attention_plain(attn: nn.MultiheadAttention, x: Tensor) -> Tensor:
    return attn(x, x, x, need_weights=False)[0]


# ----------------------------------------------------------------------------- mask upsampling

@functools.lru_cache(maxsize=32)
def _interpolation_matrix(n_in: int, n_out: int) -> Tensor:
    """(n_out, n_in): 1-D linear interpolation with half-pixel centres and clamped edges, the
    weights F.interpolate(mode="bilinear", align_corners=False) applies along one axis."""
    src = ((torch.arange(n_out, dtype=torch.float64) + 0.5) * (n_in / n_out) - 0.5).clamp(min=0)
    i0 = src.floor().long().clamp(max=n_in - 1)
    i1 = (i0 + 1).clamp(max=n_in - 1)
    frac = src - i0
    rows = torch.arange(n_out)
    m = torch.zeros(n_out, n_in, dtype=torch.float64)
    m.index_put_((rows, i0), 1 - frac, accumulate=True)
    m.index_put_((rows, i1), frac, accumulate=True)
    return m


def upsample(masks: Tensor, size: Tuple[int, int]) -> Tensor:
    """Bilinear (align_corners False), as the published head upsamples its masks: (B, C, h, w) ->
    (B, C, H, W). Bilinear is separable, so it is two small matrix products, which run (with
    their backward) several times faster on a CPU than F.interpolate."""
    h, w = masks.shape[-2:]
    m_h = _interpolation_matrix(h, size[0]).to(masks)  # (H, h)
    m_w = _interpolation_matrix(w, size[1]).to(masks)  # (W, w)
    return m_h @ (masks @ m_w.T)  # (B, C, h, W) -> (B, C, H, W)


def upsample_plain(masks: Tensor, size: Tuple[int, int]) -> Tensor:
    return F.interpolate(masks, size=size, mode="bilinear", align_corners=False)


# ----------------------------------------------------------------------------- decoder dropout

class Dropout(nn.Dropout):
    """nn.Dropout with the keep mask drawn as uniform >= p: the same Bernoulli(1 - p) mask, drawn
    twice as fast on a CPU as ``bernoulli_`` (the decoder draws ~2 M of them per mini step)."""

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        scale = torch.rand_like(x).ge_(self.p).mul_(1.0 / (1.0 - self.p))  # 0 or 1/(1-p), in place
        return x * scale


Dropout_plain = nn.Dropout
