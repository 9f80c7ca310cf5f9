"""Tiny end-to-end training runs on fixture data: every setting, resume, failures."""
import json
import math

import pytest
import torch

from fixture_data import make_voc
from zegclip.cli import main
from zegclip.config import RunConfig, from_dict
from zegclip.engine.checkpoint import CheckpointError, load_checkpoint
from zegclip.engine.train import TrainingError, train

RESULT_FIELDS = {"metrics", "per_class_IoU", "config", "config_hash", "seed", "git_commit", "versions",
                 "device", "wall_time_s", "evaluation", "checkpoint"}


@pytest.fixture(scope="module")
def voc_root(tmp_path_factory):
    return make_voc(tmp_path_factory.mktemp("data"), n_train=6, n_aug=6, n_val=3)


@pytest.fixture(scope="session")
def tiny_cfg(tiny_run):
    """``tiny_cfg(root, **train)``: the tiny run's typed config."""
    return lambda root, **train: from_dict(RunConfig, tiny_run(root, **train))


def _losses(run_dir):
    return [json.loads(line)["loss"] for line in (run_dir / "train.log").read_text().splitlines()]


@pytest.mark.parametrize("setting", ["inductive", "fully_supervised"])
def test_tiny_run_writes_results_and_the_loss_goes_down(tiny_cfg, voc_root, tmp_path, setting):
    run = tmp_path / setting
    result = train(tiny_cfg(voc_root, setting=setting, iters=40), run)
    saved = json.loads((run / "results.json").read_text())
    assert RESULT_FIELDS <= set(saved) and saved["metrics"] == json.loads(json.dumps(result["metrics"]))
    assert set(saved["metrics"]) >= {"pAcc", "mAcc", "mIoU", "mIoU_S", "mIoU_U", "hIoU"}
    assert len(saved["per_class_IoU"]) == 20 and saved["evaluation"]["calibrated"] == (setting == "inductive")
    assert saved["config"]["train"]["setting"] == setting
    assert json.loads((run / "config.json").read_text()) == saved["config"]
    losses = _losses(run)
    assert len(losses) == 40
    assert sum(losses[-8:]) / 8 < 0.8 * sum(losses[:8]) / 8
    state = torch.load(run / "final.pt", weights_only=True)
    assert state["iteration"] == 40


@pytest.mark.parametrize("setting", ["st", "st_dagger"])
def test_self_training_starts_from_an_inductive_checkpoint(tiny_cfg, voc_root, tmp_path, setting):
    inductive = tmp_path / "inductive"
    train(tiny_cfg(voc_root, iters=20), inductive, evaluate_after=False)
    run = tmp_path / setting
    train(tiny_cfg(voc_root, setting=setting, iters=30, init_from=str(inductive / "final.pt")), run)
    saved = json.loads((run / "results.json").read_text())
    assert saved["evaluation"]["calibrated"] is False
    losses = _losses(run)
    assert all(math.isfinite(x) for x in losses)
    # the self-training run starts from the inductive weights, not from scratch, and still learns
    assert losses[0] < _losses(inductive)[0]
    assert sum(losses[-8:]) / 8 < sum(losses[:8]) / 8


def test_killed_run_resumes_to_the_same_result(tiny_cfg, voc_root, tmp_path, monkeypatch):
    cfg = tiny_cfg(voc_root, iters=20)
    straight = train(cfg, tmp_path / "straight")

    from zegclip.model import ZegCLIP
    real = ZegCLIP.loss
    calls = []

    def killed_at_13(self, out, labels):  # the process dies in iteration 13, after iter_10.pt
        calls.append(1)
        if len(calls) == 13:
            raise KeyboardInterrupt
        return real(self, out, labels)
    monkeypatch.setattr(ZegCLIP, "loss", killed_at_13)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "resumed")
    assert sorted(p.name for p in (tmp_path / "resumed" / "checkpoints").iterdir()) == ["iter_10.pt"]
    assert len(_losses(tmp_path / "resumed")) == 12
    assert not (tmp_path / "resumed" / "results.json").exists()
    monkeypatch.setattr(ZegCLIP, "loss", real)
    resumed = train(cfg, tmp_path / "resumed")
    assert resumed["metrics"] == straight["metrics"]
    assert _losses(tmp_path / "resumed") == _losses(tmp_path / "straight")


def test_non_finite_loss_stops_naming_the_iteration_and_keeps_the_checkpoint(tiny_cfg, voc_root, tmp_path, monkeypatch):
    from zegclip.model import ZegCLIP
    real = ZegCLIP.loss
    calls = []

    def poisoned(self, out, labels):  # the 13th iteration's loss is NaN
        calls.append(1)
        terms = real(self, out, labels)
        return {k: v * float("nan") for k, v in terms.items()} if len(calls) == 13 else terms
    monkeypatch.setattr(ZegCLIP, "loss", poisoned)
    with pytest.raises(TrainingError, match=r"iteration 13: the loss is nan.*last good checkpoint: .*iter_10.pt"):
        train(tiny_cfg(voc_root, iters=20), tmp_path / "run")
    assert (tmp_path / "run" / "checkpoints" / "iter_10.pt").is_file()
    assert not (tmp_path / "run" / "final.pt").exists()


def test_a_run_stopped_before_its_first_checkpoint_starts_its_log_again(tiny_cfg, voc_root, tmp_path, monkeypatch):
    from zegclip.model import ZegCLIP
    real = ZegCLIP.loss
    calls = []

    def stops(self, out, labels):  # the 4th iteration's loss is NaN: stopped before iter_5.pt
        calls.append(1)
        terms = real(self, out, labels)
        return {k: v * float("nan") for k, v in terms.items()} if len(calls) == 4 else terms
    monkeypatch.setattr(ZegCLIP, "loss", stops)
    cfg = tiny_cfg(voc_root, iters=6, checkpoint_every=5)
    with pytest.raises(TrainingError, match="iteration 4"):
        train(cfg, tmp_path / "run", evaluate_after=False)
    assert len(_losses(tmp_path / "run")) == 3 and not (tmp_path / "run" / "checkpoints").exists()
    monkeypatch.setattr(ZegCLIP, "loss", real)
    train(cfg, tmp_path / "run", evaluate_after=False)
    assert len(_losses(tmp_path / "run")) == 6


def test_stale_temporaries_of_a_killed_write_are_removed_when_the_run_starts(tiny_cfg, voc_root, tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / ".results.json.k3j2x9.tmp").write_text("{")
    (run / "checkpoints" / ".iter_10.pt.a8d1q0.tmp").write_bytes(b"PK")
    (run / "notes.txt").write_text("mine")  # not ours: kept
    train(tiny_cfg(voc_root, iters=2), run, evaluate_after=False)
    assert not list(run.rglob("*.tmp")) and (run / "notes.txt").is_file()


def test_learning_curve_leaves_training_unchanged_and_survives_a_resume(tiny_cfg, voc_root, tmp_path, monkeypatch):
    plain = train(tiny_cfg(voc_root, iters=12, checkpoint_every=5), tmp_path / "plain")
    cfg = tiny_cfg(voc_root, iters=12, checkpoint_every=5, eval_every=4)
    curved = train(cfg, tmp_path / "curved")
    assert _losses(tmp_path / "curved") == _losses(tmp_path / "plain")
    assert curved["metrics"] == plain["metrics"] and "curve" not in plain
    curve = curved["curve"]
    assert [p["iter"] for p in curve] == [4, 8, 12]
    assert set(curve[0]) == {"iter", "loss", "pAcc", "mIoU_S", "mIoU_U", "hIoU"}
    losses = _losses(tmp_path / "curved")
    assert curve[1]["loss"] == pytest.approx(sum(losses[4:8]) / 4)
    assert {k: curve[-1][k] for k in ("mIoU_S", "mIoU_U", "hIoU")} == {k: curved["metrics"][k] for k in ("mIoU_S", "mIoU_U", "hIoU")}

    from zegclip.model import ZegCLIP
    real, calls = ZegCLIP.loss, []

    def stops(self, out, labels):  # killed at iteration 7: resumes from iter_5.pt, after the point at 4
        calls.append(1)
        terms = real(self, out, labels)
        return {k: v * float("nan") for k, v in terms.items()} if len(calls) == 7 else terms
    monkeypatch.setattr(ZegCLIP, "loss", stops)
    with pytest.raises(TrainingError):
        train(cfg, tmp_path / "resumed")
    monkeypatch.setattr(ZegCLIP, "loss", real)
    assert train(cfg, tmp_path / "resumed")["curve"] == curve


def test_cli_train_then_cross_dataset_and_truncated_checkpoint(tiny_cfg, voc_root, tmp_path, capsys):
    cfg_file = tmp_path / "cfg.json"
    cfg = tiny_cfg(voc_root, iters=6)
    from zegclip.config import to_dict
    cfg_file.write_text(json.dumps(to_dict(cfg)))
    run = tmp_path / "run"
    assert main(["train", "--config", str(cfg_file), "--out", str(run), "--no-eval"]) == 0
    assert not (run / "results.json").exists()
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--checkpoint", str(run / "final.pt"), "--output", str(out)]) == 0
    assert json.loads(out.read_text())["evaluation"]["dataset"] == "voc"
    unbiased = tmp_path / "unbiased.json"
    assert main(["evaluate", "--checkpoint", str(run / "final.pt"), "--output", str(unbiased),
                 "--set", "model.inference.seen_bias=0.0"]) == 0
    assert json.loads(unbiased.read_text())["config"]["model"]["inference"]["seen_bias"] == 0.0
    assert main(["evaluate", "--checkpoint", str(run / "final.pt"), "--output", str(tmp_path / "no.json"),
                 "--set", "train.iters=3"]) == 2
    assert "only model.inference.* can change after training" in capsys.readouterr().err
    assert not (tmp_path / "no.json").exists()

    from fixture_data import make_context
    ctx = make_context(tmp_path / "ctx")
    cross = tmp_path / "cross.json"
    assert main(["evaluate", "--checkpoint", str(run / "final.pt"), "--output", str(cross),
                 "--dataset", "context", "--data-root", str(ctx)]) == 0
    saved = json.loads(cross.read_text())
    assert saved["evaluation"]["cross_dataset"] and len(saved["per_class_IoU"]) == 60
    assert math.isnan(saved["metrics"]["hIoU"]) or saved["metrics"]["hIoU"] is None

    broken = tmp_path / "broken.pt"
    broken.write_bytes((run / "final.pt").read_bytes()[:1000])
    assert main(["evaluate", "--checkpoint", str(broken), "--output", str(tmp_path / "x.json")]) == 2
    assert f"cannot read checkpoint {broken}" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "none.pt")


def test_missing_data_root_is_a_clear_cli_error(tmp_path, capsys):
    code = main(["train", "--preset", "voc", "--out", str(tmp_path / "r"), "--set", "model.clip.pretrained=null"])
    assert code == 2 and "data.root is not set" in capsys.readouterr().err


@pytest.mark.slow
def test_torchrun_two_processes_share_the_global_batch(tiny_cfg, voc_root, tmp_path):
    import os
    import subprocess
    import sys
    from zegclip.config import to_dict
    cfg_file = tmp_path / "cfg.json"
    cfg_file.write_text(json.dumps(to_dict(tiny_cfg(voc_root, iters=4))))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "-m", "zegclip.cli",
                           "train", "--config", str(cfg_file), "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(_losses(tmp_path / "run")) == 4  # one log line per iteration, from rank 0 only
    assert (tmp_path / "run" / "results.json").is_file()


def test_batched_evaluation_groups_same_size_images_and_matches_one_at_a_time(tiny_cfg, tmp_path):
    import dataclasses
    import shutil

    from zegclip.data.datasets import SegmentationDataset
    from zegclip.engine.evaluate import confusion, same_size_batches
    from zegclip.model import ZegCLIP

    root = make_voc(tmp_path / "a", n_train=1, n_aug=1, n_val=6)
    other = make_voc(tmp_path / "b", n_train=1, n_aug=1, n_val=6, size=(64, 80), seed=1)
    for i in (2, 5):  # images 2 and 5 get another size
        for sub, ext in (("JPEGImages", ".jpg"), ("SegmentationClass", ".png")):
            shutil.copy(other / sub / f"2007_val{i:03d}{ext}", root / sub / f"2007_val{i:03d}{ext}")
    cfg = tiny_cfg(root)
    ds = SegmentationDataset("voc", root, "val")
    batched = dataclasses.replace(cfg, model=dataclasses.replace(
        cfg.model, inference=dataclasses.replace(cfg.model.inference, batch=2)))
    assert [len(labels) for _, labels in same_size_batches(ds, batched)] == [2, 1, 2, 1]  # sizes a a b a a b
    torch.manual_seed(0)
    model = ZegCLIP(cfg.model)
    one = confusion(model, cfg, ds, True, torch.device("cpu")).matrix
    two = confusion(model, batched, ds, True, torch.device("cpu")).matrix
    # equal up to argmax ties that batched matrix products may round the other way
    assert one.sum() == two.sum() > 0 and (one - two).abs().sum() <= one.sum() // 1000
