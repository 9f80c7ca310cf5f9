"""The three benchmarks' loaders on fixture trees in the real layouts, and every bad-data case."""
import numpy as np
import pytest
from PIL import Image

from fixture_data import make_coco_stuff, make_context, make_voc
from zegclip.cli import main
from zegclip.catalog.benchmarks import COCO_STUFF_CLASSES, CONTEXT60_CLASSES, VOC_CLASSES, dataset_info
from zegclip.data.datasets import DataError, SegmentationDataset
from zegclip.data.prepare import coco_stuff_lut


def test_class_names_and_splits_match_the_published_ones():
    voc, coco, ctx = dataset_info("voc"), dataset_info("coco"), dataset_info("context")
    assert (len(VOC_CLASSES), len(COCO_STUFF_CLASSES), len(CONTEXT60_CLASSES)) == (20, 171, 60)
    assert [voc.classes[i] for i in voc.unseen] == ["pottedplant", "sheep", "sofa", "train", "tvmonitor"]
    assert len(voc.seen) == 15
    assert [coco.classes[i] for i in coco.unseen] == [
        "cow", "giraffe", "suitcase", "frisbee", "skateboard", "carrot", "scissors", "cardboard", "clouds",
        "grass", "playingfield", "river", "road", "tree", "wall-concrete"]
    assert len(coco.seen) == 156
    assert [ctx.classes[i] for i in ctx.unseen] == [
        "aeroplane", "bird", "boat", "cat", "cow", "fence", "keyboard", "motorbike", "sofa", "tvmonitor"]
    assert len(ctx.seen) == 50 and 0 in ctx.seen and ctx.classes[0] == "background"
    c59 = dataset_info("context59")
    assert [c59.classes[i] for i in c59.unseen] == [ctx.classes[i] for i in ctx.unseen]


def test_voc_trains_on_train_plus_aug_and_drops_background(tmp_path):
    root = make_voc(tmp_path)
    train, val = SegmentationDataset("voc", root, "train"), SegmentationDataset("voc", root, "val")
    assert (len(train), len(val)) == (8, 3)
    assert {s.label.parent.name for s in train.samples} == {"SegmentationClass", "SegmentationClassAug"}
    image, label = val.load(0)
    raw = np.asarray(Image.open(val.samples[0].label))
    assert image.shape == (72, 96, 3) and label.shape == (72, 96)
    assert (label[raw == 0] == 255).all() and (label[raw == 255] == 255).all()
    fg = (raw > 0) & (raw < 255)
    assert (label[fg] == raw[fg] - 1).all()


def test_coco_stuff_and_context_load_train_ids(tmp_path):
    coco = SegmentationDataset("coco", make_coco_stuff(tmp_path), "val")
    _, label = coco.load(0)
    assert len(coco) == 3 and set(np.unique(label)) <= set(range(171)) | {255}
    ctx_root = make_context(tmp_path)
    ctx = SegmentationDataset("context", ctx_root, "train")
    _, label = ctx.load(0)
    assert 0 in label and label.max() <= 59  # background is class 0 and is kept
    _, label59 = SegmentationDataset("context59", ctx_root, "train").load(0)
    assert (label59[label == 0] == 255).all() and (label59[label > 0] == label[label > 0] - 1).all()


def test_prepare_coco_stuff_maps_raw_values_to_train_ids(tmp_path, capsys):
    root = make_coco_stuff(tmp_path, raw=True)
    assert main(["prepare", "coco-stuff", str(root)]) == 0
    lut = coco_stuff_lut()
    assert (lut[0], lut[10], lut[12], lut[24], lut[26], lut[66], lut[69], lut[91], lut[181], lut[255]) == \
        (0, 10, 11, 23, 24, 60, 61, 80, 170, 255)
    raw_path = sorted((root / "annotations" / "val2017").glob("*[0-9].png"))[0]
    raw = np.asarray(Image.open(raw_path))
    converted = np.asarray(Image.open(raw_path.with_name(raw_path.stem + "_labelTrainIds.png")))
    assert (converted == lut[raw]).all()
    assert len(SegmentationDataset("coco", root, "train")) == 4


def test_prepare_coco_stuff_rejects_an_unused_raw_value(tmp_path, capsys):
    root = make_coco_stuff(tmp_path, raw=True)
    bad = sorted((root / "annotations" / "train2017").glob("*.png"))[0]
    Image.fromarray(np.full((8, 8), 11, dtype=np.uint8)).save(bad)
    assert main(["prepare", "coco-stuff", str(root)]) == 2
    assert f"label {bad}: raw value 11 is not a COCO-Stuff class" in capsys.readouterr().err


# ---------------------------------------------------------------- bad data: one clear message each

def test_missing_root(tmp_path):
    with pytest.raises(DataError, match=r"data root .*nowhere does not exist; expected VOCdevkit/VOC2012"):
        SegmentationDataset("voc", tmp_path / "nowhere", "train")


def test_missing_split_file(tmp_path):
    root = make_voc(tmp_path)
    (root / "ImageSets" / "Segmentation" / "aug.txt").unlink()
    with pytest.raises(DataError, match=r"split file .*aug.txt does not exist"):
        SegmentationDataset("voc", root, "train")


def test_id_without_image(tmp_path):
    root = make_voc(tmp_path)
    with open(root / "ImageSets" / "Segmentation" / "val.txt", "a") as f:
        f.write("2009_ghost\n")
    with pytest.raises(DataError, match=r"val.txt: id '2009_ghost' has no image .*2009_ghost.jpg"):
        SegmentationDataset("voc", root, "val")


def test_unreadable_image(tmp_path):
    root = make_voc(tmp_path)
    ds = SegmentationDataset("voc", root, "val")
    ds.samples[0].image.write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(DataError, match=rf"cannot read image {ds.samples[0].image}"):
        ds.load(0)


def test_image_label_size_mismatch(tmp_path):
    root = make_voc(tmp_path)
    ds = SegmentationDataset("voc", root, "val")
    Image.fromarray(np.zeros((10, 12), dtype=np.uint8)).save(ds.samples[1].label)
    with pytest.raises(DataError, match=r"image .* is 96x72 but its label .* is 12x10"):
        ds.load(1)


def test_label_value_out_of_range(tmp_path):
    root = make_context(tmp_path)
    ds = SegmentationDataset("context", root, "val")
    arr = np.zeros((64, 64), dtype=np.uint8)
    arr[5, 5] = 77
    Image.fromarray(arr).save(ds.samples[2].label)
    with pytest.raises(DataError, match=r"value 77 is outside the class range 0..59 and not 255"):
        ds.load(2)


def _encode_rle(mask):
    """COCO's compressed RLE of a bool mask (column-major runs, starting with zeros)."""
    flat = mask.T.flatten()
    counts, current, run = [], False, 0
    for v in flat:
        if v != current:
            counts.append(run)
            current, run = v, 0
        run += 1
    counts.append(run)
    chars = []
    for i, x in enumerate(counts):
        if i > 2:
            x -= counts[i - 2]
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = (x != -1) if c & 0x10 else (x != 0)
            chars.append(chr((c | (0x20 if more else 0)) + 48))
    return {"size": list(mask.shape), "counts": "".join(chars)}


def test_prepare_context_from_the_detail_json(tmp_path, capsys):
    import json
    from zegclip.data.prepare import CONTEXT_IDS, decode_rle
    rng = np.random.default_rng(0)
    images, annos = [], []
    for k, phase in enumerate(["train", "train", "val"]):
        h, w = 40 + k, 50
        images.append({"image_id": k, "file_name": f"2008_{k:06d}.jpg", "height": h, "width": w, "phase": phase})
        for raw in (2, 259, 458):  # aeroplane, mountain, wood
            m = np.zeros((h, w), dtype=bool)
            y, x = rng.integers(0, h - 10), rng.integers(0, w - 10)
            m[y:y + 10, x:x + 12] = True
            assert (decode_rle(_encode_rle(m)) == m).all()
            annos.append({"image_id": k, "category_id": raw, "segmentation": _encode_rle(m)})
        Image.fromarray(np.zeros((h, w, 3), dtype=np.uint8)).save(tmp_path / f"2008_{k:06d}.jpg")
    root = tmp_path / "VOCdevkit" / "VOC2010"
    (root / "JPEGImages").mkdir(parents=True)
    for p in tmp_path.glob("*.jpg"):
        p.rename(root / "JPEGImages" / p.name)
    js = tmp_path / "trainval_merged.json"
    js.write_text(json.dumps({"images": images, "annos_segmentation": annos}))
    assert main(["prepare", "context", str(js), str(root)]) == 0
    ds = SegmentationDataset("context", root, "train")
    assert len(ds) == 2 and len(SegmentationDataset("context", root, "val")) == 1
    _, label = ds.load(0)
    names = {CONTEXT60_CLASSES[v] for v in np.unique(label)}
    assert names <= {"background", "aeroplane", "mountain", "wood"} and "background" in names
    order = sorted(CONTEXT_IDS)  # ascending raw ids follow the alphabetical class names
    assert [CONTEXT60_CLASSES[order.index(r)] for r in (2, 65, 115, 259, 458)] == ["aeroplane", "cat", "door", "mountain", "wood"]

    annos[0]["category_id"] = 999
    js.write_text(json.dumps({"images": images, "annos_segmentation": annos}))
    assert main(["prepare", "context", str(js), str(root)]) == 2
    assert "has category 999, not one of the 60 PASCAL Context classes" in capsys.readouterr().err


def test_cached_dataset_decodes_each_sample_once_and_returns_the_same_arrays(tmp_path, monkeypatch):
    import zegclip.data.datasets as datasets

    root = make_voc(tmp_path, n_train=2, n_aug=1, n_val=1)
    plain, cached = SegmentationDataset("voc", root, "train"), SegmentationDataset("voc", root, "train", cache=True)
    reads = []
    real = datasets.read_image
    monkeypatch.setattr(datasets, "read_image", lambda path: reads.append(path) or real(path))
    for _ in range(3):
        for i in range(len(cached)):
            for a, b in zip(cached.load(i), plain.load(i)):
                assert np.array_equal(a, b)
    assert len(reads) == 3 * len(plain) + len(cached)  # the plain dataset reads every time


@pytest.mark.parametrize("counts", ["0", "0:0:0:0:0:", [3, 2]])
def test_rle_that_does_not_cover_the_image_is_an_error(counts):
    from zegclip.data.datasets import DataError
    from zegclip.data.prepare import decode_rle

    with pytest.raises(DataError, match="RLE"):
        decode_rle({"size": [5, 4], "counts": counts})
