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
from typing import Dict, Tuple

import numpy as np
import open_clip
import torch
import torch.nn.functional as F
from tqdm import tqdm

from zegclip.config import AugmentConfig, ConfigError
from zegclip.config.world import PretrainConfig
from zegclip.data.transforms import normalize
from zegclip.io import atomic_path, write_json
from zegclip.miniworld.render import render_single_labelled
from zegclip.catalog.miniworld import all_classes
from zegclip.model.text import MULTIPLE_TEMPLATES, encode_class_names

CAPTION_TEMPLATES = ("a photo of a {}.", "a {} in the scene.", "there is a {} in the scene.",
                     "a photo of the {}.", "this is a {}.", "a {}.")


def input_size(model) -> int:
    """The tower's input side (its config's vision image_size): what the pretraining renders at."""
    return model.visual.image_size[0]


def _images(names, rng: np.random.Generator, size: int) -> torch.Tensor:
    """Normalised (B, 3, size, size) images, with the published ImageNet mean/std."""
    return _labelled_images(names, rng, {}, size)[0]


def _labelled_images(names, rng: np.random.Generator, class_ids: Dict[str, int], size: int
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Normalised (B, 3, H, W) images and (B, H, W) class ids per pixel (-1: a grey background)."""
    rendered = [render_single_labelled(n, rng, size) for n in names]
    batch = np.stack([image for image, _, _ in rendered]).astype(np.float32)
    # index -1 of each lookup is the grey background's -1
    labels = np.stack([np.array([class_ids.get(c, -1) for c in shown] + [-1])[lb] for _, shown, lb in rendered])
    images = normalize(torch.from_numpy(batch).permute(0, 3, 1, 2), AugmentConfig())  # (B, 3, H, W)
    return images, torch.from_numpy(labels)


def patch_targets(labels: torch.Tensor, patch: int, num_classes: int) -> torch.Tensor:
    """(B, H, W) class ids (-1: none) -> (B, g*g) each patch's class where one covers more than
    half of it, else -100 (ignored)."""
    onehot = F.one_hot(labels.clamp(min=-1) + 1, num_classes + 1).permute(0, 3, 1, 2).float()  # (B, 1+C, H, W)
    share, cls = F.avg_pool2d(onehot, patch).flatten(2).max(dim=1)  # (B, g*g)
    return torch.where((share > 0.5) & (cls > 0), cls - 1, torch.full_like(cls, -100))


def dense_loss(model, images: torch.Tensor, labels: torch.Tensor, class_text: torch.Tensor) -> Tuple[torch.Tensor,
                                                                                                       torch.Tensor]:
    """(image embeddings (B, E), the patch tokens' cross-entropy against every class's text
    embedding (C, E)): each patch token, through ln_post and proj as the image embedding is,
    should name its own patch's class."""
    visual = model.visual
    visual.output_tokens = True
    try:
        pooled, tokens = visual(images)  # (B, E), (B, g*g, D) after ln_post
    finally:
        visual.output_tokens = False
    patches = F.normalize(tokens @ visual.proj, dim=-1)  # (B, g*g, E)
    targets = patch_targets(labels, visual.patch_size[0], class_text.shape[0])
    logits = model.logit_scale.exp().clamp(max=100) * patches @ class_text.T  # (B, g*g, C)
    return pooled, F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)


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
    size = input_size(model)
    for c, name in enumerate(classes):
        feats = F.normalize(model.encode_image(_images([name] * per_class, rng, size)), dim=-1)
        per[name] = float(((feats @ text.T).argmax(1) == c).float().mean())
    return per


def pretrain_mini_clip(out: Path, cfg: PretrainConfig = PretrainConfig()) -> Dict[str, object]:
    """Train the tiny CLIP from nothing and save it as ``out`` (safetensors) plus ``out``.json."""
    if out.suffix != ".safetensors":  # what is written is a safetensors file; its name must say so
        raise ConfigError(f"mini clip --out {out}: expected a file name ending in .safetensors (the weights "
                          f"are written as safetensors)")
    from safetensors.torch import save_file

    start, cpu_start = time.time(), time.process_time()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = open_clip.create_model(cfg.model)
    if cfg.logit_scale is not None:
        model.logit_scale.data.fill_(math.log(cfg.logit_scale))
        model.logit_scale.requires_grad_(False)
    tokenizer = open_clip.get_tokenizer(cfg.model)
    classes = all_classes()
    class_ids = {c: i for i, c in enumerate(classes)}
    captions = tokenizer([t.format(c) for c in classes for t in CAPTION_TEMPLATES]).view(
        len(classes), len(CAPTION_TEMPLATES), -1)  # (C, T, L)
    trained = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    decay = [p for n, p in trained if p.ndim >= 2 and "embedding" not in n]
    other = [p for n, p in trained if not (p.ndim >= 2 and "embedding" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": other, "weight_decay": 0.0}], lr=cfg.lr)
    model.train()
    size = input_size(model)
    bar = tqdm(range(cfg.steps), desc="pretrain tiny CLIP", dynamic_ncols=True)
    for step in bar:
        warm = min(1.0, (step + 1) / cfg.warmup_steps)
        for g in opt.param_groups:
            g["lr"] = cfg.lr * warm * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        labels = torch.from_numpy(rng.integers(0, len(classes), cfg.batch))
        images, pixels = _labelled_images([classes[i] for i in labels], rng, class_ids, size)
        texts = captions[labels, torch.from_numpy(rng.integers(0, len(CAPTION_TEMPLATES), cfg.batch))]
        if cfg.dense_weight:  # patch tokens named too, against every class's name
            class_text = F.normalize(model.encode_text(captions[:, 0]), dim=-1)  # (C, E), "a photo of a {}."
            pooled, dense = dense_loss(model, images, pixels, class_text)
            img = F.normalize(pooled, dim=-1)
        else:
            img = F.normalize(model.encode_image(images), dim=-1)
        txt = F.normalize(model.encode_text(texts), dim=-1)
        loss = multi_positive_loss(model.logit_scale.exp().clamp(max=100) * img @ txt.T, labels)
        if cfg.dense_weight:
            loss = loss + cfg.dense_weight * dense
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        bar.set_postfix(loss=f"{loss.item():.3f}")
    per_class = zero_shot_accuracy(model, tokenizer, cfg.eval_per_class, cfg.seed)
    report = {"model": cfg.model, "config": {**asdict(cfg), "warmup": cfg.warmup_steps}, "zero_shot_accuracy": sum(per_class.values()) / len(per_class),
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
