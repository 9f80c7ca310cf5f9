"""Reading the results files a run or an evaluation writes: one clear error per bad file."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Dict, Sequence

from zegclip.errors import ZegclipError


class ResultsError(ValueError, ZegclipError):
    """A results file that is unreadable or lacks a number a table needs."""


def read_json(path: Path, what: str) -> dict:
    """A JSON object from ``path``, or one error naming the file."""
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ResultsError(f"{what} {path} is not valid JSON ({err}); write it again") from None
    if not isinstance(data, dict):
        raise ResultsError(f"{what} {path}: expected a JSON object, got a {type(data).__name__}")
    return data


def read_metrics(path: Path, metrics: Sequence[str]) -> Dict[str, float]:
    """The ``metrics`` of a results file; each must be a finite number (a NaN or a missing one
    is an error naming the file, never a gap the average would hide)."""
    data = read_json(path, "results file")
    values = data.get("metrics")
    if not isinstance(values, dict):
        raise ResultsError(f"results file {path} has no 'metrics' object; evaluate the run again")
    out = {}
    for m in metrics:
        v = values.get(m)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ResultsError(f"results file {path} has no number for {m} (found {v!r}); evaluate the run again")
        out[m] = float(v)
    return out
