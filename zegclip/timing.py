"""Timing helpers shared by ``zegclip efficiency`` and ``zegclip bench``."""
from __future__ import annotations

import contextlib
import time
from typing import Any, Callable

import torch


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
