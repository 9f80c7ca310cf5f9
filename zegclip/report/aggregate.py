"""Aggregating results into the paper's tables: ours (mean ± std over seeds) beside the paper's.

Where each result lives: ``zegclip.paper.layout``.
"""
from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import pandas as pd

from zegclip.engine.provenance import git_commit
from zegclip.io import atomic_path
from zegclip.paper.layout import EFFICIENCY, REFERENCES, TABLE, TABLE_FINGERPRINTS, USER_TABLE, Layout, result_path
from zegclip.paper.runs import CONVERGENCE_TABLES, Row, UserDataset, reported, table_rows, user_rows
from zegclip.report.convergence import committed_verdicts, convergence_note
from zegclip.report.curves import collect_curves, last_quarter_gain
from zegclip.report.render import CELL_NOTE, cell, dataset_name, number, render_latex, render_markdown, view
from zegclip.report.results import read_json, read_metrics

DEFAULT_METRICS = ("pAcc", "mIoU_S", "mIoU_U", "hIoU")
TABLE7_METRICS = ("pAcc", "mIoU", "mAcc")


def metrics_of(table: str) -> Sequence[str]:
    return TABLE7_METRICS if table == "table7" else DEFAULT_METRICS


ResultOf = Callable[[Row, int], Path]  # where a row's result of a seed lives, if not in the results tree


def _in_tree(root: Path, scale: str) -> ResultOf:
    """A row's result of a seed in the results tree (its run's, or its Table 7 evaluation)."""
    return lambda row, seed: result_path(root, scale, row.run.key(scale), seed, row.target)


def collect(table: str, root: Path, scale: str, seeds: Sequence[int], rows: Optional[Sequence[Row]] = None,
            result_of: Optional[ResultOf] = None) -> pd.DataFrame:
    """Long frame: one line per (row, dataset, metric, seed). A missing result is an error.
    ``rows``: other rows than the paper table's (a user's dataset)."""
    records: List[Dict[str, object]] = []
    metrics = metrics_of(table)
    for row in rows if rows is not None else table_rows(table, scale):
        for seed in seeds:
            path = (result_of or _in_tree(root, scale))(row, seed)
            if not path.is_file():
                raise FileNotFoundError(f"{table} row {row.key} ({row.dataset}): no result {path}; "
                                        f"train and evaluate that run first")
            values = read_metrics(path, metrics)
            for metric, paper in zip(metrics, row.reported):
                records.append({"table": table, "row": row.key, "label": row.label, "dataset": row.dataset,
                                "target": row.target or "", "metric": metric, "seed": seed,
                                "ours": values[metric], "paper": paper})
    return pd.DataFrame.from_records(records)


def fingerprints(table: str, root: Path, scale: str, seeds: Sequence[int], result_of: Optional[ResultOf] = None
                 ) -> List[Dict[str, object]]:
    """Each row's structural fingerprint (results.json ``fingerprint``), one record per row: its
    facts where its seeds agree; a fact the seeds disagree on reads "differs across seeds"."""
    out: List[Dict[str, object]] = []
    where = result_of or _in_tree(root, scale)
    for row in table_rows(table, scale):
        prints = [read_json(where(row, s), "results file").get("fingerprint") for s in seeds]
        facts = None
        if all(isinstance(p, dict) for p in prints):
            facts = {k: prints[0].get(k) if all(p.get(k) == prints[0].get(k) for p in prints)
                     else "differs across seeds" for k in dict.fromkeys(k for p in prints for k in p)}
        out.append({"table": table, "row": row.key, "dataset": row.dataset, "target": row.target or "",
                    "facts": facts})
    return out


def summarize(long: pd.DataFrame) -> pd.DataFrame:
    """Mean, std and count over seeds per (row, dataset, metric), with the paper's value and Δ.
    ``seeds`` counts the seeds that have a number, the ones the mean is over."""
    keys = ["table", "row", "label", "dataset", "target", "metric"]
    g = long.groupby(keys, sort=False)
    out = g.agg(mean=("ours", "mean"), std=("ours", "std"), seeds=("ours", "count"), paper=("paper", "first"))
    out["std"] = out["std"].fillna(0.0)
    out["delta"] = out["mean"] - out["paper"]
    return out.reset_index()


def with_convergence(summary: pd.DataFrame, curves: pd.DataFrame, verdicts: Optional[pd.DataFrame]) -> pd.DataFrame:
    """The summary with each row's seen-mIoU gain over the last quarter of training (a
    description of its curve) and whether it converged by the committed budget-doubling verdict
    (``zegclip.report.convergence``); NaN where there is no curve or no verdict."""
    out = summary.merge(last_quarter_gain(curves), on=["row", "dataset"], how="left")
    if verdicts is None:
        return out.assign(converged=float("nan"))
    return out.merge(verdicts, on=["row", "dataset"], how="left")


def efficiency_frame(root: Path, scale: str) -> pd.DataFrame:
    """Table 3: our #Params and GFLOPs of the paper-scale model beside the paper's; cited rows as
    printed. FPS is the paper's (one GTX 1080Ti); ours is images/s on the measuring device."""
    lines = []
    for r in reported()["table3"]["rows"]:
        params, gflops, fps = r["values"]
        line = {"row": r["label"] + (" (cited)" if r.get("cited") else ""), "dataset": r["dataset"]}
        if r.get("cited"):
            ours: Dict[str, object] = {}
        else:
            path = Layout(root, scale).path(EFFICIENCY, dataset=r["dataset"])
            if not path.is_file():
                raise FileNotFoundError(f"table3 row {r['key']}: no {path}; run zegclip efficiency --json first")
            ours = read_json(path, "efficiency file")
        ours_params = ours.get("params_M", {}).get("published_convention")
        ours_gflops = ours.get("gflops", {}).get("total")
        line.update({"#Params (M)": ours_params, "#Params paper": params,
                     "#Params Δ": None if ours_params is None else ours_params - params,
                     "GFLOPs": ours_gflops, "GFLOPs paper": gflops,
                     "GFLOPs Δ": None if ours_gflops is None else ours_gflops - gflops,
                     "FPS paper (1080Ti)": fps})
        t = ours.get("throughput")
        line["images/s ours"] = f"{t['images_per_s']:.2f} ({t['device']}, {t['precision']})" if t else "–"
        lines.append(line)
    return pd.DataFrame(lines)


def efficiency_view(frame: pd.DataFrame) -> pd.DataFrame:
    """Table 3 as rendered: ours with the paper's number in parentheses, as the other tables."""
    def nan(v: object) -> float:
        return float("nan") if v is None else float(v)  # type: ignore[arg-type]

    lines = [{"row": r["row"], "dataset": dataset_name(r["dataset"]),
              "#Params (M)": cell(nan(r["#Params (M)"]), 0.0, 1, nan(r["#Params paper"])),
              "GFLOPs": cell(nan(r["GFLOPs"]), 0.0, 1, nan(r["GFLOPs paper"])),
              "FPS (paper, 1080Ti)": number(nan(r["FPS paper (1080Ti)"])), "images/s (ours)": r["images/s ours"]}
             for _, r in frame.iterrows()]
    return pd.DataFrame(lines)


def table_frames(table: str, root: Path, scale: str, seeds: Sequence[int], rows: Optional[Sequence[Row]] = None,
                 world_seed: Optional[int] = None) -> Tuple[pd.DataFrame, pd.DataFrame, List[str]]:
    """(summary for the CSV, wide frame to render, notes) of a paper table from the results tree
    (``rows``: other rows than the paper table's, a user's dataset; ``world_seed``: the mini-world
    the results come from, whose committed convergence verdicts mark the rows)."""
    flags = notes(table)
    if table == "table3":  # the efficiency command's JSON, not training runs
        frame = efficiency_frame(root, scale)
        return frame, efficiency_view(frame), ["Each cell: ours with the paper's number in parentheses."] + flags
    verdicts = committed_verdicts(table, scale, world_seed) if rows is None else None
    summary = with_convergence(summarize(collect(table, root, scale, seeds, rows)),
                               collect_curves(table, root, scale, seeds, rows), verdicts)
    if summary["paper"].notna().any():
        flags.insert(0, CELL_NOTE)
    if (summary["converged"] == False).any():  # noqa: E712
        flags.append(convergence_note(world_seed))
    elif scale == "mini" and rows is None and table in CONVERGENCE_TABLES and verdicts is None:
        flags.append(f"Convergence unknown: no committed budget-doubling verdict for world seed {world_seed} at "
                     f"these budgets (snakemake reports/convergence_{table}.md measures it).")
    if rows is None:  # the mini datasets' reference scores; a user's dataset has none
        flags += reference_notes(root, scale, list(dict.fromkeys(summary["dataset"])))
    return summary, view(summary), flags


def header(table: str, scale: str, seeds: Sequence[int], commit: str, date: str,
           user: Optional[UserDataset] = None) -> str:
    caption = reported()[table]["caption"]
    if user:  # the paper's rows on a user's dataset: no paper numbers to compare
        caption = (f"{caption.rstrip('.')}, on your dataset {user.name} ({user.description}, "
                   f"the {user.preset_at(scale)} recipe); the paper has no numbers for it.")
    if table == "table3":  # not a view of training runs: no scale, no seeds
        scope = "Ours: the paper-scale model, counted by `zegclip efficiency` (independent of weights and seeds)"
    else:
        scope = f"Scale: {scale}; seeds: {len(seeds)} ({', '.join(map(str, seeds))}), mean ± std"
    return f"{table.replace('table', 'Table ')}: {caption} {scope}; commit {commit}; {date}."


def notes(table: str) -> List[str]:
    """Flags the paper's data asks us to show (the uncertain Table 4 label)."""
    if table == "table4":
        return ["The label of the last 1536-d row is uncertain: the poster prints the row above's formula; "
                "it is most likely [t ⊙ g, |t − g|, t] (reported.yaml)."]
    return []


def reference_notes(root: Path, scale: str, datasets: Sequence[str]) -> List[str]:
    """Mini scale: the chance and attribute-only scores of each dataset (``zegclip mini
    references``, written to RESULTS/mini/references/mini_{dataset}.json) beside the table."""
    if scale != "mini":
        return []
    out = []
    for ds in datasets:
        path = Layout(root, scale).path(REFERENCES, dataset=f"mini_{ds}")
        if not path.is_file():
            out.append(f"References for mini_{ds} not computed (zegclip mini references --dataset mini_{ds} "
                       f"--output {path}).")
            continue
        ref = read_json(path, "reference scores")["references"]  # as `zegclip mini references` writes it
        scores = ", ".join(f"{name.replace('_', ' ')} {ref[name]['mIoU_U']:.1f}"
                           for name in ("uniform_chance", "colour_only", "texture_only"))
        out.append(f"References, mini_{ds} unseen mIoU: {scores} (transfer must beat them).")
    return out


def write_table(table: str, results: Path, scale: str, seeds: Sequence[int], out: Path,
                user: Optional[UserDataset] = None, world_seed: Optional[int] = None) -> Tuple[List[Path], int]:
    """Render ``table`` (with ``user``: its rows on a user's dataset) to ``out`` (Markdown) and
    ``out`` with .tex, and keep its aggregated frame in the results tree; every file written
    atomically. Returns the paths and the row count."""
    head = header(table, scale, seeds, git_commit()[:12], datetime.date.today().isoformat(), user)
    rows = user_rows(table, user, scale) if user else None
    summary, frame, flags = table_frames(table, results, scale, seeds, rows, world_seed)
    csv = Layout(results, scale).path(USER_TABLE, dataset=user.name, table=table) if user else \
        Layout(results, scale).path(TABLE, table=table)
    files = {out: render_markdown(frame, head, flags), out.with_suffix(".tex"): render_latex(frame, head, flags),
             csv: summary.to_csv(index=False)}
    if not user and table != "table3":  # the facts `zegclip check` compares exactly
        files[Layout(results, scale).path(TABLE_FINGERPRINTS, table=table)] = json.dumps(
            {"table": table, "seeds": list(seeds), "rows": fingerprints(table, results, scale, seeds)}, indent=1)
    for path, text in files.items():
        with atomic_path(path) as tmp:
            tmp.write_text(text)
    return list(files), len(frame)
