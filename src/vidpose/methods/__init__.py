"""The methods vidpose implements, one module each: config, ``build()``, training objective.

``METHODS`` maps a method's name to ``"module:attribute"`` of its
:class:`~vidpose.methods.base.Method` (imported on use, so naming a method
never imports torch for the others), or to a ``Method`` object itself. A new method is one module plus one line
here; the trainer, ``vidpose run --model`` and ``vidpose export`` find it by name.

``PRETRAINED`` names the checkpoints shipped in ``vidpose/weights`` (trained by
vidpose itself, with the command recorded in each file). :func:`load` turns a
shipped name, a ``.safetensors`` checkpoint or an ``.onnx`` export into a
ready model (eval mode).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from vidpose.errors import InputError
from vidpose.methods.base import Method

METHODS: dict[str, str | Method] = {
    "simplebaseline": "vidpose.methods.simplebaseline:METHOD",
    "hourglass": "vidpose.methods.hourglass:METHOD",
    "clnet": "vidpose.methods.clnet:METHOD",
    "clnet-hourglass": "vidpose.methods.clnet:HOURGLASS_METHOD",
    "dgnet": "vidpose.methods.dgnet:METHOD",
    "gcn-fixed": "vidpose.methods.dgnet:FIXED_METHOD",
    "tcn": "vidpose.methods.tcn:METHOD",
    "flowing": "vidpose.methods.flowing:METHOD",
    "css": "vidpose.methods.css:METHOD",
    "css-probe": "vidpose.methods.css:PROBE_METHOD",
    "dkd": "vidpose.methods.dkd:METHOD",
}

# Shipped name -> file stem in vidpose/weights (the stem is also the training config's stem; simplebaseline-r2
# was trained with configs/simplebaseline_synth_single.toml).
PRETRAINED: dict[str, str] = {
    "simplebaseline": "simplebaseline_synth_single",
    # the renderer-2 simplebaseline (weights of 2026-11-30), the dkd-* models' initializer before renderer 3
    "simplebaseline-r2": "simplebaseline_r2_synth_single",
    "clnet": "clnet_synth_single",
    "hourglass": "hourglass_synth_single",
    "clnet-hourglass": "clnet_hourglass_synth_single",
    "simplebaseline-s8": "simplebaseline_s8_synth_single",
    "simplebaseline-s16": "simplebaseline_s16_synth_single",
    "clnet-s16": "clnet_s16_synth_single",
    "dkd": "dkd_synth_single",
    "dkd-no-adversarial": "dkd_no_adversarial_synth_single",
    "dkd-small": "dkd_small_synth_single",
    "dkd-blazepose-heavy": "dkd_blazepose_heavy_videos",
}


def get(name: str) -> Method:
    """The :class:`Method` registered as ``name`` (InputError listing the choices otherwise)."""
    if name not in METHODS:
        raise InputError(f"unknown method {name!r}; known: {', '.join(METHODS)}")
    entry = METHODS[name]
    if isinstance(entry, Method):  # registered as an object (e.g. a user's own method)
        return entry
    module, attr = entry.split(":")
    return getattr(importlib.import_module(module), attr)


def make_config(name: str, settings: dict[str, Any] | None = None, source: str = "model config") -> Any:
    """The config dataclass of method ``name`` from a dict of settings (checked, errors name ``source``)."""
    from vidpose.settings import from_dict

    if settings is not None and not isinstance(settings, dict):
        raise InputError(f"{source}: settings must be a dict of the method's fields, got {type(settings).__name__}")
    return from_dict(get(name).config, dict(settings or {}), source)


def build(name: str, **settings: Any):
    """A freshly initialised model of method ``name`` with ``settings`` (its config's fields)."""
    return get(name).build(make_config(name, settings))


def build_from(cfg: Any):
    """A freshly initialised model from a method config (each config class names its method)."""
    return get(type(cfg).method).build(cfg)


def weights_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "weights"


# The shipped 2D->3D lifter of `vidpose run --lift dgnet` (``vidpose.methods.dgnet.shipped_path``): its checkpoint,
# and its ONNX export, which the run stage loads (onnxruntime, no torch). The export is made from the
# checkpoint by the command in ``SHIPPED_LIFTER_EXPORT`` and records the checkpoint's sha256 (tested).
SHIPPED_LIFTER = "dgnet_synth3_pairs"
SHIPPED_LIFTER_EXPORT = (f"vidpose export src/vidpose/weights/{SHIPPED_LIFTER}.safetensors "
                         f"--onnx src/vidpose/weights/{SHIPPED_LIFTER}.onnx --check")
# vidpose run's DG-Net lift stages (and part (b) of vidpose bench dgnet) lift with test-time flip
# augmentation (SequenceLifter.predict_valid): -1.2 to -1.5 mm P-MPJPE on the val videos (docs/lifting.md).
RUN_FLIP = True


def shipped_lifter_path(suffix: str = ".safetensors") -> Path:
    """The shipped lifter's checkpoint (``.safetensors``) or ONNX export (``.onnx``)."""
    return weights_dir() / f"{SHIPPED_LIFTER}{suffix}"


def pretrained_path(name: str) -> Path:
    """The shipped checkpoint file of ``name`` (a key of PRETRAINED)."""
    if name not in PRETRAINED:
        raise InputError(f"unknown pretrained model {name!r}; shipped: {', '.join(PRETRAINED)}")
    return weights_dir() / f"{PRETRAINED[name]}.safetensors"


def is_checkpoint_spec(spec: str | os.PathLike) -> bool:
    """True when ``spec`` names a shipped trained model or looks like a checkpoint/ONNX path."""
    s = str(spec)
    return s in PRETRAINED or s.endswith((".safetensors", ".onnx")) or os.sep in s or Path(s).is_file()


def resolve(spec: str | os.PathLike) -> Path:
    """Shipped name or path -> an existing checkpoint path (InputError naming the spec otherwise)."""
    if not isinstance(spec, (str, os.PathLike)):
        raise InputError(f"model: expected a shipped name or a checkpoint path, got {type(spec).__name__}")
    s = str(spec)
    if s in PRETRAINED:
        p = pretrained_path(s)
        if not p.is_file():
            raise InputError(f"shipped model {s!r}: {p} is missing from this installation")
        return p
    p = Path(s).expanduser()
    if not p.exists() and p.parent.parts[-2:] == ("vidpose", "weights") and (weights_dir() / p.name).is_file():
        # a shipped file named by its place in the source tree (src/vidpose/weights/NAME, as the shipped
        # configs' run.init_from does): the installed package's copy, whatever the working folder
        p = weights_dir() / p.name
    if not p.exists():
        if os.sep in s or p.suffix:
            raise InputError(f"{p}: checkpoint not found")
        raise InputError(f"model {s!r}: not a shipped model ({', '.join(PRETRAINED)}) and no such file")
    return p


def config_of(ckpt) -> Any:
    """The method config stored in a :class:`~vidpose.models.checkpoint.Checkpoint`.

    Format-1 files stored one flat config for every architecture; the fields
    the method does not have had no effect on it and are dropped.
    """
    settings = dict(ckpt.config)
    if ckpt.legacy:
        import dataclasses

        known = {f.name for f in dataclasses.fields(get(ckpt.method).config)}
        settings = {k: v for k, v in settings.items() if k in known}
    return make_config(ckpt.method, settings, f"{ckpt.path}: metadata 'vidpose_config'")


def load(spec: str | os.PathLike, map_location: str = "cpu"):
    """The model saved at ``spec`` (shipped name, ``.safetensors`` or ``.onnx`` path), in eval mode.

    The model has ``cfg`` (its method config: ``input_size`` (H, W), ``num_keypoints``),
    ``codec``, ``output_keys``, ``predict(images) -> (B, K, 3)`` in input pixels,
    ``method`` (the method name) and ``extra`` (provenance from the file).
    Bad files raise InputError naming the file and the fault.
    """
    path = resolve(spec)
    if path.suffix == ".onnx":
        return _load_onnx(path)
    from vidpose.models.checkpoint import load_weights, read_checkpoint

    ckpt = read_checkpoint(path, map_location=map_location)
    if ckpt.method not in METHODS:
        raise InputError(f"{path}: made by method {ckpt.method!r}, which this vidpose does not have "
                         f"(known: {', '.join(METHODS)})")
    model = get(ckpt.method).build(config_of(ckpt))
    load_weights(model, ckpt)
    model.extra = ckpt.extra  # provenance, for tools that report it
    return model.to(map_location).eval()


def _load_onnx(path: Path):
    """An ONNX export (``vidpose export``) with its method's codec, from the file's metadata."""
    try:
        import onnx
    except ImportError:  # pragma: no cover - onnx is in the train extra
        raise InputError(f"{path}: reading ONNX models needs the onnx package (pip install 'vidpose[train]')") from None
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # onnx raises DecodeError and others for corrupt files
        raise InputError(f"{path}: not a readable ONNX model ({type(e).__name__}: {e})") from None
    meta = {p.key: p.value for p in proto.metadata_props}
    if "vidpose_config" not in meta or "vidpose_method" not in meta:
        raise InputError(f"{path}: not a vidpose ONNX export (no vidpose_method/vidpose_config metadata); "
                         "export it with 'vidpose export'")
    from vidpose.io.jsonfile import parse_json

    settings = parse_json(meta["vidpose_config"], f"{path}: metadata 'vidpose_config'")
    method = meta["vidpose_method"]
    cfg = make_config(method, settings, f"{path}: metadata 'vidpose_config'")
    built = get(method).build(cfg)
    if not hasattr(built, "codec"):
        raise InputError(f"{path}: a {method} export is not a 2D keypoint model (no keypoint decoder); a lifter "
                         "export runs in `vidpose run --lift`, not as --model")
    codec = built.codec
    from vidpose.models.runtime import load_onnx

    model = load_onnx(path, codec, cfg)
    model.method = method
    return model


def describe_pretrained() -> list[dict]:
    """One row per shipped model: name, file, method, trained_on, note."""
    from vidpose.models.checkpoint import read_checkpoint

    rows = []
    for name in PRETRAINED:
        p = pretrained_path(name)
        row = {"name": name, "file": str(p), "method": None, "trained_on": None,
               "note": "trained on synthetic people only: weak on real video"}
        if p.is_file():
            ck = read_checkpoint(p, weights=False)
            row["method"] = ck.method
            row["trained_on"] = ck.extra.get("trained_on") or ck.extra.get("dataset")
        rows.append(row)
    return rows


__all__ = ["METHODS", "PRETRAINED", "Method", "get", "make_config", "build", "build_from", "weights_dir", "pretrained_path",
           "is_checkpoint_spec", "resolve", "config_of", "load", "describe_pretrained"]
