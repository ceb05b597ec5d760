"""Shared parts of the trainable networks: backbones, heads, codecs, the composed PoseModel,
checkpoints, FLOPs, ONNX export.

A method (``vidpose.methods.<name>``) chooses and builds these parts; see
docs/models.md. A model's ``codec`` encodes training targets and decodes its
outputs to keypoints (B, J, 3) in input-image pixels.
"""

import importlib

# Loaded on first use (PEP 562), so that importing a torch-free part of this package
# (``vidpose.models.runtime``: the ONNX runners that ``vidpose run`` uses) does not load PyTorch.
_LAZY = {
    "Codec": "codecs", "CompositeCodec": "codecs", "GaussianHeatmapCodec": "codecs",
    "decode_composite": "codecs", "decode_heatmaps": "codecs",
    "BACKBONES": "config", "TopDownConfig": "config",
    "PoseModel": "model",
    "count_flops": "flops",
    "Checkpoint": "checkpoint", "load_weights": "checkpoint", "read_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"vidpose.models.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'vidpose.models' has no attribute {name!r}")


__all__ = [
    "BACKBONES", "TopDownConfig",
    "Codec", "CompositeCodec", "GaussianHeatmapCodec", "decode_composite", "decode_heatmaps",
    "PoseModel", "count_flops", "Checkpoint", "load_weights", "read_checkpoint", "save_checkpoint",
]
