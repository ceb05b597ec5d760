"""``vidpose bench pipeline``: vidpose against MediaPipe legacy Pose, timed the same way on both sides.

Every row is one kind of work, measured in a fresh subprocess (so its peak
memory is its own) in the same way on both sides:

* **loading** (models, graph) is timed on its own (``load_seconds``) and not
  in ``fps``;
* **warm-up**: the first ``WARMUP`` frames of the clip are processed before the
  timed pass (vidpose's estimator is then reset; MediaPipe's graph simply goes
  on, and re-detects when the clip restarts);
* **repeats are interleaved**: repeat 1 runs every row, then repeat 2 every row
  (in reverse order), ...; a row reports the median fps over the repeats and
  the min-max (``fps_min``/``fps_max``), and each ratio the median (and
  min-max) of the per-repeat ratios, so both sides of a ratio share each
  repeat's machine load.

Rows (clip: ``sample-sports2d``, 1768x994, 230 frames; the man alone until
about frame 75, then a woman walks through):

``*-decode``: decoding included, each side decoding as its users do —
vidpose through :class:`vidpose.pipeline.PoseRun` (what ``vidpose.stream``
drives: decoding on its own thread, estimate -> track -> lift -> convert,
``frame_dict`` per frame), MediaPipe in a PyAV decode loop
(``to_ndarray(format="rgb24")`` then ``Pose.process``; PyAV threaded decoding
on both sides; ``--refine none`` except ``vidpose-full-1p-decode-refine-default``,
which runs the stages ``--refine auto`` picks). ``*-frames``: the same frames
decoded beforehand, estimator
only (vidpose's BlazePose backend; MediaPipe's ``Pose.process``).
``vidpose-full-crowd-Np-frames``: N = 1, 2, 4, 8 people, see :func:`crowd_frames`.
``vidpose-run-default-{overlay,no-overlay}``: ``vidpose run`` with the
defaults (all outputs, up to 4 people) with and without ``overlay.mp4``.
``vidpose-full-1p-decode-short``: the first 58 frames, for peak memory
against video length.

MediaPipe rows run under ``VIDPOSE_REFERENCE_PYTHON`` when it is set (an
interpreter with ``mediapipe==0.10.14`` and PyAV), else under this
interpreter. When mediapipe is not installed there, its rows say
``"not installed"``; when it is installed, any failure fails the bench.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WARMUP = 10
THREADS = 2  # vidpose's default (RunConfig.threads): LiteRT threads per interpreter
CROWD = (1, 2, 4, 8)
CROWD_GRID = {1: (1, 1), 2: (2, 1), 4: (2, 2), 8: (4, 2)}  # columns, rows
CROWD_TILE = (400, 900, 0, 540)  # x0, x1, y0, y1: the man's window in frames 1-70 of the sample clip
CROWD_OFFSET = 9  # tile k shows frame (t + 9k) mod 70 + 1: every person in a different pose
MP_INSTALL_HINT = ('pip install "mediapipe==0.10.14" (the reference extra), or set VIDPOSE_REFERENCE_PYTHON '
                   "to an interpreter that has it and PyAV")


def _peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 2**20


def plan(quick: bool) -> list[dict]:
    """The rows, in order: one dict per row with ``name`` and what the worker needs."""
    n = 60 if quick else None  # frames of the decode rows (None: the whole clip)
    nf = 30 if quick else 60  # pre-decoded frames (held in memory: 5 MB each)
    nc = 20 if quick else 40  # crowd frames
    nr = 60 if quick else 120  # frames of the vidpose run rows (both people are in frames 75-120)
    rows = [
        {"name": "vidpose-full-1p-decode", "side": "vidpose", "kind": "stream", "model": "full",
         "people": 1, "frames": n,
         "what": "--model full --max-people 1 --refine none (lift blazepose), decoding included"},
        {"name": "vidpose-full-1p-decode-refine-default", "side": "vidpose", "kind": "stream", "model": "full",
         "people": 1, "frames": n, "refine": "auto", "lift": "auto",
         "what": "--model full --max-people 1 with the default --refine auto and --lift auto (the stages they "
                 "pick are in 'refine' and 'lift'), decoding included"},
        {"name": "mediapipe-full-decode", "side": "mediapipe", "kind": "decode", "complexity": 1, "frames": n,
         "what": "MediaPipe legacy Pose model_complexity=1 in a PyAV decode loop"},
        {"name": "vidpose-heavy-1p-decode", "side": "vidpose", "kind": "stream", "model": "heavy",
         "people": 1, "frames": n,
         "what": "--model heavy --max-people 1 --refine none (lift blazepose), decoding included"},
        {"name": "mediapipe-heavy-decode", "side": "mediapipe", "kind": "decode", "complexity": 2, "frames": n,
         "what": "MediaPipe legacy Pose model_complexity=2 in a PyAV decode loop"},
        {"name": "vidpose-full-1p-frames", "side": "vidpose", "kind": "frames", "model": "full", "people": 1,
         "frames": nf, "what": "BlazePose backend (full) alone on frames decoded beforehand"},
        {"name": "mediapipe-full-frames", "side": "mediapipe", "kind": "frames", "complexity": 1, "frames": nf,
         "what": "MediaPipe legacy Pose model_complexity=1 on frames decoded beforehand"},
        {"name": "vidpose-heavy-1p-frames", "side": "vidpose", "kind": "frames", "model": "heavy", "people": 1,
         "frames": nf, "what": "BlazePose backend (heavy) alone on frames decoded beforehand"},
    ]
    rows += [
        {"name": f"vidpose-full-crowd-{k}p-frames", "side": "vidpose", "kind": "crowd", "model": "full",
         "people": k, "frames": nc,
         "what": f"BlazePose backend (full), {k} people composited from the sample clip, tracked"}
        for k in CROWD
    ]
    rows += [
        {"name": "vidpose-run-default-overlay", "side": "vidpose", "kind": "run", "overlay": True, "frames": nr,
         "what": "vidpose run with the defaults (poses.json, poses.csv, overlay.mp4; up to 4 people)"},
        {"name": "vidpose-run-default-no-overlay", "side": "vidpose", "kind": "run", "overlay": False,
         "frames": nr, "what": "vidpose run with the defaults and --no-overlay"},
        {"name": "vidpose-full-1p-decode-short", "side": "vidpose", "kind": "stream", "model": "full",
         "people": 1, "frames": 20 if quick else 58, "what": "vidpose-full-1p-decode on the first 58 frames (20 with --quick): memory vs length"},
    ]
    names = [r["name"] for r in rows]
    assert len(names) == len(set(names)), "row names must be unique"
    return rows


# --- the vidpose side (runs in a subprocess: python -m vidpose.bench.pipeline --worker JSON) ----


def _decoded(clip, limit: int | None) -> list:
    from vidpose.io.video import open_source

    out = []
    with open_source(clip) as src:
        for f in src:
            out.append(f.image)
            if limit is not None and len(out) >= limit:
                break
    return out


def crowd_frames(clip, people: int, frames: int) -> tuple[list, list]:
    """Frames with exactly ``people`` people, composited from the sample clip, and where each person starts.

    Tile k of a ``CROWD_GRID`` grid is the 500x540 window around the man in
    frames 1-70 (where he is alone), showing frame ``(t + 9k) mod 70 + 1``, so
    every copy has its own pose. BlazePose's detector finds at most two people
    in such a composite, so each person's first ROI comes from the detector run
    on its own tile in the first frame (moved to canvas coordinates); from
    there the backend tracks them as in any video (with ``max_people`` = N the
    detector is idle while all N are held). Returns (frames, first ROIs).
    """
    import numpy as np

    from vidpose.backends.blazepose import BlazePoseDetector, roi_from_points

    x0, x1, y0, y1 = CROWD_TILE
    src = [im[y0:y1, x0:x1].copy() for im in _decoded(clip, 71)[1:71]]
    cols, rows = CROWD_GRID[people]
    th, tw = y1 - y0, x1 - x0
    out = []
    for t in range(frames):
        canvas = np.zeros((rows * th, cols * tw, 3), np.uint8)
        for k in range(people):
            r, c = divmod(k, cols)
            canvas[r * th:(r + 1) * th, c * tw:(c + 1) * tw] = src[(t + CROWD_OFFSET * k) % len(src)]
        out.append(canvas)
    det = BlazePoseDetector(quiet=True)
    rois = []
    for k in range(people):
        r, c = divmod(k, cols)
        found = det(src[(CROWD_OFFSET * k) % len(src)])
        if not found:
            raise RuntimeError(f"crowd composite: no person detected in tile {k}")
        shift = np.array([c * tw, r * th], dtype=np.float64)
        rois.append(roi_from_points(found[0].keypoints[0] + shift, found[0].keypoints[1] + shift))
    return out, rois


def _model_times(backend, frames: int) -> dict:
    st = backend.stats
    det_ms = 1000 * st["detector_seconds"] / max(st["detector_calls"], 1)
    lm_ms = 1000 * st["landmark_seconds"] / max(st["landmark_calls"], 1)
    return {
        "detector_invoke_ms": det_ms,
        "landmark_invoke_ms": lm_ms,
        "detector_calls": st["detector_calls"],
        "landmark_calls": st["landmark_calls"],
        "models_ms_per_frame": 1000 * (st["detector_seconds"] + st["landmark_seconds"]) / max(frames, 1),
    }


def _stages_ran(stages) -> dict:
    """The refine stages (a list) and the lift stage a built run will run, from its run.json record."""
    ran = stages[0].info["stages"]["ran"]
    return {"refine": [r["choice"] for r in ran if r["stage"] == "refine"],
            "lift": next(r["choice"] for r in ran if r["stage"] == "lift")}


def _warm(backend, images) -> None:
    for im in images:
        backend(im)
    backend.reset()
    for k in backend.stats:
        backend.stats[k] = 0


def vidpose_measure(a: dict) -> dict:
    """One vidpose row (see :func:`plan`); runs in the worker subprocess."""
    from vidpose import store
    from vidpose.backends.blazepose import BlazePose, BlazePoseConfig
    from vidpose.pipeline import PoseRun, RunConfig, build_stages, frame_dict, run

    clip = store.path("sample-sports2d", quiet=True)
    kind, limit = a["kind"], a.get("frames")
    row: dict = {}
    if kind == "stream":
        cfg = RunConfig(model=a["model"], max_people=a["people"], refine=a.get("refine", "none"),
                        lift=a.get("lift", "blazepose"),
                        overlay=False, quiet=True, max_frames=limit, threads=a.get("threads", THREADS))
        t0 = time.perf_counter()
        stages = build_stages(cfg, quiet=True)
        load = time.perf_counter() - t0
        row.update(_stages_ran(stages))
        backend = stages[0].backend
        _warm(backend, _decoded(clip, WARMUP))
        n = found = people = 0
        t0 = time.perf_counter()
        for fp in PoseRun(clip, cfg, stages=stages):
            d = frame_dict(fp)
            n += 1
            found += bool(d["persons"])
            people += len(d["persons"])
        dt = time.perf_counter() - t0
        row.update(_model_times(backend, n))
    elif kind in ("frames", "crowd"):
        if kind == "frames":
            images, rois = _decoded(clip, limit), None
        else:
            images, rois = crowd_frames(clip, a["people"], limit)
        t0 = time.perf_counter()
        backend = BlazePose(BlazePoseConfig(model=a["model"], max_people=a["people"], threads=a.get("threads", THREADS)),
                            quiet=True)
        load = time.perf_counter() - t0
        _warm(backend, images[:WARMUP])
        if rois is not None:
            backend.track(rois)
        n = found = people = 0
        t0 = time.perf_counter()
        for im in images:
            ps = backend(im)
            n += 1
            found += bool(ps)
            people += len(ps)
        dt = time.perf_counter() - t0
        row.update(_model_times(backend, n))
    elif kind == "run":
        cfg = RunConfig(overlay=a["overlay"], quiet=True, max_frames=limit, threads=THREADS)
        t0 = time.perf_counter()
        stages = build_stages(cfg, quiet=True)
        load = time.perf_counter() - t0
        row.update(_stages_ran(stages))
        _warm(stages[0].backend, _decoded(clip, WARMUP))
        with tempfile.TemporaryDirectory() as td:
            t0 = time.perf_counter()
            report = run(clip, td, cfg, stages=stages)
            dt = time.perf_counter() - t0
        n, found = report["frames"], report["frames_with_person"]
        people = None
        row["stage_ms"] = {k: round(1000 * v / n, 2) for k, v in report["seconds"].items()}
    else:
        raise ValueError(f"unknown row kind {kind!r}")
    row.update({
        "frames": n, "seconds": dt, "load_seconds": load, "frames_with_person": found,
        "people_per_frame": None if people is None else people / max(n, 1), "peak_rss_mb": _peak_rss_mb(),
    })
    return row


# --- running the rows --------------------------------------------------------------------------


def _reference_python() -> str:
    return os.environ.get("VIDPOSE_REFERENCE_PYTHON") or sys.executable


def mediapipe_installed(python: str) -> bool:
    code = "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('mediapipe') else 3)"
    return subprocess.run([python, "-c", code], capture_output=True).returncode == 0


def _subprocess_row(argv: list[str]) -> dict:
    p = subprocess.run(argv, capture_output=True, text=True)
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("BENCHROW "):
            return json.loads(line[len("BENCHROW "):])
    tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
    return {"error": f"worker exited with code {p.returncode}: {' | '.join(tail)}"}


def measure_row(spec: dict, clip: str) -> dict:
    """Run one row once, in a fresh subprocess."""
    args = dict(spec, clip=clip, warmup=WARMUP)
    if spec["side"] == "mediapipe":
        worker = str(Path(__file__).with_name("mediapipe_worker.py"))
        return _subprocess_row([_reference_python(), worker, json.dumps(args)])
    return _subprocess_row([sys.executable, "-m", "vidpose.bench.pipeline", "--worker", json.dumps(args)])


def _spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def aggregate(spec: dict, reps: list[dict]) -> dict:
    """One row of the result from its repeats (each a measure_row dict)."""
    fps = [r["frames"] / r["seconds"] for r in reps]
    first = reps[0]
    row = {"name": spec["name"], "repeats": len(reps), "frames": first["frames"]}
    s = _spread(fps)
    row.update({"fps": s["median"], "fps_min": s["min"], "fps_max": s["max"],
                "ms_per_frame": 1000 / s["median"],
                "load_seconds": statistics.median(r["load_seconds"] for r in reps),
                "peak_rss_mb": max(r["peak_rss_mb"] for r in reps),
                "frames_with_person": first["frames_with_person"],
                "people_per_frame": first.get("people_per_frame")})
    for k in ("detector_invoke_ms", "landmark_invoke_ms", "models_ms_per_frame"):
        if k in first:
            row[k] = statistics.median(r[k] for r in reps)
    for k in ("refine", "lift", "detector_calls", "landmark_calls", "stage_ms", "version"):
        if k in first:
            row[k] = first[k]
    row["_fps"] = fps  # per repeat, for the ratios; dropped from the result
    return row


def _ratio(rows: dict, a: str, b: str, what: str, invert: bool = False) -> dict | None:
    if a not in rows or b not in rows or "_fps" not in rows[a] or "_fps" not in rows[b]:
        return None
    per = [x / y for x, y in zip(rows[a]["_fps"], rows[b]["_fps"])]
    if invert:
        per = [1 / r for r in per]
    return {"what": what, **_spread(per), "per_repeat": per}


def summarise(rows: dict) -> dict:
    """The figures of the issue's done-when, from the aggregated rows (by name)."""
    import numpy as np

    out: dict = {}
    for key, a, b, what in (
        ("vidpose_full_vs_mediapipe_full_decode", "vidpose-full-1p-decode", "mediapipe-full-decode",
         "fps ratio, one person, decoding included, --refine none (target >= 2.0)"),
        ("vidpose_refine_default_vs_mediapipe_full_decode", "vidpose-full-1p-decode-refine-default",
         "mediapipe-full-decode", "fps ratio, one person, decoding included, the default --refine (target >= 1.5)"),
        ("vidpose_heavy_vs_mediapipe_full_decode", "vidpose-heavy-1p-decode", "mediapipe-full-decode",
         "fps ratio, --model heavy against MediaPipe full, decoding included (target >= 1.0)"),
        ("vidpose_heavy_vs_mediapipe_heavy_decode", "vidpose-heavy-1p-decode", "mediapipe-heavy-decode",
         "fps ratio, heavy on both sides, decoding included"),
        ("vidpose_full_vs_mediapipe_full_frames", "vidpose-full-1p-frames", "mediapipe-full-frames",
         "fps ratio, estimator only on the same pre-decoded frames"),
        ("vidpose_heavy_vs_mediapipe_full_frames", "vidpose-heavy-1p-frames", "mediapipe-full-frames",
         "fps ratio, --model heavy against MediaPipe full on the same pre-decoded frames"),
        ("run_overlay_vs_no_overlay", "vidpose-run-default-overlay", "vidpose-run-default-no-overlay",
         "fps of the default vidpose run with overlay / without (target >= 0.85)"),
    ):
        r = _ratio(rows, a, b, what)
        if r is not None:
            out[key] = r
    est = rows.get("vidpose-full-1p-frames")
    if est and "detector_invoke_ms" in est:
        models = est["detector_invoke_ms"] / 5 + est["landmark_invoke_ms"]
        out["estimator_vs_models"] = {
            "what": "estimator ms/frame (vidpose-full-1p-frames) / (detector invoke / 5 + landmark invoke) "
                    "(target <= 1.5)",
            "estimator_ms": est["ms_per_frame"], "models_ms": models, "ratio": est["ms_per_frame"] / models,
        }
    crowd = [rows.get(f"vidpose-full-crowd-{k}p-frames") for k in CROWD]
    if all(c is not None for c in crowd):
        ms = np.array([c["ms_per_frame"] for c in crowd])
        slope = float(np.polyfit(np.array(CROWD, float), ms, 1)[0])
        out["cost_per_extra_person_ms"] = {
            "what": "least-squares slope of ms/frame over 1, 2, 4, 8 people (target <= 8)",
            "slope": slope, "ms_per_frame": dict(zip(map(str, CROWD), ms.tolist())),
        }
    long_, short = rows.get("vidpose-full-1p-decode"), rows.get("vidpose-full-1p-decode-short")
    if long_ and short:
        out["peak_rss_growth_mb"] = {
            "what": f"peak RSS over {long_['frames']} frames minus over {short['frames']} frames",
            "value": long_["peak_rss_mb"] - short["peak_rss_mb"],
        }
    return out


def run(quick: bool = False, repeats: int | None = None, measure=None, have_mediapipe: bool | None = None) -> dict:
    """All rows, ``repeats`` times interleaved (default 3, 1 with ``quick``).

    ``measure(spec, clip) -> dict`` measures one row once (default :func:`measure_row`;
    tests pass their own); ``have_mediapipe`` overrides the check for mediapipe.
    """
    ref_python = _reference_python()
    if measure is None:
        from vidpose import store

        clip = str(store.path("sample-sports2d"))  # fetch here, with a message, not in the workers
        for m in ("blazepose-detector", "blazepose-full", "blazepose-heavy"):
            store.path(m)
        measure = measure_row
    else:
        clip = "sample-sports2d"
    repeats = repeats or (1 if quick else 3)
    specs = plan(quick)
    have_mp = mediapipe_installed(ref_python) if have_mediapipe is None else have_mediapipe
    reps: dict[str, list[dict]] = {s["name"]: [] for s in specs}
    for i in range(repeats):
        order = specs if i % 2 == 0 else specs[::-1]
        for spec in order:
            if spec["side"] == "mediapipe" and not have_mp:
                continue
            r = measure(spec, clip)
            if "error" in r:
                raise RuntimeError(f"bench pipeline: row {spec['name']} (repeat {i + 1}) failed: {r['error']}")
            reps[spec["name"]].append(r)
    rows = []
    for spec in specs:
        if reps[spec["name"]]:
            rows.append(aggregate(spec, reps[spec["name"]]))
        else:
            rows.append({"name": spec["name"],
                         "status": f"not installed: mediapipe is not importable by {ref_python}; {MP_INSTALL_HINT}"})
    by_name = {r["name"]: r for r in rows}
    summary = summarise(by_name)
    for r in rows:
        r.pop("_fps", None)
    # The first pipeline issue's names for the headline pair (one person, decoding included on both
    # sides): the same measurements as the rows they point at, under the names that issue gave them.
    for alias, source, keys in (("vidpose-2d", "vidpose-full-1p-decode", ("fps", "peak_rss_mb")),
                                ("mediapipe-legacy", "mediapipe-full-decode", ("fps",))):
        src = by_name.get(source)
        if src is not None and "fps" in src:
            rows.append({"name": alias, "same_as": source, **{k: src[k] for k in keys}})
    headline = summary.get("vidpose_full_vs_mediapipe_full_decode")
    mp_version = next((r["version"] for r in rows if "version" in r), None)
    return {
        "suite": "pipeline",
        "clip": "sample-sports2d (1768x994, 230 frames)",
        "quick": quick,
        "repeats": repeats,
        "warmup_frames": WARMUP,
        "cpu_count": os.cpu_count(),
        "threads": {
            "vidpose": f"LiteRT (XNNPACK) num_threads={THREADS} per interpreter; decoding on its own thread "
                       "(PyAV thread_type AUTO); overlay drawing and encoding on its own thread",
            "mediapipe": "MediaPipe's own defaults (graph executor; its TFLite calculators); decoding in the "
                         "calling thread (PyAV thread_type AUTO)",
        },
        "mediapipe": {"python": ref_python, "installed": have_mp, "version": mp_version},
        "rows": rows,
        "row_descriptions": {**{spec["name"]: spec["what"] for spec in specs},
                             "vidpose-2d": "= vidpose-full-1p-decode (the first pipeline issue's name)",
                             "mediapipe-legacy": "= mediapipe-full-decode (the first pipeline issue's name)"},
        "summary": summary,
        # vidpose-2d / mediapipe-legacy, the median of the per-repeat ratios (None without MediaPipe)
        "ratio_vs_mediapipe": headline["median"] if headline else None,
    }


if __name__ == "__main__":  # pragma: no cover
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        try:
            result = vidpose_measure(json.loads(sys.argv[2]))
        except BaseException as e:  # reported by the parent, which fails the bench
            result = {"error": f"{type(e).__name__}: {e}"}
        print("BENCHROW " + json.dumps(result), flush=True)
    else:
        print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
