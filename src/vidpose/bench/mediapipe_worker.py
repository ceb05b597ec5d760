"""One MediaPipe legacy Pose measurement for ``vidpose bench pipeline``, run as a script.

It imports nothing from vidpose, so it can run under another interpreter than
vidpose's (``VIDPOSE_REFERENCE_PYTHON``): mediapipe 0.10.14 needs protobuf < 5,
which an environment with vidpose's training extra may not have.

Usage: ``python mediapipe_worker.py '{"kind": "decode"|"frames", "clip": PATH,
"complexity": 1|2, "frames": N|null, "warmup": W}'``. Prints one line
``BENCHROW {json}``. Loading (``Pose(...)``) is timed on its own; ``warmup``
frames are processed before the timed pass; the timed pass either decodes the
clip with PyAV (``thread_type = "AUTO"``, ``to_ndarray(format="rgb24")``, as
vidpose decodes) and processes each frame (``kind = "decode"``), or processes
frames decoded beforehand (``kind = "frames"``).
"""

from __future__ import annotations

import json
import resource
import sys
import time


def _decode(clip: str, limit: int | None):
    import av

    with av.open(clip) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        n = 0
        for frame in c.decode(s):
            yield frame.to_ndarray(format="rgb24")
            n += 1
            if limit is not None and n >= limit:
                return


def measure(a: dict) -> dict:
    import mediapipe as mp

    clip, limit, warmup = a["clip"], a.get("frames"), int(a.get("warmup", 10))
    t0 = time.perf_counter()
    pose = mp.solutions.pose.Pose(static_image_mode=False, model_complexity=int(a["complexity"]))
    load = time.perf_counter() - t0
    try:
        for img in _decode(clip, warmup):
            pose.process(img)
        found = 0
        if a["kind"] == "decode":
            n = 0
            t0 = time.perf_counter()
            for img in _decode(clip, limit):
                found += pose.process(img).pose_landmarks is not None
                n += 1
            dt = time.perf_counter() - t0
        else:
            frames = list(_decode(clip, limit))
            n = len(frames)
            t0 = time.perf_counter()
            for img in frames:
                found += pose.process(img).pose_landmarks is not None
            dt = time.perf_counter() - t0
    finally:
        pose.close()
    return {
        "frames": n, "seconds": dt, "load_seconds": load, "frames_with_person": found,
        "people_per_frame": found / max(n, 1),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "version": getattr(mp, "__version__", "?"),
    }


if __name__ == "__main__":  # pragma: no cover - run by vidpose.bench.pipeline in a subprocess
    try:
        row = measure(json.loads(sys.argv[1]))
    except BaseException as e:  # reported by the parent, which fails the bench
        row = {"error": f"{type(e).__name__}: {e}"}
    print("BENCHROW " + json.dumps(row), flush=True)
