"""The regression gate's parts: the variance model, structural fingerprints of every Table 5
row, the planted regressions (each does what it says), the claims selection and the power report."""
import json
import math

import pandas as pd
import pytest
import torch

from zegclip.config import RunConfig, from_dict, merge, to_dict
from zegclip.engine.fingerprint import fingerprint, recipe_digest
from zegclip.measure.plants import PLANTS, planted
from zegclip.model import ZegCLIP
from zegclip.paper.runs import table_rows
from zegclip.report.golden import encoder_families, select_claims
from zegclip.report.tolerance import Spread, pool, reversal_probability, select_within_budget, t_quantile, t_tail

from conftest import TINY_MODEL


def test_student_t_matches_known_quantiles():
    assert t_quantile(0.025, 16) == pytest.approx(2.1199, abs=1e-4)
    assert t_quantile(0.025, 1e7) == pytest.approx(1.95996, abs=1e-4)  # the normal limit
    assert t_tail(1.0, 1) == pytest.approx(0.25)  # Cauchy
    assert t_tail(0.0, 5) == pytest.approx(0.5) and t_tail(-2.0, 8) == pytest.approx(1 - t_tail(2.0, 8))
    assert t_quantile(0.005 / 96 / 2, 16) > t_quantile(0.005 / 96 / 2, 1e7)  # fewer df, wider


def test_spread_is_pooled_per_dataset_family_and_metric():
    family = {("a", "voc"): "dpt", ("b", "voc"): "dpt", ("c", "voc"): "ft"}
    f0 = pd.DataFrame({"row": ["a", "b", "c"], "dataset": "voc", "metric": "hIoU", "std": [1.0, 3.0, 2.0], "seeds": 3})
    f1 = pd.DataFrame({"row": ["a"], "dataset": "voc", "metric": "hIoU", "std": [2.0], "seeds": [1]})  # one seed: no spread
    spreads = pool([f0, f1], family)
    assert spreads[("voc", "dpt", "hIoU")] == Spread(math.sqrt((2 * 1 + 2 * 9) / 4), 4, 2)
    assert spreads[("voc", "ft", "hIoU")] == Spread(2.0, 2, 1)


def test_the_most_certain_items_are_chosen_within_the_budget():
    assert select_within_budget([0.001, 0.004, 0.002, 0.0], 0.005) == [3, 0, 2]
    assert select_within_budget([0.2], 0.01) == []


def test_claims_are_chosen_by_their_predicted_false_alarm_probability():
    spreads = {("voc", f, "hIoU"): Spread(1.0, 16, 8) for f in ("fix", "ft", "dpt")}
    spreads.update({("voc", f, "mIoU_U"): Spread(1.0, 16, 8) for f in ("fix", "ft", "dpt")})
    rows = [r for r in table_rows("table5", "mini") if r.dataset == "voc"]
    hiou = {r.key: 50.0 for r in rows}
    hiou.update({"fix_nel": 70.0, "fix": 60.0, "ft_nel": 50.5})  # NEL beats CE: by 10 with Fix, by 0.5 with FT
    summary = pd.DataFrame([{"table": "table5", "row": k, "dataset": "voc", "metric": m, "mean": v, "seeds": 3}
                            for k, v in hiou.items() for m in ("hIoU", "mIoU_U")])
    chosen = select_claims(summary, spreads, encoder_families(["table5"], "mini"))
    pairs = {(c["better"], c["worse"], c["metric"]) for c in chosen}
    assert ("fix_nel", "fix", "hIoU") in pairs and ("ft_nel", "ft", "hIoU") not in pairs
    assert sum(c["false_alarm"] for c in chosen) <= 0.005
    margin_10 = reversal_probability(10.0, spreads[("voc", "fix", "hIoU")], spreads[("voc", "fix", "hIoU")], 3)
    assert margin_10 < 1e-4 and reversal_probability(0.5, Spread(1, 16, 8), Spread(1, 16, 8), 3) > 0.3


def _tiny_run_config(row_run, **sets) -> RunConfig:
    """A Table 5 row's resolved run config at tiny size (the row's factors on the mini preset)."""
    from zegclip.config import run_config

    cfg = to_dict(run_config(None, row_run.preset("mini"), row_run.overrides("mini")))
    cfg = merge(cfg, {"model": merge(TINY_MODEL, {"encoder": {"prompt": {"tokens": 3}}, "inference": {"batch": 1}})})
    for key, value in sets.items():
        node = cfg
        *parents, leaf = key.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = value
    return from_dict(RunConfig, cfg)


@pytest.mark.parametrize("row", [r for r in table_rows("table5", "mini") if r.dataset == "voc"], ids=lambda r: r.key)
def test_every_table5_row_has_the_fingerprint_its_factors_say(row):
    cfg = _tiny_run_config(row.run)
    facts = fingerprint(ZegCLIP(cfg.model), cfg)
    encoder = row.run.encoder
    assert facts["encoder_mode"] == encoder
    assert (facts["trainable.prompts"] > 0) == (encoder == "dpt")
    assert (facts["trainable.image_encoder"] > 0) == (encoder == "ft")
    assert facts["trainable.text_encoder"] == 0 and facts["trainable.decoder"] > 0
    width = 32  # the tiny tower's embedding
    assert facts["query_width"] == (2 * width if row.run.query == "cat_tmulg_t" else width)
    assert facts["prompt_layers"] == ("1-12" if encoder == "dpt" else "none")
    assert facts["templates"] == 15
    assert facts["loss"] == ("ce x1" if row.run.loss == "ce" else "focal x100 + dice x1")


def test_the_recipe_digest_ignores_where_a_run_was_made_but_not_what():
    run = next(r.run for r in table_rows("table5", "mini") if r.key == "dpt_nel_rd")
    base = recipe_digest(_tiny_run_config(run))
    assert recipe_digest(_tiny_run_config(run, **{"train.seed": 7, "data.root": "/elsewhere",
                                                  "model.clip.pretrained": "x.safetensors"})) == base
    assert recipe_digest(_tiny_run_config(run, **{"model.inference.seen_bias": 0.0})) != base


ZEGCLIP = next(r.run for r in table_rows("table5", "mini") if r.key == "dpt_nel_rd")


@pytest.mark.parametrize("name", [n for n, p in PLANTS.items() if p.kind == "config"])
def test_a_config_plant_is_a_valid_override_that_changes_the_fingerprint(name):
    from zegclip.config import parse_overrides

    clean = _tiny_run_config(ZEGCLIP)
    cfg = from_dict(RunConfig, merge(to_dict(clean), parse_overrides(list(PLANTS[name].sets))))
    assert fingerprint(ZegCLIP(cfg.model), cfg) != fingerprint(ZegCLIP(clean.model), clean)


def test_planted_encoder_left_trainable_trains_the_image_encoder():
    cfg = _tiny_run_config(ZEGCLIP)
    with planted("encoder_trainable"):
        facts = fingerprint(ZegCLIP(cfg.model), cfg)
    assert facts["trainable.image_encoder"] > 0
    assert fingerprint(ZegCLIP(cfg.model), cfg)["trainable.image_encoder"] == 0  # the patch ends with its block


def test_planted_unseen_names_are_rotated_among_the_unseen_classes_only():
    from zegclip.catalog.benchmarks import dataset_info

    info = dataset_info("mini_voc")
    with planted("unseen_names_permuted"):
        moved = dataset_info("mini_voc")
    seen = [i for i in range(len(info.classes)) if i not in info.unseen]
    assert [moved.classes[i] for i in seen] == [info.classes[i] for i in seen]
    assert [moved.classes[i] for i in info.unseen] == [info.classes[i] for i in info.unseen[1:] + info.unseen[:1]]
    assert dataset_info("mini_voc") == info


def test_planted_text_embeddings_are_not_unit_length():
    cfg = _tiny_run_config(ZEGCLIP)
    model = ZegCLIP(cfg.model)
    names = ["red plain", "blue dotted"]
    assert torch.allclose(model.encode_classes(names).norm(dim=-1), torch.ones(2), atol=1e-3)
    with planted("text_not_normalised"):
        raw = model.encode_classes(names)
    assert not torch.allclose(raw.norm(dim=-1), torch.ones(2), atol=1e-2)


def test_planted_nearest_upsampling_repeats_each_mask_cell():
    from zegclip.model.decoder import MaskUpsample

    masks = torch.arange(4.0).view(1, 1, 2, 2)
    with planted("nearest_upsampling"):
        up = MaskUpsample()(masks, (4, 4))
    assert torch.equal(up[0, 0], masks[0, 0].repeat_interleave(2, 0).repeat_interleave(2, 1))
    assert not torch.equal(MaskUpsample()(masks, (4, 4)), up)  # bilinear again outside the block


def test_gate_power_reports_what_is_caught_and_by_what(tmp_path, capsys):
    from test_report import _write_results
    from zegclip.cli import main
    from zegclip.paper.layout import BACKEND_RESULTS, PLANTED_RESULTS, Layout, result_path

    root, golden = tmp_path / "results", tmp_path / "golden.json"
    _write_results(root, "table5", seeds=[0, 1])
    assert main(["report", "--table", "table5", "--results", str(root), "--seeds", "0", "1", "--out",
                 str(tmp_path / "t5.md")]) == 0
    assert main(["check", "--results", str(root), "--golden", str(golden), "--write-golden"]) == 0
    layout = Layout(root, "mini")
    for row in table_rows("table5", "mini"):
        key = row.run.key("mini")
        clean = json.loads(result_path(root, "mini", key, 0).read_text())
        for path in [result_path(root, "mini", key, s) for s in (3, 4)] + [
                layout.path(BACKEND_RESULTS, backend="scalar", run=key, seed=3)]:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(clean))  # held out and clean: the seed-0 numbers again
        if row.key != "dpt_nel_rd":
            continue
        partial = layout.path(BACKEND_RESULTS, backend="partial", run=key, seed=3)  # a subset, run by hand
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps({**clean, "metrics": {k: v + 1.0 for k, v in clean["metrics"].items()}}))
        for name in PLANTS:
            moved = dict(clean)
            if name == "rd_dropped":  # a structural change alone
                moved["fingerprint"] = {**clean["fingerprint"], "query_width": 128}
            elif name == "nel_to_ce":  # numbers alone, far beyond any tolerance
                moved["metrics"] = {k: v + 400.0 for k, v in clean["metrics"].items()}
            path = layout.path(PLANTED_RESULTS, plant=name, run=key, seed=3)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(moved))
    out = tmp_path / "gate_power.md"
    capsys.readouterr()
    assert main(["gate", "power", "--results", str(root), "--seed", "3", "--clean-seeds", "3", "4",
                 "--backends", "scalar", "partial", "--golden", str(golden), "--out", str(out)]) == 0
    assert "2 of 10 planted regressions caught" in capsys.readouterr().out
    text = out.read_text()
    assert "2 of 10 planted regressions caught with everything; 1 of 10 by numbers and claims alone" in text
    assert "0 of 3 held-out clean tables fail" in text  # the partial back-end is no held-out table
    partial = [line for line in text.splitlines() if line.startswith("| partial")]
    assert len(partial) == 8 and all("|      1 |  1.00 |      1.00 |" in line for line in partial)  # 1 row, +1 each
    frame = pd.read_csv(root / "mini" / "tables" / "gate_power.csv", keep_default_na=False)
    rd = frame[frame["case"] == "rd_dropped"].iloc[0]
    assert "query_width is 128, golden 256" in rd["by_fingerprint"] and rd["by_numbers"] == ""
    assert "moved -5.0" in rd["closest_number"]  # the miss explained: seed 0 against the mean of seeds 0 and 1
    assert frame[frame["case"] == "nel_to_ce"].iloc[0]["by_numbers"].count("+395.0 (tol") == 8
