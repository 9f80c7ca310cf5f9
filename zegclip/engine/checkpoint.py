"""Checkpoints that load with ``torch.load(weights_only=True)``, written atomically."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, Optional

import torch
from torch import nn

from zegclip.io import atomic_path

_ITER = re.compile(r"^iter_(\d+)\.pt$")


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, truncated or not a zegclip checkpoint."""


def model_state(model: nn.Module, full: bool) -> Dict[str, torch.Tensor]:
    """The trainable parameters (and buffers of trained modules); every tensor if ``full``."""
    if full:
        return model.state_dict()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    return {k: v for k, v in model.state_dict().items() if k in trainable}


def save_checkpoint(path: Path, model: nn.Module, iteration: int, config: dict, full: bool,
                    optimizer: Optional[torch.optim.Optimizer] = None) -> None:
    state: Dict[str, Any] = {"format": "zegclip-checkpoint-1", "iteration": iteration,
                             "config": json.dumps(config), "model": model_state(model, full),
                             "rng": torch.get_rng_state()}
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path) -> Dict[str, Any]:
    if not Path(path).is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        raise CheckpointError(f"cannot read checkpoint {path} (truncated or not a torch file?): {err}") from err
    if not isinstance(state, dict) or state.get("format") != "zegclip-checkpoint-1":
        raise CheckpointError(f"{path} is not a zegclip checkpoint (no 'format: zegclip-checkpoint-1' entry)")
    state["config"] = json.loads(state["config"])
    return state


def load_weights(model: nn.Module, state: Dict[str, Any], path: Path) -> None:
    """Load a checkpoint's tensors into ``model``; every trainable parameter must be there."""
    missing = [n for n, p in model.named_parameters() if p.requires_grad and n not in state["model"]]
    unexpected = [k for k in state["model"] if k not in model.state_dict()]
    if missing or unexpected:
        raise CheckpointError(f"checkpoint {path} does not fit this model: missing {missing[:5]}, "
                              f"unexpected {unexpected[:5]}")
    model.load_state_dict(state["model"], strict=False)


def latest_checkpoint(folder: Path) -> Optional[Path]:
    found = [(int(m.group(1)), p) for p in folder.glob("iter_*.pt") if (m := _ITER.match(p.name))]
    return max(found)[1] if found else None
