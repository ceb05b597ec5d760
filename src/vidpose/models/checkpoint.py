"""Checkpoints: weights in safetensors; the method, its config and provenance as JSON metadata.

Metadata keys (all strings, as safetensors requires), format "2":
``vidpose_format`` ("2"), ``vidpose_method`` (the method's name, a key of
``vidpose.methods.METHODS``), ``vidpose_config`` (the method config as JSON),
``vidpose_version`` and ``vidpose_extra`` (JSON of the caller's ``extra``:
the command that trained the model, the config's hash, the data's identity ...).
Format "1" files (before methods were modules) stored one flat config whose
``arch`` named the method; they are read as ``legacy``. Writes are atomic.

This module only reads and writes files; rebuilding a model from a checkpoint
is :func:`vidpose.methods.load` (which knows the methods).
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vidpose.errors import InputError
from vidpose.io.atomic import atomic_path
from vidpose.settings import to_dict
from vidpose.version import __version__

FORMAT = "2"
READABLE = ("1", "2")


@dataclass
class Checkpoint:
    """What a checkpoint file holds. ``state`` is empty when the weights were not loaded."""

    path: Path
    method: str
    config: dict[str, Any]
    extra: dict[str, Any]
    version: str | None = None
    legacy: bool = False  # format "1": ``config`` may hold keys the method does not use
    state: dict[str, torch.Tensor] = field(default_factory=dict)


def save_checkpoint(path: str | os.PathLike, model: nn.Module, extra: dict[str, Any] | None = None) -> Path:
    """Write ``model``'s weights, ``model.method`` and ``model.cfg`` to ``path`` atomically; return the path."""
    from safetensors.torch import save

    method, cfg = getattr(model, "method", None), getattr(model, "cfg", None)
    if not isinstance(method, str) or cfg is None:
        raise InputError(f"{path}: cannot save a model without .method and .cfg (build it with vidpose.methods)")
    try:
        extra_json = json.dumps(extra or {}, sort_keys=True)
    except TypeError as e:
        raise InputError(f"{path}: checkpoint extra metadata is not JSON-serialisable: {e}") from None
    meta = {
        "vidpose_format": FORMAT,
        "vidpose_method": method,
        "vidpose_config": json.dumps(to_dict(cfg), sort_keys=True),
        "vidpose_version": __version__,
        "vidpose_extra": extra_json,
    }
    # safetensors refuses views and shared storage; detached contiguous copies are safe.
    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    path = Path(path)
    data = _stable_header(save(state, metadata=meta))
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def _stable_header(data: bytes) -> bytes:
    """The same safetensors file with its JSON header's keys sorted: safetensors writes the metadata in
    no fixed order (a hash map), so equal weights and metadata would otherwise give different bytes
    (a resumed run's checkpoint against an unbroken run's). The tensors' offsets are relative to the
    data, so only the header changes; it stays padded with spaces to a multiple of 8 bytes."""
    n = struct.unpack("<Q", data[:8])[0]
    header = json.dumps(json.loads(data[8:8 + n]), sort_keys=True, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + data[8 + n:]


def read_checkpoint(path: str | os.PathLike, weights: bool = True, map_location: str = "cpu") -> Checkpoint:
    """Read a checkpoint (metadata, and the weights unless ``weights`` is False).

    Bad files raise InputError naming ``path`` and the fault.
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: checkpoint not found")
    if not path.is_file():
        raise InputError(f"{path}: checkpoint is not a file")
    try:
        with safe_open(str(path), framework="pt", device=map_location) as f:
            meta = dict(f.metadata() or {})
            state = {k: f.get_tensor(k) for k in f.keys()} if weights else {}
    except Exception as e:  # safetensors raises its own error types for bad headers / short files
        raise InputError(f"{path}: not a readable safetensors checkpoint (truncated or corrupt?): {e}") from None
    if "vidpose_config" not in meta:
        raise InputError(f"{path}: not a vidpose checkpoint (no 'vidpose_config' in the safetensors metadata)")
    fmt = meta.get("vidpose_format", "1")
    if fmt not in READABLE:
        raise InputError(f"{path}: checkpoint format {fmt!r} is not supported (this vidpose reads {', '.join(READABLE)})")
    config = _json(path, meta, "vidpose_config")
    if not isinstance(config, dict):
        raise InputError(f"{path}: metadata 'vidpose_config' must be a JSON object")
    if fmt == "1":
        method = config.pop("arch", None)
    else:
        method = meta.get("vidpose_method")
    if not isinstance(method, str) or not method:
        raise InputError(f"{path}: metadata names no method ('vidpose_method')")
    extra = _json(path, meta, "vidpose_extra", "{}")
    if not isinstance(extra, dict):
        raise InputError(f"{path}: metadata 'vidpose_extra' must be a JSON object")
    return Checkpoint(path, method, config, extra, meta.get("vidpose_version"), fmt == "1", state)


def load_weights(model: nn.Module, ckpt: Checkpoint) -> nn.Module:
    """Load ``ckpt.state`` into ``model`` strictly; a mismatch raises InputError naming the file."""
    expected = model.state_dict()
    state = ckpt.state
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
             for k, v in expected.items() if k in state and tuple(state[k].shape) != tuple(v.shape)]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})")
        if wrong:
            parts.append(f"{len(wrong)} with a different shape (e.g. {'; '.join(wrong[:3])})")
        raise InputError(f"{ckpt.path}: weights do not match the stored config (method {ckpt.method}): "
                         f"{'; '.join(parts)}")
    # A float16 shipped file loads into a float32 model (load_state_dict copies with a cast).
    model.load_state_dict(state, strict=True)
    return model


def _json(path: Path, meta: dict[str, str], key: str, default: str | None = None) -> Any:
    from vidpose.io.jsonfile import parse_json

    return parse_json(meta[key] if default is None else meta.get(key, default), f"{path}: metadata {key!r}")
