"""The regression gate's power and false alarms, measured (``zegclip gate power``).

Power: for each planted regression (zegclip.measure.plants), the gate table of one training
seed with its ZegCLIP rows replaced by the planted runs, judged as CI judges a table; caught or
missed, and by what: fingerprint, numbers, claims. Reported twice, with everything and by
numbers and claims alone (a code-level mistake changes no fingerprint). A miss by numbers is
explained by the number that came closest: how far it moved against its tolerance.

False alarms: held-out clean one-seed tables (training seeds never used to fit the tolerances,
and the same seed under other numerical back-ends) must all pass. Their standardised residuals
(number minus golden mean, over the model's predicted spread) test the variance model itself,
and the back-ends' same-seed differences are set beside the seed spread.
"""
from __future__ import annotations

import datetime
import math
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import pandas as pd

from zegclip.engine.provenance import git_commit
from zegclip.io import atomic_path
from zegclip.measure.plants import PLANTS
from zegclip.paper.gate import GATE_ROW, GATE_TABLE
from zegclip.paper.layout import BACKEND_RESULTS, GATE_POWER, GOLDEN_MINI, RUN_RESULTS, PLANTED_RESULTS, Layout
from zegclip.paper.runs import Row, table_rows
from zegclip.report.aggregate import collect, fingerprints, summarize
from zegclip.report.check import KEYS, Verdict, judge
from zegclip.report.golden import Golden, encoder_families, read_golden
from zegclip.report.results import ResultsError

SCALE = "mini"


def _table(root: Path, seed: int, template: str, planted: Optional[str] = None, **fields: str
           ) -> Tuple[pd.DataFrame, List[Dict[str, object]]]:
    """The gate table of ``seed`` with results under ``template``; with ``planted``, its gate rows'
    results come from that plant's runs instead."""
    layout = Layout(root, SCALE)

    def result_of(row: Row, s: int) -> Path:
        if planted and row.key == GATE_ROW:
            return layout.path(PLANTED_RESULTS, plant=planted, run=row.run.key(SCALE), seed=s)
        return layout.path(template, run=row.run.key(SCALE), seed=s, **fields)

    return (summarize(collect(GATE_TABLE, root, SCALE, [seed], result_of=result_of)),
            fingerprints(GATE_TABLE, root, SCALE, [seed], result_of=result_of))


def _closest(golden: Golden, summary: pd.DataFrame, rows: Sequence[str]) -> str:
    """The gate rows' number that came closest to its tolerance: how far it moved, against what."""
    ref = golden.numbers.set_index(KEYS)
    best, text = -1.0, ""
    for _, r in summary[summary["row"].isin(rows)].iterrows():
        g = ref.loc[tuple(r[k] for k in KEYS)]
        ratio = abs(r["mean"] - g["mean"]) / g["tolerance"]
        if ratio > best:
            best, text = ratio, (f"{r['dataset']} {r['metric']} moved {r['mean'] - g['mean']:+.1f} "
                                 f"(tolerance {g['tolerance']:.1f})")
    return text


def _by_numbers(verdict: Verdict) -> str:
    f = verdict.numbers.failures
    return "; ".join(f"{r['dataset']} {r['metric']} {r['delta']:+.1f} (tol {r['tolerance']:.1f})"
                     for _, r in f.iterrows()) if len(f) else ""


def _by_claims(verdict: Verdict) -> str:
    c = verdict.claims
    return "; ".join(f"{r['dataset']} {r['row']} > {r['than']} ({r['metric']}: {r['ours']:.1f} vs {r['theirs']:.1f})"
                     for _, r in c.iterrows()) if len(c) else ""


def residuals(summary: pd.DataFrame, golden: Golden) -> pd.Series:
    """(number - golden mean) / predicted one-seed spread, tolerance / quantile of its group."""
    quantile = {(g["dataset"], g["family"], g["metric"]): g["quantile"] for g in golden.model["groups"]}
    merged = summary.merge(golden.numbers, on=KEYS, suffixes=("", "_golden"))
    family = encoder_families([GATE_TABLE], SCALE)
    spread = [t / quantile[(d, family[(r, d)], m)] for t, d, r, m in
              zip(merged["tolerance"], merged["dataset"], merged["row"], merged["metric"])]
    return (merged["mean"] - merged["mean_golden"]) / pd.Series(spread, index=merged.index)


def gate_power(root: Path, seed: int, clean_seeds: Sequence[int], backends: Sequence[str], golden: Golden
               ) -> Tuple[pd.DataFrame, pd.DataFrame]:
    """(one line per planted regression or held-out clean table, back-end differences per metric)."""
    lines = []
    base_summary, _ = _table(root, seed, RUN_RESULTS)
    for name, plant in PLANTS.items():
        summary, prints = _table(root, seed, RUN_RESULTS, planted=name)
        v = judge(summary, prints, golden, [GATE_TABLE], {})
        numbers, claims = _by_numbers(v), _by_claims(v)
        lines.append({"case": name, "kind": f"planted ({plant.kind})", "what": plant.text,
                      "caught": not v.passed, "by_fingerprint": "; ".join(f.split(": ", 1)[1] for f in v.fingerprints),
                      "by_numbers": numbers, "by_claims": claims, "caught_by_numbers_or_claims": bool(numbers or claims),
                      "closest_number": "" if numbers else _closest(golden, summary, [GATE_ROW]),
                      "rms_residual": float("nan")})
    clean = [(f"seed {s}", s, RUN_RESULTS, {}) for s in clean_seeds]
    complete = [b for b in backends if not _missing(root, seed, b)]
    clean += [(f"seed {seed}, {b}", seed, BACKEND_RESULTS, {"backend": b}) for b in complete]
    for label, s, template, fields in clean:
        summary, prints = _table(root, s, template, **fields)
        v = judge(summary, prints, golden, [GATE_TABLE], {})
        z = residuals(summary, golden)
        lines.append({"case": label, "kind": "held-out clean", "what": "must pass", "caught": not v.passed,
                      "by_fingerprint": "; ".join(v.fingerprints), "by_numbers": _by_numbers(v),
                      "by_claims": _by_claims(v), "caught_by_numbers_or_claims": not v.passed,
                      "closest_number": _closest(golden, summary, list(dict.fromkeys(summary["row"]))),
                      "rms_residual": float(math.sqrt((z ** 2).mean()))})
    diffs = [_backend_differences(root, seed, b, base_summary) for b in backends]
    frame = pd.DataFrame(lines)
    backend_frame = pd.DataFrame()
    if diffs:
        d = pd.concat(diffs)
        backend_frame = d.groupby(["backend", "dataset", "metric"], sort=False)["diff"].agg(
            rows="count", rms=lambda x: float(math.sqrt((x ** 2).mean())),
            max_abs=lambda x: float(x.abs().max())).reset_index()
    return frame, backend_frame


def _missing(root: Path, seed: int, backend: str) -> List[str]:
    """The gate table's run keys without a result under ``backend``."""
    layout = Layout(root, SCALE)
    keys = dict.fromkeys(r.run.key(SCALE) for r in table_rows(GATE_TABLE, SCALE))
    return [k for k in keys if not layout.path(BACKEND_RESULTS, backend=backend, run=k, seed=seed).is_file()]


def _backend_differences(root: Path, seed: int, backend: str, base: pd.DataFrame) -> pd.DataFrame:
    """Each row the back-end ran (all, or a subset measured by hand) minus the default's, same seed."""
    missing = set(_missing(root, seed, backend))
    rows = [r for r in table_rows(GATE_TABLE, SCALE) if r.run.key(SCALE) not in missing]
    if not rows:
        raise ResultsError(f"back-end {backend}: no results under {Layout(root, SCALE).path(BACKEND_RESULTS, backend=backend, run='*', seed=seed)}")
    layout = Layout(root, SCALE)
    summary = summarize(collect(GATE_TABLE, root, SCALE, [seed], rows, result_of=lambda row, s: layout.path(
        BACKEND_RESULTS, backend=backend, run=row.run.key(SCALE), seed=s)))
    both = summary.merge(base, on=KEYS, suffixes=("", "_default"))
    return both.assign(backend=backend, diff=both["mean"] - both["mean_default"])


def render(frame: pd.DataFrame, backend_frame: pd.DataFrame, golden: Golden, seed: int) -> str:
    from tabulate import tabulate

    planted = frame[frame["kind"].str.startswith("planted")]
    clean = frame[frame["kind"] == "held-out clean"]
    model = golden.model
    made = golden.made_with
    versions = made.get("versions") or {}
    out = [f"# The regression gate, measured (commit {git_commit()[:12]}; {datetime.date.today().isoformat()})", "",
           f"Golden file: means of {', '.join(map(str, made.get('means_seed_count', [])))} seeds "
           f"(world {made.get('world_seed')}, {', '.join(made.get('means_from', []))}), "
           f"fingerprints and versions from seed {made.get('fingerprint_seed')}'s runs "
           f"({', '.join(f'{k} {v}' for k, v in versions.items() if k != 'zegclip')}; {made.get('machine')}). "
           f"Designed false-alarm rate: at most {model['alpha']:.0%} per CI run ({model['numbers']} numbers "
           f"sharing {model['alpha'] * model['numbers_share']:.2%}, {len(golden.claims)} comparisons "
           f"predicted at {model['claims_predicted_false_alarms']:.2%} together).", "",
           f"## Power: {int(planted['caught'].sum())} of {len(planted)} planted regressions caught with everything; "
           f"{int(planted['caught_by_numbers_or_claims'].sum())} of {len(planted)} by numbers and claims alone", "",
           f"Each regression is planted in the ZegCLIP rows of both datasets (training seed {seed}, one run each); "
           "the table's other rows are that seed's clean runs.", ""]
    cols = ["case", "kind", "what", "caught", "by_fingerprint", "by_numbers", "by_claims", "closest_number"]
    out.append(tabulate(planted[cols], headers="keys", tablefmt="github", showindex=False))
    out += ["", f"## False alarms: {int(clean['caught'].sum())} of {len(clean)} held-out clean tables fail", "",
            "rms_residual: the root mean square of (number − golden mean) / (predicted one-seed spread) over the "
            "96 numbers; about 1 where the variance model is right, below 1 where it is conservative.", ""]
    cols = ["case", "caught", "by_fingerprint", "by_numbers", "by_claims", "closest_number", "rms_residual"]
    out.append(tabulate(clean[cols], headers="keys", tablefmt="github", showindex=False, floatfmt=".2f"))
    if len(backend_frame):
        out += ["", f"## Back-ends: the same seed ({seed}) under another back-end against the default", "",
                "rms and largest difference over the rows the back-end ran (all 12 of a dataset, or a subset "
                "measured by hand), beside the pooled seed-to-seed std of the golden model (two independent "
                "seeds differ by an rms of √2 × std).", ""]
        std = pd.DataFrame(model["groups"]).groupby(["dataset", "metric"])["std"].apply(
            lambda s: float(math.sqrt((s ** 2).mean()))).rename("seed_std").reset_index()
        out.append(tabulate(backend_frame.merge(std, on=["dataset", "metric"]), headers="keys",
                            tablefmt="github", showindex=False, floatfmt=".2f"))
    return "\n".join(out) + "\n"


def write_gate_power(root: Path, seed: int, clean_seeds: Sequence[int], backends: Sequence[str], out: Path,
                     golden_path: Optional[Path] = None) -> Tuple[List[Path], int, int]:
    """The report (``out``) and its frame (RESULTS/mini/tables/gate_power.csv), atomically.
    Returns the paths, and how many planted regressions were caught of how many."""
    golden = read_golden(golden_path or GOLDEN_MINI)
    frame, backend_frame = gate_power(root, seed, clean_seeds, backends, golden)
    csv = Layout(root, SCALE).path(GATE_POWER)
    for path, text in ((out, render(frame, backend_frame, golden, seed)), (csv, frame.to_csv(index=False))):
        with atomic_path(path) as tmp:
            tmp.write_text(text)
    planted = frame[frame["kind"].str.startswith("planted")]
    return [out, csv], int(planted["caught"].sum()), len(planted)
