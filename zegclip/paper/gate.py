"""The regression gate's measurement as runs: where planted regressions go and which back-ends
the clean table is repeated under (reports/gate_power.md; zegclip.report.gate renders it)."""
from __future__ import annotations

from typing import Dict

from zegclip.paper.runs import Run, table_rows

GATE_TABLE = "table5"
GATE_ROW = "dpt_nel_rd"  # ZegCLIP: the row every planted regression is applied to, on each dataset

# Numerical back-ends that emulate other machines: environment settings of a training job, and
# the threads it is given (the workflow's runs use one).
BACKENDS: Dict[str, Dict[str, str]] = {
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2"},  # ATen's AVX2 kernels: another machine where AVX-512 is the default
    "scalar": {"ATEN_CPU_CAPABILITY": "default"},  # ATen's unvectorised kernels: another machine anywhere
    "threads2": {"OMP_NUM_THREADS": "2"},  # two intra-op threads: other reduction orders
}
BACKEND_THREADS = {"threads2": 2}


def gate_runs(scale: str) -> Dict[str, Run]:
    """The runs a planted regression replaces: the gate row's, one per dataset, by key."""
    return {row.run.key(scale): row.run for row in table_rows(GATE_TABLE, scale) if row.key == GATE_ROW}


def backend_env(backend: str) -> str:
    """The environment assignments a shell command of ``backend`` starts with."""
    return " ".join(f"{k}={v}" for k, v in BACKENDS[backend].items())
