"""A small synthetic output folder (poses.json with 2 tracks and 3D, run.json) for the report tests.

Imported by the tests as ``report_folders`` (pytest puts this folder on sys.path), and by
``tests/report/conftest.py`` for the ``out_folder`` fixture.
"""

from __future__ import annotations

import json
import math

from vidpose.skeletons import get_skeleton


def _person(track_id: int, t: float, dx: float) -> dict:
    sk = get_skeleton("coco17")
    # A standing person swinging arms and legs: 3D in metres (y down), 2D a projection.
    base = {
        "nose": (0, -0.75, 0), "left_eye": (0.03, -0.78, -0.02), "right_eye": (-0.03, -0.78, -0.02),
        "left_ear": (0.07, -0.76, 0), "right_ear": (-0.07, -0.76, 0),
        "left_shoulder": (0.18, -0.5, 0), "right_shoulder": (-0.18, -0.5, 0),
        "left_hip": (0.1, 0, 0), "right_hip": (-0.1, 0, 0),
    }
    sw = 0.5 * math.sin(2 * math.pi * t + track_id)
    base["left_elbow"] = (0.22, -0.22, 0.25 * sw)
    base["right_elbow"] = (-0.22, -0.22, -0.25 * sw)
    base["left_wrist"] = (0.24, 0.02, 0.45 * sw)
    base["right_wrist"] = (-0.24, 0.02, -0.45 * sw)
    base["left_knee"] = (0.11, 0.42, -0.3 * sw)
    base["right_knee"] = (-0.11, 0.42, 0.3 * sw)
    base["left_ankle"] = (0.11, 0.85, -0.2 * sw)
    base["right_ankle"] = (-0.11, 0.85, 0.2 * sw)
    k3 = [list(base[n]) for n in sk.keypoints]
    # seen a little from the side: depth shows in the image's x
    kp = [[round(200 + 100 * dx + 150 * (x + 0.6 * z) + 30 * t, 2), round(240 + 150 * y, 2), 0.9] for x, y, z in k3]
    xs, ys = [p[0] for p in kp], [p[1] for p in kp]
    return {"track_id": track_id, "bbox": [min(xs), min(ys), max(xs), max(ys)], "score": 0.95,
            "keypoints": kp, "keypoints_3d": [[round(v, 4) for v in p] for p in k3]}


def write_output_folder(folder, n: int = 60, fps: float = 30.0, with_3d: bool = True):
    sk = get_skeleton("coco17")
    frames = []
    for i in range(n):
        t = i / fps
        persons = [_person(0, t, 0)] + ([_person(1, t, 2)] if i >= n // 3 else [])
        if not with_3d:
            for p in persons:
                p["keypoints_3d"] = None
        frames.append({"index": i, "time": round(t, 6), "persons": persons})
    poses = {"format": "vidpose.poses/1",
             "skeleton": {"name": sk.name, "keypoints": list(sk.keypoints), "links": [list(l) for l in sk.links]},
             "frames": frames,
             "video": {"path": "walk.mp4", "width": 640, "height": 480, "fps": fps, "num_frames": n}}
    run = {"vidpose_version": "0.1.0", "source": "walk.mp4", "config": {"model": "full", "min_score": 0.3},
           "model": {"model": "full", "kind": "blazepose"}, "models": {},
           "stages": {"ran": [{"stage": "estimate", "choice": "full"}, {"stage": "refine", "choice": "flow-offline"}],
                      "skipped": []},
           "frames": n, "frames_with_person": n, "track_ids": [0, 1],
           "seconds": {"decode": 0.5, "estimate": 3.0, "flow-offline": 2.0}, "wall_seconds": 6.0, "fps": n / 6.0,
           "decode_error": None}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "poses.json").write_text(json.dumps(poses))
    (folder / "run.json").write_text(json.dumps(run))
    return folder
