"""Table 3 on any device: learnable parameters, FLOPs of one forward, throughput.

FLOPs follow the paper's convention (fvcore: one multiply-add = one flop) for the image
encoder and decoder of one 512x512 forward with precomputed text embeddings. fvcore
misses attention with modern PyTorch: ``nn.MultiheadAttention``'s eval fast path traces
as one opaque op and ``scaled_dot_product_attention`` has no handle. We disable the fast
path while counting, register a handle for the attention op, and refuse to report a
count while any attention op is left uncounted.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import torch
from torch import Tensor, nn

from zegclip.config import ModelConfig
from zegclip.engine.runtime import autocast, measurement_counts, measurement_device, timed

ATTENTION_OPS = ("aten::scaled_dot_product_attention", "aten::_native_multi_head_attention",
                 "aten::_scaled_dot_product_flash_attention", "aten::_scaled_dot_product_efficient_attention",
                 "aten::_scaled_dot_product_flash_attention_for_cpu")


def _shape(value: Any) -> List[int]:
    return list(value.type().sizes())


def sdpa_flop_handle(inputs: List[Any], outputs: List[Any]) -> int:
    """q (..., L, E), k (..., S, E), v (..., S, Ev): QK^T and attn@V multiply-adds."""
    q, k, v = (_shape(x) for x in inputs[:3])
    batch = 1
    for d in q[:-2]:
        batch *= d
    L, E, S, Ev = q[-2], q[-1], k[-2], v[-1]
    return batch * L * S * (E + Ev)


@contextlib.contextmanager
def _mha_fastpath(enabled: bool):
    previous = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(enabled)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(previous)


@dataclass
class FlopCount:
    total: float  # flops (multiply-adds)
    by_operator: Dict[str, float]
    unsupported: Dict[str, int]


def count_flops(model: nn.Module, images: Tensor, text: Tensor) -> FlopCount:
    """fvcore count of ``model(images, text)``, attention included; fails if attention is missed."""
    from fvcore.nn import FlopCountAnalysis

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), _mha_fastpath(False):
            analysis = FlopCountAnalysis(model, (images, text))
            analysis.set_op_handle(**{op: sdpa_flop_handle for op in ATTENTION_OPS})
            analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            total = float(analysis.total())
            unsupported = dict(analysis.unsupported_ops())
            by_operator = {k: float(v) for k, v in analysis.by_operator().items()}
            upsampling = analysis.by_module_and_operator().get("upsample", {})
    finally:
        model.train(was_training)
    missed = [op for op in unsupported if "attention" in op]
    if missed:
        raise RuntimeError(f"fvcore left attention ops uncounted: {missed}; the FLOP count would be too low")
    # Our mask upsampling is two matrix products; the published head calls F.interpolate, which
    # fvcore counts as 4 flops per output element. Count it the published way.
    for op, flops in upsampling.items():
        by_operator[op] -= flops
        total -= flops
    bilinear = 4.0 * images.shape[0] * text.shape[0] * images.shape[-2] * images.shape[-1]
    by_operator["upsample_bilinear2d"] = by_operator.get("upsample_bilinear2d", 0.0) + bilinear
    return FlopCount(total + bilinear, by_operator, unsupported)


def parameters_with_gradients(model: nn.Module, text: Tensor, image_size: int) -> int:
    """Parameters that receive a gradient from a training-mode forward and backward.

    Runs at a small ``image_size`` (same parameters, far less compute than 512x512).
    """
    model.train()
    model.zero_grad(set_to_none=True)
    images = torch.randn(1, 3, image_size, image_size)
    model(images, text)["masks"].float().square().mean().backward()
    n = sum(p.numel() for p in model.parameters() if p.grad is not None and p.grad.abs().sum() > 0)
    model.zero_grad(set_to_none=True)
    return n


@torch.no_grad()
def throughput(model: nn.Module, text: Tensor, image_size: int, batch: int, iters: int, warmup: int,
               precision: str, device: torch.device) -> float:
    """Inference images/s of ``model(images, text)`` at a batch size and precision."""
    model.eval()
    images = torch.randn(batch, 3, image_size, image_size, device=device)

    def step() -> None:
        with autocast(precision, device):
            model(images, text)
    return batch / timed(step, iters, warmup, device)


def efficiency_report(cfg: ModelConfig, num_classes: int, *, batch: int = 1, iters: int = 2, warmup: int = 1,
                      precision: str = "fp32", device: Optional[str] = None,
                      grad_image_size: int = 64) -> Dict[str, Any]:
    """Everything Table 3 reports, for a model built from ``cfg`` with random weights."""
    from zegclip.model import ZegCLIP

    measurement_counts(batch, iters, warmup, least_iters=0)  # 0: the counts only, no timing
    dev = measurement_device(device)  # a missing or misspelt device fails before any work, timed or not
    torch.manual_seed(0)
    model = ZegCLIP(cfg)
    E = model.clip.visual.output_dim
    text = nn.functional.normalize(torch.randn(num_classes, E), dim=-1)
    size = cfg.encoder.image_size

    trainable = sum(p.numel() for p in model.trainable_parameters())
    with_grads = parameters_with_gradients(model, text, grad_image_size)
    flops = count_flops(model, torch.randn(1, 3, size, size), text)
    attention = sum(v for k, v in flops.by_operator.items() if "attention" in k)

    report: Dict[str, Any] = {
        "model": cfg.clip.model, "image_size": size, "num_classes": num_classes,
        "prompt_tokens": cfg.encoder.prompt.tokens if cfg.encoder.mode == "dpt" else 0,
        "encoder_mode": cfg.encoder.mode,
        "params_M": {
            "published_convention": model.published_param_count() / 1e6,
            "trainable": trainable / 1e6,
            "receiving_gradients": with_grads / 1e6,
        },
        "gflops": {"total": flops.total / 1e9, "attention_products": attention / 1e9,
                   "without_attention_products": (flops.total - attention) / 1e9},
        "fvcore_unsupported_ops": flops.unsupported,
    }
    if iters > 0:
        model.to(dev)
        fps = throughput(model, text.to(dev), size, batch, iters, warmup, precision, dev)
        report["throughput"] = {"images_per_s": fps, "batch": batch, "precision": precision,
                                "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
                                "iters": iters, "warmup": warmup}
    return report


def render_text(report: Dict[str, Any]) -> str:
    """``efficiency_report`` (with its dataset) as the table ``zegclip efficiency`` prints."""
    from tabulate import tabulate

    params, flops = report["params_M"], report["gflops"]
    rows = [
        ["#Params (M), published convention", f"{params['published_convention']:.3f}"],
        ["#Params (M), trainable", f"{params['trainable']:.3f}"],
        ["#Params (M), receiving gradients", f"{params['receiving_gradients']:.3f}"],
        ["GFLOPs (fvcore, 1 MAC = 1 flop)", f"{flops['total']:.2f}"],
        ["  of which attention products", f"{flops['attention_products']:.2f}"],
    ]
    if "throughput" in report:
        t = report["throughput"]
        rows.append([f"images/s ({t['device']}, batch {t['batch']}, {t['precision']})", f"{t['images_per_s']:.2f}"])
    size = report["image_size"]
    return (f"ZegCLIP efficiency, {report['dataset']} config ({report['num_classes']} classes, "
            f"{report['prompt_tokens']} prompt tokens, {size}x{size})\n" + tabulate(rows, tablefmt="github"))
