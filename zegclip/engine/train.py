"""Training: one run directory per run, resumable, deterministic on CPU for a seed.

    RUN/config.json          the fully resolved RunConfig (``zegclip train --config RUN/config.json``
                             reproduces the run)
    RUN/train.log            one JSON line per logged iteration
    RUN/curve.jsonl          with ``train.eval_every``: one JSON line per evaluation during training
    RUN/checkpoints/iter_N.pt  every ``checkpoint_every`` iterations; a restart resumes from the last
    RUN/final.pt             the trained weights
    RUN/results.json         the evaluation on the dataset's eval split (unless disabled)
"""
from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Dict, List, Optional

import torch
import torch.distributed as dist
from tqdm import tqdm

from zegclip.errors import ZegclipError
from zegclip.catalog.benchmarks import is_custom
from zegclip.config import RunConfig, ConfigError, to_dict
from zegclip.data.datasets import SegmentationDataset
from zegclip.data.loader import training_batches
from zegclip.engine.checkpoint import file_digest, latest_checkpoint, load_checkpoint, load_weights, save_checkpoint
from zegclip.engine.evaluate import curve_point, evaluate_run
from zegclip.engine.optim import build_optimizer, set_learning_rates
from zegclip.engine.runtime import autocast_for, resolve_device
from zegclip.engine.targets import training_class_ids, training_targets
from zegclip.io import atomic_path, remove_stale_temporaries, write_json, writing
from zegclip.model import ZegCLIP


# what a run directory holds
RUN_FILES = ("config.json", "train.log", "curve.jsonl", "checkpoints", "final.pt", "results.json")


class TrainingError(RuntimeError, ZegclipError):
    """Training cannot go on (a non-finite loss, ...)."""


def _distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", 1))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def _read_log(path: Path) -> List[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def _mean_loss(log: Path, after: int, upto: int) -> float:
    """The mean training loss of iterations ``after+1 .. upto`` (from the log, so that a resumed
    run gets the same curve as an uninterrupted one)."""
    losses = [e["loss"] for e in _read_log(log) if after < e["iter"] <= upto]
    return sum(losses) / len(losses)


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
        load_weights(model, load_checkpoint(path), path)  # shapes checked before the first step
    return model


def run_identity(cfg: RunConfig) -> Dict[str, object]:
    """What a run directory's checkpoints must have been made with to be resumed: the resolved
    configuration and, for a run that starts from another's weights, that file's digest."""
    init = cfg.train.init_from
    return {"config": to_dict(cfg), "init_sha256": file_digest(Path(init)) if init else None}


def _flat(d: object, prefix: str = "") -> Dict[str, object]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: Dict[str, object] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}.{k}" if prefix else k))
    return out


def _differences(old: Dict[str, object], new: Dict[str, object]) -> str:
    a, b = _flat(old), _flat(new)
    keys = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    shown = ", ".join(f"{k}: {a.get(k)!r} there, {b.get(k)!r} now" for k in keys[:4])
    return shown + (f" and {len(keys) - 4} more" if len(keys) > 4 else "")


def open_run_dir(run_dir: Path, identity: Dict[str, object], restart_if_changed: bool) -> Optional[Path]:
    """The checkpoint to resume from, if the run directory holds one made with ``identity``.

    Checkpoints made otherwise are refused, or with ``restart_if_changed`` the run's files are
    deleted and it starts afresh. Temporary files a killed write left behind are removed."""
    remove_stale_temporaries(run_dir)
    remove_stale_temporaries(run_dir / "checkpoints")
    last = latest_checkpoint(run_dir / "checkpoints")
    if last is None:
        return None
    state = load_checkpoint(last)
    theirs = {"config": state["config"], "init_sha256": state.get("init_sha256")}
    if theirs == identity:
        return last
    if not restart_if_changed:
        raise TrainingError(f"{last} was made with another configuration or starting weights "
                            f"({_differences(theirs, identity)}); use a new run directory, or pass "
                            f"--restart-if-changed to delete this run's files and start afresh")
    for name in RUN_FILES:
        if name != "checkpoints":  # a folder: only its iter_N.pt are a run's, below
            (run_dir / name).unlink(missing_ok=True)
    ckpt_dir = run_dir / "checkpoints"
    for path in ckpt_dir.glob("iter_*.pt"):  # what a run writes there; anything else is the user's
        path.unlink()
    kept = sorted(p.name for p in ckpt_dir.iterdir()) if ckpt_dir.is_dir() else []
    if kept:
        print(f"zegclip train: --restart-if-changed kept {len(kept)} file(s) in {ckpt_dir} that no run writes: "
              f"{', '.join(kept[:5])}{' ...' if len(kept) > 5 else ''}", file=sys.stderr)
    return None


def train(cfg: RunConfig, run_dir: Path, evaluate_after: bool = True,
          restart_if_changed: bool = False) -> Dict[str, object]:
    """Train (or resume) the run in ``run_dir``; returns the results of the final evaluation.

    Everything the run will need is checked before anything is written: the data root, both
    splits (present, non-empty, a sample of labels in range), the starting checkpoint's shapes,
    and that the run directory's checkpoints were made by this configuration."""
    if cfg.data.root is None and not is_custom(cfg.data.dataset):  # custom: the description's folder
        raise ConfigError("data.root is not set; expected the dataset's folder, e.g. --set data.root=/data/VOCdevkit/VOC2012")
    rank, world = _distributed()
    device = resolve_device()
    t = cfg.train
    dataset = SegmentationDataset(cfg.data.dataset, cfg.data.root, cfg.data.train_split, cfg.data.cache)
    dataset.verify_sample()
    eval_dataset = None
    if evaluate_after or t.eval_every:
        eval_dataset = SegmentationDataset(cfg.data.dataset, cfg.data.root, cfg.data.eval_split, cfg.data.cache)
        eval_dataset.verify_all()  # a bad validation label would otherwise surface only after training
    info = dataset.info
    model = build_model(cfg, device)
    identity = run_identity(cfg)
    resolved = identity["config"]
    last = open_run_dir(run_dir, identity, restart_if_changed) if rank == 0 else None
    if world > 1:
        dist.barrier()  # rank 0 has checked (or cleared) the run directory
        last = latest_checkpoint(run_dir / "checkpoints")
    if rank == 0:
        write_json(run_dir / "config.json", resolved)

    class_ids = training_class_ids(t.setting, info)
    text = model.encode_classes([info.classes[i] for i in class_ids]).to(device)  # (C', E)
    optimizer = build_optimizer(model, t)
    full_state = cfg.model.clip.pretrained is None  # random frozen weights must travel with the run

    start = 0
    ckpt_dir = run_dir / "checkpoints"
    if last is not None:
        state = load_checkpoint(last)
        load_weights(model, state, last)
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        start = state["iteration"]
    if rank == 0:  # also a run killed before its first checkpoint: its log starts again
        _truncate_log(run_dir / "train.log", start)
        _truncate_log(run_dir / "curve.jsonl", start)

    # after every check: a bad input stays one line
    if t.warmup_iters > t.iters and rank == 0:  # a smoke test shortens iters on purpose: warn, do not refuse
        print(f"zegclip train: warning: train.warmup_iters={t.warmup_iters} is more than train.iters={t.iters}; the "
              f"learning rate stays in its warm-up and never reaches train.lr", file=sys.stderr)
    ddp = (torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                                     find_unused_parameters=True) if world > 1 else model)
    loader = training_batches(dataset, cfg.data.augment, t.batch, t.seed, start, t.iters, cfg.data.workers, rank, world)
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
                with writing(run_dir / "train.log"):
                    log.write(json.dumps({"iter": it + 1, "loss": loss.item(), "lr": optimizer.param_groups[0]["lr"],
                                          **{k: v.item() for k, v in terms.items()}}) + "\n")
            if rank == 0 and t.eval_every and (it + 1) % t.eval_every == 0 and it + 1 < t.iters:
                point = {"iter": it + 1, "loss": _mean_loss(run_dir / "train.log", it + 1 - t.eval_every, it + 1),
                         **curve_point(model, cfg, eval_dataset, device)}
                model.train()
                with writing(run_dir / "curve.jsonl"), open(run_dir / "curve.jsonl", "a") as f:
                    f.write(json.dumps(point) + "\n")
            if rank == 0 and ((it + 1) % t.checkpoint_every == 0 or it + 1 == t.iters):
                last_good = ckpt_dir / f"iter_{it + 1}.pt"
                save_checkpoint(last_good, model, it + 1, identity, full_state, optimizer)
    finally:
        bar.close()
        if log is not None:
            log.close()
    if rank == 0:
        save_checkpoint(run_dir / "final.pt", model, t.iters, identity, full_state)
    if world > 1:
        dist.barrier()
    if not evaluate_after or rank != 0:
        return {}
    curve = None
    if t.eval_every:  # the points during training, and the last iteration's (its metrics: the final evaluation)
        last = t.iters - (t.iters % t.eval_every or t.eval_every)
        curve = _read_log(run_dir / "curve.jsonl") + [
            {"iter": t.iters, "loss": _mean_loss(run_dir / "train.log", last, t.iters)}]
    return evaluate_run(model, cfg, run_dir / "final.pt", run_dir / "results.json", device, curve=curve)
