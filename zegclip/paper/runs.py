"""Every row of the paper's Tables 2-9 as a view of a run, named by its factors.

A run is fixed by its factors (dataset, setting, encoder mode, loss, query format,
templates, prompt layers and tokens); two rows with the same factors are the same run,
trained once. Table 7's rows are evaluations of COCO-Stuff runs on another dataset;
Table 3 is ``zegclip efficiency``; cited rows of other methods are references only.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

import yaml

from zegclip.catalog.benchmarks import CUSTOM_PREFIX
from zegclip.config import ConfigError, RunConfig, config_hash, load_preset, run_config
from zegclip.data.custom import load_description

REPORTED = Path(__file__).with_name("reported.yaml")
SCALES = ("mini", "paper")
TOKEN_SWEEP = (1, 2, 4, 8, 16)  # prompt-token counts of our sweep at mini scale (no paper numbers)
PAPER_TOKEN_SWEEP = (1, 5, 10, 20, 50, 100)


@lru_cache(maxsize=1)
def reported() -> dict:
    """The paper's numbers, as transcribed in ``zegclip/paper/reported.yaml``."""
    return yaml.safe_load(REPORTED.read_text())


def self_training_iters(inductive_iters: int) -> int:
    """Published: self-training starts from the inductive run's checkpoint at half its length
    and lasts as long again."""
    return inductive_iters // 2


def preset_name(dataset: str, scale: str) -> str:
    return f"mini_{dataset}" if scale == "mini" else dataset


@dataclass(frozen=True)
class Run:
    """One training run; ``None`` factors take the dataset preset's value at the chosen scale."""

    dataset: str  # voc, coco, context, or the name of a user's dataset (see UserDataset)
    setting: str = "inductive"
    encoder: str = "dpt"
    loss: str = "plus"
    query: str = "cat_tmulg_t"
    templates: Optional[str] = None
    layers: Tuple[int, int] = (1, 12)
    tokens: Optional[int] = None
    user: Optional["UserDataset"] = None  # a user's dataset: its description and recipe
    budget: int = 1  # the recipe's schedule stretched this many times (2: the convergence rule's 2T)

    def preset(self, scale: str) -> str:
        return self.user.preset_at(scale) if self.user else preset_name(self.dataset, scale)

    def resolved(self, scale: str) -> "Run":
        """Factors with the preset's defaults filled in, so equal configurations get equal keys."""
        model = load_preset(self.preset(scale))["model"]
        return replace(self, templates=self.templates or model["text"]["templates"],
                       tokens=self.tokens or model["encoder"]["prompt"]["tokens"])

    def key(self, scale: str) -> str:
        r = self.resolved(scale)
        prompts = f"l{r.layers[0]}_{r.layers[1]}-p{r.tokens}" if r.encoder == "dpt" else "noprompt"
        stretched = f"-x{r.budget}" if r.budget != 1 else ""
        return f"{r.dataset}-{r.setting}-{r.encoder}-{r.loss}-{r.query}-{r.templates}-{prompts}{stretched}"

    def parent(self) -> Optional["Run"]:
        """Self-training starts from the inductive run with the same factors."""
        return replace(self, setting="inductive") if self.setting in ("st", "st_dagger") else None

    def overrides(self, scale: str) -> List[str]:
        """``--set`` values on top of the dataset preset (``init_from`` is added by the caller)."""
        r = self.resolved(scale)
        out = [f"train.setting={r.setting}", f"model.encoder.mode={r.encoder}", f"model.loss.kind={r.loss}",
               f"model.decoder.query={r.query}", f"model.text.templates={r.templates}",
               f"model.encoder.prompt.layers=[{r.layers[0]},{r.layers[1]}]",
               f"model.encoder.prompt.tokens={r.tokens}"]
        if r.setting in ("st", "st_dagger"):
            iters = load_preset(self.preset(scale))["train"]["iters"]
            out.append(f"train.iters={self_training_iters(iters)}")
        if self.user:
            out.append(f"data.dataset={CUSTOM_PREFIX}{self.user.description}")
        return out

    def start_iter(self, scale: str, extra: Optional[List[str]] = None) -> int:
        """Self-training: the iteration of the parent's checkpoint this run starts from."""
        return self_training_iters(self.parent().config(scale, extra).train.iters)

    def budget_overrides(self, scale: str, extra: Optional[List[str]] = None) -> List[str]:
        """``--set`` values after every other (``extra_sets`` included) that stretch the run's
        schedule ``budget`` times: iterations, warm-up, evaluations and checkpoints alike, so the
        2T run is the T run with a schedule of the same shape, twice as long."""
        if self.budget == 1:
            return []
        t = replace(self, budget=1).config(scale, extra).train
        return [f"train.{name}={getattr(t, name) * self.budget}"
                for name in ("iters", "warmup_iters", "eval_every", "checkpoint_every")]

    def config(self, scale: str, extra: Optional[List[str]] = None) -> RunConfig:
        return run_config(None, self.preset(scale),
                          self.overrides(scale) + (extra or []) + self.budget_overrides(scale, extra))

    def recipe(self, scale: str, extra: Optional[List[str]] = None) -> str:
        """The digest of the run's resolved configuration: the workflow passes it as a parameter,
        so a changed preset (a new version's budget, say) reruns the run instead of keeping its
        old results under the same key."""
        return config_hash(self.config(scale, extra))


@dataclass(frozen=True)
class UserDataset:
    """A user's own dataset in the workflow (its ``datasets:`` section): it gets Table 5's rows."""

    name: str  # in run keys, paths and targets: reports/{name}/table5.md
    description: str  # the dataset description file (zegclip.data.custom)
    preset: Optional[str] = None  # whose recipe; None: VOC's at the scale (voc, or mini_voc)

    def preset_at(self, scale: str) -> str:
        return self.preset or preset_name("voc", scale)


USER_TABLES = ("table5",)  # the tables a user's dataset gets: the design ablations


def user_rows(table: str, user: UserDataset, scale: str) -> List[Row]:
    """A table's rows on a user's dataset (the rows of its first dataset, without paper numbers)."""
    if table not in USER_TABLES:
        raise ConfigError(f"--table {table} with the user's dataset {user.name} ({user.description}): a user's "
                          f"dataset gets {', '.join(USER_TABLES)} only (the design ablations)")
    rows = table_rows(table, scale)
    first = rows[0].dataset
    return [replace(r, dataset=user.name, run=replace(r.run, dataset=user.name, user=user),
                    reported=(None,) * len(r.reported)) for r in rows if r.dataset == first]


@dataclass(frozen=True)
class Row:
    """One row of a paper table: a run (or an evaluation of one on ``target``) and the paper's numbers."""

    table: str
    key: str
    label: str
    dataset: str
    run: Run
    reported: Tuple[Optional[float], ...]
    target: Optional[str] = None  # Table 7: evaluated on this dataset


RUN_FACTORS = ("setting", "encoder", "loss", "query", "templates", "layers", "tokens")


def _run(dataset: str, row: dict) -> Run:
    """The run a reported row names in its ``run:`` factors (the others: the preset's)."""
    factors = dict(row.get("run") or {})
    unknown = sorted(set(factors) - set(RUN_FACTORS))
    if unknown:
        raise ConfigError(f"reported.yaml row {row['key']!r}: unknown run factor(s) {', '.join(unknown)}; "
                          f"expected some of {', '.join(RUN_FACTORS)}")
    if "layers" in factors:
        factors["layers"] = tuple(factors["layers"])
    return Run(dataset, **factors)


def table_rows(table: str, scale: Optional[str] = None) -> List[Row]:
    """The rows we train for a paper table (``table2``, ``table4`` .. ``table9``), each a view of
    the run its factors name, in the paper's order; or ``tokens``, our prompt-token sweep, whose
    counts depend on the scale (both sweeps when ``scale`` is None)."""
    if table == "tokens":
        sweep = {"mini": TOKEN_SWEEP, "paper": PAPER_TOKEN_SWEEP}.get(scale, TOKEN_SWEEP + PAPER_TOKEN_SWEEP)
        return [Row(table, f"p{n}", str(n), "voc", Run("voc", tokens=n), (None, None, None, None)) for n in sweep]
    spec = reported().get(table)
    if table not in TRAINED_TABLES or spec is None:
        raise KeyError(f"unknown table {table!r}; expected table2, table4..table9 or tokens")
    out: List[Row] = []
    for r in spec["rows"]:
        if r.get("cited"):  # other methods' numbers: references only
            continue
        # a row's dataset: its own (Table 7: the source it trains on), or each of the table's
        datasets = [r.get("dataset") or r.get("source")] if ("dataset" in r or "source" in r) else \
            spec.get("datasets") or [spec["dataset"]]
        for ds in datasets:
            values = r["values"] if "values" in r else r[ds]
            out.append(Row(table, r["key"], r.get("label", r["key"]), ds, _run(ds, r), tuple(values),
                           target=r.get("target")))
    return out


FIGURES = ("per_class_unseen", "prompt_depth", "prompt_tokens", "curves_table5")  # drawn by zegclip.report.figures
FIGURE_TABLES = {"per_class_unseen": "table2", "prompt_depth": "table8", "prompt_tokens": "tokens",
                 "curves_table5": "table5"}


def figures_for(scale: str) -> Tuple[str, ...]:
    """The figures a scale can draw: learning curves exist only at mini scale (train.eval_every)."""
    return FIGURES if scale == "mini" else tuple(f for f in FIGURES if f != "curves_table5")


def figure_rows(figure: str, scale: str) -> List[Row]:
    """The table rows a figure draws on (their runs' results are its inputs)."""
    rows = table_rows(FIGURE_TABLES[figure], scale)
    if figure == "per_class_unseen":  # the paper's Figure 5: COCO-Stuff, inductive vs self-training
        rows = [r for r in rows if r.dataset == "coco" and r.key in ("zegclip", "zegclip_st")]
    return rows


TRAINED_TABLES = ("table2", "table4", "table5", "table6", "table7", "table8", "table9", "tokens")


def check_extra_sets(runs: Iterable[Run], scale: str, extra: List[str]) -> None:
    """Resolve every run's configuration with the workflow's ``extra_sets``: an unknown key or a
    bad value is one error naming it, before any job starts."""
    try:
        for run in runs:
            run.config(scale, extra)
    except ConfigError as err:
        raise ConfigError(f"workflow config extra_sets {extra}: {err}") from None


def check_user_datasets(users: Iterable[UserDataset]) -> None:
    """Load each user dataset's description (typed, its palette and classes checked): a missing
    or invalid one is one error naming it when the workflow starts, not in every job."""
    for user in users:
        try:
            load_description(CUSTOM_PREFIX + user.description)
        except ConfigError as err:
            raise ConfigError(f"workflow config datasets.{user.name}: {err}") from None


CONVERGENCE_TABLES = ("table5",)  # tables whose rows the budget-doubling rule judges


def doubled_runs(table: str, scale: str) -> Dict[str, Run]:
    """The 2T twin of every run a table's rows train (``budget=2``), by key."""
    twins = (replace(row.run, budget=2) for row in table_rows(table, scale) if not row.target)
    return {run.key(scale): run for run in twins}


def runs_for(tables: Tuple[str, ...], scale: str) -> Dict[str, Run]:
    """Every run the tables need (self-training parents included), once each, by key."""
    runs: Dict[str, Run] = {}
    for table in tables:
        for row in table_rows(table, scale):
            for run in (row.run, row.run.parent()):
                if run is not None:
                    runs.setdefault(run.key(scale), run)
    return runs


def run_sheet(tables: Tuple[str, ...], scale: str, rows: bool = False) -> List[str]:
    """The run sheet as tab-separated lines: every run the tables need, its parent and its
    ``--set`` overrides; or (``rows``) every table row and the run behind it."""
    if rows:
        return ["table\trow\tdataset\ttarget\trun"] + [
            f"{table}\t{row.key}\t{row.dataset}\t{row.target or ''}\t{row.run.key(scale)}"
            for table in tables for row in table_rows(table, scale)]
    lines = ["run\tparent\toverrides"]
    for key, run in runs_for(tables, scale).items():
        parent = run.parent()
        lines.append(f"{key}\t{parent.key(scale) if parent else ''}\t{' '.join(run.overrides(scale))}")
    return lines


# The qualitative figure's columns (as the paper compares them): Table 5 rows, by label.
QUALITATIVE_ROWS = {"Baseline-Fix (CE, t)": "fix", "ZegCLIP": "dpt_nel_rd"}
QUALITATIVE_DATASETS = ("voc", "coco")


def qualitative_runs(dataset: str, scale: str) -> Dict[str, Run]:
    """The runs the qualitative figure of ``dataset`` compares, by column label."""
    rows = {r.key: r.run for r in table_rows("table5", scale) if r.dataset == dataset}
    return {label: rows[key] for label, key in QUALITATIVE_ROWS.items()}
