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

from zegclip.config import ConfigError, RunConfig, from_dict, load_preset, merge, parse_overrides

REPORTED = Path(__file__).with_name("reported.yaml")
SCALES = ("mini", "paper")
TOKEN_SWEEP = (1, 2, 4, 8, 16)  # prompt-token counts of our sweep at mini scale (no paper numbers)
PAPER_TOKEN_SWEEP = (1, 5, 10, 20, 50, 100)


@lru_cache(maxsize=1)
def reported() -> dict:
    """The paper's numbers, as transcribed in ``zegclip/paper/reported.yaml``."""
    return yaml.safe_load(REPORTED.read_text())


def preset_name(dataset: str, scale: str) -> str:
    return f"mini_{dataset}" if scale == "mini" else dataset


@dataclass(frozen=True)
class Run:
    """One training run; ``None`` factors take the dataset preset's value at the chosen scale."""

    dataset: str  # voc, coco, context
    setting: str = "inductive"
    encoder: str = "dpt"
    loss: str = "plus"
    query: str = "cat_tmulg_t"
    templates: Optional[str] = None
    layers: Tuple[int, int] = (1, 12)
    tokens: Optional[int] = None

    def resolved(self, scale: str) -> "Run":
        """Factors with the preset's defaults filled in, so equal configurations get equal keys."""
        model = load_preset(preset_name(self.dataset, scale))["model"]
        return replace(self, templates=self.templates or model["text"]["templates"],
                       tokens=self.tokens or model["encoder"]["prompt"]["tokens"])

    def key(self, scale: str) -> str:
        r = self.resolved(scale)
        prompts = f"l{r.layers[0]}_{r.layers[1]}-p{r.tokens}" if r.encoder == "dpt" else "noprompt"
        return f"{r.dataset}-{r.setting}-{r.encoder}-{r.loss}-{r.query}-{r.templates}-{prompts}"

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
            iters = load_preset(preset_name(r.dataset, scale))["train"]["iters"]
            out.append(f"train.iters={iters // 2}")  # published: half the inductive length
        return out

    def config(self, scale: str, extra: Optional[List[str]] = None) -> RunConfig:
        data = merge(load_preset(preset_name(self.dataset, scale)), parse_overrides(self.overrides(scale) + (extra or [])))
        return from_dict(RunConfig, data)


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


def _ours(rows: list) -> list:
    return [r for r in rows if not r.get("cited")]


def table_rows(table: str, scale: Optional[str] = None) -> List[Row]:
    """The rows we train for a paper table (``table2`` .. ``table9``, or ``tokens``, whose
    counts depend on the scale: both sweeps when ``scale`` is None)."""
    rep = reported()
    out: List[Row] = []
    if table == "table2":
        for r in _ours(rep["table2"]["rows"]):
            setting = {"zegclip": "inductive", "zegclip_st": "st", "zegclip_st_dagger": "st_dagger",
                       "zegclip_fully": "fully_supervised"}[r["key"]]
            for ds in rep["table2"]["datasets"]:
                out.append(Row(table, r["key"], r["label"], ds, Run(ds, setting=setting), tuple(r[ds])))
    elif table == "table4":
        for r in rep["table4"]["rows"]:
            out.append(Row(table, r["key"], r["label"], "voc", Run("voc", query=r["key"]), tuple(r["values"])))
    elif table == "table5":
        for r in rep["table5"]["rows"]:
            run_of = lambda ds: Run(ds, encoder=r["encoder"], loss="plus" if r["nel"] else "ce",
                                    query="cat_tmulg_t" if r["rd"] else "t")
            for ds in rep["table5"]["datasets"]:
                out.append(Row(table, r["key"], r.get("label", r["key"]), ds, run_of(ds), tuple(r[ds])))
    elif table == "table6":
        for r in rep["table6"]["rows"]:
            out.append(Row(table, r["key"], r["loss"], r["dataset"], Run(r["dataset"], loss=r["loss"]),
                           tuple(r["values"])))
    elif table == "table7":
        for r in _ours(rep["table7"]["rows"]):
            setting = "st_dagger" if "st_dagger" in r["key"] else "inductive"
            out.append(Row(table, r["key"], r["method"], r["source"], Run(r["source"], setting=setting),
                           tuple(r["values"]), target=r["target"]))
    elif table == "table8":
        for r in rep["table8"]["rows"]:
            out.append(Row(table, r["key"], f"{r['layers'][0]}→{r['layers'][1]}", "voc",
                           Run("voc", layers=tuple(r["layers"])), tuple(r["values"])))
    elif table == "table9":
        for r in rep["table9"]["rows"]:
            out.append(Row(table, r["key"], r["templates"], r["dataset"], Run(r["dataset"], templates=r["templates"]),
                           tuple(r["values"])))
    elif table == "tokens":
        sweep = {"mini": TOKEN_SWEEP, "paper": PAPER_TOKEN_SWEEP}.get(scale, TOKEN_SWEEP + PAPER_TOKEN_SWEEP)
        for n in sweep:
            out.append(Row(table, f"p{n}", str(n), "voc", Run("voc", tokens=n), (None, None, None, None)))
    else:
        raise KeyError(f"unknown table {table!r}; expected table2, table4..table9 or tokens")
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


def runs_for(tables: Tuple[str, ...], scale: str) -> Dict[str, Run]:
    """Every run the tables need (self-training parents included), once each, by key."""
    runs: Dict[str, Run] = {}
    for table in tables:
        for row in table_rows(table, scale):
            for run in (row.run, row.run.parent()):
                if run is not None:
                    runs.setdefault(run.key(scale), run)
    return runs
