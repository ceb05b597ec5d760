"""The one training loop behind ``vidpose train``: single process or torchrun DDP on CPU.

The loop knows no method: ``[model] method`` names a :class:`vidpose.methods.Method`,
which builds the model and its :class:`vidpose.objectives.Objective` (the data,
the loss of a batch, the validation metric that picks ``best.safetensors``).

Determinism: the model is initialised from ``run.seed``; the sampler order of
epoch ``e`` comes from ``(seed, e)`` and each sample's augmentation from
``(seed, e, index)``; every RNG state is saved with the checkpoint. A run
stopped after epoch k and resumed therefore ends with the same weights, bit
for bit, as a run that was never stopped (same machine, same thread count).

Files in ``run.out_dir`` (written by rank 0 only, each atomically):

* ``config.toml`` -- the resolved config.
* ``metrics.csv`` -- epoch, step, loss, lr, the objective's validation metrics, elapsed_s.
* ``last.safetensors`` + ``train_state.pt`` -- weights, and optimiser, step,
  epoch, RNG states, the weights' sha256, a copy of the weights and the CSV rows
  (so resuming is exact, and the log complete, even after a crash between writes).
* ``best.safetensors`` -- the weights with the best validation metric.

Every checkpoint's metadata records the method, its config, the resolved
config's sha256 (:meth:`TrainConfig.sha256`) and the training data's identity
(:meth:`Objective.data_identity`: dataset, subset, size, a hash of the labels).
* ``train.log`` -- the messages printed to stderr (dataset summaries ...).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vidpose.errors import InputError, VidposeError
from vidpose.io.atomic import atomic_open, atomic_write_text
from vidpose.store import sha256_file
from vidpose.settings import to_dict
from vidpose.training.config import TrainConfig, to_toml, validate

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


def launched_world_size() -> int:
    """The number of processes torchrun started (its WORLD_SIZE; 1 outside torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def _setup_dist() -> _Dist:
    """DDP over gloo (CPU) when torchrun set WORLD_SIZE > 1."""
    world = launched_world_size()
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


# --- checkpoints -----------------------------------------------------------------------------

def _save_weights(path: Path, model, extra: dict[str, Any]) -> None:
    from vidpose.models.checkpoint import save_checkpoint

    save_checkpoint(path, model, extra=extra)  # atomic itself


def _load_resume(out: Path, cfg: TrainConfig, model, optimizer) -> dict[str, Any]:
    """Restore weights, optimiser and RNG from ``out``; InputError naming the file on any fault."""
    import torch

    from vidpose.models.checkpoint import load_weights, read_checkpoint
    from vidpose.store import sha256_file

    state_path, last = out / STATE_FILE, out / LAST_FILE
    for p in (state_path, last):
        if not p.is_file():
            raise InputError(f"--resume: {p} not found; nothing to resume in {out} (run without --resume)")
    try:
        state = torch.load(state_path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for a bad file
        raise InputError(f"{state_path}: truncated or corrupt training state ({type(e).__name__}: {e})") from None
    need = ("epoch", "step", "optimizer", "rng", "weights_sha256", "method", "model_config")
    if not isinstance(state, dict) or any(k not in state for k in need):
        have = state if isinstance(state, dict) else {}
        raise InputError(f"{state_path}: not a vidpose training state of this version "
                         f"(missing {[k for k in need if k not in have]})")
    ck = read_checkpoint(last, weights="model" not in state)  # InputError naming the file when unreadable
    want = {"method": cfg.method, **to_dict(cfg.model)}
    have = {"method": ck.method, **ck.config}
    if have != want:
        diff = ", ".join(f"{k}={have.get(k)!r} (config: {v!r})" for k, v in want.items() if have.get(k) != v)
        raise InputError(f"{last}: checkpoint was trained with a different model: {diff}; "
                         "resume with the same [model] settings or start a new run.out_dir")
    if "model" in state:
        # The state file carries its own copy of the weights, so a crash between
        # writing last.safetensors and train_state.pt still resumes exactly (from
        # the state's epoch), whatever last.safetensors holds.
        weights, source = state["model"], state_path
    else:
        if sha256_file(last) != state["weights_sha256"]:
            raise InputError(f"{last}: does not match {state_path} (the two come from different saves); "
                             "cannot resume exactly")
        weights, source = load_weights(model, ck).state_dict(), last
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


def _num(v: float) -> str:
    return repr(float(v))  # shortest text that reads back to the same float


def csv_columns(objective) -> tuple[str, ...]:
    return ("epoch", "step", "loss", "lr", *objective.metric_keys, "elapsed_s")


def _write_csv(path: Path, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in columns})
    atomic_write_text(path, buf.getvalue())


def train(cfg: TrainConfig, resume: bool = False, quiet: bool = False) -> dict[str, float]:
    """Train per ``cfg``; returns the final metrics (epoch, step, train_loss, lr, the objective's
    validation metrics, ``best`` and its key ``select``). With ``resume``, continue from ``run.out_dir``."""
    if not isinstance(cfg, TrainConfig):
        raise InputError(f"train: expected a TrainConfig (vidpose.training.load_config(PATH) or config_from_dict(d)), "
                         f"got {type(cfg).__name__}")
    validate(cfg)
    dist_ = _setup_dist()
    out = Path(cfg.run.out_dir)
    fresh = not out.exists()  # made by this run: removed again if it fails before its first checkpoint
    try:
        try:
            metrics = _train(cfg, resume, quiet, dist_)
        except BaseException:
            if fresh and dist_.main and out.is_dir() and not (out / LAST_FILE).exists():
                shutil.rmtree(out, ignore_errors=True)
            raise
        # Every process reaches the shutdown together: a process that tears its process group
        # down while another is still in a collective makes gloo abort that one at exit.
        dist_.barrier()
        return metrics
    finally:
        if dist_.enabled:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()


def _train(cfg: TrainConfig, resume: bool, quiet: bool, dist_: _Dist) -> dict[str, float]:
    import torch
    from torch.utils.data import DistributedSampler, SequentialSampler

    from vidpose.methods import get
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
    method = get(cfg.method)
    model = method.build(cfg.model)
    if run.init_from:
        log(_init_from(model, run.init_from))
    objective = method.objective(cfg, model)
    columns = csv_columns(objective)
    train_ds = objective.train_set()
    log(f"method {cfg.method}; train: {_summary(train_ds)}")
    val_ds = objective.val_set()
    if val_ds is not None:
        log(f"val: {_summary(val_ds)}")
        if cfg.data.val_subset == "test":
            log("warning: validating on the test split: best.safetensors is selected on test data; "
                "report last.safetensors (or validate on a held-out part of train) for unbiased numbers")
    provenance = {"dataset": cfg.data.dataset, "config_sha256": cfg.sha256(), "data": objective.data_identity()}
    sampler = DistributedSampler(train_ds, num_replicas=dist_.world, rank=dist_.rank, shuffle=True,
                                 seed=run.seed, drop_last=False)
    steps_per_epoch = len(sampler) // per_rank_batch if len(sampler) >= per_rank_batch else 1
    optimizer = _optimizer(cfg, model.parameters())

    start_epoch, step, best = 0, 0, None
    last_metrics: dict[str, float] = {}
    rows: list[dict[str, Any]] = []
    if resume:
        state = _load_resume(out, cfg, model, optimizer)
        start_epoch, step = int(state["epoch"]), int(state["step"])
        best = state.get("best")
        best = None if best is None else float(best)
        last_metrics = {k: float(v) for k, v in dict(state.get("last_metrics", {})).items()}
        rows = [dict(r) for r in state.get("csv_rows", [])]
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
    _train_mode(model, o.freeze_bn)
    try:
        for epoch in range(start_epoch, o.epochs):
            sampler.set_epoch(epoch)
            if hasattr(train_ds, "set_epoch"):
                train_ds.set_epoch(epoch)
            loader = _loader(train_ds, per_rank_batch, sampler, cfg, True, epoch)
            loss_sum, loss_n, chunk_sum, chunk_n = 0.0, 0, 0.0, 0
            lr = lr_at(cfg, step, steps_per_epoch)
            with Progress(len(loader), f"epoch {epoch + 1}/{o.epochs}", enabled=not quiet and dist_.main) as bar:
                for batch in loader:
                    lr = lr_at(cfg, step, steps_per_epoch)
                    for g in optimizer.param_groups:
                        g["lr"] = lr
                    loss, _logs = objective.loss(net, batch)
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
                model.eval()
                try:
                    metrics.update(objective.validate(model, val_loader))
                finally:
                    _train_mode(model, o.freeze_bn)
                if objective.better(metrics[objective.select], best):
                    best = metrics[objective.select]
                    _save_weights(out / BEST_FILE, model, {"epoch": done, objective.select: best, **provenance})
            if best is not None:
                metrics["best"] = best
            last_metrics = {**{k: v for k, v in last_metrics.items() if k.startswith("val_")}, **metrics}
            if dist_.main:
                rows.append({"epoch": done, "step": step, "loss": _num(epoch_loss), "lr": _num(lr),
                             **{k: _num(metrics[k]) for k in objective.metric_keys if k in metrics},
                             "elapsed_s": f"{time.monotonic() - t0:.1f}"})
                val_txt = "".join(f" {k} {metrics[k]:.4f}" for k in objective.metric_keys if k in metrics)
                log(f"epoch {done}/{o.epochs} loss {epoch_loss:.5g} lr {lr:.3g}{val_txt}")
                if done % run.ckpt_every == 0 or last or stopping:
                    _save_weights(out / LAST_FILE, model, {"epoch": done, "step": step, **provenance})
                    state = {"epoch": done, "step": step, "optimizer": optimizer.state_dict(),
                             "scheduler": {"schedule": o.schedule, "step": step}, "rng": _rng_state(),
                             "best": best, "select": objective.select, "last_metrics": last_metrics,
                             "weights_sha256": sha256_file(out / LAST_FILE), "method": cfg.method,
                             "model_config": json.dumps(to_dict(cfg.model), sort_keys=True),
                             "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
                             "csv_rows": [dict(r) for r in rows], "world_size": dist_.world}
                    with atomic_open(out / STATE_FILE, "wb") as f:
                        torch.save(state, f)
                _write_csv(out / "metrics.csv", rows, columns)
                atomic_write_text(out / "train.log", "\n".join(log.lines) + "\n")
            if stopping:
                log(f"stopping after {epochs_run} epoch(s) (run.stop_after_epochs); continue with --resume")
                break
    except (KeyboardInterrupt, SystemExit):
        # Every file in out_dir was written atomically: the last checkpoint is whole and resumable.
        log(f"interrupted in epoch {epoch + 1}; {out / STATE_FILE} holds the last finished checkpoint; "
            "continue with --resume")
        if dist_.main:
            atomic_write_text(out / "train.log", "\n".join(log.lines) + "\n")
        raise
    dist_.barrier()
    if dist_.enabled:
        _check_ranks_agree(model, dist_, log)
    last_metrics["select"] = objective.select  # type: ignore[assignment]
    return dict(last_metrics)


def _train_mode(model, freeze_bn: bool) -> None:
    """Training mode; with ``freeze_bn`` the BatchNorm layers stay in eval mode (running statistics)."""
    import torch

    model.train()
    if freeze_bn:
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()


def _check_ranks_agree(model, dist_: _Dist, log) -> None:
    """Every process must end with the same parameters (DDP averages gradients). Buffers are not
    compared: DDP broadcasts them from rank 0 before each forward, and rank 0's are the ones saved."""
    import torch
    import torch.distributed as dist

    sums = torch.stack([p.detach().double().sum() for p in model.parameters()])
    gathered = [torch.zeros_like(sums) for _ in range(dist_.world)]
    dist.all_gather(gathered, sums)
    if not all(torch.equal(g, gathered[0]) for g in gathered):
        raise VidposeError("DDP: the processes ended with different parameters")
    log(f"DDP: parameters identical on all {dist_.world} processes")


def _init_from(model, spec: str) -> str:
    """Copy the tensors of checkpoint ``spec`` whose names and shapes match ``model``'s; say how many."""
    from vidpose.methods import resolve
    from vidpose.models.checkpoint import read_checkpoint

    ck = read_checkpoint(resolve(spec))
    own = model.state_dict()
    take = {k: v for k, v in ck.state.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    if not take:
        raise InputError(f"run.init_from: {ck.path} has no tensor that fits the {type(model).__name__} being trained")
    model.load_state_dict(take, strict=False)
    return f"initialised {len(take)} of {len(own)} tensors from {ck.path} ({ck.method})"


def _summary(ds) -> str:
    return ds.summary() if hasattr(ds, "summary") else f"{len(ds)} samples"
