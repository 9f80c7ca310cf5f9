"""The mini-world at reduced size: generation, the tiny CLIP, references, one mini run."""
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from zegclip.cli import main
from zegclip.catalog.benchmarks import dataset_info
from zegclip.data.datasets import SegmentationDataset
from zegclip.config.world import WorldSize, dataset_root
from zegclip.miniworld.generate import generate_world
from zegclip.config.world import PretrainConfig
from zegclip.config.schema import ConfigError
from zegclip.miniworld.pretrain import pretrain_mini_clip
from zegclip.miniworld.references import reference_scores
from zegclip.catalog.miniworld import MINI_DATASETS, VARIANT_DATASETS, all_classes

SMALL = WorldSize(image_size=16, train=12, val=6)  # the default world's image size


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    path = tmp_path_factory.mktemp("world")
    generate_world(path, seed=3, size=SMALL)
    return path


def test_unseen_classes_are_described_by_words_seen_elsewhere():
    for ds in MINI_DATASETS.values():
        seen_words = {w for c in ds.classes if c not in ds.unseen for w in c.split(" ")}
        for u in ds.unseen:
            if " " in u:  # a thing: both of its words occur in seen classes
                assert set(u.split(" ")) <= seen_words, (ds.name, u)
    voc, coco, ctx = (set(MINI_DATASETS[n].classes) for n in ("mini_voc", "mini_coco", "mini_context"))
    assert voc <= coco and len(ctx & coco) == len(ctx) - 1  # all but Context's "background"
    assert set(all_classes()) >= coco


def test_world_is_deterministic_and_cached(world, tmp_path):
    other = tmp_path / "again"
    generate_world(other, seed=3, size=SMALL)
    files = sorted(p.relative_to(world) for p in world.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(other) for p in other.rglob("*") if p.is_file())
    assert all((world / f).read_bytes() == (other / f).read_bytes() for f in files)
    marker = world / "world.json"
    stamp = marker.stat().st_mtime_ns
    generate_world(world, seed=3, size=SMALL)
    assert marker.stat().st_mtime_ns == stamp
    different = tmp_path / "seed4"
    generate_world(different, seed=4, size=SMALL)
    assert (different / files[0]).read_bytes() != (world / files[0]).read_bytes() or \
        (different / files[-1]).read_bytes() != (world / files[-1]).read_bytes()


def test_more_things_per_scene_put_more_thing_classes_in_each_image(tmp_path):
    def things_per_image(objects):
        size = WorldSize(image_size=32, train=2, val=20, objects=objects)
        manifest = generate_world(tmp_path / f"o{objects[0]}", seed=2, size=size, names=["mini_coco"])
        assert manifest["size"]["objects"] == list(objects)
        ds = SegmentationDataset("mini_coco", dataset_root(tmp_path / f"o{objects[0]}", "mini_coco"), "val")
        stuff = {ds.info.classes.index(s) for s in MINI_DATASETS["mini_coco"].stuff}
        return np.mean([len(set(np.unique(ds.load(i)[1]).tolist()) - stuff - {255}) for i in range(len(ds))])

    one, four = things_per_image((1, 1)), things_per_image((4, 4))
    assert 0.9 <= one <= 1.0 and four > 2.5  # later things may hide earlier ones, never add classes


def test_thing_size_sets_how_many_pixels_things_cover_and_the_default_draws_as_before(tmp_path):
    def thing_pixels(thing_size):
        size = WorldSize(image_size=16, train=2, val=30, objects=(1, 1), thing_size=thing_size)
        root = tmp_path / str(thing_size)
        manifest = generate_world(root, seed=3, size=size, names=["mini_coco"])
        assert manifest["size"]["thing_size"] == list(size.thing_range)
        ds = SegmentationDataset("mini_coco", dataset_root(root, "mini_coco"), "val")
        stuff = {ds.info.classes.index(s) for s in MINI_DATASETS["mini_coco"].stuff}
        return [np.isin(ds.load(i)[1], sorted(stuff | {255}), invert=True).sum() for i in range(len(ds))], root

    default, root = thing_pixels(None)
    small, _ = thing_pixels((3, 4))
    large, _ = thing_pixels((12, 14))
    assert max(small) <= 16 and min(large) >= 12 * 14 // 8 and np.mean(small) < np.mean(default) < np.mean(large)
    explicit, root5 = thing_pixels((8, 14))  # the default range at 16 pixels, named: the same images
    name = "annotations/val2017/000000000007_labelTrainIds.png"
    assert explicit == default and (dataset_root(root, "mini_coco") / name).read_bytes() == \
        (dataset_root(root5, "mini_coco") / name).read_bytes()


@pytest.mark.parametrize("thing_size, message", [((0, 4), "smallest"), ((6, 5), "largest"),
                                                  ((8, 17), "must fit in the 16-pixel image")])
def test_thing_size_out_of_range_is_refused(thing_size, message):
    with pytest.raises(ConfigError, match=message):
        WorldSize(image_size=16, thing_size=thing_size)


@pytest.mark.parametrize("name", ["mini_voc", "mini_coco"])
def test_grid_puts_every_label_boundary_on_the_grid_and_grid_1_draws_as_before(tmp_path, name):
    def labels(grid):
        root = tmp_path / f"g{grid}"
        generate_world(root, seed=4, size=WorldSize(image_size=16, train=2, val=40, grid=grid), names=[name])
        ds = SegmentationDataset(name, dataset_root(root, name), "val")
        return [ds.load(i)[1] for i in range(len(ds))]

    def mixed_cells(lab):  # the share of 4x4 cells holding more than one label
        cells = lab.reshape(4, 4, 4, 4).transpose(0, 2, 1, 3).reshape(16, 16)  # (cell, pixel)
        return (cells != cells[:, :1]).any(1).mean()

    free, default, aligned = labels(1), labels(WorldSize.grid), labels(4)
    assert all((a == b).all() for a, b in zip(free, default))  # the default is the free world
    assert max(mixed_cells(lab) for lab in aligned) == 0  # every 4x4 cell holds one label
    assert np.mean([mixed_cells(lab) for lab in free]) > 0.2  # the free world's cells mix, so the check can fail
    ds = MINI_DATASETS[name]
    things = [ds.classes.index(t) for t in ds.things]
    assert min(np.isin(lab, things).sum() for lab in aligned) > 0  # snapping never erases a scene's things


@pytest.mark.parametrize("grid", [0, 3, 5])
def test_a_grid_that_does_not_divide_the_image_is_refused(grid):
    with pytest.raises(ConfigError, match="grid"):
        WorldSize(image_size=16, grid=grid)


@pytest.mark.parametrize("name", sorted(MINI_DATASETS))
def test_mini_datasets_load_through_the_real_loaders(world, name):
    train = SegmentationDataset(name, dataset_root(world, name), "train")
    val = SegmentationDataset(name, dataset_root(world, name), "val")
    assert (len(train), len(val)) == (12, 6)
    image, label = train.load(0)
    assert image.shape == (16, 16, 3)
    info = dataset_info(name)
    values = set(np.unique(label).tolist()) - {255}
    assert values and max(values) < info.num_classes
    assert info.classes == MINI_DATASETS[name].classes


def test_references_order(world):
    ds = SegmentationDataset("mini_voc", dataset_root(world, "mini_voc"), "val")
    ref = reference_scores(ds)
    assert ref["uniform_chance"]["mIoU_U"] < ref["colour_only"]["mIoU_U"] < 100
    from zegclip.miniworld.references import _attribute_map
    info = dataset_info("mini_voc")
    colour = _attribute_map(info.classes, info.unseen, 0)
    texture = _attribute_map(info.classes, info.unseen, 1)
    name = info.classes.index
    assert colour[name("green plain")] == name("green checkered")  # the unseen class of its colour
    assert texture[name("green plain")] == name("red plain")  # the unseen class of its texture


def test_tiny_clip_pretraining_is_deterministic_and_loads_into_zegclip(world, tmp_path):
    cfg = PretrainConfig(steps=3, batch=8, warmup=1, eval_per_class=1)
    a = pretrain_mini_clip(tmp_path / "a.safetensors", cfg)
    pretrain_mini_clip(tmp_path / "b.safetensors", cfg)
    sa, sb = load_file(str(tmp_path / "a.safetensors")), load_file(str(tmp_path / "b.safetensors"))
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert 0.0 <= a["zero_shot_accuracy"] <= 1.0 and len(a["per_class_accuracy"]) == len(all_classes())
    assert 0.0 < a["cores_busy"] <= a["threads"] + 0.5  # CPU seconds per wall second, for slow-machine diagnosis
    assert json.loads((tmp_path / "a.json").read_text())["config"]["steps"] == 3

    run = tmp_path / "run"
    code = main(["train", "--preset", "mini_voc", "--out", str(run),
                 "--set", f"model.clip.pretrained={tmp_path / 'a.safetensors'}",
                 "--set", f"data.root={dataset_root(world, 'mini_voc')}",
                 "--set", "train.iters=4", "--set", "train.batch=4", "--set", "train.checkpoint_every=4"])
    assert code == 0
    result = json.loads((run / "results.json").read_text())
    assert result["evaluation"]["dataset"] == "mini_voc" and len(result["per_class_IoU"]) == 20


@pytest.mark.parametrize("name,classes", [("mini_voc_novel", 20), ("mini_coco_novel", 41)])
def test_the_novel_words_variants_hide_their_unseen_colours_from_training_only(name, classes):
    ds = VARIANT_DATASETS[name]
    seen_words = {w for c in ds.classes if c not in ds.unseen for w in c.split(" ")}
    assert len(ds.classes) == classes and len(ds.unseen) == 5
    assert all(u.split(" ")[0] not in seen_words and u.split(" ")[1] in seen_words for u in ds.unseen)
    assert set(ds.classes) <= set(all_classes())  # the tiny CLIP is pretrained on every one


def test_the_wide_variant_keeps_vocs_quarter_unseen_and_describes_each_by_seen_words():
    ds, voc = VARIANT_DATASETS["mini_voc_wide"], MINI_DATASETS["mini_voc"]
    seen = [c for c in ds.classes if c not in ds.unseen]
    assert len(ds.classes) == 40 and len(ds.unseen) == 10 and set(voc.unseen) <= set(ds.unseen)
    for position in (0, 1):  # every colour and every texture of an unseen thing is in seen things
        assert {u.split(" ")[position] for u in ds.unseen} <= {c.split(" ")[position] for c in seen}
    assert not ds.stuff and set(ds.classes) == set(MINI_DATASETS["mini_coco"].things)  # every thing of the world


def test_a_variant_is_written_beside_nothing_else_and_leaves_default_datasets_unchanged(world, tmp_path):
    variant = tmp_path / "variants"
    manifest = generate_world(variant, seed=3, size=SMALL, names=("mini_voc_novel", "mini_voc"))
    assert list(manifest["datasets"]) == ["mini_voc_novel", "mini_voc"]
    assert sorted(p.name for p in variant.iterdir()) == ["mini_voc", "mini_voc_novel", "world.json"]
    files = sorted(p.relative_to(world / "mini_voc") for p in (world / "mini_voc").rglob("*") if p.is_file())
    assert all((world / "mini_voc" / f).read_bytes() == (variant / "mini_voc" / f).read_bytes() for f in files)
    ds = SegmentationDataset("mini_voc_novel", dataset_root(variant, "mini_voc_novel"), "train")
    assert dataset_info("mini_voc_novel").unseen == VARIANT_DATASETS["mini_voc_novel"].unseen_ids
    assert set(np.unique(ds.load(0)[1]).tolist()) - {255}
    with pytest.raises(ValueError, match="mini_voc_nope"):
        generate_world(tmp_path / "bad", names=("mini_voc_nope",))


def test_single_class_images_come_with_their_labels_and_the_same_random_draws():
    from zegclip.miniworld.render import render_single, render_single_labelled

    for name in ("red striped", "sky", "blue dotted"):
        a, b = np.random.default_rng(5), np.random.default_rng(5)
        image, shown, label = render_single_labelled(name, a)
        assert np.array_equal(image, render_single(name, b)) and a.random() == b.random()
        assert shown[0] == name and label.shape == image.shape[:2]
        assert set(np.unique(label)) <= {-1, 0, 1} and (label == 0).any()
        if name == "sky":
            assert shown == ["sky"] and (label == 0).all()


def test_patch_targets_take_a_patch_s_majority_class_and_ignore_the_rest():
    from zegclip.miniworld.pretrain import patch_targets

    labels = torch.full((1, 8, 8), -1)
    labels[0, :4, :4] = 2  # patch 0: class 2 whole
    labels[0, :4, 4:6] = 1  # patch 1: half class 1, half none: no majority
    labels[0, 4:, :3] = 0  # patch 2: 12 of 16 pixels class 0
    assert patch_targets(labels, 4, num_classes=3).tolist() == [[2, -100, 0, -100]]


def test_patch_level_pretraining_trains_and_its_readouts_score_the_val_split(world, tmp_path, capsys):
    """The dense option pretrains (deterministically) and the readout command scores it; the
    readout's own forward pass gives open_clip's pooled embedding and projected patch tokens."""
    from zegclip.miniworld.readout import readout_features

    cfg = PretrainConfig(steps=2, batch=8, warmup=1, eval_per_class=1, dense_weight=1.0)
    pretrain_mini_clip(tmp_path / "d.safetensors", cfg)
    assert json.loads((tmp_path / "d.json").read_text())["config"]["dense_weight"] == 1.0
    out = tmp_path / "readout.json"
    assert main(["mini", "readout", "--clip", str(tmp_path / "d.safetensors"), "--world", str(world),
                 "--dataset", "mini_voc", "--output", str(out)]) == 0
    scores = json.loads(out.read_text())["readouts"]
    assert set(scores) == {"patch", "value", "image"}
    assert all(0 <= s["pAcc"] <= 100 and 0 <= s["mIoU_U"] <= 100 for s in scores.values())

    import open_clip
    import torch.nn.functional as F

    clip = open_clip.create_model("ZegCLIP-Mini").eval()
    images = torch.randn(2, 3, 32, 32)
    feats = readout_features(clip.visual, images)
    clip.visual.output_tokens = True
    with torch.no_grad():
        pooled, tokens = clip.visual(images)
    patches = F.normalize(tokens @ clip.visual.proj, dim=-1).transpose(1, 2).reshape(2, -1, 8, 8)
    assert torch.allclose(feats["patch"], patches, atol=1e-5)
    assert torch.allclose(feats["image"][:, :, 0, 0], F.normalize(pooled, dim=-1), atol=1e-5)
    assert feats["value"].shape == feats["patch"].shape


def test_a_16_pixel_tower_pretrains_on_16_pixel_images_and_reads_out_a_16_pixel_world(tmp_path, capsys):
    """``mini clip --model`` renders at the tower's own input size, and ``mini readout --model``
    scores a world of that size: a 32-pixel rendering would not even enter the 16-pixel tower."""
    world = tmp_path / "world16"
    generate_world(world, seed=1, size=WorldSize(image_size=16, train=4, val=3), names=["mini_voc"])
    weights = tmp_path / "m16.safetensors"
    assert main(["mini", "clip", "--model", "ZegCLIP-Mini-16", "--out", str(weights), "--steps", "2",
                 "--batch", "4", "--dense-weight", "1"]) == 0
    assert json.loads(weights.with_suffix(".json").read_text())["model"] == "ZegCLIP-Mini-16"
    out = tmp_path / "readout.json"
    assert main(["mini", "readout", "--model", "ZegCLIP-Mini-16", "--clip", str(weights), "--world", str(world),
                 "--dataset", "mini_voc", "--output", str(out)]) == 0
    assert set(json.loads(out.read_text())["readouts"]) == {"patch", "value", "image"}
    with pytest.raises(SystemExit):
        main(["mini", "clip", "--model", "ViT-B-16", "--out", str(tmp_path / "x.safetensors")])
    assert "invalid choice: 'ViT-B-16'" in capsys.readouterr().err
    assert not (tmp_path / "x.safetensors").exists()


def test_a_negative_dense_weight_is_refused():
    from zegclip.config import ConfigError

    with pytest.raises(ConfigError, match="--dense-weight=-1"):
        PretrainConfig(dense_weight=-1.0)


def test_a_fixed_logit_scale_stays_where_it_was_set(tmp_path):
    """``--logit-scale`` fixes the contrastive temperature; without it the scale is learned."""
    import math

    from safetensors.torch import load_file

    for fixed, name in ((5.0, "fixed"), (None, "learned")):
        out = tmp_path / f"{name}.safetensors"
        pretrain_mini_clip(out, PretrainConfig(steps=3, batch=8, warmup=1, eval_per_class=1,
                                               dense_weight=1.0, logit_scale=fixed))
        scale = float(load_file(str(out))["logit_scale"])
        if fixed is None:
            assert scale != pytest.approx(math.log(1 / 0.07), abs=1e-6)  # it moved
        else:
            assert scale == pytest.approx(math.log(fixed), abs=1e-6)
        assert json.loads(out.with_suffix(".json").read_text())["config"]["logit_scale"] == fixed


@pytest.mark.parametrize("value", [0.0, -1.0, 101.0])
def test_a_logit_scale_outside_0_to_100_is_refused(value):
    from zegclip.config import ConfigError

    with pytest.raises(ConfigError, match=f"--logit-scale={value}"):
        PretrainConfig(logit_scale=value)
