import contextlib
import io
import math

import numpy as np
import pytest

from vidpose.errors import InputError
from vidpose.metrics.keypoints import (
    COCO_SIGMAS, bbox_max_norm, head_size, iou_matrix, oks, oks_matrix, pck, pckh, sigmas_for,
    torso_norm,
)


def test_oks_hand_computed():
    sig = np.array([0.1, 0.2])
    gt = np.array([[10.0, 10.0, 2], [20.0, 20.0, 2]])
    pred = np.array([[13.0, 14.0], [20.0, 20.0]])  # joint 0 off by 5 px
    # e = d^2 / (2 sigma)^2 / area / 2 = 25 / 0.04 / 100 / 2 = 3.125
    expect = (math.exp(-3.125) + 1.0) / 2
    assert oks(pred, gt, 100.0, sig) == pytest.approx(expect, rel=1e-9)
    gt1 = gt.copy()
    gt1[1, 2] = 0  # unlabelled joint does not count
    assert oks(pred, gt1, 100.0, sig) == pytest.approx(math.exp(-3.125), rel=1e-9)
    gt0 = gt.copy()
    gt0[:, 2] = 0
    assert oks(pred, gt0, 100.0, sig) == 0.0
    # the third prediction column (a score) is ignored
    assert oks(np.c_[pred, [0.1, 0.9]], gt, 100.0, sig) == pytest.approx(expect, rel=1e-9)


def test_oks_matrix_matches_pycocotools_compute_oks():
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    rng = np.random.default_rng(1)
    M, N = 3, 4
    gt = np.concatenate([rng.uniform(0, 300, (M, 17, 2)), rng.integers(0, 3, (M, 17, 1))], -1)
    gt[:, 0, 2] = 2  # at least one labelled joint each
    areas = rng.uniform(500, 5000, M)
    pred = gt[rng.integers(0, M, N), :, :2] + rng.normal(0, 8, (N, 17, 2))
    anns = [{"id": i + 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": float(areas[i]),
             "bbox": [0, 0, 10, 10], "keypoints": gt[i].ravel().tolist(),
             "num_keypoints": int((gt[i, :, 2] > 0).sum())} for i in range(M)]
    # scores in descending order so pycocotools keeps our detection order
    res = [{"image_id": 1, "category_id": 1, "score": 1.0 - 0.1 * i,
            "keypoints": np.c_[pred[i], np.ones(17)].ravel().tolist()} for i in range(N)]
    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO()
        cg.dataset = {"images": [{"id": 1}], "annotations": anns, "categories": [{"id": 1, "name": "person"}]}
        cg.createIndex()
        ev = COCOeval(cg, cg.loadRes(res), iouType="keypoints")
        ev._prepare()
        ref = ev.computeOks(1, 1)
    ours = oks_matrix(pred, gt, areas, COCO_SIGMAS)
    assert ours.shape == (N, M)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-15)


def test_oks_matrix_empty_and_bad_inputs():
    assert oks_matrix(np.zeros((0, 17, 2)), np.zeros((2, 17, 3)), np.ones(2), COCO_SIGMAS).shape == (0, 2)
    g = np.zeros((1, 17, 3))
    with pytest.raises(InputError, match="pred has 14 keypoints"):
        oks_matrix(np.zeros((1, 14, 2)), g, np.ones(1), COCO_SIGMAS)
    with pytest.raises(InputError, match="sigmas"):
        oks_matrix(np.zeros((1, 17, 2)), g, np.ones(1), COCO_SIGMAS[:14])
    bad = np.zeros((1, 17, 2))
    bad[0, 3, 1] = np.nan
    with pytest.raises(InputError, match="pred: contains NaN"):
        oks_matrix(bad, g, np.ones(1), COCO_SIGMAS)
    with pytest.raises(InputError, match="areas"):
        oks_matrix(np.zeros((1, 17, 2)), g, np.ones(2), COCO_SIGMAS)


def test_iou_matrix_hand_computed():
    a = np.array([[0, 0, 2, 2], [0, 0, 1, 1]], float)
    b = np.array([[1, 1, 3, 3], [5, 5, 6, 6], [0, 0, 2, 2]], float)
    m = iou_matrix(a, b)
    np.testing.assert_allclose(m, [[1 / 7, 0, 1], [0, 0, 0.25]])
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 3)
    with pytest.raises(InputError, match="boxes_a"):
        iou_matrix([[2, 0, 0, 2]], b)
    with pytest.raises(InputError, match="boxes_b"):
        iou_matrix(a, np.zeros((2, 3)))


def test_sigmas_for():
    np.testing.assert_array_equal(sigmas_for("coco17"), COCO_SIGMAS)
    h = sigmas_for("hie14")
    assert h.shape == (14,) and h[0] == 0.026 and h[1] == 0.079  # nose, chest (our choice)
    assert sigmas_for("h36m17").shape == (17,)
    assert sigmas_for("blazepose33").shape == (33,)
    with pytest.raises(InputError):
        sigmas_for("nope")


def test_pck_hand_computed():
    gt = np.zeros((2, 3, 2))
    pred = np.zeros((2, 3, 2))
    pred[0, 0] = [1.0, 0]  # dist 1 -> correct at threshold 2
    pred[0, 1] = [3.0, 0]  # dist 3 -> wrong
    pred[1, 2] = [0, 5.0]  # frame 1 threshold 0.5*4 = 2 -> wrong
    vis = np.array([[True, True, False], [True, False, True]])
    r = pck(pred, gt, vis, np.array([4.0, 4.0]), 0.5)
    np.testing.assert_allclose(r.per_joint, [1.0, 0.0, 0.0])
    assert r.mean == pytest.approx(2 / 4)
    np.testing.assert_array_equal(r.counts, [2, 1, 1])
    vis2 = vis.copy()
    vis2[:, 2] = False
    assert np.isnan(pck(pred, gt, vis2, np.array([4.0, 4.0]), 0.5).per_joint[2])
    with pytest.raises(InputError, match="norm"):
        pck(pred, gt, vis, np.array([0.0, 4.0]), 0.5)
    with pytest.raises(InputError, match="visible"):
        pck(pred, gt, vis[:, :2], np.array([4.0, 4.0]), 0.5)


def test_normalisers():
    gt = np.array([[[0, 0], [4, 1], [9, 9]]], float)
    assert bbox_max_norm(gt, [[True, True, False]])[0] == 4.0
    assert bbox_max_norm(gt, [[False, False, False]])[0] == 0.0
    k = np.zeros((1, 17, 2))
    k[0, 5] = [0, 0]  # left shoulder
    k[0, 12] = [3, 4]  # right hip
    vis = np.ones((1, 17), bool)
    assert torso_norm(k, vis)[0] == pytest.approx(5.0)
    vis[0, 12] = False
    assert np.isnan(torso_norm(k, vis)[0])
    hb = np.array([[10, 10, 13, 14]], float)  # diagonal 5
    assert head_size(hb)[0] == pytest.approx(3.0)
    p = np.zeros((1, 1, 2))
    p[0, 0] = [1.4, 0]
    assert pckh(p, np.zeros((1, 1, 2)), np.ones((1, 1), bool), hb).mean == 1.0  # 1.4 <= 0.5 * 3
    p[0, 0] = [1.6, 0]
    assert pckh(p, np.zeros((1, 1, 2)), np.ones((1, 1), bool), hb).mean == 0.0
