"""The paper's Table 5 claims, tested on our runs seed by seed and on the paper's own numbers.

A claim is a set of comparisons (row A beats row B on a metric) within one dataset. It holds
in a seed when every one of its comparisons holds in that seed, and on the paper's numbers
when they satisfy it; a verdict of "holds" needs every seed. Ties do not count as wins. The
paper's own numbers do not satisfy every claim the paper makes (on COCO-Stuff, Baseline-FT
beats Baseline-Fix on unseen classes without RD), so the paper's column is shown beside ours.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import pandas as pd

from zegclip.engine.provenance import git_commit
from zegclip.io import atomic_path
from zegclip.report.aggregate import collect
from zegclip.report.results import ResultsError

ENCODERS = ("fix", "ft", "dpt")
VARIANTS = ("", "_nel", "_rd", "_nel_rd")  # loss and query suffixes of Table 5's row keys


@dataclass(frozen=True)
class Comparison:
    better: str  # row key
    worse: str
    metric: str


@dataclass(frozen=True)
class PaperClaim:
    key: str
    text: str
    comparisons: Tuple[Comparison, ...]


TABLE5_CLAIMS: Tuple[PaperClaim, ...] = (
    PaperClaim("dpt", "DPT beats Fix and FT on unseen classes (every loss and query)",
               tuple(Comparison(f"dpt{v}", f"{e}{v}", "mIoU_U") for v in VARIANTS for e in ("fix", "ft"))),
    PaperClaim("nel", "NEL beats CE (every encoder, with and without RD)",
               tuple(Comparison(f"{e}_nel{r}", f"{e}{r}", "hIoU") for e in ENCODERS for r in ("", "_rd"))),
    PaperClaim("rd", "RD helps (every encoder, with CE and with NEL)",
               tuple(Comparison(f"{e}{n}_rd", f"{e}{n}", "hIoU") for e in ENCODERS for n in ("", "_nel"))),
    PaperClaim("ft_hurts", "fine-tuning the encoder hurts unseen classes (FT below Fix, every loss and query)",
               tuple(Comparison(f"fix{v}", f"ft{v}", "mIoU_U") for v in VARIANTS)),
    PaperClaim("zegclip_best", "ZegCLIP (DPT + NEL + RD) has the best hIoU of the table",
               tuple(Comparison("dpt_nel_rd", f"{e}{v}", "hIoU") for e in ENCODERS for v in VARIANTS
                     if f"{e}{v}" != "dpt_nel_rd")),
)


def _wins(values: Dict[Tuple[str, str], float], c: Comparison) -> bool:
    return values[(c.better, c.metric)] > values[(c.worse, c.metric)]  # NaN or tie: False


def comparisons_frame(long: pd.DataFrame, claims: Sequence[PaperClaim] = TABLE5_CLAIMS) -> pd.DataFrame:
    """One line per (claim, dataset, comparison): the paper's two numbers, our two means over
    seeds, and the seeds in which ours holds (``held_in``). ``long`` is ``zegclip.report.aggregate.collect``'s frame."""
    lines: List[Dict[str, object]] = []
    seeds = sorted(long["seed"].unique())
    for dataset, part in long.groupby("dataset", sort=False):
        per_seed = {s: dict(zip(zip(p["row"], p["metric"]), p["ours"])) for s, p in part.groupby("seed")}
        mean = part.groupby(["row", "metric"])["ours"].mean().to_dict()
        paper = part.groupby(["row", "metric"])["paper"].first().astype(float).to_dict()
        for claim in claims:
            for c in claim.comparisons:
                missing = [k for k in ((c.better, c.metric), (c.worse, c.metric)) if k not in mean]
                if missing:
                    raise ResultsError(f"claim {claim.key!r} on {dataset}: no results for row {missing[0][0]} "
                                   f"({missing[0][1]}); render the whole table first")
                lines.append({"claim": claim.key, "dataset": dataset, "better": c.better, "worse": c.worse,
                              "metric": c.metric, "paper_better": paper[(c.better, c.metric)],
                              "paper_worse": paper[(c.worse, c.metric)], "paper_holds": _wins(paper, c),
                              "ours_better": mean[(c.better, c.metric)], "ours_worse": mean[(c.worse, c.metric)],
                              "mean_holds": _wins(mean, c),
                              "held_in": [int(s) for s in seeds if _wins(per_seed[s], c)], "seeds": len(seeds)})
    return pd.DataFrame(lines)


def verdicts(comparisons: pd.DataFrame, claims: Sequence[PaperClaim] = TABLE5_CLAIMS) -> pd.DataFrame:
    """One line per (claim, dataset): how many comparisons hold on the paper's numbers and on
    our means, in how many seeds all of them hold, and the verdict (``holds`` needs every seed)."""
    texts = {c.key: c.text for c in claims}
    lines = []
    for (key, dataset), part in comparisons.groupby(["claim", "dataset"], sort=False):
        n, seeds = len(part), int(part["seeds"].iloc[0])
        in_all = set.intersection(*(set(h) for h in part["held_in"]))  # seeds where every comparison holds
        verdict = ("holds" if len(in_all) == seeds and part["mean_holds"].all()
                   else "holds on the mean" if part["mean_holds"].all() else "does not hold")
        lines.append({"claim": texts[key], "key": key, "dataset": dataset,
                      "paper": f"{int(part['paper_holds'].sum())}/{n}",
                      "ours (mean)": f"{int(part['mean_holds'].sum())}/{n}",
                      "seeds where all hold": f"{len(in_all)}/{seeds}", "verdict": verdict})
    return pd.DataFrame(lines)


def claims_frames(root: Path, scale: str, seeds: Sequence[int]) -> Tuple[pd.DataFrame, pd.DataFrame]:
    """(verdicts, comparisons) of Table 5's claims from the results tree; every row and seed
    must have a result (``zegclip.report.aggregate.collect`` names the first one missing)."""
    comparisons = comparisons_frame(collect("table5", root, scale, seeds))
    return verdicts(comparisons), comparisons


def render_markdown(verdict_frame: pd.DataFrame, comparisons: pd.DataFrame, head: str) -> str:
    mark = lambda ok: "yes" if ok else "no"
    detail = pd.DataFrame({
        "claim": comparisons["claim"], "dataset": comparisons["dataset"],
        "comparison": comparisons["better"] + " > " + comparisons["worse"], "metric": comparisons["metric"],
        "paper": [f"{a:.1f} vs {b:.1f} ({mark(ok)})" for a, b, ok in
                  zip(comparisons["paper_better"], comparisons["paper_worse"], comparisons["paper_holds"])],
        "ours (mean)": [f"{a:.1f} vs {b:.1f} ({mark(ok)})" for a, b, ok in
                        zip(comparisons["ours_better"], comparisons["ours_worse"], comparisons["mean_holds"])],
        "seeds holding": [f"{len(h)}/{n}" for h, n in zip(comparisons["held_in"], comparisons["seeds"])]})
    rule = ("A claim holds when every one of its comparisons holds in every seed (ties do not count); "
            "\"holds on the mean\": every comparison holds on the mean over seeds, not in every seed. "
            "The paper's column applies the same test to the paper's own numbers.")
    return "\n\n".join([head, verdict_frame.drop(columns="key").to_markdown(index=False, disable_numparse=True),
                        rule, "Every comparison:", detail.to_markdown(index=False, disable_numparse=True)]) + "\n"


def write_claims(root: Path, scale: str, seeds: Sequence[int], label: str, out: Path) -> Tuple[int, int]:
    """The claims report as Markdown in ``out`` (atomically). Returns how many (claim, dataset)
    pairs hold in every seed, and how many there are."""
    verdict_frame, comparisons = claims_frames(root, scale, seeds)
    where = f"{scale} scale" + (f", {label}" if label else "")
    head = (f"The paper's Table 5 claims on our runs ({where}; seeds: {' '.join(map(str, seeds))}); "
            f"commit {git_commit()[:12]}; {datetime.date.today().isoformat()}.")
    with atomic_path(out) as tmp:
        tmp.write_text(render_markdown(verdict_frame, comparisons, head))
    return int((verdict_frame["verdict"] == "holds").sum()), len(verdict_frame)
