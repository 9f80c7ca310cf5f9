"""The text-query decoder (SegViT's ATM module, as the published ZegCLIP head uses it).

Class queries cross-attend to the patch tokens; there is no self-attention among queries.
Each layer's mask logits are the head-averaged, scaled, pre-softmax attention logits
between the queries and the patch tokens.
"""
from __future__ import annotations

import math
from typing import List, Optional, Tuple

from torch import Tensor, nn

from zegclip.model.fast import Dropout, upsample


class CrossAttention(nn.Module):
    """Multi-head attention from queries to patch tokens that also returns its logits."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"model.decoder.heads={heads} must divide the decoder width {dim}")
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.attn_drop = Dropout(dropout)
        self.proj = nn.Linear(dim, dim)

    def forward(self, q: Tensor, kv: Tensor) -> Tuple[Tensor, Tensor]:
        """q (B, C, D), kv (B, N, D) -> output (B, C, D), head-averaged logits (B, C, N)."""
        B, C, D = q.shape
        H = self.heads
        q = self.q(q).view(B, C, H, D // H).transpose(1, 2)  # (B, H, C, d)
        k = self.k(kv).view(B, -1, H, D // H).transpose(1, 2)  # (B, H, N, d)
        v = self.v(kv).view(B, -1, H, D // H).transpose(1, 2)  # (B, H, N, d)
        logits = (q @ k.transpose(-2, -1)) * self.scale  # (B, H, C, N)
        attn = self.attn_drop(logits.softmax(dim=-1))
        out = (attn @ v).transpose(1, 2).reshape(B, C, D)  # (B, C, D)
        return self.proj(out), logits.mean(dim=1)


class DecoderLayer(nn.Module):
    """Cross-attention, residual + LayerNorm, FFN (ReLU), residual + LayerNorm (post-norm)."""

    def __init__(self, dim: int, heads: int, ffn: int, dropout: float) -> None:
        super().__init__()
        self.cross_attn = CrossAttention(dim, heads, dropout)
        self.norm1 = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn), nn.ReLU(inplace=True), Dropout(dropout),
                                 nn.Linear(ffn, dim))
        self.norm2 = nn.LayerNorm(dim)
        self.drop1 = Dropout(dropout)
        self.drop2 = Dropout(dropout)

    def forward(self, q: Tensor, kv: Tensor) -> Tuple[Tensor, Tensor]:
        out, logits = self.cross_attn(q, kv)
        q = self.norm1(q + self.drop1(out))  # (B, C, D)
        q = self.norm2(q + self.drop2(self.ffn(q)))  # (B, C, D)
        return q, logits


# Parameters the published decoder layer holds but never calls: a self-attention
# (nn.MultiheadAttention: in-projection 3D*D + 3D, out-projection D*D + D) and its
# LayerNorm (2D). The paper's #Params (Table 3) counts them.
def unused_published_params(dim: int, layers: int) -> int:
    return layers * (4 * dim * dim + 4 * dim + 2 * dim)


def prior_offset(mask_prior: Optional[float]) -> float:
    """The constant added to every mask logit so that a class's score starts at ``mask_prior``
    (focal loss's prior initialisation, Lin et al. 2017); 0 for None (published)."""
    return 0.0 if mask_prior is None else math.log(mask_prior / (1.0 - mask_prior))


class TextQueryDecoder(nn.Module):
    def __init__(self, dim: int, layers: int, heads: int, ffn: int, dropout: float,
                 mask_prior: Optional[float] = None, patch_scale: float = 1.0) -> None:
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(dim, heads, ffn, dropout) for _ in range(layers))
        self.offset = prior_offset(mask_prior)  # a constant, not a parameter
        self.patch_scale = patch_scale  # the patch tokens' factor; 1 (published) multiplies nothing
        self.apply(_init_weights)

    def forward(self, queries: Tensor, patches: Tensor, grid: Tuple[int, int]) -> List[Tensor]:
        """queries (B, C, D), patches (B, h*w, D) -> mask logits of each layer, (B, C, h, w)."""
        masks = []
        q = queries
        if self.patch_scale != 1.0:
            patches = patches * self.patch_scale
        for layer in self.layers:
            q, logits = layer(q, patches)
            mask = logits.unflatten(-1, grid)  # (B, C, h, w)
            masks.append(mask + self.offset if self.offset else mask)  # no op at all when published
        return masks


def _init_weights(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


class MaskUpsample(nn.Module):
    """``upsample`` as a module, so that a FLOP count can tell its matrix products apart from the
    model's own (zegclip.measure.efficiency counts it as the published bilinear interpolation)."""

    def forward(self, masks: Tensor, size: Tuple[int, int]) -> Tensor:
        return upsample(masks, size)
