"""The BlazePose lift stages that filter the world landmarks over time: ``--lift blazepose-smooth``
(the default 3D for files: zero-phase Butterworth per track over a centred window, 8 frames late)
and ``--lift blazepose-online`` (the default for live sources: One-Euro per track, no delay)."""

import numpy as np
import pytest
from scipy.signal import butter, filtfilt

from vidpose.errors import InputError
from vidpose.skeletons import BLAZEPOSE33
from vidpose.stages.lift import LIFTERS, BlazePoseOnlineLift, BlazePoseSmoothLift
from vidpose.stages.refine import OneEuro
from vidpose.types import FramePoses, PersonPose

FPS = 30.0


def _frames(count, track_ids=(0,), seed=0):
    """Frames whose people carry noisy world landmarks around a slow motion (as the estimate stage
    leaves them in ``extra``); returns the frames and each track's (count, 33, 3) raw landmarks."""
    rng = np.random.default_rng(seed)
    t = np.arange(count) / FPS
    base = rng.normal(0, 0.3, (33, 3))
    raw = {}
    for k, tid in enumerate(track_ids):
        slow = 0.2 * np.sin(2 * np.pi * 0.5 * t + k)[:, None, None]
        raw[tid] = base + k + slow + rng.normal(0, 0.02, (count, 33, 3))
    frames = []
    for i in range(count):
        persons = []
        for tid in track_ids:
            kp = np.c_[rng.uniform(0, 100, (33, 2)), np.ones(33)]
            persons.append(PersonPose(keypoints=kp, bbox=np.array([0, 0, 100, 100.0]), score=0.9, track_id=tid,
                                      extra={"world_landmarks": raw[tid][i].copy()}))
        frames.append(FramePoses(i, i / FPS, None, BLAZEPOSE33, persons))
    return frames, raw


def _run(stage, frames):
    out = []
    for f in frames:
        out += stage.process(f)
    return out + stage.finish()


def test_output_is_the_zero_phase_filter_over_the_centred_window_and_half_late():
    frames, raw = _frames(80, track_ids=(0, 1))
    stage = BlazePoseSmoothLift(cutoff=3.0, order=2, half=15)
    emitted = []
    for f in frames[:40]:
        emitted += stage.process(f)
    assert [f.index for f in emitted] == list(range(25))  # 15 frames late
    out = emitted + [g for f in frames[40:] for g in stage.process(f)] + stage.finish()
    assert [f.index for f in out] == list(range(80))
    b, a = butter(2, 3.0 / (FPS / 2))
    for f in out:
        for p in f.persons:
            lo, hi = max(0, f.index - 15), min(80, f.index + 16)
            expect = filtfilt(b, a, raw[p.track_id][lo:hi], axis=0)[f.index - lo]
            np.testing.assert_allclose(p.keypoints_3d, expect, atol=1e-12)
            assert "world_landmarks" not in p.extra
    # It smooths: the mean second difference over time falls to a fraction of the raw one's.
    for tid in (0, 1):
        series = np.stack([p.keypoints_3d for f in out for p in f.persons if p.track_id == tid])
        jerk = lambda x: np.abs(np.diff(x, 2, axis=0)).mean()  # noqa: E731
        assert jerk(series) < 0.2 * jerk(raw[tid])


def test_short_runs_and_untracked_people_keep_their_landmarks():
    frames, raw = _frames(5)
    untracked, raw_u = _frames(20, seed=1)
    for f in untracked:
        f.persons[0].track_id = None
    for fs, r in ((frames, raw[0]), (untracked, raw_u[0])):
        out = _run(BlazePoseSmoothLift(), fs)
        np.testing.assert_array_equal(np.stack([f.persons[0].keypoints_3d for f in out]), r)


def test_a_gap_splits_the_track():
    frames, raw = _frames(60)
    frames[30].persons = []  # the track is lost for one frame
    out = _run(BlazePoseSmoothLift(half=15), frames)
    b, a = butter(2, 3.0 / (FPS / 2))
    after = next(f for f in out if f.index == 40).persons[0].keypoints_3d
    np.testing.assert_allclose(after, filtfilt(b, a, raw[0][31:56], axis=0)[40 - 31], atol=1e-12)


@pytest.mark.parametrize("cls, name", [(BlazePoseSmoothLift, "blazepose-smooth"), (BlazePoseOnlineLift, "blazepose-online")])
def test_missing_world_landmarks_is_a_clear_error(cls, name):
    frames, _ = _frames(3)
    del frames[1].persons[0].extra["world_landmarks"]
    stage = cls()
    stage.process(frames[0])
    with pytest.raises(InputError, match=rf"--lift {name}: the estimator gave no world landmarks"):
        stage.process(frames[1])


def test_registered_for_blazepose_models():
    for name, cls in (("blazepose-smooth", BlazePoseSmoothLift), ("blazepose-online", BlazePoseOnlineLift)):
        choice = LIFTERS[name]
        assert choice.needs == frozenset({"world_landmarks"}) and isinstance(choice.build(), cls)


def test_online_filter_is_one_euro_per_track_with_no_delay():
    frames, raw = _frames(60, track_ids=(0, 1))
    stage = BlazePoseOnlineLift(min_cutoff=2.0, beta=0.3)
    for f in frames:
        assert stage.process(f) == [f]  # no delay
    for tid in (0, 1):
        ref = OneEuro(2.0, 0.3)
        expect = np.stack([ref.filter(tid, i / FPS, raw[tid][i]) for i in range(60)])
        got = np.stack([p.keypoints_3d for f in frames for p in f.persons if p.track_id == tid])
        np.testing.assert_allclose(got, expect, atol=1e-12)
        np.testing.assert_array_equal(got[0], raw[tid][0])  # a track starts from its first estimate
        jerk = lambda x: np.abs(np.diff(x, 2, axis=0)).mean()  # noqa: E731
        assert jerk(got) < 0.5 * jerk(raw[tid])
    assert all("world_landmarks" not in p.extra for f in frames for p in f.persons)


def test_one_euro_follows_a_step_and_restarts_after_a_gap():
    f = OneEuro(2.0, 0.3, reset_after=0.5)
    x0, x1 = np.zeros((3, 3)), np.ones((3, 3))
    f.filter("a", 0.0, x0)
    y = [f.filter("a", t / FPS, x1)[0, 0] for t in range(1, 31)]
    assert 0 < y[0] < y[5] < y[-1] < 1.0 and y[-1] > 0.95  # rises monotonically towards the new value
    np.testing.assert_array_equal(f.filter("a", 2.0, x0), x0)  # unseen for 1 s: starts over
    np.testing.assert_array_equal(f.filter("b", 2.0, x1), x1)  # keys are independent
    bad = np.full((3, 3), np.nan)
    np.testing.assert_array_equal(f.filter("a", 2.0 + 1 / FPS, bad), bad)  # NaN: passed on, state reset
    np.testing.assert_array_equal(f.filter("a", 2.0 + 2 / FPS, x1), x1)
