"""Benchmark suite ``crowd``: finding, refining and tracking people in crowds (docs/crowd.md).

Accuracy rows, on renderer-3 ``synth-crowd`` test clips (3-8 people each, heavy mutual occlusion), with the
default estimator (BlazePose full, ``vidpose run`` defaults, ``--max-people 8 --lift none``):
``per-frame`` (``--refine none``), ``propagate-online``, ``propagate-offline``, and the same three
with ``+bodydet`` (``--detector bodydet``: the face-free body detector; an ``error`` note instead of
numbers when this checkout has none). Keys: ``oks_ap`` (COCO AP, pycocotools), ``w_ap`` (weights 1 +
occlusion, docs/metrics.md), ``ap_occluded`` (COCO AP with only the occluded joints labelled),
``person_recall`` (ground-truth people matched at OKS >= 0.5, motmetrics), ``idf1``, ``id_switches``,
``mota``, ``fps`` (frames per wall second of the whole run). The clips are scored as one video.

Speed rows ``people=N`` and ``people=N+propagate`` (N = 1, 2, 4, 8): the composited crowd frames of
``vidpose bench pipeline`` (copies of the sample clip's man, :func:`vidpose.bench.pipeline.crowd_frames`),
BlazePose full + tracking, without and with ``propagate-offline``; ``fps``, and for propagation
``flow_ms_per_frame`` (independent of N) and ``propagate_ms_per_person``.

Sample-clip rows ``sample@per-frame``, ``sample@propagate-offline`` (and ``+bodydet``): person recall
per frame against the people counted by eye in ``tests/data/sample_people.json``, frames where both
people are found, false positives, and track ids per real person. ``--quick``: one 48-frame crowd
clip, 12 crowd frames per speed row, the first 120 frames of the sample clip.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from pathlib import Path

import numpy as np

ROWS = ("per-frame", "propagate-online", "propagate-offline")
REFINE = {"per-frame": "none", "propagate-online": "propagate-online", "propagate-offline": "propagate-offline"}
PEOPLE = (1, 2, 4, 8)
LABELS = Path(__file__).resolve().parents[3] / "tests" / "data" / "sample_people.json"


def bodydet_missing() -> str | None:
    """Why ``--detector bodydet`` cannot run in this checkout, or None when it can."""
    from vidpose.errors import InputError
    from vidpose.pipeline import RunConfig

    if "detector" not in {f.name for f in dataclasses.fields(RunConfig)}:
        return "no body detector in this checkout (RunConfig has no 'detector' field)"
    try:
        RunConfig(detector="bodydet")
    except InputError as e:
        return f"--detector bodydet refused: {e}"
    return None


def _options(row: str) -> dict:
    return {"detector": "bodydet"} if row.endswith("+bodydet") else {}


def _estimate(source: str, refine: str, **options) -> tuple[dict, float]:
    from vidpose.api import estimate

    t0 = time.perf_counter()
    out = estimate(source, refine=refine, lift="none", skeleton="coco17", **options)
    return out, time.perf_counter() - t0


def merge_clips(gts: list[dict], preds: list[dict]) -> tuple[dict, dict]:
    """Several clips' annotations and predictions as one video: frame indices and track ids offset per clip."""
    def merged(docs: list[dict]) -> dict:
        out = {k: v for k, v in docs[0].items() if k != "frames"}
        out["frames"] = [{**f, "index": f["index"] + 100000 * c,
                          "persons": [{**q, "track_id": q["track_id"] + 100000 * c} for q in f["persons"]]}
                         for c, doc in enumerate(docs) for f in doc["frames"]]
        return out

    return merged(gts), merged(preds)


def occluded_only(gt: dict) -> dict:
    """The annotations with only the occluded joints (v = 1) labelled (people without one are ignored by AP)."""
    out = {k: v for k, v in gt.items() if k != "frames"}
    out["frames"] = []
    for f in gt["frames"]:
        persons = []
        for q in f["persons"]:
            kp = np.asarray(q["keypoints"], np.float64)
            kp[kp[:, 2] != 1, 2] = 0
            persons.append({**q, "keypoints": kp.tolist()})
        out["frames"].append({**f, "persons": persons})
    return out


def score(gt: dict, pred: dict) -> dict:
    """The accuracy keys of a row (see the module docstring)."""
    from vidpose.metrics.evaluate import evaluate

    with tempfile.TemporaryDirectory() as d:
        paths = {}
        for name, doc in (("gt", gt), ("pred", pred), ("occ", occluded_only(gt))):
            paths[name] = Path(d) / f"{name}.json"
            paths[name].write_text(json.dumps(doc))
        r = evaluate(paths["gt"], paths["pred"], ["oks_ap", "w_ap", "recall", "idf1", "idsw", "mota"])
        occ = evaluate(paths["occ"], paths["pred"], ["oks_ap"])
    return {"oks_ap": r["AP"], "w_ap": r["w_AP"], "ap_occluded": occ["AP"], "person_recall": r["recall"],
            "idf1": r["idf1"], "id_switches": int(r["idsw"]), "mota": r["mota"]}


def accuracy_rows(clips: list[Path], missing: str | None) -> list[dict]:
    from vidpose.io.jsonfile import read_json

    anns = [read_json(c / "annotations.json") for c in clips]
    rows = []
    for suffix in ("", "+bodydet"):
        for base in ROWS:
            name = base + suffix
            if suffix and missing:
                rows.append({"name": name, "error": missing})
                continue
            preds, seconds, frames = [], 0.0, 0
            for c, ann in zip(clips, anns):
                pred, dt = _estimate(str(c / "frames"), REFINE[base], max_people=8, fps=float(ann["video"]["fps"]),
                                     **_options(name))
                pred.pop("decode_error", None)
                preds.append(pred)
                seconds += dt
                frames += len(pred["frames"])
            gt, pr = merge_clips(anns, preds)
            rows.append({"name": name, **score(gt, pr), "fps": frames / seconds, "clips": len(clips), "frames": frames})
    return rows


def speed_rows(frames: int) -> list[dict]:
    """fps with N composited people, without and with propagate-offline; propagation's cost per person."""
    from vidpose import store
    from vidpose.backends.blazepose import BlazePose, BlazePoseConfig
    from vidpose.bench.pipeline import crowd_frames
    from vidpose.skeletons import BLAZEPOSE33
    from vidpose.stages.propagate import PropagateStage
    from vidpose.stages.track import TrackStage
    from vidpose.types import FramePoses

    clip = store.path("sample-sports2d", quiet=True)
    rows = []
    backend = None
    for n in PEOPLE:
        images, rois = crowd_frames(clip, n, frames)
        for prop in (False, True):
            backend = BlazePose(BlazePoseConfig(model="full", max_people=n), quiet=True)
            backend(images[0])  # warm-up
            backend.reset()
            backend.track(rois)
            track = TrackStage(BLAZEPOSE33.name, 30)
            stage = PropagateStage(online=False) if prop else None
            people = 0
            t0 = time.perf_counter()
            for i, im in enumerate(images):
                fp = FramePoses(i, i / 30.0, im, BLAZEPOSE33, backend(im))
                track(fp)
                out = stage.process(fp) if stage else [fp]
                people += sum(len(f.persons) for f in out)
            if stage:
                people += sum(len(f.persons) for f in stage.finish())
            dt = time.perf_counter() - t0
            row = {"name": f"people={n}" + ("+propagate" if prop else ""), "fps": frames / dt,
                   "people_per_frame": people / frames, "frames": frames}
            if stage:
                row["flow_ms_per_frame"] = 1000 * stage.seconds_flow / frames
                row["propagate_ms_per_person"] = 1000 * stage.seconds_people / max(stage.person_frames, 1)
            rows.append(row)
    return rows


# --- the sample clip against the people counted by eye ------------------------------------------

def _centre(person: dict, f: int) -> np.ndarray:
    keys = sorted(int(k) for k in person["centres"])
    pts = np.array([person["centres"][str(k)] for k in keys], np.float64)
    return np.array([np.interp(f, keys, pts[:, 0]), np.interp(f, keys, pts[:, 1])])


def sample_scores(pred: dict, labels: dict) -> dict:
    """Person recall per frame against the labelled people in view; a prediction finds a labelled
    person when its box (grown by 10%) holds the person's labelled centre (one-to-one, nearest box
    centre first). Also: frames with every labelled person found, predictions matching nobody
    (false positives) and the number of distinct track ids that found each person."""
    found = total = all_found = fp = 0
    ids: dict[str, set] = {p["name"]: set() for p in labels["people"]}
    for fr in pred["frames"]:
        f = fr["index"]
        here = [p for p in labels["people"] if any(a <= f <= b for a, b in p["in_view"])]
        pairs = []
        for pi, q in enumerate(fr["persons"]):
            b = np.asarray(q["bbox"], np.float64)
            m = 0.1 * (b[2:] - b[:2])
            for gi, p in enumerate(here):
                c = _centre(p, f)
                if np.all(c >= b[:2] - m) and np.all(c <= b[2:] + m):
                    pairs.append((float(np.linalg.norm(c - (b[:2] + b[2:]) / 2)), pi, gi))
        used_p, used_g = set(), set()
        for _, pi, gi in sorted(pairs):
            if pi in used_p or gi in used_g:
                continue
            used_p.add(pi)
            used_g.add(gi)
            ids[here[gi]["name"]].add(fr["persons"][pi]["track_id"])
        found += len(used_g)
        total += len(here)
        all_found += len(used_g) == len(here)
        fp += len(fr["persons"]) - len(used_p)
    return {"person_recall": found / max(total, 1), "person_frames": total, "frames_all_found": all_found,
            "false_positives": fp, **{f"ids_{k}": len(v) for k, v in ids.items()}}


def sample_rows(max_frames: int | None, missing: str | None) -> list[dict]:
    from vidpose import store

    if not LABELS.is_file():
        return [{"name": "sample", "error": f"{LABELS} not found (run the bench from a source checkout)"}]
    labels = json.loads(LABELS.read_text())
    clip = str(store.path("sample-sports2d", quiet=True))
    rows = []
    for name in ("per-frame", "propagate-offline", "per-frame+bodydet", "propagate-offline+bodydet"):
        if name.endswith("+bodydet") and missing:
            rows.append({"name": f"sample@{name}", "error": missing})
            continue
        pred, dt = _estimate(clip, REFINE[name.replace("+bodydet", "")], max_frames=max_frames, **_options(name))
        rows.append({"name": f"sample@{name}", **sample_scores(pred, labels), "fps": len(pred["frames"]) / dt,
                     "frames": len(pred["frames"])})
    return rows


RENDERER = 3  # the synth-crowd clips' renderer


def run(quick: bool = False) -> dict:
    from vidpose.data.synth.generate import generate_split

    t0 = time.perf_counter()
    n_clips, n_frames = (1, 48) if quick else (3, 64)
    missing = bodydet_missing()
    with tempfile.TemporaryDirectory() as d:
        # renderer 3 (skinned bodies, the synth default); docs/crowd.md keeps the renderer-2 figures apart
        generate_split("synth-crowd", d, "test", clips=n_clips, frames=n_frames, seed=0, renderer=RENDERER)
        clips = sorted((Path(d) / "synth-crowd" / "test").iterdir())
        rows = accuracy_rows(clips, missing)
    rows += speed_rows(12 if quick else 40)
    rows += sample_rows(120 if quick else None, missing)
    by = {r["name"]: r for r in rows}
    claims = {}
    for s in ("", "+bodydet"):
        pf, on, off = by[f"per-frame{s}"], by[f"propagate-online{s}"], by[f"propagate-offline{s}"]
        if "error" in pf:
            continue
        gains = {k: off[k] - pf[k] for k in ("oks_ap", "ap_occluded")}
        claims[f"propagation_raises_ap_most_on_occluded_joints{s}"] = bool(gains["ap_occluded"] > max(gains["oks_ap"], 0))
        claims[f"offline_at_least_online{s}"] = bool(off["oks_ap"] >= on["oks_ap"])
    return {"suite": "crowd", "rows": rows, "claims": claims, "quick": bool(quick),
            "bodydet": missing or "available", "estimator": "BlazePose full (vidpose run defaults, lift none)",
            "seconds": time.perf_counter() - t0}
