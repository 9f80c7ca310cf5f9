"""Every row of Tables 2-9 maps to a run; rows shared between tables are one run."""
import pytest

from zegclip.paper.runs import SCALES, TRAINED_TABLES, Run, reported, runs_for, table_rows


def test_reported_numbers_are_carried_with_their_source():
    from zegclip.paper.runs import REPORTED
    assert "Source:" in REPORTED.read_text().splitlines()[0]
    assert reported()["table5"]["rows"][-1]["voc"] == [94.6, 91.9, 77.8, 84.3]


@pytest.mark.parametrize("scale", SCALES)
def test_the_full_zegclip_row_is_one_run_across_tables(scale):
    zegclip_voc = Run("voc").key(scale)
    same = {
        "table2": ("zegclip", "voc"), "table4": ("cat_tmulg_t", "voc"), "table5": ("dpt_nel_rd", "voc"),
        "table6": ("voc_plus", "voc"), "table8": ("l1_12", "voc"),
    }
    for table, (key, ds) in same.items():
        rows = [r for r in table_rows(table) if r.key == key and r.dataset == ds]
        assert len(rows) == 1 and rows[0].run.key(scale) == zegclip_voc, table
    coco = {r.run.key(scale) for t in ("table2", "table5", "table6", "table9") for r in table_rows(t)
            if r.dataset == "coco" and r.key in ("zegclip", "dpt_nel_rd", "coco_plus", "coco_multiple")}
    assert coco == {Run("coco").key(scale)}


def test_every_row_has_a_run_and_the_paper_numbers():
    counts = {t: len(table_rows(t)) for t in TRAINED_TABLES if t != "tokens"}
    assert counts == {"table2": 12, "table4": 12, "table5": 24, "table6": 6, "table7": 4, "table8": 8, "table9": 4}
    t7 = table_rows("table7")
    assert {r.target for r in t7} == {"context", "voc"} and all(r.dataset == "coco" for r in t7)


@pytest.mark.parametrize("scale", SCALES)
def test_runs_are_unique_and_build_valid_configs(scale):
    runs = runs_for(TRAINED_TABLES, scale)
    table5 = runs_for(("table5",), scale)
    assert len(table5) == 24  # 12 rows x 2 datasets, no two the same
    for key, run in runs.items():
        cfg = run.config(scale, ["model.clip.pretrained=null"])
        assert cfg.train.setting == run.setting and cfg.model.encoder.mode == run.encoder
        if run.parent() is not None:
            assert run.parent().key(scale) in runs  # self-training needs its inductive run
            parent_iters = run.parent().config(scale).train.iters
            assert cfg.train.iters == parent_iters // 2
            assert (parent_iters // 2) % run.parent().config(scale).train.checkpoint_every == 0
    # table 2 (3 datasets x 4 settings) shares the inductive runs with tables 5/6/9
    assert len(runs) < sum(len(table_rows(t)) for t in TRAINED_TABLES)


def test_runs_command_lists_each_run_once(capsys):
    from zegclip.cli import main
    assert main(["runs", "--tables", "table5", "table8", "--scale", "mini"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()[1:]
    keys = [line.split("\t")[0] for line in lines]
    assert len(keys) == len(set(keys)) == 24 + 7  # Table 8's 1->12 row is Table 5's ZegCLIP VOC run


def test_a_doubled_budget_is_its_own_run_with_the_schedule_stretched():
    from dataclasses import replace

    from zegclip.paper.runs import doubled_runs

    base = Run("voc", encoder="fix", loss="ce", query="t")
    twin = replace(base, budget=2)
    assert twin.key("mini") == base.key("mini") + "-x2"
    t, t2 = base.config("mini").train, twin.config("mini").train
    assert (t2.iters, t2.warmup_iters, t2.eval_every, t2.checkpoint_every) == (
        2 * t.iters, 2 * t.warmup_iters, 2 * t.eval_every, 2 * t.checkpoint_every)
    assert twin.config("mini").model == base.config("mini").model and t2.lr == t.lr
    smoke = ["train.iters=20", "train.eval_every=5"]  # the workflow's extra_sets come first, then the stretch
    assert twin.config("mini", smoke).train.iters == 40 and twin.config("mini", smoke).train.eval_every == 10
    twins = doubled_runs("table5", "mini")
    assert len(twins) == 24 and all(k.endswith("-x2") for k in twins)


def test_a_runs_recipe_changes_with_its_preset_so_the_workflow_reruns_it(tmp_path, monkeypatch):
    """The train rule passes ``Run.recipe`` as a parameter: a new version's preset (another budget)
    must change it, and nothing else about the run's key may."""
    import json
    import shutil
    from dataclasses import replace

    import zegclip.config.resolve as resolve

    run = Run("voc", encoder="dpt", loss="plus", query="cat_tmulg_t")
    key, recipe = run.key("mini"), run.recipe("mini")
    assert recipe == run.recipe("mini") and recipe != replace(run, budget=2).recipe("mini")
    assert recipe != run.recipe("mini", ["train.iters=20"])
    presets = tmp_path / "presets"
    shutil.copytree(resolve.PRESET_DIR, presets)
    preset = json.loads((presets / "mini_voc.json").read_text())
    preset["train"]["iters"] *= 2
    (presets / "mini_voc.json").write_text(json.dumps(preset))
    monkeypatch.setattr(resolve, "PRESET_DIR", presets)
    assert run.key("mini") == key and run.recipe("mini") != recipe
