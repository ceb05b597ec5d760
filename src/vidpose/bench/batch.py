"""Benchmark suite ``batch``: ``vidpose batch`` against ``vidpose run`` one video after another.

Both rows process the same clips (cut from the sample clip: two real people,
480x270, :data:`FRAMES` frames each; ``--model lite --no-overlay --no-report``
with the default refinement and lift) as a user would, each as real processes:

* ``sequential``: one ``vidpose run`` process per clip, one after the other
  (each with the default ``--threads 2``), so every clip pays Python's start-up
  and the model loading;
* ``batch``: one ``vidpose batch`` process over all clips with ``--workers``
  = the machine's cores (each video ``--threads 1``), which pays Ray's start-up
  once (``ray_start_s``, parsed from its "Ray up in" line) and loads the models
  once per video in a Ray worker.

``seconds`` is the wall time of the whole row, ``videos_per_min`` the clips per
wall minute, ``ratio`` the row's ``videos_per_min`` over the sequential row's.
``per_video_overhead_s`` (batch row) is what Ray adds per video beyond the
sequential per-video time: (batch seconds − ray_start_s) × workers / videos −
the mean worker-side seconds of a video (batch.csv ``seconds``). Rows are measured
in the same process run, one after the other, on whatever load the machine
has (``load_1min`` before and after).
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FRAMES = 45
QUICK = (4, 20)  # clips, frames per clip with --quick
FULL = (8, FRAMES)
RUN_OPTIONS = ["--model", "lite", "--no-overlay", "--no-report", "--quiet"]


def make_clips(folder: Path, n: int, frames: int, size: tuple[int, int] = (480, 270)) -> list[Path]:
    """``n`` clips of the sample clip's first ``frames`` frames, shrunk to ``size``."""
    import av
    import cv2

    from vidpose import store

    images = []
    with av.open(str(store.path("sample-sports2d", quiet=True))) as src:
        for f in src.decode(video=0):
            images.append(cv2.resize(f.to_ndarray(format="rgb24"), size, interpolation=cv2.INTER_AREA))
            if len(images) == frames:
                break
    out = []
    for k in range(n):
        path = folder / f"clip{k}.mp4"
        with av.open(str(path), "w") as c:
            s = c.add_stream("libx264", rate=30)
            s.width, s.height, s.pix_fmt = size[0], size[1], "yuv420p"
            for im in images:
                for p in s.encode(av.VideoFrame.from_ndarray(im, format="rgb24")):
                    c.mux(p)
            for p in s.encode():
                c.mux(p)
        out.append(path)
    return out


def _vidpose(*args: str) -> subprocess.CompletedProcess:
    p = subprocess.run([sys.executable, "-m", "vidpose.cli", *args], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"vidpose {' '.join(args[:2])} failed ({p.returncode}): {p.stderr.strip()[-500:]}")
    return p


def run(quick: bool = False) -> dict:
    from vidpose.batch import import_ray

    import_ray()  # the batch extra is needed: say so before anything runs
    n, frames = QUICK if quick else FULL
    workers = os.cpu_count() or 1
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        (root / "clips_dir").mkdir()
        clips = make_clips(root / "clips_dir", n, frames)
        t0 = time.perf_counter()
        for c in clips:
            _vidpose("run", str(c), "--out", str(root / "seq" / c.stem), *RUN_OPTIONS)
        seq = time.perf_counter() - t0
        t0 = time.perf_counter()
        p = _vidpose("batch", str(root / "clips_dir"), "--out", str(root / "batch"), "--workers", str(workers),
                     *RUN_OPTIONS[:-1])
        bat = time.perf_counter() - t0
        with open(root / "batch" / "batch.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        if [r["status"] for r in rows] != ["done"] * n:
            raise RuntimeError(f"vidpose batch did not finish every clip: {rows}")
        m = re.search(r"Ray up in ([0-9.]+) s", p.stderr)
        ray_start = float(m.group(1)) if m else None
        worker_mean = sum(float(r["seconds"]) for r in rows) / n
    seq_vpm, bat_vpm = n / seq * 60, n / bat * 60
    overhead = ((bat - (ray_start or 0)) * workers / n - worker_mean) if ray_start is not None else None
    return {
        "suite": "batch",
        "rows": [
            {"name": "sequential", "seconds": seq, "videos_per_min": seq_vpm, "ratio": 1.0},
            {"name": "batch", "seconds": bat, "videos_per_min": bat_vpm, "ratio": bat_vpm / seq_vpm,
             "ray_start_s": ray_start, "per_video_overhead_s": overhead, "workers": workers},
        ],
        "videos": n,
        "frames_per_video": frames,
        "sequential_s_per_video": seq / n,
        "batch_worker_s_per_video": worker_mean,
        "load_1min": f"{load0:.1f} -> {os.getloadavg()[0]:.1f}",
    }
