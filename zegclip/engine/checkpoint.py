"""Checkpoints that load with ``torch.load(weights_only=True)``, written atomically."""
from __future__ import annotations

import errno
import hashlib
import json
import pickle
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any, Dict, Optional

import torch
from torch import nn

from zegclip.errors import ZegclipError, refused_import
from zegclip.io import atomic_path

_ITER = re.compile(r"^iter_(\d+)\.pt$")


class CheckpointError(RuntimeError, ZegclipError):
    """A checkpoint that is missing, truncated or not a zegclip checkpoint."""


def model_state(model: nn.Module, full: bool) -> Dict[str, torch.Tensor]:
    """The trainable parameters (and buffers of trained modules); every tensor if ``full``."""
    if full:
        return model.state_dict()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    return {k: v for k, v in model.state_dict().items() if k in trainable}


def save_checkpoint(path: Path, model: nn.Module, iteration: int, identity: Dict[str, Any], full: bool,
                    optimizer: Optional[torch.optim.Optimizer] = None) -> None:
    """``identity``: the resolved config and the digest of the starting weights (``init_sha256``)."""
    state: Dict[str, Any] = {"format": "zegclip-checkpoint-1", "iteration": iteration,
                             "config": json.dumps(identity["config"]), "init_sha256": identity["init_sha256"],
                             "model": model_state(model, full), "rng": torch.get_rng_state()}
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    with atomic_path(path) as tmp:
        try:
            torch.save(state, tmp)
        except RuntimeError as err:  # torch's writer reports a full disk as a RuntimeError
            raise OSError(errno.EIO, f"cannot write checkpoint ({_first_line(err)})", str(path)) from None


def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def load_checkpoint(path: Path) -> Dict[str, Any]:
    """A zegclip checkpoint, read with ``weights_only=True``: a file holding any other Python
    object (code that would run on unpickling) is refused, never executed."""
    if Path(path).is_dir():
        latest = latest_checkpoint(Path(path) / "checkpoints")
        raise CheckpointError(f"checkpoint {path} is a directory; expected a checkpoint file: a run's "
                              f"{Path(path) / 'final.pt'}" + (f", or its latest checkpoint {latest}" if latest else ""))
    if not Path(path).is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with warnings.catch_warnings():  # torch warns about odd pickle protocols before it refuses them
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        imported = refused_import(err)
        if imported:
            raise CheckpointError(f"refused checkpoint {path}: it would import {imported}, and only "
                                  "tensors and plain containers are ever loaded (weights_only=True); expected a "
                                  "zegclip checkpoint") from None
        raise CheckpointError(f"cannot read checkpoint {path}: not a torch checkpoint (truncated, or another "
                              "kind of file)") from None
    # garbage makes torch's weights-only unpickler fail in many ways (seen on random bytes: IndexError,
    # KeyError, UnicodeDecodeError, besides UnpicklingError)
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError, TypeError, AttributeError,
            zipfile.BadZipFile) as err:
        raise CheckpointError(f"cannot read checkpoint {path} (truncated or not a torch file?): "
                              f"{_first_line(err)}") from None
    if not isinstance(state, dict) or state.get("format") != "zegclip-checkpoint-1":
        raise CheckpointError(f"{path} is not a zegclip checkpoint (no 'format: zegclip-checkpoint-1' entry)")
    try:
        state["config"] = json.loads(state["config"])
        if not isinstance(state["model"], dict) or not isinstance(state["iteration"], int):
            raise TypeError("model or iteration")
    except (KeyError, TypeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"checkpoint {path} is incomplete ({_first_line(err)}); expected config, model "
                              "and iteration entries") from None
    return state


def load_weights(model: nn.Module, state: Dict[str, Any], path: Path) -> None:
    """Load a checkpoint's tensors into ``model``; every trainable parameter must be there, with
    the model's shape."""
    own = model.state_dict()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and n not in state["model"]]
    unexpected = [k for k in state["model"] if k not in own]
    if missing or unexpected:
        raise CheckpointError(f"checkpoint {path} does not fit this model: missing {missing[:5]}, "
                              f"unexpected {unexpected[:5]}")
    for key, value in state["model"].items():
        if not isinstance(value, torch.Tensor) or value.shape != own[key].shape:
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise CheckpointError(f"checkpoint {path} does not fit this model: {key} is {shape} there, "
                                  f"{tuple(own[key].shape)} here (another model's or dataset's checkpoint?)")
    model.load_state_dict(state["model"], strict=False)


def file_digest(path: Path) -> str:
    """sha256 of a file (the starting weights of a self-training run, recorded with its checkpoints)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def latest_checkpoint(folder: Path) -> Optional[Path]:
    found = [(int(m.group(1)), p) for p in folder.glob("iter_*.pt") if (m := _ITER.match(p.name))]
    return max(found)[1] if found else None
