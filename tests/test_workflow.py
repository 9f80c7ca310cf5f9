"""The Snakemake workflow: lint, and dry runs that plan every job of a table once."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from zegclip.config import load_preset
from zegclip.paper.runs import TRAINED_TABLES, runs_for, table_rows

pytestmark = pytest.mark.slow  # every test here runs Snakemake in a subprocess

ROOT = Path(__file__).resolve().parents[1]


def _snakemake(*args):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def _counts(out):
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", out, re.M)}


def _planned_jobs(out):
    """rule name -> the dry run's job blocks (the lines after each `rule NAME:`)."""
    jobs = {}
    for block in re.split(r"\n(?=rule \w+:)", out):
        m = re.match(r"rule (\w+):", block)
        if m:
            jobs.setdefault(m.group(1), []).append(block)
    return jobs


def test_lint_reports_nothing():
    assert "Congratulations, your workflow is in a good condition" in _snakemake("--lint")


def test_dry_run_plans_every_table5_run_once_per_seed(tmp_path):
    out = _snakemake("-n", "--cores", "1", f"{tmp_path}/reports/table5.md", f"{tmp_path}/reports/claims_table5.md",
                     "--config", "seeds=2", f"results={tmp_path}/results", f"reports={tmp_path}/reports")
    counts = _counts(out)
    assert counts["train_run"] == 24 * 2 and counts["render_table"] == 1 and counts["render_claims"] == 1
    planned = re.findall(r"output: \S+/runs/([^/]+)/seed(\d)/results.json", out)
    assert len(planned) == len(set(planned)) == 48


def test_the_convergence_report_trains_every_table5_row_at_t_and_2t_with_seed_0(tmp_path):
    out = _snakemake("-n", "-p", "--cores", "1", f"{tmp_path}/reports/convergence_table5.md", "--config",
                     "mini={world_seed: 1}", f"results={tmp_path}/results", f"reports={tmp_path}/reports")
    planned = re.findall(r"output: \S+/runs/([^/]+)/seed(\d)/results.json", out)
    assert len(planned) == 48 and {s for _, s in planned} == {"0"}
    assert sum(run.endswith("-x2") for run, _ in planned) == 24
    doubled = [f"train.iters={2 * load_preset(f'mini_{d}')['train']['iters']}" for d in ("voc", "coco")]
    assert all(d in out for d in doubled) and "--world-seed 1" in out and "--seeds 0 --world-seed" in out
    # the rule over several seeds: each row at T and at 2T for each of them
    out = _snakemake("-n", "-p", "--cores", "1", f"{tmp_path}/reports/convergence_table5.md", "--config",
                     "convergence_seeds=2", f"results={tmp_path}/results", f"reports={tmp_path}/reports")
    planned = re.findall(r"output: \S+/runs/([^/]+)/seed(\d)/results.json", out)
    assert len(planned) == 96 and {s for _, s in planned} == {"0", "1"} and "--seeds 0 1 " in out


def test_a_users_dataset_gets_table5s_runs_on_its_description(tmp_path):
    out = _snakemake("-n", "-p", "--cores", "1", f"{tmp_path}/reports/mine/table5.md", "--config", "seeds=1",
                     "datasets={mine: {description: docs/examples/dataset.yaml}}", f"results={tmp_path}/results",
                     f"reports={tmp_path}/reports")
    counts = _counts(out)
    assert counts["train_run"] == 12 and counts["render_user_table"] == 1
    trains = [line for line in out.splitlines() if " train --preset" in line]
    assert len(trains) == 12 and all("--preset mini_voc" in t and "data.dataset=custom:docs/examples/dataset.yaml" in t
                                     and "data.root=" not in t and "model.clip.pretrained=data/mini/clip/" in t
                                     for t in trains)  # at mini scale: the mini recipe and the world's CLIP
    assert "--custom mine=docs/examples/dataset.yaml" in out


@pytest.mark.parametrize("scale,seeds", [("paper", 1), ("mini", 3)])
def test_unset_seeds_default_to_one_at_paper_scale_and_three_at_mini_scale(tmp_path, scale, seeds):
    out = _snakemake("-n", "--cores", "1", f"{tmp_path}/reports/table5.md", "--config", f"scale={scale}",
                     f"results={tmp_path}/results", f"reports={tmp_path}/reports")
    runs = {r.run.key(scale) for r in table_rows("table5", scale)}
    planned = re.findall(r"output: \S+/runs/([^/]+)/seed(\d)/results.json", out)
    assert sorted(planned) == sorted((run, str(s)) for run in runs for s in range(seeds))


def test_dry_run_at_paper_scale_plans_every_table_with_gpus_requested_by_the_slurm_plugins_name(tmp_path):
    out = _snakemake("-n", "-p", "--cores", "1", "--config", "scale=paper", "seeds=1", f"results={tmp_path}/results",
                     f"reports={tmp_path}/reports")
    counts = _counts(out)
    table_runs = {r.run.key("paper") for t in TRAINED_TABLES for r in table_rows(t, "paper")}
    parents = {run.parent().key("paper") for run in runs_for(("table2", "table7"), "paper").values() if run.parent()}
    assert counts["train_run"] == len(table_runs | parents)
    assert counts["render_table"] == 7 and counts["evaluate_cross_dataset"] == 4 and counts["measure_efficiency"] == 2
    assert counts["render_efficiency_table"] == 1 and counts["draw_figure"] == 3 and counts["render_claims"] == 1
    jobs = _planned_jobs(out)
    for rule in ("train_run", "evaluate_cross_dataset", "measure_efficiency"):
        assert all(re.search(r"resources: .*\bgpu=1\b", job) for job in jobs[rule]), rule
    assert "gpus=" not in out
    assert all("zegclip efficiency" in job and "--device cuda" in job for job in jobs["measure_efficiency"])


def test_slurm_profile_plans_a_table_and_keeps_each_rules_own_threads_so_mini_jobs_fit_a_two_cpu_node(tmp_path):
    import yaml

    profile = yaml.safe_load((ROOT / "workflow/profiles/slurm/config.yaml").read_text())
    assert "set-threads" not in profile and profile["executor"] == "slurm"
    assert {"slurm_partition", "slurm_account"} <= set(profile["default-resources"])
    out = _snakemake("-n", "--profile", "workflow/profiles/slurm", f"{tmp_path}/reports/table5.md",
                     "--config", "seeds=1", f"results={tmp_path}/results", f"reports={tmp_path}/reports")
    jobs = _planned_jobs(out)
    assert len(jobs["train_run"]) == 24 and len(jobs["render_table"]) == 1
    assert all("threads:" not in job for job in jobs["train_run"])  # the dry run prints threads only above 1
    assert all(int(t) <= 2 for job in jobs.get("pretrain_clip", []) for t in re.findall(r"threads: (\d+)", job))
    assert all(not re.search(r"\bgpus?=[1-9]", job) for js in jobs.values() for job in js)


def test_mini_scale_measures_table3_on_the_cpu_without_requesting_a_gpu(tmp_path):
    out = _snakemake("-n", "-p", "--cores", "1", f"{tmp_path}/reports/table3.md", "--config",
                     f"results={tmp_path}/results", f"reports={tmp_path}/reports")
    jobs = _planned_jobs(out)["measure_efficiency"]
    assert len(jobs) == 2 and all("--device cpu" in job and "gpu=1" not in job for job in jobs)


def test_nested_command_line_config_values_get_their_schema_types(tmp_path):
    out = _snakemake("-n", "-p", "--cores", "1", f"{tmp_path}/reports/table5.md", "--config",
                     f"mini={{world: {tmp_path}/world, world_seed: 1, clip_steps: 7}}", f"results={tmp_path}/results", f"reports={tmp_path}/reports")
    assert "--seed 1 " in out and "--steps 7 " in out  # a bad nested value: tests/test_bad_inputs.py


def _tiny_workflow(tmp_path, rows, extra_sets):
    """A real mini DAG in its own working directory (its own .snakemake): a 24-image world, a tiny
    CLIP pretrained for 2 steps, runs of a few iterations. Returns (command, env, targets)."""
    import shutil

    for part in ("Snakefile", "workflow", "env"):
        (shutil.copytree if (ROOT / part).is_dir() else shutil.copy)(ROOT / part, tmp_path / part)
    targets = [f"results/mini/runs/{r.run.key('mini')}/seed0/results.json" for r in rows]
    _tiny_config(tmp_path, extra_sets)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "ZEGCLIP_CACHE": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "snakemake", "--cores", "1", *targets, "--configfile", "tiny.yaml"]
    return cmd, env, targets


def _tiny_config(tmp_path, extra_sets):
    (tmp_path / "tiny.yaml").write_text(
        "seeds: 1\nmini: {world: data, world_seed: 0, clip_steps: 2, train_images: 24, val_images: 6}\n"
        f"extra_sets: [{', '.join(extra_sets)}]\n")


def _run(cmd, tmp_path, env, *extra):
    done = subprocess.run(cmd[:3] + list(extra) + cmd[3:], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


def test_changing_extra_sets_reruns_the_runs_without_manual_clean_up(tmp_path):
    import json

    rows = [r for r in table_rows("table8", "mini") if r.key == "l1_3"]
    cmd, env, targets = _tiny_workflow(tmp_path, rows, ["train.iters=4", "train.batch=4", "train.checkpoint_every=2"])
    _run(cmd, tmp_path, env)
    run_dir = (tmp_path / targets[0]).parent
    assert json.loads((run_dir / "config.json").read_text())["train"]["iters"] == 4
    _tiny_config(tmp_path, ["train.iters=6", "train.batch=4", "train.checkpoint_every=3"])
    out = _run(cmd, tmp_path, env)
    assert _counts(out)["train_run"] == 1
    result = json.loads((tmp_path / targets[0]).read_text())
    assert result["config"]["train"]["iters"] == 6
    assert json.loads((run_dir / "config.json").read_text()) == result["config"]
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["iter_3.pt", "iter_6.pt"]
    assert len((run_dir / "train.log").read_text().splitlines()) == 6


def test_killed_workflow_restarts_without_redoing_finished_runs(tmp_path):
    """A real (tiny) mini DAG: kill the whole process group mid-run, start again; finished runs
    are kept as they were, the interrupted one resumes, and no result is partial."""
    import json
    import signal
    import time

    rows = [r for r in table_rows("table8", "mini") if r.key in ("l1", "l1_3", "l1_6")]
    cmd, env, targets = _tiny_workflow(tmp_path, rows, ["train.iters=6", "train.batch=4", "train.checkpoint_every=3"])
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 300
    logs = tmp_path / "results" / "mini" / "logs" / "train_run"

    def started_after_a_finished_one():  # so snakemake has recorded the finished run as complete
        done = sum((tmp_path / t).exists() for t in targets)
        return done >= 1 and len(list(logs.rglob("*.log"))) > done

    while not started_after_a_finished_one() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    time.sleep(0.5)  # the next run is under way
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {t: ((tmp_path / t).read_bytes(), (tmp_path / t).stat().st_mtime_ns)
                for t in targets if (tmp_path / t).exists()}
    assert 1 <= len(finished) < len(targets), "the kill did not land between two runs"

    _run(cmd, tmp_path, env, "--unlock")  # a hard kill leaves snakemake's lock and incomplete markers behind
    out = _run(cmd, tmp_path, env, "--rerun-incomplete")
    for t, (content, mtime) in finished.items():  # finished runs were not redone
        assert (tmp_path / t).read_bytes() == content and (tmp_path / t).stat().st_mtime_ns == mtime
    assert _counts(out)["train_run"] == len(targets) - len(finished)
    for target in targets:
        result = json.loads((tmp_path / target).read_text())
        assert result["config"]["train"]["iters"] == 6
    assert not list((tmp_path / "results").rglob("*.tmp"))


def test_paper_scale_runs_on_several_gpus_through_torchrun(tmp_path):
    (tmp_path / "gpus.yaml").write_text(
        "scale: paper\nseeds: 1\npaper: {data_root: {voc: /data/voc, coco: /data/coco, context: /data/ctx}, "
        "pretrained: openai, gpus_per_run: 4}\n")
    key = next(r.run.key("paper") for r in table_rows("table5", "paper") if r.key == "dpt_nel_rd")
    target = f"{tmp_path}/results/paper/runs/{key}/seed0/results.json"
    out = _snakemake("-n", "-p", "--cores", "1", target, "--configfile", str(tmp_path / "gpus.yaml"),
                     "--config", f"results={tmp_path}/results")
    assert "torchrun --standalone --nproc_per_node=4 -m zegclip.cli train --preset voc" in out
    assert "gpu=4" in out
