"""Regression checks of aggregated results against reference numbers.

At paper scale the reference is the paper (``reported.yaml``), with a tolerance per metric
(default ±2.0 points). At mini scale it is a golden file of numbers the workflow itself
produced (``zegclip check --write-golden``), each with a tolerance the seed-to-seed
spread justifies. Results and reference are matched both ways on (table, row, dataset,
target, metric): a number missing on either side, a duplicate, a value that is not a finite
number, or one beyond its tolerance is a failure naming its row.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import pandas as pd

from zegclip.errors import ZegclipError
from zegclip.io import atomic_path
from zegclip.paper.layout import GOLDEN_MINI, TABLE, Layout
from zegclip.paper.runs import table_rows
from zegclip.report.aggregate import metrics_of

DEFAULT_TOLERANCE = 2.0  # points, on every metric unless overridden
GOLDEN = GOLDEN_MINI
KEYS = ["table", "row", "dataset", "target", "metric"]


class CheckError(ValueError, ZegclipError):
    """A reference or results table that cannot be checked (unreadable, columns missing)."""


def read_frame(path: Path, numeric: Sequence[str] = ("mean",)) -> pd.DataFrame:
    """An aggregated or golden CSV; rows without a Table 7 target have an empty one. ``numeric``
    columns become floats: an empty or non-numeric cell becomes NaN, which the check reports."""
    try:
        frame = pd.read_csv(path, dtype={"target": str}, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise CheckError(f"{path} is not a CSV table ({str(err).strip().splitlines()[0]})") from None
    missing = [c for c in KEYS + list(numeric) if c not in frame.columns]
    if missing:
        raise CheckError(f"{path} has no column(s) {', '.join(missing)}; expected {', '.join(KEYS + list(numeric))}")
    frame = frame.assign(target=frame["target"].fillna(""))
    for column in numeric:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame


def load_tables(results: Path, scale: str, tables: Sequence[str]) -> pd.DataFrame:
    frames = []
    for table in tables:
        path = Layout(results, scale).path(TABLE, table=table)
        if not path.is_file():
            raise FileNotFoundError(f"no aggregated results {path}; render the table first "
                                    f"(snakemake reports/{table}.md)")
        frames.append(read_frame(path, ("mean", "paper")))
    return pd.concat(frames, ignore_index=True)


def golden_from(summary: pd.DataFrame, min_tolerance: float = DEFAULT_TOLERANCE, spread: float = 3.0) -> pd.DataFrame:
    """Golden numbers: the mean over seeds, tolerance max(min_tolerance, spread x std)."""
    bad = summary[~summary["mean"].apply(_finite)]
    if len(bad):
        r = bad.iloc[0]
        raise CheckError(f"cannot write golden numbers: {r['table']} row {r['row']} ({r['dataset']}) has no number "
                         f"for {r['metric']} ({len(bad)} such); render the table from complete results first")
    out = summary[KEYS + ["mean", "std", "seeds"]].copy()
    out["tolerance"] = [max(min_tolerance, spread * s) for s in out["std"].fillna(0.0)]
    return out


def paper_reference(tables: Sequence[str]) -> pd.DataFrame:
    """Every number the paper-scale results must hold (KEYS), with the paper's value as the
    reference; ``reported`` is false where the paper prints none (such numbers are not compared)."""
    records = [{"table": t, "row": r.key, "dataset": r.dataset, "target": r.target or "", "metric": m,
                "reference": float("nan") if v is None else float(v), "tolerance": DEFAULT_TOLERANCE,
                "reported": v is not None}
               for t in tables for r in table_rows(t, "paper") for m, v in zip(metrics_of(t), r.reported)]
    return pd.DataFrame.from_records(records)


def golden_reference(golden: pd.DataFrame, tables: Sequence[str]) -> pd.DataFrame:
    """The golden numbers of ``tables``: every one must be matched by a result."""
    part = golden[golden["table"].isin(tables)]
    return part.rename(columns={"mean": "reference"})[KEYS + ["reference", "tolerance"]].assign(reported=True)


@dataclass
class Comparison:
    """The outcome of a check: every failure, and how many numbers were compared of how many."""

    failures: pd.DataFrame  # KEYS + ours, reference, delta, tolerance, problem
    compared: int
    expected: int  # reference numbers (the paper's or the golden ones) that results must match
    unreported: int  # results the paper prints no number for (not compared)


def compare(summary: pd.DataFrame, reference: pd.DataFrame, tolerances: Dict[str, float]) -> Comparison:
    """Match results and reference on KEYS, both ways. A number missing on either side, one
    that appears twice, one that is not a finite number, or one beyond its tolerance is a
    failure naming its row."""
    ours = summary[KEYS + ["mean"]].rename(columns={"mean": "ours"})
    ref = reference.copy()
    for metric, tol in tolerances.items():
        ref.loc[ref["metric"] == metric, "tolerance"] = tol
    m = ours.drop_duplicates(KEYS).merge(ref.drop_duplicates(KEYS), on=KEYS, how="outer", indicator=True)
    m["delta"] = m["ours"] - m["reference"]
    key = pd.Series(list(zip(*(m[k] for k in KEYS))), index=m.index, dtype=object)
    twice = {side: set(zip(*(frame.loc[frame.duplicated(KEYS, keep=False), k] for k in KEYS)))
             for side, frame in (("results", ours), ("reference numbers", ref))}
    both = m["_merge"] == "both"
    unreported = both & (m["reported"] == False)  # noqa: E712 (a column of booleans)
    checked = both & ~unreported
    rules = [
        *((key.isin(keys), f"appears more than once in the {side}") for side, keys in twice.items()),
        (m["_merge"] == "right_only", "missing from the results"),
        (m["_merge"] == "left_only", "not in the reference numbers"),
        (checked & ~m["reference"].apply(_finite), "the reference is not a number"),
        (checked & ~m["tolerance"].apply(_finite), "the tolerance is not a number"),
        (both & ~m["ours"].apply(_finite), "our value is not a number"),
    ]
    problems: List[pd.DataFrame] = []
    flagged = pd.Series(False, index=m.index)
    for mask, text in rules:
        mask = mask & ~flagged
        problems.append(m.loc[mask, KEYS + ["ours", "reference", "tolerance"]].assign(problem=text))
        flagged |= mask
    compared = checked & ~flagged
    beyond = compared & (m["delta"].abs() > m["tolerance"])
    problems.append(m.loc[beyond, KEYS + ["ours", "reference", "delta", "tolerance"]].assign(problem="outside tolerance"))
    failures = pd.concat([p for p in problems if len(p)], ignore_index=True) if any(len(p) for p in problems) \
        else pd.DataFrame()
    failures = failures.reindex(columns=KEYS + ["ours", "reference", "delta", "tolerance", "problem"])
    expected = int(((m["_merge"] != "left_only") & (m["reported"] != False)).sum())  # noqa: E712
    return Comparison(failures, int(compared.sum()), expected, int(unreported.sum()))


def _finite(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def parse_tolerances(items: List[str], metrics: Sequence[str]) -> Dict[str, float]:
    """``METRIC=POINTS`` items; the metric must be one the checked tables have."""
    out = {}
    for item in items:
        metric, _, value = item.partition("=")
        if metric not in metrics:
            raise CheckError(f"--tolerance {item!r}: unknown metric {metric!r}; the checked tables have "
                             f"{', '.join(metrics)}")
        try:
            points = float(value)
        except ValueError:
            points = float("nan")
        if not math.isfinite(points) or points < 0:
            raise CheckError(f"--tolerance {item!r}: expected METRIC=POINTS with POINTS >= 0, e.g. mIoU_U=3")
        out[metric] = points
    return out


@dataclass(frozen=True)
class Claim:
    """A qualitative claim of the paper: row ``better`` beats each of ``worse`` on ``metrics``
    (means over seeds), in one table and dataset."""

    text: str
    table: str
    dataset: str
    better: str
    worse: Tuple[str, ...]
    metrics: Tuple[str, ...] = ("mIoU_U", "hIoU")


# The paper's claims that hold in the mini-world (v2): each comparison holds in every one of three
# seeds on world seeds 0 and 1, and on world 0 (the one CI runs) by at least 2 points in each, so
# that one seed on another machine keeps it (docs/mini-world.md, "Table 5");
# `zegclip check --scale mini` fails when one stops holding.
# Claims that do not hold there (DPT over FT, RD helps, FT hurts unseen classes, ZegCLIP best
# of all) are reported by `zegclip claims`, not checked. The set is re-derived from both worlds'
# 3-seed tables whenever the world or a mini preset changes; what changed and why is in the docs.
MINI_CLAIMS: Tuple[Claim, ...] = (
    *(Claim(f"NEL beats CE ({e}{r})", "table5", "voc", f"{e}_nel{r}", (f"{e}{r}",), ("hIoU",))
      for e in ("fix", "ft", "dpt") for r in ("", "_rd")),
    *(Claim(f"NEL beats CE on mini-COCO ({e}{r})", "table5", "coco", f"{e}_nel{r}", (f"{e}{r}",), ("hIoU",))
      for e, r in (("fix", ""), ("fix", "_rd"), ("ft", ""), ("ft", "_rd"), ("dpt", "_rd"))),
    Claim("ZegCLIP beats the Fix baselines, Baseline-FT and the DPT baselines", "table5", "voc", "dpt_nel_rd",
          ("fix", "fix_nel", "fix_rd", "fix_nel_rd", "ft", "dpt", "dpt_rd"), ("hIoU",)),
    Claim("ZegCLIP beats the Fix and DPT baselines on mini-COCO", "table5", "coco", "dpt_nel_rd",
          ("fix", "fix_rd", "dpt_rd"), ("hIoU",)),
    *(Claim(f"DPT beats Fix on unseen classes ({v or 'CE'})", "table5", "voc", f"dpt{v}", (f"fix{v}",), ("mIoU_U",))
      for v in ("", "_nel_rd")),
)


def check_claims(summary: pd.DataFrame, claims: Sequence[Claim]) -> pd.DataFrame:
    """One line per (claim, worse row, metric) that does not hold; a row missing from a checked
    table, or without a number, fails its claim. Claims on tables absent from ``summary`` are
    skipped (those tables were not asked for)."""
    failures = []
    for c in claims:
        part = summary[(summary["table"] == c.table) & (summary["dataset"] == c.dataset)]
        if part.empty:
            continue
        mean = {(r["row"], r["metric"]): r["mean"] for _, r in part.iterrows()}
        for other in c.worse:
            for m in c.metrics:
                a, b = mean.get((c.better, m), float("nan")), mean.get((other, m), float("nan"))
                if not (_finite(a) and _finite(b) and a > b):
                    failures.append({"claim": c.text, "metric": m, "row": c.better, "ours": a,
                                     "than": other, "theirs": b})
    return pd.DataFrame(failures)


def run_check(results: Path, scale: str, tables: Sequence[str], tolerance_items: List[str],
              golden_path: Path) -> Tuple[bool, str]:
    """The whole check, as ``zegclip check`` prints it: (passed, report text)."""
    from tabulate import tabulate

    summary = load_tables(results, scale, tables)
    tolerances = parse_tolerances(tolerance_items, sorted({m for t in tables for m in metrics_of(t)}))
    if scale == "paper":
        reference, source = paper_reference(tables), "the paper's numbers"
    else:
        if not golden_path.is_file():
            raise FileNotFoundError(f"no golden numbers for the mini scale ({golden_path}); create them from a "
                                    "complete run with `zegclip check --write-golden`")
        reference = golden_reference(read_frame(golden_path, ("mean", "tolerance")), tables)
        source = f"the golden numbers {golden_path}"
    result = compare(summary, reference, tolerances)
    if result.expected == 0:  # a check that compares nothing must not pass
        raise CheckError(f"{source} hold no number for tables {', '.join(tables)}; nothing to check")
    claims = check_claims(summary, MINI_CLAIMS if scale == "mini" else ())
    lines = [f"compared {result.compared} of {result.expected} expected numbers with {source} "
             f"({scale} scale, tables {', '.join(tables)})"
             + (f"; {result.unreported} of ours have no paper number to compare with" if result.unreported else "")]
    failures = result.failures
    if len(failures):
        beyond = int((failures["problem"] == "outside tolerance").sum())
        lines.append(f"{len(failures)} failure(s): {beyond} of {result.compared} compared numbers are outside "
                     f"tolerance, {len(failures) - beyond} could not be compared:")
        lines.append(tabulate(failures, headers="keys", tablefmt="github", showindex=False, floatfmt=".1f"))
    else:
        lines.append("all compared numbers are within tolerance")
    if len(claims):
        lines.append(f"{len(claims)} qualitative claim(s) do not hold:")
        lines.append(tabulate(claims, headers="keys", tablefmt="github", showindex=False, floatfmt=".1f"))
    elif scale == "mini":
        lines.append(f"the paper's claims that hold in the mini-world still hold ({len(MINI_CLAIMS)} checked)")
    return not len(failures) and not len(claims), "\n".join(lines)


def write_golden(results: Path, scale: str, tables: Sequence[str], path: Path) -> int:
    """Golden numbers from these results' tables into ``path`` (atomically); returns how many."""
    golden = golden_from(load_tables(results, scale, tables))
    with atomic_path(path) as tmp:
        golden.to_csv(tmp, index=False)
    return len(golden)
