"""The regression gate's variance model: tolerances and checked claims with a designed false-alarm rate.

A CI run is one training seed on a machine that need not be the golden one; it is judged as
an independent draw (another seed, another back-end) against the mean of the golden seeds.
The spread of one run is pooled per group, dataset x encoder family x metric, from frames of
several seeds (the golden world's and others'; never the runs that test the gate), with the
degrees of freedom that pooling gives. Then, for a new one-seed number y and the golden mean m
of n seeds, (y - m) / (s * sqrt(1 + 1/n)) is Student-t with the pooled degrees of freedom.

The designed rate ALPHA is a union bound over one CI run: half of it is shared equally among the
numbers (two-sided), half among the claims, which are chosen so that their summed predicted
false-alarm probabilities stay within it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import pandas as pd

ALPHA = 0.01  # designed false alarms per CI run, numbers and claims together
NUMBERS_SHARE = 0.5  # of ALPHA; the rest is the claims'


def _continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the regularised incomplete beta function (modified Lentz)."""
    tiny, c, d = 1e-300, 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        for aa in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                   -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def incomplete_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), the regularised incomplete beta function."""
    if x <= 0.0 or x >= 1.0:
        return 0.0 if x <= 0.0 else 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _continued_fraction(a, b, x) / a
    return 1.0 - front * _continued_fraction(b, a, 1.0 - x) / b


def t_tail(t: float, df: float) -> float:
    """P(T > t) for Student's t with ``df`` degrees of freedom."""
    half = 0.5 * incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return half if t >= 0 else 1.0 - half


def t_quantile(p_upper: float, df: float) -> float:
    """The t with P(T > t) = ``p_upper`` (0 < p_upper < 0.5), by bisection."""
    lo, hi = 0.0, 1.0
    while t_tail(hi, df) > p_upper:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if t_tail(mid, df) > p_upper else (lo, mid)
    return 0.5 * (lo + hi)


Group = Tuple[str, str, str]  # dataset, encoder family, metric


@dataclass(frozen=True)
class Spread:
    """One group's pooled seed-to-seed standard deviation and its degrees of freedom."""

    std: float
    df: int
    rows: int  # (row, world) pairs pooled


def pool(frames: Sequence[pd.DataFrame], family: Dict[Tuple[str, str], str]) -> Dict[Group, Spread]:
    """Pooled spread per (dataset, family, metric) from aggregated frames (columns row, dataset,
    metric, std, seeds); ``family`` maps (row, dataset) to its encoder family."""
    acc: Dict[Group, List[float]] = {}
    for frame in frames:
        for _, r in frame.iterrows():
            n = int(r["seeds"])
            if n < 2 or (r["row"], r["dataset"]) not in family:
                continue
            sums = acc.setdefault((r["dataset"], family[(r["row"], r["dataset"])], r["metric"]), [0.0, 0, 0])
            sums[0] += (n - 1) * float(r["std"]) ** 2
            sums[1] += n - 1
            sums[2] += 1
    return {g: Spread(math.sqrt(ss / df), int(df), int(k)) for g, (ss, df, k) in acc.items()}


def number_quantile(count: int, df: int) -> float:
    """The t quantile of one number's two-sided tolerance when ``count`` numbers share the
    numbers' part of ALPHA."""
    return t_quantile(ALPHA * NUMBERS_SHARE / count / 2.0, df)


def tolerance(spread: Spread, golden_seeds: int, count: int) -> float:
    """A one-seed number's tolerance around the mean of ``golden_seeds`` seeds."""
    return number_quantile(count, spread.df) * spread.std * math.sqrt(1.0 + 1.0 / golden_seeds)


def reversal_probability(margin: float, a: Spread, b: Spread, golden_seeds: int) -> float:
    """The predicted probability that one seed of each row reverses a comparison whose golden
    means differ by ``margin`` (the better row's mean minus the other's)."""
    scale = math.sqrt((a.std ** 2 + b.std ** 2) * (1.0 + 1.0 / golden_seeds))
    if scale == 0.0:
        return 0.0 if margin > 0 else 1.0
    return t_tail(margin / scale, min(a.df, b.df))


def select_within_budget(probabilities: Sequence[float], budget: float) -> List[int]:
    """Indices of the most certain items whose probabilities sum to at most ``budget``."""
    chosen, total = [], 0.0
    for i in sorted(range(len(probabilities)), key=lambda i: probabilities[i]):
        if total + probabilities[i] > budget:
            break
        chosen.append(i)
        total += probabilities[i]
    return chosen
