"""Learning curves of a table's runs.

A run trained with ``train.eval_every`` keeps its curve in ``results.json`` ("curve": one
point per evaluation: iteration, mean training loss since the previous point, pAcc and
seen / unseen / harmonic mIoU). The seen-mIoU gain over the last quarter of training is kept
beside each table row as a description of its curve; it does not decide convergence (a poly
schedule flattens every curve at its end): ``zegclip.report.convergence`` does.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import pandas as pd

from zegclip.paper.layout import result_path
from zegclip.paper.runs import Row, table_rows
from zegclip.report.results import ResultsError, read_json

CURVE_METRICS = ("mIoU_S", "mIoU_U", "hIoU", "loss")


def collect_curves(table: str, root: Path, scale: str, seeds: Sequence[int], rows: Optional[Sequence[Row]] = None
                   ) -> pd.DataFrame:
    """Long frame: one line per (row, dataset, seed, iteration, metric); runs without a curve
    (trained with ``eval_every`` 0, as at paper scale) contribute nothing."""
    records: List[Dict[str, object]] = []
    for row in rows if rows is not None else table_rows(table, scale):
        if row.target:  # Table 7: evaluations of another run, no training of their own
            continue
        for seed in seeds:
            path = result_path(root, scale, row.run.key(scale), seed)
            curve = read_json(path, "results file").get("curve") if path.is_file() else None
            for point in _points(curve, path):
                for metric in CURVE_METRICS:
                    records.append({"row": row.key, "label": row.label, "dataset": row.dataset, "seed": seed,
                                    "iter": point["iter"], "metric": metric, "value": point[metric]})
    columns = ["row", "label", "dataset", "seed", "iter", "metric", "value"]
    return pd.DataFrame.from_records(records, columns=columns)


def _points(curve: object, path: Path) -> List[Dict[str, float]]:
    """A results file's learning curve: a list of points, each with ``iter`` and every metric of
    CURVE_METRICS as a number; anything else is one error naming the file and the key."""
    if curve is None:
        return []
    if not isinstance(curve, list):
        raise ResultsError(f"results file {path}: 'curve' is a {type(curve).__name__}; expected a list of points")
    for i, point in enumerate(curve):
        for key in ("iter",) + CURVE_METRICS:
            value = point.get(key) if isinstance(point, dict) else None
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ResultsError(f"results file {path}: curve point {i} has no number for {key!r} (found "
                                   f"{value!r}); evaluate the run again")
    return curve


def last_quarter_gain(curves: pd.DataFrame) -> pd.DataFrame:
    """Per (row, dataset): the mean-over-seeds seen mIoU gained over the last quarter of
    training (the value at 3/4 of the iterations interpolated between the nearest points)."""
    seen = curves[curves["metric"] == "mIoU_S"]
    lines = []
    for (row, dataset), part in seen.groupby(["row", "dataset"], sort=False):
        mean = part.groupby("iter")["value"].mean().sort_index()  # (iterations,) over seeds
        end = float(mean.index[-1])
        gain = float(mean.iloc[-1] - np.interp(0.75 * end, mean.index.to_numpy(float), mean.to_numpy(float)))
        lines.append({"row": row, "dataset": dataset, "seen_gain_last_quarter": gain})
    return pd.DataFrame(lines, columns=["row", "dataset", "seen_gain_last_quarter"])
