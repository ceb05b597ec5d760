"""The tracked people's landmark calls side by side (``people_workers``): the same poses, bit for
bit, as one after another, and every call counted."""

import numpy as np
import pytest

from vidpose import store
from vidpose.backends.blazepose import BlazePose, BlazePoseConfig
from vidpose.bench.pipeline import crowd_frames
from vidpose.errors import InputError

pytestmark = pytest.mark.slow


def _run(workers, images, rois):
    b = BlazePose(BlazePoseConfig(model="full", max_people=4, threads=2, people_workers=workers), quiet=True)
    b.track(rois)
    return [b(im) for im in images], b


def test_side_by_side_gives_the_same_poses_as_one_after_another():
    images, rois = crowd_frames(store.path("sample-sports2d", quiet=True), 4, 6)  # 4 people per frame
    seq, b1 = _run(1, images, rois)
    par, b2 = _run(2, images, rois)
    assert sum(len(ps) for ps in seq) >= 20  # the people were found and held
    for a, c in zip(seq, par):
        assert len(a) == len(c)
        for p, q in zip(a, c):
            assert np.array_equal(p.keypoints, q.keypoints) and np.array_equal(p.keypoints_3d, q.keypoints_3d)
            assert p.score == q.score
    assert b1.stats["landmark_calls"] == b2.stats["landmark_calls"] >= 24
    assert len(b2._workers) == 2 and not b1._workers  # two one-thread interpreters; none when sequential
    assert b2.stats["landmark_seconds"] > 0


def test_people_workers_must_be_positive():
    with pytest.raises(InputError, match="people_workers"):
        BlazePoseConfig(people_workers=0)
