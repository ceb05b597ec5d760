"""A newly detected pose that overlaps a tracked person must come with a confident pose flag
(backends.blazepose.doubtful_newcomer); a newcomer apart from everyone needs only the usual flag."""

import numpy as np

from vidpose.backends.blazepose import BlazePoseConfig, doubtful_newcomer
from vidpose.types import PersonPose

CFG = BlazePoseConfig()


def _person(x0, y0, x1, y1):
    kp = np.c_[np.linspace(x0, x1, 33), np.linspace(y0, y1, 33), np.full(33, 0.9)]
    return PersonPose(keypoints=kp, bbox=np.array([x0, y0, x1, y1], float), score=1.0)


def test_an_unsure_pose_over_a_tracked_person_is_doubtful_a_sure_one_is_not():
    man = _person(476, 65, 779, 433)
    along_arms = _person(176, 158, 954, 308)  # the spurious pose of the sample clip's frame 70
    assert doubtful_newcomer(along_arms, 0.63, [man], CFG)
    assert not doubtful_newcomer(along_arms, 0.95, [man], CFG)  # a person stepping in front: sure of her


def test_a_newcomer_apart_from_everyone_needs_only_the_usual_flag():
    man = _person(476, 65, 779, 433)
    far = _person(1200, 80, 1400, 500)
    assert not doubtful_newcomer(far, 0.55, [man], CFG)
    assert not doubtful_newcomer(far, 0.55, [], CFG)
    strict = BlazePoseConfig(overlap_presence=0.99)
    assert doubtful_newcomer(_person(500, 100, 700, 400), 0.95, [man], strict)
