"""Shared fixtures: small videos and images generated with PyAV/OpenCV."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest


def square_frame(i: int, width: int = 64, height: int = 48) -> np.ndarray:
    """(H, W, 3) uint8 RGB: dark background, a white 10x10 square moving right with i."""
    img = np.full((height, width, 3), 20, np.uint8)
    x = (2 * i) % max(1, width - 10)
    img[10:20, x : x + 10] = 255
    return img


def _write_video(path: Path, n: int = 30, width: int = 64, height: int = 48, fps: int = 30,
                 times: list[float] | None = None, rotation: int | None = None,
                 codec: str = "libx264", faststart: bool = False, start: bool = False) -> Path:
    """Encode ``n`` square frames (or one per ``times`` entry, in seconds) with raw PyAV."""
    options = {"movflags": "+faststart"} if faststart else {}
    tb = Fraction(1, 30000)
    with av.open(str(path), "w", options=options) as c:
        s = c.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        s.time_base = s.codec_context.time_base = tb
        if rotation is not None:
            s.set_display_rotation(rotation)  # counter-clockwise, as FFmpeg stores it
        if start:
            c.start_encoding()  # write the header even when no frame follows
        count = len(times) if times is not None else n
        for i in range(count):
            f = av.VideoFrame.from_ndarray(square_frame(i, width, height), format="rgb24")
            t = times[i] if times is not None else i / fps
            f.pts, f.time_base = round(t / tb), tb
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


@pytest.fixture
def make_video(tmp_path):
    """Factory: make_video(name, **kwargs) -> path of a generated video in tmp_path."""

    def make(name: str = "clip.mp4", **kwargs) -> Path:
        return _write_video(tmp_path / name, **kwargs)

    return make


@pytest.fixture
def frame_factory():
    return square_frame


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory) -> Path:
    """A real (rendered) synth-single split: 2 train clips and 1 val clip of 8 JPEG frames.

    Renderer 2 (capsule bodies): quick, and needs neither anny nor EGL; renderer 3 has its own tests."""
    from vidpose.data.synth.generate import generate_split

    out = tmp_path_factory.mktemp("synth")
    generate_split("synth-single", out, "train", clips=2, frames=8, seed=0, renderer=2)
    generate_split("synth-single", out, "val", clips=1, frames=8, seed=0, renderer=2)
    return out / "synth-single"
