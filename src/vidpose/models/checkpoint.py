"""Checkpoints: weights in safetensors, the ModelConfig and provenance as JSON metadata.

Metadata keys (all strings, as safetensors requires):
``vidpose_format`` ("1"), ``vidpose_config`` (ModelConfig JSON),
``vidpose_version`` and ``vidpose_extra`` (JSON of the caller's ``extra``, e.g.
the command that trained the model). Writes are atomic.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vidpose.errors import InputError
from vidpose.io.atomic import atomic_path
from vidpose.models.config import ModelConfig

FORMAT = "1"


def save_checkpoint(path: str | os.PathLike, model: nn.Module, extra: dict[str, Any] | None = None) -> Path:
    """Write ``model``'s weights and config to ``path`` (safetensors) atomically; return the path."""
    from safetensors.torch import save_file

    from vidpose import __version__

    cfg = getattr(model, "cfg", None)
    if not isinstance(cfg, ModelConfig):
        raise InputError(f"{path}: cannot save a model without a ModelConfig (.cfg)")
    try:
        extra_json = json.dumps(extra or {}, sort_keys=True)
    except TypeError as e:
        raise InputError(f"{path}: checkpoint extra metadata is not JSON-serialisable: {e}") from None
    meta = {
        "vidpose_format": FORMAT,
        "vidpose_config": cfg.to_json(),
        "vidpose_version": __version__,
        "vidpose_extra": extra_json,
    }
    # safetensors refuses views and shared storage; detached contiguous copies are safe.
    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=meta)
    return path


def read_checkpoint_metadata(path: str | os.PathLike) -> tuple[ModelConfig, dict[str, Any]]:
    """(config, {"vidpose_version", "extra"}) of a checkpoint, without loading the weights."""
    meta, _ = _open(Path(path), load=False)
    return _config(Path(path), meta), {"vidpose_version": meta.get("vidpose_version"), "extra": _extra(Path(path), meta)}


def load_checkpoint(path: str | os.PathLike, map_location: str = "cpu"):
    """Rebuild the model saved at ``path``, in eval mode. Bad files raise InputError naming ``path``."""
    from vidpose.models.model import build_model

    path = Path(path)
    meta, state = _open(path, load=True, device=map_location)
    cfg = _config(path, meta)
    model = build_model(cfg)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})")
        if wrong:
            parts.append(f"{len(wrong)} with a different shape (e.g. {'; '.join(wrong[:3])})")
        raise InputError(
            f"{path}: weights do not match the stored config (arch {cfg.arch}, backbone {cfg.backbone}, "
            f"width {cfg.width}): {'; '.join(parts)}"
        )
    model.load_state_dict(state, strict=True)
    model.extra = _extra(path, meta)  # provenance, for tools that report it
    return model.to(map_location).eval()


def _open(path: Path, load: bool, device: str = "cpu") -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    from safetensors import safe_open

    if not path.exists():
        raise InputError(f"{path}: checkpoint not found")
    if not path.is_file():
        raise InputError(f"{path}: checkpoint is not a file")
    try:
        with safe_open(str(path), framework="pt", device=device) as f:
            meta = dict(f.metadata() or {})
            state = {k: f.get_tensor(k) for k in f.keys()} if load else {}
    except InputError:
        raise
    except Exception as e:  # safetensors raises its own error types for bad headers / short files
        raise InputError(f"{path}: not a readable safetensors checkpoint (truncated or corrupt?): {e}") from None
    return meta, state


def _config(path: Path, meta: dict[str, str]) -> ModelConfig:
    if "vidpose_config" not in meta:
        raise InputError(f"{path}: not a vidpose checkpoint (no 'vidpose_config' in the safetensors metadata)")
    fmt = meta.get("vidpose_format", FORMAT)
    if fmt != FORMAT:
        raise InputError(f"{path}: checkpoint format {fmt!r} is not supported (this vidpose reads {FORMAT!r})")
    try:
        d = json.loads(meta["vidpose_config"])
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: metadata 'vidpose_config' is not valid JSON: {e}") from None
    return ModelConfig.from_dict(d, source=f"{path}: metadata 'vidpose_config'")


def _extra(path: Path, meta: dict[str, str]) -> dict[str, Any]:
    try:
        return json.loads(meta.get("vidpose_extra", "{}"))
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: metadata 'vidpose_extra' is not valid JSON: {e}") from None
