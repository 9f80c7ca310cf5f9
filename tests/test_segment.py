"""``zegclip segment``: a trained run on image files with any class names, through the command line."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from fixture_data import make_voc
from zegclip.catalog.benchmarks import dataset_info
from zegclip.cli import main
from zegclip.data.datasets import SegmentationDataset
from zegclip.engine.metrics import ConfusionMatrix, summarize


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_run):
    """A tiny inductive VOC run (20 iterations) and its dataset."""
    folder = tmp_path_factory.mktemp("segment")
    voc = make_voc(folder / "data", n_train=4, n_aug=4, n_val=4)
    (folder / "cfg.json").write_text(json.dumps(tiny_run(voc, iters=20)))
    assert main(["train", "--config", str(folder / "cfg.json"), "--out", str(folder / "run"), "--no-eval"]) == 0
    return folder / "run", voc


def test_labels_give_the_evaluations_miou_and_every_image_gets_an_overlay(run, tmp_path):
    run_dir, voc = run
    assert main(["evaluate", "--checkpoint", str(run_dir / "final.pt"), "--output", str(tmp_path / "eval.json")]) == 0
    evaluated = json.loads((tmp_path / "eval.json").read_text())["metrics"]

    info = dataset_info("voc")
    val = SegmentationDataset("voc", voc, "val")
    images = [str(s.image) for s in val.samples]  # the split's order, as the evaluation reads it
    seen = [c for i, c in enumerate(info.classes) if i not in info.unseen]
    assert main(["segment", *images, "--checkpoint", str(run_dir), "--classes", ",".join(info.classes),
                 "--seen", ",".join(seen), "--scores", "--out", str(tmp_path / "seg")]) == 0

    cm = ConfusionMatrix(info.num_classes)
    for i, s in enumerate(val.samples):
        with Image.open(tmp_path / "seg" / "labels" / f"{s.image.stem}.png") as im:
            assert im.mode == "P"
            label = torch.from_numpy(np.array(im)).long()
        _, truth = val.load(i)
        cm.update(label[None], torch.from_numpy(truth)[None])
        with Image.open(tmp_path / "seg" / "overlays" / f"{s.image.stem}.png") as im:
            assert im.height >= label.shape[0] and im.width > label.shape[1]  # the image and its legend
        scores = np.load(tmp_path / "seg" / "scores" / f"{s.image.stem}.npy")
        assert scores.shape == (info.num_classes, *label.shape) and scores.dtype == np.float16
    ours = summarize(cm, info.classes, info.unseen)
    for metric in ("mIoU", "mIoU_S", "mIoU_U", "hIoU", "pAcc"):
        assert ours[metric] == pytest.approx(evaluated[metric], abs=1e-9), metric


def test_new_class_names_and_a_folder_work_and_load_no_training_code(run, tmp_path):
    run_dir, voc = run
    classes = "red square,blue disc,striped grass"  # names no class of the run had
    code = ("import sys; from zegclip.cli import main; "
            f"rc = main(['segment', {str(voc / 'JPEGImages')!r}, '--checkpoint', {str(run_dir)!r}, "
            f"'--classes', {classes!r}, '--out', {str(tmp_path / 'seg')!r}]); "
            "assert rc == 0; "
            "assert not [m for m in sys.modules if m.startswith(('zegclip.engine.train', 'zegclip.engine.optim', "
            "'zegclip.data.loader'))], 'training code imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads((tmp_path / "seg" / "segment.json").read_text())
    assert record["classes"] == classes.split(",") and record["seen"] == [] and record["seen_bias"] == 0.0
    n = len(list((voc / "JPEGImages").glob("*.jpg")))
    assert len(list((tmp_path / "seg" / "labels").glob("*.png"))) == n == len(record["images"])
    for p in (tmp_path / "seg" / "labels").glob("*.png"):
        assert np.array(Image.open(p)).max() < 3


def test_an_unreadable_image_half_way_leaves_the_output_folder_as_it_was(run, tmp_path, capsys):
    run_dir, voc = run
    images = sorted((voc / "JPEGImages").glob("*.jpg"))[:3]
    folder = tmp_path / "images"
    folder.mkdir()
    for i, image in enumerate(images):
        (folder / f"{i}.jpg").write_bytes(image.read_bytes() if i != 2 else b"not a jpeg")
    rc = main(["segment", str(folder), "--checkpoint", str(run_dir), "--classes", "cat,dog", "--out", str(tmp_path / "seg")])
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]  # besides the progress bar
    assert rc == 2 and len(errors) == 1 and "cannot read image" in errors[0] and "2.jpg" in errors[0]
    assert not (tmp_path / "seg").exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".seg")]


@pytest.mark.parametrize("args,message", [
    (["--classes", "cat,dog", "--seen", "cow"], "--seen 'cow' is not one of --classes"),
    (["--classes", "cat,cat"], "cat given twice"),
    (["--classes", "cat,dog", "--checkpoint-missing"], "does not exist"),
])
def test_bad_segment_input_is_one_line_and_writes_nothing(run, tmp_path, capsys, args, message):
    run_dir, voc = run
    checkpoint = str(tmp_path / "nowhere") if "--checkpoint-missing" in args else str(run_dir)
    args = [a for a in args if a != "--checkpoint-missing"]
    rc = main(["segment", str(voc / "JPEGImages"), "--checkpoint", checkpoint, *args, "--out", str(tmp_path / "seg")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and message in err[0], err
    assert not (tmp_path / "seg").exists()


def test_qualitative_figure_of_two_runs(run, tmp_path):
    run_dir, voc = run
    out = tmp_path / "figures" / "qualitative_voc.png"
    assert main(["qualitative", "--dataset", "voc", "--data-root", str(voc), "--run", f"Baseline={run_dir}",
                 "--run", f"ZegCLIP={run_dir}", "--images", "2", "--out", str(out)]) == 0
    with Image.open(out) as im:
        assert im.format == "PNG" and im.width > im.height > 100  # 2 rows of 4 panels


def test_qualitative_picks_the_images_with_the_most_unseen_pixels_first(run):
    from zegclip.report.qualitative import pick_images

    _, voc = run
    val = SegmentationDataset("voc", voc, "val")
    unseen = list(val.info.unseen)
    area = [int(np.isin(val.load(i)[1], unseen).sum()) for i in range(len(val))]
    picked = pick_images(val, 2)
    assert [area[i] for i in picked] == sorted(area, reverse=True)[:2]


def test_class_names_come_from_a_file_or_a_list_of_any_length(tmp_path):
    from zegclip.engine.segment import read_classes

    (tmp_path / "classes.txt").write_text("# mine\ncat\n\ndog\n")
    assert read_classes(str(tmp_path / "classes.txt")) == ["cat", "dog"]
    many = [f"class number {i}" for i in range(200)]  # longer than any file name may be
    assert read_classes(",".join(many)) == many
