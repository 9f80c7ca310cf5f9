"""The budget-doubling convergence rule: a row's budget T has converged when training the same
row for 2T (the same schedule, stretched: ``Run.budget``) changes its seen mIoU by less than
``SEEN_POINTS`` and its hIoU by less than ``HIOU_POINTS``. Unlike a curve's last quarter, which a
poly schedule flattens whatever the budget, this measures whether more training still teaches.

Beside it, the collapse check: a row whose seen mIoU is below ``COLLAPSE_SHARE`` of the best
row's on its dataset has not learned, and a flat curve there means collapse, not convergence.

The issue's rule is one seed's (the workflow trains seed 0 at 2T). With several seeds
(``convergence_seeds`` in the workflow's config), the rule judges their means, and the spread
over seeds is shown beside them: one seed's hIoU on mini-VOC moves by more than the rule's 1.5
points between training seeds (docs/mini-world.md). The verdicts of a world are committed
with the package (``convergence_{table}_mini_world{N}.csv`` beside the golden numbers), and the
rendered table marks the rows whose committed verdict is "not converged".
"""
from __future__ import annotations

import datetime
from dataclasses import replace
from pathlib import Path
from statistics import mean, stdev
from typing import Dict, List, Optional, Sequence, Tuple

import pandas as pd

from zegclip.engine.provenance import git_commit
from zegclip.io import atomic_path
from zegclip.paper.layout import TABLE, Layout, convergence_reference, result_path
from zegclip.paper.runs import table_rows
from zegclip.report.render import METRIC_NAMES, cell, dataset_name
from zegclip.report.results import read_metrics

SEEN_POINTS = 1.0  # |seen mIoU(2T) - seen mIoU(T)| below this ...
HIOU_POINTS = 1.5  # ... and |hIoU(2T) - hIoU(T)| below this: T has converged
COLLAPSE_SHARE = 0.4  # seen mIoU below this share of the best row's on the dataset: not learned
METRICS = ("mIoU_S", "mIoU_U", "hIoU")
SPREAD = ("mIoU_S", "hIoU")  # what the rule judges: their std over seeds is shown beside the means
COLUMNS = ["table", "row", "label", "dataset", "world_seed", "seeds", "iters", "iters_2T",
           "mIoU_S", "mIoU_S_2T", "mIoU_U", "mIoU_U_2T", "hIoU", "hIoU_2T",
           "mIoU_S_sd", "mIoU_S_2T_sd", "hIoU_sd", "hIoU_2T_sd", "delta_mIoU_S", "delta_hIoU",
           "converged", "seen_share_of_best", "collapsed"]


def reference_path(table: str, world_seed: int) -> Path:
    """The committed verdicts of a mini-world (where: ``zegclip.paper.layout``)."""
    return convergence_reference(table, world_seed)


def _over_seeds(root: Path, scale: str, key: str, seeds: Sequence[int], table: str, what: str) -> Dict[str, float]:
    """The mean of each metric over the seeds, and the std of the judged ones (NaN for one seed)."""
    values = []
    for seed in seeds:
        path = result_path(root, scale, key, seed)
        if not path.is_file():
            raise FileNotFoundError(f"{table} {what}: no result {path}; train that run first "
                                    f"(snakemake reports/convergence_{table}.md trains both budgets)")
        values.append(read_metrics(path, METRICS))
    out = {m: mean(v[m] for v in values) for m in METRICS}
    out.update({f"{m}_sd": stdev(v[m] for v in values) if len(values) > 1 else float("nan") for m in SPREAD})
    return out


def convergence_frame(table: str, root: Path, scale: str, seeds: Sequence[int], world_seed: int) -> pd.DataFrame:
    """One line per (row, dataset): T's and 2T's metrics (means over ``seeds``), the differences
    and the verdicts."""
    lines = []
    for row in table_rows(table, scale):
        if row.target:  # evaluations of another run: nothing trained
            continue
        doubled = replace(row.run, budget=2)
        what = f"row {row.key} ({row.dataset})"
        t, t2 = (_over_seeds(root, scale, run.key(scale), seeds, table, what) for run in (row.run, doubled))
        line = {"table": table, "row": row.key, "label": row.label, "dataset": row.dataset,
                "world_seed": world_seed, "seeds": " ".join(map(str, seeds)),
                "iters": row.run.config(scale).train.iters, "iters_2T": doubled.config(scale).train.iters}
        for m in METRICS:
            line[m], line[f"{m}_2T"] = t[m], t2[m]
        for m in SPREAD:
            line[f"{m}_sd"], line[f"{m}_2T_sd"] = t[f"{m}_sd"], t2[f"{m}_sd"]
        line["delta_mIoU_S"], line["delta_hIoU"] = t2["mIoU_S"] - t["mIoU_S"], t2["hIoU"] - t["hIoU"]
        line["converged"] = abs(line["delta_mIoU_S"]) < SEEN_POINTS and abs(line["delta_hIoU"]) < HIOU_POINTS
        lines.append(line)
    frame = pd.DataFrame(lines, columns=COLUMNS[:-2])
    best = frame.groupby("dataset")["mIoU_S"].transform("max")
    frame["seen_share_of_best"] = frame["mIoU_S"] / best.where(best > 0)
    frame["collapsed"] = frame["seen_share_of_best"] < COLLAPSE_SHARE
    return frame


def render_convergence(frame: pd.DataFrame, head: str, seeds: Sequence[int]) -> str:
    def change(m: str) -> List[str]:  # "T → 2T", each as the tables show a cell: mean (± std over seeds)
        return [f"{cell(a, sa, len(seeds))} → {cell(b, sb, len(seeds))}" for a, sa, b, sb in
                zip(frame[m], frame[f"{m}_sd"], frame[f"{m}_2T"], frame[f"{m}_2T_sd"])]

    view = pd.DataFrame({
        "row": frame["label"], "dataset": [dataset_name(d) for d in frame["dataset"]], "T": frame["iters"],
        **{f"{METRIC_NAMES[m]} T → 2T": change(m) for m in SPREAD},
        "verdict": ["converged" if c else "not converged" for c in frame["converged"]],
        "of best seen": [f"{100 * s:.0f}%" + (" (collapsed)" if c else "") for s, c in
                         zip(frame["seen_share_of_best"], frame["collapsed"])]})
    done = int(frame["converged"].sum())
    judged = "one seed" if len(seeds) == 1 else f"the means over {len(seeds)} seeds, ± their std"
    notes = [f"{done} of {len(frame)} rows converged: training for 2T changes seen mIoU by less than "
             f"{SEEN_POINTS:g} point and hIoU by less than {HIOU_POINTS:g} ({judged}).",
             f"Collapsed: seen mIoU below {100 * COLLAPSE_SHARE:.0f}% of the best row's on its dataset at T."]
    return "\n\n".join([head, view.to_markdown(index=False, disable_numparse=True),
                        *[f"Note: {n}" for n in notes]]) + "\n"


def write_convergence(table: str, root: Path, scale: str, seeds: Sequence[int], world_seed: int, out: Path,
                      write_reference: bool = False) -> Tuple[List[Path], pd.DataFrame]:
    """Render the verdicts to ``out``, keep the frame in the results tree (and, asked, commit it
    as the world's reference); every file written atomically."""
    frame = convergence_frame(table, root, scale, seeds, world_seed)
    seeds_text = ("seed " if len(seeds) == 1 else "seeds ") + " ".join(map(str, seeds))
    head = (f"Convergence of {table.replace('table', 'Table ')} by budget doubling. Scale: {scale}"
            + (f", world seed {world_seed}" if scale == "mini" else "")
            + f"; {seeds_text}; commit {git_commit()[:12]}; {datetime.date.today().isoformat()}.")
    files = {out: render_convergence(frame, head, seeds),
             Layout(root, scale).path(TABLE, table=f"convergence_{table}"): frame.to_csv(index=False)}
    if write_reference:
        files[reference_path(table, world_seed)] = frame.to_csv(index=False)
    for path, text in files.items():
        with atomic_path(path) as tmp:
            tmp.write_text(text)
    return list(files), frame


def committed_verdicts(table: str, scale: str, world_seed: Optional[int]) -> Optional[pd.DataFrame]:
    """(row, dataset, converged) of the committed frame of this world, when there is one and it
    judged the budgets this table's runs have now; None otherwise."""
    if scale != "mini" or world_seed is None or not reference_path(table, world_seed).is_file():
        return None
    frame = pd.read_csv(reference_path(table, world_seed))
    current = {(r.key, r.dataset): r.run.config(scale).train.iters for r in table_rows(table, scale) if not r.target}
    if any(current.get((r, d)) != t for r, d, t in zip(frame["row"], frame["dataset"], frame["iters"])):
        return None  # judged other budgets: the verdicts say nothing of these runs
    return frame[["row", "dataset", "converged"]]


def convergence_note(world_seed: int) -> str:
    return (f"† not converged by the budget-doubling rule (the committed verdict of world seed {world_seed}): "
            f"training the row for twice its budget changed its seen mIoU by {SEEN_POINTS:g} point or more, "
            f"or its hIoU by {HIOU_POINTS:g} or more.")
