"""Benchmark suite ``synth``: generation speed of each synthetic split.

Each row generates clips of one split into a temporary folder (everything a
real run does: rendering, JPEG encoding, annotation writing) and reports
frames per second of wall time and of this process's CPU time (the generator
is single-threaded, so ``cpu_fps`` is the one-core speed even on a busy machine).
"""

from __future__ import annotations

import tempfile
import time


def run(quick: bool = False) -> dict:
    from vidpose.data import mocap
    from vidpose.data.synth import SPLITS, generate_split

    # Load the mocap clips first so the one-off download/parse is not timed.
    mocap.load_rig()
    for n in mocap.CLIP_NAMES:
        mocap.load_clip(n)
    plan = {"synth-single": (2, 32), "synth-crowd": (1, 24), "synth-3d": (1, 81)} if quick else \
        {"synth-single": (6, 64), "synth-crowd": (3, 48), "synth-3d": (4, 243)}
    rows = []
    for split, (clips, frames) in plan.items():
        cfg = SPLITS[split]
        with tempfile.TemporaryDirectory(prefix="vidpose-bench-synth-") as td:
            w0, c0 = time.perf_counter(), time.process_time()
            stats = generate_split(split, td, subset="train", clips=clips, frames=frames, seed=1234)
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        n = sum(s.frames for s in stats)
        rows.append({"name": split, "fps": n / wall, "cpu_fps": n / max(cpu, 1e-9), "width": cfg.width,
                     "height": cfg.height, "frames": n, "images": cfg.images,
                     "occluded": stats[0].occluded_fraction})
    return {"suite": "synth", "rows": rows}
