"""Benchmark suite ``dkd``: Dynamic Kernel Distillation against running a network on every frame.

On synth-single test clips (one person per frame; crops from each frame's ground-truth box, in
frame order, so each clip is one track), rows:

* ``large-per-frame``: the pose initializer (the shipped ``simplebaseline``) on every frame;
* ``small-per-frame``: the small frame encoder with a heatmap head on every frame (``dkd-small``,
  DKD without the distillator);
* ``dkd``: the shipped ``dkd`` (initializer on a track's first frame and by the re-init policy,
  pose kernels from the previous frame otherwise);
* ``dkd-no-adversarial``: ``dkd-no-adversarial`` (trained without the temporal discriminator);
* ``dkd-no-reinit``: ``dkd`` with re-initialisation off (initializer on the first frame only);
* ``dkd-from-blazepose-heavy``: ``dkd-blazepose-heavy`` (BlazePose heavy as initializer and as the
  teacher, trained on unlabelled renders that are not these clips): agreement with heavy on the
  same crops (``px_to_heavy`` mean px error, ``pck@0.2_vs_heavy`` with heavy's keypoints as the
  reference and their box as normaliser), its fps next to ``heavy_fps`` and ``full_fps`` (the
  BlazePose landmark models on the same crops, same run).

Keys: ``pck@0.2`` (bbox-max normaliser over labelled joints, image pixels), ``accel_error`` (of
each clip's trajectory against the ground truth, px/frame²), ``gflops_per_frame`` (torch's FLOP
counter: the initializer's per call, the small step's per frame; DKD's average uses how often
the initializer actually ran; BlazePose's TFLite graphs are not counted: null), ``fps`` (frames
per wall second of the model calls and the keypoint decoding, crops prepared beforehand, batch 1,
``threads`` torch threads, all rows in the same run; the torch rows run 3 times, interleaved, and
report the median). The first 8 test clips (64 frames each); ``--quick``: the first 2.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

THREADS = 1
QUICK_CLIPS = 2
FULL_CLIPS = 8  # BlazePose heavy, run on every frame for the reference, is the slow part
RENDERER = 3  # the synth-single data the shipped dkd, dkd-no-adversarial, dkd-small were trained on
REPEATS = 3  # interleaved timing rounds of the torch rows (median)
ROWS = ("large-per-frame", "small-per-frame", "dkd", "dkd-no-adversarial", "dkd-no-reinit",
        "dkd-from-blazepose-heavy")
LABELLED_CONFIG = "configs/dkd_synth_single.toml"
HEAVY_CONFIG = "configs/dkd_blazepose_heavy_videos.toml"
# Stage 2: free running on clips of 9 frames (the discriminator judges the last 8; its first layer
# starts afresh, having judged 4 in stage 1).
STAGE2 = ("model.free_running=true", "optim.epochs=1", "data.clip_length=9", "model.adversarial_length=8",
          "optim.batch_size=8", "data.max_samples=512")
# shipped name -> (weight stem, config, training stages: --set overrides per stage)
TRAINED: dict[str, tuple[str, str, tuple[tuple[str, ...], ...]]] = {
    "dkd": ("dkd_synth_single", LABELLED_CONFIG, ((), STAGE2)),
    "dkd-no-adversarial": ("dkd_no_adversarial_synth_single", LABELLED_CONFIG,
                           (("model.adversarial_weight=0",), ("model.adversarial_weight=0", *STAGE2))),
    "dkd-small": ("dkd_small_synth_single", LABELLED_CONFIG,
                  (("model.distillator=false", "model.adversarial_weight=0", "optim.epochs=4"),)),
    "dkd-blazepose-heavy": ("dkd_blazepose_heavy_videos", HEAVY_CONFIG, ((),)),
}


def train_rows(data_root: str, video_root: str, out: str | Path, names=None) -> list[Path]:
    """Train each shipped model (stage after stage, each from the previous one's last checkpoint) and
    ship it to ``vidpose/weights/<stem>.safetensors`` with the commands that made it."""
    from vidpose.methods import weights_dir
    from vidpose.models.checkpoint import read_checkpoint
    from vidpose.training.config import load_config
    from vidpose.training.ship import ship
    from vidpose.training.trainer import train

    out = Path(out)
    shipped = []
    for name in names or TRAINED:
        stem, config, stages = TRAINED[name]
        root = video_root if config == HEAVY_CONFIG else data_root
        commands, prev = [], None
        for i, sets in enumerate(stages):
            run_dir = out / f"{stem}_stage{i + 1}"
            sets = [f"data.root={root}", *sets] + ([f"run.init_from={prev}"] if prev else [])
            cfg = load_config(config, [*sets, f"run.out_dir={run_dir}"])
            last = run_dir / "last.safetensors"
            if last.is_file() and read_checkpoint(last, weights=False).extra.get("config_sha256") == cfg.sha256():
                print(f"{run_dir}: finished with this config (sha256 {cfg.sha256()[:12]}); not trained again")
            else:
                train(cfg, quiet=True)
            commands.append(f"OMP_NUM_THREADS=1 vidpose train {config} " + " ".join(f"--set {x}" for x in sets)
                            + f" --out {run_dir} --quiet")
            prev = run_dir / "last.safetensors"
        trained_on = "synth-single renders, renderer 3 (unlabelled videos), BlazePose heavy as teacher" if config == HEAVY_CONFIG \
            else "synth-single, renderer 3 (synthetic people)"
        shipped.append(ship(prev.parent, weights_dir() / f"{stem}.safetensors", " && ".join(commands), trained_on,
                            ship_command=f"python -m vidpose.bench.dkd train {data_root} {video_root} {out} {name}"))
    return shipped


def _tracks(pose, input_size):
    """Per clip: crops (T, 3, H, W) normalised, crop->image affines, ground truth (T, J, 3)."""
    import torch

    from vidpose.data.topdown import AugConfig, TopDownDataset
    from vidpose.io.images import normalize_rgb

    td = TopDownDataset(pose, input_size, codec=None, train=False, aug=AugConfig())
    by_frame = {it.frame: i for i, it in enumerate(td.items)}
    tracks = []
    for idx in pose.sequences.values():
        items = [by_frame[f] for f in idx if f in by_frame]
        crops, affs, gts = [], [], []
        for i in items:
            crop, _, m, _ = td.crop(i)
            it = td.items[i]
            crops.append(crop)
            affs.append(m)
            gts.append(np.asarray(pose.frames[it.frame].persons[it.person].keypoints, np.float64))
        tracks.append({"x": torch.from_numpy(normalize_rgb(np.stack(crops))), "affine": np.stack(affs),
                       "gt": np.stack(gts)})
    return tracks


def _score(preds: list[np.ndarray], tracks: list[dict], ref: str = "gt") -> dict:
    """pck@0.2 and accel_error of image-pixel predictions against each track's ``ref`` keypoints."""
    from vidpose.metrics.keypoints import bbox_max_norm, pck
    from vidpose.metrics.temporal import accel_error_sum

    p = np.concatenate(preds)
    g = np.concatenate([t[ref] for t in tracks])
    vis = g[..., 2] > 0
    norm = bbox_max_norm(g, vis)
    keep = norm > 0
    res = pck(p[keep], g[keep, :, :2], vis[keep], norm[keep], 0.2)
    acc, n = 0.0, 0
    for pr, t in zip(preds, tracks):
        s, c = accel_error_sum(pr, t[ref][..., :2], (t[ref][..., 2] > 0).all(axis=1))
        acc, n = acc + s, n + c
    err = np.linalg.norm(p - g[..., :2], axis=-1)[vis]
    return {"pck@0.2": float(res.mean), "accel_error": acc / max(n, 1), "mean_px_error": float(err.mean())}


def _run_tracks(step, tracks: list[dict]) -> tuple[list[np.ndarray], float, int]:
    """``step(x (1, 3, H, W), state) -> (keypoints (1, K, 3) crop pixels, state)`` over every track in
    frame order -> (image-pixel predictions per track, wall seconds, frames)."""
    from vidpose.geometry import crop_points_to_image

    preds, seconds, frames = [], 0.0, 0
    for t in tracks:
        state, out = None, []
        t0 = time.perf_counter()
        for i in range(len(t["x"])):
            kp, state = step(t["x"][i : i + 1], state, t, i)
            out.append(kp[0, :, :2])
        seconds += time.perf_counter() - t0
        frames += len(t["x"])
        preds.append(crop_points_to_image(np.stack(out), t["affine"]))
    return preds, seconds, frames


def _dkd_step(model):
    from vidpose.geometry import invert_affine

    def step(x, state, track, i):
        hm, (state,) = model.track_step(x, [state], invert_affine(track["affine"][i])[None])
        return model.codec.decode({"heatmaps": hm.float().numpy()}), state
    return step


def _per_frame_step(model):
    def step(x, state, track, i):
        import torch

        with torch.no_grad():
            out = model(x)
        return model.codec.decode({"heatmaps": out["heatmaps"].float().numpy()}), None
    return step


def _gflops(model) -> tuple[float, float | None]:
    """(GFLOPs of one small step, GFLOPs of one initializer call or None when not counted)."""
    from vidpose.models.flops import count_flops

    small = count_flops(model.small_flops_model(), tuple(model.cfg.input_size))["gflops"]
    init = model.initializer
    big = count_flops(init)["gflops"] if init is not None and hasattr(init, "parameters") else None
    return small, big


def evaluate(pose, repeats: int = REPEATS) -> list[dict]:
    """The rows (see the module docstring) on every sequence of ``pose`` (one person per frame).

    The torch rows run ``repeats`` times, interleaved (large, small, dkd, ... large, small, ...), and
    report the median wall time, so a change in machine load hits every row alike."""
    import statistics

    import torch

    from vidpose.methods import load

    prev_threads = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        dkd = load("dkd")
        tracks = _tracks(pose, tuple(dkd.cfg.input_size))
        no_reinit = load("dkd")
        no_reinit.cfg.reinit_every, no_reinit.cfg.reinit_confidence = 0, 0.0
        models = {"large-per-frame": dkd.initializer, "small-per-frame": load("dkd-small"), "dkd": dkd,
                  "dkd-no-adversarial": load("dkd-no-adversarial"), "dkd-no-reinit": no_reinit}
        runs: dict[str, dict] = {name: {"seconds": []} for name in models}
        for _ in range(repeats):
            for name, model in models.items():
                step = _per_frame_step(model) if name == "large-per-frame" else _dkd_step(model)
                if name != "large-per-frame":
                    model.counts = {"initializer": 0, "small": 0}
                preds, sec, n = _run_tracks(step, tracks)
                runs[name].update(preds=preds, frames=n)
                runs[name]["seconds"].append(sec)
        small_g, large_g = _gflops(dkd)
        rows: list[dict] = []
        for name, model in models.items():
            r = runs[name]
            n = r["frames"]
            row = {"name": name, **_score(r["preds"], tracks), "fps": n / statistics.median(r["seconds"]),
                   "frames": n, "repeats": repeats}
            if name == "large-per-frame":
                row.update(gflops_per_frame=large_g, model=dkd.cfg.initializer)
            elif name == "small-per-frame":
                row.update(gflops_per_frame=_gflops(model)[0], model="dkd-small")
            else:
                inits = model.counts["initializer"]
                s, g = _gflops(model)
                row.update(gflops_per_frame=s + g * inits / n, initializer_frames=inits,
                           model="dkd" if name != "dkd-no-adversarial" else name,
                           reinit_every=model.cfg.reinit_every, reinit_confidence=model.cfg.reinit_confidence)
            rows.append(row)
        rows.append(_heavy_row(tracks))
    finally:
        torch.set_num_threads(prev_threads)
    return rows


def claims(rows: list[dict]) -> dict[str, bool]:
    """The paper's claims, checked on the rows."""
    by = {r["name"]: r for r in rows}
    lg, dk = by["large-per-frame"], by["dkd"]
    return {
        "dkd_within_1_pck_point_of_large": bool(dk["pck@0.2"] >= lg["pck@0.2"] - 0.01),
        "dkd_5x_fewer_gflops_than_large": bool(dk["gflops_per_frame"] * 5 <= lg["gflops_per_frame"]),
        "dkd_2x_fps_of_large": bool(dk["fps"] >= 2 * lg["fps"]),
        "adversarial_lowers_accel_error": bool(dk["accel_error"] < by["dkd-no-adversarial"]["accel_error"]),
    }


def run(quick: bool = False) -> dict:
    from vidpose.bench.clnet import load_test
    from vidpose.errors import InputError
    from vidpose.methods import PRETRAINED, pretrained_path

    t_start = time.perf_counter()
    missing = [n for n in TRAINED if n not in PRETRAINED or not pretrained_path(n).is_file()]
    if missing:
        raise InputError(f"vidpose bench dkd: shipped checkpoints missing: {', '.join(missing)} "
                         "(python -m vidpose.bench.dkd train ...)")
    # the shipped dkd-* weights (and their simplebaseline initializer) were trained on renderer-3 clips
    pose = load_test(QUICK_CLIPS if quick else FULL_CLIPS, renderer=RENDERER)
    rows = evaluate(pose)
    return {"suite": "dkd", "rows": rows, "claims": claims(rows), "quick": bool(quick), "threads": THREADS,
            "clips": len(pose.sequences), "frames": rows[0]["frames"], "seconds": time.perf_counter() - t_start}


def _heavy_row(tracks: list[dict]) -> dict:
    """dkd-blazepose-heavy against BlazePose heavy on the same crops, with heavy's and full's fps."""
    from vidpose.geometry import crop_points_to_image
    from vidpose.methods import load
    from vidpose.methods.base import BlazePoseTeacher

    model = load("dkd-blazepose-heavy")
    model.counts = {"initializer": 0, "small": 0}
    preds, sec, n = _run_tracks(_dkd_step(model), tracks)
    fps = {}
    for which in ("heavy", "full"):
        teacher = BlazePoseTeacher(which)
        out, t0 = [], time.perf_counter()
        for t in tracks:
            kp = np.concatenate([teacher(t["x"][i : i + 1]).numpy() for i in range(len(t["x"]))])
            out.append(kp)
        fps[which] = n / (time.perf_counter() - t0)
        if which == "heavy":
            for t, kp in zip(tracks, out):
                ref = crop_points_to_image(kp[:, :, :2], t["affine"])
                t["heavy"] = np.concatenate([ref, np.ones_like(ref[..., :1])], axis=-1)
    vs_heavy = _score(preds, tracks, "heavy")
    small_g, _ = _gflops(model)
    return {"name": "dkd-from-blazepose-heavy", **_score(preds, tracks), "pck@0.2_vs_heavy": vs_heavy["pck@0.2"],
            "px_to_heavy": vs_heavy["mean_px_error"], "gflops_per_frame": None,
            "small_gflops_per_frame": small_g, "initializer_frames": model.counts["initializer"], "frames": n,
            "fps": n / sec, "heavy_fps": fps["heavy"], "full_fps": fps["full"], "model": "dkd-blazepose-heavy"}


def agreement(reference_dir: str | Path, other_dir: str | Path, min_score: float = 0.5) -> dict:
    """Agreement of one ``vidpose run`` output folder with another's (e.g. a DKD student with BlazePose
    heavy on a video without ground truth), both written with ``--skeleton coco17``: each reference
    person of a frame is matched to the other run's closest person (mean distance over its joints
    scoring at least ``min_score``); PCK@0.2 with the reference's keypoint box as normaliser, mean px
    error, and both runs' estimate-stage seconds."""
    from vidpose.io.jsonfile import read_json
    from vidpose.metrics.keypoints import bbox_max_norm, pck

    def frames(d):
        return {f["index"]: [np.asarray(p["keypoints"], np.float64) for p in f["persons"]]
                for f in read_json(Path(d) / "poses.json")["frames"]}

    ref, other = frames(reference_dir), frames(other_dir)
    preds, refs = [], []
    for i, people in ref.items():
        cand = other.get(i, [])
        for g in people:
            ok = g[:, 2] >= min_score
            if ok.sum() < 4 or not cand:
                continue
            d = [float(np.linalg.norm(c[ok, :2] - g[ok, :2], axis=1).mean()) for c in cand]
            preds.append(cand[int(np.argmin(d))][:, :2])
            refs.append(np.c_[g[:, :2], ok])
    if not preds:
        from vidpose.errors import InputError

        raise InputError(f"{reference_dir}, {other_dir}: no reference person (>= 4 joints scoring {min_score}) "
                         "has a person in the other run on the same frame")
    p, g = np.asarray(preds), np.asarray(refs)
    vis = g[..., 2] > 0
    res = pck(p, g[..., :2], vis, bbox_max_norm(g, vis), 0.2)
    secs = [read_json(Path(d) / "run.json")["seconds"]["estimate"] for d in (reference_dir, other_dir)]
    return {"persons": len(p), "pck@0.2": float(res.mean),
            "mean_px_error": float(np.linalg.norm(p - g[..., :2], axis=-1)[vis].mean()),
            "reference_estimate_s": secs[0], "estimate_s": secs[1]}


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    import sys

    if len(sys.argv) >= 5 and sys.argv[1] == "train":
        for p in train_rows(sys.argv[2], sys.argv[3], sys.argv[4], names=sys.argv[5:] or None):
            print(p)
    elif len(sys.argv) == 4 and sys.argv[1] == "agreement":
        print(agreement(sys.argv[2], sys.argv[3]))
    else:
        sys.exit("usage: python -m vidpose.bench.dkd train SYNTH_SINGLE_ROOT VIDEO_ROOT OUT_DIR [NAME ...]   "
                 "(in the repository root)\n       python -m vidpose.bench.dkd agreement REFERENCE_RUN OTHER_RUN")
