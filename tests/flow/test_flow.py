"""The flow/warp module: DIS flow against known motion and against the synthetic ground truth,
warping of points and maps, chaining, forward-backward consistency, crop coordinates, the cache."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vidpose.errors import InputError
from vidpose.flow import (FlowCache, FlowConfig, FlowEstimator, chain, consistency, invert_flow, resize_flow,
                          sample, warp_map, warp_points)


def _texture(h=120, w=160, seed=0):
    import cv2

    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (h // 4, w // 4)).astype(np.float32)
    img = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.repeat(np.clip(img, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_dis_recovers_a_translation(scale):
    img = _texture()
    moved = np.roll(img, shift=(-2, 3), axis=(0, 1))  # content moves +3 px in x, -2 px in y
    f = FlowEstimator(FlowConfig(preset="medium", scale=scale))(img, moved)
    assert f.shape == (120, 160, 2) and f.dtype == np.float32
    inner = f[20:-20, 20:-20].reshape(-1, 2)
    med = np.median(inner, axis=0)
    assert abs(med[0] - 3.0) < 0.25 and abs(med[1] + 2.0) < 0.25, med


def test_dis_against_synthetic_ground_truth(tmp_path):
    """On a rendered synth-single clip with exact flow, DIS's end-point error is small where the
    ground truth moves (median under 1 px at full resolution)."""
    import cv2

    from vidpose.data.synth.generate import generate_split

    generate_split("synth-single", tmp_path, "test", clips=1, frames=4, seed=0, flow=True, renderer=2)
    clip = next((tmp_path / "synth-single" / "test").iterdir())
    imgs = [cv2.cvtColor(cv2.imread(str(clip / "frames" / f"{i:06d}.jpg")), cv2.COLOR_BGR2RGB) for i in range(3)]
    est = FlowEstimator(FlowConfig(preset="medium", scale=1.0))
    epes = []
    for i in range(2):
        gt = np.load(clip / "flow" / f"{i:06d}.npy").astype(np.float32)
        f = est(imgs[i], imgs[i + 1])
        epes.append(np.linalg.norm(f - gt, axis=-1)[8:-8, 8:-8])
    epe = np.concatenate([e.ravel() for e in epes])
    assert np.median(epe) < 1.0, np.median(epe)


def test_warp_points_and_sample():
    flow = np.zeros((50, 60, 2), np.float32)
    flow[..., 0] = np.arange(60, dtype=np.float32)[None, :] * 0.1  # dx grows with x
    flow[..., 1] = -1.5
    p = np.array([[10.0, 20.0], [30.5, 5.25]])
    out = warp_points(p, flow)
    np.testing.assert_allclose(out, [[11.0, 18.5], [30.5 + 3.05, 3.75]], atol=1e-5)
    np.testing.assert_allclose(sample(flow, [[-5.0, 0.0]]), [[0.0, -1.5]])  # border replicated


def test_chain_composes_flows():
    h, w = 40, 50
    f1 = np.zeros((h, w, 2), np.float32)
    f1[..., 0] = 2.0
    f2 = np.zeros((h, w, 2), np.float32)
    f2[..., 1] = np.arange(w, dtype=np.float32)[None, :] * 0.5  # dy depends on x
    total = chain([f1, f2])
    # a point at x=10 moves to x=12 in frame 1, then by dy = 0.5 * 12 = 6
    np.testing.assert_allclose(total[5, 10], [2.0, 6.0], atol=1e-5)
    with pytest.raises(InputError):
        chain([])


def test_forward_backward_consistency():
    fwd = np.zeros((30, 30, 2), np.float32)
    fwd[..., 0] = 2.0
    good = -fwd
    bad = fwd.copy()
    assert consistency(fwd, good).min() > 0.999
    assert consistency(fwd, bad, sigma=1.0)[10, 10] == pytest.approx(math.exp(-16 / 2), rel=1e-5)


def _gauss(h, w, cx, cy, s=2.0):
    ys, xs = np.mgrid[0:h, 0:w]
    return np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * s * s)).astype(np.float32)


def test_warp_map_moves_content_along_the_flow():
    m = np.stack([_gauss(64, 64, 20, 30), _gauss(64, 64, 40, 10)], axis=-1)
    flow = np.zeros((64, 64, 2), np.float32)
    flow[..., 0], flow[..., 1] = 5.0, -3.0
    out = warp_map(m, flow)
    for c, (x, y) in enumerate([(25, 27), (45, 7)]):
        assert np.unravel_index(np.argmax(out[..., c]), out.shape[:2]) == (y, x)
    many = np.repeat(m[..., :1], 39, axis=-1)  # BlazePose's 39 channels: more than remap takes at once
    assert warp_map(many, flow).shape == (64, 64, 39)
    with pytest.raises(InputError, match="does not fit"):
        warp_map(m, flow[:10])


def test_resize_flow_scales_the_vectors_to_the_new_grid():
    flow = np.zeros((64, 96, 2), np.float32)
    flow[..., 0], flow[..., 1] = 8.0, -4.0
    small = resize_flow(flow, 16, 24)  # a quarter of the size: vectors a quarter as long
    assert small.shape == (16, 24, 2)
    np.testing.assert_allclose(small[..., 0], 2.0)
    np.testing.assert_allclose(small[..., 1], -1.0)
    np.testing.assert_allclose(resize_flow(small, 64, 96), flow, atol=1e-5)  # and back
    assert resize_flow(flow, 64, 96) is flow or np.array_equal(resize_flow(flow, 64, 96), flow)


def test_cache_computes_each_pair_once_and_chains():
    imgs = [np.roll(_texture(), shift=(0, 2 * i), axis=(0, 1)) for i in range(4)]
    cache = FlowCache(FlowEstimator(FlowConfig(scale=1.0)), size=8)
    for i, im in enumerate(imgs):
        cache.add(i, im)
    a = cache.get(0, 1)
    assert cache.get(0, 1) is a and cache.computed == 1
    total = cache.between(0, 3)
    assert cache.computed == 3
    assert abs(np.median(total[30:-30, 30:-30, 0]) - 6.0) < 0.4
    back = cache.between(3, 1)
    assert abs(np.median(back[30:-30, 30:-30, 0]) + 4.0) < 0.4
    with pytest.raises(InputError, match="not neighbours"):
        cache.get(0, 2)


def test_inverted_flow_undoes_a_smooth_flow():
    """A rotation with a scale change (not a translation, so -f is not already the inverse):
    following f then its inversion returns every interior point within 0.05 px."""
    h, w = 90, 120
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    a, s = math.radians(4.0), 1.05
    cx, cy = w / 2, h / 2
    fx = s * (math.cos(a) * (xs - cx) - math.sin(a) * (ys - cy)) + cx - xs
    fy = s * (math.sin(a) * (xs - cx) + math.cos(a) * (ys - cy)) + cy - ys
    f = np.stack([fx, fy], axis=-1)
    b = invert_flow(f)
    pts = np.stack([xs[20:-20:5, 20:-20:5].ravel(), ys[20:-20:5, 20:-20:5].ravel()], axis=1)
    back = warp_points(warp_points(pts, f), b)
    assert np.abs(back - pts).max() < 0.05
    assert np.abs(warp_points(warp_points(pts, f), -f) - pts).max() > 0.2  # the naive negation is not


def test_cache_inverts_the_backward_flow_when_asked():
    imgs = [np.roll(_texture(), shift=(0, 2 * i), axis=(0, 1)) for i in range(3)]
    cache = FlowCache(FlowEstimator(FlowConfig(scale=1.0)), size=8, backward="invert")
    for i, im in enumerate(imgs):
        cache.add(i, im)
    back = cache.between(2, 0)
    assert cache.computed == 2  # only the forward pairs were estimated
    assert abs(np.median(back[30:-30, 30:-30, 0]) + 4.0) < 0.4
    with pytest.raises(InputError, match="backward must be"):
        FlowCache(backward="guess")


def test_cache_limits_the_flow_to_the_regions_given():
    """Boxes around a moving patch: the flow is estimated on the boxes' surroundings only (fewer
    pixels) and still carries points inside them; full() gives the frame-sized field."""
    imgs = [np.roll(_texture(h=240, w=320), shift=(0, 3 * i), axis=(0, 1)) for i in range(2)]
    box = np.array([[120.0, 80.0, 170.0, 150.0]])
    whole = FlowCache(FlowEstimator(FlowConfig(scale=1.0)), size=4)
    part = FlowCache(FlowEstimator(FlowConfig(scale=1.0)), size=4)
    for i, im in enumerate(imgs):
        whole.add(i, im)
        part.add(i, im, regions=box + [3 * i, 0, 3 * i, 0])
    f = part.get_scaled(0, 1)
    assert f.origin != (0, 0) and part.pixels < 0.3 * 240 * 320
    pts = np.array([[130.0, 100.0], [150.0, 120.0], [160.0, 140.0]])
    np.testing.assert_allclose(warp_points(pts, f) - pts, [[3.0, 0.0]] * 3, atol=0.3)
    np.testing.assert_allclose(warp_points(pts, f), warp_points(pts, whole.get_scaled(0, 1)), atol=0.3)
    assert part.get(0, 1).shape == (240, 320, 2)
    big = FlowCache(FlowEstimator(FlowConfig(scale=1.0)), size=4)  # boxes over most of the frame: whole frame
    for i, im in enumerate(imgs):
        big.add(i, im, regions=[[10, 10, 300, 230]])
    assert big.get_scaled(0, 1).origin == (0, 0) and big.pixels == 240 * 320


def test_bad_settings_and_inputs():
    with pytest.raises(InputError, match="preset"):
        FlowConfig(preset="slowest")
    with pytest.raises(InputError, match="scale"):
        FlowConfig(scale=2.0)
    est = FlowEstimator()
    with pytest.raises(InputError, match="differ in size"):
        est(np.zeros((20, 20, 3), np.uint8), np.zeros((21, 20, 3), np.uint8))
    with pytest.raises(InputError, match="RGB"):
        est(np.zeros((20, 20, 4), np.uint8), np.zeros((20, 20, 4), np.uint8))


def test_torch_warp_equals_the_numpy_warp():
    torch = pytest.importorskip("torch")
    from vidpose.flow import warp_maps_torch

    rng = np.random.default_rng(0)
    m = rng.uniform(0, 1, (16, 20, 3)).astype(np.float32)
    flow = rng.uniform(-2, 2, (16, 20, 2)).astype(np.float32)
    want = warp_map(m, flow)
    got = warp_maps_torch(torch.from_numpy(m).permute(2, 0, 1)[None], torch.from_numpy(flow)[None])
    np.testing.assert_allclose(got[0].permute(1, 2, 0).numpy(), want, atol=1e-5)


def test_clip_flows_point_every_frame_at_the_centre():
    from vidpose.flow import clip_flows

    frames = np.stack([np.roll(_texture(), shift=(0, 2 * i), axis=(0, 1)) for i in range(5)])
    f = clip_flows(frames, 2, FlowEstimator(FlowConfig(scale=1.0)))
    assert f.shape == (5, 120, 160, 2) and not f[2].any()
    for k, want in enumerate([4.0, 2.0, 0.0, -2.0, -4.0]):
        assert abs(np.median(f[k, 30:-30, 30:-30, 0]) - want) < 0.4


def test_carry_equals_trace_for_every_frame_and_shares_the_steps(monkeypatch):
    """FlowCache.carry moves the points of several frames to one frame in shared steps (one flow
    sample per frame pair on each side); each lands exactly where trace() puts it."""
    import numpy as np

    import vidpose.flow as flowmod
    from vidpose.flow import FlowCache

    rng = np.random.default_rng(0)
    base = (rng.random((90, 120)) * 255).astype(np.uint8)
    cache = FlowCache(size=16, backward="invert")
    for i in range(9):
        cache.add(i, np.roll(base, (i, 2 * i), axis=(0, 1)))
    pts = {i: rng.uniform(10, 80, (5, 2)) for i in (0, 1, 2, 3, 5, 6, 8)}
    calls = []
    real = flowmod.warp_points
    monkeypatch.setattr(flowmod, "warp_points", lambda p, f: calls.append(len(p)) or real(p, f))
    got = cache.carry(pts, 4)
    assert len(calls) == 8  # frame pairs 0-1 .. 3-4 and 8-7 .. 5-4, each sampled once for all the points
    assert calls == [5, 5, 10, 15, 5, 10, 15, 20]  # points join on the way: frame 8's, +6's, +5's; 0's, +1's, ...
    monkeypatch.setattr(flowmod, "warp_points", real)
    for i, p in pts.items():
        assert np.array_equal(got[i], cache.trace(p, i, 4)[-1]), i
    mixed = cache.carry({4: pts[3], 7: pts[8]}, 4)
    assert set(mixed) == {4, 7}
    assert np.array_equal(mixed[4], pts[3])  # the target frame's own points stay as they are
    assert np.array_equal(mixed[7], cache.trace(pts[8], 7, 4)[-1])
