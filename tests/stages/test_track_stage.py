"""The track stage's short-track filter (``--min-track-frames``): a pose that the estimator makes for
a frame or two (a tree, someone's limbs) is dropped, a real person keeps every frame from the first,
output ids have no gaps, and the end of the video keeps what it cut short."""

import numpy as np
import pytest

from vidpose.errors import InputError
from vidpose.pipeline import RunConfig, build_stages, min_track_frames
from vidpose.skeletons import BLAZEPOSE33
from vidpose.stages.track import TrackStage
from vidpose.types import FramePoses, PersonPose


def _person(x: float, y: float = 100.0) -> PersonPose:
    """A BlazePose-33 pose of a standing person (200 px tall) whose box starts at (x, y)."""
    rng = np.random.default_rng(int(x * 7 + y))
    kp = np.c_[x + rng.uniform(0, 80, 33), y + np.linspace(0, 200, 33), np.ones(33)]
    return PersonPose(keypoints=kp, bbox=np.array([kp[:, 0].min(), y, kp[:, 0].max(), y + 200]), score=0.9)


def _video(count: int, people: dict) -> list[FramePoses]:
    """``people``: name -> (x, first frame, last frame); each stands still at x in its frames."""
    frames = []
    for i in range(count):
        persons = [_person(x) for x, a, b in people.values() if a <= i <= b]
        frames.append(FramePoses(i, i / 30, None, BLAZEPOSE33, persons))
    return frames


def _run(stage, frames):
    out = []
    for f in frames:
        got = stage.process(f)
        assert len(got) <= 1
        out += got
    return out + stage.finish()


def _xs(frame):
    return sorted(round(float(p.bbox[0]) // 100) for p in frame.persons)


def test_short_tracks_are_dropped_and_ids_have_no_gaps():
    # A real person all along (x 0), a 2-frame phantom (x 400, frames 5-6), a person who enters at
    # frame 8 and stays (x 800), a 1-frame phantom (x 1200, frame 12).
    frames = _video(20, {"a": (0, 0, 19), "ghost": (400, 5, 6), "b": (800, 8, 19), "blip": (1200, 12, 12)})
    stage = TrackStage(BLAZEPOSE33.name, 30, min_frames=3)
    out = _run(stage, frames)
    assert [f.index for f in out] == list(range(20))  # every frame, in order, none lost
    assert stage.dropped == 3
    for f in out:
        xs = _xs(f)
        assert 4 not in xs and 12 not in xs  # the phantoms are gone
        assert (8 in xs) == (f.index >= 8)  # the newcomer from its very first frame
        assert 0 in xs
    ids = {p.track_id for f in out for p in f.persons}
    assert ids == {0, 1}  # renumbered: the phantoms' tracker ids (1 and 3) leave no gap
    assert {p.track_id for p in out[10].persons if p.bbox[0] < 100} == {0}


def test_min_frames_one_passes_every_pose_at_once_with_the_trackers_ids():
    frames = _video(10, {"a": (0, 0, 9), "ghost": (400, 3, 4)})
    stage = TrackStage(BLAZEPOSE33.name, 30, min_frames=1)
    for f in frames:
        assert stage.process(f) == [f]  # no delay
    assert stage.finish() == []
    assert {p.track_id for f in frames for p in f.persons} == {0, 1}


def test_the_end_of_the_video_keeps_a_track_it_cut_short():
    # A person appearing in the last 2 frames is kept (their track runs into the end); one seen
    # only in frames 3-4 is dropped. A single image keeps its people.
    frames = _video(8, {"a": (0, 0, 7), "late": (400, 6, 7), "ghost": (800, 3, 4)})
    out = _run(TrackStage(BLAZEPOSE33.name, 30, min_frames=3), frames)
    assert [_xs(f) for f in out[6:]] == [[0, 4], [0, 4]]
    assert all(8 not in _xs(f) for f in out)
    single = _run(TrackStage(BLAZEPOSE33.name, 30, min_frames=3), _video(1, {"a": (0, 0, 0), "b": (400, 0, 0)}))
    assert [_xs(f) for f in single] == [[0, 4]]


def test_min_track_frames_defaults_and_checks():
    assert min_track_frames(RunConfig(), live=False) == 3
    assert min_track_frames(RunConfig(), live=True) == 1
    assert min_track_frames(RunConfig(min_track_frames=5), live=True) == 5
    with pytest.raises(InputError, match="--min-track-frames must be >= 1"):
        RunConfig(min_track_frames=0)
    with pytest.raises(InputError, match=r"--min-track-frames \(min_track_frames=\) must be an integer"):
        RunConfig(min_track_frames=2.5)
    with pytest.raises(InputError, match="--min-track-frames"):
        TrackStage(BLAZEPOSE33.name, 30, min_frames=0)


def test_run_json_names_the_track_stage_setting():
    stages = build_stages(RunConfig(refine="none", lift="none"), quiet=True)
    ran = stages[0].info["stages"]["ran"]
    assert {"stage": "track", "min_track_frames": 3} in ran
    assert next(s for s in stages if s.name == "track").min_frames == 3
    live = build_stages(RunConfig(refine="none", lift="none"), quiet=True, live=True)
    assert next(s for s in live if s.name == "track").min_frames == 1
