"""Rendering an aggregated table the way the paper prints it: its row labels, one cell per
metric holding ours with the paper's number beside it, datasets side by side where they fit.

The CSV frame (``zegclip.report.aggregate``) keeps every number (mean, std, seeds, paper, Δ);
what is rendered here is a view of it for reading. Columns are two-level, (group, name): the
group is a dataset when datasets sit side by side (LaTeX spans it with booktabs' cmidrule;
Markdown joins the two), empty otherwise.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Tuple

import pandas as pd

MAX_COLUMNS = 10  # wider tables keep one line per (row, dataset) instead of datasets side by side
METRIC_NAMES = {"pAcc": "pAcc", "mIoU_S": "mIoU(S)", "mIoU_U": "mIoU(U)", "hIoU": "hIoU", "mIoU": "mIoU",
                "mAcc": "mAcc"}
DATASET_NAMES = {"voc": "VOC", "coco": "COCO-Stuff", "context": "Context", "context59": "Context-59"}
CELL_NOTE = ("Each cell: ours (mean ± std over the seeds) with the paper's number in parentheses; "
             "the aggregated CSV also holds Δ = ours − paper.")

Column = Tuple[str, str]


def number(v: Optional[float]) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:.1f}"


def cell(mean: float, std: float, seeds: int, paper: Optional[float] = None) -> str:
    """``38.1 ± 0.4 (71.1)``: ours over the seeds, then the paper's number when it has one."""
    if mean is None or math.isnan(mean):
        ours = "–"
    else:
        ours = f"{mean:.1f} ± {std:.1f}" if seeds > 1 else f"{mean:.1f}"
    return ours if paper is None or math.isnan(paper) else f"{ours} ({paper:.1f})"


def dataset_name(dataset: str, target: str = "") -> str:
    name = DATASET_NAMES.get(dataset, dataset)
    return f"{name} → {DATASET_NAMES.get(target, target)}" if target else name


def _unconverged(part: pd.DataFrame) -> bool:
    return "converged" in part and bool((part["converged"] == False).any())  # noqa: E712 (NaN: unknown)


def view(summary: pd.DataFrame) -> pd.DataFrame:
    """The rendered view of a summary frame (one line per row, dataset, target and metric). A
    row whose runs did not converge on a dataset is marked † (with the dataset when datasets sit
    side by side and only some of them are concerned)."""
    keys = ["row", "label", "dataset", "target"]
    metrics = list(dict.fromkeys(summary["metric"]))
    datasets = list(dict.fromkeys(zip(summary["dataset"], summary["target"])))
    side_by_side = len(datasets) > 1 and 1 + len(datasets) * len(metrics) <= MAX_COLUMNS
    lines: Dict[str, Dict[Column, str]] = {}
    for (row, label, dataset, target), part in summary.groupby(keys, sort=False):
        name = dataset_name(dataset, target)
        line_key = label if side_by_side else f"{label}\0{name}"
        line = lines.setdefault(line_key, {("", "row"): label})
        if not side_by_side:
            line[("", "dataset")] = name
        if _unconverged(part):
            line.setdefault(("", "†"), []).append(name)  # type: ignore[arg-type]
        for _, m in part.iterrows():
            group = name if side_by_side else ""
            line[(group, METRIC_NAMES.get(m["metric"], m["metric"]))] = cell(m["mean"], m["std"], m["seeds"],
                                                                              m["paper"])
    out = []
    for line in lines.values():
        concerned = line.pop(("", "†"), None)
        if concerned:
            partial = side_by_side and len(concerned) < len(datasets)
            line[("", "row")] += " †" + (f" ({', '.join(concerned)})" if partial else "")
        out.append(line)
    frame = pd.DataFrame(out)
    frame.columns = pd.MultiIndex.from_tuples(frame.columns)
    return frame


def _columns(frame: pd.DataFrame) -> List[Column]:
    cols = list(frame.columns)
    return [c if isinstance(c, tuple) else ("", c) for c in cols]


def render_markdown(frame: pd.DataFrame, head: str, flags: List[str]) -> str:
    flat = frame.copy()
    flat.columns = [f"{g} {n}" if g else n for g, n in _columns(frame)]
    body = flat.to_markdown(index=False, disable_numparse=True, colalign=["left"] + ["right"] * (flat.shape[1] - 1))
    return "\n\n".join([head, body, *[f"Note: {f}" for f in flags]]) + "\n"


def _tex(text: str) -> str:
    return (text.replace("\\", r"\textbackslash{}").replace("&", r"\&").replace("%", r"\%")
            .replace("_", r"\_").replace("#", r"\#").replace("±", r"$\pm$").replace("Δ", r"$\Delta$")
            .replace("⊙", r"$\odot$").replace("→", r"$\to$").replace("−", "-").replace("†", r"$\dagger$"))


def render_latex(frame: pd.DataFrame, head: str, flags: List[str]) -> str:
    """A booktabs tabular; datasets side by side get a spanning header with a cmidrule each."""
    cols = _columns(frame)
    text_cols = sum(1 for g, n in cols if not g and n in ("row", "dataset"))
    lines = [f"% {head}", r"\begin{tabular}{" + "l" * text_cols + "r" * (len(cols) - text_cols) + "}", r"\toprule"]
    groups: List[Tuple[str, int, int]] = []  # (group, first column, last column), 1-indexed
    for i, (g, _) in enumerate(cols, start=1):
        if groups and groups[-1][0] == g:
            groups[-1] = (g, groups[-1][1], i)
        else:
            groups.append((g, i, i))
    if any(g for g, _, _ in groups):
        lines.append(" & ".join(r"\multicolumn{%d}{c}{%s}" % (b - a + 1, _tex(g)) if g else " & ".join([""] * (b - a + 1))
                                for g, a, b in groups) + r" \\")
        lines.append(" ".join(r"\cmidrule(lr){%d-%d}" % (a, b) for g, a, b in groups if g))
    lines += [" & ".join(_tex(n) for _, n in cols) + r" \\", r"\midrule"]
    for _, r in frame.iterrows():
        lines.append(" & ".join(_tex(str(v)) for v in r.tolist()) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"] + [f"% Note: {f}" for f in flags]
    return "\n".join(lines) + "\n"
