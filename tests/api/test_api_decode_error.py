"""Issue 15 item 4: the Python API says where decoding stopped, as run.json does."""

from __future__ import annotations

import pytest

import vidpose


@pytest.fixture
def truncated(make_video, tmp_path):
    clip = make_video("long.mp4", n=90, width=160, height=120, faststart=True)
    cut = tmp_path / "cut.mp4"
    data = clip.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    return cut


@pytest.mark.slow
def test_estimate_returns_decode_error_for_a_truncated_file(truncated):
    with pytest.warns(RuntimeWarning, match="cut.mp4"):
        poses = vidpose.estimate(truncated, max_people=1)
    assert 0 < len(poses["frames"]) < 90
    assert poses["video"]["num_frames"] == len(poses["frames"])
    assert isinstance(poses["decode_error"], str) and "stopped at frame" in poses["decode_error"]
    assert f"frame {len(poses['frames'])} " in poses["decode_error"]


@pytest.mark.slow
def test_stream_exposes_decode_error_after_the_last_frame(truncated):
    s = vidpose.stream(truncated, max_people=1)
    assert s.decode_error is None and s.info.width == 160
    with pytest.warns(RuntimeWarning, match="cut.mp4"):
        frames = list(s)
    assert 0 < len(frames) < 90
    assert "stopped at frame" in s.decode_error


@pytest.mark.slow
def test_complete_file_has_no_decode_error(make_video):
    clip = make_video("ok.mp4", n=8, width=160, height=120)
    assert vidpose.estimate(clip, max_people=1)["decode_error"] is None
    with vidpose.stream(clip, max_people=1) as s:
        assert len(list(s)) == 8
    assert s.decode_error is None


def test_stream_fails_at_the_call_on_a_missing_file(tmp_path):
    with pytest.raises(vidpose.InputError, match="nope.mp4"):
        vidpose.stream(tmp_path / "nope.mp4")
