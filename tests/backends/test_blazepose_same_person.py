"""One person or two, judged by the poses (BlazePose backend): overlapping people are kept apart,
duplicates and chimeras (one pose spanning two people) are one."""

import numpy as np

from vidpose.backends.blazepose import BlazePoseConfig, Detection, _inside_any, dedupe, detection_is_person, same_person
from vidpose.types import PersonPose

# A standing BlazePose-33 person facing the camera, offsets from the mid-hip (y down), ~230 px tall.
_STAND = {
    0: (0, -130), 1: (3, -136), 2: (6, -136), 3: (9, -136), 4: (-3, -136), 5: (-6, -136), 6: (-9, -136),
    7: (12, -132), 8: (-12, -132), 9: (4, -122), 10: (-4, -122), 11: (25, -100), 12: (-25, -100),
    13: (30, -60), 14: (-30, -60), 15: (32, -25), 16: (-32, -25), 17: (33, -18), 18: (-33, -18),
    19: (31, -16), 20: (-31, -16), 21: (29, -20), 22: (-29, -20), 23: (14, 0), 24: (-14, 0),
    25: (15, 45), 26: (-15, 45), 27: (15, 90), 28: (-15, 90), 29: (15, 95), 30: (-15, 95),
    31: (20, 100), 32: (-20, 100),
}
# The same person with arms stretched out sideways and legs apart (a star jump).
_SPREAD = {**_STAND, 13: (65, -100), 14: (-65, -100), 15: (105, -100), 16: (-105, -100),
           17: (112, -100), 18: (-112, -100), 19: (114, -102), 20: (-114, -102), 21: (110, -96),
           22: (-110, -96), 25: (35, 45), 26: (-35, 45), 27: (55, 90), 28: (-55, 90), 29: (55, 95),
           30: (-55, 95), 31: (62, 100), 32: (-62, 100)}
CFG = BlazePoseConfig()


def pose(shape: dict, x: float, y: float, scale: float = 1.0, score: float = 0.99, vis=None) -> PersonPose:
    xy = np.array([shape[k] for k in range(33)], float) * scale + [x, y]
    v = np.full(33, 0.95) if vis is None else np.asarray(vis, float)
    return PersonPose(keypoints=np.c_[xy, v], bbox=np.r_[xy.min(0), xy.max(0)], score=score)


def test_a_person_beside_someone_with_spread_limbs_is_a_second_person():
    a = pose(_SPREAD, 300, 300)
    b = pose(_STAND, 370, 310)
    assert _inside_any(b.keypoints[[23, 24], :2].mean(0), a.bbox[None])  # the old rule skipped b
    assert not same_person(b, a, CFG) and not same_person(a, b, CFG)
    assert dedupe([a, b], CFG) == [0, 1]


def test_a_person_partly_behind_another_is_a_second_person():
    front = pose(_STAND, 300, 300)
    vis = np.full(33, 0.95)
    vis[[1, 2, 3, 7, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31]] = 0.1  # her left side is behind him
    behind = pose(_STAND, 345, 290, scale=0.85, score=0.8, vis=vis)
    assert not same_person(behind, front, CFG)
    assert dedupe([front, behind], CFG) == [0, 1]


def test_a_duplicate_is_one_person_and_the_more_confident_pose_stays():
    rng = np.random.default_rng(0)
    a = pose(_STAND, 300, 300, score=0.9)
    dup = pose(_STAND, 300, 300, score=0.95)
    dup.keypoints[:, :2] += rng.normal(0, 3, (33, 2))
    assert same_person(a, dup, CFG)
    assert dedupe([a, dup], CFG) == [1]


def test_a_chimera_sharing_a_face_or_legs_is_one_person():
    a = pose(_STAND, 300, 300)
    other = pose(_STAND, 420, 300)
    top = pose(_STAND, 300, 300)  # a's head and arms, the other's legs
    top.keypoints[23:] = other.keypoints[23:]
    top.bbox = np.r_[top.keypoints[:, :2].min(0), top.keypoints[:, :2].max(0)]
    assert same_person(top, a, CFG)
    legs = pose(_STAND, 300, 300, score=0.7)  # a's legs under a body leaning over a's
    legs.keypoints[:23, 0] += 40
    legs.keypoints[:23, 1] += 25
    legs.bbox = np.r_[legs.keypoints[:, :2].min(0), legs.keypoints[:, :2].max(0)]
    assert same_person(legs, a, CFG)
    assert dedupe([a, legs, other], CFG) == [0, 2]


def test_a_detection_on_a_tracked_face_or_hips_is_skipped_before_the_landmark_model():
    a = pose(_STAND, 300, 300)
    face = a.keypoints[[0, 2, 5], :2].mean(0)
    on_face = Detection(0.9, np.r_[face - 20, face + 20], np.array([[250, 420], [250, 100], [0, 0], [0, 0.0]]))
    on_hips = Detection(0.9, np.r_[[500, 100], [540, 140]], np.array([[303, 302], [303, 100], [0, 0], [0, 0.0]]))
    elsewhere = Detection(0.9, np.r_[[360, 150], [400, 190]], np.array([[380, 310], [380, 100], [0, 0], [0, 0.0]]))
    assert detection_is_person(on_face, a, CFG) and detection_is_person(on_hips, a, CFG)
    assert not detection_is_person(elsewhere, a, CFG)


def test_a_pose_lying_along_someones_outstretched_arms_is_part_of_them():
    a = pose(_SPREAD, 300, 300)
    # A spurious "person" lying sideways, its joints strung along a's arms (as a ROI between the
    # arms and the background can give), overlapping a's box by less than half.
    t = np.linspace(0.0, 1.0, 33)
    xy = np.c_[300 - 150 + 260 * t, np.full(33, 200.0) + 6 * np.sin(9 * t)]
    ghost = PersonPose(keypoints=np.c_[xy, np.full(33, 0.9)], bbox=np.r_[xy.min(0), xy.max(0)], score=0.9)
    assert same_person(ghost, a, CFG)
    assert dedupe([a, ghost], CFG) == [0]


def test_the_apart_skip_never_changes_a_verdict(monkeypatch):
    """same_person skips pairs whose confident joints lie too far apart for any of its tests
    (crowds: most pairs); on pairs swept from overlapping to just past that reach, at several scales,
    with random visibilities and duplicate thresholds, the verdict with the skip equals the verdict
    of every test run in full — and the skip does fire on most far pairs."""
    import dataclasses

    import vidpose.backends.blazepose as bp

    rng = np.random.default_rng(0)
    cases, skipped = [], 0
    for _ in range(600):
        cfg = dataclasses.replace(CFG, duplicate_oks=float(rng.choice([0.5, 0.2, 0.05])),
                                  body_radius=float(rng.uniform(0.1, 0.4)))
        sa, sb = rng.choice([_STAND, _SPREAD], 2)
        a = pose(sa, 300, 300, scale=float(rng.uniform(0.3, 1.5)), vis=rng.uniform(0.2, 1.0, 33))
        b = pose(sb, 300 + float(rng.uniform(-400, 400)), 300 + float(rng.uniform(-250, 250)),
                 scale=float(rng.uniform(0.3, 1.5)), vis=rng.uniform(0.2, 1.0, 33))
        b.keypoints[:, :2] += rng.normal(0, 4, (33, 2))
        cases.append((a, b, cfg, same_person(a, b, cfg)))
        ka, kb = a.keypoints, b.keypoints
        skipped += bp._apart(ka, ka[:, 2] >= cfg.confident, kb, kb[:, 2] >= cfg.confident,
                             bp.torso_size(ka), bp.torso_size(kb), cfg)
    monkeypatch.setattr(bp, "_apart", lambda *args: False)
    assert [same_person(a, b, cfg) for a, b, cfg, _ in cases] == [v for *_, v in cases]
    assert sum(v for *_, v in cases) > 20 and skipped > 250  # both verdicts and the skip are exercised


def test_the_apart_skip_keeps_a_pose_lying_just_beyond_anothers_hand():
    """The skip's reach at its tightest: a small pose (all its joints within a few pixels) just outside
    the box of someone with outstretched arms, near the hand, is on that person's body while it lies
    within body_radius x their torso of the arm, and the skip must not hide it."""
    a = pose(_SPREAD, 300, 300)
    hand = a.keypoints[19, :2]  # the right-most joint (left index finger)
    reach = CFG.body_radius * 100.0  # this torso is 100 px
    rng = np.random.default_rng(1)
    for frac in (0.3, 0.6, 0.9, 1.2, 1.5):
        blob = np.c_[hand + [frac * reach, 0.0] + rng.normal(0, 0.5, (33, 2)), np.full(33, 0.95)]
        b = PersonPose(keypoints=blob, bbox=np.r_[blob[:, :2].min(0), blob[:, :2].max(0)], score=0.9)
        assert b.bbox[0] > a.bbox[2]  # outside a's box: only the reach decides
        assert same_person(b, a, CFG) == (frac < 0.95), frac
