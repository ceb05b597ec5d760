"""The short-track filter on real video: the sample clip's two spurious 2-frame "people" as the man
lands (frames 190-193: one made of the tree and his legs, one inside his crouch) are dropped, the
two real people keep one id each, and every other pose is what the run without the filter writes."""

import json

import pytest

from vidpose.cli import main


def _run(clip, out, *extra):
    assert main(["run", str(clip), "--out", str(out), "--max-frames", "200", "--no-overlay", "--no-report",
                 "--no-csv", "--quiet", "--refine", "none", "--lift", "none", *extra]) == 0
    return json.loads((out / "run.json").read_text()), json.loads((out / "poses.json").read_text())["frames"]


@pytest.mark.slow
def test_sample_clip_spurious_short_tracks_are_dropped(clip, tmp_path):
    run, frames = _run(clip, tmp_path / "default")
    run1, frames1 = _run(clip, tmp_path / "off", "--min-track-frames", "1")
    assert run["track_ids"] == [0, 1] and run["short_track_poses_dropped"] == 4
    assert len(run1["track_ids"]) == 4 and run1["short_track_poses_dropped"] == 0
    assert {"stage": "track", "min_track_frames": 3} in run["stages"]["ran"]
    short = {t for t in run1["track_ids"] if sum(p["track_id"] == t for f in frames1 for p in f["persons"]) < 3}
    assert len(short) == 2
    dropped = [(f["index"], p["track_id"]) for f in frames1 for p in f["persons"] if p["track_id"] in short]
    assert sorted({i for i, _ in dropped}) == [190, 191, 192, 193]
    for f, f1 in zip(frames, frames1, strict=True):  # everything else unchanged, ids included
        assert f["persons"] == [p for p in f1["persons"] if p["track_id"] not in short]
