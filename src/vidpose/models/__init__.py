"""Trainable 2D pose models: SimpleBaseline, stacked Hourglass, CLNet, CLNet-Hourglass.

Build one from a :class:`ModelConfig` with :func:`build_model`. A model's
``codec`` encodes training targets and decodes its outputs to keypoints
(B, J, 3) in input-image pixels. See docs/models.md.
"""

from vidpose.models.config import (
    ARCHS,
    BACKBONES,
    IMAGENET_MEAN,
    IMAGENET_STD,
    ModelConfig,
    default_config,
)
from vidpose.models.codecs import (
    Codec,
    CompositeCodec,
    GaussianHeatmapCodec,
    decode_composite,
    decode_heatmaps,
)
from vidpose.models.model import PoseModel, build_codec, build_model
from vidpose.models.flops import count_flops
from vidpose.models.checkpoint import load_checkpoint, read_checkpoint_metadata, save_checkpoint

__all__ = [
    "ARCHS", "BACKBONES", "IMAGENET_MEAN", "IMAGENET_STD", "ModelConfig", "default_config",
    "Codec", "CompositeCodec", "GaussianHeatmapCodec", "decode_composite", "decode_heatmaps",
    "PoseModel", "build_codec", "build_model", "count_flops",
    "load_checkpoint", "read_checkpoint_metadata", "save_checkpoint",
]
