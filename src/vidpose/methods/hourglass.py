"""Stacked Hourglass (Newell et al., "Stacked Hourglass Networks for Human Pose Estimation", 2016).

1-8 hourglass stacks, each ending in a 1x1 head of K Gaussian heatmaps;
every stack is supervised (intermediate supervision). Trains through
:class:`vidpose.objectives.heatmaps.TopDownObjective`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from vidpose.methods.base import Method, topdown_objective
from vidpose.models.config import TopDownConfig, bad, check_positive


@dataclass
class Config(TopDownConfig):
    method: ClassVar[str] = "hourglass"
    num_stacks: int = 1  # 1..8
    sigma: float = 2.0  # Gaussian sigma in heatmap pixels

    def validate(self) -> None:
        super().validate()
        validate_stacks(self)
        check_positive(self.sigma, "sigma")


def validate_stacks(cfg: TopDownConfig) -> None:
    """Checks shared by the hourglass-based methods (this one and CLNet-Hourglass)."""
    n = cfg.num_stacks  # type: ignore[attr-defined]
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 8:
        raise bad("num_stacks", f"must be 1..8, got {n!r}")
    if cfg.heatmap_stride < 4:
        raise bad("heatmap_stride", f"must be at least 4 for an hourglass (the stem downsamples by 4), "
                                    f"got {cfg.heatmap_stride}")
    cfg.check_grid(cfg.heatmap_stride, f"hourglass, stride {cfg.heatmap_stride}")


def build_stacked(method: str, cfg: TopDownConfig, codec, head_bias: dict[str, float] | None = None):
    """A stacked hourglass whose 1x1 heads produce ``codec``'s outputs (shared with CLNet-Hourglass).

    ``head_bias`` sets the initial bias of named outputs (CLNet's offsets start
    at the cell centre, 0.5)."""
    from torch import nn

    from vidpose.models.backbones import StackedHourglass
    from vidpose.models.heads import StackOutputs
    from vidpose.models.model import PoseModel

    channels = codec.output_channels
    backbone = StackedHourglass(cfg.num_stacks, sum(channels.values()), cfg.width, cfg.heatmap_stride)  # type: ignore[attr-defined]
    for conv in backbone.heads:
        nn.init.normal_(conv.weight, std=0.001)
        nn.init.zeros_(conv.bias)
        start = 0
        for name, c in channels.items():
            if head_bias and name in head_bias:
                nn.init.constant_(conv.bias[start:start + c], head_bias[name])
            start += c
    return PoseModel(method, cfg, backbone, StackOutputs(channels), codec, grid=cfg.heatmap_stride)


def build(cfg: Config):
    from vidpose.models.codecs import GaussianHeatmapCodec

    codec = GaussianHeatmapCodec(cfg.input_size, cfg.heatmap_stride, cfg.num_keypoints, sigma=cfg.sigma)
    return build_stacked(METHOD.name, cfg, codec)


METHOD = Method("hourglass", Config, build, topdown_objective,
                "stacked hourglass with intermediate supervision, Gaussian heatmaps (Newell et al. 2016)")
