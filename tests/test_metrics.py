"""Metrics against hand-computed confusion matrices."""
import math

import pytest
import torch

from zegclip.engine.metrics import ConfusionMatrix, harmonic, summarize


def test_confusion_matrix_accumulates_over_images_and_ignores_255():
    cm = ConfusionMatrix(3)
    cm.update(torch.tensor([[0, 1], [2, 2]]), torch.tensor([[0, 1], [1, 255]]))
    cm.update(torch.tensor([0, 0]), torch.tensor([0, 2]))
    assert cm.matrix.tolist() == [[2, 0, 0], [0, 1, 1], [1, 0, 0]]


def test_metrics_from_a_hand_computed_matrix_with_an_absent_class():
    # rows: ground truth, columns: prediction. Class 3 never occurs in either: its IoU is
    # undefined and left out of every mean. Class 2 occurs only in predictions: IoU 0.
    cm = ConfusionMatrix(4)
    cm.matrix = torch.tensor([[8, 2, 0, 0],
                              [1, 5, 4, 0],
                              [0, 0, 0, 0],
                              [0, 0, 0, 0]])
    m = summarize(cm, ["a", "b", "c", "d"], unseen=[1, 2])
    iou_a, iou_b, iou_c = 8 / (10 + 9 - 8), 5 / (10 + 7 - 5), 0.0
    assert m["per_class_IoU"]["a"] == pytest.approx(100 * iou_a)
    assert m["per_class_IoU"]["b"] == pytest.approx(100 * iou_b)
    assert m["per_class_IoU"]["c"] == 0.0 and math.isnan(m["per_class_IoU"]["d"])
    assert m["pAcc"] == pytest.approx(100 * 13 / 20)
    assert m["mAcc"] == pytest.approx(100 * (8 / 10 + 5 / 10) / 2)  # c and d have no pixels
    assert m["mIoU"] == pytest.approx(100 * (iou_a + iou_b + iou_c) / 3)
    assert m["mIoU_S"] == pytest.approx(100 * iou_a)  # seen: a, d (d undefined)
    assert m["mIoU_U"] == pytest.approx(100 * (iou_b + iou_c) / 2)
    s, u = 100 * iou_a, 100 * (iou_b + iou_c) / 2
    assert m["hIoU"] == pytest.approx(2 * s * u / (s + u))


def test_hiou_edge_cases_and_no_split():
    assert harmonic(50.0, 0.0) == 0.0
    assert harmonic(80.0, 40.0) == pytest.approx(2 * 80 * 40 / 120)
    cm = ConfusionMatrix(2)
    cm.update(torch.tensor([0, 1]), torch.tensor([0, 1]))
    m = summarize(cm, ["x", "y"], unseen=None)
    assert m["mIoU"] == 100.0 and math.isnan(m["hIoU"]) and math.isnan(m["mIoU_U"])


def test_out_of_range_label_is_an_error():
    cm = ConfusionMatrix(2)
    with pytest.raises(ValueError, match="label value 5 is outside 0..1 and not 255"):
        cm.update(torch.tensor([0]), torch.tensor([5]))
