"""Training targets of each Table 2 setting on a hand-made example."""
import torch

from zegclip.catalog.benchmarks import DatasetInfo
from zegclip.engine.targets import training_class_ids, training_targets

INFO = DatasetInfo("toy", ("a", "b", "c", "d"), unseen=(1, 3))  # seen: a, c
LABELS = torch.tensor([[[0, 1, 2, 3, 255, 255]]])  # (1, 1, 6)
VALID = torch.tensor([[[True, True, True, True, True, False]]])  # the last pixel is padding
# logits over all 4 classes: pixel-wise, class d beats b at pixels 1 and 4, b beats d elsewhere
LOGITS = torch.tensor([[[0.0, 0, 0, 0, 0, 0], [5, 1, 5, 5, 1, 5], [0, 0, 0, 0, 0, 0], [1, 5, 1, 1, 5, 1]]])[:, :, None, :]


def test_inductive_renumbers_seen_and_ignores_unseen():
    assert training_class_ids("inductive", INFO) == [0, 2]
    t = training_targets("inductive", LABELS, VALID, LOGITS[:, [0, 2]], INFO)
    assert t.tolist() == [[[0, 255, 1, 255, 255, 255]]]


def test_fully_supervised_keeps_labels():
    assert training_class_ids("fully_supervised", INFO) == [0, 1, 2, 3]
    assert training_targets("fully_supervised", LABELS, VALID, LOGITS, INFO).tolist() == LABELS.tolist()


def test_st_dagger_pseudo_labels_only_unseen_pixels():
    t = training_targets("st_dagger", LABELS, VALID, LOGITS, INFO)
    # pixel 1 (unseen, GT b): argmax over unseen {b, d} = d; pixel 3 (GT d): b; ignore stays ignore
    assert t.tolist() == [[[0, 3, 2, 1, 255, 255]]]


def test_st_also_pseudo_labels_unlabelled_pixels_but_not_padding():
    t = training_targets("st", LABELS, VALID, LOGITS, INFO)
    assert t.tolist() == [[[0, 3, 2, 1, 3, 255]]]
