"""Training: one run directory per run, resumable, deterministic on CPU for a seed.

    RUN/config.json          the fully resolved RunConfig (``zegclip train --config RUN/config.json``
                             reproduces the run)
    RUN/train.log            one JSON line per logged iteration
    RUN/checkpoints/iter_N.pt  every ``checkpoint_every`` iterations; a restart resumes from the last
    RUN/final.pt             the trained weights
    RUN/results.json         the evaluation on the dataset's eval split (unless disabled)
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Dict, Optional

import torch
import torch.distributed as dist
from tqdm import tqdm

from zegclip.config import RunConfig, ConfigError, to_dict
from zegclip.data.datasets import SegmentationDataset
from zegclip.data.loader import training_loader
from zegclip.engine.checkpoint import latest_checkpoint, load_checkpoint, load_weights, save_checkpoint
from zegclip.engine.optim import build_optimizer, set_learning_rates
from zegclip.engine.targets import training_class_ids, training_targets
from zegclip.io import atomic_path, write_json
from zegclip.model import ZegCLIP
from zegclip.timing import autocast


class TrainingError(RuntimeError):
    """Training cannot go on (a non-finite loss, ...)."""


def resolve_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cpu")


def autocast_for(precision: str, device: torch.device):
    """``train.precision``: auto is bf16 autocast on a GPU and fp32 on a CPU."""
    bf16 = precision == "bf16" or (precision == "auto" and device.type == "cuda")
    return autocast("bf16" if bf16 else "fp32", device)


def _distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", 1))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def _truncate_log(path: Path, iteration: int) -> None:
    """Drop log lines of iterations after the checkpoint a run resumes from."""
    if not path.is_file():
        return
    keep = [line for line in path.read_text().splitlines() if json.loads(line)["iter"] <= iteration]
    with atomic_path(path) as tmp:
        tmp.write_text("".join(line + "\n" for line in keep))


def build_model(cfg: RunConfig, device: torch.device) -> ZegCLIP:
    torch.manual_seed(cfg.train.seed)
    model = ZegCLIP(cfg.model).to(device)
    if cfg.train.init_from:
        path = Path(cfg.train.init_from)
        load_weights(model, load_checkpoint(path), path)
    return model


def train(cfg: RunConfig, run_dir: Path, evaluate_after: bool = True) -> Dict[str, object]:
    """Train (or resume) the run in ``run_dir``; returns the results of the final evaluation."""
    if cfg.data.root is None:
        raise ConfigError("data.root is not set; expected the dataset's folder, e.g. --set data.root=/data/VOCdevkit/VOC2012")
    rank, world = _distributed()
    device = resolve_device()
    t = cfg.train
    run_dir.mkdir(parents=True, exist_ok=True)
    resolved = to_dict(cfg)
    if rank == 0:
        write_json(run_dir / "config.json", resolved)

    dataset = SegmentationDataset(cfg.data.dataset, cfg.data.root, cfg.data.train_split, cfg.data.cache)
    info = dataset.info
    model = build_model(cfg, device)
    class_ids = training_class_ids(t.setting, info)
    text = model.encode_classes([info.classes[i] for i in class_ids]).to(device)  # (C', E)
    optimizer = build_optimizer(model, t)
    full_state = cfg.model.clip.pretrained is None  # random frozen weights must travel with the run

    start = 0
    ckpt_dir = run_dir / "checkpoints"
    last = latest_checkpoint(ckpt_dir)
    if last is not None:
        state = load_checkpoint(last)
        if state["config"] != resolved:
            raise TrainingError(f"{last} was written by a different configuration than {run_dir / 'config.json'}; "
                                "use a new run directory")
        load_weights(model, state, last)
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        start = state["iteration"]
        if rank == 0:
            _truncate_log(run_dir / "train.log", start)

    ddp = (torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                                     find_unused_parameters=True) if world > 1 else model)
    loader = training_loader(dataset, cfg.data.augment, t.batch, t.seed, start, t.iters, cfg.data.workers, rank, world)
    model.train()
    log = open(run_dir / "train.log", "a", buffering=1) if rank == 0 else None
    bar = tqdm(total=t.iters, initial=start, desc=f"train {run_dir.name}", disable=rank != 0, dynamic_ncols=True)
    last_good: Optional[Path] = last
    try:
        for it, (images, labels, valid) in enumerate(loader, start=start):
            set_learning_rates(optimizer, it, t)
            images, labels, valid = (x.to(device, non_blocking=True) for x in (images, labels, valid))
            with autocast_for(t.precision, device):
                out = ddp(images, text)
            out = {**out, "masks": out["masks"].float()}
            targets = training_targets(t.setting, labels, valid, out["masks"], info, cfg.model.loss.sigmoid)
            terms = model.loss(out, targets)
            loss = sum(terms.values())
            if not math.isfinite(loss.item()):
                raise TrainingError(f"iteration {it + 1}: the loss is {loss.item()} ({ {k: v.item() for k, v in terms.items()} }); "
                                    f"stopped; last good checkpoint: {last_good or 'none'}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.4f}")
            if log is not None:
                log.write(json.dumps({"iter": it + 1, "loss": loss.item(), "lr": optimizer.param_groups[0]["lr"],
                                      **{k: v.item() for k, v in terms.items()}}) + "\n")
            if rank == 0 and ((it + 1) % t.checkpoint_every == 0 or it + 1 == t.iters):
                last_good = ckpt_dir / f"iter_{it + 1}.pt"
                save_checkpoint(last_good, model, it + 1, resolved, full_state, optimizer)
    finally:
        bar.close()
        if log is not None:
            log.close()
    if rank == 0:
        save_checkpoint(run_dir / "final.pt", model, t.iters, resolved, full_state)
    if world > 1:
        dist.barrier()
    if not evaluate_after or rank != 0:
        return {}
    from zegclip.engine.evaluate import evaluate_run

    return evaluate_run(model, cfg, run_dir / "final.pt", run_dir / "results.json", device)
