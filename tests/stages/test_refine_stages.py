"""Temporal refine stages: One-Euro, zero-phase Butterworth, and the flow stage (heatmap pooling along
the flow, keypoints carried from neighbours, left/right consistency), on frames whose motion is known."""

from __future__ import annotations

import numpy as np
import pytest

from vidpose.skeletons import BLAZEPOSE33, COCO17
from vidpose.stages import REFINERS, plan, model_choice
from vidpose.stages.refine import ButterworthStage, FlowRefineStage, OneEuroStage
from vidpose.types import FramePoses, PersonPose


def _texture(h=240, w=320, seed=0):
    import cv2

    rng = np.random.default_rng(seed)
    img = cv2.resize(rng.uniform(0, 255, (h // 6, w // 6)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    return np.repeat(np.clip(img, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def _pose(n=17, seed=1):
    rng = np.random.default_rng(seed)
    xy = np.c_[rng.uniform(100, 160, n), rng.uniform(60, 180, n)]
    return np.c_[xy, np.full(n, 0.9)]


def _frames(count, shift=(2.0, 0.0), noise=0.0, skeleton=COCO17, seed=0):
    """Frames of a texture moving by ``shift`` px per frame and one person moving with it."""
    rng = np.random.default_rng(seed)
    base = _texture()
    pose = _pose(skeleton.num_keypoints)
    frames, truth = [], []
    for i in range(count):
        dx, dy = int(round(shift[0] * i)), int(round(shift[1] * i))
        img = np.roll(base, (dy, dx), axis=(0, 1))
        kp = pose.copy()
        kp[:, 0] += dx
        kp[:, 1] += dy
        truth.append(kp[:, :2].copy())
        noisy = kp.copy()
        noisy[:, :2] += rng.normal(0, noise, (len(kp), 2))
        p = PersonPose(keypoints=noisy, bbox=np.r_[noisy[:, :2].min(0), noisy[:, :2].max(0)], score=0.9, track_id=0)
        frames.append(FramePoses(i, i / 30.0, img, skeleton, [p]))
    return frames, np.stack(truth)


def _frames_with_legs_swapped(swapped, count=20):
    """BlazePose-33 frames of a person moving with the image (:func:`_frames`) whose legs, and only
    the legs, are swapped left for right in the frames ``swapped``."""
    frames, truth = _frames(count, shift=(2.0, 0.0), noise=0.3, skeleton=BLAZEPOSE33)
    legs = BLAZEPOSE33.flip_groups()["legs"]
    perm = np.arange(33)
    perm[legs.reshape(-1)] = legs[:, ::-1].reshape(-1)
    for i in swapped:
        frames[i].persons[0].keypoints = frames[i].persons[0].keypoints[perm]
    return frames, truth


def _run(stage, frames):
    out = []
    for f in frames:
        out += stage.process(f)
    out += stage.finish()
    return out


def _jitter(xy):
    return float(np.linalg.norm(xy[2:] - 2 * xy[1:-1] + xy[:-2], axis=-1).mean())


def test_registry_and_auto_defaults():
    assert {"none", "one-euro", "butterworth", "flow-online", "flow-offline"} <= set(REFINERS)
    full = model_choice("full")
    assert plan("auto", "auto", full)["refine"] == ["flow-offline"]
    assert plan("auto", "auto", full, live=True)["refine"] == ["flow-online"]
    assert plan("auto", "auto", full)["keep_heatmaps"] is True
    assert plan("none", "auto", full)["refine"] == []


@pytest.mark.parametrize("stage", [OneEuroStage(), ButterworthStage(half=10)], ids=["one-euro", "butterworth"])
def test_filters_reduce_noise_and_keep_order(stage):
    frames, truth = _frames(60, noise=2.0)
    noisy = np.stack([f.persons[0].keypoints[:, :2] for f in frames])
    out = _run(stage, frames)
    assert [f.index for f in out] == list(range(60))  # every frame, in order
    got = np.stack([f.persons[0].keypoints[:, :2] for f in out])
    assert _jitter(got) < 0.5 * _jitter(noisy)


def test_butterworth_has_no_lag_on_steady_motion():
    frames, truth = _frames(60, shift=(3.0, 1.0), noise=0.0)
    out = _run(ButterworthStage(half=10), frames)
    got = np.stack([f.persons[0].keypoints[:, :2] for f in out])
    assert np.abs(got[10:-10] - truth[10:-10]).max() < 0.6  # rounding of the rolled image positions only


def test_flow_stage_carries_neighbours_along_the_flow():
    """Noisy per-frame keypoints of a person moving with the image: fusing the neighbours' keypoints
    carried along the (estimated) flow lowers the error and the jitter, with no lag."""
    frames, truth = _frames(30, shift=(2.0, 1.0), noise=2.0)
    noisy = np.stack([f.persons[0].keypoints[:, :2] for f in frames])
    stage = FlowRefineStage(n=3, online=False, left_right=False)
    out = _run(stage, frames)
    got = np.stack([f.persons[0].keypoints[:, :2] for f in out])
    err_raw = np.linalg.norm(noisy - truth, axis=-1)[3:-3].mean()
    err = np.linalg.norm(got - truth, axis=-1)[3:-3].mean()
    assert err < 0.7 * err_raw, (err, err_raw)
    assert _jitter(got) < 0.5 * _jitter(noisy)
    assert stage.cache.computed <= 2 * 30  # each frame pair once per direction, shared by everyone



def test_keypoint_fusion_window_is_its_own_setting():
    """The keypoint fusion reads ±fuse_n frames (default ±5 offline, the past n online), independent of
    the heatmap pooling's n: a wider window averages more neighbours, so the noise falls further,
    and the offline delay stays the left/right delay (8 frames)."""
    assert FlowRefineStage(n=3).fuse_n == FlowRefineStage.OFFLINE_FUSE_N == 5
    assert FlowRefineStage(n=3, online=True).fuse_n == 3
    assert FlowRefineStage(n=3).future == 8 and FlowRefineStage(n=3, fuse_n=10, side_lag=8).future == 10
    errs = {}
    for k in (1, 5):
        frames, truth = _frames(40, shift=(2.0, 1.0), noise=2.0, seed=3)
        out = _run(FlowRefineStage(n=1, online=False, left_right=False, fuse_n=k, fuse_sigma=k / 2), frames)
        got = np.stack([f.persons[0].keypoints[:, :2] for f in out])
        errs[k] = float(np.linalg.norm(got - truth, axis=-1)[6:-6].mean())
    assert errs[5] < 0.8 * errs[1], errs

def test_online_stage_has_no_delay():
    frames, _ = _frames(10, noise=1.0)
    stage = FlowRefineStage(n=3, online=True)
    for f in frames:
        assert [g.index for g in stage.process(f)] == [f.index]


def test_an_injected_left_right_swap_is_undone():
    frames, truth = _frames(12, shift=(2.0, 0.0), noise=0.3, skeleton=BLAZEPOSE33)
    perm = BLAZEPOSE33.flip_permutation()
    world = np.random.default_rng(2).normal(0, 0.3, (33, 3))  # the estimator's 3D, kept for the lift stage
    for f in frames:
        f.persons[0].extra["world_landmarks"] = world.copy()
    for i in (5, 6, 7):  # a run of swapped frames, as the full model produces (its 3D swapped alike)
        frames[i].persons[0].keypoints = frames[i].persons[0].keypoints[perm]
        frames[i].persons[0].extra["world_landmarks"] = world[perm]
    stage = FlowRefineStage(n=2, online=True, propagate=False)
    out = _run(stage, frames)
    for f, t in zip(out, truth):
        assert np.linalg.norm(f.persons[0].keypoints[:, :2] - t, axis=1).max() < 3.0, f.index
        assert np.array_equal(f.persons[0].extra["world_landmarks"], world), f.index  # 3D sides follow 2D
    assert stage.swaps == 3


@pytest.mark.parametrize("online", [False, True], ids=["offline", "online"])
def test_a_legs_only_swap_is_undone_and_the_rest_left_alone(online):
    """The full model often swaps the legs alone (a person seen from the side): a run of frames with
    the legs (and only the legs) swapped is swapped back, per body part; arms and face stay."""
    frames, truth = _frames_with_legs_swapped(range(6, 11))
    stage = FlowRefineStage(n=2, online=online, propagate=False)
    out = _run(stage, frames)
    for f, t in zip(out, truth):
        assert np.linalg.norm(f.persons[0].keypoints[:, :2] - t, axis=1).max() < 3.0, f.index
    assert stage.part_swaps == {"legs": 5} and stage.swaps == 5


def test_a_swap_just_before_a_track_ends_is_still_undone():
    """Offline, a track that ends (the person leaves) keeps the left/right states its best path gave
    to the frames still waiting to be refined."""
    frames, truth = _frames_with_legs_swapped(range(9, 12))
    for f in frames[15:]:
        f.persons = []  # gone from frame 15 on, while frames 7-14 still wait (8-frame delay)
    stage = FlowRefineStage(n=2, online=False, propagate=False)
    out = _run(stage, frames)
    for f, t in zip(out[:15], truth[:15]):
        assert np.linalg.norm(f.persons[0].keypoints[:, :2] - t, axis=1).max() < 3.0, f.index
    assert stage.part_swaps == {"legs": 3}


def test_left_right_uses_the_raw_joints_so_a_wrong_swap_does_not_spread():
    """Left/right states come from the estimator's raw joints (dynamic programming over the track), not
    from the previous decision: a track with no swap at all is never changed, and the offline stage
    waits ``side_lag`` frames before deciding (its output delay)."""
    frames, _ = _frames(30, shift=(2.0, 1.0), noise=1.0, skeleton=BLAZEPOSE33)
    stage = FlowRefineStage(n=2, online=False, propagate=False, side_lag=6)
    assert stage.future == 6
    out = []
    for f in frames:
        got = stage.process(f)
        assert [g.index for g in got] == ([f.index - 6] if f.index >= 6 else [])
        out += got
    out += stage.finish()
    assert stage.swaps == 0 and [f.index for f in out] == list(range(30))
    assert BLAZEPOSE33.flip_groups().keys() == {"face", "arms", "legs"}


def test_pooling_moves_a_joint_to_the_evidence_of_its_neighbours():
    """Heatmaps whose peak is at the truth in the neighbours but displaced in the centre frame:
    the pooled map pulls the centre frame's joint towards the truth."""
    frames, truth = _frames(7, shift=(2.0, 0.0), noise=0.0)
    h = w = 64
    ys, xs = np.mgrid[0:h, 0:w]
    for i, f in enumerate(frames):
        p = f.persons[0]
        # the heatmap grid covers the image 4x smaller, offset 0: heatmap (u, v) = image (4u, 4v)
        p.extra["crop_affine"] = np.array([[1.0, 0, 0], [0, 1.0, 0]])
        p.extra["heatmap_stride"] = 4.0
        centres = truth[i] / 4.0
        if i == 3:
            centres = centres + np.array([1.5, 0.0])  # the centre frame's evidence is 6 px off
            p.keypoints = p.keypoints.copy()
            p.keypoints[:, 0] += 6.0
        p.heatmaps = np.stack([np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / 2.0) for cx, cy in centres], axis=-1)
    stage = FlowRefineStage(n=3, online=False, left_right=False, propagate=False)
    out = _run(stage, frames)
    before = 6.0
    after = np.abs(out[3].persons[0].keypoints[:, 0] - truth[3][:, 0]).mean()
    assert after < 0.5 * before, after


def test_side_chain_finds_the_cheapest_state_sequence():
    """The left/right chain's dynamic programme against brute force over every state sequence of a
    short track: a swap cost per swapped frame plus the step costs to frame t-1 (same or swapped
    sides as the two states say; random costs, so the optimum is unique)."""
    import itertools

    from vidpose.stages.refine import _SideChain

    rng = np.random.default_rng(0)
    n, swap_cost = 12, 0.03
    step = rng.uniform(0, 0.2, (n, 2))  # frame t: (same, swapped) against t-1
    chain = _SideChain(0, swap_cost)
    for t in range(1, n):
        chain.step(t, *step[t])

    def total(states):
        return swap_cost * sum(states) + sum(step[t][int(states[t] != states[t - 1])] for t in range(1, n))

    best = min(itertools.product((0, 1), repeat=n), key=total)
    got = chain.states(0)
    assert [got[t] for t in range(n)] == list(best)
