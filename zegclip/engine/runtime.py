"""Where and in what precision the engine runs: shared by training and evaluation."""
from __future__ import annotations

import os

import torch

from zegclip.timing import autocast


def resolve_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cpu")


def autocast_for(precision: str, device: torch.device):
    """``train.precision``: auto is bf16 autocast on a GPU and fp32 on a CPU."""
    bf16 = precision == "bf16" or (precision == "auto" and device.type == "cuda")
    return autocast("bf16" if bf16 else "fp32", device)
