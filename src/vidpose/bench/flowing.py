"""Benchmark suite ``flowing``: the Flowing ConvNets model and its ablations, and temporal refinement of a
per-frame estimator (flow-warped heatmap pooling, and the filters users know).

Model rows (part a), the shipped ``flowing-*`` checkpoints on synth-single test clips (every
labelled person-frame, each model seeing the clip of frames it takes): ``direct-regression``,
``flow-input``, ``heatmap``, ``fusion``, ``fusion+pool-nowarp``, ``fusion+flow-n1``,
``fusion+flow-n3``, ``fusion+flow-n7``, each with ``pck@0.2``, ``mean_px_error`` (image pixels),
``accel_error`` (of the per-clip trajectories, px/frame²) and ``cpu_ms`` (one crop clip, batch 1,
flow included, 1 thread). They are trained by ``python -m vidpose.bench.flowing train DATA OUT``
from ``configs/flowing_fusion_synth_single.toml`` with the overrides in :data:`MODEL_ROWS`.

Refinement rows (part b) on BlazePose full's output (``vidpose run --refine NAME``, everything else default):

* ``raw``, ``one-euro``, ``butterworth``, ``flow-online``, ``flow-offline`` on ``synth-single``
  test clips, and the same names with ``@crowd`` on ``synth-crowd`` test clips, each with
  ``pck@0.2`` (bbox-max normaliser, labelled joints), ``mean_px_error``, ``jitter_pct`` (mean
  ||second difference|| of the predictions, % of the person's ground-truth box height),
  ``accel_error`` (px/frame²), ``lr_swap_frames`` (frames where swapping the prediction's left and
  right joints brings it closer to the ground truth by more than half), ``lag_frames`` (the shift
  in frames that best aligns the predicted with the true trajectories, mean over tracks) and
  ``fps`` (frames per second of the run with every stage on one thread: decode, estimate, track
  and that refinement; :func:`refine_runs`);
* ``raw@sample``, ``default@sample`` on the sample clip (no ground truth): ``jitter_pct`` (% of
  the predicted box height), ``lr_swap_frames`` by a detector that needs no ground truth: frames
  whose sided joints sit closer to the previous frame's when swapped, i.e. flips of the left/right
  assignment (one isolated swapped frame counts twice: into it and out of it), ``fps``.

Renderers: both parts use renderer-3 clips (skinned bodies, the synth default). The model rows'
test clips (:data:`MODEL_RENDERER`) are those of the data the shipped flowing-* checkpoints were
trained on (renderer-3 synth-single train, recorded in each file's ``data.generator``); the
refinement rows' (:data:`REFINE_RENDERER`) are those on which BlazePose — trained on real people —
works as on real footage, and on which the shipped pooling weights were learned.

Predictions are matched to ground-truth people per frame by the smallest mean distance over the
visible joints (one-to-one). Part (b) runs BlazePose once per clip and every refinement on a copy of
its tracked frames (:func:`refine_runs`; the same frames as separate runs, tested), on every test clip
of both splits (:data:`REFINE_PLAN`), with ``--quick`` too; ``--quick`` scores part (a) on the
first 2 test clips, times it with fewer passes and uses the first 90 frames of the sample clip.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

REFINE_ROWS = ("raw", "one-euro", "butterworth", "flow-online", "flow-offline")
MODEL_RENDERER = 3  # the data the shipped flowing-* checkpoints were trained on
REFINE_RENDERER = 3  # the data the refinement rows (and the shipped pooling weights) use
# part (b)'s clips: every test clip of each split (None), with --quick too
REFINE_PLAN: dict[str, int | None] = {"synth-single": None, "synth-crowd": None}
BASE_CONFIG = "configs/flowing_fusion_synth_single.toml"
# Stage 2 (the pooling alone, from the stage-1 "fusion" checkpoint): 2 epochs at lr 0.05 on 2048 clips
# (at lr 0.001 for 1 epoch the pooling never left the centre frame; chosen on val, docs/flowing.md)
STAGE2 = ("model.train_pooling_only=true", "optim.epochs=2", "optim.lr=0.05", "data.max_samples=2048")
# row -> (--set overrides of BASE_CONFIG, the row whose last checkpoint it starts from (stage 2) or "")
MODEL_ROWS: dict[str, tuple[tuple[str, ...], str]] = {
    "direct-regression": (("model.fusion=false", "model.head=regression"), ""),
    "flow-input": (("model.temporal=flow-input", "model.neighbours=1", "data.clip_length=3"), ""),
    "heatmap": (("model.fusion=false",), ""),
    "fusion": ((), ""),
    "fusion+pool-nowarp": (("model.temporal=nowarp", "model.neighbours=3", "data.clip_length=7", *STAGE2), "fusion"),
    "fusion+flow-n1": (("model.temporal=warp", "model.neighbours=1", "data.clip_length=3", *STAGE2), "fusion"),
    "fusion+flow-n3": (("model.temporal=warp", "model.neighbours=3", "data.clip_length=7", *STAGE2), "fusion"),
    "fusion+flow-n7": (("model.temporal=warp", "model.neighbours=7", "data.clip_length=15", *STAGE2), "fusion"),
}


def weight_stem(row: str) -> str:
    return "flowing_" + row.replace("+", "_").replace("-", "_")


def train_rows(data_root: str | Path, out: str | Path, base: str | Path = ".", rows=None) -> list[Path]:
    """Train every model row (stage-2 rows after their stage 1) and ship each as
    ``vidpose/weights/<weight_stem>.safetensors`` with the command that made it."""
    from vidpose.bench.clnet import ship
    from vidpose.methods import weights_dir
    from vidpose.training.config import load_config
    from vidpose.training.trainer import train

    out = Path(out)
    shipped = []
    for row in rows or MODEL_ROWS:
        overrides, start = MODEL_ROWS[row]
        sets = [f"data.root={data_root}", *overrides]
        if start:
            sets.append(f"run.init_from={out / weight_stem(start) / 'last.safetensors'}")
        run_dir = out / weight_stem(row)
        cfg = load_config(Path(base) / BASE_CONFIG, [*sets, f"run.out_dir={run_dir}"])
        train(cfg, quiet=True)
        command = (f"OMP_NUM_THREADS=1 vidpose train {BASE_CONFIG} " + " ".join(f"--set {x}" for x in sets)
                   + f" --out {run_dir} --quiet")
        shipped.append(ship(run_dir, weights_dir() / f"{weight_stem(row)}.safetensors", command,
                            ship_command=f"python -m vidpose.bench.flowing train {data_root} {out} {row}"))
    return shipped


def _model_rows(quick: bool) -> list[dict]:
    """Part a: each shipped flowing-* checkpoint on synth-single test clips."""
    import torch

    from vidpose.bench.clnet import load_test
    from vidpose.data.topdown import TopDownDataset
    from vidpose.geometry import crop_points_to_image
    from vidpose.methods import load, weights_dir
    from vidpose.metrics.keypoints import bbox_max_norm, pck
    from vidpose.metrics.temporal import accel_error_sum
    from vidpose.objectives.clips import ClipDataset

    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    pose = load_test(2 if quick else None, renderer=MODEL_RENDERER)
    rows = []
    try:
        for row in MODEL_ROWS:
            path = weights_dir() / f"{weight_stem(row)}.safetensors"
            if not path.is_file():
                rows.append({"name": row, "missing": path.name})
                continue
            model = load(path)
            crops = TopDownDataset(pose, tuple(model.cfg.input_size), codec=None)
            clips = ClipDataset(crops, model.cfg.clip_length)
            preds, gts = [], []
            for lo in range(0, len(clips), 32):
                batch = [clips[i] for i in range(lo, min(lo + 32, len(clips)))]
                x = torch.stack([b["images"] for b in batch])
                kp = model.predict(x).numpy()[:, :, :2]
                aff = np.stack([b["affine"].numpy() for b in batch])
                preds.append(crop_points_to_image(kp, aff))
                c = model.cfg.clip_length // 2
                gts.append(np.stack([b["image_keypoints"][c].numpy() for b in batch]))
            pred, gt = np.concatenate(preds), np.concatenate(gts)
            vis = gt[..., 2] > 0
            norm = bbox_max_norm(gt, vis)
            keep = norm > 0
            res = pck(pred[keep], gt[keep, :, :2], vis[keep], norm[keep], 0.2)
            acc, n = 0.0, 0
            for name, idx in pose.sequences.items():  # synth-single: one person per frame, in order
                frames_of_clip = set(idx)
                sel = [k for k, it in enumerate(crops.items) if it.frame in frames_of_clip]
                if len(sel) >= 3:
                    s_, c_ = accel_error_sum(pred[sel], gt[sel, :, :2], vis[sel].all(axis=1))
                    acc, n = acc + s_, n + c_
            x1 = clips[0]["images"][None]
            model.predict(x1)
            times = []
            for _ in range(5 if quick else 20):
                t0 = time.perf_counter()
                model.predict(x1)
                times.append((time.perf_counter() - t0) * 1e3)
            rows.append({"name": row, "pck@0.2": float(res.mean),
                         "mean_px_error": float(np.linalg.norm(pred - gt[..., :2], axis=-1)[vis].mean()),
                         "accel_error": acc / max(n, 1), "cpu_ms": statistics.median(times),
                         "clip_length": model.cfg.clip_length, "persons": len(pred)})
    finally:
        torch.set_num_threads(prev)
    return rows
SPLITS = (("", "synth-single"), ("@crowd", "synth-crowd"))
MAX_LAG = 5


def _clips(split: str, n: int | None, root: Path) -> list[Path]:
    """The first ``n`` (None: all) test clips of ``split`` (seed 0, the split's clip length)."""
    from vidpose.data.synth.generate import generate_split

    generate_split(split, root, "test", clips=n, seed=0, renderer=REFINE_RENDERER)
    return sorted((root / split / "test").iterdir())


def _run(source: str, refine: str, max_frames: int | None = None, fps: float | None = None) -> tuple[dict, float]:
    from vidpose.api import estimate

    t0 = time.perf_counter()
    out = estimate(source, refine="none" if refine == "raw" else refine, lift="none", max_people=8, fps=fps,
                   max_frames=max_frames, skeleton="coco17")
    return out, time.perf_counter() - t0


def refine_runs(source: str, fps: float | None = None,
                names: tuple[str, ...] = REFINE_ROWS) -> dict[str, tuple[dict, float]]:
    """Every refinement of ``names`` on one BlazePose pass over ``source`` (``vidpose run`` with
    ``--refine NAME --lift none --max-people 8 --skeleton coco17``, everything else default): the
    estimate and track stages run once and each refinement, with the convert stage after it, runs on
    a copy of their frames (:class:`vidpose.bench.tee.Tee`). ``raw`` is the convert stage alone.

    Returns ``{name: ({"frames": [...]}, seconds)}``: the frames as ``vidpose.api.estimate`` gives
    them, and the seconds of that run with the stages on one thread (decoding on its own, as always):
    the shared estimate/track time plus that refinement's own; copying the frames for the branches is
    counted in neither. ``vidpose run`` overlaps the refinement with estimation on a second thread,
    so its frame rate is higher; these seconds compare the refinements' costs."""
    from vidpose.api import _config
    from vidpose.bench.tee import Tee
    from vidpose.pipeline import PoseRun, build_stages, frame_dict
    from vidpose.skeletons import get_skeleton
    from vidpose.stages import ConvertStage, RefineStage

    flow = [n for n in names if n != "raw"]
    # all refinements named: the estimate stage keeps what any of them needs (BlazePose's heatmaps)
    cfg = _config({"refine": ",".join(flow) or "none", "lift": "none", "max_people": 8, "fps": fps,
                   "skeleton": "coco17"})
    stages = build_stages(cfg, quiet=True)  # estimate, track, one refine stage per name of flow, convert
    assert len(stages) == len(flow) + 3, [s.name for s in stages]
    built = dict(zip(flow, stages[2:-1]))  # each refine stage runs alone in its branch
    branches = []
    for name in names:
        stage = built.get(name)  # None for raw
        if isinstance(stage, RefineStage):
            stage.release_heatmaps = True
        branches.append([*([stage] if stage is not None else []), ConvertStage(get_skeleton(cfg.skeleton), None)])
    tee = Tee(branches)
    stages = [*stages[:2], tee]
    t0 = time.perf_counter()
    for _ in PoseRun(source, cfg, stages=stages, stage_thread=False):
        pass
    shared = time.perf_counter() - t0 - sum(tee.seconds) - tee.copy_seconds
    return {name: ({"frames": [frame_dict(f) for f in out]}, shared + sec)
            for name, out, sec in zip(names, tee.outputs, tee.seconds)}


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
    """(left/right flips between consecutive frames, jitter % of box height) from predictions alone."""
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


def run(quick: bool = False, plan: dict[str, int | None] | None = None) -> dict:
    """The suite. Part (b) runs on every test clip of synth-single and synth-crowd
    (:data:`REFINE_PLAN`, with ``quick`` too); ``plan`` overrides the clip counts (the tests use fewer).
    ``quick``: fewer timing passes in part (a) and the first 90 frames of the sample clip."""
    from vidpose import store
    from vidpose.io.jsonfile import read_json

    t_start = time.perf_counter()
    plan = {**REFINE_PLAN, **(plan or {})}
    rows = _model_rows(quick)
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        clips = {split: _clips(split, plan[split], root) for _, split in SPLITS}
        for suffix, split in SPLITS:
            tracks: dict[str, list] = {name: [] for name in REFINE_ROWS}
            seconds = dict.fromkeys(REFINE_ROWS, 0.0)
            count = 0
            for c in clips[split]:
                ann = read_json(c / "annotations.json")
                runs = refine_runs(str(c / "frames"), fps=float(ann["video"]["fps"]))
                for name, (pred, dt) in runs.items():
                    tracks[name] += _tracks_vs_gt(pred, ann)
                    seconds[name] += dt
                count += len(runs["raw"][0]["frames"])
            for name in REFINE_ROWS:
                rows.append({"name": name + suffix, **score_tracks(tracks[name]), "fps": count / seconds[name],
                             "clips": len(clips[split]), "frames": count})
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
        # the per-frame estimator has a lag of its own (the raw rows): whether the refinement adds to it
        claims[f"flow_offline_adds_no_lag{suffix}"] = bool(abs(fo["lag_frames"] - raw["lag_frames"]) < 0.25)
        claims[f"flow_offline_no_swapped_frame{suffix}"] = bool(fo["lr_swap_frames"] == 0)
    trained = {r["name"]: r for r in rows if "pck@0.2" in r and r["name"] in MODEL_ROWS}
    if {"fusion+flow-n3", "fusion", "fusion+pool-nowarp", "flow-input", "direct-regression"} <= set(trained):
        best = trained["fusion+flow-n3"]["pck@0.2"]
        claims["warped_pooling_beats_single_frame_nowarp_flowinput_regression"] = bool(all(
            best > trained[r]["pck@0.2"] for r in ("fusion", "fusion+pool-nowarp", "flow-input", "direct-regression")))
    return {"suite": "flowing", "rows": rows, "claims": claims, "quick": bool(quick),
            "estimator": "BlazePose full (vidpose run defaults, lift none)",
            "seconds": time.perf_counter() - t_start}


def flow_epe(clips: int = 2, frames: int = 6) -> list[dict]:
    """End-point error of DIS (each preset, full and half resolution) against the exact flow of
    ``vidpose synth --flow`` on synth-single test clips: median and mean EPE (px), median ms per pair."""
    import cv2

    from vidpose.data.synth.generate import generate_split
    from vidpose.flow import PRESETS, FlowConfig, FlowEstimator

    rows = []
    with tempfile.TemporaryDirectory() as d:
        generate_split("synth-single", d, "test", clips=clips, frames=frames, seed=0, flow=True, renderer=REFINE_RENDERER)
        dirs = sorted((Path(d) / "synth-single" / "test").iterdir())
        imgs = {c: [cv2.cvtColor(cv2.imread(str(c / "frames" / f"{i:06d}.jpg")), cv2.COLOR_BGR2RGB)
                    for i in range(frames)] for c in dirs}
        for preset in PRESETS:
            for scale in (1.0, 0.5):
                est = FlowEstimator(FlowConfig(preset, scale))
                errs, times = [], []
                for c in dirs:
                    for i in range(frames - 1):
                        gt = np.load(c / "flow" / f"{i:06d}.npy").astype(np.float32)
                        t0 = time.perf_counter()
                        f = est(imgs[c][i], imgs[c][i + 1])
                        times.append(time.perf_counter() - t0)
                        errs.append(np.linalg.norm(f - gt, axis=-1).ravel())
                e = np.concatenate(errs)
                rows.append({"preset": preset, "scale": scale, "median_epe": float(np.median(e)),
                             "mean_epe": float(e.mean()), "ms_per_pair": 1e3 * statistics.median(times)})
    return rows


def _flow_run(clip: Path, ann: dict, stage=None, model: str = "full"):
    """A :class:`~vidpose.pipeline.PoseRun` over a synthetic clip's frames (BlazePose ``model``, no
    lift) with ``stage`` (a FlowRefineStage) in place of the default ``flow-offline`` stage; None: no
    refinement."""
    from vidpose.pipeline import PoseRun, RunConfig, build_stages
    from vidpose.stages.refine import FlowRefineStage

    cfg = RunConfig(model=model, refine="flow-offline" if stage is not None else "none", lift="none", overlay=False,
                    csv=False, report=False, quiet=True, fps=float(ann["video"]["fps"]), max_people=4)
    stages = build_stages(cfg)
    if stage is not None:
        k = next(i for i, st in enumerate(stages) if isinstance(st, FlowRefineStage))
        stage.release_heatmaps = True
        stages[k] = stage
    return PoseRun(str(Path(clip) / "frames"), cfg, stages=stages)


def pooling_samples(clip_dirs, n: int = 3, half: int = 7, model: str = "full") -> dict:
    """What the flow refinement sees on synthetic clips with ground truth, for learning its pooling
    weights: for each labelled person-frame matched by BlazePose (``model``) and each COCO-17 joint,
    the 2n+1 neighbours' heatmap probabilities carried onto frame t's heatmap grid
    (:meth:`FlowRefineStage.gather`), cut to a (2·half+1)² window around the true joint, with the
    window's ``inside`` masks and the true joint's position in the window (heatmap cells).

    Returns arrays ``maps`` and ``inside`` (S, 17, 2n+1, W, W) float16,
    ``target`` (S, 17, 2) and ``valid`` (S, 17); ``joints`` are the BlazePose-33 indices of the
    17 joints."""
    from vidpose.geometry import apply_affine, invert_affine
    from vidpose.io.jsonfile import read_json
    from vidpose.skeletons import COCO17, get_skeleton
    from vidpose.stages.refine import FlowRefineStage

    bp = get_skeleton("blazepose33")
    joints = np.array([bp.index(name) for name in COCO17.keypoints])
    out = {"maps": [], "inside": [], "target": [], "valid": []}

    class Collector(FlowRefineStage):
        def refine_frame(self, window, i):
            frame = window[i]
            gts = self.gt.get(frame.index, [])
            for p in frame.persons:
                me = self.seen.get(frame.index, {}).get(p.track_id)
                if me is None or me.probs is None or not gts:
                    continue

                def dist(g):
                    v = g[:, 2] > 0
                    return float(np.linalg.norm(g[v, :2] - p.keypoints[joints][v, :2], axis=1).mean()) if v.any() else np.inf
                g = min(gts, key=dist)
                vis = g[:, 2] > 0
                if vis.sum() < 2 or dist(g) > 0.5 * float(np.ptp(g[vis, :2], axis=0).max()):
                    continue  # not this person
                u = apply_affine(invert_affine(me.to_img), g[:, :2])  # true joints in heatmap cells
                centres = np.zeros((bp.num_keypoints, 2))
                centres[joints] = u
                maps, inside, c, _ = self.gather(frame.index, p.track_id, centres=centres, half=half)
                h, w = me.probs.shape[:2]
                c = c[joints]
                ok = vis & (c[:, 0] >= 0) & (c[:, 0] < w) & (c[:, 1] >= 0) & (c[:, 1] < h)
                if not ok.any():
                    continue
                out["maps"].append(maps[:, joints].transpose(1, 0, 2, 3).astype(np.float16))
                out["inside"].append(inside[:, joints].transpose(1, 0, 2, 3).astype(np.float16))
                out["target"].append(u - c + half)
                out["valid"].append(ok)

    for clip in clip_dirs:
        ann = read_json(Path(clip) / "annotations.json")
        col = Collector(n=n, online=False)
        col.gt = {fr["index"]: [np.asarray(g["keypoints"], np.float64) for g in fr["persons"]] for fr in ann["frames"]}
        for _ in _flow_run(clip, ann, col, model):
            pass
    if not out["maps"]:
        raise RuntimeError("pooling_samples: no labelled person-frame was matched")
    return {"maps": np.stack(out["maps"]), "inside": np.stack(out["inside"]),
            "target": np.stack(out["target"]).astype(np.float32), "valid": np.stack(out["valid"]),
            "joints": joints, "n": n}


def fit_pooling(samples: dict, sigma: float = 1.5, steps: int = 300, lr: float = 0.05, seed: int = 0):
    """Per-joint pooling weights (17, 2n+1) that make the pooled map (Σ w·maps / Σ w·inside) match a
    Gaussian (``sigma`` heatmap cells) at the true joint, in the windows of :func:`pooling_samples`
    (MSE, full batch, Adam; weights kept positive by softplus, started at the Gaussian in |Δt| the
    stage uses without learned weights). Returns (weights, loss before, loss after)."""
    import torch

    torch.manual_seed(seed)
    n = int(samples["n"])
    maps = torch.from_numpy(samples["maps"].astype(np.float32))  # (S, J, D, W, W)
    inside = torch.from_numpy(samples["inside"].astype(np.float32))  # (S, J, D, W, W)
    valid = torch.from_numpy(samples["valid"]).float()  # (S, J)
    t = torch.from_numpy(samples["target"])  # (S, J, 2)
    win = maps.shape[-1]
    g = torch.arange(win, dtype=torch.float32)
    gx = torch.exp(-((g[None, None, :] - t[..., 0:1]) ** 2) / (2 * sigma ** 2))  # (S, J, W)
    gy = torch.exp(-((g[None, None, :] - t[..., 1:2]) ** 2) / (2 * sigma ** 2))
    target = gy[..., :, None] * gx[..., None, :]  # (S, J, W, W)
    dt = torch.arange(-n, n + 1, dtype=torch.float32)
    init = torch.exp(-(dt ** 2) / (2.0 * max(n / 2.0, 0.5) ** 2)).repeat(maps.shape[1], 1)
    theta = torch.nn.Parameter(torch.log(torch.expm1(init.clamp_min(1e-4))))
    opt = torch.optim.Adam([theta], lr=lr)

    def loss_of(w):
        wv = w[None, :, :, None, None]
        pooled = (wv * maps).sum(2) / (wv * inside).sum(2).clamp_min(1e-6)
        per = ((pooled - target) ** 2).mean(dim=(-1, -2))
        return (per * valid).sum() / valid.sum().clamp_min(1)

    with torch.no_grad():
        before = float(loss_of(init))
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_of(torch.nn.functional.softplus(theta))
        loss.backward()
        opt.step()
    w = torch.nn.functional.softplus(theta).detach()
    w = w / w[:, n:n + 1]  # the centre frame's weight is 1 (pooling is normalised; only ratios count)
    with torch.no_grad():
        after = float(loss_of(w))
    return w.numpy().astype(np.float64), before, after


def learn_pooling(clip_dirs, dest: str | Path, command: str, n: int = 3, model: str = "full") -> dict:
    """Learn the flow refinement's pooling weights on ``clip_dirs`` and save them to ``dest`` for the
    BlazePose-33 skeleton (joints without a COCO-17 counterpart take the mean of the learned ones)."""
    from safetensors.numpy import save_file

    from vidpose.io.atomic import atomic_path

    samples = pooling_samples(clip_dirs, n=n, model=model)
    w17, before, after = fit_pooling(samples)
    w = np.repeat(w17.mean(0, keepdims=True), 33, axis=0)
    w[samples["joints"]] = w17
    meta = {"skeleton": "blazepose33", "n": str(n), "model": model, "command": command,
            "trained_on": f"{len(clip_dirs)} clips: " + ", ".join(sorted({Path(c).parent.name for c in clip_dirs})),
            "samples": str(len(samples["maps"])), "loss_before": f"{before:.6g}", "loss_after": f"{after:.6g}"}
    with atomic_path(dest) as tmp:
        save_file({"pool_weights": w.astype(np.float32)}, str(tmp), metadata=meta)
    return {"path": str(dest), "samples": len(samples["maps"]), "loss_before": before, "loss_after": after,
            "weights": w17}


POOLING_VARIANTS: dict[str, dict | None] = {
    "raw": None,
    "gaussian": {"pooling": "gaussian"},
    "learned": {"pooling": "learned"},
    "learned+estimated-backward": {"pooling": "learned", "backward_flow": "estimate"},
    "learned+whole-frame-flow": {"pooling": "learned", "flow_regions": False},
    "learned+every-cell-traced": {"pooling": "learned", "lattice": 0},
}


def pooling_ablation(clip_dirs) -> list[dict]:
    """``flow-offline`` with the learned against the Gaussian pooling weights, with the backward flow
    estimated instead of inverted, with flow on the whole frame instead of around the people, and
    with every window cell traced along the flow instead of a 5x5 lattice, on the same clips (and
    ``raw``): the error keys of :func:`score_tracks`, DIS calls per frame and
    the refine stage's ms per frame."""
    from vidpose.io.jsonfile import read_json
    from vidpose.pipeline import frame_dict
    from vidpose.stages.refine import FlowRefineStage

    rows = []
    for name, kw in POOLING_VARIANTS.items():
        tracks, secs, frames, calls = [], 0.0, 0, 0
        for clip in clip_dirs:
            ann = read_json(Path(clip) / "annotations.json")
            stage = FlowRefineStage(**kw) if kw is not None else None
            run = _flow_run(clip, ann, stage)
            pred = [frame_dict(f) for f in run]
            tracks += _tracks_vs_gt({"frames": pred}, ann)
            secs += run.timings.seconds.get("flow-offline", 0.0)
            frames += len(pred)
            calls += stage.cache.computed if stage is not None else 0
        rows.append({"name": name, **score_tracks(tracks), "dis_calls_per_frame": calls / max(frames, 1),
                     "refine_ms": 1e3 * secs / max(frames, 1)})
    return rows


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    import sys

    if len(sys.argv) == 2 and sys.argv[1] == "flow-epe":
        for r in flow_epe():
            print(f"{r['preset']:10s} scale {r['scale']:.1f}  median EPE {r['median_epe']:.2f} px  "
                  f"mean EPE {r['mean_epe']:.2f} px  {r['ms_per_pair']:.1f} ms/pair")
    elif len(sys.argv) == 3 and sys.argv[1] == "pooling-ablation":
        clips = sorted(p for p in Path(sys.argv[2]).iterdir() if (p / "annotations.json").exists())
        for r in pooling_ablation(clips):
            print("  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in r.items()))
    elif len(sys.argv) == 4 and sys.argv[1] == "learn-pooling":
        from vidpose.methods import weights_dir
        from vidpose.stages.refine import POOLING_FILES

        clips = sorted(p for p in Path(sys.argv[2]).iterdir() if (p / "annotations.json").exists())
        r = learn_pooling(clips, Path(sys.argv[3]) if sys.argv[3] != "ship" else
                          weights_dir() / POOLING_FILES[("blazepose33", 3)],
                          command="python -m vidpose.bench.flowing " + " ".join(sys.argv[1:]))
        print(f"{r['path']}: {r['samples']} person-frames, loss {r['loss_before']:.5f} -> {r['loss_after']:.5f}")
        print(np.array2string(r["weights"], precision=2))
    elif len(sys.argv) >= 4 and sys.argv[1] == "train":
        for p in train_rows(sys.argv[2], sys.argv[3], rows=sys.argv[4:] or None):
            print(p)
    else:
        sys.exit("usage: python -m vidpose.bench.flowing train SYNTH_SINGLE_ROOT OUT_DIR [ROW ...]   "
                 "(in the repository root)\n       python -m vidpose.bench.flowing flow-epe"
                 "\n       python -m vidpose.bench.flowing learn-pooling CLIPS_DIR (OUT.safetensors | ship)"
                 "\n       python -m vidpose.bench.flowing pooling-ablation CLIPS_DIR")
