"""The methods vidpose implements, one module each: config, ``build()``, training objective.

``PRETRAINED`` names the checkpoints shipped in ``vidpose/weights`` (trained by
vidpose itself, with the command recorded in each file). :func:`load` turns a
shipped name or a checkpoint path into a ready model (eval mode).

Public API (stable for the run pipeline, the benches and the CLI):

* ``PRETRAINED``: shipped name -> weight file stem in ``vidpose/weights``;
* :func:`resolve` (name or path -> checkpoint path), :func:`load` (-> model),
  :func:`is_checkpoint_spec` (does ``--model`` name a trained model?),
  :func:`describe_pretrained` (rows for ``vidpose models list``).
"""

from __future__ import annotations

import os
from pathlib import Path

from vidpose.errors import InputError

# Shipped name -> file stem in vidpose/weights (the stem is also the training config's stem).
PRETRAINED: dict[str, str] = {
    "simplebaseline": "simplebaseline_synth_single",
    "clnet": "clnet_synth_single",
    "hourglass": "hourglass_synth_single",
    "clnet-hourglass": "clnet_hourglass_synth_single",
    "simplebaseline-s8": "simplebaseline_s8_synth_single",
    "simplebaseline-s16": "simplebaseline_s16_synth_single",
    "clnet-s16": "clnet_s16_synth_single",
}


def weights_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "weights"


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
    s = str(spec)
    if s in PRETRAINED:
        p = pretrained_path(s)
        if not p.is_file():
            raise InputError(f"shipped model {s!r}: {p} is missing from this installation")
        return p
    p = Path(s).expanduser()
    if not p.exists():
        raise InputError(f"model {s!r}: not a shipped model ({', '.join(PRETRAINED)}) and no such file")
    return p


def load(spec: str | os.PathLike, map_location: str = "cpu"):
    """The model saved at ``spec`` (shipped name or .safetensors path), in eval mode.

    The model has ``cfg`` (its method config: ``input_size`` (H, W), ``num_keypoints``),
    ``codec``, ``output_keys``, ``predict(images) -> (B, K, 3)`` in input pixels,
    ``method`` (the method name) and ``extra`` (provenance from the file).
    """
    from vidpose.models.checkpoint import load_checkpoint

    model = load_checkpoint(resolve(spec), map_location=map_location)
    if not hasattr(model, "method"):
        model.method = model.cfg.arch
    return model


def describe_pretrained() -> list[dict]:
    """One row per shipped model: name, file, method, trained_on, note."""
    from vidpose.models.checkpoint import read_checkpoint_metadata

    rows = []
    for name in PRETRAINED:
        p = pretrained_path(name)
        row = {"name": name, "file": str(p), "method": None, "trained_on": None,
               "note": "trained on synthetic people only: weak on real video"}
        if p.is_file():
            cfg, meta = read_checkpoint_metadata(p)
            row["method"] = cfg.arch
            row["trained_on"] = meta["extra"].get("trained_on") or meta["extra"].get("dataset")
        rows.append(row)
    return rows


__all__ = ["PRETRAINED", "weights_dir", "pretrained_path", "is_checkpoint_spec", "resolve", "load",
           "describe_pretrained"]
