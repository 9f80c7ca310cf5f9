# The run sheet, from the package: every table row is a view of a run, each run trained once.
import shlex
import sys
from pathlib import Path

from zegclip.config.world import MINI_CLIP_FILE, dataset_root
from zegclip.measure.plants import PLANTS
from zegclip.paper import layout
from zegclip.paper.gate import BACKENDS, BACKEND_THREADS, GATE_TABLE, backend_env, gate_runs
from zegclip.paper.runs import (CONVERGENCE_TABLES, FIGURES, QUALITATIVE_DATASETS, TRAINED_TABLES, USER_TABLES,
                                UserDataset, check_extra_sets, check_user_datasets, doubled_runs, figure_rows,
                                figures_for, qualitative_runs, runs_for, table_rows, user_rows)

SCALE = config["scale"]
DEFAULT_SEEDS = {"mini": 3, "paper": 1}  # a mini row takes a minute on a CPU, a paper row GPU-hours
SEEDS = list(range(config.get("seeds") or DEFAULT_SEEDS[SCALE]))
# the budget-doubling rule's training seeds at T and 2T (1: the rule as issue 24 states it)
CONVERGENCE_SEEDS = list(range(config["convergence_seeds"]))
LAYOUT = layout.Layout(config["results"], SCALE)  # every results path: zegclip/paper/layout.py
RESULTS = LAYOUT.base  # logs and benchmarks go beside the results
RUNS = runs_for(TRAINED_TABLES, SCALE)
# the budget-doubling rule's 2T twins (reports/convergence_table5.md), trained only when asked for
for _table in CONVERGENCE_TABLES:
    RUNS.update(doubled_runs(_table, SCALE))
# your own datasets (config `datasets:`): Table 5's rows on each, trained like the paper's
USER_DATASETS = {name: UserDataset(name, d["description"], d.get("preset")) for name, d in config["datasets"].items()}
for _user in USER_DATASETS.values():
    for _row in (r for table in USER_TABLES for r in user_rows(table, _user, SCALE)):
        RUNS.setdefault(_row.run.key(SCALE), _row.run)
try:  # a bad extra_sets key or value, or a user's dataset description, fails here, once, not in every job
    check_user_datasets(USER_DATASETS.values())
    check_extra_sets(RUNS.values(), SCALE, config["extra_sets"])
except ValueError as err:
    sys.exit(f"zegclip workflow: error: {err}")
WORLD = config["mini"]["world"]
MINI_CLIP = f"{WORLD}/{MINI_CLIP_FILE}"
GPUS_PER_RUN = config["paper"]["gpus_per_run"] if SCALE == "paper" else 0
# Table 3's throughput: on a GPU at paper scale (the paper's FPS), on the CPU in the mini-world
EFFICIENCY_DEVICE = config.get("efficiency_device") or ("cuda" if SCALE == "paper" else "cpu")


def run_result(key, seed):
    return LAYOUT.text(layout.RUN_RESULTS, run=key, seed=seed)


def table_inputs(table):
    """Every result a rendered table needs: its rows' runs (Table 7: their evaluations), per seed;
    at mini scale also the reference scores of its datasets."""
    rows = table_rows(table, SCALE)
    out = []
    if SCALE == "mini":
        out += [LAYOUT.text(layout.REFERENCES, dataset=f"mini_{ds}") for ds in dict.fromkeys(r.dataset for r in rows)]
    for row in rows:
        key = row.run.key(SCALE)
        for seed in SEEDS:
            if row.target:
                out.append(LAYOUT.text(layout.EVAL_RESULTS, run=key, seed=seed, target=row.target))
            else:
                out.append(run_result(key, seed))
    return out


def convergence_inputs(wildcards):
    """The results of a table's rows at their budget T and at 2T, for each convergence seed."""
    keys = [r.run.key(SCALE) for r in table_rows(wildcards.table, SCALE) if not r.target]
    keys += list(doubled_runs(wildcards.table, SCALE))
    return [run_result(key, seed) for key in keys for seed in CONVERGENCE_SEEDS]


def figure_inputs(figure):
    """The results a figure draws on (zegclip.report.figures)."""
    keys = dict.fromkeys(r.run.key(SCALE) for r in figure_rows(figure, SCALE))
    return [run_result(key, seed) for key in keys for seed in SEEDS]


def user_table_inputs(wildcards):
    """Every result a user's dataset's table needs, per seed."""
    rows = user_rows(wildcards.table, USER_DATASETS[wildcards.dataset], SCALE)
    return [run_result(row.run.key(SCALE), seed) for row in rows for seed in SEEDS]


def qualitative_inputs(wildcards):
    """The qualitative figure's runs (seed 0), by column label."""
    runs = qualitative_runs(wildcards.dataset, SCALE)
    return {f"run{i}": run_result(run.key(SCALE), 0) for i, run in enumerate(runs.values())}


def qualitative_args(wildcards):
    """``--run LABEL=RUN_DIR`` for each column of the qualitative figure."""
    runs = qualitative_runs(wildcards.dataset, SCALE)
    return " ".join(shlex.quote(f"--run={label}={LAYOUT.text(layout.RUN_DIR, run=run.key(SCALE), seed=0)}")
                    for label, run in runs.items())


def data_root(dataset):
    if dataset in USER_DATASETS:  # its description names its folders
        return None
    if SCALE == "mini":
        return str(dataset_root(Path(WORLD), f"mini_{dataset}"))
    return config["paper"]["data_root"][dataset]


def run_overrides(wildcards):
    run = RUNS[wildcards.run]
    root = data_root(run.dataset)
    sets = run.overrides(SCALE) + [f"train.seed={wildcards.seed}"] + ([f"data.root={root}"] if root else [])
    sets += config["extra_sets"] + run.budget_overrides(SCALE, config["extra_sets"])
    if SCALE == "mini":
        sets.append(f"model.clip.pretrained={MINI_CLIP}")
    else:
        sets.append(f"model.clip.pretrained={config['paper']['pretrained']}")
    parent = run.parent()
    if parent is not None:
        start = run.start_iter(SCALE, config["extra_sets"])
        midpoint = LAYOUT.text(layout.RUN_CHECKPOINT, run=parent.key(SCALE), seed=wildcards.seed, iter=start)
        sets.append(f"train.init_from={midpoint}")
    return " ".join(f"--set {s}" for s in sets)


def run_recipe(wildcards):
    """Its resolved configuration's digest: a parameter, so a changed preset reruns the run."""
    return RUNS[wildcards.run].recipe(SCALE, config["extra_sets"])


def run_inputs(wildcards):
    run = RUNS[wildcards.run]
    inputs = {}
    if SCALE == "mini":
        inputs["world"] = f"{WORLD}/world.json"
        inputs["clip"] = MINI_CLIP
    parent = run.parent()
    if parent is not None:
        inputs["parent"] = run_result(parent.key(SCALE), wildcards.seed)
    return inputs


# The regression gate's measurement (workflow/rules/gate.smk)
GATE = config["gate"]
GATE_RUNS = gate_runs(SCALE)


def gate_table_results(template, seed, **fields):
    """Every Table 5 run's results at ``seed`` under ``template`` (a clean or a back-end tree)."""
    keys = dict.fromkeys(r.run.key(SCALE) for r in table_rows(GATE_TABLE, SCALE))
    return [LAYOUT.text(template, run=key, seed=seed, **fields) for key in keys]


def gate_power_inputs(wildcards):
    clean = [p for seed in dict.fromkeys([GATE["seed"], *GATE["clean_seeds"]])
             for p in gate_table_results(layout.RUN_RESULTS, seed)]
    backends = [p for b in GATE["backends"] for p in gate_table_results(layout.BACKEND_RESULTS, GATE["seed"], backend=b)]
    planted = [LAYOUT.text(layout.PLANTED_RESULTS, plant=p, run=key, seed=GATE["seed"])
               for p in PLANTS for key in GATE_RUNS]
    return clean + backends + planted
