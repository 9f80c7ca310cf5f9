"""Bad input, as a careful user would try it: each case exits non-zero with one line that names the
offending file, key or value, and writes nothing partial (no new file, no changed file).

Groups: the regression gate (check), reports, run directories, failures found before the first
step (late failures), what used to end in a raw traceback, settings and descriptions that would
silently mislabel pixels, and the workflow configuration."""
from __future__ import annotations

import errno
import hashlib
import json
import os
import pickle
import random
import shutil
import subprocess
import sys
import types
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import pytest
import torch
from PIL import Image

from fixture_data import make_voc
from test_report import _write_results
from zegclip.cli import main
from zegclip.paper.runs import table_rows
from zegclip.paper.layout import result_path

ROOT = Path(__file__).resolve().parents[1]
MARKER = "pwned.txt"  # what the malicious pickles would create


class _Evil:
    """Unpickling this would call os.system and create MARKER beside the checkpoint."""

    def __init__(self, folder: Path):
        self.cmd = f"touch {folder / MARKER}"

    def __reduce__(self):
        return (os.system, (self.cmd,))


SHORT = {"iters": 2, "batch": 2, "warmup_iters": 1, "checkpoint_every": 1}  # a run that only has to exist


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_run) -> Path:
    """A finished tiny run (2 iterations) whose checkpoints the cases copy and corrupt."""
    folder = tmp_path_factory.mktemp("trained")
    root = make_voc(folder / "data", n_train=2, n_aug=2, n_val=2)
    (folder / "cfg.json").write_text(json.dumps(tiny_run(root, **SHORT)))
    os.environ.setdefault("ZEGCLIP_CACHE", str(folder / "cache"))
    assert main(["train", "--config", str(folder / "cfg.json"), "--out", str(folder / "run"), "--no-eval"]) == 0
    return folder


@dataclass
class Ctx:
    d: Path  # the case's own folder; nothing under it may change unless the case allows it
    trained: Path
    monkeypatch: pytest.MonkeyPatch
    tiny_run: Callable[..., dict]

    def voc(self, **kw) -> Path:
        root = self.d / "data" / "VOCdevkit" / "VOC2012"
        return root if root.is_dir() else make_voc(self.d / "data", **{"n_train": 6, "n_aug": 6, "n_val": 3, **kw})

    def config(self, **train) -> str:
        path = self.d / "cfg.json"
        path.write_text(json.dumps(self.tiny_run(self.voc(), **{**SHORT, **train})))
        return str(path)

    def checkpoint(self, name: str = "final.pt") -> Path:
        src = self.trained / "run" / name
        dst = self.d / "ckpt" / Path(name).name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dst)
        return dst

    def mini_results(self, table: str = "table8") -> Path:
        root = self.d / "results"
        _write_results(root, table, seeds=[0, 1])
        return root

    def rendered(self, table: str = "table8") -> Path:
        root = self.mini_results(table)
        assert main(["report", "--table", table, "--results", str(root), "--seeds", "0", "1",
                     "--out", str(self.d / "rendered.md")]) == 0
        return root


@dataclass
class Case:
    group: str
    name: str
    argv: Callable[[Ctx], List[str]]
    expect: Tuple[str, ...]  # parts of the one-line message; "{d}" is the case's folder
    setup: Optional[Callable[[Ctx], None]] = None
    allowed_new: Tuple[str, ...] = ()  # relative paths (globs) a case may leave, e.g. a run's log


def _train(ctx: Ctx, *sets: str, cfg: Optional[str] = None, no_eval: bool = False) -> List[str]:
    argv = ["train", "--config", cfg or ctx.config(), "--out", str(ctx.d / "run")]
    return argv + (["--no-eval"] if no_eval else []) + [x for s in sets for x in ("--set", s)]


def _evaluate(ctx: Ctx, checkpoint: Path) -> List[str]:
    return ["evaluate", "--checkpoint", str(checkpoint), "--output", str(ctx.d / "eval.json")]


def _write(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data) if isinstance(data, bytes) else path.write_text(data)
    return path


def _pickled(ctx: Ctx, obj, name: str = "evil.pt") -> Path:
    path = ctx.d / "ckpt" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(obj, path)  # torch's own zip container, holding a pickle of ``obj``
    return path


def _label(root: Path, split: str, index: int, value: Optional[int] = None, size=None, mode="L") -> None:
    ids = (root / "ImageSets" / "Segmentation" / f"{split}.txt").read_text().split()
    folder = "SegmentationClassAug" if split == "aug" else "SegmentationClass"
    path = root / folder / f"{ids[index]}.png"
    arr = np.array(Image.open(path))
    if size:
        arr = arr[: size[0], : size[1]]
    if value is not None:
        arr[5:9, 5:9] = value
    Image.fromarray(arr.astype(np.uint8), mode="L").convert(mode).save(path)


def _corrupt_image(root: Path, split: str, index: int) -> Path:
    ids = (root / "ImageSets" / "Segmentation" / f"{split}.txt").read_text().split()
    path = root / "JPEGImages" / f"{ids[index]}.jpg"
    path.write_bytes(b"not a jpeg at all")
    return path


def _split(root: Path, split: str, text: str) -> None:
    (root / "ImageSets" / "Segmentation" / f"{split}.txt").write_text(text)


def _disk_error(ctx: Ctx, code: int) -> None:
    """Writes under the case's folder fail with ``code`` (a full disk, a read-only folder)."""
    import tempfile

    import zegclip.io

    def failing(*args, **kwargs):
        if Path(kwargs["dir"]).is_relative_to(ctx.d):
            raise OSError(code, os.strerror(code), str(Path(kwargs["dir"]) / ".tmpfile"))
        return tempfile.mkstemp(*args, **kwargs)
    ctx.monkeypatch.setattr(zegclip.io, "tempfile", types.SimpleNamespace(mkstemp=failing))


def _run_with_other_config(ctx: Ctx) -> None:
    """A run directory holding checkpoints of lr 5e-4; the case asks for lr 1e-3 there."""
    shutil.copytree(ctx.trained / "run", ctx.d / "run")
    cfg = json.loads((ctx.trained / "cfg.json").read_text())
    cfg["data"]["root"] = str(ctx.voc())
    _write(ctx.d / "cfg.json", json.dumps(cfg))


def _self_training_run(ctx: Ctx, init: Path) -> None:
    shutil.copytree(ctx.trained / "run", ctx.d / "parent")
    cfg = json.loads((ctx.trained / "cfg.json").read_text())
    cfg["data"]["root"] = str(ctx.voc())
    cfg["train"].update(setting="st_dagger", init_from=str(init))
    _write(ctx.d / "cfg.json", json.dumps(cfg))


def _st_then_parent_changes(ctx: Ctx) -> None:
    """A self-training run started from parent/checkpoints/iter_1.pt; then that file changed."""
    init = ctx.d / "parent" / "checkpoints" / "iter_1.pt"
    _self_training_run(ctx, init)
    assert main(_train(ctx, cfg=str(ctx.d / "cfg.json"), no_eval=True)) == 0
    shutil.copy(ctx.d / "parent" / "checkpoints" / "iter_2.pt", init)


def _disk_full_on_write(ctx: Ctx) -> None:
    """Writing an output's contents (its temporary file) in the case's folder fails as on a full
    disk: an OS error that names no file."""
    real = Path.write_text

    def full(self, *args, **kwargs):
        if self.parent == ctx.d and self.name.endswith(".tmp"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, *args, **kwargs)
    ctx.monkeypatch.setattr(Path, "write_text", full)


def _no_gpu(ctx: Ctx) -> None:
    ctx.monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    ctx.monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")


# 6. settings and descriptions that would silently mislabel pixels
SILENT: List[Case] = [
    Case("silent", "slide stride beyond the crop in training", lambda c: _train(c, "model.inference.stride=100"),
         ("model.inference.stride=100: expected at most model.inference.crop=64",)),
    Case("silent", "slide stride beyond the crop in evaluation", lambda c: _evaluate(c, c.checkpoint()) + [
         "--set", "model.inference.stride=65"], ("model.inference.stride=65: expected at most model.inference.crop=64",)),
    Case("silent", "two classes of a custom dataset sharing a palette colour", lambda c: _custom_eval(
         c, palette=[[i, 0, 0] for i in range(3)] + [[1, 0, 0]]), ("share the palette colour [1, 0, 0]",)),
    Case("silent", "a custom class coloured as the void colour", lambda c: _custom_eval(
         c, palette=[[i, 0, 0] for i in range(3)] + [[255, 255, 255]]), ("is also the void_colour",)),
]


def _custom_eval(ctx: Ctx, **description) -> List[str]:
    """Evaluate the trained checkpoint on a custom dataset whose description says ``description``."""
    import yaml

    from fixture_data import make_custom

    desc = make_custom(ctx.d / "mine", n_train=1, n_val=1)
    desc.write_text(yaml.safe_dump({**yaml.safe_load(desc.read_text()), **description}))
    return _evaluate(ctx, ctx.checkpoint()) + ["--dataset", f"custom:{desc}"]


def _previous_run(c: Ctx) -> Path:
    """A finished run directory (final.pt and checkpoints/) in the case's folder."""
    shutil.copytree(c.trained / "run", c.d / "prev")
    return c.d / "prev"


def _bad_curve(c: Ctx, curve) -> None:
    root = c.mini_results()
    path = result_path(root, "mini", table_rows("table8")[0].run.key("mini"), 1)
    path.write_text(json.dumps({**json.loads(path.read_text()), "curve": curve}))


def _clip_16(c: Ctx) -> Path:
    """Weights of the 16-pixel tiny CLIP tower (random), as `zegclip mini clip` writes them."""
    from safetensors.torch import save_file

    from zegclip.config import ClipConfig
    from zegclip.model.clip import build_clip

    clip = build_clip(ClipConfig(model="ZegCLIP-Mini-16", pretrained=None))
    path = c.d / "clip16.safetensors"
    save_file({k: v.contiguous() for k, v in clip.state_dict().items()}, str(path))
    return path


# Issue 37's rough edges: each now one line naming the thing and what was expected
ROUGH_EDGES: List[Case] = [
    Case("rundir", "a run directory as the starting checkpoint", lambda c: _train(
         c, "train.setting=st", f"train.init_from={_previous_run(c)}"),
         ("checkpoint {d}/prev is a directory", "{d}/prev/final.pt", "{d}/prev/checkpoints/iter_2.pt")),
    Case("report", "results file whose curve lacks a metric", lambda c: ["report", "--table", "table8", "--results",
         str(c.d / "results"), "--seeds", "0", "1", "--out", str(c.d / "t8.md")],
         ("results file {d}/results/", "curve point 0 has no number for 'hIoU'"),
         setup=lambda c: _bad_curve(c, [{"iter": 10, "loss": 1.0, "mIoU_S": 1.0, "mIoU_U": 1.0}])),
    Case("report", "results file whose curve is not a list", lambda c: ["report", "--table", "table8", "--results",
         str(c.d / "results"), "--seeds", "0", "1", "--out", str(c.d / "t8.md")],
         ("results file {d}/results/", "'curve' is a dict; expected a list of points"),
         setup=lambda c: _bad_curve(c, {"iter": 10})),
    Case("report", "a user's dataset with a table it does not get", lambda c: [
         "report", "--table", "table2", "--custom", "mine=mine.yaml", "--results", str(c.d / "results"), "--out",
         str(c.d / "t2.md")], ("--table table2 with the user's dataset mine (mine.yaml)", "gets table5 only")),
    Case("traceback", "weights of the 16-pixel tiny CLIP read as the 32-pixel tower", lambda c: [
         "mini", "readout", "--clip", str(_clip_16(c)), "--world", str(c.d / "world"), "--model", "ZegCLIP-Mini",
         "--dataset", "mini_voc"], ("CLIP weights {d}/clip16.safetensors do not fit the tower ZegCLIP-Mini",
                                    "(17, 64) there, (65, 64) here")),
    Case("traceback", "tiny CLIP weights under a .pt name", lambda c: ["mini", "clip", "--steps", "1", "--out",
         str(c.d / "clip.pt")], ("mini clip --out {d}/clip.pt", "ending in .safetensors")),
]


CASES: List[Case] = [
    # 1. the regression gate
    Case("check", "no aggregated tables", lambda c: ["check", "--results", str(c.d / "results")],
         ("no aggregated results", "table5.csv")),
    Case("check", "unknown tolerance metric", lambda c: ["check", "--tables", "table8", "--results",
         str(c.rendered()), "--tolerance", "mIoU_unseen=3"], ("unknown metric 'mIoU_unseen'",)),
    Case("check", "tolerance not a number", lambda c: ["check", "--tables", "table8", "--results",
         str(c.rendered()), "--tolerance", "hIoU=lots"], ("--tolerance 'hIoU=lots'", "METRIC=POINTS")),
    Case("check", "golden file not JSON", lambda c: ["check", "--tables", "table8", "--results",
         str(c.rendered()), "--golden", str(_write(c.d / "golden.json", "a,b\n1,2\n"))],
         ("golden file {d}/golden.json is not JSON",)),
    Case("check", "golden file without its sections", lambda c: ["check", "--tables", "table8", "--results",
         str(c.rendered()), "--golden", str(_write(c.d / "golden.json", '{"numbers": []}'))],
         ("golden file {d}/golden.json has no made_with, model, claims, fingerprints",)),
    Case("check", "golden file missing", lambda c: ["check", "--tables", "table8", "--results", str(c.rendered()),
         "--golden", str(c.d / "nowhere.json")], ("no golden numbers", "{d}/nowhere.json")),
    Case("check", "aggregated table without its columns", lambda c: ["check", "--tables", "table8", "--results",
         str(c.d / "results")], ("table8.csv has no column(s)",),
         setup=lambda c: _write(c.d / "results" / "mini" / "tables" / "table8.csv", "row,mean\nl1,3\n")),
    Case("check", "golden numbers from incomplete results", lambda c: ["check", "--tables", "table8", "--results",
         str(c.d / "results"), "--golden", str(c.d / "golden.json"), "--write-golden"],
         ("cannot write golden numbers", "row l1 (voc) has no number for pAcc"),
         setup=lambda c: _write(c.d / "results" / "mini" / "tables" / "table8.csv",
                                "table,row,dataset,target,metric,mean,std,seeds,paper\ntable8,l1,voc,,pAcc,,0,0,91.4\n")),
    # 2. reports
    *(Case("report", f"results file {what}", lambda c: ["report", "--table", "table8", "--results",
           str(c.d / "results"), "--seeds", "0", "1", "--out", str(c.d / "t8.md")], (msg, "results file {d}/results/"),
           setup=lambda c, content=content: _write(
               result_path(c.mini_results(), "mini", table_rows("table8")[0].run.key("mini"), 1), content))
      for what, content, msg in (
          ("with a NaN metric", '{"metrics": {"pAcc": NaN, "mIoU_S": 1, "mIoU_U": 1, "hIoU": 1}}', "no number for pAcc"),
          ("with a null metric", '{"metrics": {"pAcc": null, "mIoU_S": 1, "mIoU_U": 1, "hIoU": 1}}', "no number for pAcc"),
          ("truncated", '{"metrics": {"pAcc": 40.1, "mIo', "is not valid JSON"),
          ("not an object", "[40.1]", "expected a JSON object"),
          ("without metrics", '{"config": {}}', "has no 'metrics' object"),
          ("without a metric", '{"metrics": {"pAcc": 1, "mIoU_S": 1, "hIoU": 1}}', "no number for mIoU_U"))),
    Case("report", "a seed never run", lambda c: ["report", "--table", "table8", "--results", str(c.mini_results()),
         "--seeds", "0", "1", "2", "--out", str(c.d / "t8.md")], ("no result", "seed2/results.json")),
    Case("report", "efficiency file truncated", lambda c: ["report", "--table", "table3", "--results",
         str(c.d / "results"), "--out", str(c.d / "t3.md")], ("efficiency file {d}/results/mini/efficiency/voc.json",
                                                              "not valid JSON"),
         setup=lambda c: _write(c.d / "results" / "mini" / "efficiency" / "voc.json", '{"params_M": {')),
    # 3. run directories that would lie
    Case("rundir", "checkpoints of another configuration", lambda c: _train(c, "train.lr=0.001",
         cfg=str(c.d / "cfg.json")), ("was made with another configuration", "train.lr: 0.0005 there, 0.001 now",
                                      "--restart-if-changed"), setup=_run_with_other_config),
    Case("rundir", "checkpoints made from other starting weights", lambda c: _train(c, cfg=str(c.d / "cfg.json"),
         no_eval=True), ("was made with another configuration or starting weights", "init_sha256"),
         setup=_st_then_parent_changes),
    # 4. found before the first step, not after a whole run
    Case("late", "validation split file missing", lambda c: _train(c), ("split file", "val.txt does not exist"),
         setup=lambda c: (c.voc() / "ImageSets" / "Segmentation" / "val.txt").unlink()),
    Case("late", "validation split file empty", lambda c: _train(c), ("val.txt lists no image ids",),
         setup=lambda c: _split(c.voc(), "val", "\n\n")),
    Case("late", "validation label out of range", lambda c: _train(c), ("value 77 is outside the class range 0..20",),
         setup=lambda c: _label(c.voc(), "val", 2, value=77)),
    Case("late", "validation image unreadable", lambda c: _train(c), ("cannot read image", "2007_val001.jpg"),
         setup=lambda c: _corrupt_image(c.voc(), "val", 1)),
    Case("late", "validation label of another size", lambda c: _train(c), ("but its label", "2007_val000.png"),
         setup=lambda c: _label(c.voc(), "val", 0, size=(40, 50))),
    Case("late", "training label out of range", lambda c: _train(c), ("value 99 is outside the class range",),
         setup=lambda c: _label(c.voc(), "train", 0, value=99)),
    Case("late", "training label in RGB", lambda c: _train(c), ("has image mode RGB", "single-channel"),
         setup=lambda c: _label(c.voc(), "train", 0, mode="RGB")),
    Case("late", "starting checkpoint of other shapes", lambda c: _train(
         c, "train.setting=st_dagger", f"train.init_from={c.checkpoint()}", "model.encoder.prompt.tokens=5"),
         ("does not fit this model", "prompts.embeddings is (12, 3, 32) there, (12, 5, 32) here")),
    Case("late", "starting checkpoint missing", lambda c: _train(c, "train.setting=st",
         f"train.init_from={c.d / 'none.pt'}"), ("checkpoint {d}/none.pt does not exist",)),
    Case("late", "starting checkpoint truncated", lambda c: _train(c, "train.setting=st",
         f"train.init_from={_write(c.d / 'cut.pt', c.checkpoint().read_bytes()[:2000])}"),
         ("cannot read checkpoint {d}/cut.pt",)),
    Case("late", "run directory inside a file", lambda c: ["train", "--config", c.config(), "--out",
         str(_write(c.d / "file.txt", "x") / "run")], ("{d}/file.txt",)),
    Case("late", "data root missing", lambda c: _train(c, f"data.root={c.d / 'nowhere'}"),
         ("data root {d}/nowhere does not exist", "VOCdevkit/VOC2012")),
    Case("late", "data root unset", lambda c: ["train", "--preset", "voc", "--out", str(c.d / "run"), "--set",
         "model.clip.pretrained=null"], ("data.root is not set",)),
    Case("late", "validation label out of range where no sample looks", lambda c: _train(c),
         ("value 77 is outside the class range 0..20", "2007_val004.png"),
         setup=lambda c: (c.voc(n_val=12), _label(c.voc(), "val", 4, value=77))),  # 8 evenly spaced of 12 skip 4
    # 5. what used to end in a raw traceback
    Case("traceback", "malicious checkpoint to evaluate", lambda c: _evaluate(c, _pickled(c, {"x": _Evil(c.d)})),
         ("refused checkpoint {d}/ckpt/evil.pt", "it would import posix.system", "weights_only=True")),
    Case("traceback", "malicious starting checkpoint", lambda c: _train(c, "train.setting=st",
         f"train.init_from={_pickled(c, [_Evil(c.d)])}"), ("refused checkpoint {d}/ckpt/evil.pt", "posix.system")),
    Case("traceback", "malicious plain pickle", lambda c: _evaluate(
         c, _write(c.d / "plain.pt", pickle.dumps(_Evil(c.d)))), ("checkpoint {d}/plain.pt",)),
    # random bytes break torch's weights-only unpickler in several ways; one input of each kind
    *[Case("traceback", f"checkpoint of random bytes ({kind})",
           lambda c, seed=seed: _evaluate(c, _write(c.d / "r.pt", random.Random(seed).randbytes(4096))),
           ("cannot read checkpoint {d}/r.pt",))
      for kind, seed in (("unpickling error", 0), ("index error", 2), ("key error", 20), ("undecodable text", 195))],
    Case("traceback", "checkpoint that is a zip of something else", lambda c: _evaluate(c, _zip(c.d / "z.pt")),
         ("cannot read checkpoint {d}/z.pt",)),
    Case("traceback", "torch file that is not a zegclip checkpoint", lambda c: _evaluate(
         c, _pickled(c, {"state_dict": {"w": torch.zeros(2)}}, "other.pt")), ("other.pt is not a zegclip checkpoint",)),
    Case("traceback", "zegclip checkpoint without its model", lambda c: _evaluate(
         c, _pickled(c, {"format": "zegclip-checkpoint-1", "config": "{}"}, "half.pt")),
         ("checkpoint {d}/ckpt/half.pt is incomplete",)),
    Case("traceback", "checkpoint with a config that is no longer valid", lambda c: _evaluate(
         c, _pickled(c, {"format": "zegclip-checkpoint-1", "iteration": 1, "model": {},
                         "config": json.dumps({"train": {"lr": -1.0}})}, "bad.pt")), ("train.lr=-1.0",)),
    Case("traceback", "--config that is a list", lambda c: _train(c, cfg=str(_write(c.d / "l.json", "[1, 2]"))),
         ("--config {d}/l.json: expected a JSON object", "list")),
    Case("traceback", "--config that is not JSON", lambda c: _train(c, cfg=str(_write(c.d / "c.json", "model: {}"))),
         ("--config {d}/c.json is not valid JSON",)),
    Case("traceback", "--config missing", lambda c: _train(c, cfg=str(c.d / "none.json")),
         ("--config {d}/none.json does not exist",)),
    Case("traceback", "conflicting --set keys", lambda c: _train(c, "model.encoder=3", "model.encoder.mode=ft"),
         ("--set 'model.encoder.mode=ft' conflicts with --set 'model.encoder=3'",)),
    Case("traceback", "empty --set key", lambda c: _train(c, "=3"), ("--set '=3'", "dotted key")),
    Case("traceback", "--set without a value", lambda c: _train(c, "train.lr"), ("--set 'train.lr'", "key=value")),
    Case("traceback", "negative learning rate", lambda c: _train(c, "train.lr=-0.1"),
         ("train.lr=-0.1", "positive")),
    Case("traceback", "non-finite learning rate", lambda c: _train(c, "train.lr=NaN"), ("train.lr=nan", "finite")),
    Case("traceback", "negative seed", lambda c: _train(c, "train.seed=-1"), ("train.seed=-1", "non-negative")),
    Case("traceback", "unknown key", lambda c: _train(c, "train.lr_mult=2"), ("unknown key(s) lr_mult in train",)),
    Case("traceback", "value outside its choices", lambda c: _train(c, "model.encoder.mode=half"),
         ("model.encoder.mode='half' is not allowed", "'fix', 'ft', 'dpt'")),
    Case("traceback", "wrong type", lambda c: _train(c, "train.iters=many"), ("train.iters: expected int",)),
    Case("traceback", "empty training split file", lambda c: _train(c), ("train.txt lists no image ids",),
         setup=lambda c: _split(c.voc(), "train", "")),
    Case("traceback", "unreadable image in a loader worker", lambda c: _train(c, "data.workers=1", "train.iters=6",
         "train.checkpoint_every=100"), ("cannot read image", "2007_train001.jpg"),
         setup=lambda c: _corrupt_image(c.voc(), "train", 1),  # not among the 8 samples read before training
         allowed_new=("cfg.json", "run/config.json", "run/train.log")),
    Case("traceback", "full disk", lambda c: _evaluate(c, c.checkpoint()), ("{d}/eval.json: No space left on device",),
         setup=lambda c: _disk_error(c, errno.ENOSPC)),
    Case("traceback", "read-only folder", lambda c: ["report", "--table", "table8", "--results", str(c.mini_results()),
         "--seeds", "0", "1", "--out", str(c.d / "t8.md")], ("{d}/t8.md: Permission denied",), setup=lambda c: _disk_error(c, errno.EACCES)),
    Case("traceback", "full disk while writing a file's contents", lambda c: [
         "report", "--table", "table8", "--results", str(c.mini_results()), "--seeds", "0", "1", "--out",
         str(c.d / "t8.md")], ("{d}/t8.md: No space left on device",), setup=_disk_full_on_write),
    Case("traceback", "zero images per mini dataset", lambda c: ["mini", "world", "--train", "0", "--out",
         str(c.d / "world")], ("mini world --train=0", "at least 2")),
    Case("traceback", "a zero image size for the mini-world", lambda c: ["mini", "world", "--image-size", "0", "--out",
         str(c.d / "world")], ("mini world --image-size=0", "at least 4")),
    Case("traceback", "a negative world seed", lambda c: ["mini", "world", "--seed", "-1", "--out", str(c.d / "world")],
         ("mini world --seed=-1: expected a non-negative integer",)),
    Case("traceback", "scenes without things", lambda c: ["mini", "world", "--objects", "0", "3", "--out",
         str(c.d / "world")], ("mini world --objects (the fewest)=0", "at least 1")),
    Case("traceback", "a range of things per scene upside down", lambda c: ["mini", "world", "--objects", "3", "2",
         "--out", str(c.d / "world")], ("mini world --objects (the most)=2", "at least 3")),
    Case("traceback", "zero pretraining steps", lambda c: ["mini", "clip", "--steps", "0", "--out",
         str(c.d / "clip.safetensors")], ("mini clip --steps=0", "at least 1")),
    Case("traceback", "a CUDA device where none is visible", lambda c: ["efficiency", "--dataset", "voc", "--iters", "0",
         "--device", "cuda:0"], ("--device cuda:0: no CUDA device is visible",), setup=_no_gpu),
    Case("traceback", "a device that does not exist", lambda c: ["efficiency", "--dataset", "voc", "--iters", "0",
         "--device", "foo"], ("--device foo: not a device name", "cpu, cuda or cuda:N")),
    Case("traceback", "negative timed steps", lambda c: ["efficiency", "--dataset", "voc", "--iters", "-1"],
         ("--iters -1: expected an integer of at least 0",)),
    Case("traceback", "an empty batch to time", lambda c: ["bench", "--dataset", "voc", "--mode", "infer", "--batch",
         "0"], ("--batch 0: expected an integer of at least 1",)),
    Case("traceback", "a figure format matplotlib does not write", lambda c: [
         "figure", "--name", "prompt_depth", "--results", str(c.mini_results()), "--out", str(c.d / "depth.docx")],
         ("--out {d}/depth.docx: expected a figure file ending in one of", ".png")),
    Case("traceback", "malicious CLIP weights", lambda c: _train(c, f"model.clip.pretrained={_pickled(c, {'w': _Evil(c.d)})}"),
         ("refused CLIP weights {d}/ckpt/evil.pt: it would import posix.system", "weights_only=True")),
    Case("traceback", "evaluation data root missing", lambda c: _evaluate(c, c.checkpoint()) + [
         "--dataset", "context", "--data-root", str(c.d / "VOC2010")], ("data root {d}/VOC2010 does not exist",)),
    *SILENT,
    *ROUGH_EDGES,
]


def _zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "not a checkpoint")
    return path


def _snapshot(folder: Path) -> Dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("case", CASES, ids=[f"{c.group}: {c.name}" for c in CASES])
def test_bad_input_gets_one_line_naming_it_and_leaves_nothing_partial(case, tmp_path, monkeypatch, capsys, trained,
                                                                       tiny_run):
    ctx = Ctx(tmp_path / "case", trained, monkeypatch, tiny_run)
    ctx.d.mkdir()
    if case.setup:
        case.setup(ctx)
    argv = case.argv(ctx)
    before = _snapshot(ctx.d)
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("zegclip ")]
    assert code == 2, err
    assert "Traceback" not in err and len(lines) == 1, err
    assert "weights_only` set to `False`" not in err and "weights_only=False" not in err
    assert lines[0].startswith(f"zegclip {argv[0]}: error: ")
    for part in case.expect:
        assert part.format(d=ctx.d) in lines[0]
    after = _snapshot(ctx.d)
    changed = {p for p in before if after.get(p) != before[p]}
    new = {p for p in set(after) - set(before) if not any(Path(p).match(g) for g in case.allowed_new)}
    assert not changed and not new, (changed, new)
    assert not (ctx.d / MARKER).exists()


def test_there_are_at_least_forty_cases_across_the_six_groups():
    groups = {c.group for c in CASES} | {"workflow"}
    assert len(CASES) + len(WORKFLOW_CASES) >= 40 and len(groups) == 7


WORKFLOW_CASES = [
    ("extra_sets with an unknown key", ['extra_sets=["train.iterz=5"]'], "unknown key(s) iterz in train"),
    ("extra_sets with a bad value", ['extra_sets=["train.lr=-1"]'], "train.lr=-1.0: expected a positive number"),
    ("extra_sets with conflicting keys", ['extra_sets=["model.encoder=3","model.encoder.mode=ft"]'], "conflicts with"),
    ("a key the schema does not know", ["seedz=3"], "config: Additional properties are not allowed ('seedz'"),
    ("seeds below one", ["seeds=0"], "config.seeds: 0 is less than the minimum of 1"),
    ("an unknown scale", ["scale=huge"], "config.scale: 'huge' is not one of ['mini', 'paper']"),
    ("a nested value of the wrong type", ["mini={world_seed: x}"],
     "config.mini.world_seed: 'x' is not of type 'integer'"),
    ("a user's dataset named like a built-in one", ["datasets={voc: {description: mine.yaml}}"],
     "config.datasets: 'voc' should not be valid"),
    ("a user's dataset with an unknown key", ["datasets={mine: {descripton: mine.yaml}}"],
     "config.datasets.mine: Additional properties are not allowed ('descripton' was unexpected)"),
    ("a user's dataset whose description is missing", ["datasets={mine: {description: nowhere/mine.yaml}}"],
     "datasets.mine: data.dataset=custom:nowhere/mine.yaml: no dataset description nowhere/mine.yaml"),
    ("a user's dataset whose description is invalid", ["datasets={mine: {description: {tmp}/twice.yaml}}"],
     "datasets.mine: dataset description {tmp}/twice.yaml: class 'cat' is listed twice"),
]


@pytest.mark.slow
@pytest.mark.parametrize("name,config,message", WORKFLOW_CASES, ids=[c[0] for c in WORKFLOW_CASES])
def test_bad_workflow_config_fails_before_any_job(tmp_path, name, config, message):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    (tmp_path / "twice.yaml").write_text("classes: [cat, cat]\ntrain: {images: i, labels: l}\nval: {images: i, labels: l}\n")
    config = [c.replace("{tmp}", str(tmp_path)) for c in config]
    message = message.replace("{tmp}", str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "1", "reports/table5.md", "--config",
                           *config, f"results={tmp_path}/results", f"reports={tmp_path}/reports"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    out = proc.stdout + proc.stderr
    errors = [line for line in out.splitlines() if line.startswith("zegclip workflow: error: ")]
    assert proc.returncode != 0 and "Traceback" not in out, out[-2000:]
    assert len(errors) == 1 and message in errors[0], out[-2000:]
    assert "Failed validating" not in out  # not the schema dump
    assert not (tmp_path / "results").exists()


def test_restart_if_changed_keeps_files_no_run_writes(tmp_path, tiny_run, capsys):
    root = make_voc(tmp_path / "data", n_train=2, n_aug=2, n_val=2)
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(tiny_run(root, **SHORT)))
    run = tmp_path / "run"
    assert main(["train", "--config", str(cfg), "--out", str(run), "--no-eval"]) == 0
    mine = run / "checkpoints" / "my_notes.txt"
    mine.write_text("the user's own file")
    capsys.readouterr()
    assert main(["train", "--config", str(cfg), "--out", str(run), "--no-eval", "--restart-if-changed",
                 "--set", "train.lr=0.001"]) == 0
    err = capsys.readouterr().err
    assert mine.read_text() == "the user's own file"
    kept = [line for line in err.splitlines() if "kept" in line]
    assert len(kept) == 1 and "my_notes.txt" in kept[0] and "--restart-if-changed" in kept[0]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["iter_1.pt", "iter_2.pt", "my_notes.txt"]
    assert json.loads((run / "config.json").read_text())["train"]["lr"] == 0.001


def test_a_warm_up_longer_than_the_run_is_one_warning_line(tmp_path, tiny_run, capsys):
    root = make_voc(tmp_path / "data", n_train=2, n_aug=2, n_val=2)
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(tiny_run(root, **{**SHORT, "warmup_iters": 100})))
    capsys.readouterr()
    assert main(["train", "--config", str(cfg), "--out", str(tmp_path / "run"), "--no-eval"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning:" in line]
    assert len(warnings) == 1 and "train.warmup_iters=100" in warnings[0] and "train.iters=2" in warnings[0]


def test_zero_qualitative_images_are_refused_before_drawing(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["qualitative", "--dataset", "mini_voc", "--data-root", str(tmp_path), "--run", f"a={tmp_path}",
              "--images", "0", "--out", str(tmp_path / "q.png")])
    err = capsys.readouterr().err
    assert exit.value.code == 2 and "argument --images: '0': expected an integer of at least 1" in err
    assert not (tmp_path / "q.png").exists()


@pytest.mark.slow
@pytest.mark.parametrize("content,message", [
    ("scale: [mini\n  x: : :\n", "Config file is not valid JSON or YAML"),
    (None, "No such file or directory"),
])
def test_a_bad_configfile_gets_snakemakes_own_message(tmp_path, content, message):
    """Snakemake reads --configfile before the workflow's code runs, so the message is its own
    (docs/reliability.md shows both); it exits non-zero and writes nothing."""
    path = tmp_path / ("bad.yaml" if content else "nope.yaml")
    if content:
        path.write_text(content)
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "1", "reports/table5.md",
                           "--configfile", str(path), "--config", f"results={tmp_path}/results"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and message in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()
