"""Decoded frames carry the decoder's own luma plane (``Frame.gray``) for 8-bit YUV video, upright
and the size of ``image``; sources without one (image folders) give None."""

from __future__ import annotations

import cv2
import numpy as np

from vidpose.io.video import VideoWriter, open_source


def test_yuv_video_frames_carry_their_luma(tmp_path, frame_factory):
    path = tmp_path / "clip.mp4"
    with VideoWriter(path, 30, 66, 48) as w:  # width 66: the Y plane's rows are padded
        for i in range(5):
            w.write(np.ascontiguousarray(np.pad(frame_factory(i), ((0, 0), (0, 2), (0, 0)), mode="edge")))
    with open_source(path) as src:
        frames = list(src)
    assert len(frames) == 5
    for f in frames:
        assert f.gray is not None and f.gray.shape == f.image.shape[:2] and f.gray.dtype == np.uint8
        assert f.gray.flags.c_contiguous
        # limited-range Y (16..235) against the full-range grey of the decoded RGB
        grey = cv2.cvtColor(f.image, cv2.COLOR_RGB2GRAY).astype(np.float64)
        assert np.abs((f.gray - 16.0) * 255.0 / 219.0 - grey).mean() < 3.0


def test_image_folders_have_no_luma(tmp_path, frame_factory):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), frame_factory(i)[..., ::-1])
    with open_source(tmp_path) as src:
        assert all(f.gray is None for f in src)
