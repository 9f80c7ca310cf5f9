"""Regression checks of aggregated results against reference numbers.

At paper scale the reference is the paper (``reported.yaml``), with a tolerance per metric
(default ±2.0 points). At mini scale it is the golden file (``zegclip/report/golden.py``): numbers
the workflow itself produced, each with a tolerance from the variance model
(``zegclip/report/tolerance.py``), the claims that model selects, and every row's structural
fingerprint. Results and reference are matched both ways on (table, row, dataset, target,
metric): a number missing on either side, a duplicate, a value that is not a finite number, or
one beyond its tolerance is a failure naming its row; so is a fingerprint fact that differs.
"""
from __future__ import annotations

import datetime
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import pandas as pd

from zegclip.errors import ZegclipError
from zegclip.io import atomic_path
from zegclip.engine.provenance import git_commit, package_versions
from zegclip.paper.layout import GOLDEN_MINI, TABLE, Layout, result_path
from zegclip.paper.runs import table_rows
from zegclip.report.aggregate import metrics_of
from zegclip.report.golden import (Golden, check_claims, derive, fingerprint_failures, finite, load_fingerprints,
                                   read_golden, row_name, version_warning)
from zegclip.report.results import read_json

GOLDEN = GOLDEN_MINI

DEFAULT_TOLERANCE = 2.0  # points, on every metric unless overridden
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
        (checked & ~m["reference"].apply(finite), "the reference is not a number"),
        (checked & ~m["tolerance"].apply(finite), "the tolerance is not a number"),
        (both & ~m["ours"].apply(finite), "our value is not a number"),
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




def _golden(path: Path) -> Golden:
    if not path.is_file():
        raise FileNotFoundError(f"no golden numbers for the mini scale ({path}); create them from a complete run "
                                "with `zegclip check --write-golden`")
    return read_golden(path)


@dataclass
class Verdict:
    """A mini-scale check of one table set: its numbers, fingerprints and claims."""

    numbers: Comparison
    fingerprints: List[str]  # one line per differing fact
    claims: pd.DataFrame  # comparisons that do not hold
    claims_checked: int

    @property
    def passed(self) -> bool:
        return not len(self.numbers.failures) and not self.fingerprints and not len(self.claims)


def judge(summary: pd.DataFrame, prints: List[Dict[str, object]], golden: Golden, tables: Sequence[str],
          tolerances: Dict[str, float]) -> Verdict:
    """Aggregated results and their fingerprints against the golden file."""
    claims = [c for c in golden.claims if c.table in tables]
    return Verdict(compare(summary, golden_reference(golden.numbers, tables), tolerances),
                   fingerprint_failures(golden, prints, tables), check_claims(summary, claims), len(claims))


def run_check(results: Path, scale: str, tables: Sequence[str], tolerance_items: List[str],
              golden_path: Path) -> Tuple[bool, str]:
    """The whole check, as ``zegclip check`` prints it: (passed, report text)."""
    from tabulate import tabulate

    summary = load_tables(results, scale, tables)
    tolerances = parse_tolerances(tolerance_items, sorted({m for t in tables for m in metrics_of(t)}))
    lines: List[str] = []
    if scale == "paper":
        source = "the paper's numbers"
        verdict = Verdict(compare(summary, paper_reference(tables), tolerances), [], pd.DataFrame(), 0)
    else:
        golden = _golden(golden_path)
        source = f"the golden numbers {golden_path}"
        warning = version_warning(golden, package_versions())
        lines += [warning] if warning else []
        verdict = judge(summary, load_fingerprints(results, scale, tables), golden, tables, tolerances)
    result = verdict.numbers
    if result.expected == 0:  # a check that compares nothing must not pass
        raise CheckError(f"{source} hold no number for tables {', '.join(tables)}; nothing to check")
    lines.append(f"compared {result.compared} of {result.expected} expected numbers with {source} "
                 f"({scale} scale, tables {', '.join(tables)})"
                 + (f"; {result.unreported} of ours have no paper number to compare with" if result.unreported else ""))
    failures = result.failures
    if len(failures):
        beyond = int((failures["problem"] == "outside tolerance").sum())
        lines.append(f"{len(failures)} failure(s): {beyond} of {result.compared} compared numbers are outside "
                     f"tolerance, {len(failures) - beyond} could not be compared:")
        lines.append(tabulate(failures, headers="keys", tablefmt="github", showindex=False, floatfmt=".1f"))
    else:
        lines.append("all compared numbers are within tolerance")
    if scale == "mini":
        if verdict.fingerprints:
            lines.append(f"{len(verdict.fingerprints)} fingerprint fact(s) differ from the golden ones:")
            lines += verdict.fingerprints
        else:
            lines.append("every row's fingerprint matches the golden one")
        if len(verdict.claims):
            lines.append(f"{len(verdict.claims)} of the {verdict.claims_checked} checked comparisons of the paper's "
                         f"claims do not hold:")
            lines.append(tabulate(verdict.claims, headers="keys", tablefmt="github", showindex=False, floatfmt=".1f"))
        else:
            lines.append(f"the {verdict.claims_checked} comparisons of the paper's claims the golden file checks "
                         f"still hold")
    return verdict.passed, "\n".join(lines)


def fingerprint_provenance(results: Path, scale: str, tables: Sequence[str], seed: int
                           ) -> Tuple[List[Dict[str, object]], Dict[str, object]]:
    """The fingerprints of the tables' rows from ``seed``'s results, and what those runs were made
    with (their versions, machine and device must agree)."""
    prints, made = [], {}
    for table in tables:
        for row in table_rows(table, scale):
            path = result_path(results, scale, row.run.key(scale), seed, row.target)
            if not path.is_file():
                raise FileNotFoundError(f"{row_name({'table': table, 'row': row.key, 'dataset': row.dataset, 'target': row.target})}: "
                                        f"no result {path} to take its fingerprint from; train seed {seed} first")
            data = read_json(path, "results file")
            if not isinstance(data.get("fingerprint"), dict):
                raise CheckError(f"{path} has no fingerprint (evaluated before fingerprints existed); evaluate it again")
            prints.append({"table": table, "row": row.key, "dataset": row.dataset, "target": row.target or "",
                           "facts": data["fingerprint"]})
            for key in ("versions", "machine", "device"):
                made.setdefault(key, set()).add(json.dumps(data.get(key), sort_keys=True))
    return prints, {k: [json.loads(v) for v in sorted(vs)] if len(vs) > 1 else json.loads(next(iter(vs)))
                    for k, vs in made.items()}


def write_golden(results: Path, scale: str, tables: Sequence[str], path: Path, spread: Sequence[Path],
                 seed: int, world_seed: int, means: Sequence[Path] = ()) -> int:
    """The golden file (atomically): the means of the rendered tables (or of ``means`` frames),
    tolerances from the spread of ``spread`` frames (default: those same frames), the claims the
    model selects, and the fingerprints and versions of ``seed``'s runs. Returns how many numbers."""
    sources = list(means) or [Layout(results, scale).path(TABLE, table=t) for t in tables]
    summary = (pd.concat([read_frame(p, ("mean", "std", "seeds")) for p in means], ignore_index=True) if means
               else load_tables(results, scale, tables))
    summary = summary[summary["table"].isin(tables)]
    bad = summary[~summary["mean"].apply(finite)]
    if len(bad):
        r = bad.iloc[0]
        raise CheckError(f"cannot write golden numbers: {r['table']} row {r['row']} ({r['dataset']}) has no number "
                         f"for {r['metric']} ({len(bad)} such); render the table from complete results first")
    frames = [read_frame(p, ("mean", "std", "seeds")) for p in spread] or [summary]
    prints, made = fingerprint_provenance(results, scale, tables, seed)
    made.update({"means_from": [str(p) for p in sources],
                 "means_seed_count": sorted({int(n) for n in summary["seeds"]}), "spread_from": [str(p) for p in spread],
                 "world_seed": world_seed, "fingerprint_seed": seed, "commit": git_commit(),
                 "date": datetime.date.today().isoformat()})
    content = derive(summary, frames, tables, scale, prints, made)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(content, indent=1) + "\n")
    return len(content["numbers"])
