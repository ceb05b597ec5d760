import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.transform import Rotation

from vidpose.errors import InputError
from vidpose.metrics.pose3d import auc, mpjpe, mpjve, n_mpjpe, p_mpjpe, pck3d, procrustes_align, root_align


def _reference_p_mpjpe(pred, gt):
    errs = []
    for p, g in zip(pred, gt):
        p0, g0 = p - p.mean(0), g - g.mean(0)
        r, s = orthogonal_procrustes(p0, g0)
        assert np.linalg.det(r) > 0  # noise is small: the optimum is a proper rotation
        scale = s / (p0 ** 2).sum()
        errs.append(np.linalg.norm(scale * p0 @ r + g.mean(0) - g, axis=-1))
    return float(np.mean(errs))


def test_p_mpjpe_matches_scipy_orthogonal_procrustes():
    rng = np.random.default_rng(0)
    gt = rng.normal(0, 300, (20, 17, 3))
    rot = Rotation.random(20, random_state=1).as_matrix()
    pred = 1.3 * np.einsum("nij,nkj->nki", rot, gt) + rng.normal(0, 40, gt.shape) + 500
    assert p_mpjpe(pred, gt) == pytest.approx(_reference_p_mpjpe(pred, gt), abs=1e-6)
    assert p_mpjpe(pred, gt) < mpjpe(pred, gt)


def test_p_mpjpe_exact_similarity_is_zero_and_reflection_is_not_undone():
    rng = np.random.default_rng(2)
    gt = rng.normal(0, 200, (3, 10, 3))
    r = Rotation.from_euler("xyz", [30, -50, 10], degrees=True).as_matrix()
    pred = 0.5 * gt @ r.T + np.array([10.0, -20, 3000])
    assert p_mpjpe(pred, gt) == pytest.approx(0.0, abs=1e-8)
    mirrored = gt * np.array([-1.0, 1, 1])
    # a non-planar pose cannot be mirrored by a rotation: error stays
    assert p_mpjpe(mirrored, gt) > 1.0
    aligned = procrustes_align(mirrored, gt)
    assert np.all(np.isfinite(aligned))
    # a planar pose can: a 180 degree turn about y maps (x, y, 0) to (-x, y, 0)
    flat = gt.copy()
    flat[:, :, 2] = 0
    assert p_mpjpe(flat * np.array([-1.0, 1, 1]), flat) == pytest.approx(0.0, abs=1e-8)


def test_mpjpe_n_mpjpe_hand_computed():
    gt = np.zeros((1, 2, 3))
    pred = gt + np.array([3.0, 4.0, 0.0])
    assert mpjpe(pred, gt) == pytest.approx(5.0)
    assert p_mpjpe(pred, gt) == pytest.approx(0.0, abs=1e-12)
    g = np.array([[[1.0, 0, 0]]])
    p = np.array([[[2.0, 1, 0]]])
    # s* = <p, g> / <p, p> = 2 / 5; error = ||(0.8, 0.4, 0) - (1, 0, 0)|| = sqrt(0.2)
    assert n_mpjpe(p, g) == pytest.approx(np.sqrt(0.2))
    assert n_mpjpe(2 * g, g) == pytest.approx(0.0)


def test_mpjve_pck3d_auc_hand_computed():
    gt = np.zeros((4, 2, 3))
    pred = gt.copy()
    pred[:, :, 0] = np.arange(4)[:, None]  # moves 1 mm per frame, gt static
    assert mpjve(pred, gt) == pytest.approx(1.0)
    with pytest.raises(InputError, match="at least 2"):
        mpjve(pred[:1], gt[:1])
    g = np.zeros((1, 3, 3))
    p = np.array([[[100.0, 0, 0], [0, 150.0, 0], [0, 0, 200.0]]])
    assert pck3d(p, g) == pytest.approx(1 / 3)  # strictly below 150 mm
    # 100 mm is below the thresholds 105..150 (10 of 31); the others never count
    assert auc(p, g) == pytest.approx(10 / 31 / 3)


def test_root_align_and_bad_inputs():
    x = np.arange(2 * 3 * 3, dtype=float).reshape(2, 3, 3)
    r = root_align(x, 0)
    assert np.all(r[:, 0] == 0) and np.allclose(r[:, 1], 3.0)
    with pytest.raises(InputError, match="does not match"):
        mpjpe(np.zeros((2, 17, 3)), np.zeros((2, 16, 3)))
    bad = np.zeros((1, 17, 3))
    bad[0, 0, 0] = np.inf
    with pytest.raises(InputError, match="pred: contains NaN or inf"):
        p_mpjpe(bad, np.zeros((1, 17, 3)))
    with pytest.raises(InputError, match="gt"):
        mpjpe(np.zeros((1, 17, 3)), np.zeros((1, 17, 2)))


def test_pck3d_warns_when_the_ground_truth_looks_like_metres():
    rng = np.random.default_rng(0)
    gt_m = rng.normal(0, 0.4, (5, 17, 3))  # a body in metres
    with pytest.warns(UserWarning, match="looks like metres"):
        pck3d(gt_m + 0.01, gt_m)
