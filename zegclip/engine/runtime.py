"""Where, in what precision and how fast the code runs: the device and autocast shared by
training and evaluation, and the device checks and timers of ``zegclip efficiency`` and
``zegclip bench``."""
from __future__ import annotations

import contextlib
import os
import time
from typing import Any, Callable, Optional

import torch

from zegclip.config import ConfigError


def measurement_device(name: Optional[str]) -> torch.device:
    """The device a measurement was asked for. Unset: a GPU if one is visible, else the CPU. A GPU
    asked for by name must exist: a throughput measured on the CPU instead would be reported as
    if it were the GPU's."""
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ConfigError(f"--device {name}: not a device name; expected cpu, cuda or cuda:N") from err
    if device.type == "cuda":
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        where = f" (CUDA_VISIBLE_DEVICES={visible!r})" if visible is not None else ""
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {name}: no CUDA device is visible to this process{where}; "
                              f"run it where a GPU is allocated (on SLURM: the rule's gpu resource), "
                              f"or pass --device cpu to measure the CPU")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) are visible{where}")
    elif device.type != "cpu":
        raise ConfigError(f"--device {name}: expected cpu, cuda or cuda:N")
    return device


def measurement_counts(batch: int, iters: int, warmup: int, least_iters: int) -> None:
    """The sizes a measurement was asked for: a batch of at least one image, no negative counts
    (``least_iters`` timed steps at least: 0 where timing is optional)."""
    for name, value, least in (("--batch", batch, 1), ("--iters", iters, least_iters), ("--warmup", warmup, 0)):
        if value < least:
            raise ConfigError(f"{name} {value}: expected an integer of at least {least}")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def autocast(precision: str, device: torch.device):
    """bf16 autocast, or nothing for fp32."""
    return torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()


def timed(step: Callable[[], Any], iters: int, warmup: int, device: torch.device) -> float:
    """Seconds per call of ``step`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        step()
    sync(device)
    start = time.perf_counter()
    for _ in range(iters):
        step()
    sync(device)
    return (time.perf_counter() - start) / iters


def resolve_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cpu")


def autocast_for(precision: str, device: torch.device):
    """``train.precision``: auto is bf16 autocast on a GPU and fp32 on a CPU."""
    bf16 = precision == "bf16" or (precision == "auto" and device.type == "cuda")
    return autocast("bf16" if bf16 else "fp32", device)
