"""Figures with seaborn, from the same results tree as the tables (see ``zegclip.report.aggregate``).

    per_class_unseen  IoU of every unseen COCO-Stuff class, inductive vs self-training
                      (the paper's Figure 5 analogue), bars with error bars over seeds
    prompt_depth      Table 8: unseen mIoU and hIoU per prompted layer range, ours and the paper's
    prompt_tokens     the prompt-token sweep: unseen mIoU and hIoU per token count
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence

import matplotlib

matplotlib.use("Agg")  # files only; never a window
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backend_bases import FigureCanvasBase  # noqa: E402
import seaborn as sns  # noqa: E402

from zegclip.config import ConfigError  # noqa: E402
from zegclip.report.curves import collect_curves  # noqa: E402
from zegclip.io import atomic_path  # noqa: E402
from zegclip.paper.runs import FIGURE_TABLES, FIGURES, figure_rows  # noqa: E402
from zegclip.paper.layout import result_path  # noqa: E402
from zegclip.report.aggregate import collect  # noqa: E402
from zegclip.report.results import read_json  # noqa: E402

SWEEP_METRICS = ("mIoU_U", "hIoU")
SWEEPS = {"prompt_depth": ("prompted layers", "Depth of deep prompt tuning, VOC"),  # x label, title
          "prompt_tokens": ("prompt tokens per layer", "Prompt-token count, VOC")}


def per_class_frame(root: Path, scale: str, seeds: Sequence[int]) -> pd.DataFrame:
    """One line per (setting, unseen class, seed) from Table 2's inductive and ST COCO runs."""
    records: List[Dict[str, object]] = []
    for row in figure_rows("per_class_unseen", scale):
        for seed in seeds:
            path = result_path(root, scale, row.run.key(scale), seed)
            if not path.is_file():
                raise FileNotFoundError(f"figure per_class_unseen: no result {path}; train that run first")
            result = read_json(path, "results file")
            for name in result["evaluation"]["unseen"]:
                records.append({"setting": row.label, "class": name, "seed": seed,
                                "IoU": result["per_class_IoU"][name]})
    return pd.DataFrame.from_records(records)


def sweep_frame(table: str, root: Path, scale: str, seeds: Sequence[int]) -> pd.DataFrame:
    """Long frame of a sweep (Table 8 or the token sweep), unseen mIoU and hIoU only."""
    long = collect(table, root, scale, seeds)  # the figure's rows: every row of the table
    return long[long["metric"].isin(SWEEP_METRICS)]


def _sweep_plot(long: pd.DataFrame, xlabel: str, title: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    order = list(dict.fromkeys(long["label"]))
    sns.pointplot(data=long, x="label", y="ours", hue="metric", order=order, errorbar="sd", capsize=0.15,
                  dodge=0.2, ax=ax)
    paper = long.drop_duplicates(["label", "metric"]).dropna(subset=["paper"])
    if len(paper):
        sns.pointplot(data=paper, x="label", y="paper", hue="metric", order=order, linestyles="--",
                      markers="x", errorbar=None, ax=ax, palette="pastel")
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles, [f"{lab} (ours)" for lab in labels[:len(SWEEP_METRICS)]]
                  + [f"{lab} (paper)" for lab in labels[len(SWEEP_METRICS):]], fontsize=8)
    ax.set(xlabel=xlabel, ylabel="score (%)", title=title)
    return fig


def _curves_plot(curves: pd.DataFrame, title: str) -> plt.Figure:
    """Seen, unseen and harmonic mIoU against iterations: a panel per (metric, dataset), a line
    per row, bands of ± one std over seeds."""
    data = curves[curves["metric"].isin(("mIoU_S", "mIoU_U", "hIoU"))]
    grid = sns.relplot(data=data, x="iter", y="value", hue="label", row="metric", col="dataset", kind="line",
                       errorbar="sd", height=2.4, aspect=1.5, facet_kws={"sharey": False, "sharex": False})
    grid.set_axis_labels("iteration", "score (%)")
    grid.figure.suptitle(title, y=1.0)
    return grid.figure


def draw(name: str, root: Path, scale: str, seeds: Sequence[int]) -> plt.Figure:
    """One of ``FIGURES`` as a matplotlib figure."""
    n = f"{scale} scale, {len(seeds)} seed(s), mean ± std"
    if name == "per_class_unseen":
        frame = per_class_frame(root, scale, seeds)
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        sns.barplot(data=frame, x="class", y="IoU", hue="setting", errorbar="sd", capsize=0.1, ax=ax)
        ax.set(xlabel="unseen class (COCO-Stuff)", ylabel="IoU (%)", title=f"Per-class unseen IoU ({n})")
        ax.tick_params(axis="x", labelrotation=30)
    elif name == "curves_table5":
        curves = collect_curves("table5", root, scale, seeds)
        if curves.empty:
            raise FileNotFoundError(f"figure curves_table5: the {scale} results of Table 5 hold no learning curves "
                                    "(trained with train.eval_every 0); train with train.eval_every > 0")
        return _curves_plot(curves, f"Learning curves, Table 5 ({n})")
    elif name in SWEEPS:
        xlabel, title = SWEEPS[name]
        fig = _sweep_plot(sweep_frame(FIGURE_TABLES[name], root, scale, seeds), xlabel, f"{title} ({n})")
    else:
        raise KeyError(f"unknown figure {name!r}; expected one of {', '.join(FIGURES)}")
    fig.tight_layout()
    return fig


def check_figure_path(out: Path) -> None:
    """A figure file's suffix must name a format matplotlib writes; checked before any drawing."""
    formats = sorted(FigureCanvasBase.get_supported_filetypes())
    if Path(out).suffix.lstrip(".").lower() not in formats:
        raise ConfigError(f"--out {out}: expected a figure file ending in one of "
                          f"{', '.join('.' + f for f in formats)} (the format comes from the suffix)")


def save_figure(fig: plt.Figure, out: Path) -> None:
    """Write ``fig`` to ``out`` (format from its suffix) atomically."""
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format=out.suffix.lstrip("."), dpi=150)
    plt.close(fig)
