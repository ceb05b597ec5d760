"""Training configuration: dataclasses loaded from TOML, overridable from the command line.

A config file has the sections ``[model]`` (:class:`vidpose.models.ModelConfig`),
``[data]``, ``[aug]``, ``[optim]`` and ``[run]``; every key is optional and
defaults to the dataclass default. ``--set section.key=value`` overrides one
key after the file is read; the value is parsed with the field's type
(``true``/``false``, numbers, tuples as ``256,192``). Unknown sections or keys
and values of the wrong type raise :class:`InputError` naming the file or flag
and the key.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vidpose.data.topdown import AugConfig
from vidpose.errors import InputError
from vidpose.models import ModelConfig


@dataclass
class DataConfig:
    """Which dataset to train and validate on (see vidpose.training.datasets.LOADERS)."""

    dataset: str = "synth-single"  # synth-single | synth-crowd | coco | mpii | lsp | ...
    root: str = ""  # dataset folder; relative paths below are resolved against it
    train_subset: str = "train"
    val_subset: str = "val"  # "" = no validation
    # Annotation file and image folder for the file-based datasets; "{subset}" is
    # replaced by the subset name (e.g. person_keypoints_{subset}.json).
    ann_file: str = ""
    image_root: str = ""
    max_samples: int = 0  # cap on training person crops (0 = all)
    max_val_samples: int = 0  # cap on validation person crops (0 = all)


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


@dataclass
class RunConfig:
    out_dir: str = "runs/train"
    seed: int = 0
    val_every: int = 1  # epochs between validations (and always after the last)
    ckpt_every: int = 1  # epochs between checkpoints (and always after the last)
    log_every: int = 0  # steps between CSV loss rows (0 = one row per epoch)
    num_workers: int = 0  # DataLoader worker processes
    threads: int = 0  # torch intra-op threads per process (0 = torch default)
    stop_after_epochs: int = 0  # stop (with a checkpoint) after this many epochs of this
    #                             invocation; for time-sliced runs and resume tests (0 = off)


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    aug: AugConfig = field(default_factory=AugConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {f.name: _section_dict(getattr(self, f.name)) for f in dataclasses.fields(self)}


SECTIONS = tuple(f.name for f in dataclasses.fields(TrainConfig))


def _section_dict(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def _section_types(section: str) -> dict[str, Any]:
    cls = {f.name: f for f in dataclasses.fields(TrainConfig)}[section].default_factory  # type: ignore[misc]
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check a TOML value against the field type ``tp`` (ints are accepted for floats)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, where)
            except InputError:
                pass
        raise InputError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise InputError(f"{where}: expected a list ({_type_name(tp)}), got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise InputError(f"{where}: expected {len(args)} values, got {len(value)} ({value!r})")
        return tuple(_coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if tp is bool:
        if not isinstance(value, bool):
            raise InputError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise InputError(f"{where}: expected a string, got {value!r}")
        return value
    raise InputError(f"{where}: unsupported field type {_type_name(tp)}")  # pragma: no cover


def _parse_text(text: str, tp: Any, where: str) -> Any:
    """Parse a ``--set`` value string with the field type ``tp``."""
    origin = typing.get_origin(tp)
    s = text.strip()
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if type(None) in args and s.lower() in ("none", "null", ""):
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _parse_text(text, a, where)
            except InputError:
                pass
        raise InputError(f"{where}: cannot parse {text!r} as {_type_name(tp)}")
    if origin is tuple:
        args = typing.get_args(tp)
        parts = [p for p in s.strip("()[]").split(",")] if s.strip("()[]").strip() else []
        inner = [args[0]] * len(parts) if len(args) == 2 and args[1] is Ellipsis else list(args)
        if len(inner) != len(parts):
            raise InputError(f"{where}: expected {len(inner)} comma-separated values, got {text!r}")
        return tuple(_parse_text(p, a, f"{where}[{i}]") for i, (p, a) in enumerate(zip(parts, inner)))
    if tp is bool:
        low = s.lower()
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        raise InputError(f"{where}: expected true or false, got {text!r}")
    if tp is int:
        try:
            return int(s)
        except ValueError:
            raise InputError(f"{where}: expected an integer, got {text!r}") from None
    if tp is float:
        try:
            return float(s)
        except ValueError:
            raise InputError(f"{where}: expected a number, got {text!r}") from None
    if tp is str:
        return text
    raise InputError(f"{where}: unsupported field type {_type_name(tp)}")  # pragma: no cover


def _build(raw: dict[str, dict[str, Any]], source: str) -> TrainConfig:
    """Dataclasses from already type-checked section dicts; validation errors name ``source``."""
    sections = {f.name: f.default_factory for f in dataclasses.fields(TrainConfig)}  # type: ignore[misc]
    built = {}
    for name, factory in sections.items():
        try:
            built[name] = factory(**raw.get(name, {}))
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
        types_ = _section_types(sec)
        out[sec] = {}
        for key, value in table.items():
            if key not in types_:
                raise InputError(
                    f"{source}: unknown key {sec}.{key}; known in [{sec}]: {', '.join(types_)}"
                )
            out[sec][key] = _coerce(value, types_[key], f"{source}: {sec}.{key}")
    return out


def apply_overrides(raw: dict[str, dict[str, Any]], overrides: list[str]) -> dict[str, dict[str, Any]]:
    """Apply ``section.key=value`` strings to section dicts (copied)."""
    out = {k: dict(v) for k, v in raw.items()}
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
        types_ = _section_types(sec)
        if k not in types_:
            raise InputError(f"{flag}: unknown key {sec}.{k}; known in [{sec}]: {', '.join(types_)}")
        out.setdefault(sec, {})[k] = _parse_text(value, types_[k], f"{flag}: {sec}.{k}")
    return out


def load_config(path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """Read a TOML training config (None: all defaults) and apply ``--set`` overrides."""
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


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if v is None:
        raise InputError("config: None values cannot be written to TOML")
    raise InputError(f"config: cannot write {type(v).__name__} to TOML")


def to_toml(cfg: TrainConfig) -> str:
    """The full resolved config as TOML text (every key, for the run folder)."""
    lines = []
    for sec, table in cfg.to_dict().items():
        lines.append(f"[{sec}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in table.items() if v is not None]
        lines.append("")
    return "\n".join(lines)
