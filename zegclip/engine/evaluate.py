"""Evaluation: slide inference over a split, one confusion matrix, one results JSON."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, TypeVar

import torch
from torch import Tensor
from tqdm import tqdm

from zegclip.catalog.benchmarks import DatasetInfo, is_custom
from zegclip.config import ConfigError, RunConfig, config_hash, from_dict, merge, parse_overrides, to_dict
from zegclip.data.datasets import SegmentationDataset
from zegclip.data.transforms import eval_transform
from zegclip.engine.checkpoint import load_checkpoint, load_weights
from zegclip.engine.fingerprint import fingerprint
from zegclip.engine.provenance import device_name, git_commit, machine_name, package_versions
from zegclip.engine.runtime import autocast_for, resolve_device
from zegclip.io import write_json
from zegclip.engine.metrics import ConfusionMatrix, summarize
from zegclip.model import ZegCLIP
from zegclip.model.inference import slide_scores

T = TypeVar("T")


def same_size_runs(items: Iterable[T], limit: int, size: Callable[[T], object]) -> Iterator[List[T]]:
    """Runs of consecutive ``items`` whose ``size`` agrees, at most ``limit`` long, in order:
    what can be stacked into one inference batch."""
    run: List[T] = []
    for item in items:
        if run and (len(run) == limit or size(item) != size(run[0])):
            yield run
            run = []
        run.append(item)
    if run:
        yield run


def same_size_batches(dataset: SegmentationDataset, cfg: RunConfig) -> Iterator[Tuple[Tensor, Tensor]]:
    """Normalised test-scale images (B, 3, h, w) with their labels (B, H, W): runs of consecutive
    images whose sizes agree, at most ``model.inference.batch`` at a time, in dataset order."""
    def pairs() -> Iterator[Tuple[Tensor, Tensor]]:
        for i in range(len(dataset)):
            image, label = dataset.load(i)
            yield eval_transform(image, cfg.data.augment), torch.from_numpy(label)

    for run in same_size_runs(pairs(), cfg.model.inference.batch, lambda p: (p[0].shape, p[1].shape)):
        yield torch.stack([img for img, _ in run]), torch.stack([lbl for _, lbl in run])


def seen_mask(info: DatasetInfo, device: torch.device) -> Tensor:
    """(C,) True for the classes a dataset trains on inductively, False for its unseen ones."""
    seen = torch.ones(info.num_classes, dtype=torch.bool, device=device)
    seen[list(info.unseen)] = False
    return seen


@torch.no_grad()
def confusion(model: ZegCLIP, cfg: RunConfig, dataset: SegmentationDataset, calibrate: bool,
              device: torch.device, progress: bool = True) -> ConfusionMatrix:
    """Slide inference at the test scale, scores resized to the label's size, argmax."""
    info = dataset.info
    text = model.encode_classes(info.classes).to(device)  # (C, E), every class in dataset order
    seen = seen_mask(info, device)
    cm = ConfusionMatrix(info.num_classes)
    model.eval()
    with tqdm(total=len(dataset), desc=f"evaluate {dataset.name}/{dataset.split}", unit="img",
              dynamic_ncols=True, disable=not progress) as bar:
        for images, labels in same_size_batches(dataset, cfg):
            scores = predict_scores(model, cfg, images, text, seen if calibrate else None, labels.shape[-2:], device)
            cm.update(scores.argmax(dim=1).cpu(), labels)
            bar.update(len(labels))
    return cm


def predict_scores(model: ZegCLIP, cfg: RunConfig, images: Tensor, text: Tensor, seen: Optional[Tensor],
                   size: Tuple[int, int], device: torch.device) -> Tensor:
    """Class scores (B, C, *size) of normalised test-scale ``images`` (B, 3, h, w) against class
    embeddings ``text`` (C, E): slide inference, seen classes calibrated where ``seen`` is given."""
    def logits_fn(window: Tensor) -> Tensor:
        with autocast_for(cfg.train.precision, device):
            return model(window, text)["masks"]  # (B, C, crop, crop)

    return slide_scores(logits_fn, images.to(device), cfg.model, seen, size)


CURVE_METRICS = ("pAcc", "mIoU_S", "mIoU_U", "hIoU")  # what a learning-curve point keeps


def curve_point(model: ZegCLIP, cfg: RunConfig, dataset: SegmentationDataset, device: torch.device) -> Dict[str, float]:
    """The run's own evaluation, mid-training, without a progress bar: one learning-curve point.
    Deterministic and free of random draws, so training goes on exactly as without it."""
    calibrate = cfg.train.setting == "inductive"
    metrics = summarize(confusion(model, cfg, dataset, calibrate, device, progress=False),
                        dataset.info.classes, dataset.info.unseen)
    return {k: metrics[k] for k in CURVE_METRICS}


def evaluate_run(model: ZegCLIP, cfg: RunConfig, checkpoint: Path, output: Path, device: torch.device,
                 dataset: Optional[str] = None, root: Optional[str] = None,
                 split: Optional[str] = None, curve: Optional[List[Dict[str, float]]] = None) -> Dict[str, object]:
    """Evaluate on the run's own dataset or, for cross-dataset rows, on another one. ``curve``:
    the run's learning curve, whose last point (the last iteration's, with only its loss) gets
    this evaluation's metrics."""
    start = time.time()
    name = dataset or cfg.data.dataset
    cross = name != cfg.data.dataset
    if root is None and not (cross and is_custom(name)):  # a description knows its folders
        root = cfg.data.root
    ds = SegmentationDataset(name, root, split or cfg.data.eval_split)
    # Inductive models get the seen-class calibration on their own dataset; across datasets
    # the published code counts every class as seen, so there is no split to calibrate.
    calibrate = cfg.train.setting == "inductive" and not cross
    cm = confusion(model, cfg, ds, calibrate, device)
    unseen = () if cross else ds.info.unseen
    metrics = summarize(cm, ds.info.classes, unseen)
    result = {
        "metrics": {k: v for k, v in metrics.items() if not k.startswith("per_class")},
        "per_class_IoU": metrics["per_class_IoU"],
        "per_class_Acc": metrics["per_class_Acc"],
        "evaluation": {"dataset": name, "split": ds.split, "root": str(ds.root), "images": len(ds),
                       "cross_dataset": cross, "calibrated": calibrate,
                       "unseen": [ds.info.classes[i] for i in unseen]},
        "checkpoint": str(checkpoint),
        "config": to_dict(cfg),
        "config_hash": config_hash(cfg),
        "fingerprint": fingerprint(model, cfg),
        "seed": cfg.train.seed,
        "git_commit": git_commit(),
        "versions": package_versions(),
        "device": device_name(device),
        "machine": machine_name(),
        "wall_time_s": round(time.time() - start, 3),
        "confusion_matrix": cm.matrix.tolist(),
    }
    if curve is not None:
        result["curve"] = curve[:-1] + [{**curve[-1], **{k: metrics[k] for k in CURVE_METRICS}}]
    write_json(output, result)
    return result


def evaluate_checkpoint(checkpoint: Path, output: Path, dataset: Optional[str] = None,
                        root: Optional[str] = None, split: Optional[str] = None,
                        inference: Sequence[str] = ()) -> Dict[str, object]:
    """Evaluate a checkpoint; ``inference`` holds ``model.inference.KEY=VALUE`` overrides (seen
    bias, fusion, window), the only part of a trained run's config an evaluation may change."""
    model, cfg = load_trained(checkpoint, inference, "evaluate")
    device = resolve_device()
    return evaluate_run(model.to(device), cfg, checkpoint, output, device, dataset, root, split)


def load_trained(checkpoint: Path, inference: Sequence[str], command: str, templates: Optional[str] = None
                 ) -> Tuple[ZegCLIP, RunConfig]:
    """A checkpoint's model in evaluation mode, with its run's config. ``inference`` holds
    ``model.inference.KEY=VALUE`` overrides (seen bias, fusion, window), the only part of a
    trained run's config that may change (``command`` names the option in the error);
    ``templates`` swaps the text templates (segmenting with other class names)."""
    state = load_checkpoint(checkpoint)
    outside = [item for item in inference if not item.startswith("model.inference.")]
    if outside:
        raise ConfigError(f"{command} --set {outside[0]!r}: only model.inference.* can change after training")
    sets = list(inference) + ([f"model.text.templates={templates}"] if templates else [])
    cfg = from_dict(RunConfig, merge(state["config"], parse_overrides(sets)))
    torch.manual_seed(cfg.train.seed)
    model = ZegCLIP(cfg.model)
    load_weights(model, state, checkpoint)
    return model.eval(), cfg
