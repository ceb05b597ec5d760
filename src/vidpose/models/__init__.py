"""Shared parts of the trainable networks: backbones, heads, codecs, the composed PoseModel,
checkpoints, FLOPs, ONNX export.

A method (``vidpose.methods.<name>``) chooses and builds these parts; see
docs/models.md. A model's ``codec`` encodes training targets and decodes its
outputs to keypoints (B, J, 3) in input-image pixels.
"""

from vidpose.models.codecs import (
    Codec,
    CompositeCodec,
    GaussianHeatmapCodec,
    decode_composite,
    decode_heatmaps,
)
from vidpose.models.config import BACKBONES, TopDownConfig
from vidpose.models.model import PoseModel
from vidpose.models.flops import count_flops
from vidpose.models.checkpoint import Checkpoint, load_weights, read_checkpoint, save_checkpoint

__all__ = [
    "BACKBONES", "TopDownConfig",
    "Codec", "CompositeCodec", "GaussianHeatmapCodec", "decode_composite", "decode_heatmaps",
    "PoseModel", "count_flops", "Checkpoint", "load_weights", "read_checkpoint", "save_checkpoint",
]
