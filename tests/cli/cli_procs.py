"""Helpers for driving ``vidpose`` as a user does: a real process, real files, real signals."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest


def start(*args, file_size_limit: int | None = None, **kw) -> subprocess.Popen:
    """Start ``python -m vidpose.cli ARGS`` with default signal handling (and optionally RLIMIT_FSIZE)."""

    def child():
        # A test runner started in the background may ignore SIGINT; vidpose keeps an
        # ignored SIGINT ignored (as Python does), so give the child the default.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if file_size_limit is not None:
            # Writing past this size fails with EFBIG ("File too large"): a full disk, for one process.
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "vidpose.cli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=child, env=env, **kw)


def vidpose(*args, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    p = start(*args, **kw)
    out, err = p.communicate(timeout=timeout)
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def wait_for(predicate, proc: subprocess.Popen, timeout: float = 300, what: str = "") -> None:
    """Poll until ``predicate()`` is true; fail if the process ends first or time runs out."""
    end = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"vidpose ended (rc {proc.returncode}) before {what}:\n{err}")
        if time.monotonic() > end:
            proc.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def files_under(folder: Path) -> list[str]:
    """Every file and folder under ``folder`` (relative paths), hidden ones included."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def noisy_video(path: Path, n: int, width: int = 320, height: int = 240, fps: int = 30) -> Path:
    """An H.264 clip of moving squares over noise (noise makes the encoded files large)."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        s.time_base = s.codec_context.time_base = Fraction(1, fps)
        for i in range(n):
            img = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            x = (4 * i) % (width - 40)
            img[40:80, x:x + 40] = 255
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts = i
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path
