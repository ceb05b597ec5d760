"""Bad inputs: each raises InputError naming the input and the fault, or degrades as documented."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from vidpose.errors import InputError
from vidpose.io.video import open_source


def test_missing_path(tmp_path):
    path = tmp_path / "nope.mp4"
    with pytest.raises(InputError, match="no such file") as e:
        open_source(path)
    assert str(path) in str(e.value)


def test_text_file_named_mp4(tmp_path):
    path = tmp_path / "fake.mp4"
    path.write_text("this is not a video\n" * 20)
    with pytest.raises(InputError, match="not a readable video") as e:
        open_source(path)
    assert str(path) in str(e.value)


def test_container_without_video_stream(tmp_path):
    path = tmp_path / "audio.m4a"
    with av.open(str(path), "w") as c:
        s = c.add_stream("aac", rate=8000)
        f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        f.sample_rate, f.pts = 8000, 0
        for p in [*s.encode(f), *s.encode()]:
            c.mux(p)
    with pytest.raises(InputError, match="no video stream") as e:
        open_source(path)
    assert str(path) in str(e.value)


def test_zero_frame_video(make_video):
    # AVI keeps its video stream header with no frames (MP4 drops an empty track).
    path = make_video("empty.avi", n=0, codec="mpeg4", start=True)
    with pytest.raises(InputError, match="contains no decodable frames") as e:
        open_source(path)
    assert str(path) in str(e.value)


def _cut_in_half(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize("name, kwargs", [("cut.mp4", {"faststart": True}), ("cut.mkv", {})])
def test_truncated_video_decodes_what_it_can(make_video, name, kwargs):
    path = _cut_in_half(make_video(name, n=300, **kwargs))
    src = open_source(path)
    with pytest.warns(RuntimeWarning, match="stopped at frame"):
        n = sum(1 for _ in src)
    src.close()
    assert 0 < n < 300
    assert src.decode_error is not None and src.decode_error.startswith(f"stopped at frame {n} (t=")


def test_truncated_mp4_without_index_is_unreadable(make_video):
    # moov (the index) is at the end by default: half a file has no index at all.
    path = _cut_in_half(make_video("cut.mp4", n=300))
    with pytest.raises(InputError, match="not a readable video") as e:
        open_source(path)
    assert str(path) in str(e.value)


def test_corrupted_middle_still_yields_frames(make_video):
    # Overwrite the second half with garbage: decoding must not crash, and the
    # frames before the damage come out.
    path = make_video("bad.mkv", n=200)
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(0)
    half = len(data) // 2
    data[half:] = rng.integers(0, 256, len(data) - half, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    with pytest.warns(RuntimeWarning):
        with open_source(path) as src:
            n = sum(1 for _ in src)
    assert 0 < n < 200 and src.decode_error


def test_empty_image_folder(tmp_path):
    (tmp_path / "readme.txt").write_text("no images here")
    with pytest.raises(InputError, match="no images") as e:
        open_source(tmp_path)
    assert str(tmp_path) in str(e.value)


def test_unreadable_image_in_folder(tmp_path):
    cv2.imwrite(str(tmp_path / "a1.png"), np.zeros((8, 8, 3), np.uint8))
    bad = tmp_path / "a2.png"
    bad.write_bytes(b"\x89PNG broken")
    src = open_source(tmp_path)
    with pytest.raises(InputError, match="not a readable image") as e:
        list(src)
    assert str(bad) in str(e.value)


def test_images_of_different_sizes(tmp_path):
    cv2.imwrite(str(tmp_path / "1.png"), np.zeros((8, 8, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "2.png"), np.zeros((9, 8, 3), np.uint8))
    with pytest.raises(InputError, match="all must have one size") as e:
        list(open_source(tmp_path))
    assert "2.png" in str(e.value)


@pytest.mark.parametrize("fps", [0, -5, float("nan"), "fast"])
def test_bad_fps(tmp_path, fps):
    cv2.imwrite(str(tmp_path / "1.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(InputError, match="fps"):
        open_source(tmp_path, fps=fps)


def test_missing_webcam_is_an_input_error():
    # A digit string that is not a path means a webcam index; none is attached here.
    with pytest.raises(InputError, match="webcam 97"):
        open_source("97")
