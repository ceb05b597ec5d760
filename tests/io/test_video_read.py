"""Decoding: video files, variable frame rate, rotation, streaming memory, image sources."""

from __future__ import annotations

import tracemalloc

import cv2
import numpy as np
import pytest

from vidpose.io.video import Frame, open_source, rotate_upright, rotation_from_display


def _square_x(image: np.ndarray) -> int:
    """Left column of the bright square (rows 10..19)."""
    cols = np.nonzero(image[15, :, 0] > 128)[0]
    return int(cols[0])


def test_decode_file_frames_times_size(make_video, frame_factory):
    path = make_video("clip.mp4", n=30, width=64, height=48, fps=30)
    with open_source(path) as src:
        info = src.info
        assert (info.width, info.height, info.num_frames, info.rotation) == (64, 48, 30, 0)
        assert info.fps == pytest.approx(30.0)
        assert info.codec == "h264" and info.path == str(path)
        frames = list(src)
    assert [f.index for f in frames] == list(range(30))
    assert all(isinstance(f, Frame) for f in frames)
    np.testing.assert_allclose([f.time for f in frames], np.arange(30) / 30, atol=1e-3)
    for f in frames:
        assert f.image.shape == (48, 64, 3) and f.image.dtype == np.uint8
    # The square really moves: its position follows the generator (2 px/frame).
    assert [_square_x(frames[i].image) for i in (0, 5, 20)] == pytest.approx([0, 10, 40], abs=1)
    # RGB round trip of a grey/white image: channels agree (no BGR mix-up visible on grey).
    assert np.abs(frames[3].image.astype(int) - frame_factory(3)).mean() < 4
    assert src.decode_error is None


def test_fps_given_for_a_video_that_declares_its_own_is_not_used_and_says_so(make_video):
    path = make_video("clip.mp4", n=3, width=64, height=48, fps=30)
    with pytest.warns(UserWarning, match=r"clip.mp4: --fps 60 is not used: the video declares 30 frames/s"):
        with open_source(path, fps=60) as src:
            assert src.info.fps == pytest.approx(30.0)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same rate, or none given: nothing to say
        with open_source(path, fps=30) as src:
            assert src.info.fps == pytest.approx(30.0)


def test_colour_order_is_rgb(tmp_path):
    import av

    path = tmp_path / "red.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
        red = np.zeros((32, 32, 3), np.uint8)
        red[..., 0] = 220
        for _ in range(3):
            for p in s.encode(av.VideoFrame.from_ndarray(red, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    img = next(iter(open_source(path))).image
    r, g, b = img[16, 16].astype(int)
    assert r > 180 and g < 50 and b < 50


def test_variable_frame_rate_times(make_video):
    times = [0.0, 0.01, 0.1, 0.15, 0.5, 0.52, 1.0, 1.7]
    path = make_video("vfr.mp4", times=times)
    with open_source(path) as src:
        got = [f.time for f in src]
    np.testing.assert_allclose(got, times, atol=1e-3)


def test_reiterating_starts_again(make_video):
    src = open_source(make_video(n=12))
    first = [f.index for f in src]
    second = [f.time for f in src]
    src.close()
    assert first == list(range(12)) and len(second) == 12 and second[0] == 0.0


@pytest.mark.parametrize("ccw, cw", [(90, 270), (-90, 90), (180, 180)])
def test_rotation_metadata_is_applied(make_video, frame_factory, ccw, cw):
    path = make_video("rot.mp4", n=3, width=64, height=48, rotation=ccw)
    with open_source(path) as src:
        assert src.info.rotation == cw
        img = next(iter(src)).image
    expected = np.rot90(frame_factory(0), k=ccw // 90)  # FFmpeg's angle is counter-clockwise
    assert (src.info.height, src.info.width) == expected.shape[:2] == img.shape[:2]
    assert np.abs(img.astype(int) - expected).mean() < 4


def test_rotation_helpers():
    assert rotation_from_display(90.0) == 270
    assert rotation_from_display(-90.0) == 90
    assert rotation_from_display(None, "90") == 90  # legacy clockwise "rotate" tag
    assert rotation_from_display(0, None) == 0
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    turned = rotate_upright(img, 90)
    assert turned.shape == (3, 2, 3) and turned.flags.c_contiguous
    assert (turned[0, -1] == img[0, 0]).all()  # clockwise: top-left goes to top-right
    assert rotate_upright(img, 0) is img


def test_streaming_memory_does_not_grow(make_video):
    path = make_video("long.mp4", n=600, width=64, height=48)
    src = open_source(path)
    tracemalloc.start()
    try:
        n = 0
        for f in src:
            n += 1
            if n == 100:
                peak_100 = tracemalloc.get_traced_memory()[1]
        peak_all = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        src.close()
    assert n == 600
    # Keeping frames would add 500 * 9 KiB = 4.5 MiB; allow small noise only.
    assert peak_all - peak_100 < 512 * 1024, (peak_100, peak_all)


def _write_png(path, value: int, size=(20, 16)) -> None:
    img = np.full((size[1], size[0], 3), value, np.uint8)
    assert cv2.imwrite(str(path), img)


def test_image_folder_natural_order(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, name in enumerate(["img1.png", "img2.jpg", "img10.png", "IMG11.PNG"]):
        _write_png(folder / name, 10 + 50 * i)
    (folder / "notes.txt").write_text("not an image")
    with open_source(folder) as src:
        assert (src.info.width, src.info.height, src.info.num_frames, src.info.fps) == (20, 16, 4, 30.0)
        frames = list(src)
    means = [float(f.image.mean()) for f in frames]
    assert means == pytest.approx([10, 60, 110, 160], abs=3)  # img2 before img10
    assert [f.time for f in frames] == pytest.approx([0, 1 / 30, 2 / 30, 3 / 30])
    src10 = open_source(folder, fps=10)
    assert [f.time for f in src10] == pytest.approx([0, 0.1, 0.2, 0.3])


def test_single_image_is_rgb(tmp_path):
    bgr = np.zeros((16, 20, 3), np.uint8)
    bgr[..., 2] = 200  # red in OpenCV's BGR order
    path = tmp_path / "one.png"
    cv2.imwrite(str(path), bgr)
    frames = list(open_source(path))
    assert len(frames) == 1 and frames[0].time == 0.0
    assert frames[0].image.shape == (16, 20, 3)
    assert tuple(frames[0].image[0, 0]) == (200, 0, 0)
