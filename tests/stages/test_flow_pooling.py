"""The flow refinement's learned pooling weights: the shipped file loads and is used by default,
bad files are refused with their name, and the fit learns to trust informative neighbours."""

from __future__ import annotations

import numpy as np
import pytest

from vidpose.errors import InputError
from vidpose.skeletons import BLAZEPOSE33, COCO17
from vidpose.stages.refine import POOLING_FILES, FlowRefineStage, read_pooling, shipped_pooling_path


def test_shipped_pooling_weights_load_and_are_used_by_default():
    path = shipped_pooling_path("blazepose33", 3)
    assert path is not None and path.name == POOLING_FILES[("blazepose33", 3)]
    w = read_pooling(path, "blazepose33", 3)
    assert w.shape == (33, 7) and np.isfinite(w).all() and (w >= 0).all()
    stage = FlowRefineStage(n=3)
    used = stage._weights(BLAZEPOSE33)
    assert stage.pooling_source == path.name
    np.testing.assert_allclose(used, w)
    assert not np.allclose(used, used[:1])  # per-joint weights, not one shared profile


def test_gaussian_pooling_on_request_and_where_nothing_is_shipped():
    stage = FlowRefineStage(n=3, pooling="gaussian")
    w = stage._weights(BLAZEPOSE33)
    assert stage.pooling_source == "gaussian" and np.allclose(w, w[:1])
    stage = FlowRefineStage(n=3)  # no learned weights for COCO-17 heatmaps (top-down models)
    stage._weights(COCO17)
    assert stage.pooling_source == "gaussian"
    with pytest.raises(InputError, match="pooling must be"):
        FlowRefineStage(pooling="median")


def test_bad_pooling_files_are_refused_naming_the_file(tmp_path):
    from safetensors.numpy import save_file

    good = shipped_pooling_path("blazepose33", 3)
    short = tmp_path / "short.safetensors"
    short.write_bytes(good.read_bytes()[:100])
    with pytest.raises(InputError, match="short.safetensors.*truncated or corrupt"):
        read_pooling(short, "blazepose33", 3)
    other = tmp_path / "coco.safetensors"
    save_file({"pool_weights": np.ones((17, 7), np.float32)}, str(other), metadata={"skeleton": "coco17"})
    with pytest.raises(InputError, match="coco.safetensors.*needed 'blazepose33'"):
        read_pooling(other, "blazepose33", 3)
    neg = tmp_path / "neg.safetensors"
    save_file({"pool_weights": -np.ones((33, 7), np.float32)}, str(neg), metadata={"skeleton": "blazepose33"})
    with pytest.raises(InputError, match="non-negative"):
        read_pooling(neg, "blazepose33", 3)


def test_fit_learns_to_trust_the_neighbours_when_the_centre_frame_is_off():
    """Windows where the neighbours' maps peak at the truth and the centre frame's 3 cells away:
    the fitted weights lean on the neighbours more than the Gaussian start, and the loss falls."""
    from vidpose.bench.flowing import fit_pooling

    rng = np.random.default_rng(0)
    n, win, s = 2, 15, 40
    g = np.arange(win)
    maps = np.zeros((s, 17, 2 * n + 1, win, win), np.float16)
    target = np.zeros((s, 17, 2), np.float32)
    for i in range(s):
        t = rng.uniform(6, 8, 2)
        target[i] = t
        for d in range(2 * n + 1):
            c = t + (np.array([3.0, 0.0]) if d == n else rng.normal(0, 0.3, 2))
            maps[i, :, d] = np.exp(-((g[None, :] - c[0]) ** 2 + (g[:, None] - c[1]) ** 2) / 4.5)
    samples = {"maps": maps, "inside": np.ones_like(maps), "target": target,
               "valid": np.ones((s, 17), bool), "n": n}
    w, before, after = fit_pooling(samples, steps=150)
    assert after < 0.7 * before
    start = np.exp(-(np.arange(-n, n + 1) ** 2) / (2.0 * max(n / 2.0, 0.5) ** 2))
    assert (w[:, [0, 1, 3, 4]].sum(1) > start[[0, 1, 3, 4]].sum() / start[n]).all()
    assert np.allclose(w[:, n], 1.0)  # normalised to the centre frame


def test_tracing_a_lattice_of_each_window_equals_tracing_every_cell_on_smooth_motion():
    """gather() traces a 5x5 lattice per joint window and interpolates the cells between: on a
    texture moving smoothly (a translation) the gathered neighbour maps equal those of tracing
    every cell; the online stage leaves the future frames out."""
    import cv2

    from vidpose.types import FramePoses, PersonPose

    rng = np.random.default_rng(0)
    base = cv2.resize(rng.uniform(0, 255, (40, 54)).astype(np.float32), (320, 240), interpolation=cv2.INTER_CUBIC)
    base = np.repeat(np.clip(base, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    pose = np.c_[rng.uniform(110, 170, 33), rng.uniform(70, 170, 33), np.full(33, 0.9)]
    ys, xs = np.mgrid[0:64, 0:64]

    def frames():
        out = []
        for i in range(7):
            kp = pose.copy()
            kp[:, 0] += 2 * i
            p = PersonPose(keypoints=kp, bbox=np.r_[kp[:, :2].min(0), kp[:, :2].max(0)], score=0.9, track_id=0)
            p.extra["crop_affine"] = np.array([[1.0, 0, 2.0 * i], [0, 1.0, 0]])  # the ROI moves with the person
            p.extra["heatmap_stride"] = 4.0
            p.heatmaps = np.stack([np.exp(-((xs - x / 4) ** 2 + (ys - y / 4) ** 2) / 3.0) for x, y in kp[:, :2] - [2.0 * i, 0]],
                                  axis=-1).astype(np.float32) * 10 - 5  # logits, as BlazePose gives
            out.append(FramePoses(i, i / 30, np.roll(base, 2 * i, axis=1), BLAZEPOSE33, [p]))
        return out

    got = {}
    for lattice in (5, 0):
        stage = FlowRefineStage(n=3, lattice=lattice, left_right=False)
        for f in frames():
            stage.process(f)
        got[lattice] = stage.gather(3, 0)
    maps5, inside5 = got[5][:2]
    maps0, inside0 = got[0][:2]
    assert inside0[[0, 6]].mean() > 0.9
    np.testing.assert_allclose(maps5, maps0, atol=0.02)
    np.testing.assert_array_equal(inside5, inside0)
    online = FlowRefineStage(n=3, online=True, left_right=False)
    for f in frames():
        online.process(f)
    _, inside, _, _ = online.gather(6, 0)
    assert inside[4:].max() == 0 and inside[:3].mean() > 0.8
