"""Training configuration: dataclasses loaded from TOML, overridable from the command line.

A config file has the sections ``[model]`` (``method = NAME`` and that method's
config fields, see ``vidpose.methods``), ``[data]``
(:class:`vidpose.data.loaders.DataConfig`), ``[aug]``, ``[optim]`` and
``[run]``; every key is optional and defaults to the dataclass default (the
method to ``simplebaseline``). ``--set section.key=value`` overrides one key
after the file is read; the value is parsed with the field's type
(``true``/``false``, numbers, tuples as ``256,192``). Unknown sections or keys
and values of the wrong type raise :class:`InputError` naming the file or flag
and the key.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vidpose.data.loaders import DataConfig
from vidpose.data.topdown import AugConfig
from vidpose.errors import InputError
from vidpose.settings import coerce, field_types, parse_text, to_dict, toml_value

DEFAULT_METHOD = "simplebaseline"


@dataclass
class OptimConfig:
    optimizer: str = "adam"  # adam | adamw | sgd
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9  # sgd only
    epochs: int = 10
    batch_size: int = 32  # global batch: split evenly over torchrun processes
    schedule: str = "cosine"  # cosine | step | constant (per optimiser step)
    warmup_steps: int = 0  # linear warm-up from lr/10
    milestones: tuple[int, ...] = ()  # step schedule: epochs where lr is multiplied by gamma
    gamma: float = 0.1
    grad_clip: float = 0.0  # max gradient norm (0 = off)
    # BatchNorm layers keep their running statistics (eval mode) while training: for very
    # small per-process batches, and what makes N torchrun processes x batch b equal one
    # process x batch N*b (SyncBatchNorm does not run on CPU).
    freeze_bn: bool = False


@dataclass
class TrainRunConfig:
    out_dir: str = "runs/train"
    seed: int = 0
    val_every: int = 1  # epochs between validations (and always after the last)
    ckpt_every: int = 1  # epochs between checkpoints (and always after the last)
    log_every: int = 0  # steps between CSV loss rows (0 = one row per epoch)
    num_workers: int = 0  # DataLoader worker processes
    threads: int = 0  # torch intra-op threads per process (0 = torch default)
    stop_after_epochs: int = 0  # stop (with a checkpoint) after this many epochs of this
    #                             invocation; for time-sliced runs and resume tests (0 = off)
    # Start from the weights of this checkpoint (shipped name or path) wherever names and
    # shapes match, e.g. a two-stage method's second stage from its first; "" = fresh.
    init_from: str = ""


def _default_model():
    from vidpose.methods import make_config

    return make_config(DEFAULT_METHOD)


@dataclass
class TrainConfig:
    model: Any = field(default_factory=_default_model)  # the method's config dataclass
    data: DataConfig = field(default_factory=DataConfig)
    aug: AugConfig = field(default_factory=AugConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: TrainRunConfig = field(default_factory=TrainRunConfig)
    method: str = DEFAULT_METHOD  # written as [model] method = NAME

    def to_dict(self) -> dict[str, dict[str, Any]]:
        out = {name: to_dict(getattr(self, name)) for name in SECTIONS}
        out["model"] = {"method": self.method, **out["model"]}
        return out

    def sha256(self) -> str:
        """Hash of what decides the trained weights: the resolved config without ``run`` (where and
        how fast it ran) except the seed, and without the data's file paths (which differ between
        machines; the checkpoint's data identity covers the data itself)."""
        d = self.to_dict()
        d["run"] = {"seed": self.run.seed, "init_from": self.run.init_from}
        for key in PATH_KEYS:
            d["data"].pop(key, None)
        for (section, key), value in HASH_NEUTRAL_DEFAULTS.items():
            if section in d and key in d[section] and d[section][key] == value:
                del d[section][key]
        return hashlib.sha256(json_dumps(d).encode()).hexdigest()


def json_dumps(d: Any) -> str:
    import json

    return json.dumps(d, sort_keys=True)


SECTIONS = ("model", "data", "aug", "optim", "run")
PATH_KEYS = ("root", "ann_file", "image_root", "camera_file")  # [data] keys that are file paths
# Keys added after weights were shipped, left out of the config hash while at these values (what the
# configs before them meant), so the hashes those checkpoints record still hold.
HASH_NEUTRAL_DEFAULTS: dict[tuple[str, str], Any] = {("data", "cameras"): [], ("model", "skeleton"): "h36m17",
                                                  ("model", "tilt"): 0.0, ("model", "speed"): 0.0,
                                                  ("model", "noise_time"): 0.0, ("model", "outlier"): 0.0}
_SECTION_CLASSES = {"data": DataConfig, "aug": AugConfig, "optim": OptimConfig, "run": TrainRunConfig}


def _section_types(section: str, method: str = DEFAULT_METHOD) -> dict[str, Any]:
    if section == "model":
        from vidpose.methods import get

        return {"method": str, **field_types(get(method).config)}
    return field_types(_SECTION_CLASSES[section])


def _build(raw: dict[str, dict[str, Any]], source: str) -> TrainConfig:
    """Dataclasses from already type-checked section dicts; validation errors name ``source``."""
    from vidpose.methods import make_config

    model = dict(raw.get("model", {}))
    method = model.pop("method", DEFAULT_METHOD)
    built: dict[str, Any] = {"method": method}
    try:
        built["model"] = make_config(method, model, "[model]")
    except InputError as e:
        raise InputError(f"{source}: {e}") from None
    for name, cls in _SECTION_CLASSES.items():
        try:
            built[name] = cls(**raw.get(name, {}))
        except InputError as e:
            raise InputError(f"{source}: [{name}] {e}") from None
        except (TypeError, ValueError) as e:
            raise InputError(f"{source}: [{name}] {e}") from None
    cfg = TrainConfig(**built)
    validate(cfg, source)
    return cfg


def validate(cfg: TrainConfig, source: str = "config") -> None:
    """Range checks that a type check cannot do; InputError names ``source`` and the key."""
    def need(ok: bool, key: str, msg: str) -> None:
        if not ok:
            raise InputError(f"{source}: {key} {msg}, got {_get(cfg, key)!r}")

    o, r, d = cfg.optim, cfg.run, cfg.data
    need(o.optimizer in ("adam", "adamw", "sgd"), "optim.optimizer", "must be adam, adamw or sgd")
    need(o.lr > 0, "optim.lr", "must be positive")
    need(o.weight_decay >= 0, "optim.weight_decay", "must be >= 0")
    need(o.epochs >= 1, "optim.epochs", "must be >= 1")
    need(o.batch_size >= 1, "optim.batch_size", "must be >= 1")
    need(o.schedule in ("cosine", "step", "constant"), "optim.schedule", "must be cosine, step or constant")
    need(o.warmup_steps >= 0, "optim.warmup_steps", "must be >= 0")
    need(o.gamma > 0, "optim.gamma", "must be positive")
    need(o.grad_clip >= 0, "optim.grad_clip", "must be >= 0")
    need(all(m >= 1 for m in o.milestones), "optim.milestones", "must be epochs >= 1")
    need(r.seed >= 0, "run.seed", "must be >= 0")
    need(r.val_every >= 1, "run.val_every", "must be >= 1")
    need(r.ckpt_every >= 1, "run.ckpt_every", "must be >= 1")
    need(r.log_every >= 0, "run.log_every", "must be >= 0")
    need(r.num_workers >= 0, "run.num_workers", "must be >= 0")
    need(r.threads >= 0, "run.threads", "must be >= 0")
    need(r.stop_after_epochs >= 0, "run.stop_after_epochs", "must be >= 0")
    need(bool(r.out_dir), "run.out_dir", "must be set")
    need(d.max_samples >= 0, "data.max_samples", "must be >= 0")
    need(d.max_val_samples >= 0, "data.max_val_samples", "must be >= 0")
    need(bool(d.dataset), "data.dataset", "must be set")
    need(d.val_subset != d.train_subset, "data.val_subset",
         "must differ from data.train_subset (validation on the training data picks nothing)")
    try:
        cfg.aug.validate("aug")
    except InputError as e:
        raise InputError(f"{source}: {e}") from None


def _get(cfg: TrainConfig, key: str) -> Any:
    sec, k = key.split(".", 1)
    return getattr(getattr(cfg, sec), k)


def _check_tables(data: dict[str, Any], source: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for sec, table in data.items():
        if sec not in SECTIONS:
            raise InputError(f"{source}: unknown section [{sec}]; known: {', '.join(SECTIONS)}")
        if not isinstance(table, dict):
            raise InputError(f"{source}: {sec} must be a table ([{sec}]), got {table!r}")
        types_ = _section_types(sec, _method_of(table, source) if sec == "model" else DEFAULT_METHOD)
        out[sec] = {}
        for key, value in table.items():
            if key not in types_:
                raise InputError(
                    f"{source}: unknown key {sec}.{key}; known in [{sec}]: {', '.join(types_)}"
                )
            out[sec][key] = coerce(value, types_[key], f"{source}: {sec}.{key}")
    return out


def _method_of(table: dict[str, Any], source: str) -> str:
    from vidpose.methods import METHODS

    m = table.get("method", DEFAULT_METHOD)
    if m not in METHODS:
        raise InputError(f"{source}: model.method {m!r} is unknown; known: {', '.join(METHODS)}")
    return m


def apply_overrides(raw: dict[str, dict[str, Any]], overrides: list[str]) -> dict[str, dict[str, Any]]:
    """Apply ``section.key=value`` strings to section dicts (copied)."""
    out = {k: dict(v) for k, v in raw.items()}
    # A method override comes first: it decides which [model] keys exist.
    overrides = sorted(overrides, key=lambda item: item.split("=", 1)[0].strip() != "model.method")
    for item in overrides:
        flag = f"--set {item}"
        if "=" not in item:
            raise InputError(f"{flag}: expected section.key=value")
        key, value = item.split("=", 1)
        key = key.strip()
        if "." not in key:
            raise InputError(f"{flag}: key {key!r} must be section.key (sections: {', '.join(SECTIONS)})")
        sec, k = key.split(".", 1)
        if sec not in SECTIONS:
            raise InputError(f"{flag}: unknown section {sec!r}; known: {', '.join(SECTIONS)}")
        if sec == "model" and k == "method":
            out.setdefault("model", {})["method"] = _method_of({"method": value.strip()}, flag)
            continue
        method = _method_of(out.get("model", {}), flag) if sec == "model" else DEFAULT_METHOD
        types_ = _section_types(sec, method)
        if k not in types_:
            raise InputError(f"{flag}: unknown key {sec}.{k}; known in [{sec}]: {', '.join(types_)}")
        out.setdefault(sec, {})[k] = parse_text(value, types_[k], f"{flag}: {sec}.{k}")
    return out


def load_config(path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """Read a TOML training config (None: all defaults) and apply ``--set`` overrides."""
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise InputError(f"load_config: path must be a TOML file's path (or None), got {type(path).__name__}; "
                         "for nested dicts use config_from_dict")
    if isinstance(overrides, str) or not all(isinstance(o, str) for o in overrides):
        raise InputError(f"load_config: overrides must be a list of 'section.key=value' strings, got {overrides!r:.80}")
    raw: dict[str, dict[str, Any]] = {}
    source = "--set"
    if path is not None:
        p = Path(path)
        source = str(p)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(f"{p}: config file not found") from None
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"{p}: cannot read config ({e})") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise InputError(f"{p}: not valid TOML ({e})") from None
        raw = _check_tables(data, source)
    raw = apply_overrides(raw, list(overrides))
    return _build(raw, source + (" with --set overrides" if overrides and path is not None else ""))


def config_from_dict(data: dict[str, Any], source: str = "config") -> TrainConfig:
    """Build a config from nested dicts (as TOML would give), with the same checks as a file."""
    return _build(_check_tables(data, source), source)


def to_toml(cfg: TrainConfig) -> str:
    """The full resolved config as TOML text (every key, for the run folder)."""
    lines = []
    for sec, table in cfg.to_dict().items():
        lines.append(f"[{sec}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in table.items() if v is not None]
        lines.append("")
    return "\n".join(lines)
