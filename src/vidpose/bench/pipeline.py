"""``vidpose bench pipeline``: throughput and memory of ``vidpose run`` on the sample clip.

Rows (each measured in a fresh subprocess so peak memory is its own):

* ``vidpose-2d``: the full run pipeline (decode -> estimate -> track -> convert
  -> poses.json/csv, no overlay), up to 4 people;
* ``vidpose-2d-single``: the same with ``max_people=1``, the like-for-like
  comparison with MediaPipe's single-person legacy Pose;
* ``vidpose-2d-short``: the multi-person run on the first quarter of the clip;
  its peak memory next to ``vidpose-2d``'s shows whether memory grows with
  video length;
* ``mediapipe-legacy``: MediaPipe's ``solutions.pose.Pose(model_complexity=1)``
  in video mode on the same decoded frames (decoding not timed), when the
  optional ``reference`` extra is installed.

``ratio_vs_mediapipe`` = vidpose-2d-single fps / mediapipe-legacy fps. vidpose's
fps include decoding, MediaPipe's do not, so the ratio is conservative.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time


def _peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 2**20


def _vidpose_row(name: str, max_frames: int | None, max_people: int, conn) -> None:
    try:
        from vidpose import store
        from vidpose.pipeline import RunConfig, run

        clip = store.path("sample-sports2d", quiet=True)
        with tempfile.TemporaryDirectory() as td:
            cfg = RunConfig(max_frames=max_frames, max_people=max_people, overlay=False, quiet=True)
            report = run(clip, td, cfg)
        row = {
            "name": name,
            "frames": report["frames"],
            "fps": report["frames"] / report["wall_seconds"],
            "ms_per_frame": 1000 * report["wall_seconds"] / report["frames"],
            "peak_rss_mb": _peak_rss_mb(),
            "frames_with_person": report["frames_with_person"],
            "track_ids": len(report["track_ids"]),
        }
        row.update({f"{k}_ms": 1000 * v / report["frames"] for k, v in report["seconds"].items()})
        conn.send(row)
    except BaseException as e:  # reported by the parent
        conn.send({"name": name, "error": f"{type(e).__name__}: {e}"})


def _mediapipe_row(max_frames: int | None, conn) -> None:
    try:
        import mediapipe as mp_  # optional reference extra
    except Exception as e:  # noqa: BLE001 - any import failure means "not available"
        conn.send({"name": "mediapipe-legacy", "error": f"not available ({type(e).__name__}: {e})"})
        return
    try:
        from vidpose import store
        from vidpose.io.video import open_source

        frames = []
        with open_source(store.path("sample-sports2d", quiet=True)) as src:
            for f in src:
                frames.append(f.image)
                if max_frames and len(frames) >= max_frames:
                    break
        found = 0
        with mp_.solutions.pose.Pose(static_image_mode=False, model_complexity=1) as pose:
            pose.process(frames[0])  # warm-up, not timed
            t0 = time.perf_counter()
            for img in frames:
                found += pose.process(img).pose_landmarks is not None
            dt = time.perf_counter() - t0
        conn.send({
            "name": "mediapipe-legacy", "frames": len(frames), "fps": len(frames) / dt,
            "ms_per_frame": 1000 * dt / len(frames), "peak_rss_mb": _peak_rss_mb(),
            "frames_with_person": found, "version": getattr(mp_, "__version__", "?"),
        })
    except BaseException as e:
        conn.send({"name": "mediapipe-legacy", "error": f"{type(e).__name__}: {e}"})


def _in_subprocess(target, *args) -> dict:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    p = ctx.Process(target=target, args=(*args, child))
    p.start()
    child.close()
    try:
        row = parent.recv()
    except EOFError:
        row = {"error": f"subprocess exited with code {p.exitcode}"}
    p.join()
    return row


def run(quick: bool = False) -> dict:
    from vidpose import store

    store.path("sample-sports2d")  # fetch once here, with a message, not in the children
    for m in ("blazepose-detector", "blazepose-full"):
        store.path(m)
    n = 60 if quick else None
    rows = [
        _in_subprocess(_vidpose_row, "vidpose-2d", n, 4),
        _in_subprocess(_vidpose_row, "vidpose-2d-single", n, 1),
    ]
    if not quick:
        rows.append(_in_subprocess(_vidpose_row, "vidpose-2d-short", 58, 4))
    rows.append(_in_subprocess(_mediapipe_row, n))
    errors = [r for r in rows if "error" in r and not r["name"].startswith("mediapipe")]
    if errors:
        raise RuntimeError(f"bench pipeline failed: {errors}")
    mp_row = next(r for r in rows if r["name"] == "mediapipe-legacy")
    single = next(r for r in rows if r["name"] == "vidpose-2d-single")
    ratio = single["fps"] / mp_row["fps"] if "fps" in mp_row else None
    return {
        "suite": "pipeline",
        "clip": "sample-sports2d (1768x994, 230 frames)",
        "quick": quick,
        "cpu_count": os.cpu_count(),
        "rows": rows,
        "ratio_vs_mediapipe": ratio,
    }


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
