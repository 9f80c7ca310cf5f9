"""Class-name embeddings from CLIP's frozen text encoder, computed once and cached on disk.

The cache key covers the model name, a digest of the text tower's weights, the
templates, the class names and the fp16 rounding, so any change to one of them computes anew.
The published model never runs its text encoder: it loads L2-normalised class embeddings
stored in float16 (``model.text.fp16`` rounds ours the same way).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Optional, Sequence

import open_clip
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zegclip.io import atomic_path
from zegclip.model.clip import default_cache_root, text_tower_parameters

SINGLE_TEMPLATE = ("a photo of a {}.",)
PUBLISHED_VOC_TEMPLATE = ("a photo of a {}",)  # the published VOC embeddings: no period
MULTIPLE_TEMPLATES = (
    "a photo of a {}.", "a photo of a small {}.", "a photo of a medium {}.", "a photo of a large {}.",
    "This is a photo of a {}.", "This is a photo of a small {}.", "This is a photo of a medium {}.",
    "This is a photo of a large {}.", "a {} in the scene.", "a photo of a {} in the scene.",
    "There is a {} in the scene.", "There is the {} in the scene.", "This is a {} in the scene.",
    "This is the {} in the scene.", "This is one {} in the scene.",
)
TEMPLATES = {"single": SINGLE_TEMPLATE, "single_no_period": PUBLISHED_VOC_TEMPLATE, "multiple": MULTIPLE_TEMPLATES}


def text_weights_digest(clip: nn.Module) -> str:
    h = hashlib.sha256()
    for p in text_tower_parameters(clip):
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def cache_key(model_name: str, weights_digest: str, templates: Sequence[str], classes: Sequence[str],
              fp16: bool) -> str:
    blob = json.dumps([model_name, weights_digest, list(templates), list(classes), "fp16" if fp16 else "fp32"]).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


@torch.no_grad()
def encode_class_names(clip: nn.Module, tokenizer, classes: Sequence[str], templates: Sequence[str],
                       batch: int = 256) -> Tensor:
    """(C, E): per class, the mean of the L2-normalised template embeddings, renormalised."""
    device = next(clip.parameters()).device
    prompts = [t.format(c) for c in classes for t in templates]
    out = []
    for i in range(0, len(prompts), batch):
        tokens = tokenizer(prompts[i:i + batch]).to(device)
        out.append(F.normalize(clip.encode_text(tokens).float(), dim=-1))
    emb = torch.cat(out).view(len(classes), len(templates), -1).mean(dim=1)  # (C, E)
    return F.normalize(emb, dim=-1)


def class_embeddings(clip: nn.Module, model_name: str, classes: Sequence[str], templates: str,
                     fp16: bool, cache_dir: Optional[str] = None) -> Tensor:
    """Cached :func:`encode_class_names` (float32, (C, E)) for a template set name (a key of
    ``TEMPLATES``); with ``fp16`` the embeddings are stored, as the published ones, in float16."""
    from safetensors.torch import load_file, save_file

    template_list = TEMPLATES[templates]
    root = Path(cache_dir).expanduser() if cache_dir else default_cache_root() / "text"
    path = root / f"{cache_key(model_name, text_weights_digest(clip), template_list, classes, fp16)}.safetensors"
    if not path.is_file():
        emb = encode_class_names(clip, open_clip.get_tokenizer(model_name), classes, template_list).cpu()
        emb = emb.half() if fp16 else emb
        with atomic_path(path) as tmp:
            save_file({"embeddings": emb.contiguous()}, str(tmp),
                      metadata={"model": model_name, "templates": templates, "fp16": str(fp16),
                                "classes": json.dumps(list(classes))})
    return load_file(str(path))["embeddings"].float()
