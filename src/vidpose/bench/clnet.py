"""Benchmark suite ``clnet``: composite localisation (CLNet) vs Gaussian heatmaps, on synth-single.

Evaluates the weights shipped in ``vidpose/weights/`` (trained on the
synth-single train subset with ``configs/*_synth_single.toml``, see
docs/models.md "Shipped weights") on the synth-single **test** subset, top-down
with ground-truth boxes:

* crops: :class:`vidpose.data.topdown.TopDownDataset` in eval mode (no
  augmentation, box padding 1.25 as in training);
* predictions (``PoseModel.predict``, crop pixels) are mapped back to image
  pixels through each crop's affine;
* ``pck@0.2``: :func:`vidpose.metrics.keypoints.pck` with the bbox-max
  normaliser over labelled joints (visibility > 0, occluded ones included),
  exactly the trainer's ``val_pck``;
* ``pck@0.2_visible``: the same over the joints marked visible (2) only;
  ``pck@0.1``: the labelled joints at half the threshold (finer localisation);
* ``oks_ap``: :func:`vidpose.metrics.coco.coco_keypoint_ap` (pycocotools) on the
  same predictions; GT area = the synth annotation's ``area`` (its box area),
  result score = mean predicted keypoint score;
* ``gflops`` / ``params_m``: :func:`vidpose.models.flops.count_flops` (FLOPs,
  not MACs);
* ``cpu_ms``: batch-1 forward latency in this process, median of N timed runs
  after warm-up, with ``torch.set_num_threads(THREADS)``; the models are timed
  round-robin (one run of each model per round), so background load affects
  them alike and the ratios stay meaningful.

The test subset is generated on first use under
``vidpose.store.home()/synth/renderer3/synth-single/test`` with the synth generator
(renderer 3, seed 0, byte-identical to ``vidpose synth --split synth-single --seed 0``).
Other benches read the same cache through :func:`ensure_clips` / :func:`load_test`,
each naming its renderer (renderer 2's clips are kept in ``.../synth/synth-single``).
``quick`` uses the first 2 test clips (128 frames) and fewer timing runs.

``python -m vidpose.bench.clnet ship RUN_DIR DEST COMMAND`` turns a training
run's ``last.safetensors`` into a shipped weight file (float16 weights, the
training command and final validation metrics in the checkpoint's ``extra``).
"""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path

import numpy as np

# (row name, weight file stem in vidpose/weights/). The file stem is the config stem.
ROWS: tuple[tuple[str, str], ...] = (
    ("simplebaseline", "simplebaseline_synth_single"),
    ("clnet", "clnet_synth_single"),
    ("simplebaseline-s8", "simplebaseline_s8_synth_single"),
    ("simplebaseline-s16", "simplebaseline_s16_synth_single"),
    ("clnet-s16", "clnet_s16_synth_single"),
    ("hourglass", "hourglass_synth_single"),
    ("clnet-hourglass", "clnet_hourglass_synth_single"),
)
# (result key, candidate row, reference row): the claim "CLNet >= SimpleBaseline accuracy at
# <= 0.6x its GFLOPs" and the same at equal (low) heatmap resolution.
PAIRS: tuple[tuple[str, str, str], ...] = (
    ("clnet_vs_simplebaseline", "clnet", "simplebaseline"),
    ("clnet_hourglass_vs_hourglass", "clnet-hourglass", "hourglass"),
    ("clnet_vs_simplebaseline_s8", "clnet", "simplebaseline-s8"),
    ("clnet_s16_vs_simplebaseline_s16", "clnet-s16", "simplebaseline-s16"),
)
CLAIM_GFLOPS_RATIO = 0.6
PCK_ALPHA = 0.2
THREADS = 1  # torch threads for the latency measurement (and the whole suite)
SPLIT, SUBSET, SEED = "synth-single", "test", 0
RENDERER = 3  # the shipped weights were trained on renderer-3 synth-single (docs/models.md)
QUICK_CLIPS = 2
BATCH = 64


def weight_path(stem: str) -> Path:
    from vidpose.methods import weights_dir

    return weights_dir() / f"{stem}.safetensors"


def data_root(renderer: int | None = None) -> Path:
    """Where the synth-single clips of ``renderer`` (None: the split's default) are generated and read:
    ``<home>/synth/synth-single`` for renderer 2, ``<home>/synth/renderer<N>/synth-single`` otherwise."""
    from vidpose.store import home

    r = _renderer(renderer)
    return home() / "synth" / SPLIT if r == 2 else home() / "synth" / f"renderer{r}" / SPLIT


def _renderer(renderer: int | None) -> int:
    from vidpose.data.synth.generate import get_split

    return get_split(SPLIT).renderer if renderer is None else int(renderer)


def _recorded_renderer(ann: Path) -> int:
    """The renderer version recorded in a clip's annotations (1 when absent: the first renderer)."""
    from vidpose.io.jsonfile import read_json

    return int(read_json(ann).get("renderer", 1))


def ensure_test_clips(n: int | None = None, renderer: int | None = None) -> Path:
    """Generate the missing clips among the first ``n`` (default: all) test clips; return the root."""
    return ensure_clips(SUBSET, n, renderer)


def ensure_clips(subset: str, n: int | None = None, renderer: int | None = None) -> Path:
    """Generate the missing clips among the first ``n`` (default: all) clips of ``subset`` with
    ``renderer`` (None: the split's default); return the root (:func:`data_root`).

    Each clip is written atomically by the generator, so a clip folder with an
    ``annotations.json`` is complete; clip ``k`` depends only on (seed, split, subset, k, renderer).
    A clip whose recorded renderer version differs (an older renderer) is made again.
    """
    from vidpose.data.synth.generate import generate_clip, get_split, renderer_version

    cfg = get_split(SPLIT)
    renderer = _renderer(renderer)
    version = renderer_version(renderer)
    total = cfg.clips[subset]
    n = total if n is None else min(int(n), total)
    out_dir = data_root(renderer) / subset
    for k in range(n):
        ann = out_dir / f"{subset}_{k:05d}" / "annotations.json"
        if not ann.is_file() or _recorded_renderer(ann) != version:
            if ann.is_file():  # made by an older renderer: same labels, other pixels
                shutil.rmtree(ann.parent)
            generate_clip(cfg, subset, k, SEED, out_dir, renderer=renderer)
    return data_root(renderer)


def load_test(n_clips: int | None = None, renderer: int | None = None):
    """The synth-single test subset (its first ``n_clips`` clips) of ``renderer`` (None: the split's
    default) as a PoseDataset."""
    from vidpose.data.synth import read_synth
    from vidpose.data.annotations import PoseDataset

    root = ensure_test_clips(n_clips, renderer)
    ds = read_synth(root, SUBSET)
    if n_clips is None:
        return ds
    keep = [f"{SUBSET}_{k:05d}" for k in range(n_clips)]
    frames, seqs = [], {}
    for name in keep:
        idx = ds.sequences[name]
        seqs[name] = list(range(len(frames), len(frames) + len(idx)))
        frames += [ds.frames[i] for i in idx]
    return PoseDataset(name=ds.name, skeleton=ds.skeleton, keypoint_names=ds.keypoint_names,
                       frames=frames, sequences=seqs, fps=ds.fps)


class _Crops:
    """Eval crops of every labelled person at one input size (uint8, normalised per batch)."""

    def __init__(self, pose, input_size: tuple[int, int]) -> None:
        from vidpose.data.topdown import AugConfig, TopDownDataset

        td = TopDownDataset(pose, input_size, codec=None, train=False, aug=AugConfig())
        imgs, aff, gts, fids, persons = [], [], [], [], []
        for i in range(len(td)):
            crop, _, m, _ = td.crop(i)
            it = td.items[i]
            imgs.append(crop)
            aff.append(m)
            gts.append(np.asarray(pose.frames[it.frame].persons[it.person].keypoints, np.float64))
            fids.append(it.frame)
            persons.append(pose.frames[it.frame].persons[it.person])
        self.images = np.stack(imgs)  # (N, H, W, 3) uint8 RGB
        self.affines = np.stack(aff)
        self.gt = np.stack(gts)  # (N, J, 3) image pixels
        self.frame_ids = np.asarray(fids)
        self.persons = persons
        self.mean, self.std = td.mean, td.std

    def batch(self, lo: int, hi: int):
        import torch

        x = (self.images[lo:hi].astype(np.float32) / 255.0 - self.mean) / self.std
        return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def predict_image_pixels(model, crops: _Crops) -> np.ndarray:
    """(N, J, 3): x, y in image pixels, score."""
    import torch

    from vidpose.geometry import crop_points_to_image

    out = []
    with torch.no_grad():
        for lo in range(0, len(crops.images), BATCH):
            p = model.predict(crops.batch(lo, lo + BATCH)).numpy().astype(np.float64)
            p[:, :, :2] = crop_points_to_image(p[:, :, :2], crops.affines[lo:lo + len(p)])
            out.append(p)
    return np.concatenate(out)


def score(pred: np.ndarray, crops: _Crops) -> dict[str, float]:
    """pck@0.2 (bbox-max, labelled joints; also visible-only and @0.1), COCO OKS AP and mean pixel error of ``pred``."""
    from vidpose.metrics.coco import coco_keypoint_ap, keypoint_coco_dicts
    from vidpose.metrics.keypoints import bbox_max_norm, pck

    gt = crops.gt
    vis = gt[..., 2] > 0
    norm = bbox_max_norm(gt, vis)
    keep = norm > 0
    res = pck(pred[keep, :, :2], gt[keep, :, :2], vis[keep], norm[keep], PCK_ALPHA)
    res_vis = pck(pred[keep, :, :2], gt[keep, :, :2], gt[keep, :, 2] == 2, norm[keep], PCK_ALPHA)
    res_fine = pck(pred[keep, :, :2], gt[keep, :, :2], vis[keep], norm[keep], PCK_ALPHA / 2)
    err = np.linalg.norm(pred[..., :2] - gt[..., :2], axis=-1)
    areas = [float(p.area) if p.area else float((p.bbox[2] - p.bbox[0]) * (p.bbox[3] - p.bbox[1]))
             for p in crops.persons]
    coco_gt, results = keypoint_coco_dicts(
        sorted(set(crops.frame_ids.tolist())), crops.frame_ids, gt, [p.bbox for p in crops.persons], areas,
        crops.frame_ids, pred, pred[:, :, 2].mean(axis=1),
    )
    ap = coco_keypoint_ap(coco_gt, results)
    return {"pck@0.2": float(res.mean), "pck@0.2_visible": float(res_vis.mean), "pck@0.1": float(res_fine.mean),
            "oks_ap": float(ap["AP"]), "oks_ap50": float(ap["AP50"]),
            "mean_px_error": float(err[vis].mean())}


def _latency(models: dict, input_sizes: dict, warmup: int, runs: int) -> dict[str, float]:
    """Median batch-1 forward time (ms) of each model, timed round-robin."""
    import torch

    xs = {n: torch.randn(1, 3, *input_sizes[n], generator=torch.Generator().manual_seed(0)) for n in models}
    times: dict[str, list[float]] = {n: [] for n in models}
    with torch.no_grad():
        for n, m in models.items():
            for _ in range(warmup):
                m(xs[n])
        for _ in range(runs):
            for n, m in models.items():
                t0 = time.perf_counter()
                m(xs[n])
                times[n].append((time.perf_counter() - t0) * 1e3)
    return {n: statistics.median(v) for n, v in times.items()}


def run(quick: bool = False) -> dict:
    import torch

    from vidpose.methods import load
    from vidpose.models.flops import count_flops

    t_start = time.perf_counter()
    prev_threads = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        n_clips = QUICK_CLIPS if quick else None
        pose = load_test(n_clips, RENDERER)
        models, missing = {}, []
        for name, stem in ROWS:
            p = weight_path(stem)
            if p.is_file():
                models[name] = (stem, load(p))
            else:
                missing.append(p.name)
        crops: dict[tuple[int, int], _Crops] = {}
        rows = []
        for name, (stem, model) in models.items():
            cfg = model.cfg
            size = tuple(cfg.input_size)
            if size not in crops:
                crops[size] = _Crops(pose, size)
            c = crops[size]
            pred = predict_image_pixels(model, c)
            fl = count_flops(model)
            row = {"name": name, "arch": model.method, "heatmap_stride": cfg.heatmap_stride,
                   "input_size": list(size), **score(pred, c),
                   "gflops": fl["gflops"], "params_m": fl["params_m"], "weights": f"{stem}.safetensors"}
            rows.append(row)
        lat = _latency({n: m for n, (_, m) in models.items()},
                       {n: tuple(m.cfg.input_size) for n, (_, m) in models.items()},
                       warmup=3 if quick else 10, runs=15 if quick else 100)
        for r in rows:
            r["cpu_ms"] = lat[r["name"]]
        # Column order: the metrics first.
        order = ["name", "pck@0.2", "pck@0.2_visible", "pck@0.1", "oks_ap", "oks_ap50", "mean_px_error", "gflops", "params_m", "cpu_ms",
                 "heatmap_stride", "input_size", "arch", "weights"]
        rows = [{k: r[k] for k in order} for r in rows]
        by = {r["name"]: r for r in rows}
        result: dict = {"suite": "clnet", "rows": rows}
        for key, cand, ref in PAIRS:
            if cand in by and ref in by:
                a, b = by[cand], by[ref]
                d = {"pck_delta": a["pck@0.2"] - b["pck@0.2"], "oks_ap_delta": a["oks_ap"] - b["oks_ap"],
                     "gflops_ratio": a["gflops"] / b["gflops"], "cpu_ms_ratio": a["cpu_ms"] / b["cpu_ms"]}
                d["claim_holds"] = bool(d["pck_delta"] >= 0 and d["gflops_ratio"] <= CLAIM_GFLOPS_RATIO)
                result[key] = d
        n_persons = len(next(iter(crops.values())).gt) if crops else 0
        result.update({
            "data": f"{SPLIT}/{SUBSET}", "renderer": RENDERER, "test_clips": len(pose.sequences), "test_frames": len(pose.frames),
            "test_persons": n_persons, "threads": THREADS, "quick": bool(quick),
            "missing_weights": missing, "torch": torch.__version__,
            "seconds": time.perf_counter() - t_start,
        })
        return result
    finally:
        torch.set_num_threads(prev_threads)


def ship(run_dir: str | Path, dest: str | Path, command: str, half: bool = True,
         ship_command: str | None = None) -> Path:
    """Ship a synth-single training run (see :func:`vidpose.training.ship.ship`)."""
    from vidpose.training.ship import ship as ship_run

    return ship_run(run_dir, dest, command, SYNTH_TRAINED_ON, half, ship_command)


SYNTH_TRAINED_ON = "synth-single train, renderer 3 (vidpose synth --split synth-single --subset all --seed 0)"


def recorded_config(command: str, base: str | Path = "."):
    """The training config that a recorded ``[ENV=..] vidpose train CONFIG [--set K=V ...] [--out D]``
    command ran (CONFIG relative to ``base``, the repository root)."""
    import shlex

    from vidpose.errors import InputError
    from vidpose.training.config import load_config

    words = [w for w in shlex.split(command) if "=" not in w or w.startswith("-") or _is_argument(w)]
    # (environment assignments such as OMP_NUM_THREADS=1 before the program name are dropped)
    try:
        i = words.index("train")
    except ValueError:
        raise InputError(f"recorded command {command!r} is not a 'vidpose train' command") from None
    config, rest = words[i + 1], words[i + 2:]
    overrides = []
    for flag, value in zip(rest, rest[1:] + [""]):
        if flag == "--set":
            overrides.append(value)
        elif flag == "--out":
            overrides.append(f"run.out_dir={value}")
    return load_config(Path(base) / config, overrides)


def _is_argument(word: str) -> bool:
    """A ``K=V`` word that is an argument (``data.root=...``), not an environment assignment (``OMP_NUM_THREADS=1``)."""
    return "." in word.split("=", 1)[0]


def provenance(command: str, data_root: str | Path, base: str | Path = ".") -> dict:
    """What the trainer records for the run of ``command`` on the data in ``data_root``:
    ``config_sha256`` and the data identity (generator, size, hash of the labels)."""
    from vidpose.methods import get

    cfg = recorded_config(command, base)
    cfg.data.root = str(data_root)
    objective = get(cfg.method).objective(cfg, get(cfg.method).build(cfg.model))
    objective.train_set()
    return {"config_sha256": cfg.sha256(), "data": objective.data_identity()}


def restamp(data_root: str | Path, base: str | Path = ".") -> list[Path]:
    """Set ``config_sha256`` and ``data`` (from :func:`provenance`) in every shipped weight file of
    ``ROWS``, keeping the weights bit for bit. ``data_root`` holds the synth-single split the
    recorded ``trained_on`` command makes."""
    from vidpose.models.checkpoint import read_checkpoint
    from vidpose.training.ship import restamp as restamp_file

    done = []
    for _, stem in ROWS:
        path = weight_path(stem)
        command = read_checkpoint(path, weights=False).extra["command"]
        done.append(restamp_file(path, provenance(command, data_root, base)))
    return done


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    import shlex
    import sys

    if len(sys.argv) == 5 and sys.argv[1] == "ship":
        print(ship(sys.argv[2], sys.argv[3], sys.argv[4],
                   ship_command="python -m vidpose.bench.clnet " + " ".join(shlex.quote(a) for a in sys.argv[1:])))
    elif len(sys.argv) == 3 and sys.argv[1] == "restamp":
        print("\n".join(str(p) for p in restamp(sys.argv[2])))
    else:
        sys.exit("usage: python -m vidpose.bench.clnet ship RUN_DIR DEST 'TRAINING COMMAND'\n"
                 "       python -m vidpose.bench.clnet restamp SYNTH_SINGLE_ROOT   (run in the repository root)")
