"""Crowd propagation (propagate-online / propagate-offline) on a known translation field."""

from __future__ import annotations

import numpy as np
import pytest

from vidpose.flow import FlowCache, FlowEstimator, ScaledFlow
from vidpose.skeletons import COCO17
from vidpose.stages import REFINERS, parse_refine
from vidpose.stages.propagate import PropagateStage
from vidpose.types import FramePoses, PersonPose

SHIFT = np.array([3.0, -2.0])  # pixels per frame


class TranslationFlow(FlowEstimator):
    """The known flow of a scene translating by SHIFT per frame (the frame index is in pixel (0, 0)),
    given at a quarter of the image's resolution, as the real estimator's downscaled flow is."""

    def prepare(self, frame):
        return np.full((4, 4), int(np.asarray(frame)[0, 0, 0]), np.uint8)

    def between(self, a, b, height, width):
        steps = int(b[0, 0]) - int(a[0, 0])
        field = np.empty((height // 4, width // 4, 2), np.float32)
        field[:] = SHIFT * steps / 4.0  # in the field's own (quarter-size) pixels
        return ScaledFlow(field, height, width)


def _stage(online: bool, **kw) -> PropagateStage:
    return PropagateStage(w=3, online=online, cache=FlowCache(TranslationFlow(), size=20), **kw)


def _truth(i: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.uniform(60, 140, (17, 2)) + SHIFT * i


def _frames(count: int, missing=(), wrong: dict | None = None) -> list[FramePoses]:
    frames = []
    for i in range(count):
        img = np.zeros((200, 240, 3), np.uint8)
        img[0, 0] = i
        persons = []
        if i not in missing:
            kp = np.c_[_truth(i), np.full(17, 0.9)]
            if wrong and i in wrong:
                kp[:, :2] += wrong[i]
                kp[:, 2] = 0.05  # a poor estimate: low confidence
            persons.append(PersonPose(keypoints=kp, bbox=np.r_[kp[:, :2].min(0), kp[:, :2].max(0)], score=0.9,
                                      track_id=7))
        frames.append(FramePoses(i, i / 30, img, COCO17, persons))
    return frames


def _run(stage, frames):
    out = []
    for f in frames:
        out += stage.process(f)
    return out + stage.finish()


def test_propagation_along_a_known_translation_moves_keypoints_exactly():
    stage = _stage(online=False)
    for f in _frames(7):
        stage.cache.add(f.index, f.image)
    pts = _truth(0)
    for src, dst in ((0, 3), (6, 2), (4, 5)):
        moved, cons = stage.carry(_truth(src), src, dst)
        np.testing.assert_allclose(moved, pts + SHIFT * dst, atol=1e-9)
        np.testing.assert_allclose(cons, 1.0)  # a translation is perfectly forward-backward consistent


@pytest.mark.parametrize("online", [False, True])
def test_a_poor_estimate_is_pulled_onto_the_propagated_poses(online):
    out = _run(_stage(online, recover=3), _frames(8, wrong={4: np.array([12.0, -9.0])}))
    assert [f.index for f in out] == list(range(8))
    err = np.linalg.norm(out[4].persons[0].keypoints[:, :2] - _truth(4), axis=1)
    assert err.max() < 0.05 * 15  # 15 px off before, weight 0.05 against ~1.5 from the neighbours
    for f in out:  # the poor estimate, carried to its neighbours, hardly moves them (weight 0.05)
        if f.index != 4:
            assert np.linalg.norm(f.persons[0].keypoints[:, :2] - _truth(f.index), axis=1).max() < 0.5


def test_offline_recovers_a_person_missed_in_a_frame_from_both_sides():
    out = _run(_stage(False, recover=4), _frames(9, missing=(3, 4)))
    for i in (3, 4):
        (p,) = out[i].persons
        assert p.track_id == 7 and p.extra["recovered"]
        np.testing.assert_allclose(p.keypoints[:, :2], _truth(i), atol=1e-9)
        np.testing.assert_allclose(p.bbox, np.r_[_truth(i).min(0), _truth(i).max(0)], atol=1e-9)


def test_online_recovers_only_for_a_few_frames_and_never_waits():
    stage = _stage(True, recover=2)
    frames = _frames(8, missing=(4, 5, 6, 7))
    for f in frames:
        assert [g.index for g in stage.process(f)] == [f.index]  # no delay
    assert [len(f.persons) for f in frames] == [1, 1, 1, 1, 1, 1, 0, 0]
    np.testing.assert_allclose(frames[5].persons[0].keypoints[:, :2], _truth(5), atol=1e-9)


def test_offline_does_not_recover_a_person_who_left():
    out = _run(_stage(False, recover=3), _frames(8, missing=(5, 6, 7)))
    assert [len(f.persons) for f in out] == [1, 1, 1, 1, 1, 0, 0, 0]


def test_registered_and_combinable_with_the_flow_refinement():
    assert {"propagate", "propagate-online", "propagate-offline"} <= set(REFINERS)
    assert parse_refine("flow-offline,propagate-offline") == ["flow-offline", "propagate-offline"]
    assert REFINERS["propagate-online"].build().future == 0
    assert REFINERS["propagate-offline"].build().future == 24  # the longest gap it fills


def test_offline_fills_a_gap_longer_than_the_fusion_window():
    out = _run(_stage(False, recover=8), _frames(14, missing=range(3, 9)))
    assert all(len(f.persons) == 1 for f in out)
    for i in range(3, 9):
        np.testing.assert_allclose(out[i].persons[0].keypoints[:, :2], _truth(i), atol=1e-9)
        assert out[i].persons[0].keypoints[:, 2].min() == pytest.approx(0.9)


def test_a_recovered_person_takes_the_nearest_sightings_3d_pose_for_the_lift():
    frames = _frames(8, missing=(3,))
    for f in frames:
        for p in f.persons:
            p.extra["world_landmarks"] = np.full((17, 3), float(f.index))
    out = _run(_stage(False, recover=3), frames)
    (p,) = out[3].persons
    assert p.extra["recovered"] and p.extra["world_landmarks"][0, 0] in (2.0, 4.0)


def test_offline_recovers_a_missed_person_along_real_dis_flow_on_the_peoples_regions():
    """The stage as `vidpose run` builds it (OpenCV DIS, flow only around the people): a textured scene
    moved by SHIFT per frame, the person missed in frames 3 and 4, is put back where the scene moved."""
    import cv2

    rng = np.random.default_rng(1)
    base = cv2.GaussianBlur(rng.integers(0, 256, (400, 480, 3)).astype(np.uint8), (0, 0), 2.0)
    frames = _frames(9, missing=(3, 4))
    for f in frames:
        dx, dy = (SHIFT * f.index).astype(int)
        f.image = np.ascontiguousarray(np.roll(base, (dy, dx), axis=(0, 1))[100:300, 120:360])
        for p in f.persons:  # the person is a patch of the scene: it moves with it
            p.bbox = np.r_[p.keypoints[:, :2].min(0) - 10, p.keypoints[:, :2].max(0) + 10]
    stage = PropagateStage(online=False, recover=4)  # the default estimator: DIS
    out = _run(stage, frames)
    for i in (3, 4):
        (p,) = out[i].persons
        assert p.extra["recovered"]
        assert np.linalg.norm(p.keypoints[:, :2] - _truth(i), axis=1).max() < 0.5
    # the flow was estimated on the people's surroundings only, not on whole frames
    assert stage.cache.computed > 0 and 0 < stage.cache.pixels < 0.6 * stage.cache.computed * 200 * 240
