"""Training-free readouts of a CLIP's image tower on a segmentation split: how much of the
segmentation its features already carry, before any ZegCLIP training.

Each pixel gets the class whose text embedding is nearest to a feature (as MaskCLIP reads web
CLIP without training):
- ``patch``: the last block's patch tokens through ``ln_post`` and ``proj``;
- ``value``: MaskCLIP's value path of the last block (its value and output projections, no
  attention, residual or MLP), then ``ln_post`` and ``proj``;
- ``image``: the pooled image embedding; every pixel gets the image's top class.

A cheap first measure of a tiny-CLIP design: ZegCLIP adapts patch tokens, so a tower whose
patch tokens read at chance leaves its decoder to learn locality from scratch.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict

import open_clip
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zegclip.config import AugmentConfig
from zegclip.data.datasets import SegmentationDataset
from zegclip.data.transforms import normalize
from zegclip.engine.metrics import ConfusionMatrix, summarize
from zegclip.io import write_json
from zegclip.model.text import MULTIPLE_TEMPLATES, encode_class_names

READOUTS = ("patch", "value", "image")


@torch.no_grad()
def readout_features(visual: nn.Module, images: Tensor) -> Dict[str, Tensor]:
    """(B, 3, H, W) normalised images -> {readout: (B, E, g, g) features} (``image``: (B, E, 1, 1))."""
    B = images.shape[0]
    x = visual.conv1(images)  # (B, D, g, g)
    g = x.shape[-1]
    x = x.flatten(2).transpose(1, 2)  # (B, g*g, D)
    cls = visual.class_embedding.to(x.dtype).expand(B, 1, -1)
    x = visual.ln_pre(torch.cat([cls, x], dim=1) + visual.positional_embedding)  # (B, 1+g*g, D)
    blocks = visual.transformer.resblocks
    for block in blocks[:-1]:
        x = block(x)
    last = blocks[-1]
    D = x.shape[-1]
    value = F.linear(last.ln_1(x), last.attn.in_proj_weight[2 * D:], last.attn.in_proj_bias[2 * D:])
    value = last.attn.out_proj(value)  # (B, 1+g*g, D)
    x = last(x)

    def project(tokens: Tensor) -> Tensor:  # (B, N, D) -> (B, E, g, g)
        out = visual.ln_post(tokens) @ visual.proj  # (B, N, E)
        return F.normalize(out, dim=-1).transpose(1, 2).reshape(B, -1, g, g)

    image = F.normalize(visual.ln_post(x[:, 0]) @ visual.proj, dim=-1)  # (B, E)
    return {"patch": project(x[:, 1:]), "value": project(value[:, 1:]), "image": image[:, :, None, None]}


@torch.no_grad()
def readout_scores(clip: nn.Module, model_name: str, dataset: SegmentationDataset, batch: int = 64
                   ) -> Dict[str, Dict[str, float]]:
    """Each readout's pAcc and seen / unseen / harmonic mIoU on ``dataset`` (images at their own
    size, which must be the tower's input size)."""
    info = dataset.info
    text = encode_class_names(clip, open_clip.get_tokenizer(model_name), info.classes, MULTIPLE_TEMPLATES)  # (C, E)
    cms = {name: ConfusionMatrix(info.num_classes) for name in READOUTS}
    clip.eval()
    for start in range(0, len(dataset), batch):
        pairs = [dataset.load(i) for i in range(start, min(start + batch, len(dataset)))]
        images = torch.stack([torch.from_numpy(im).permute(2, 0, 1).float() for im, _ in pairs])  # (B, 3, H, W)
        labels = torch.stack([torch.from_numpy(lb.astype("int64")) for _, lb in pairs])  # (B, H, W)
        feats = readout_features(clip.visual, normalize(images, AugmentConfig()))
        for name, f in feats.items():
            pred = torch.einsum("begh,ce->bcgh", f, text).argmax(1)  # (B, g, g) nearest class per token
            pred = F.interpolate(pred[:, None].float(), size=labels.shape[-2:], mode="nearest")[:, 0].long()
            cms[name].update(pred, labels)
    out = {}
    for name, cm in cms.items():
        m = summarize(cm, info.classes, info.unseen)
        out[name] = {k: m[k] for k in ("pAcc", "mIoU", "mIoU_S", "mIoU_U", "hIoU")}
    return out


def write_readout(clip_file: Path, dataset: str, root: Path, output: Path | None = None,
                  model_name: str = "ZegCLIP-Mini") -> Dict[str, Dict[str, float]]:
    """Load a tiny CLIP (a safetensors state dict) and score its readouts on a val split."""
    from zegclip.config import ClipConfig
    from zegclip.model.clip import build_clip

    clip = build_clip(ClipConfig(model=model_name, pretrained=str(clip_file)))
    scores = readout_scores(clip, model_name, SegmentationDataset(dataset, root, "val"))
    if output is not None:
        write_json(output, {"clip": str(clip_file), "dataset": dataset, "split": "val", "readouts": scores})
    return scores
