"""Benchmark suite ``dgnet``: DG-Net vs its baselines (gcn-fixed, tcn) lifting 2D to 3D.

Part (a), held-out motion capture from unseen cameras: the mocap ``test`` clips
(``vidpose.data.loaders.MOCAP_TEST_CLIPS``, never trained on) each seen through
``EVAL_CAMERAS`` fixed virtual cameras that no training sample used
(:class:`vidpose.objectives.sequences.SequenceWindows`, eval mode). Each model
lifts every sequence densely (:meth:`SequenceLifter.lift_many`, ends
edge-padded) and is scored on every frame:

* ``mpjpe_mm``: root-relative MPJPE (pelvis at the origin, camera axes);
* ``p_mpjpe_mm``: after per-frame Procrustes alignment;
* ``mpjve_mm``: velocity error between consecutive frames, per sequence, frame-weighted;
* ``params_m``: parameters (millions);
* ``frames_per_s``: dense-mode throughput over all test sequences, one torch thread,
  best of ``runs`` timed passes.

Rows ``<method>-f<R>`` from the clean 2D, and ``<method>-f<R>-noisy`` from 2D corrupted once per
sequence (fixed seed) with Gaussian noise up to 2% of the person's height, up to 5% dropped
joints and 2% left/right swaps (:class:`~vidpose.objectives.sequences.LiftAugment`).

Part (b), the whole path on rendered video (:func:`video_rows`): BlazePose ``full`` on the
synth-single test videos (all 24, with ``quick`` too: ``VIDEO_CLIPS``), rows ``lift=blazepose`` (its world
landmarks) and ``lift=dgnet`` (the shipped lifter of ``vidpose run --lift dgnet``,
``dgnet_synth3_pairs``, on BlazePose's 2D, with test-time flip augmentation as ``vidpose run`` does
(``video_flip_test``); named in ``video_lifter``), ``lift=blazepose-smooth`` (the
world landmarks low-passed per track: ``vidpose run``'s default 3D for files),
``lift=blazepose-online`` (the same through the One-Euro filter: the default for live sources) and
``lift=dgnet-smooth`` (the ``dgnet-smooth`` stage: the shipped lifter on each track, low-passed), with
``p_mpjpe_mm``, ``mpjve_mm`` (after per-frame Procrustes alignment) and ``bone_cv`` (per-bone
coefficient of variation of the length over time); ``video_target`` says whether DG-Net is >= 15%
lower in P-MPJPE and >= 30% lower in MPJVE than ``lift=blazepose``; ``video_dgnet_vs_default``
compares it with ``lift=blazepose-smooth`` the same way, ``video_dgnet_smooth_vs_default`` ``dgnet-smooth``.

Weights: ``vidpose/weights/<config stem>[_f<R>].safetensors``, trained with
``configs/<config stem>.toml`` (the command is recorded in each file; see
docs/lifting.md). A row whose weights are missing is listed in ``missing_weights``.

``python -m vidpose.bench.dgnet ship RUN_DIR DEST 'COMMAND'`` turns a training run into a
shipped float16 weight file with its provenance; ``per-clip WEIGHTS`` and ``video-gt2d WEIGHTS``
are the diagnoses of docs/lifting.md (error per mocap clip; part (b) from ground-truth 2D).
``lift-pairs SYNTH_ROOT SUBSET OUT.npz [CLIPS]`` (:func:`make_lift_pairs`) writes BlazePose's 2D of
rendered synth-single clips with their 3D ground truth, training data for a lifter.
``predict WEIGHTS CONFIG SUBSET OUT.npz`` (:func:`predict`) lifts a dataset's subset (Human3.6M,
HumanEva-I, MPI-INF-3DHP in their protocols) into an .npz that ``vidpose eval`` scores.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

# (method, config stem); weights: <stem>.safetensors for the config's own receptive field (27),
# <stem>_f<R>.safetensors for the others.
METHODS: tuple[tuple[str, str], ...] = (("dgnet", "dgnet_mocap"), ("gcn-fixed", "gcn_fixed_mocap"),
                                        ("tcn", "tcn_mocap"))
FIELDS = (9, 27, 81)
CONFIG_FIELD = 27
THREADS = 1
NOISY_SEED = 17


def noisy_augment():
    from vidpose.objectives.sequences import LiftAugment

    return LiftAugment(noise=0.02, drop=0.05, swap=0.02)


def weight_stem(stem: str, field: int) -> str:
    return stem if field == CONFIG_FIELD else f"{stem}_f{field}"


def weight_path(stem: str) -> Path:
    from vidpose.methods import weights_dir

    return weights_dir() / f"{stem}.safetensors"


def test_sequences(in_channels: int, field: int, noisy: bool, cameras: int | None = None):
    """Eval windows of the mocap test clips (inputs (T, J, C), targets (T, J, 3) metres)."""
    from vidpose.data.loaders import DataConfig, load_sequences
    from vidpose.objectives.sequences import SequenceWindows

    ds = SequenceWindows(load_sequences(DataConfig(dataset="mocap"), "test"), field, 17, "mocap/test",
                         aug=noisy_augment() if noisy else None, seed=NOISY_SEED, in_channels=in_channels)
    if cameras is not None:
        keep = [i for i, n in enumerate(ds.names) if int(n.rsplit("cam", 1)[1]) < cameras]
        return [ds.inputs[i] for i in keep], [ds.targets[i] for i in keep]
    return ds.inputs, ds.targets


def score(preds: list[np.ndarray], targets: list[np.ndarray]) -> dict[str, float]:
    """mpjpe_mm, p_mpjpe_mm, mpjve_mm of per-sequence predictions/targets (T, J, 3) in metres."""
    from vidpose.metrics.pose3d import mpjpe, p_mpjpe

    p = np.concatenate(preds).astype(np.float64) * 1000.0
    g = np.concatenate(targets).astype(np.float64) * 1000.0
    return {"mpjpe_mm": mpjpe(p, g), "p_mpjpe_mm": p_mpjpe(p, g), "mpjve_mm": _mpjve_mm(preds, targets)}


def _mpjve_mm(preds: list[np.ndarray], targets: list[np.ndarray], align: bool = False) -> float:
    """MPJVE (mm) per sequence (metres in), frame-weighted; ``align``: of the per-frame Procrustes-aligned poses."""
    from vidpose.metrics.pose3d import mpjve, procrustes_align

    ve, n = 0.0, 0
    for a, b in zip(preds, targets):
        if len(a) >= 2:
            a, b = a.astype(np.float64) * 1000.0, b.astype(np.float64) * 1000.0
            ve += mpjve(procrustes_align(a, b) if align else a, b) * (len(a) - 1)
            n += len(a) - 1
    return ve / max(n, 1)


def _throughput(model, inputs: list, runs: int) -> float:
    frames = sum(len(x) for x in inputs)
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        model.lift_many(inputs)
        best = min(best, time.perf_counter() - t0)
    return frames / best


# --- part (b): the whole path on rendered video -----------------------------------------------------

# Part (b) runs on every synth-single test clip (24), with --quick too: on the first 2 or 6 clips the
# P-MPJPE reduction swung from 9 to 12 % where all 24 give 15 % (docs/lifting.md), too wide for a 15 %
# target. One BlazePose pass per clip, every lift stage on a copy of its frames (blazepose_runs).
VIDEO_CLIPS = 24
VIDEO_RENDERER = 3  # skinned bodies, the synth default (docs/lifting.md keeps the renderer-2 figures apart)
BLAZEPOSE_MODEL = "full"
# Lift stages run in the pipeline on the same refined 2D (blazepose_runs): BlazePose's world landmarks
# filtered over time (for files with --skeleton blazepose33, and for live sources), and the shipped DG-Net's
# 3D low-passed per track (the default 3D of files).
FILTERED_LIFTS = ("blazepose-smooth", "blazepose-online", "dgnet-smooth")


def _bone_cv(runs: list[np.ndarray]) -> float:
    """Mean over H36M-17 bones of the coefficient of variation (std / mean) of the bone's length
    over the frames of each run, frame-weighted over runs."""
    from vidpose.skeletons import H36M17

    total, n = 0.0, 0
    for r in runs:
        if len(r) < 2:
            continue
        lengths = np.stack([np.linalg.norm(r[:, a] - r[:, b], axis=-1) for a, b in H36M17.links], 1)  # (T, bones)
        cv = lengths.std(0) / np.maximum(lengths.mean(0), 1e-9)
        total += float(cv.mean()) * len(r)
        n += len(r)
    return total / max(n, 1)


def _video_scores(preds: list[np.ndarray], gts: list[np.ndarray]) -> dict[str, float]:
    """p_mpjpe_mm; mpjve_mm of the per-frame Procrustes-aligned poses (the lifters' axis and scale
    conventions differ, so velocities are compared after alignment); bone_cv over time."""
    from vidpose.metrics.pose3d import p_mpjpe

    p = np.concatenate(preds) * 1000.0
    g = np.concatenate(gts) * 1000.0
    return {"p_mpjpe_mm": p_mpjpe(p, g), "mpjve_mm": _mpjve_mm(preds, gts, align=True), "bone_cv": _bone_cv(preds)}


def blazepose_runs(ann_path: Path, lifts: tuple[str, ...] = ()) -> tuple[list[dict], float]:
    """BlazePose (``BLAZEPOSE_MODEL``, the default 2D refinement) on one rendered synth clip's frames,
    through the run pipeline (``vidpose.pipeline.PoseRun``, skeleton h36m17, ``lift="blazepose"``), once:
    each lift stage of ``lifts`` runs on a copy of the same refined frames (:class:`vidpose.bench.tee.Tee`).
    Per frame the best-scored person, cut into runs of consecutive frames with a detection and a ground-truth person.
    Each run: ``first_frame``, ``keypoints_2d`` (T, 17, 3: x, y, score), ``world`` (T, 17, 3: the world
    landmarks), ``filtered`` (one (T, 17, 3) per name of ``lifts``: the same run's 3D from that lift stage,
    the 2D checked equal), ``gt`` (T, 17, 3: the clip's ``h36m_3d``, camera metres), ``gt_2d`` (T, 17, 2),
    ``width``, ``height``, ``fps``. Also returns the seconds of the run."""
    from vidpose.api import _config
    from vidpose.bench.tee import Tee
    from vidpose.io.jsonfile import read_json
    from vidpose.pipeline import PoseRun, build_stages, frame_dict
    from vidpose.skeletons import get_skeleton
    from vidpose.stages import LIFTERS, ConvertStage
    from vidpose.stages.lift_dgnet import consecutive_runs

    ann = read_json(ann_path)
    v = ann["video"]
    gt = {fr["index"]: fr["persons"][0] for fr in ann["frames"] if fr["persons"]}
    cfg = _config({"model": BLAZEPOSE_MODEL, "lift": "blazepose", "skeleton": "h36m17", "fps": float(v["fps"]),
                   "overlay": False, "threads": THREADS})
    stages = build_stages(cfg, quiet=True)  # estimate, track, refine..., lift (blazepose), convert
    branches = []
    for name in lifts:
        lifter = LIFTERS[name].build()
        branches.append([lifter, ConvertStage(get_skeleton(cfg.skeleton), lifter.output_skeleton)])
    tee = Tee(branches)
    stages.insert(len(stages) - 2, tee)  # after the refine stages, before blazepose's lift
    t0 = time.perf_counter()
    frames = [frame_dict(f) for f in PoseRun(str(ann_path.parent / "frames"), cfg, stages=stages)]
    seconds = time.perf_counter() - t0
    twins = [[frame_dict(f) for f in out] for out in tee.outputs]
    assert all([f["index"] for f in tw] == [f["index"] for f in frames] for tw in twins)
    det = {}
    for k_frame, fr in enumerate(frames):
        ps = [p for p in fr["persons"] if p["keypoints_3d"] is not None]
        if ps and fr["index"] in gt:
            k = max(range(len(ps)), key=lambda i: ps[i]["score"])
            best = ps[k]
            others = [[p for p in tw[k_frame]["persons"] if p["keypoints_3d"] is not None][k] for tw in twins]
            assert all(o["keypoints"] == best["keypoints"] for o in others), "a lift stage changed the 2D"
            det[fr["index"]] = (best, others)
    runs: list[dict] = []
    for run in consecutive_runs(sorted(det)):
        runs.append({
            "first_frame": run[0],
            "keypoints_2d": np.asarray([det[k][0]["keypoints"] for k in run], np.float64),
            "world": np.asarray([det[k][0]["keypoints_3d"] for k in run], np.float64),
            "filtered": [np.asarray([det[k][1][i]["keypoints_3d"] for k in run], np.float64)
                         for i in range(len(lifts))],
            "gt": np.asarray([gt[k]["h36m_3d"] for k in run], np.float64),
            "gt_2d": np.asarray([gt[k]["h36m_2d"] for k in run], np.float64),
            "width": float(v["width"]), "height": float(v["height"]), "fps": float(v["fps"])})
    return runs, seconds


def video_rows(model, clips: int = VIDEO_CLIPS) -> tuple[list[dict], dict]:
    """Rows ``lift=blazepose``, ``lift=dgnet`` and ``lift=<FILTERED_LIFTS>`` on synth-single test videos:
    BlazePose (``full``) 2D and world landmarks through the run pipeline (skeleton h36m17), DG-Net
    lifting BlazePose's 2D (with its scores) per run of consecutive detected frames, and each filtered
    lift stage on the same frames (the 2D checked equal); ground truth: the clips' ``h36m_3d``
    (:func:`blazepose_runs`).
    ``clips``: the first N synth-single test clips."""
    from vidpose.bench.clnet import SUBSET, ensure_test_clips
    from vidpose.methods import RUN_FLIP
    from vidpose.geometry import normalize_screen

    n = int(clips)
    root = ensure_test_clips(n, VIDEO_RENDERER)
    anns = sorted((root / SUBSET).glob(f"{SUBSET}_*/annotations.json"))
    anns = anns[:n] if n else anns
    bp_runs, dg_runs, gt_runs, frames = [], [], [], 0
    filtered_runs: dict[str, list] = {name: [] for name in FILTERED_LIFTS}
    t_bp = 0.0
    for ann_path in anns:
        runs, seconds = blazepose_runs(ann_path, FILTERED_LIFTS)
        t_bp += seconds
        for r in runs:
            kp2 = r["keypoints_2d"]
            frames += len(kp2)
            x = np.concatenate([normalize_screen(kp2[..., :2], r["width"], r["height"]),
                                np.clip(kp2[..., 2:3], 0, 1)], -1).astype(np.float32)
            dg = model.lift(x, flip=RUN_FLIP).double().numpy()
            dg_runs.append(dg - dg[:, :1])
            bp_runs.append(r["world"] - r["world"][:, :1])
            for name, f in zip(FILTERED_LIFTS, r["filtered"]):
                filtered_runs[name].append(f - f[:, :1])
            gt_runs.append(r["gt"] - r["gt"][:, :1])
    rows = []
    if gt_runs:
        rows = [{"name": "lift=blazepose", **_video_scores(bp_runs, gt_runs)},
                {"name": "lift=dgnet", **_video_scores(dg_runs, gt_runs)},
                *({"name": f"lift={name}", **_video_scores(filtered_runs[name], gt_runs)} for name in FILTERED_LIFTS)]
        for r in rows:
            r.update({"mpjpe_mm": None, "params_m": None, "frames_per_s": None})
    info = {"video_data": f"synth-single/{SUBSET}, {len(anns)} clips, {frames} frames with a detection",
            "video_blazepose_seconds": t_bp, "video_flip_test": RUN_FLIP}
    if rows:
        def against(a: dict, b: dict) -> dict:
            return {"p_mpjpe_reduction": 1 - a["p_mpjpe_mm"] / b["p_mpjpe_mm"],
                    "mpjve_reduction": 1 - a["mpjve_mm"] / b["mpjve_mm"],
                    "holds": bool(a["p_mpjpe_mm"] <= 0.85 * b["p_mpjpe_mm"] and a["mpjve_mm"] <= 0.7 * b["mpjve_mm"])}

        info["video_target"] = against(rows[1], rows[0])
        default = next(r for r in rows if r["name"] == "lift=blazepose-smooth")
        info["video_dgnet_vs_default"] = against(rows[1], default)
        info["video_dgnet_smooth_vs_default"] = against(next(r for r in rows if r["name"] == "lift=dgnet-smooth"), default)
    return rows, info


def run(quick: bool = False, video_clips: int = VIDEO_CLIPS) -> dict:
    """The suite; ``quick``: part (a) on 2 cameras and fewer timing passes (part (b) is the same);
    ``video_clips``: part (b) on the first N synth-single test clips (the tests use fewer)."""
    import torch

    from vidpose.methods import load

    t_start = time.perf_counter()
    prev = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        rows, missing, models = [], [], {}
        for method, stem in METHODS:
            for field in FIELDS:
                path = weight_path(weight_stem(stem, field))
                if path.is_file():
                    models[f"{method}-f{field}"] = (path, load(path))
                else:
                    missing.append(path.name)
        cameras = 2 if quick else None
        data: dict[tuple[int, int, bool], tuple[list, list]] = {}
        for noisy in (False, True):
            for name, (path, model) in models.items():
                key = (model.cfg.in_channels, model.cfg.receptive_field, noisy)
                if key not in data:
                    data[key] = test_sequences(*key, cameras=cameras)
                inputs, targets = data[key]
                preds = [y.numpy() for y in model.lift_many(inputs)]
                row = {"name": name + ("-noisy" if noisy else ""), **score(preds, targets),
                       "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
                       "frames_per_s": _throughput(model, inputs, 2 if quick else 5),
                       "receptive_field": model.cfg.receptive_field, "method": model.method, "weights": path.name}
                rows.append(row)
        by = {r["name"]: r for r in rows}
        claims = {}
        for suffix in ("", "-noisy"):
            for field in FIELDS:
                dg = by.get(f"dgnet-f{field}{suffix}")
                if dg is None:
                    continue
                for base in ("gcn-fixed", "tcn"):
                    for bf in FIELDS:
                        if bf < field:
                            continue
                        other = by.get(f"{base}-f{bf}{suffix}")
                        if other is not None:
                            claims[f"dgnet-f{field}{suffix} < {base}-f{bf}{suffix}"] = {
                                "mpjpe_mm_delta": dg["mpjpe_mm"] - other["mpjpe_mm"],
                                "holds": bool(dg["mpjpe_mm"] < other["mpjpe_mm"])}
        frames = sum(len(x) for x in next(iter(data.values()))[0]) if data else 0
        video_info: dict = {}
        from vidpose.methods.dgnet import load_lifter, shipped_path

        if shipped_path().is_file():  # part (b): the lifter `vidpose run --lift dgnet` ships
            vrows, video_info = video_rows(load_lifter("dgnet"), video_clips)
            video_info["video_lifter"] = shipped_path().name
            rows += vrows
        else:
            missing.append(shipped_path().name)
        return {"suite": "dgnet", "rows": rows, "claims": claims, **video_info,
                "data": "mocap test clips " + ", ".join(_test_clips()) + f", {2 if quick else 'all'} fixed cameras each",
                "test_frames": frames, "threads": THREADS, "quick": bool(quick), "missing_weights": missing,
                "torch": torch.__version__, "seconds": time.perf_counter() - t_start}
    finally:
        torch.set_num_threads(prev)


def _test_clips() -> tuple[str, ...]:
    from vidpose.data.loaders import MOCAP_TEST_CLIPS

    return MOCAP_TEST_CLIPS


def per_clip(weights: str | Path, subset: str = "test") -> dict[str, dict[str, float]]:
    """Diagnosis: mpjpe_mm / p_mpjpe_mm per mocap clip of ``subset`` (original, not mirrored; the
    fixed evaluation cameras, clean 2D) and over all of them, for one lifter checkpoint."""
    import torch

    from vidpose.data.loaders import DataConfig, load_sequences
    from vidpose.methods import load
    from vidpose.objectives.sequences import SequenceWindows

    torch.set_num_threads(THREADS)
    model = load(weights)
    ds = SequenceWindows(load_sequences(DataConfig(dataset="mocap"), subset), model.cfg.receptive_field, 17,
                         f"mocap/{subset}", in_channels=model.cfg.in_channels)
    keep = [i for i, n in enumerate(ds.names) if "/mirrored/" not in n]
    preds = [y.numpy() for y in model.lift_many([ds.inputs[i] for i in keep])]
    by: dict[str, tuple[list, list]] = {}
    for i, p in zip(keep, preds):
        clip = ds.names[i].split("/")[0]
        by.setdefault(clip, ([], []))[0].append(p)
        by[clip][1].append(ds.targets[i])
    out = {clip: score(p, t) for clip, (p, t) in by.items()}
    out["all"] = score(preds, [ds.targets[i] for i in keep])
    return {k: {m: round(v[m], 1) for m in ("mpjpe_mm", "p_mpjpe_mm")} for k, v in out.items()}


def video_ground_truth_2d(weights: str | Path, clips: int = VIDEO_CLIPS) -> dict:
    """Diagnosis of part (b): the lifter on the synth-single test clips' *ground-truth* H36M-17 2D
    (confidence 1) instead of BlazePose's, scored like :func:`video_rows` (per clip p_mpjpe_mm, and all)."""
    import torch

    from vidpose.bench.clnet import SUBSET, ensure_test_clips
    from vidpose.io.jsonfile import read_json
    from vidpose.methods import load
    from vidpose.geometry import normalize_screen

    torch.set_num_threads(THREADS)
    model = load(weights)
    n = int(clips)
    anns = sorted((ensure_test_clips(n, VIDEO_RENDERER) / SUBSET).glob(f"{SUBSET}_*/annotations.json"))[:n]
    preds, gts, out = [], [], {}
    for a in anns:
        ann = read_json(a)
        v = ann["video"]
        frames = [f for f in ann["frames"] if f["persons"]]
        k2 = np.asarray([f["persons"][0]["h36m_2d"] for f in frames], np.float64)
        g = np.asarray([f["persons"][0]["h36m_3d"] for f in frames], np.float64)
        x = np.concatenate([normalize_screen(k2, v["width"], v["height"]), np.ones(k2.shape[:2] + (1,))], -1)
        y = model.lift(x.astype(np.float32)).double().numpy()
        preds.append(y - y[:, :1])
        gts.append(g - g[:, :1])
        out[f"{a.parent.name} ({', '.join(ann.get('motions') or ())})"] = round(
            _video_scores(preds[-1:], gts[-1:])["p_mpjpe_mm"], 1)
    out["all"] = {k: round(v, 3) for k, v in _video_scores(preds, gts).items()}
    return out


LIFT_PAIRS_MATCH = 0.3  # a detection whose median joint is farther than this x the person's 2D height is another person


def make_lift_pairs(synth_root: str | Path, subset: str, out: str | Path, clips: int = 0) -> dict:
    """A lift-pairs file (:mod:`vidpose.data.readers.lift_pairs`) from rendered synth clips: BlazePose's 2D
    and scores (:func:`blazepose_runs`, the path of part (b)) with the clips' ground-truth 3D, for a
    lifter to learn BlazePose's errors. ``synth_root``: a ``vidpose synth --split synth-single`` folder
    (``<root>/<subset>/<clip>/``); ``clips``: the first N clips (0: all). A frame whose detection is not
    the rendered person (median joint distance above ``LIFT_PAIRS_MATCH`` x the person's 2D height)
    ends its run and is counted in ``frames_not_matched``. Returns the counts."""
    from vidpose.data.readers.lift_pairs import write_lift_pairs
    from vidpose.errors import InputError

    anns = sorted((Path(synth_root) / subset).glob("*/annotations.json"))
    anns = anns[:clips] if clips else anns
    if not anns:
        raise InputError(f"{Path(synth_root) / subset}: no clips (*/annotations.json); make them with "
                         "vidpose synth --split synth-single --subset SUBSET")
    pairs, unmatched, seconds = [], 0, 0.0
    for a in anns:
        runs, sec = blazepose_runs(a)
        seconds += sec
        for r in runs:
            d = np.linalg.norm(r["keypoints_2d"][..., :2] - r["gt_2d"], axis=-1)
            height = np.maximum(np.ptp(r["gt_2d"][..., 1], axis=1), 1.0)
            ok = np.median(d, axis=1) <= LIFT_PAIRS_MATCH * height
            unmatched += int((~ok).sum())
            edges = np.flatnonzero(np.diff(np.r_[0, ok.astype(np.int8), 0]))
            for lo, hi in zip(edges[::2], edges[1::2]):
                pairs.append({"clip": a.parent.name, "first_frame": r["first_frame"] + int(lo),
                              "keypoints_2d": r["keypoints_2d"][lo:hi, :, :2],
                              "scores": np.clip(r["keypoints_2d"][lo:hi, :, 2], 0.0, 1.0),
                              "joints_3d": r["gt"][lo:hi], "width": r["width"], "height": r["height"], "fps": r["fps"]})
    write_lift_pairs(out, pairs, skeleton="h36m17",
                     detector=f"BlazePose {BLAZEPOSE_MODEL}, default 2D refinement (vidpose.api.estimate), "
                              f"best-scored person per frame, on {Path(synth_root).name}/{subset}")
    return {"clips": len(anns), "runs": len(pairs), "frames": int(sum(len(p["joints_3d"]) for p in pairs)),
            "frames_not_matched": unmatched, "blazepose_seconds": round(seconds, 1)}


def predict(weights: str | Path, config: str | Path, subset: str, out: str | Path) -> dict[str, float]:
    """Lift every frame of ``subset`` of the dataset a training config names (its ``[data]`` section,
    e.g. the run's ``config.toml``; Human3.6M, HumanEva-I and MPI-INF-3DHP in their protocols: see
    ``vidpose.data.loaders``) with the lifter ``weights``, and write ``out`` (.npz) for ``vidpose
    eval --gt OUT --metric mpjpe,p_mpjpe,pck3d,auc``: ``pred`` and ``gt`` (N, J, 3) millimetres relative
    to the root (the model's output as it is, the ground truth's root at 0), ``skeleton`` (the
    lifter's; InputError when the data's layout is another), ``sequence`` and ``frame`` (N,) naming
    each row. Returns :func:`~vidpose.objectives.sequences.lift_scores` of the same frames."""
    import torch

    from vidpose.data.loaders import load_sequences
    from vidpose.io.atomic import atomic_path
    from vidpose.methods.dgnet import load_lifter
    from vidpose.objectives.sequences import SequenceWindows, lift_scores
    from vidpose.training.config import load_config

    torch.set_num_threads(THREADS)
    data = load_config(config).data
    model = load_lifter(str(weights), skeleton=None)
    m = model.cfg
    seqs = load_sequences(data, subset)
    ds = SequenceWindows(seqs, m.receptive_field, m.num_joints, f"{data.dataset}/{subset}",
                         in_channels=m.in_channels, skeleton=m.skeleton)
    preds = [y.numpy() for y in model.lift_many(ds.inputs)]
    first = [int(seqs[i].extra.get("first_frame", 0)) for i in ds.sequence_index]
    arrays = {"pred": 1000.0 * np.concatenate(preds), "gt": 1000.0 * np.concatenate(ds.targets).astype(np.float64),
              "skeleton": np.array(m.skeleton),
              "sequence": np.array([n for n, y in zip(ds.names, ds.targets) for _ in range(len(y))]),
              "frame": np.concatenate([f + np.arange(len(y)) for f, y in zip(first, ds.targets)])}
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return lift_scores(preds, ds.targets)


def ship(run_dir: str | Path, dest: str | Path, command: str, half: bool = True,
         ship_command: str | None = None) -> Path:
    """Ship a mocap lifter run (see :func:`vidpose.training.ship.ship`)."""
    from vidpose.data.loaders import mocap_clips
    from vidpose.training.ship import ship as ship_run

    from vidpose.training.config import load_config

    mocap = "DeepMimic mocap clips (pybullet 3.2.7 data files) " + ", ".join(mocap_clips("train"))
    synth3 = (f"synth-3d train clips made by renderer 3 ({mocap} and procedural motions retargeted onto "
              "Anny bodies; joints from Anny's keypoint regressor; data commands in the config's header), "
              "through random virtual cameras")
    dataset = load_config(Path(run_dir) / "config.toml").data.dataset
    if dataset == "synth-3d":  # configs/dgnet_synth3.toml
        trained_on = synth3
    elif dataset == "synth-3d+lift-pairs":  # configs/dgnet_synth3_pairs.toml
        trained_on = (synth3 + ", and BlazePose full's 2D (default 2D refinement) of renderer-3 synth-single train "
                      "videos with their 3D ground truth (lift pairs, python -m vidpose.bench.dgnet lift-pairs)")
    else:
        trained_on = (mocap + " and their mirror images, and synth-3d train clips (vidpose synth --split synth-3d "
                      "--subset train --clips 100 --seed 0), through random virtual cameras")
    return ship_run(run_dir, dest, command, trained_on, half, ship_command)


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    import shlex
    import sys

    if len(sys.argv) == 5 and sys.argv[1] == "ship":
        print(ship(sys.argv[2], sys.argv[3], sys.argv[4],
                   ship_command="python -m vidpose.bench.dgnet " + " ".join(shlex.quote(a) for a in sys.argv[1:])))
    elif len(sys.argv) >= 3 and sys.argv[1] == "per-clip":
        for subset in ("train", "val", "test"):
            print(subset, per_clip(sys.argv[2], subset))
    elif len(sys.argv) >= 3 and sys.argv[1] == "video-gt2d":
        print(video_ground_truth_2d(sys.argv[2]))
    elif len(sys.argv) == 6 and sys.argv[1] == "predict":
        print(predict(*sys.argv[2:6]))
    elif len(sys.argv) in (5, 6) and sys.argv[1] == "lift-pairs":
        print(make_lift_pairs(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]) if len(sys.argv) == 6 else 0))
    else:
        sys.exit("usage: python -m vidpose.bench.dgnet ship RUN_DIR DEST 'TRAINING COMMAND'\n"
                 "       python -m vidpose.bench.dgnet per-clip WEIGHTS      (MPJPE per mocap clip)\n"
                 "       python -m vidpose.bench.dgnet video-gt2d WEIGHTS    (part (b) from ground-truth 2D)\n"
                 "       python -m vidpose.bench.dgnet predict WEIGHTS CONFIG SUBSET OUT.npz   (for vidpose eval)\n"
                 "       python -m vidpose.bench.dgnet lift-pairs SYNTH_ROOT SUBSET OUT.npz [CLIPS]   "
                 "(BlazePose 2D + 3D ground truth of rendered clips)")
