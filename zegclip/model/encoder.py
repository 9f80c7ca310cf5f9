"""ZegCLIP's image encoder: open_clip's ViT run with what ZegCLIP adds.

open_clip owns the layers and weights (``conv1``, ``class_embedding``,
``positional_embedding``, ``ln_pre``, ``transformer.resblocks``, ``ln_post``, ``proj``);
this module adds, as the published encoder does:

- a positional grid resized **bilinearly** in two steps: once at load to the training grid
  (:func:`resize_pretrained_grid`), then in each forward to the input's grid;
- the doubled class embedding (an option, on by default);
- stochastic depth around each residual branch of open_clip's blocks (an option of ours:
  the published blocks never call theirs, so its default rate is 0);
- deep prompt tuning: learnable tokens after the class token, replaced before every
  prompted layer and removed after the last one, each set passed through a shared
  Linear + Dropout; an extra LayerNorm before ``ln_post``.
"""
from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from open_clip.transformer import ResidualAttentionBlock, VisionTransformer
from timm.layers import drop_path  # stochastic depth, per sample, kept branches rescaled
from torch import Tensor, nn

from zegclip.config import ConfigError, EncoderConfig, PromptConfig
from zegclip.model.fast import self_attention


class DeepPrompts(nn.Module):
    """One set of ``tokens`` learnable prompts per prompted layer, plus the prompt norm."""

    def __init__(self, width: int, patch_size: int, cfg: PromptConfig, norm: bool) -> None:
        super().__init__()
        self.first, self.last = cfg.layers
        self.tokens = cfg.tokens
        bound = math.sqrt(6.0 / (3 * patch_size * patch_size + width))  # published init
        self.embeddings = nn.Parameter(
            torch.empty(self.last - self.first + 1, cfg.tokens, width).uniform_(-bound, bound))
        self.proj = nn.Linear(width, width)
        nn.init.kaiming_normal_(self.proj.weight, a=0, mode="fan_out")
        nn.init.zeros_(self.proj.bias)
        self.dropout = nn.Dropout(cfg.dropout)
        self.norm = nn.LayerNorm(width, eps=1e-6) if norm else None

    def covers(self, layer: int) -> bool:
        return self.first <= layer <= self.last

    def forward(self, layer: int, batch: int) -> Tensor:
        """The prompts inserted before 1-indexed ``layer``: (B, P, D)."""
        p = self.proj(self.embeddings[layer - self.first])  # (P, D)
        return self.dropout(p.expand(batch, -1, -1))


def check_visual(visual: nn.Module, cfg: EncoderConfig) -> None:
    """ZegCLIP needs a plain class-token ViT with open_clip's default blocks."""
    if not isinstance(visual, VisionTransformer):
        raise ConfigError(f"model.clip.model: ZegCLIP needs a ViT image tower, got {type(visual).__name__}")
    if visual.attn_pool is not None or visual.pool_type != "tok":
        raise ConfigError("model.clip.model: ZegCLIP needs a ViT with class-token pooling (no attentional pool)")
    if not visual.transformer.batch_first:
        raise ConfigError("model.clip.model: ZegCLIP runs open_clip's ViT batch-first (open_clip >= 2.26)")
    blocks = visual.transformer.resblocks
    if not all(isinstance(b, ResidualAttentionBlock) and isinstance(b.attn, nn.MultiheadAttention)
               and b.attn.in_proj_weight is not None and not hasattr(b, "ln_1_kv") for b in blocks):
        raise ConfigError("model.clip.model: ZegCLIP needs open_clip's default ResidualAttentionBlock "
                          "(nn.MultiheadAttention with a packed in-projection)")
    depth = len(blocks)
    if cfg.mode == "dpt" and not cfg.prompt.layers[1] <= depth:
        raise ConfigError(f"model.encoder.prompt.layers={list(cfg.prompt.layers)} is outside 1..{depth}, "
                          f"the depth of {type(visual).__name__}")
    patch = visual.patch_size[0]
    if cfg.image_size % patch:
        raise ConfigError(f"model.encoder.image_size={cfg.image_size}: expected a multiple of the patch size {patch}")


def resize_positional_embedding(pos: Tensor, grid: Tuple[int, int]) -> Tensor:
    """(1+G*G, D) -> (1+h*w, D): the patch grid bilinearly resized, the class position kept.

    Always interpolates, as the published forward does: at an equal grid it is an exact identity,
    and fvcore counts it as it did for the published Table 3."""
    side = int(math.isqrt(pos.shape[0] - 1))
    spatial = pos[1:].reshape(1, side, side, -1).permute(0, 3, 1, 2)  # (1, D, G, G)
    spatial = F.interpolate(spatial, size=grid, mode="bilinear", align_corners=False)
    return torch.cat([pos[:1], spatial[0].flatten(1).T], dim=0)  # (1+h*w, D)


def resize_pretrained_grid(visual: VisionTransformer, cfg: EncoderConfig) -> None:
    """The published first step: the pretrained positional grid (14x14 for ViT-B/16) becomes the
    training grid (image_size / patch, 32x32 at 512) once, at load, and that resized embedding is
    the parameter (it trains in ``ft`` mode). Each forward then resizes it to the input's grid."""
    if cfg.pos_resize != "two_step":
        return
    side = cfg.image_size // visual.patch_size[0]
    pos = visual.positional_embedding  # (1+G*G, D)
    if pos.shape[0] != 1 + side * side:
        resized = resize_positional_embedding(pos.detach(), (side, side))  # (1+side*side, D)
        visual.positional_embedding = nn.Parameter(resized, requires_grad=pos.requires_grad)


def run_block(block: ResidualAttentionBlock, x: Tensor, drop: float) -> Tensor:
    """open_clip's pre-norm block, with stochastic depth on each residual branch. x: (B, N, D)."""
    x = x + drop_path(block.ls_1(self_attention(block.attn, block.ln_1(x))), drop, block.training)
    x = x + drop_path(block.ls_2(block.mlp(block.ln_2(x))), drop, block.training)
    return x


def encode_image(visual: VisionTransformer, images: Tensor, cfg: EncoderConfig,
                 prompts: Optional[DeepPrompts]) -> Tuple[Tensor, Tensor, Tuple[int, int]]:
    """Images (B, 3, H, W) -> g (B, E) and patch embeddings (B, h*w, E), both L2-normalised."""
    B = images.shape[0]
    x = visual.conv1(images)  # (B, D, h, w)
    grid = (x.shape[-2], x.shape[-1])
    x = x.flatten(2).transpose(1, 2)  # (B, HW, D)
    pos = resize_positional_embedding(visual.positional_embedding, grid).to(x.dtype)
    cls = visual.class_embedding.to(x.dtype) * (2.0 if cfg.double_class_embedding else 1.0)
    x = torch.cat([cls.expand(B, 1, -1), x], dim=1) + pos  # (B, 1+HW, D)
    x = visual.ln_pre(x)

    blocks = visual.transformer.resblocks
    rates = torch.linspace(0.0, cfg.drop_path, len(blocks)).tolist()
    P = prompts.tokens if prompts is not None else 0
    for layer, (block, rate) in enumerate(zip(blocks, rates), start=1):
        if prompts is not None and prompts.covers(layer):
            rest = x[:, 1:] if layer == prompts.first else x[:, 1 + P:]
            x = torch.cat([x[:, :1], prompts(layer, B).to(x.dtype), rest], dim=1)  # (B, 1+P+HW, D)
        x = run_block(block, x, rate)
        if prompts is not None and layer == prompts.last:
            x = torch.cat([x[:, :1], x[:, 1 + P:]], dim=1)  # (B, 1+HW, D): prompts dropped

    if prompts is not None and prompts.norm is not None:
        x = prompts.norm(x)
    x = visual.ln_post(x) @ visual.proj  # (B, 1+HW, E)
    x = F.normalize(x, dim=-1)
    return x[:, 0], x[:, 1:], grid
