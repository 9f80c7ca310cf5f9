"""A run's structural fingerprint: the facts about what was trained that no number should move.

Read off the live model and its resolved configuration when a run is evaluated, written into
``results.json`` and compared exactly by ``zegclip check`` with the golden file's. The numbers
guard against code-level mistakes; the fingerprint guards against a changed recipe or a model
built otherwise (a query dropped, an encoder left trainable, a loss term off).
"""
from __future__ import annotations

import hashlib
import json
from typing import Dict, Union

from torch import nn

from zegclip.config import RunConfig, to_dict

Fact = Union[int, str]

# The parameter groups counted, by name prefix (the text tower is the rest of ``clip``).
PARAMETER_GROUPS = (("prompts", "prompts."), ("image_encoder", "clip.visual."), ("query_proj", "query_proj."),
                    ("decoder", "decoder."), ("text_encoder", "clip."))

# Where and how a run was made, not what: blanked before the recipe's digest, so that the same
# recipe trained with another seed, data folder or weights path has the same fingerprint.
NOT_RECIPE = ("train.seed", "train.init_from", "train.checkpoint_every", "train.eval_every", "data.root",
              "data.workers", "data.cache", "model.clip.pretrained", "model.clip.cache_dir", "model.text.cache_dir",
              "model.inference.batch")


def trainable_counts(model: nn.Module) -> Dict[str, int]:
    """Trainable parameters per group (PARAMETER_GROUPS; each parameter in its first match)."""
    counts = {name: 0 for name, _ in PARAMETER_GROUPS}
    for pname, p in model.named_parameters():
        if p.requires_grad:
            group = next((name for name, prefix in PARAMETER_GROUPS if pname.startswith(prefix)), "other")
            counts[group] = counts.get(group, 0) + p.numel()
    return counts


def recipe_digest(cfg: RunConfig) -> str:
    """The digest of the resolved configuration without NOT_RECIPE's fields."""
    tree = to_dict(cfg)
    for dotted in NOT_RECIPE:
        *parents, leaf = dotted.split(".")
        node = tree
        for key in parents:
            node = node[key]
        node[leaf] = None
    return hashlib.sha256(json.dumps(tree, sort_keys=True).encode()).hexdigest()[:16]


def loss_terms(cfg: RunConfig) -> str:
    """The loss terms that train, with their weights (a zero-weighted term does not train)."""
    loss = cfg.model.loss
    terms = {"ce": {"ce": 1.0}, "plain": {"bce": loss.bce_weight},
             "plus": {"focal": loss.focal_weight, "dice": loss.dice_weight}}[loss.kind]
    return " + ".join(f"{name} x{weight:g}" for name, weight in terms.items() if weight) or "none"


def fingerprint(model: nn.Module, cfg: RunConfig) -> Dict[str, Fact]:
    """The run's structural facts, flat (``fact: value``), each compared exactly."""
    from zegclip.model.text import TEMPLATES  # the model layer owns the template sets

    prompt = cfg.model.encoder.prompt
    dpt = cfg.model.encoder.mode == "dpt"
    facts: Dict[str, Fact] = {f"trainable.{k}": v for k, v in trainable_counts(model).items()}
    facts.update({
        "encoder_mode": cfg.model.encoder.mode,
        "query_width": model.query_proj.in_features,
        "prompt_tokens": prompt.tokens if dpt else 0,
        "prompt_layers": f"{prompt.layers[0]}-{prompt.layers[1]}" if dpt else "none",
        "templates": len(TEMPLATES[cfg.model.text.templates]),
        "loss": loss_terms(cfg),
        "recipe": recipe_digest(cfg),
    })
    return facts
