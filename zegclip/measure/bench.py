"""Speed benchmarks of the paper-scale model: images/s, peak memory and achieved TFLOP/s.

``infer`` times ``model(images, text)`` under ``no_grad``; ``train`` times a full step:
forward, the configured loss against random labels, backward and an AdamW step. Both
warm up first (``torch.compile`` compiles there). Achieved TFLOP/s counts fvcore's
forward FLOPs (one multiply-add = 2 FLOP here, the hardware convention) and, for a
training step, three times that (forward + backward).
"""
from __future__ import annotations

import resource
from typing import Any, Dict, Optional

import torch
import torch.nn.functional as F

from zegclip.config import ModelConfig
from zegclip.measure.efficiency import count_flops
from zegclip.engine.runtime import autocast, measurement_counts, measurement_device, timed


def _peak_memory_gib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # process peak RSS (KiB on Linux)


def benchmark(cfg: ModelConfig, num_classes: int, mode: str, batch: int, precision: str = "fp32",
              compile: bool = False, iters: int = 10, warmup: int = 3,
              device: Optional[str] = None) -> Dict[str, Any]:
    from zegclip.model import ZegCLIP

    measurement_counts(batch, iters, warmup, least_iters=1)
    dev = measurement_device(device)
    torch.manual_seed(0)
    model = ZegCLIP(cfg)
    E = model.clip.visual.output_dim
    size = cfg.encoder.image_size
    text = F.normalize(torch.randn(num_classes, E), dim=-1)
    flops = count_flops(model, torch.randn(1, 3, size, size), text).total  # multiply-adds per image
    model.to(dev)
    text = text.to(dev)
    images = torch.randn(batch, 3, size, size, device=dev)
    fn = torch.compile(model) if compile else model
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)

    if mode == "infer":
        model.eval()

        @torch.no_grad()
        def step() -> None:
            with autocast(precision, dev):
                fn(images, text)
        work = 2 * flops
    elif mode == "train":
        model.train()
        labels = torch.randint(0, num_classes, (batch, size, size), device=dev)
        opt = torch.optim.AdamW(model.trainable_parameters(), lr=1e-5, fused=dev.type == "cuda" or None)

        def step() -> None:
            with autocast(precision, dev):
                out = fn(images, text)
            out = {**out, "masks": out["masks"].float()}
            loss = sum(model.loss(out, labels).values())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        work = 3 * 2 * flops
    else:
        raise ValueError(f"mode={mode!r}; expected infer or train")

    seconds = timed(step, iters, warmup, dev)
    ips = batch / seconds
    return {
        "mode": mode, "batch": batch, "precision": precision, "compile": compile,
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(), "image_size": size, "num_classes": num_classes,
        "images_per_s": ips, "seconds_per_step": seconds,
        "peak_memory_gib": _peak_memory_gib(dev),
        "peak_memory_kind": "torch.cuda.max_memory_allocated" if dev.type == "cuda" else "process peak RSS",
        "gflop_per_image_forward": 2 * flops / 1e9,
        "achieved_tflops": work * ips / 1e12,
        "iters": iters, "warmup": warmup,
    }


def summary_line(r: Dict[str, Any]) -> str:
    """One benchmark's result (with its dataset) as the line ``zegclip bench`` prints."""
    return (f"{r['dataset']} {r['mode']} on {r['device']}, batch {r['batch']}, {r['precision']}"
            f"{' compiled' if r['compile'] else ''}: {r['images_per_s']:.2f} images/s, "
            f"peak {r['peak_memory_gib']:.2f} GiB ({r['peak_memory_kind']}), {r['achieved_tflops']:.3f} TFLOP/s")
