import numpy as np
import pytest

from vidpose.errors import InputError
from vidpose.metrics.temporal import accel_error, jitter


def test_jitter_hand_computed():
    t = np.arange(6, dtype=float)
    x = np.zeros((6, 2, 2))
    x[:, :, 0] = 3 * t[:, None]  # constant velocity: no jitter
    assert jitter(x) == pytest.approx(0.0)
    x[2, 0, 1] += 2.0  # one bump: second differences 2, -4, 2 on joint 0
    # 4 second differences x 2 joints = 8 values, sum of norms 8
    assert jitter(x) == pytest.approx(8 / 8)


def test_jitter_gap_is_not_a_jump():
    x = np.zeros((5, 1, 2))
    x[3:] = 100.0  # a different position after a gap at frame 2
    valid = np.array([True, True, False, True, True])
    assert np.isnan(jitter(x, valid))  # no full triple: nothing measured (not "no jitter")
    assert np.isnan(jitter(np.zeros((2, 17, 2))))
    assert jitter(x) > 0


def test_accel_error_hand_computed():
    t = np.arange(5, dtype=float)
    gt = np.zeros((5, 1, 3))
    gt[:, 0, 0] = t ** 2  # constant acceleration 2
    pred = gt.copy()
    assert accel_error(pred, gt) == pytest.approx(0.0)
    pred[:, 0, 0] = 0.0  # static prediction: error = 2 each frame
    assert accel_error(pred, gt) == pytest.approx(2.0)
    vis = np.ones((5, 1), bool)
    vis[2] = False  # every triple touches frame 2 -> nothing measured
    assert np.isnan(accel_error(pred, gt, vis))
    with pytest.raises(InputError, match="does not match"):
        accel_error(pred[:4], gt)
    with pytest.raises(InputError, match="valid"):
        accel_error(pred, gt, np.ones(4, bool))


def test_3d_errors_of_nothing_or_of_booleans_are_refused():
    from vidpose.metrics.pose3d import auc, mpjpe, n_mpjpe, p_mpjpe, pck3d

    empty = np.zeros((0, 17, 3))
    for f in (mpjpe, p_mpjpe, n_mpjpe, pck3d, auc):
        with pytest.raises(InputError, match="hold no poses to score"):
            f(empty, empty)
    with pytest.raises(InputError, match="booleans"):
        mpjpe(np.ones((2, 17, 3), bool), np.ones((2, 17, 3), bool))


def test_secondary_api_misuse_is_named(tmp_path):
    from vidpose.data.synth import generate_split
    from vidpose.methods import load, make_config
    from vidpose.metrics.keypoints import pck, torso_norm

    gt = np.zeros((2, 17, 3))
    vis = np.ones((2, 17), bool)
    with pytest.raises(InputError, match="torso_norm: .*nosuch"):
        torso_norm(gt, vis, "nosuch")
    for alpha in ("0.2", True):
        with pytest.raises(InputError, match="alpha: must be a positive number"):
            pck(gt[..., :2], gt[..., :2], vis, np.ones(2), alpha)
    with pytest.raises(InputError, match="model: expected a shipped name or a checkpoint path, got object"):
        load(object())
    with pytest.raises(InputError, match="settings must be a dict"):
        make_config("clnet", "abc")
    with pytest.raises(InputError, match="--clips: must be an integer, got '1'"):
        generate_split("synth-single", tmp_path, "test", "1", 8)
