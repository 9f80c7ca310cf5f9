"""The Snakemake workflow: lint, and dry runs that plan every job of a table once."""
import os
import re
import subprocess
import sys
from pathlib import Path

from zegclip.paper.runs import TRAINED_TABLES, runs_for, table_rows

ROOT = Path(__file__).resolve().parents[1]


def _snakemake(*args):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def _counts(out):
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", out, re.M)}


def test_lint_reports_nothing():
    assert "Congratulations, your workflow is in a good condition" in _snakemake("--lint")


def test_dry_run_plans_every_table5_run_once_per_seed(tmp_path):
    out = _snakemake("-n", "--cores", "1", f"{tmp_path}/reports/table5.md", "--config", "seeds=2",
                     f"results={tmp_path}/results", f"reports={tmp_path}/reports")
    counts = _counts(out)
    assert counts["train_run"] == 24 * 2 and counts["render_table"] == 1
    planned = re.findall(r"output: \S+/runs/([^/]+)/seed(\d)/results.json", out)
    assert len(planned) == len(set(planned)) == 48


def test_dry_run_at_paper_scale_plans_every_table(tmp_path):
    out = _snakemake("-n", "--cores", "1", "--config", "scale=paper", "seeds=1", f"results={tmp_path}/results",
                     f"reports={tmp_path}/reports")
    counts = _counts(out)
    table_runs = {r.run.key("paper") for t in TRAINED_TABLES for r in table_rows(t, "paper")}
    parents = {run.parent().key("paper") for run in runs_for(("table2", "table7"), "paper").values() if run.parent()}
    assert counts["train_run"] == len(table_runs | parents)
    assert counts["render_table"] == 7 and counts["evaluate_cross_dataset"] == 4 and counts["measure_efficiency"] == 2
    assert counts["render_efficiency_table"] == 1 and counts["draw_figure"] == 3


def test_slurm_profile_is_valid_and_plans_every_job_of_a_table(tmp_path):
    out = _snakemake("-n", "--profile", "workflow/profiles/slurm", f"{tmp_path}/reports/table5.md",
                     "--config", "seeds=1", f"results={tmp_path}/results", f"reports={tmp_path}/reports")
    counts = _counts(out)
    assert counts["train_run"] == 24 and counts["render_table"] == 1
    assert "slurm_partition" in (ROOT / "workflow/profiles/slurm/config.yaml").read_text()
