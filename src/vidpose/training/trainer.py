"""The training loop behind ``vidpose train``: single process or torchrun DDP on CPU.

Determinism: the model is initialised from ``run.seed``; the sampler order of
epoch ``e`` comes from ``(seed, e)`` and each sample's augmentation from
``(seed, e, index)``; every RNG state is saved with the checkpoint. A run
stopped after epoch k and resumed therefore ends with the same weights, bit
for bit, as a run that was never stopped (same machine, same thread count).

Files in ``run.out_dir`` (written by rank 0 only, each atomically):

* ``config.toml`` -- the resolved config.
* ``metrics.csv`` -- epoch, step, loss, lr, val_pck, val_mean_px_error, elapsed_s.
* ``last.safetensors`` + ``train_state.pt`` -- weights, and optimiser, step,
  epoch, RNG states, the weights' sha256 and a copy of the weights (so resuming
  is exact even after a crash between the two writes).
* ``best.safetensors`` -- the weights with the highest validation PCK.
* ``train.log`` -- the messages printed to stderr (dataset summaries ...).
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vidpose.errors import InputError, VidposeError
from vidpose.io.atomic import atomic_open, atomic_write_text
from vidpose.training.config import TrainConfig, to_toml, validate

CSV_COLUMNS = ("epoch", "step", "loss", "lr", "val_pck", "val_mean_px_error", "elapsed_s")
PCK_ALPHA = 0.2
STATE_FILE = "train_state.pt"
LAST_FILE = "last.safetensors"
BEST_FILE = "best.safetensors"


# --- process group ---------------------------------------------------------------------------

@dataclass
class _Dist:
    world: int = 1
    rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()


def _setup_dist() -> _Dist:
    """DDP over gloo (CPU) when torchrun set WORLD_SIZE > 1."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return _Dist()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo")
    return _Dist(dist.get_world_size(), dist.get_rank())


# --- RNG state -------------------------------------------------------------------------------

def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state() -> dict[str, Any]:
    """Every global RNG as tensors, ints and lists, so ``torch.load(weights_only=True)`` reads it."""
    import torch

    version, mt, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": {"version": int(version), "state": list(mt), "gauss": gauss},
    }


def _set_rng_state(s: dict[str, Any]) -> None:
    import torch

    torch.set_rng_state(s["torch"])
    n = s["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    p = s["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))


# --- learning rate ---------------------------------------------------------------------------

def lr_at(cfg: TrainConfig, step: int, steps_per_epoch: int) -> float:
    """Learning rate of optimiser step ``step`` (0-based) for the configured schedule."""
    o = cfg.optim
    total = max(o.epochs * steps_per_epoch, 1)
    if o.schedule == "cosine":
        f = 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))
    elif o.schedule == "step":
        epoch = step // max(steps_per_epoch, 1)
        f = o.gamma ** sum(1 for m in o.milestones if epoch >= m)
    else:
        f = 1.0
    if step < o.warmup_steps:
        f *= 0.1 + 0.9 * step / o.warmup_steps
    return o.lr * f


def _optimizer(cfg: TrainConfig, params):
    import torch

    o = cfg.optim
    if o.optimizer == "adam":
        return torch.optim.Adam(params, lr=o.lr, weight_decay=o.weight_decay)
    if o.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)
    return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)


# --- data ------------------------------------------------------------------------------------

def _worker_init(_: int) -> None:
    import torch

    torch.set_num_threads(1)  # workers only decode and warp; do not oversubscribe the cores


def _build_data(cfg: TrainConfig, model, subset: str, train: bool):
    from vidpose.data.topdown import TopDownDataset
    from vidpose.models import IMAGENET_MEAN, IMAGENET_STD
    from vidpose.training.datasets import describe_source, load_dataset

    pose = load_dataset(cfg.data, subset)
    nj = len(pose.keypoint_names)
    if nj != cfg.model.num_keypoints:
        raise InputError(
            f"config: model.num_keypoints is {cfg.model.num_keypoints} but dataset {cfg.data.dataset!r} "
            f"({describe_source(cfg.data, subset)}) has {nj} keypoints"
        )
    ds = TopDownDataset(pose, cfg.model.input_size, model.codec, train=train, aug=cfg.aug,
                        seed=cfg.run.seed, max_samples=cfg.data.max_samples if train else cfg.data.max_val_samples,
                        mean=IMAGENET_MEAN, std=IMAGENET_STD)
    if len(ds) == 0:
        raise InputError(
            f"{describe_source(cfg.data, subset)}: dataset {cfg.data.dataset!r} subset {subset!r} has no usable person "
            f"({len(pose.frames)} frames; {ds.summary()})"
        )
    return ds


def _loader(ds, batch_size: int, sampler, cfg: TrainConfig, train: bool, epoch: int):
    import torch
    from torch.utils.data import DataLoader

    # Its own generator: a loader draws a base seed when iterated, which would otherwise
    # consume the global torch RNG and couple data loading to the model's randomness.
    g = torch.Generator()
    g.manual_seed(cfg.run.seed * 100003 + epoch)
    return DataLoader(ds, batch_size=batch_size, sampler=sampler, num_workers=cfg.run.num_workers,
                      drop_last=train and len(sampler) >= batch_size, generator=g,
                      worker_init_fn=_worker_init if cfg.run.num_workers else None)


# --- validation ------------------------------------------------------------------------------

def evaluate(model, loader) -> dict[str, float]:
    """PCK@0.2 (bbox-max normaliser over labelled joints) and mean pixel error, in image pixels.

    Predictions (crop pixels) are mapped back through each sample's affine.
    Persons with fewer than two labelled joints have no bbox-max size and are
    left out of PCK (still in the pixel error).
    """
    import torch

    from vidpose.geometry import crop_points_to_image
    from vidpose.metrics.keypoints import bbox_max_norm, pck

    was_training = model.training
    model.eval()
    preds, gts = [], []
    with torch.no_grad():
        for batch in loader:
            p = model.predict(batch["image"])
            p = p.detach().cpu().numpy() if hasattr(p, "detach") else np.asarray(p)
            preds.extend(crop_points_to_image(p[:, :, :2], batch["affine"].numpy()))
            gts.extend(batch["image_keypoints"].numpy())
    model.train(was_training)
    pred = np.stack(preds)
    gt = np.stack(gts)
    vis = gt[..., 2] > 0
    err = np.linalg.norm(pred - gt[..., :2], axis=-1)
    mpe = float(err[vis].mean()) if vis.any() else float("nan")
    norm = bbox_max_norm(gt, vis)
    keep = norm > 0
    res = pck(pred[keep], gt[keep, :, :2], vis[keep], norm[keep], PCK_ALPHA) if keep.any() else None
    return {"val_pck": float(res.mean) if res is not None else float("nan"), "val_mean_px_error": mpe,
            "val_persons": float(len(gt))}


# --- checkpoints -----------------------------------------------------------------------------

def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _save_weights(path: Path, model, extra: dict[str, Any]) -> None:
    from vidpose.models.checkpoint import save_checkpoint

    save_checkpoint(path, model, extra=extra)  # atomic itself


def _load_resume(out: Path, cfg: TrainConfig, model, optimizer) -> dict[str, Any]:
    """Restore weights, optimiser and RNG from ``out``; InputError naming the file on any fault."""
    import torch

    from vidpose.models.checkpoint import load_checkpoint, read_checkpoint_metadata

    state_path, last = out / STATE_FILE, out / LAST_FILE
    for p in (state_path, last):
        if not p.is_file():
            raise InputError(f"--resume: {p} not found; nothing to resume in {out} (run without --resume)")
    try:
        state = torch.load(state_path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for a bad file
        raise InputError(f"{state_path}: truncated or corrupt training state ({type(e).__name__}: {e})") from None
    need = ("epoch", "step", "optimizer", "rng", "weights_sha256", "model_config")
    if not isinstance(state, dict) or any(k not in state for k in need):
        raise InputError(f"{state_path}: not a vidpose training state (missing {[k for k in need if k not in (state if isinstance(state, dict) else {})]})")
    ck_cfg, _ = read_checkpoint_metadata(last)  # InputError naming the file when unreadable
    if ck_cfg != cfg.model:
        a, b = ck_cfg.to_dict(), cfg.model.to_dict()
        diff = ", ".join(f"{k}={a.get(k)!r} (config: {b.get(k)!r})" for k in b if a.get(k) != b.get(k))
        raise InputError(f"{last}: checkpoint was trained with a different model: {diff}; "
                         "resume with the same [model] settings or start a new run.out_dir")
    if "model" in state:
        # The state file carries its own copy of the weights, so a crash between
        # writing last.safetensors and train_state.pt still resumes exactly (from
        # the state's epoch), whatever last.safetensors holds.
        weights, source = state["model"], state_path
    else:
        if _sha256(last) != state["weights_sha256"]:
            raise InputError(f"{last}: does not match {state_path} (the two come from different saves); "
                             "cannot resume exactly")
        weights, source = load_checkpoint(last).state_dict(), last
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as e:
        raise InputError(f"{source}: weights do not fit the configured model ({e})") from None
    try:
        optimizer.load_state_dict(state["optimizer"])
    except (ValueError, KeyError, RuntimeError) as e:
        raise InputError(f"{state_path}: optimizer state does not fit (optim.optimizer changed?) ({e})") from None
    _set_rng_state(state["rng"])
    return state


# --- the loop --------------------------------------------------------------------------------

@dataclass
class _Log:
    quiet: bool
    main: bool
    lines: list[str] = field(default_factory=list)

    def __call__(self, msg: str) -> None:
        if not self.main:
            return
        self.lines.append(msg)
        if not self.quiet:
            print(msg, file=sys.stderr, flush=True)


def _read_csv(path: Path, upto_epoch: int) -> list[dict[str, str]]:
    """Rows already logged up to the resumed epoch (later ones came after the last checkpoint)."""
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return [r for r in csv.DictReader(f) if r.get("epoch", "").isdigit() and int(r["epoch"]) <= upto_epoch]


def _num(v: float) -> str:
    return repr(float(v))  # shortest text that reads back to the same float


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in CSV_COLUMNS})
    atomic_write_text(path, buf.getvalue())


def train(cfg: TrainConfig, resume: bool = False, quiet: bool = False) -> dict[str, float]:
    """Train per ``cfg``; returns the final metrics (epoch, step, train_loss, lr, val_pck,
    val_mean_px_error, best_val_pck). With ``resume``, continue from ``run.out_dir``."""
    validate(cfg)
    dist_ = _setup_dist()
    try:
        return _train(cfg, resume, quiet, dist_)
    finally:
        if dist_.enabled:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()


def _train(cfg: TrainConfig, resume: bool, quiet: bool, dist_: _Dist) -> dict[str, float]:
    import torch
    from torch.utils.data import DistributedSampler, SequentialSampler

    from vidpose.models import build_model
    from vidpose.progress import Progress

    run, o = cfg.run, cfg.optim
    out = Path(run.out_dir)
    log = _Log(quiet, dist_.main)
    if run.threads:
        torch.set_num_threads(run.threads)
    if o.batch_size % dist_.world:
        raise InputError(f"config: optim.batch_size {o.batch_size} is not divisible by the "
                         f"{dist_.world} torchrun processes")
    per_rank_batch = o.batch_size // dist_.world
    if dist_.main:
        out.mkdir(parents=True, exist_ok=True)
    dist_.barrier()

    seed_everything(run.seed)
    model = build_model(cfg.model)
    train_ds = _build_data(cfg, model, cfg.data.train_subset, train=True)
    log(f"train: {train_ds.summary()}")
    val_ds = None
    if cfg.data.val_subset:
        val_ds = _build_data(cfg, model, cfg.data.val_subset, train=False)
        log(f"val: {val_ds.summary()}")
        if cfg.data.val_subset == "test":
            log("warning: validating on the test split: best.safetensors is selected on test data; "
                "report last.safetensors (or validate on a held-out part of train) for unbiased numbers")
    sampler = DistributedSampler(train_ds, num_replicas=dist_.world, rank=dist_.rank, shuffle=True,
                                 seed=run.seed, drop_last=False)
    steps_per_epoch = len(sampler) // per_rank_batch if len(sampler) >= per_rank_batch else 1
    optimizer = _optimizer(cfg, model.parameters())

    start_epoch, step, best = 0, 0, -1.0
    last_metrics: dict[str, float] = {}
    rows: list[dict[str, Any]] = []
    if resume:
        state = _load_resume(out, cfg, model, optimizer)
        start_epoch, step = int(state["epoch"]), int(state["step"])
        best = float(state.get("best_val_pck", -1.0))
        last_metrics = {k: float(v) for k, v in dict(state.get("last_metrics", {})).items()}
        if dist_.main:
            rows = _read_csv(out / "metrics.csv", start_epoch)
        log(f"resumed from {out / LAST_FILE} after epoch {start_epoch} (step {step})")
        if int(state.get("world_size", 1)) != dist_.world:
            log(f"note: the run was saved with {state.get('world_size')} process(es) and resumes with "
                f"{dist_.world}; the data split differs, so results will not match an unbroken run")
    if dist_.main:
        atomic_write_text(out / "config.toml", to_toml(cfg))

    net = model
    if dist_.enabled:
        net = torch.nn.parallel.DistributedDataParallel(model)
    val_loader = None
    if val_ds is not None and dist_.main:
        val_loader = _loader(val_ds, per_rank_batch, SequentialSampler(val_ds), cfg, False, 0)

    t0 = time.monotonic()
    epochs_run = 0
    epoch = start_epoch
    model.train()
    for epoch in range(start_epoch, o.epochs):
        sampler.set_epoch(epoch)
        train_ds.set_epoch(epoch)
        loader = _loader(train_ds, per_rank_batch, sampler, cfg, True, epoch)
        loss_sum, loss_n, chunk_sum, chunk_n = 0.0, 0, 0.0, 0
        lr = lr_at(cfg, step, steps_per_epoch)
        with Progress(len(loader), f"epoch {epoch + 1}/{o.epochs}", enabled=not quiet and dist_.main) as bar:
            for batch in loader:
                lr = lr_at(cfg, step, steps_per_epoch)
                for g in optimizer.param_groups:
                    g["lr"] = lr
                outputs = net(batch["image"])
                loss, _logs = model.loss(outputs, batch["targets"])
                if not torch.isfinite(loss):
                    raise VidposeError(f"training diverged: loss is {float(loss)} at epoch {epoch + 1}, "
                                       f"step {step}; lower optim.lr (now {o.lr})")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if o.grad_clip:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), o.grad_clip)
                optimizer.step()
                step += 1
                lv = float(loss.detach())
                loss_sum, loss_n, chunk_sum, chunk_n = loss_sum + lv, loss_n + 1, chunk_sum + lv, chunk_n + 1
                bar.update(1, loss=lv, lr=lr)
                if run.log_every and step % run.log_every == 0:
                    rows.append({"epoch": epoch + 1, "step": step, "loss": _num(chunk_sum / chunk_n),
                                 "lr": _num(lr), "elapsed_s": f"{time.monotonic() - t0:.1f}"})
                    chunk_sum, chunk_n = 0.0, 0
        epoch_loss = loss_sum / max(loss_n, 1)
        if dist_.enabled:  # report the mean over all processes
            t = torch.tensor([loss_sum, float(loss_n)], dtype=torch.float64)
            torch.distributed.all_reduce(t)
            epoch_loss = float(t[0] / max(t[1], 1.0))
        epochs_run += 1
        done = epoch + 1
        last = done == o.epochs
        stopping = bool(run.stop_after_epochs) and epochs_run >= run.stop_after_epochs and not last
        metrics: dict[str, float] = {"epoch": float(done), "step": float(step), "train_loss": epoch_loss, "lr": lr}
        if val_loader is not None and (done % run.val_every == 0 or last):
            metrics.update(evaluate(model, val_loader))
            improved = metrics["val_pck"] > best
            if improved:
                best = metrics["val_pck"]
                _save_weights(out / BEST_FILE, model, {"epoch": done, "val_pck": best, "dataset": cfg.data.dataset})
        metrics["best_val_pck"] = best
        last_metrics = {**{k: v for k, v in last_metrics.items() if k.startswith("val_")}, **metrics}
        if dist_.main:
            rows.append({"epoch": done, "step": step, "loss": _num(epoch_loss), "lr": _num(lr),
                         "val_pck": _num(metrics["val_pck"]) if "val_pck" in metrics else "",
                         "val_mean_px_error": _num(metrics["val_mean_px_error"]) if "val_pck" in metrics else "",
                         "elapsed_s": f"{time.monotonic() - t0:.1f}"})
            val_txt = (f" val PCK@{PCK_ALPHA} {metrics['val_pck']:.4f} mean error "
                       f"{metrics['val_mean_px_error']:.2f}px" if "val_pck" in metrics else "")
            log(f"epoch {done}/{o.epochs} loss {epoch_loss:.5g} lr {lr:.3g}{val_txt}")
            if done % run.ckpt_every == 0 or last or stopping:
                _save_weights(out / LAST_FILE, model, {"epoch": done, "step": step, "dataset": cfg.data.dataset})
                state = {"epoch": done, "step": step, "optimizer": optimizer.state_dict(),
                         "scheduler": {"schedule": o.schedule, "step": step}, "rng": _rng_state(),
                         "best_val_pck": best, "last_metrics": last_metrics,
                         "weights_sha256": _sha256(out / LAST_FILE), "model_config": cfg.model.to_json(),
                         "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
                         "world_size": dist_.world}
                with atomic_open(out / STATE_FILE, "wb") as f:
                    torch.save(state, f)
            _write_csv(out / "metrics.csv", rows)
            atomic_write_text(out / "train.log", "\n".join(log.lines) + "\n")
        if stopping:
            log(f"stopping after {epochs_run} epoch(s) (run.stop_after_epochs); continue with --resume")
            break
    dist_.barrier()
    return dict(last_metrics)
