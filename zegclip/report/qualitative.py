"""Qualitative results, as the paper shows them: a grid of validation images with their ground
truth and each run's prediction, the unseen classes' regions outlined in every panel.

The predictions are the evaluation's own (``zegclip.engine.segment``: the run's test scale,
slide windows, seen-class calibration of an inductive run on its own dataset, argmax).
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import matplotlib

matplotlib.use("Agg")  # files only; never a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from zegclip.catalog.benchmarks import IGNORE_INDEX  # noqa: E402
from zegclip.data.datasets import SegmentationDataset  # noqa: E402
from zegclip.data.transforms import eval_transform  # noqa: E402
from zegclip.engine.evaluate import load_trained, predict_scores, seen_mask  # noqa: E402
from zegclip.engine.runtime import resolve_device  # noqa: E402
from zegclip.engine.segment import checkpoint_file, palette  # noqa: E402
from zegclip.report.figures import check_figure_path, save_figure  # noqa: E402


def pick_images(dataset: SegmentationDataset, count: int) -> List[int]:
    """Validation images that show unseen classes, most unseen pixels first, ties by order."""
    unseen = np.array(dataset.info.unseen)
    area = []
    for i in range(len(dataset)):
        _, label = dataset.load(i)
        area.append(int(np.isin(label, unseen).sum()))
    return sorted(range(len(dataset)), key=lambda i: (-area[i], i))[:count]


@torch.no_grad()
def predictions(run_dir: Path, dataset: SegmentationDataset, indices: Sequence[int]) -> List[np.ndarray]:
    """The run's label maps (H, W) of the chosen images, calibrated as its evaluation is."""
    model, cfg = load_trained(checkpoint_file(Path(run_dir)), (), "qualitative")
    device = resolve_device()
    model.to(device)
    text = model.encode_classes(dataset.info.classes).to(device)
    seen = seen_mask(dataset.info, device)
    calibrate = cfg.train.setting == "inductive"
    out = []
    for i in indices:
        image, label = dataset.load(i)
        batch = eval_transform(image, cfg.data.augment)[None]  # (1, 3, h, w)
        scores = predict_scores(model, cfg, batch, text, seen if calibrate else None, label.shape, device)
        out.append(scores.argmax(dim=1)[0].cpu().numpy())
    return out


def _colour(label: np.ndarray, colours: np.ndarray) -> np.ndarray:
    rgb = colours[np.minimum(label, len(colours) - 1)].astype(np.float32) / 255
    rgb[label == IGNORE_INDEX] = 0.0  # ignored pixels black
    return rgb


def draw_qualitative(dataset: SegmentationDataset, runs: Dict[str, Path], count: int = 6,
                     title: str = "") -> plt.Figure:
    """Rows: images; columns: image, ground truth, one prediction per run (``runs``: label -> run
    directory), shown where the ground truth has a class (ignored pixels black, as the metrics
    ignore them). Unseen classes' ground-truth regions are outlined in white in every panel."""
    indices = pick_images(dataset, count)
    predicted = {name: predictions(run_dir, dataset, indices) for name, run_dir in runs.items()}
    colours = palette(dataset.info.num_classes)
    unseen = np.array(dataset.info.unseen)
    columns = ["image", "ground truth", *runs]
    fig, axes = plt.subplots(len(indices), len(columns), figsize=(1.6 * len(columns), 1.6 * len(indices)),
                             squeeze=False)
    shown = set()
    for row, i in enumerate(indices):
        image, label = dataset.load(i)
        outline = np.isin(label, unseen).astype(float)
        panels: List[Tuple[str, np.ndarray]] = [("image", image), ("ground truth", _colour(label, colours))]
        # predictions where the ground truth has a class (black elsewhere, as in the ground truth)
        panels += [(name, _colour(np.where(label == IGNORE_INDEX, IGNORE_INDEX, predicted[name][row]), colours))
                   for name in runs]
        shown.update(np.unique(label).tolist())
        for name in runs:
            shown.update(np.unique(predicted[name][row][label != IGNORE_INDEX]).tolist())
        for col, (name, panel) in enumerate(panels):
            ax = axes[row, col]
            ax.imshow(panel, interpolation="nearest")
            if outline.any():
                ax.contour(outline, levels=[0.5], colors="white", linewidths=0.8)
            ax.set_xticks([]), ax.set_yticks([])
            if row == 0:
                ax.set_title(name, fontsize=8)
    classes = [c for c in range(dataset.info.num_classes) if c in shown]
    handles = [Patch(color=colours[c] / 255, label=dataset.info.classes[c] + (" (unseen)" if c in unseen else ""))
               for c in classes]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=6, frameon=False)
    fig.suptitle(title or f"{dataset.name}: unseen classes outlined", fontsize=9)
    fig.tight_layout(rect=(0, 0.04 + 0.012 * ((len(classes) + 3) // 4), 1, 0.97))
    return fig


def write_qualitative(dataset: str, root: Path, runs: Dict[str, Path], out: Path, count: int = 6) -> int:
    """Draw the figure for a dataset's validation split and save it (format by ``out``'s suffix)."""
    check_figure_path(out)
    ds = SegmentationDataset(dataset, root, "val")
    save_figure(draw_qualitative(ds, runs, count), out)
    return min(count, len(ds))
