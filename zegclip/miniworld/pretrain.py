"""Pretraining the mini-world's tiny CLIP contrastively on generated image-caption pairs.

Like web-scale CLIP, which saw every real class before ZegCLIP hid some of them, the
tiny CLIP sees every class of the world, unseen ones included: single things on grey or
stuff backgrounds, and stuff regions alone, each captioned with its class name in a
random template. Captions of the same class are all positives of an image (a
multi-positive InfoNCE), since a batch holds many images of each class. The result is a
plain open_clip state dict that ZegCLIP loads exactly as it loads the OpenAI weights.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Dict

import numpy as np
import open_clip
import torch
import torch.nn.functional as F
from tqdm import tqdm

from zegclip.config import AugmentConfig
from zegclip.config.world import PretrainConfig
from zegclip.data.transforms import normalize
from zegclip.io import atomic_path, write_json
from zegclip.miniworld.render import render_single
from zegclip.catalog.miniworld import all_classes
from zegclip.model.text import MULTIPLE_TEMPLATES, encode_class_names

MINI_CLIP = "ZegCLIP-Mini"  # zegclip/clip_configs/ZegCLIP-Mini.json
CAPTION_TEMPLATES = ("a photo of a {}.", "a {} in the scene.", "there is a {} in the scene.",
                     "a photo of the {}.", "this is a {}.", "a {}.")


def _images(names, rng: np.random.Generator) -> torch.Tensor:
    """Normalised (B, 3, 32, 32) images, with the published ImageNet mean/std."""
    batch = np.stack([render_single(n, rng) for n in names]).astype(np.float32)
    return normalize(torch.from_numpy(batch).permute(0, 3, 1, 2), AugmentConfig())  # (B, 3, H, W)


def multi_positive_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE where every caption of an image's class is a positive."""
    same = (labels[:, None] == labels[None, :]).float()
    target = same / same.sum(dim=1, keepdim=True)
    return 0.5 * (torch.sum(-target * logits.log_softmax(1), 1).mean()
                  + torch.sum(-target * logits.T.log_softmax(1), 1).mean())


@torch.no_grad()
def zero_shot_accuracy(model, tokenizer, per_class: int, seed: int) -> Dict[str, float]:
    """Accuracy of classifying held-out single-class images among every class of the world."""
    classes = all_classes()
    model.eval()
    text = encode_class_names(model, tokenizer, classes, MULTIPLE_TEMPLATES)  # (C, E)
    rng = np.random.default_rng([seed, 10_000])  # disjoint from the training stream
    per: Dict[str, float] = {}
    for c, name in enumerate(classes):
        feats = F.normalize(model.encode_image(_images([name] * per_class, rng)), dim=-1)
        per[name] = float(((feats @ text.T).argmax(1) == c).float().mean())
    return per


def pretrain_mini_clip(out: Path, cfg: PretrainConfig = PretrainConfig()) -> Dict[str, object]:
    """Train the tiny CLIP from nothing and save it as ``out`` (safetensors) plus ``out``.json."""
    from safetensors.torch import save_file

    start, cpu_start = time.time(), time.process_time()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = open_clip.create_model(MINI_CLIP)
    tokenizer = open_clip.get_tokenizer(MINI_CLIP)
    classes = all_classes()
    captions = tokenizer([t.format(c) for c in classes for t in CAPTION_TEMPLATES]).view(
        len(classes), len(CAPTION_TEMPLATES), -1)  # (C, T, L)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    other = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": other, "weight_decay": 0.0}], lr=cfg.lr)
    model.train()
    bar = tqdm(range(cfg.steps), desc="pretrain tiny CLIP", dynamic_ncols=True)
    for step in bar:
        warm = min(1.0, (step + 1) / cfg.warmup_steps)
        for g in opt.param_groups:
            g["lr"] = cfg.lr * warm * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        labels = torch.from_numpy(rng.integers(0, len(classes), cfg.batch))
        images = _images([classes[i] for i in labels], rng)
        texts = captions[labels, torch.from_numpy(rng.integers(0, len(CAPTION_TEMPLATES), cfg.batch))]
        img = F.normalize(model.encode_image(images), dim=-1)
        txt = F.normalize(model.encode_text(texts), dim=-1)
        loss = multi_positive_loss(model.logit_scale.exp().clamp(max=100) * img @ txt.T, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        bar.set_postfix(loss=f"{loss.item():.3f}")
    per_class = zero_shot_accuracy(model, tokenizer, cfg.eval_per_class, cfg.seed)
    report = {"model": MINI_CLIP, "config": {**asdict(cfg), "warmup": cfg.warmup_steps}, "zero_shot_accuracy": sum(per_class.values()) / len(per_class),
              "zero_shot_accuracy_min": min(per_class.values()), "per_class_accuracy": per_class,
              "wall_time_s": round(time.time() - start, 1), "threads": torch.get_num_threads(),
              # CPU seconds per wall second: about `threads` when every thread had a core; near 1
              # when the machine gave this process one core's worth (a quota, a busy neighbour).
              "cores_busy": round((time.process_time() - cpu_start) / max(time.time() - start, 1e-9), 2)}
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    with atomic_path(out) as tmp:
        save_file(state, str(tmp))
    write_json(out.with_suffix(".json"), report)
    return report
