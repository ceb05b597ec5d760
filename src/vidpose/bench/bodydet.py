"""Benchmark suite ``bodydet``: BlazePose's face-anchored person detector against the body detector.

Rows ``blazepose`` (``--detector blazepose``), ``bodydet`` (``--detector bodydet``,
input 256 px on the longer side) and ``bodydet@384`` (input 384 px). Every row runs
the pipeline's per-frame path with the BlazePose ``full`` landmark model
(``refine="none"``, ``lift="none"``, ``max_people=8``, ``threads=1``), so only the
detector that seeds the landmark ROIs differs:

* ``person_recall`` / ``oks_ap``: on the synth-crowd test clips (``vidpose synth
  --split synth-crowd --subset test --seed 0``; ``--quick``: the first 2 clips, 24
  frames each), ground-truth people matched at OKS >= 0.5 and COCO keypoint AP, as
  :func:`vidpose.metrics.evaluate.evaluate` computes them, each the mean over clips;
* ``sample_both``: frames of the sample clip (two people in every frame) in which
  two people are found, of ``sample_frames``; ``sample_ids``: track ids given;
* ``detector_ms``: the detector's own time per call (model and decoding, resizing
  included for the body detector) on the sample clip, ``detector_calls`` its calls,
  ``sample_fps``: frames per second of the estimate stage on the sample clip;
* ``call_ms``: the median time of one whole detector call (resizing, model,
  decoding, non-maximum suppression) on the sample clip's frames, the rows'
  detectors called in turn on each frame so that all see the same machine load
  (``--quick``: 30 frames);
* ``detector_ms_by_people``: the detector alone on one frame of each synth-crowd
  test clip, median of 15 calls, by the clip's number of people (cost per frame,
  not per person).

``detector_ms`` is the model's own time (BlazePose's: the LiteRT invoke; the body
detector's: its graph, the TFLite part and the in-graph decoding); ``call_ms`` is
the fair comparison.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

ROWS = (("blazepose", "blazepose", 256), ("bodydet", "bodydet", 256), ("bodydet@384", "bodydet", 384))
MAX_PEOPLE = 8
REPEATS = 15  # calls per frame in detector_ms_by_people (the median is kept)


def _synth_clips(root: Path, quick: bool) -> list[Path]:
    from vidpose.data.synth import generate_split

    clips, frames = (2, 24) if quick else (None, None)
    # renderer 2: docs/bodydet.md's recorded numbers are on renderer-2 clips
    generate_split("synth-crowd", root, subset="test", clips=clips, frames=frames, seed=0, renderer=2)
    return sorted((root / "synth-crowd" / "test").iterdir())


def _score_clip(clip: Path, detector: str, size: int) -> dict:
    from vidpose.api import estimate
    from vidpose.metrics.evaluate import evaluate

    poses = estimate(str(clip / "frames"), max_people=MAX_PEOPLE, refine="none", lift="none", overlay=False,
                     csv=False, report=False, fps=30.0, threads=1, quiet=True, detector=detector,
                     detector_size=size)
    poses.pop("decode_error", None)
    pred = clip / f"poses_{detector}_{size}.json"
    pred.write_text(json.dumps(poses))
    m = evaluate(clip / "annotations.json", pred, ["oks_ap", "recall"])
    return {"person_recall": float(m["recall"]), "oks_ap": float(m["AP"])}


def _sample(detector: str, size: int, frames: int | None) -> dict:
    from vidpose import store
    from vidpose.pipeline import PoseRun, RunConfig

    cfg = RunConfig(detector=detector, detector_size=size, refine="none", lift="none", overlay=False, csv=False,
                    report=False, quiet=True, threads=1, max_people=MAX_PEOPLE, max_frames=frames)
    run = PoseRun(str(store.path("sample-sports2d", quiet=True)), cfg)
    counts, ids = [], set()
    for fp in run:
        counts.append(len(fp.persons))
        ids |= {p.track_id for p in fp.persons}
    st = run.stages[0].backend.stats
    estimate_s = run.timings.seconds.get("estimate")
    out = {
        "sample_frames": len(counts), "sample_both": sum(c >= 2 for c in counts), "sample_ids": len(ids),
        "detector_ms": 1000 * st["detector_seconds"] / max(st["detector_calls"], 1),
        "detector_calls": st["detector_calls"],
    }
    if estimate_s:
        out["sample_fps"] = len(counts) / estimate_s
    return out


def _detector_cost(clips: list[Path], detector: str, size: int) -> dict[int, float]:
    import cv2
    import numpy as np

    from vidpose.backends.blazepose import person_detector

    det = person_detector(detector, size=size, threads=1, quiet=True)
    out: dict[int, list[float]] = {}
    for clip in clips:
        ann = json.loads((clip / "annotations.json").read_text())
        image = cv2.cvtColor(cv2.imread(str(clip / "frames" / "000000.jpg")), cv2.COLOR_BGR2RGB)
        det(image)  # first call: lowering / warm-up
        ts = []
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            det(image)
            ts.append(time.perf_counter() - t0)
        out.setdefault(len(ann["frames"][0]["persons"]), []).append(1000 * float(np.median(ts)))
    return {n: round(float(np.mean(v)), 1) for n, v in sorted(out.items())}


def _interleaved_call_ms(frames: int | None) -> dict[str, float]:
    import numpy as np

    from vidpose import store
    from vidpose.backends.blazepose import person_detector
    from vidpose.io.video import open_source

    dets = {name: person_detector(detector, size=size, threads=1, quiet=True) for name, detector, size in ROWS}
    ms: dict[str, list[float]] = {name: [] for name in dets}
    with open_source(str(store.path("sample-sports2d", quiet=True))) as src:
        for fr in src:
            if frames is not None and fr.index > frames:
                break
            for name, det in dets.items():
                t0 = time.perf_counter()
                det(fr.image)
                if fr.index > 0:  # frame 0 warms up (and lowers the body detector for this frame size)
                    ms[name].append(1000 * (time.perf_counter() - t0))
    return {name: float(np.median(v)) for name, v in ms.items()}


def run(quick: bool = False) -> dict:
    import cv2

    cv2.setNumThreads(1)
    rows = []
    with tempfile.TemporaryDirectory(prefix="vidpose-bench-bodydet-") as td:
        clips = _synth_clips(Path(td), quick)
        for name, detector, size in ROWS:
            per = [_score_clip(c, detector, size) for c in clips]
            row = {"name": name, "detector": detector, "detector_size": size, "clips": len(clips)}
            for key in ("person_recall", "oks_ap"):
                row[key] = sum(p[key] for p in per) / len(per)
            row.update(_sample(detector, size, 60 if quick else None))
            row["detector_ms_by_people"] = _detector_cost(clips, detector, size)
            rows.append(row)
    call_ms = _interleaved_call_ms(30 if quick else None)
    for row in rows:
        row["call_ms"] = call_ms[row["name"]]
    return {"suite": "bodydet", "rows": rows, "landmark_model": "full", "threads": 1}
