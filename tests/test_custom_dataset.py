"""Bring your own dataset: a description file in the README's format, through the same commands
as a built-in dataset (train, evaluate, segment), and one-line errors where it does not match
the files."""
from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from PIL import Image

from fixture_data import make_custom
from zegclip.cli import main
from zegclip.data.datasets import SegmentationDataset

PALETTE = ((200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30))


@pytest.mark.parametrize("kind", ["values", "background", "palette"])
def test_labels_become_train_ids_in_the_order_of_the_class_list(tmp_path, kind):
    desc = make_custom(tmp_path, background=kind == "background", palette=PALETTE if kind == "palette" else None)
    ds = SegmentationDataset(f"custom:{desc}", None, "val")
    assert ds.info.classes == ("cat", "dog", "grass", "sky") and ds.info.unseen == (1,)
    assert len(ds) == 3 and ds.root == tmp_path
    image, label = ds.load(0)
    assert image.shape == (48, 64, 3) and label.shape == (48, 64)
    assert (label[:2] == 255).all()  # "no class" stays ignored
    values = set(np.unique(label[2:]).tolist())
    if kind == "background":  # label 0, the scene's background, is dropped; class k was label k+1
        assert 255 in values and values - {255} <= {0, 1, 2, 3}
    else:  # the scene's background is the last class, "sky"
        assert 3 in values and values <= {0, 1, 2, 3}


def test_a_custom_dataset_trains_evaluates_and_segments_through_the_commands(tmp_path, tiny_run):
    desc = make_custom(tmp_path / "mine")
    cfg = tiny_run(None, iters=6, checkpoint_every=3)
    cfg["data"] = {**cfg["data"], "dataset": f"custom:{desc}"}
    cfg["data"].pop("root")
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    assert main(["train", "--config", str(tmp_path / "cfg.json"), "--out", str(tmp_path / "run")]) == 0
    result = json.loads((tmp_path / "run" / "results.json").read_text())
    assert result["evaluation"]["unseen"] == ["dog"] and result["evaluation"]["images"] == 3
    assert {"mIoU_S", "mIoU_U", "hIoU"} <= set(result["metrics"])

    assert main(["evaluate", "--checkpoint", str(tmp_path / "run" / "final.pt"),
                 "--output", str(tmp_path / "again.json")]) == 0
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["metrics"] == result["metrics"]

    assert main(["segment", str(tmp_path / "mine" / "images" / "val"), "--checkpoint", str(tmp_path / "run"),
                 "--classes", "cat,dog,grass,sky", "--out", str(tmp_path / "seg")]) == 0
    assert len(list((tmp_path / "seg" / "labels").glob("*.png"))) == 3


def _rewrite(desc, **changes):
    data = yaml.safe_load(desc.read_text())
    data.update(changes)
    desc.write_text(yaml.safe_dump(data))


def _break_a_label(desc):
    path = desc.parent / "labels" / "train" / "train_000.png"
    label = np.array(Image.open(path))
    label[10, 10] = 7  # 4 classes: values 0..3
    Image.fromarray(label, mode="L").save(path)


BAD = [
    ("a label value beyond the class list", _break_a_label, "value 7 is beyond the 4 classes"),
    ("a missing folder", lambda d: _rewrite(d, val={"images": "images/nowhere", "labels": "labels/val"}),
     "images folder"),
    ("a list naming a missing image", lambda d: (d.parent / "val.txt").write_text("val_000\nval_999\n"),
     "id 'val_999' has no image"),
    ("an unknown key", lambda d: _rewrite(d, clases=["cat"]), "unknown key(s) clases"),
    ("an unseen class not in the list", lambda d: _rewrite(d, unseen=["wolf"]), "unseen class 'wolf'"),
    ("a palette of the wrong length", lambda d: _rewrite(d, palette=[[0, 0, 0]]), "palette has 1 colours"),
    ("two classes sharing a palette colour", lambda d: _rewrite(d, palette=[PALETTE[0], PALETTE[1], PALETTE[0],
                                                                        PALETTE[3]]), "share the palette colour [200, 30, 30]"),
    ("a class coloured as void", lambda d: _rewrite(d, palette=[*PALETTE[:3], [255, 255, 255]]),
     "[255, 255, 255] is also the void_colour"),
    ("a void colour that is a class's", lambda d: _rewrite(d, palette=list(PALETTE), void_colour=list(PALETTE[1])),
     "[30, 200, 30] is also the void_colour"),
    ("a colour beyond 255", lambda d: _rewrite(d, palette=[*PALETTE[:3], [256, 0, 0]]), "is not an RGB colour (0..255)"),
    ("not YAML", lambda d: d.write_text("classes: [cat, dog\n"), "is not valid YAML"),
    ("no description", lambda d: d.unlink(), "no dataset description"),
]


@pytest.mark.parametrize("name,breaks,message", BAD, ids=[b[0] for b in BAD])
def test_a_description_that_does_not_match_the_files_is_one_line(tmp_path, capsys, tiny_run, name, breaks, message):
    desc = make_custom(tmp_path / "mine", n_train=2, n_val=2)
    breaks(desc)
    out = tmp_path / "run"
    # train's start-up lists both splits and reads a sample of labels of each, before any step
    cfg = tiny_run(None, iters=1)
    cfg["data"] = {"dataset": f"custom:{desc}", "workers": 0}
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    rc = main(["train", "--config", str(tmp_path / "cfg.json"), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and message in err[0], err
    assert not out.exists() or not any(out.glob("*.pt"))
