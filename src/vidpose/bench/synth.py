"""Benchmark suite ``synth``: how real the synthetic people look to a real-trained model, and how fast they are made.

Rows ``renderer-2``, ``renderer-3`` (synth-single test clips) and
``renderer-2@crowd``, ``renderer-3@crowd`` (synth-crowd test clips). Each row
generates its clips into a temporary folder (everything a real run does:
rendering, JPEG encoding, annotation writing) and reports:

* ``frames_per_s``: generated frames per wall second, and ``cpu_frames_per_s``
  per CPU second of this process. The generator runs in this one process; the
  bench limits OpenCV to one thread and Mesa's llvmpipe rasteriser
  (renderer 3) to ``LP_NUM_THREADS`` = :data:`GL_THREADS` threads, and numpy's
  BLAS to what ``OMP_NUM_THREADS`` allows; ``threads`` records the limits used.
  Renderer 3 uses more than one thread, so its CPU rate is below its wall rate
  on an idle machine. ``people`` is the mean number of people per clip;
  ``renderer3_4people_frames_per_s`` and ``renderer3_4people_cpu_frames_per_s``
  (beside the rows) time one renderer-3 clip with exactly 4 people at 640x360
  (the first such test clip). The process never waits on anything but its own
  threads and buffered file writes, so on an idle machine with at least
  ``LP_NUM_THREADS`` cores its wall rate should be at least its CPU rate (not measured).
* the realism proxy: BlazePose (full, trained on real people only) run on the
  frames with the pipeline's per-frame path (``refine="none"``, ``lift="none"``,
  ``max_people=8``), scored against the clips' ground truth with
  :func:`vidpose.metrics.evaluate.evaluate`: ``pck@0.2``, ``oks_ap`` and
  ``person_recall`` (the tracking ``recall``: ground-truth people matched at
  OKS >= 0.5), each the mean over the row's clips; ``person_recall_large``:
  the same recall over the ``large_people`` ground-truth people whose box is at
  least :data:`LARGE` px tall (pooled over the clips), since BlazePose rarely
  finds people much smaller than that.

``run(backgrounds="photo")`` (or ``"mixed"``) makes the same rows on clips with photograph
backgrounds (``vidpose synth --backgrounds``; each row then records ``backgrounds``); the
suite itself (``vidpose bench synth``) keeps the default procedural backgrounds.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

GL_THREADS = 2
LARGE = 200  # px: box height of the people counted in person_recall_large
ROWS = (("renderer-2", 2, "synth-single"), ("renderer-3", 3, "synth-single"),
        ("renderer-2@crowd", 2, "synth-crowd"), ("renderer-3@crowd", 3, "synth-crowd"))


# (clips, frames) per split: every test clip of each split (24 synth-single, 12 synth-crowd), with --quick
# too. The proxy moves a lot from clip to clip: on the first 3 synth-crowd test clips (the sample until
# 2026-12-03) renderer 3's OKS AP was 0.499, on all 12 it is 0.41 (docs/synthetic.md). About 5 minutes.
PLAN: dict[str, tuple[int, int]] = {"synth-single": (24, 64), "synth-crowd": (12, 48)}


def _score(clip: Path, threads: int) -> dict:
    from vidpose.api import estimate
    from vidpose.metrics.evaluate import evaluate

    poses = estimate(str(clip / "frames"), max_people=8, refine="none", lift="none", overlay=False, csv=False,
                     fps=30.0, threads=threads)
    poses.pop("decode_error", None)
    pred = clip / "poses.json"
    pred.write_text(json.dumps(poses))
    m = evaluate(clip / "annotations.json", pred, ["pck@0.2", "oks_ap", "recall"])
    out = {"pck@0.2": float(m["pck@0.2"]), "oks_ap": float(m["AP"]), "person_recall": float(m["recall"])}
    # Recall of the people at least LARGE px tall: BlazePose's working range (small people are rarely found).
    ann = json.loads((clip / "annotations.json").read_text())
    n = 0
    for fr in ann["frames"]:
        fr["persons"] = [p for p in fr["persons"] if p["bbox"][3] - p["bbox"][1] >= LARGE]
        n += len(fr["persons"])
    out["large_people"] = n
    if n:
        big = clip / "annotations_large.json"
        big.write_text(json.dumps(ann))
        out["person_recall_large"] = float(evaluate(big, pred, ["recall"])["recall"])
    return out


def run(quick: bool = False, renderers: tuple[int, ...] = (2, 3), score: bool = True,
        backgrounds: str = "procedural", plan: dict[str, tuple[int, int]] | None = None) -> dict:
    """The suite. ``quick`` runs the same clips as the full run (:data:`PLAN`); ``plan`` overrides
    the (clips, frames) per split (the tests use a few short clips)."""
    os.environ.setdefault("LP_NUM_THREADS", str(GL_THREADS))  # read by Mesa when the GL context is made
    import cv2

    from vidpose.data import mocap
    from vidpose.data.synth import SPLITS, generate_split

    cv2.setNumThreads(1)
    # Load the mocap clips (and the renderer-3 body bank) first so one-off work is not timed.
    mocap.load_rig()
    for n in mocap.CLIP_NAMES:
        mocap.load_clip(n)
    if 3 in renderers:
        from vidpose.data.synth import mesh

        mesh.load_bank()
    threads = (f"opencv 1, llvmpipe {os.environ['LP_NUM_THREADS']}, "
               f"blas {os.environ.get('OMP_NUM_THREADS', 'default')}")
    plan = dict(plan or PLAN)
    rows = []
    for name, renderer, split in ROWS:
        if renderer not in renderers:
            continue
        clips, frames = plan[split]
        cfg = SPLITS[split]
        with tempfile.TemporaryDirectory(prefix="vidpose-bench-synth-") as td:
            w0, c0 = time.perf_counter(), time.process_time()
            stats = generate_split(split, td, subset="test", clips=clips, frames=frames, seed=1234, renderer=renderer,
                                   backgrounds=backgrounds)
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            n = sum(s.frames for s in stats)
            row = {"name": name, "renderer": renderer, "split": split, "frames_per_s": n / wall,
                   "cpu_frames_per_s": n / max(cpu, 1e-9), "width": cfg.width, "height": cfg.height,
                   "clips": clips, "frames": n, "occluded": stats[0].occluded_fraction, "threads": threads}
            if backgrounds != "procedural":
                row["backgrounds"] = backgrounds
            people = [len(json.loads((Path(td) / split / "test" / f"test_{k:05d}" / "annotations.json").read_text())["motions"])
                      for k in range(clips)]
            row["people"] = sum(people) / len(people)
            if score:
                per = [_score(Path(td) / split / "test" / f"test_{k:05d}", 2) for k in range(clips)]
                for key in ("pck@0.2", "oks_ap", "person_recall"):
                    row[key] = sum(p[key] for p in per) / len(per)
                # people >= LARGE px tall: recall pooled over the clips (weighted by their counts)
                n = sum(p["large_people"] for p in per)
                row["large_people"] = n
                row["person_recall_large"] = (sum(p["person_recall_large"] * p["large_people"] for p in per if p["large_people"]) / n
                                              if n else None)
        rows.append(row)
    out = {"suite": "synth", "rows": rows}
    if 3 in renderers:
        out["renderer3_4people_frames_per_s"], out["renderer3_4people_cpu_frames_per_s"] = \
            _four_people_speed(frames=plan["synth-crowd"][1])
    return out


def _four_people_speed(frames: int, seed: int = 1234) -> tuple[float, float]:
    """Renderer-3 frames per wall second and per CPU second (all threads) on the first
    synth-crowd test clip with exactly 4 people."""
    import numpy as np

    from vidpose.data.synth import SPLITS
    from vidpose.data.synth.generate import clip_seed, generate_clip

    cfg = SPLITS["synth-crowd"]
    for k in range(1000):
        # the number of people is the clip's first random draw (see generate.build_scene)
        if int(np.random.default_rng(clip_seed(seed, cfg.name, "test", k)).integers(3, 9)) == 4:
            break
    with tempfile.TemporaryDirectory(prefix="vidpose-bench-synth-") as td:
        w0, c0 = time.perf_counter(), time.process_time()
        generate_clip(cfg, "test", k, seed, Path(td), frames, renderer=3)
        return frames / (time.perf_counter() - w0), frames / max(time.process_time() - c0, 1e-9)
