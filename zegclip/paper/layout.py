"""Every path of the results tree, spelled once, for the package and the workflow alike.

One folder per scale, so that the scales never mix::

    {root}/{scale}/runs/{run}/seed{seed}/             a training run: config.json, checkpoints/, final.pt
    {root}/{scale}/runs/{run}/seed{seed}/results.json its evaluation (and, at mini scale, its curve)
    {root}/{scale}/evals/{run}/seed{seed}/{target}.json  Table 7: the run evaluated on another dataset
    {root}/{scale}/efficiency/{dataset}.json          Table 3: ``zegclip efficiency --json``
    {root}/{scale}/references/{dataset}.json          mini scale: chance and attribute-only scores
    {root}/{scale}/tables/{table}.csv                 a rendered table's aggregated frame
    {root}/{scale}/tables/{dataset}/{table}.csv       ... of a table's rows on a user's dataset
    {root}/{scale}/tables/{table}.fingerprints.json   its rows' structural fingerprints
    {root}/{scale}/check.txt                          the regression check's report
    {root}/{scale}/gate/backends/{backend}/runs/...   the gate's measurement: runs under another back-end
    {root}/{scale}/gate/planted/{plant}/runs/...      ... and runs with a planted regression

The templates below are relative to ``{root}/{scale}``. ``Layout.text`` fills the fields it is
given and leaves the others as ``{name}``: Python fills them all, the workflow's rules leave
the ones that are Snakemake wildcards.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

RUN_DIR = "runs/{run}/seed{seed}"
RUN_RESULTS = RUN_DIR + "/results.json"
RUN_CHECKPOINT = RUN_DIR + "/checkpoints/iter_{iter}.pt"
RUN_FINAL = RUN_DIR + "/final.pt"
EVAL_RESULTS = "evals/{run}/seed{seed}/{target}.json"
EFFICIENCY = "efficiency/{dataset}.json"
REFERENCES = "references/{dataset}.json"
TABLE = "tables/{table}.csv"
USER_TABLE = "tables/{dataset}/{table}.csv"  # a table's rows on a user's dataset
CHECK = "check.txt"
TABLE_FINGERPRINTS = "tables/{table}.fingerprints.json"  # the structural facts of a table's rows
# The regression gate's own measurement (zegclip.report.gate): runs under other numerical
# back-ends, runs with a planted regression, and the report's frame.
BACKEND_RESULTS = "gate/backends/{backend}/" + RUN_RESULTS
PLANTED_RESULTS = "gate/planted/{plant}/" + RUN_RESULTS
GATE_POWER = "tables/gate_power.csv"

# The mini-world's golden numbers (``zegclip check --write-golden``) ship with the package.
GOLDEN_MINI = Path(__file__).with_name("golden_mini.json")


def convergence_reference(table: str, world_seed: int) -> Path:
    """A mini-world's committed budget-doubling verdicts (``zegclip convergence --write-reference``),
    shipped with the package beside the golden numbers."""
    return Path(__file__).with_name(f"convergence_{table}_mini_world{world_seed}.csv")


class _Wildcards(dict):
    """Format fields not given stay as ``{name}``: Snakemake's wildcards."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass(frozen=True)
class Layout:
    """The results tree of one scale under one root (``results`` by default)."""

    root: Union[str, Path]
    scale: str

    @property
    def base(self) -> str:
        """``{root}/{scale}``; the workflow keeps its logs and benchmarks under it too."""
        return f"{self.root}/{self.scale}"

    def text(self, template: str, **fields: object) -> str:
        """The template under root/scale with ``fields`` filled and any others left as wildcards."""
        return f"{self.base}/" + template.format_map(_Wildcards(fields))

    def path(self, template: str, **fields: object) -> Path:
        return Path(self.text(template, **fields))


def result_path(root: Path, scale: str, run_key: str, seed: int, target: Optional[str] = None) -> Path:
    """A run's results file, or (``target`` given) its evaluation on another dataset."""
    layout = Layout(root, scale)
    if target is None:
        return layout.path(RUN_RESULTS, run=run_key, seed=seed)
    return layout.path(EVAL_RESULTS, run=run_key, seed=seed, target=target)


def results_root(path: Union[str, Path], template: str) -> str:
    """The root a path made from ``template`` lives under (the inverse of ``Layout.text``).
    Rules hand commands the root of their own output this way, so that a workflow whose
    storage rewrites paths (no shared file system) still passes the right one."""
    return str(Path(path).parents[template.count("/") + 1])  # below root: scale, then the template
