"""The mini scale's golden file: reference numbers, their tolerances, the checked claims and
every row's structural fingerprint, with what they were made with.

One JSON file (``zegclip/paper/golden_mini.json``, written by ``zegclip check --write-golden``)::

    made_with     versions (python, torch, open_clip_torch, numpy), machine, device, the frame the
                  means come from and its seeds, the world seed, commit and date
    model         the variance model: designed false-alarm rate, and per group (dataset x encoder
                  family x metric) the pooled spread, its degrees of freedom and the tolerance
    numbers       one per (table, row, dataset, target, metric): mean, std, seeds, tolerance
    claims        the comparisons checked (row A beats row B on a metric), each with its golden
                  margin and predicted false-alarm probability
    fingerprints  one per (table, row, dataset, target): its facts (zegclip.engine.fingerprint)
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import pandas as pd

from zegclip.errors import ZegclipError
from zegclip.paper.layout import TABLE_FINGERPRINTS, Layout
from zegclip.paper.runs import table_rows
from zegclip.report.claims import TABLE5_CLAIMS
from zegclip.report.results import read_json
from zegclip.report.tolerance import (ALPHA, NUMBERS_SHARE, Spread, number_quantile, pool, reversal_probability,
                                      select_within_budget, tolerance)

SECTIONS = ("made_with", "model", "numbers", "claims", "fingerprints")
NUMBER_KEYS = ["table", "row", "dataset", "target", "metric"]
VERSION_KEYS = ("python", "torch", "open_clip_torch", "numpy")  # a mismatch is named (a warning)


class GoldenError(ValueError, ZegclipError):
    """A golden file that cannot be read or written (not JSON, a section missing, no spread)."""


@dataclass(frozen=True)
class Claim:
    """A comparison the check holds: row ``better`` beats each of ``worse`` on ``metrics`` (means
    over the seeds of the checked table), in one table and dataset."""

    text: str
    table: str
    dataset: str
    better: str
    worse: Tuple[str, ...]
    metrics: Tuple[str, ...] = ("mIoU_U", "hIoU")


@dataclass
class Golden:
    made_with: Dict[str, object]
    model: Dict[str, object]
    numbers: pd.DataFrame  # NUMBER_KEYS + mean, std, seeds, tolerance
    claims: Tuple[Claim, ...]
    fingerprints: List[Dict[str, object]]  # table, row, dataset, target, facts


def row_name(record: Mapping[str, object]) -> str:
    """``table5 dpt_nel_rd (voc)``, with a Table 7 target after the dataset."""
    target = f" -> {record['target']}" if record.get("target") else ""
    return f"{record['table']} {record['row']} ({record['dataset']}{target})"


def read_golden(path: Path) -> Golden:
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise GoldenError(f"golden file {path} is not JSON ({err}); write it again with zegclip check "
                          f"--write-golden") from None
    missing = [s for s in SECTIONS if not isinstance(data, dict) or s not in data]
    if missing:
        raise GoldenError(f"golden file {path} has no {', '.join(missing)}; expected the sections "
                          f"{', '.join(SECTIONS)}")
    numbers = pd.DataFrame.from_records(data["numbers"], columns=NUMBER_KEYS + ["mean", "std", "seeds", "tolerance"])
    numbers["target"] = numbers["target"].fillna("").astype(str)
    for column in ("mean", "std", "tolerance"):
        numbers[column] = pd.to_numeric(numbers[column], errors="coerce")  # a bad cell: NaN, which the check names
    claims = tuple(Claim(c["text"], c["table"], c["dataset"], c["better"], (c["worse"],), (c["metric"],))
                   for c in data["claims"])
    return Golden(data["made_with"], data["model"], numbers, claims, list(data["fingerprints"]))


def version_warning(golden: Golden, versions: Mapping[str, str]) -> Optional[str]:
    """One line naming the packages whose versions differ from the golden file's, or None."""
    made = golden.made_with.get("versions") or {}
    differ = [k for k in VERSION_KEYS if k in made and made[k] != versions.get(k)]
    if not differ:
        return None
    return ("warning: the golden numbers were made with " + ", ".join(f"{k} {made[k]}" for k in differ)
            + "; this environment has " + ", ".join(f"{k} {versions.get(k, 'none')}" for k in differ)
            + " (install from requirements.lock; results may scatter beyond the designed rate)")


def encoder_families(tables: Sequence[str], scale: str) -> Dict[Tuple[str, str], str]:
    """(row, dataset) -> the encoder mode of its run: the variance model's family."""
    return {(r.key, r.dataset): r.run.encoder for t in tables for r in table_rows(t, scale)}


def derive(summary: pd.DataFrame, spread_frames: Sequence[pd.DataFrame], tables: Sequence[str], scale: str,
           fingerprints: List[Dict[str, object]], made_with: Dict[str, object]) -> Dict[str, object]:
    """The golden file's content: ``summary`` (an aggregated frame of several seeds) gives the
    means; ``spread_frames`` (the same and other worlds' frames) fit the variance model."""
    family = encoder_families(tables, scale)
    spreads = pool(spread_frames, family)
    count = len(summary)
    numbers, groups = [], {}
    for _, r in summary.iterrows():
        group = (r["dataset"], family.get((r["row"], r["dataset"]), "other"), r["metric"])
        if group not in spreads:
            raise GoldenError(f"no seed-to-seed spread for {r['row']} ({r['dataset']}, {r['metric']}): the spread "
                              f"frames have no row of that dataset, encoder and metric with 2 or more seeds")
        s = spreads[group]
        tol = tolerance(s, int(r["seeds"]), count)
        numbers.append({**{k: r[k] for k in NUMBER_KEYS}, "mean": float(r["mean"]), "std": float(r["std"]),
                        "seeds": int(r["seeds"]), "tolerance": tol})
        groups[group] = {"dataset": group[0], "family": group[1], "metric": group[2], "std": s.std, "df": s.df,
                         "rows_pooled": s.rows, "quantile": number_quantile(count, s.df), "tolerance": tol}
    claims = select_claims(summary, spreads, family) if scale == "mini" and "table5" in tables else []
    model = {"alpha": ALPHA, "numbers_share": NUMBERS_SHARE, "numbers": count,
             "per_number_two_sided": ALPHA * NUMBERS_SHARE / count,
             "claims_budget": ALPHA * (1 - NUMBERS_SHARE),
             "claims_predicted_false_alarms": sum(c["false_alarm"] for c in claims),
             "groups": list(groups.values())}
    return {"made_with": made_with, "model": model, "numbers": numbers, "claims": claims,
            "fingerprints": fingerprints}


def select_claims(summary: pd.DataFrame, spreads: Dict[Tuple[str, str, str], Spread],
                  family: Dict[Tuple[str, str], str]) -> List[Dict[str, object]]:
    """The paper's Table 5 comparisons the check holds: of those whose golden means agree with the
    paper, the most certain, as many as keep their summed predicted false-alarm probabilities
    (one seed of each row reversing the comparison) within the claims' share of ALPHA."""
    part = summary[summary["table"] == "table5"]
    mean = {(r["dataset"], r["row"], r["metric"]): float(r["mean"]) for _, r in part.iterrows()}
    seeds = {(r["dataset"], r["row"], r["metric"]): int(r["seeds"]) for _, r in part.iterrows()}
    candidates = []
    for dataset in dict.fromkeys(part["dataset"]):
        for claim in TABLE5_CLAIMS:
            for c in claim.comparisons:
                a, b = (dataset, c.better, c.metric), (dataset, c.worse, c.metric)
                if a not in mean or b not in mean or not mean[a] > mean[b]:
                    continue
                sa = spreads[(dataset, family[(c.better, dataset)], c.metric)]
                sb = spreads[(dataset, family[(c.worse, dataset)], c.metric)]
                p = reversal_probability(mean[a] - mean[b], sa, sb, min(seeds[a], seeds[b]))
                candidates.append({"text": claim.text, "claim": claim.key, "table": "table5", "dataset": dataset,
                                   "better": c.better, "worse": c.worse, "metric": c.metric,
                                   "margin": mean[a] - mean[b], "false_alarm": p})
    chosen = select_within_budget([c["false_alarm"] for c in candidates], ALPHA * (1 - NUMBERS_SHARE))
    return [candidates[i] for i in sorted(chosen)]


def fingerprint_failures(golden: Golden, ours: List[Dict[str, object]], tables: Sequence[str]) -> List[str]:
    """One line per fact that differs between the golden fingerprints of ``tables`` and ours."""
    mine = {row_name(r): r.get("facts") for r in ours}
    lines = []
    for record in golden.fingerprints:
        if record["table"] not in tables:
            continue
        name, want = row_name(record), record["facts"]
        have = mine.get(name)
        if not isinstance(have, dict):
            lines.append(f"{name}: no fingerprint in its results (evaluated before fingerprints existed, or "
                         f"missing); train and evaluate it again")
            continue
        for fact in sorted(set(want) | set(have)):
            if want.get(fact) != have.get(fact):
                lines.append(f"{name}: fingerprint {fact} is {have.get(fact, 'absent')!r}, golden "
                             f"{want.get(fact, 'absent')!r}")
    return lines


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
                if not (finite(a) and finite(b) and a > b):
                    failures.append({"claim": c.text, "dataset": c.dataset, "metric": m, "row": c.better, "ours": a,
                                     "than": other, "theirs": b})
    return pd.DataFrame(failures)


def load_fingerprints(results: Path, scale: str, tables: Sequence[str]) -> List[Dict[str, object]]:
    """The rendered tables' fingerprint records (``zegclip report`` writes them beside the frame)."""
    records: List[Dict[str, object]] = []
    for table in tables:
        path = Layout(results, scale).path(TABLE_FINGERPRINTS, table=table)
        if not path.is_file():
            raise FileNotFoundError(f"no fingerprints {path} beside the aggregated results; render the table again "
                                    f"(snakemake reports/{table}.md)")
        rows = read_json(path, "fingerprints file").get("rows")
        if not isinstance(rows, list):
            raise GoldenError(f"fingerprints file {path} has no list of rows; render the table again")
        records += rows
    return records


def finite(v: object) -> bool:
    """A real number (not a bool, NaN or infinity)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
