"""SimpleBaseline (Xiao et al., "Simple Baselines for Human Pose Estimation and Tracking", 2018).

ResNet trunk + deconvolution head -> K Gaussian heatmaps (stride 32 / 2**num_deconv),
decoded with DARK. Trains on per-crop heatmaps (or from a teacher model, see
``data.teacher``) through :class:`vidpose.objectives.heatmaps.TopDownObjective`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from vidpose.methods.base import Method, topdown_objective
from vidpose.models.config import BACKBONES, TopDownConfig, bad, check_positive


@dataclass
class Config(TopDownConfig):
    method: ClassVar[str] = "simplebaseline"
    backbone: str = "resnet18"  # resnet18 | resnet34 | resnet50
    sigma: float = 2.0  # Gaussian sigma in heatmap pixels
    num_deconv: int = 3  # stride = 32 / 2**num_deconv
    deconv_channels: int = 256  # head channels before the width multiplier

    def validate(self) -> None:
        super().validate()
        from vidpose.models.backbones import RESNET_STRIDE

        if self.backbone not in BACKBONES:
            raise bad("backbone", f"is {self.backbone!r}; known: {', '.join(BACKBONES)}")
        if isinstance(self.num_deconv, bool) or not isinstance(self.num_deconv, int) or not 0 <= self.num_deconv <= 4:
            raise bad("num_deconv", f"must be 0..4, got {self.num_deconv!r}")
        s = self.heatmap_stride
        if s < 2:
            raise bad("heatmap_stride", f"must be at least 2 for simplebaseline, got {s}")
        if RESNET_STRIDE >> self.num_deconv != s:
            need = int(math.log2(RESNET_STRIDE // s))
            raise bad("heatmap_stride", f"{s} does not match num_deconv {self.num_deconv} "
                                        f"(simplebaseline stride is 32 / 2**num_deconv; stride {s} needs num_deconv {need})")
        check_positive(self.sigma, "sigma")
        check_positive(self.deconv_channels, "deconv_channels")
        self.check_grid(RESNET_STRIDE, f"simplebaseline, stride {s}")


def build(cfg: Config):
    from vidpose.models.backbones import RESNET_STRIDE, ResNet
    from vidpose.models.codecs import GaussianHeatmapCodec
    from vidpose.models.heads import DeconvHead
    from vidpose.models.model import PoseModel

    backbone = ResNet(cfg.backbone, cfg.width)
    head = DeconvHead(backbone.out_channels, cfg.num_keypoints, cfg.num_deconv, cfg.channels(cfg.deconv_channels))
    codec = GaussianHeatmapCodec(cfg.input_size, cfg.heatmap_stride, cfg.num_keypoints, sigma=cfg.sigma)
    return PoseModel(METHOD.name, cfg, backbone, head, codec, grid=RESNET_STRIDE)


METHOD = Method("simplebaseline", Config, build, topdown_objective,
                "ResNet + deconvolution head, Gaussian heatmaps (Xiao et al. 2018)")
