"""Benchmark suite ``css``: disentangled contrastive self-supervision vs its baselines, probed with few labels.

Rows: ``scratch`` (the css encoder + regressor trained end to end on the labels only),
``contrastive-full-latent`` (InfoNCE on the whole latent, no reconstruction, no gradual term),
``css-disentangled`` (InfoNCE on the pose part, appearance-swap reconstruction, gradual term),
``css-no-recon`` and ``css-no-gradual`` (one term switched off). Each pretrained row is a shipped
encoder (``vidpose/weights/css_*.safetensors``, pretrained on unlabelled synth-single train clips
by ``python -m vidpose.bench.css train``, which records the command in each file); ``scratch``
has none.

For each row and label fraction f in 1%, 5%, 10%, 100% a probe (``css-probe``, the config
``configs/css_probe_synth_single.toml``) is trained through the trainer on f of the synth-single
train subset's labelled crops (drawn with seed 0; the same steps for every f), on the frozen pose
part of the encoder (the whole latent for ``contrastive-full-latent``), and scored on the
synth-single test subset: ``pck@0.2@f`` (image pixels, bbox-max normaliser over labelled joints)
and ``mpjpe_mm@f`` (root-relative COCO-17 camera-frame joints from the synth annotations'
``keypoints_3d``, root = mid-hip, millimetres).

``claim@f`` (f = 1, 5, 10%): css-disentangled's MPJPE over contrastive-full-latent's and over
scratch's (the paper: about 0.5 against standard contrastive), and whether css-disentangled has
the lowest MPJPE and highest PCK of the three. Most synth-single test clips use motions that no
train clip has (the held-out mocap clips); ``seen_motions`` repeats the rows and claims on the
test clips whose motions all occur in the train subset (unseen people, camera paths and
backgrounds, like a new subject of a known action). ``--quick``: probes on the first 24 train
clips, fewer steps, scored on 2 test clips.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

ROWS = ("scratch", "contrastive-full-latent", "css-disentangled", "css-no-recon", "css-no-gradual")
# row -> --set overrides of the pretraining config
PRETRAIN_ROWS: dict[str, tuple[str, ...]] = {
    "contrastive-full-latent": ("model.contrast_on=full", "model.reconstruction=false", "model.gradual=false"),
    "css-disentangled": (),
    "css-no-recon": ("model.reconstruction=false",),
    "css-no-gradual": ("model.gradual=false",),
}
# row -> --set overrides of the probe config
PROBE_ROWS: dict[str, tuple[str, ...]] = {
    "scratch": ("model.freeze_encoder=false",),
    "contrastive-full-latent": ("model.latent=full",),
    "css-disentangled": (),
    "css-no-recon": (),
    "css-no-gradual": (),
}
FRACTIONS = ((0.01, "1%"), (0.05, "5%"), (0.10, "10%"), (1.0, "100%"))
PRETRAIN_CONFIG = "configs/css_synth_single.toml"
PROBE_CONFIG = "configs/css_probe_synth_single.toml"
QUICK_TRAIN_CLIPS, QUICK_TEST_CLIPS = 24, 2
QUICK_PROBE = ("optim.epochs=2", "model.epoch_samples=2048")
ROOT_JOINTS = (11, 12)  # css-probe's default model.root_joints (the probe config keeps it): COCO-17 hips
TRAINED_ON = "synth-single train clips, no labels (vidpose synth --split synth-single --subset all --seed 0 --renderer 3)"
RENDERER = 3  # the shipped css_* encoders were pretrained on renderer-3 clips: probe and test data stay on it


def weight_stem(row: str) -> str:
    return "css_" + row.removeprefix("css-").replace("-", "_")


def weight_path(row: str) -> Path:
    from vidpose.methods import weights_dir

    return weights_dir() / f"{weight_stem(row)}.safetensors"


def _repo_file(rel: str) -> Path:
    """A config of the repository (the bench runs from a checkout, like the other training benches)."""
    from vidpose.errors import InputError

    for base in (Path.cwd(), Path(__file__).resolve().parents[3]):
        if (base / rel).is_file():
            return base / rel
    raise InputError(f"{rel}: not found; run vidpose bench css from the repository root")


def train_rows(data_root: str | Path, out: str | Path, rows=None, threads: int = 1) -> list[Path]:
    """Pretrain every encoder row on unlabelled synth-single clips and ship it with the command that made it."""
    from vidpose.training.config import load_config
    from vidpose.training.trainer import train

    out = Path(out)
    for row in rows or PRETRAIN_ROWS:
        cfg = load_config(_repo_file(PRETRAIN_CONFIG), [*_pretrain_sets(row, data_root, threads),
                                                         f"run.out_dir={out / weight_stem(row)}"])
        train(cfg, quiet=True)
    return ship_rows(data_root, out, rows, threads, "train")


def _pretrain_sets(row: str, data_root: str | Path, threads: int) -> list[str]:
    return [f"data.root={data_root}", *PRETRAIN_ROWS[row], *([f"run.threads={threads}"] if threads != 1 else [])]


def ship_rows(data_root: str | Path, out: str | Path, rows=None, threads: int = 1, step: str = "ship") -> list[Path]:
    """Ship the finished pretraining runs ``out/<stem>`` as ``vidpose/weights/<stem>.safetensors``."""
    from vidpose.training.ship import ship

    out = Path(out)
    shipped = []
    for row in rows or PRETRAIN_ROWS:
        run_dir = out / weight_stem(row)
        command = (f"vidpose train {PRETRAIN_CONFIG} " + " ".join(f"--set {x}" for x in _pretrain_sets(row, data_root, threads))
                   + f" --out {run_dir} --quiet")
        shipped.append(ship(run_dir, weight_path(row), command, TRAINED_ON,
                            ship_command=f"python -m vidpose.bench.css {step} {data_root} {out} {row} --threads {threads}"))
    return shipped


def _bench_root(quick: bool, tmp: Path) -> Path:
    """A synth-single root with the probe's train clips and the test clips (quick: the first few, linked)."""
    from vidpose.bench.clnet import ensure_clips

    if not quick:
        ensure_clips("train", renderer=RENDERER)
        return ensure_clips("test", renderer=RENDERER)
    root = ensure_clips("train", QUICK_TRAIN_CLIPS, RENDERER)
    ensure_clips("test", QUICK_TEST_CLIPS, RENDERER)
    for subset, n in (("train", QUICK_TRAIN_CLIPS), ("test", QUICK_TEST_CLIPS)):
        (tmp / subset).mkdir(parents=True)
        for k in range(n):
            (tmp / subset / f"{subset}_{k:05d}").symlink_to(root / subset / f"{subset}_{k:05d}")
    return tmp


def probe(row: str, fraction: float, data_root: Path, out_dir: Path, extra: tuple[str, ...] = ()):
    """Train the probe of ``row`` on ``fraction`` of the labels; return the trained model."""
    from vidpose.methods import load
    from vidpose.training.config import load_config
    from vidpose.training.trainer import train

    sets = [f"data.root={data_root}", "data.val_subset=", f"model.label_fraction={fraction}",
            f"run.out_dir={out_dir}", *PROBE_ROWS[row], *extra]
    if row in PRETRAIN_ROWS:
        sets.append(f"run.init_from={weight_path(row)}")
    train(load_config(_repo_file(PROBE_CONFIG), sets), quiet=True)
    return load(out_dir / "last.safetensors")


def clip_motions(root: Path, subset: str) -> dict[str, list[str]]:
    """Clip name -> the motions the generator used (from each clip's annotations)."""
    from vidpose.io.jsonfile import read_json

    return {p.parent.name: list(read_json(p).get("motions", [])) for p in sorted((root / subset).glob("*/annotations.json"))}


def seen_motion_clips(root: Path) -> list[str]:
    """The test clips whose motions all occur in the train subset."""
    train_motions = {m for ms in clip_motions(root, "train").values() for m in ms}
    return [c for c, ms in clip_motions(root, "test").items() if set(ms) <= train_motions]


def mean_pose_mpjpe(train, test) -> float:
    """MPJPE (mm) of predicting the mean root-relative training pose for every test crop: the error
    of a regressor that learned nothing from the images."""
    import numpy as np

    from vidpose.metrics.pose3d import mpjpe
    from vidpose.objectives.probe import root_relative_3d

    mean = root_relative_3d(train, ROOT_JOINTS).mean(0)
    gt = root_relative_3d(test, ROOT_JOINTS)
    return mpjpe(np.broadcast_to(mean, gt.shape) * 1000.0, gt * 1000.0)


def _claims(by: dict) -> dict:
    out = {}
    if {"css-disentangled", "contrastive-full-latent", "scratch"} <= set(by):
        c, b, s = by["css-disentangled"], by["contrastive-full-latent"], by["scratch"]
        for _, lab in FRACTIONS[:3]:
            m, p = f"mpjpe_mm@{lab}", f"pck@0.2@{lab}"
            out[f"claim@{lab}"] = {
                "mpjpe_ratio_vs_contrastive": c[m] / b[m], "mpjpe_ratio_vs_scratch": c[m] / s[m],
                "pck_delta_vs_contrastive": c[p] - b[p], "pck_delta_vs_scratch": c[p] - s[p],
                "holds": bool(c[m] < min(b[m], s[m]) and c[p] > max(b[p], s[p]))}
    return out


def run(quick: bool = False, rows=None) -> dict:
    import torch

    from vidpose.data.loaders import DataConfig
    from vidpose.objectives.probe import probe_scores
    from vidpose.objectives.unlabelled import frame_crops

    t0 = time.perf_counter()
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    out_rows, seen_rows, missing, reference = [], [], [], {}
    try:
        with tempfile.TemporaryDirectory(prefix="vidpose-css-") as tmp:
            root = _bench_root(quick, Path(tmp) / "data")
            seen_clips = seen_motion_clips(root)
            test = seen = None
            for row in rows or ROWS:
                if row in PRETRAIN_ROWS and not weight_path(row).is_file():
                    missing.append(weight_path(row).name)
                    continue
                r: dict = {"name": row}
                r_seen: dict = {"name": row}
                for frac, label in FRACTIONS:
                    model = probe(row, frac, root, Path(tmp) / f"{row}_{label[:-1]}", QUICK_PROBE if quick else ())
                    if test is None:
                        test = frame_crops(DataConfig(root=str(root)), "test", tuple(model.cfg.input_size))
                        seen = test.select_sources(seen_clips)
                    for target, crops in ((r, test), (r_seen, seen)):
                        if len(crops):
                            s = probe_scores(model, crops)
                            target[f"mpjpe_mm@{label}"] = s["mpjpe_mm"]
                            target[f"pck@0.2@{label}"] = s["pck@0.2"]
                out_rows.append(r)
                if len(r_seen) > 1:
                    seen_rows.append(r_seen)
            if test is not None:  # what a regressor that learned nothing from the images scores
                train = frame_crops(DataConfig(root=str(root)), "train", tuple(test.images.shape[1:3]))
                reference["mean_train_pose_mpjpe_mm"] = mean_pose_mpjpe(train, test)
                if len(seen):
                    reference["mean_train_pose_mpjpe_mm_seen_motions"] = mean_pose_mpjpe(train, seen)
    finally:
        torch.set_num_threads(prev)
    order = ["name"] + [f"mpjpe_mm@{lab}" for _, lab in FRACTIONS] + [f"pck@0.2@{lab}" for _, lab in FRACTIONS]
    out_rows = [{k: r[k] for k in order} for r in out_rows]
    seen_rows = [{k: r[k] for k in order} for r in seen_rows]
    result: dict = {"suite": "css", "rows": out_rows, **_claims({r["name"]: r for r in out_rows})}
    result["seen_motions"] = {"clips": seen_clips, "rows": seen_rows,
                              **_claims({r["name"]: r for r in seen_rows})}
    result.update(reference)
    result.update({"data": "synth-single train (probe labels) / test (scores)",
                   "train_clips": QUICK_TRAIN_CLIPS if quick else "all", "test_clips": QUICK_TEST_CLIPS if quick else "all",
                   "quick": bool(quick), "missing_weights": missing, "torch": torch.__version__,
                   "seconds": time.perf_counter() - t0})
    return result


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    import sys

    args = sys.argv[1:]
    n_threads = 1
    if "--threads" in args:
        i = args.index("--threads")
        n_threads = int(args[i + 1])
        del args[i:i + 2]
    if args == ["mean-pose"]:  # the reference rows of run(quick=False) alone
        from vidpose.bench.clnet import ensure_clips
        from vidpose.data.loaders import DataConfig
        from vidpose.objectives.unlabelled import frame_crops

        ensure_clips("train", renderer=RENDERER)
        root = ensure_clips("test", renderer=RENDERER)
        train, test = (frame_crops(DataConfig(root=str(root)), s, (64, 64)) for s in ("train", "test"))
        print({"mean_train_pose_mpjpe_mm": mean_pose_mpjpe(train, test),
               "mean_train_pose_mpjpe_mm_seen_motions":
                   mean_pose_mpjpe(train, test.select_sources(seen_motion_clips(root)))})
    elif len(args) >= 3 and args[0] in ("train", "ship"):
        step = train_rows if args[0] == "train" else ship_rows
        print("\n".join(str(p) for p in step(args[1], args[2], args[3:] or None, n_threads)))
    else:
        sys.exit("usage: python -m vidpose.bench.css train|ship SYNTH_SINGLE_ROOT OUT_DIR [ROW ...] [--threads N]\n"
                 "(in the repository root)")
