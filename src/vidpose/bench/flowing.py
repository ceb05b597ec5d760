"""Benchmark suite ``flowing``: temporal refinement of a per-frame estimator (Flowing ConvNets' flow-warped
heatmap pooling, and the filters users know).

Rows on BlazePose full's output (``vidpose run --refine NAME``, everything else default):

* ``raw``, ``one-euro``, ``butterworth``, ``flow-online``, ``flow-offline`` on ``synth-single``
  test clips, and the same names with ``@crowd`` on ``synth-crowd`` test clips, each with
  ``pck@0.2`` (bbox-max normaliser, labelled joints), ``mean_px_error``, ``jitter_pct`` (mean
  ||second difference|| of the predictions, % of the person's ground-truth box height),
  ``accel_error`` (px/frame²), ``lr_swap_frames`` (frames where swapping the prediction's left and
  right joints brings it closer to the ground truth by more than half), ``lag_frames`` (the shift
  in frames that best aligns the predicted with the true trajectories, mean over tracks) and
  ``fps`` (frames per wall second of the whole run: decode, estimate, track, refine);
* ``raw@sample``, ``default@sample`` on the sample clip (no ground truth): ``jitter_pct`` (% of
  the predicted box height), ``lr_swap_frames`` by a detector that needs no ground truth (a frame
  whose sided joints sit closer to the previous frame's when swapped), ``fps``.

Predictions are matched to ground-truth people per frame by the smallest mean distance over the
visible joints (one-to-one). ``--quick`` uses 2 single and 1 crowd test clip of 48 frames and the
first 90 frames of the sample clip.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

REFINE_ROWS = ("raw", "one-euro", "butterworth", "flow-online", "flow-offline")
SPLITS = (("", "synth-single"), ("@crowd", "synth-crowd"))
MAX_LAG = 5


def _clips(split: str, n: int, frames: int, root: Path) -> list[Path]:
    from vidpose.data.synth.generate import generate_split

    generate_split(split, root, "test", clips=n, frames=frames, seed=0)
    return sorted((root / split / "test").iterdir())


def _run(source: str, refine: str, max_frames: int | None = None, fps: float | None = None) -> tuple[dict, float]:
    from vidpose.api import estimate

    t0 = time.perf_counter()
    out = estimate(source, refine="none" if refine == "raw" else refine, lift="none", max_people=8, fps=fps,
                   max_frames=max_frames, skeleton="coco17")
    return out, time.perf_counter() - t0


def _tracks_vs_gt(pred: dict, ann: dict) -> list[dict]:
    """Per ground-truth track: gt (T, 17, 3), pred (T, 17, 2) and valid (T,) matched per frame."""
    by_frame = {f["index"]: f["persons"] for f in pred["frames"]}
    tracks: dict[int, dict] = {}
    for fr in ann["frames"]:
        gts = fr["persons"]
        cand = [np.asarray(p["keypoints"], np.float64)[:, :2] for p in by_frame.get(fr["index"], [])]
        used: set[int] = set()
        pairs = []
        for gi, g in enumerate(gts):
            kp = np.asarray(g["keypoints"], np.float64)
            vis = kp[:, 2] > 0
            for ci, c in enumerate(cand):
                if vis.any():
                    pairs.append((float(np.linalg.norm(c[vis] - kp[vis, :2], axis=1).mean()), gi, ci))
        match: dict[int, int] = {}
        for d, gi, ci in sorted(pairs):
            if gi not in match and ci not in used:
                box = np.asarray(gts[gi]["bbox"], np.float64)
                if d < 0.5 * max(box[2] - box[0], box[3] - box[1]):  # a plausible match, not a stranger
                    match[gi] = ci
                    used.add(ci)
        for gi, g in enumerate(gts):
            t = tracks.setdefault(g["track_id"], {"gt": [], "pred": [], "valid": [], "height": []})
            t["gt"].append(np.asarray(g["keypoints"], np.float64))
            t["height"].append(float(g["bbox"][3] - g["bbox"][1]))
            t["pred"].append(cand[match[gi]] if gi in match else np.full((17, 2), np.nan))
            t["valid"].append(gi in match)
    return [{k: np.asarray(v) for k, v in t.items()} for t in tracks.values()]


def _lag(pred: np.ndarray, gt: np.ndarray, ok: np.ndarray) -> int | None:
    """The shift s (|s| <= MAX_LAG) minimising mean ||pred[t] - gt[t - s]||."""
    best, lag = None, None
    for s in range(-MAX_LAG, MAX_LAG + 1):
        a = slice(max(s, 0), len(pred) + min(s, 0))
        b = slice(max(-s, 0), len(gt) + min(-s, 0))
        m = ok[a] & ok[b]
        if m.sum() < 5:
            continue
        e = float(np.linalg.norm(pred[a][m] - gt[b][m, :, :2], axis=-1).mean())
        if best is None or e < best:
            best, lag = e, s
    return lag


def score_tracks(tracks: list[dict]) -> dict:
    """The error, smoothness, swap and lag keys over matched tracks."""
    from vidpose.metrics.keypoints import bbox_max_norm, pck
    from vidpose.metrics.temporal import accel_error_sum, jitter_sum
    from vidpose.skeletons import COCO17

    perm = COCO17.flip_permutation()
    sided = np.flatnonzero(perm != np.arange(17))
    preds, gts, errs = [], [], []
    jit = acc = 0.0
    jn = an = 0
    swaps = 0
    lags = []
    for t in tracks:
        v = t["valid"]
        if not v.any():
            continue
        gt, pr = t["gt"], t["pred"]
        vis = (gt[..., 2] > 0) & v[:, None]
        preds.append(pr[v])
        gts.append(gt[v])
        errs.append(np.linalg.norm(pr - gt[..., :2], axis=-1)[vis])
        h = float(np.median(t["height"][v]))
        s, n = jitter_sum(np.nan_to_num(pr), v)
        jit += s / max(h, 1.0) * 100.0
        jn += n
        s, n = accel_error_sum(np.nan_to_num(pr), gt[..., :2], v)
        acc += s
        an += n
        for k in np.flatnonzero(v):
            ok = gt[k, sided, 2] > 0
            if ok.sum() >= 4:
                same = np.linalg.norm(pr[k, sided] - gt[k, sided, :2], axis=1)[ok].sum()
                swap = np.linalg.norm(pr[k, perm[sided]] - gt[k, sided, :2], axis=1)[ok].sum()
                swaps += bool(swap < 0.5 * same)
        lag = _lag(np.nan_to_num(pr), gt, v)
        if lag is not None:
            lags.append(lag)
    if not preds:
        return {"pck@0.2": 0.0, "mean_px_error": float("nan"), "jitter_pct": float("nan"),
                "accel_error": float("nan"), "lr_swap_frames": 0, "lag_frames": float("nan")}
    g = np.concatenate(gts)
    p = np.concatenate(preds)
    vis = g[..., 2] > 0
    norm = bbox_max_norm(g, vis)
    keep = norm > 0
    res = pck(p[keep], g[keep, :, :2], vis[keep], norm[keep], 0.2)
    return {"pck@0.2": float(res.mean), "mean_px_error": float(np.concatenate(errs).mean()),
            "jitter_pct": jit / max(jn, 1), "accel_error": acc / max(an, 1), "lr_swap_frames": int(swaps),
            "lag_frames": float(np.mean(lags)) if lags else float("nan")}


def swap_frames_without_gt(pred: dict) -> tuple[int, float]:
    """(frames flagged as a left/right swap, jitter % of box height) from predictions alone."""
    from vidpose.metrics.temporal import jitter_sum
    from vidpose.skeletons import COCO17

    perm = COCO17.flip_permutation()
    sided = np.flatnonzero(perm != np.arange(17))
    tracks: dict = {}
    for fr in pred["frames"]:
        for p in fr["persons"]:
            tracks.setdefault(p["track_id"], {})[fr["index"]] = np.asarray(p["keypoints"], np.float64)
    swaps, jit, jn = 0, 0.0, 0
    for seq in tracks.values():
        idx = sorted(seq)
        for a, b in zip(idx, idx[1:]):
            if b != a + 1:
                continue
            prev, cur = seq[a], seq[b]
            ok = (prev[sided, 2] > 0.3) & (cur[sided, 2] > 0.3)
            if ok.sum() < 4:
                continue
            same = np.linalg.norm(cur[sided, :2] - prev[sided, :2], axis=1)[ok].sum()
            swap = np.linalg.norm(cur[perm[sided], :2] - prev[sided, :2], axis=1)[ok].sum()
            size = max(float(np.ptp(prev[:, 0])), float(np.ptp(prev[:, 1])), 1.0)
            swaps += bool(swap < 0.5 * same and (same - swap) / ok.sum() > 0.05 * size)
        full = np.full((idx[-1] - idx[0] + 1, 17, 2), 0.0)
        valid = np.zeros(len(full), bool)
        for i in idx:
            full[i - idx[0]] = seq[i][:, :2]
            valid[i - idx[0]] = True
        heights = [float(np.ptp(seq[i][:, 1])) for i in idx]
        s, n = jitter_sum(full, valid)
        jit += s / max(statistics.median(heights), 1.0) * 100.0
        jn += n
    return swaps, jit / max(jn, 1)


def run(quick: bool = False) -> dict:
    from vidpose import store
    from vidpose.io.jsonfile import read_json

    t_start = time.perf_counter()
    n_single, n_crowd, frames = (2, 1, 48) if quick else (8, 3, 64)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        clips = {"synth-single": _clips("synth-single", n_single, frames, root),
                 "synth-crowd": _clips("synth-crowd", n_crowd, frames, root)}
        for suffix, split in SPLITS:
            anns = [read_json(c / "annotations.json") for c in clips[split]]
            for name in REFINE_ROWS:
                tracks, seconds, count = [], 0.0, 0
                for c, ann in zip(clips[split], anns):
                    pred, dt = _run(str(c / "frames"), name, fps=float(ann["video"]["fps"]))
                    tracks += _tracks_vs_gt(pred, ann)
                    seconds += dt
                    count += len(pred["frames"])
                rows.append({"name": name + suffix, **score_tracks(tracks), "fps": count / seconds,
                             "clips": len(anns), "frames": count})
    clip = str(store.path("sample-sports2d"))
    max_frames = 90 if quick else None
    for name, refine in (("raw@sample", "raw"), ("default@sample", "auto")):
        pred, dt = _run(clip, refine, max_frames=max_frames)
        swaps, jit = swap_frames_without_gt(pred)
        rows.append({"name": name, "jitter_pct": jit, "lr_swap_frames": swaps, "fps": len(pred["frames"]) / dt,
                     "frames": len(pred["frames"])})
    by = {r["name"]: r for r in rows}
    claims = {}
    for suffix, _ in SPLITS:
        fo, raw = by[f"flow-offline{suffix}"], by[f"raw{suffix}"]
        filters = [by[f"one-euro{suffix}"], by[f"butterworth{suffix}"]]
        claims[f"flow_offline_beats_filters{suffix}"] = bool(
            all(fo["mean_px_error"] < f["mean_px_error"] and fo["jitter_pct"] < f["jitter_pct"] for f in filters))
        claims[f"flow_offline_halves_raw_jitter{suffix}"] = bool(fo["jitter_pct"] <= 0.5 * raw["jitter_pct"])
        claims[f"flow_offline_zero_lag{suffix}"] = bool(abs(fo["lag_frames"]) < 0.5)
        claims[f"flow_offline_no_swapped_frame{suffix}"] = bool(fo["lr_swap_frames"] == 0)
    return {"suite": "flowing", "rows": rows, "claims": claims, "quick": bool(quick),
            "estimator": "BlazePose full (vidpose run defaults, lift none)",
            "seconds": time.perf_counter() - t_start}
