"""Rendering a paper table from a results tree (inputs written here, as evaluations would)."""
import json

import pandas as pd
import pytest

from zegclip.config import load_preset
from zegclip.cli import main
from zegclip.engine.provenance import package_versions
from zegclip.paper.runs import table_rows
from zegclip.paper.layout import result_path


def _write_results(root, table, seeds, offset=0.0):
    for row in table_rows(table):
        for seed in seeds:
            path = result_path(root, "mini", row.run.key("mini"), seed, row.target)
            path.parent.mkdir(parents=True, exist_ok=True)
            base = 10.0 * (seed + 1) + offset
            path.write_text(json.dumps({"metrics": {"pAcc": base, "mIoU_S": base + 1, "mIoU_U": base + 2,
                                                    "hIoU": base + 3, "mIoU": base, "mAcc": base},
                                        "fingerprint": fake_fingerprint(row), "versions": package_versions(),
                                        "machine": "test machine", "device": "cpu"}))


def fake_fingerprint(row):
    """Facts of the shape zegclip.engine.fingerprint writes, fixed by the row's run."""
    r = row.run.resolved("mini")
    return {"encoder_mode": r.encoder, "query_width": 256 if r.query == "cat_tmulg_t" else 128,
            "prompt_layers": f"{r.layers[0]}-{r.layers[1]}", "templates": 15, "recipe": row.run.key("mini")}


def test_table5_renders_ours_beside_the_paper(tmp_path, capsys):
    _write_results(tmp_path / "results", "table5", seeds=[0, 1])
    out = tmp_path / "reports" / "table5.md"
    assert main(["report", "--table", "table5", "--results", str(tmp_path / "results"), "--seeds", "0", "1",
                 "--world-seed", "9", "--out", str(out)]) == 0  # a world with no committed verdicts: no †
    md = out.read_text()
    assert md.startswith("Table 5:") and "Scale: mini; seeds: 2" in md
    labels = [r.label for r in table_rows("table5")][::2]  # the paper's labels, in its order
    assert labels[:3] == ["Baseline-Fix", "Baseline-Fix + NEL", "Baseline-Fix + RD"]
    lines = [line for line in md.splitlines() if line.startswith("| ")]
    assert [line.split("|")[1].strip() for line in lines[1:]] == labels  # one line per row, datasets side by side
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header == ["row"] + [f"{d} {m}" for d in ("VOC", "COCO-Stuff") for m in ("pAcc", "mIoU(S)", "mIoU(U)", "hIoU")]
    assert "| 15.0 ± 7.1 (94.6) |" in lines[-1]  # ZegCLIP's VOC pAcc over seeds 10 and 20, the paper's beside it
    tex = out.with_suffix(".tex").read_text()
    assert r"\multicolumn{4}{c}{VOC} & \multicolumn{4}{c}{COCO-Stuff}" in tex and r"\cmidrule(lr){2-5}" in tex
    assert r"Baseline-DPT + NEL + RD (ZegCLIP) & 15.0 $\pm$ 7.1 (94.6)" in tex and r"\toprule" in tex
    csv = (tmp_path / "results" / "mini" / "tables" / "table5.csv").read_text()
    assert csv.splitlines()[0].startswith("table,row,label,dataset,target,metric,mean,std,seeds,paper,delta")
    frame = pd.read_csv(tmp_path / "results" / "mini" / "tables" / "table5.csv")
    zegclip_voc = frame[(frame["row"] == "dpt_nel_rd") & (frame["dataset"] == "voc") & (frame["metric"] == "pAcc")]
    assert zegclip_voc["delta"].item() == pytest.approx(15.0 - 94.6)  # Δ stays in the frame


@pytest.mark.parametrize("table", ["table2", "table4", "table5", "table6", "table7", "table8", "table9"])
def test_no_rendered_table_is_wider_than_ten_columns(tmp_path, table):
    _write_results(tmp_path / "results", table, seeds=[0])
    out = tmp_path / f"{table}.md"
    assert main(["report", "--table", table, "--results", str(tmp_path / "results"), "--seeds", "0",
                 "--out", str(out)]) == 0
    header = next(line for line in out.read_text().splitlines() if line.startswith("| "))
    assert 3 <= header.count("|") - 1 <= 10


def test_table4_flags_the_uncertain_label_and_table7_uses_its_metrics(tmp_path):
    _write_results(tmp_path / "results", "table4", seeds=[0])
    _write_results(tmp_path / "results", "table7", seeds=[0])
    main(["report", "--table", "table4", "--results", str(tmp_path / "results"), "--seeds", "0",
          "--out", str(tmp_path / "t4.md")])
    assert "label of the last 1536-d row is uncertain" in (tmp_path / "t4.md").read_text()
    main(["report", "--table", "table7", "--results", str(tmp_path / "results"), "--seeds", "0",
          "--out", str(tmp_path / "t7.md")])
    t7 = (tmp_path / "t7.md").read_text()
    assert "COCO-Stuff → Context mIoU" in t7 and "mAcc" in t7 and "hIoU" not in t7


def test_a_missing_result_is_a_clear_error(tmp_path, capsys):
    _write_results(tmp_path / "results", "table8", seeds=[0])
    assert main(["report", "--table", "table8", "--results", str(tmp_path / "results"), "--seeds", "0", "1",
                 "--out", str(tmp_path / "t8.md")]) == 2
    assert "no result" in capsys.readouterr().err and not (tmp_path / "t8.md").exists()


def test_table3_renders_the_efficiency_counts_beside_the_paper(tmp_path):
    for ds, params, gflops in (("voc", 13.821, 110.38), ("coco", 14.651, 123.72)):
        path = tmp_path / "results" / "mini" / "efficiency" / f"{ds}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"params_M": {"published_convention": params}, "gflops": {"total": gflops},
                                    "throughput": {"images_per_s": 1.5, "device": "cpu", "precision": "fp32"}}))
    out = tmp_path / "table3.md"
    assert main(["report", "--table", "table3", "--results", str(tmp_path / "results"), "--out", str(out)]) == 0
    md = out.read_text()
    assert md.startswith("Table 3:") and "paper-scale model" in md
    assert "ZegFormer (cited)" in md and "1829.3" in md  # cited rows as printed, nothing of ours
    cells = [c.strip() for line in md.splitlines() if line.startswith("| ZegCLIP") for c in line.split("|")]
    assert "13.8 (13.8)" in cells and "123.7 (123.9)" in cells  # ours, the paper's beside it
    assert "1.50 (cpu, fp32)" in md
    frame = pd.read_csv(tmp_path / "results" / "mini" / "tables" / "table3.csv")
    assert frame["GFLOPs Δ"].dropna().round(2).tolist() == [-0.02, -0.18]  # every column kept in the frame


def test_table3_without_efficiency_results_names_the_missing_file(tmp_path, capsys):
    assert main(["report", "--table", "table3", "--results", str(tmp_path), "--out", str(tmp_path / "t3.md")]) != 0
    assert "efficiency/voc.json" in capsys.readouterr().err
    assert not (tmp_path / "t3.md").exists()


def _write_per_class(root, seeds):
    for row in table_rows("table2", "mini"):
        for seed in seeds:
            path = result_path(root, "mini", row.run.key("mini"), seed)
            path.parent.mkdir(parents=True, exist_ok=True)
            per = {"green striped": 10.0 + seed, "sand": 40.0 + seed, "red plain": 70.0}
            path.write_text(json.dumps({"metrics": {"pAcc": 1, "mIoU_S": 2, "mIoU_U": 3, "hIoU": 4},
                                        "per_class_IoU": per,
                                        "evaluation": {"unseen": ["green striped", "sand"]}}))


def test_figures_are_drawn_from_the_results_tree(tmp_path):
    from zegclip.report.figures import draw, per_class_frame

    root = tmp_path / "results"
    _write_per_class(root, seeds=[0, 1])
    frame = per_class_frame(root, "mini", [0, 1])
    assert set(frame["class"]) == {"green striped", "sand"}  # unseen classes only
    assert set(frame["setting"]) == {"ZegCLIP (Ours)", "ZegCLIP+ST (Ours)"}
    assert len(frame) == 2 * 2 * 2  # settings x classes x seeds
    _write_results(root, "table8", seeds=[0, 1])
    _write_results(root, "tokens", seeds=[0, 1])
    for name in ("per_class_unseen", "prompt_depth", "prompt_tokens"):
        out = tmp_path / "figures" / f"{name}.png"
        assert main(["figure", "--name", name, "--results", str(root), "--seeds", "0", "1", "--out", str(out)]) == 0
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fig = draw("prompt_depth", root, "mini", [0, 1])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["1→1", "1→3", "1→6", "1→9", "1→12",
                                                                     "10→12", "7→12", "4→12"]


def test_a_figure_without_its_results_fails_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "f.png"
    assert main(["figure", "--name", "prompt_tokens", "--results", str(tmp_path), "--seeds", "0",
                 "--out", str(out)]) != 0
    assert "no result" in capsys.readouterr().err and not out.exists()


def test_mini_tables_show_the_reference_scores(tmp_path):
    root = tmp_path / "results"
    _write_results(root, "table8", seeds=[0])
    refs = {name: {"pAcc": 1.0, "mIoU_S": 1.0, "mIoU_U": value, "hIoU": 1.0}
            for name, value in (("uniform_chance", 2.5), ("colour_only", 14.9), ("texture_only", 24.2))}
    (root / "mini" / "references").mkdir(parents=True)
    (root / "mini" / "references" / "mini_voc.json").write_text(json.dumps({"dataset": "mini_voc", "references": refs}))
    out = tmp_path / "t8.md"
    assert main(["report", "--table", "table8", "--results", str(root), "--seeds", "0", "--out", str(out)]) == 0
    assert "mini_voc unseen mIoU: uniform chance 2.5, colour only 14.9, texture only 24.2" in out.read_text()


def test_summary_counts_only_the_seeds_it_averaged():
    import pandas as pd

    from zegclip.report.aggregate import summarize

    long = pd.DataFrame({"table": "table8", "row": "l1", "label": "1→1", "dataset": "voc", "target": "",
                         "metric": "hIoU", "seed": [0, 1, 2], "ours": [40.0, float("nan"), 50.0], "paper": 76.4})
    s = summarize(long).iloc[0]
    assert s["seeds"] == 2 and s["mean"] == 45.0
    none = summarize(long.assign(ours=float("nan"))).iloc[0]
    assert none["seeds"] == 0


@pytest.mark.parametrize("content,message", [
    ('{"metrics": {"pAcc": 1, "mIoU_S": 2, "mIoU_U": NaN, "hIoU": 4}}', "has no number for mIoU_U (found nan)"),
    ('{"metrics": {"pAcc": 1, "mIoU_S": 2, "mIoU_U": null, "hIoU": 4}}', "has no number for mIoU_U (found None)"),
    ('{"metrics": {"pAcc": 1, "mIoU_S": 2, "hIoU": 4}}', "has no number for mIoU_U"),
    ('{"metrics": {"pAcc": 1, "mIoU_S": 2, "mIoU_U": "3", "hIoU": 4}}', "has no number for mIoU_U"),
    ('{"metrics": {"pAcc": 1, "mIoU_S"', "is not valid JSON"),
    ('[1, 2]', "expected a JSON object, got a list"),
    ('{"config": {}}', "has no 'metrics' object"),
])
def test_a_result_without_a_number_is_an_error_naming_its_file(tmp_path, capsys, content, message):
    root = tmp_path / "results"
    _write_results(root, "table8", seeds=[0, 1])
    bad = result_path(root, "mini", table_rows("table8")[3].run.key("mini"), 1)
    bad.write_text(content)
    out = tmp_path / "t8.md"
    assert main(["report", "--table", "table8", "--results", str(root), "--seeds", "0", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"results file {bad}" in err and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and not (root / "mini" / "tables" / "table8.csv").exists()


def _write_curves(root, seeds, rising, datasets=("voc", "coco")):
    """Table 5 results with learning curves: rows in ``rising`` still gain 7.5 points of seen
    mIoU over the last quarter (iterations 450..600) on ``datasets``, the others have levelled off."""
    import math

    for row in table_rows("table5"):
        for seed in seeds:
            path = result_path(root, "mini", row.run.key("mini"), seed)
            path.parent.mkdir(parents=True, exist_ok=True)
            curve = []
            for it in range(75, 601, 75):
                seen = 10 + it / 20 if row.key in rising and row.dataset in datasets else 40 - 30 * math.exp(-it / 60)
                curve.append({"iter": it, "loss": 1.0 / it, "pAcc": 50.0, "mIoU_S": seen + seed,
                              "mIoU_U": seen / 2, "hIoU": seen / 3})
            metrics = {k: curve[-1][k] for k in ("pAcc", "mIoU_S", "mIoU_U", "hIoU")}
            path.write_text(json.dumps({"metrics": metrics, "curve": curve}))


def test_the_last_quarter_gain_describes_each_curve(tmp_path):
    from zegclip.report.curves import collect_curves, last_quarter_gain

    root = tmp_path / "results"
    _write_curves(root, [0, 1], rising={"fix"})
    gains = last_quarter_gain(collect_curves("table5", root, "mini", [0, 1]))
    fix = gains[(gains["row"] == "fix") & (gains["dataset"] == "voc")].iloc[0]
    assert fix["seen_gain_last_quarter"] == pytest.approx(7.5)
    assert (gains[gains["row"] != "fix"]["seen_gain_last_quarter"].abs() < 1).all()


def _write_budgets(root, changes, seed=0):
    """Table 5 results at T and at 2T (seed ``seed``): 2T adds ``changes[(row, dataset)]`` =
    (seen, hIoU) points, nothing elsewhere. The row ft_nel_rd learns almost nothing."""
    from dataclasses import replace

    for row in table_rows("table5"):
        seen = 3.0 if row.key == "ft_nel_rd" else 40.0 + len(row.key)
        for run, (ds, dh) in ((row.run, (0.0, 0.0)), (replace(row.run, budget=2), changes.get((row.key, row.dataset),
                                                                                               (0.0, 0.0)))):
            path = result_path(root, "mini", run.key("mini"), seed)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"metrics": {"pAcc": 50.0, "mIoU_S": seen + ds, "mIoU_U": 20.0,
                                                    "hIoU": 26.0 + dh}}))


def test_budget_doubling_judges_each_row_and_flags_collapse(tmp_path, monkeypatch):
    import zegclip.report.convergence as conv

    root = tmp_path / "results"
    _write_budgets(root, {("fix", "voc"): (1.0, 0.0), ("dpt", "coco"): (0.5, -1.5), ("ft", "voc"): (-0.9, 1.4)})
    monkeypatch.setattr(conv, "reference_path", lambda table, world: tmp_path / f"ref_{table}_{world}.csv")
    out = tmp_path / "convergence_table5.md"
    assert main(["convergence", "--results", str(root), "--world-seed", "3", "--out", str(out),
                 "--write-reference"]) == 0
    frame = pd.read_csv(tmp_path / "ref_table5_3.csv")
    verdict = {(r, d): c for r, d, c in zip(frame["row"], frame["dataset"], frame["converged"])}
    assert not verdict[("fix", "voc")] and not verdict[("dpt", "coco")]  # 1 point of seen; 1.5 of hIoU
    assert verdict[("ft", "voc")] and verdict[("fix", "coco")] and sum(verdict.values()) == 22
    assert frame["collapsed"].tolist().count(True) == 2 and set(frame.loc[frame["collapsed"], "row"]) == {"ft_nel_rd"}
    budgets = {(d, load_preset(f"mini_{d}")["train"]["iters"]) for d in ("voc", "coco")}  # each dataset's own T
    assert set(zip(frame["dataset"], frame["iters"])) == budgets and (frame["iters_2T"] == 2 * frame["iters"]).all()
    assert set(frame["world_seed"]) == {3}
    md = out.read_text()
    assert "22 of 24 rows converged" in md and "| Baseline-Fix " in md and "43.0 → 44.0" in md  # fix on VOC
    assert (root / "mini" / "tables" / "convergence_table5.csv").is_file()

    # the rendered table marks the rows the committed verdict of its world calls unconverged
    _write_results(root, "table5", seeds=[0])
    t5 = tmp_path / "t5.md"
    assert main(["report", "--table", "table5", "--results", str(root), "--seeds", "0", "--world-seed", "3",
                 "--out", str(t5)]) == 0
    marked = [line.split("|")[1].strip() for line in t5.read_text().splitlines() if "†" in line and "|" in line]
    assert marked == ["Baseline-Fix † (VOC)", "Baseline-DPT † (COCO-Stuff)"]
    assert "committed verdict of world seed 3" in t5.read_text()
    csv = pd.read_csv(root / "mini" / "tables" / "table5.csv")
    assert set(csv.loc[(csv["row"] == "fix") & (csv["dataset"] == "voc"), "converged"]) == {False}
    # another world, or verdicts of other budgets, mark nothing
    assert main(["report", "--table", "table5", "--results", str(root), "--seeds", "0", "--world-seed", "4",
                 "--out", str(t5)]) == 0
    assert "†" not in t5.read_text()
    frame.assign(iters=300).to_csv(tmp_path / "ref_table5_3.csv", index=False)
    assert main(["report", "--table", "table5", "--results", str(root), "--seeds", "0", "--world-seed", "3",
                 "--out", str(t5)]) == 0
    assert "†" not in t5.read_text()


def test_budget_doubling_over_several_seeds_judges_their_means(tmp_path, monkeypatch):
    import zegclip.report.convergence as conv

    root = tmp_path / "results"
    # Baseline-Fix on VOC: seed 0 gains 2 points of seen mIoU at 2T, seed 1 loses 0.4: one seed's
    # verdict would be "not converged", the mean's (+0.8) is "converged"; DPT on COCO-Stuff gains
    # 0.9 and 1.2 points of hIoU (each converged alone), a mean of 1.05: converged too
    _write_budgets(root, {("fix", "voc"): (2.0, 0.0), ("dpt", "coco"): (0.0, 0.9)}, seed=0)
    _write_budgets(root, {("fix", "voc"): (-0.4, 0.0), ("dpt", "coco"): (0.0, 1.2)}, seed=1)
    monkeypatch.setattr(conv, "reference_path", lambda table, world: tmp_path / f"ref_{table}_{world}.csv")
    out = tmp_path / "convergence_table5.md"
    assert main(["convergence", "--results", str(root), "--seeds", "0", "1", "--out", str(out)]) == 0
    frame = pd.read_csv(root / "mini" / "tables" / "convergence_table5.csv")
    fix = frame[(frame["row"] == "fix") & (frame["dataset"] == "voc")].iloc[0]
    assert fix["converged"] and fix["delta_mIoU_S"] == pytest.approx(0.8) and fix["seeds"] == "0 1"
    assert fix["mIoU_S_2T_sd"] == pytest.approx(1.2 * 2 ** 0.5) and fix["mIoU_S_sd"] == 0.0
    assert frame["converged"].all()
    md = out.read_text()
    assert "24 of 24 rows converged" in md and "the means over 2 seeds" in md and "seeds 0 1;" in md
    assert "43.0 ± 0.0 → 43.8 ± 1.7" in md  # Baseline-Fix on VOC: mean ± std over the seeds
    # one seed alone: seed 0's Baseline-Fix gained 2 points
    assert main(["convergence", "--results", str(root), "--seeds", "0", "--out", str(out)]) == 0
    assert "23 of 24 rows converged" in out.read_text() and "± " not in out.read_text()


def test_budget_doubling_without_the_2t_runs_names_the_missing_result(tmp_path, capsys):
    _write_results(tmp_path / "results", "table5", seeds=[0])
    out = tmp_path / "c.md"
    assert main(["convergence", "--results", str(tmp_path / "results"), "--out", str(out)]) == 2
    assert "-x2/seed0/results.json" in capsys.readouterr().err and not out.exists()


def test_tables_without_curves_mark_nothing(tmp_path):
    _write_results(tmp_path / "results", "table5", seeds=[0])
    out = tmp_path / "t5.md"
    assert main(["report", "--table", "table5", "--results", str(tmp_path / "results"), "--seeds", "0",
                 "--world-seed", "9", "--out", str(out)]) == 0  # no committed verdicts for world 9
    assert "†" not in out.read_text()


def test_learning_curves_figure(tmp_path, capsys):
    root = tmp_path / "results"
    _write_results(root, "table5", seeds=[0])
    out = tmp_path / "curves.png"
    assert main(["figure", "--name", "curves_table5", "--results", str(root), "--seeds", "0", "--out", str(out)]) == 2
    assert "hold no learning curves" in capsys.readouterr().err and not out.exists()
    _write_curves(root, [0, 1], rising=set())
    assert main(["figure", "--name", "curves_table5", "--results", str(root), "--seeds", "0", "1",
                 "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_table5_rows_on_a_users_dataset_render_without_paper_numbers(tmp_path):
    from zegclip.paper.runs import UserDataset, user_rows

    user = UserDataset("mine", "data/mine/dataset.yaml")
    for row in user_rows("table5", user, "mini"):
        for seed in (0, 1):
            path = result_path(tmp_path / "results", "mini", row.run.key("mini"), seed)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"metrics": {"pAcc": 50.0 + seed, "mIoU_S": 40.0, "mIoU_U": 20.0, "hIoU": 26.7}}))
    out = tmp_path / "reports" / "mine" / "table5.md"
    assert main(["report", "--table", "table5", "--results", str(tmp_path / "results"), "--seeds", "0", "1",
                 "--custom", "mine=data/mine/dataset.yaml", "--out", str(out)]) == 0
    md = out.read_text()
    assert "on your dataset mine (data/mine/dataset.yaml, the mini_voc recipe)" in md
    assert "Baseline-DPT + NEL + RD (ZegCLIP)" in md and "50.5 ± 0.7" in md
    assert "94.6" not in md  # no paper numbers for a user's dataset
    assert (tmp_path / "results" / "mini" / "tables" / "mine" / "table5.csv").is_file()
    assert not (tmp_path / "results" / "mini" / "tables" / "table5.csv").exists()  # the paper's table untouched
