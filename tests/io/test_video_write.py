"""VideoWriter: round trip through PyAV, odd sizes, variable frame rate, atomic failure."""

from __future__ import annotations

import av
import numpy as np
import pytest

from vidpose.errors import InputError
from vidpose.io.video import VideoWriter, _pick_codec, open_source


def _read_back(path):
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(s)]
        return s.codec_context.name, s.codec_context.pix_fmt, frames


def test_round_trip(tmp_path, frame_factory):
    path = tmp_path / "out.mp4"
    with VideoWriter(path, 30, 64, 48) as w:
        for i in range(30):
            w.write(frame_factory(i))
        assert w.frames_written == 30
    codec, pix_fmt, frames = _read_back(path)
    assert (codec, pix_fmt) == ("h264", "yuv420p")
    assert len(frames) == 30 and all(f.shape == (48, 64, 3) for f in frames)
    assert np.abs(frames[7].astype(int) - frame_factory(7)).mean() < 4
    with open_source(path) as src:
        np.testing.assert_allclose([f.time for f in src], np.arange(30) / 30, atol=1e-3)
    # Only the target remains: the temporary file was renamed, not copied.
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_fast_colour_matches_the_encoders_own_conversion(tmp_path):
    """OpenCV's RGB -> YUV 4:2:0 (the overlay's) decodes to the same colours as swscale's, odd size included."""
    y, x = np.mgrid[0:47, 0:65]
    smooth = [np.stack([x * 3 + i * 4, y * 5, 255 - (x + y) * 2], -1).astype(np.uint8) for i in range(6)]
    decoded = {}
    for fast in (False, True):
        path = tmp_path / f"fast{fast}.mp4"
        with VideoWriter(path, 30, 65, 47, crf=0, fast_colour=fast) as w:
            for im in smooth:
                w.write(im)
        _, pix_fmt, frames = _read_back(path)
        assert pix_fmt == "yuv420p" and len(frames) == 6 and frames[0].shape == (48, 66, 3)
        decoded[fast] = np.stack(frames).astype(int)[:, :47, :65]
        # Both come back close to what was written (lossless encode: only the colour conversion differs).
        assert np.abs(decoded[fast] - np.stack(smooth)).mean() < 3
    # OpenCV's chroma sits about one level off swscale's: invisible in an overlay.
    diff = np.abs(decoded[True] - decoded[False])
    assert diff.mean() < 2.5 and np.percentile(diff, 99) <= 8, (diff.mean(), np.percentile(diff, 99))


def test_odd_size_is_padded_by_one_pixel(tmp_path):
    path = tmp_path / "odd.mp4"
    img = np.full((47, 65, 3), 200, np.uint8)
    with VideoWriter(path, 25, 65, 47) as w:
        for _ in range(5):
            w.write(img)
    _, _, frames = _read_back(path)
    assert len(frames) == 5 and frames[0].shape == (48, 66, 3)
    # Padding repeats the edge, so the extra row/column keeps the picture's colour.
    assert abs(int(frames[0][47, 65, 0]) - 200) < 8


def test_variable_frame_rate_round_trip(tmp_path):
    times = [0.0, 0.04, 0.05, 0.3, 0.31, 0.9]
    path = tmp_path / "vfr.mp4"
    with VideoWriter(path, 30, 32, 32) as w:
        for t in times:
            w.write(np.zeros((32, 32, 3), np.uint8), time=t)
    with open_source(path) as src:
        np.testing.assert_allclose([f.time for f in src], times, atol=1e-3)


def test_mpeg4_codec(tmp_path, frame_factory):
    path = tmp_path / "m4.mp4"
    with VideoWriter(path, 30, 64, 48, codec="mpeg4") as w:
        for i in range(10):
            w.write(frame_factory(i))
    codec, _, frames = _read_back(path)
    assert codec == "mpeg4" and len(frames) == 10


def test_codec_choice():
    assert _pick_codec("libx264") == "libx264"  # present in the installed PyAV wheels
    with pytest.raises(InputError, match="not available"):
        _pick_codec("no-such-codec")


def test_exception_inside_with_leaves_nothing(tmp_path, frame_factory):
    path = tmp_path / "fail.mp4"
    with pytest.raises(RuntimeError, match="boom"):
        with VideoWriter(path, 30, 64, 48) as w:
            for i in range(10):
                w.write(frame_factory(i))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_failure_keeps_previous_file(tmp_path, frame_factory):
    path = tmp_path / "keep.mp4"
    path.write_bytes(b"previous content")
    with pytest.raises(InputError, match=r"\(48, 64, 3\) uint8"):
        with VideoWriter(path, 30, 64, 48) as w:
            w.write(frame_factory(0))
            w.write(np.zeros((48, 64), np.uint8))  # wrong shape
    assert path.read_bytes() == b"previous content"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.mp4"]


def test_times_must_increase(tmp_path):
    path = tmp_path / "t.mp4"
    w = VideoWriter(path, 30, 16, 16)
    w.write(np.zeros((16, 16, 3), np.uint8), time=0.5)
    with pytest.raises(InputError, match="must increase") as e:
        w.write(np.zeros((16, 16, 3), np.uint8), time=0.5)
    assert str(path) in str(e.value)
    w.abort()
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_no_frames_no_file(tmp_path):
    path = tmp_path / "none.mp4"
    with pytest.raises(InputError, match="no frames"):
        with VideoWriter(path, 30, 16, 16):
            pass
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [(0, 16, 16), (30, 0, 16), (30, 16, -2)])
def test_bad_parameters(tmp_path, args):
    with pytest.raises(InputError, match="out.mp4"):
        VideoWriter(tmp_path / "out.mp4", *args)
    assert list(tmp_path.iterdir()) == []


def test_missing_output_folder(tmp_path):
    with pytest.raises(InputError, match="folder does not exist"):
        VideoWriter(tmp_path / "no" / "such" / "out.mp4", 30, 16, 16)
