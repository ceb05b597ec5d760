"""CLNet: composite localisation -- a sparse cell heatmap plus short offset maps.

The network predicts, per joint, which coarse cell (stride 8 or 16) holds it
(a tiny Gaussian or one-hot target) and where inside the cell it is (x/y
offsets in [0, 1), L1 at the ground-truth cell only), so it needs fewer
upsampling stages than a stride-4 heatmap head. Two backbones:

* ``clnet``: ResNet + :class:`vidpose.models.heads.CompositeHead`;
* ``clnet-hourglass``: stacked hourglass at the coarse stride, composite 1x1 heads per stack.

Both train through :class:`vidpose.objectives.heatmaps.TopDownObjective`;
the codec is :class:`vidpose.models.codecs.CompositeCodec`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from vidpose.methods.base import Method, topdown_objective
from vidpose.methods.hourglass import build_stacked, validate_stacks
from vidpose.models.config import BACKBONES, COMPOSITE_TARGETS, TopDownConfig, bad, check_positive


@dataclass
class CompositeConfig(TopDownConfig):
    heatmap_stride: int = 8
    offset_weight: float = 1.0  # lambda: weight of the offset L1 term
    # Coarse "cell" heatmap target: a tiny Gaussian centred on the keypoint's cell
    # (trained with MSE) or a one-hot cell (spatial softmax cross-entropy);
    # cell_sigma is in cells.
    composite_target: str = "gaussian"
    cell_sigma: float = 1.0

    def validate(self) -> None:
        super().validate()
        if isinstance(self.offset_weight, bool) or not isinstance(self.offset_weight, (int, float)) \
                or self.offset_weight < 0:
            raise bad("offset_weight", f"must be >= 0, got {self.offset_weight!r}")
        if self.composite_target not in COMPOSITE_TARGETS:
            raise bad("composite_target", f"is {self.composite_target!r}; known: {', '.join(COMPOSITE_TARGETS)}")
        check_positive(self.cell_sigma, "cell_sigma")

    def codec(self):
        from vidpose.models.codecs import CompositeCodec

        return CompositeCodec(self.input_size, self.heatmap_stride, self.num_keypoints,
                              target=self.composite_target, cell_sigma=self.cell_sigma,
                              offset_weight=self.offset_weight)


@dataclass
class Config(CompositeConfig):
    method: ClassVar[str] = "clnet"
    backbone: str = "resnet18"  # resnet18 | resnet34 | resnet50
    deconv_channels: int = 256  # head channels before the width multiplier

    def validate(self) -> None:
        super().validate()
        from vidpose.models.backbones import RESNET_STRIDE

        if self.backbone not in BACKBONES:
            raise bad("backbone", f"is {self.backbone!r}; known: {', '.join(BACKBONES)}")
        if self.heatmap_stride < 2:
            raise bad("heatmap_stride", f"must be at least 2 for clnet, got {self.heatmap_stride}")
        check_positive(self.deconv_channels, "deconv_channels")
        self.check_grid(RESNET_STRIDE, f"clnet, stride {self.heatmap_stride}")


@dataclass
class HourglassConfig(CompositeConfig):
    method: ClassVar[str] = "clnet-hourglass"
    num_stacks: int = 1  # 1..8

    def validate(self) -> None:
        super().validate()
        validate_stacks(self)


def build(cfg: Config):
    import math

    from vidpose.models.backbones import RESNET_STRIDE, ResNet
    from vidpose.models.heads import CompositeHead
    from vidpose.models.model import PoseModel

    backbone = ResNet(cfg.backbone, cfg.width)
    num_up = int(math.log2(RESNET_STRIDE // cfg.heatmap_stride))
    head = CompositeHead(backbone.out_channels, cfg.num_keypoints, num_up, cfg.channels(cfg.deconv_channels))
    return PoseModel(METHOD.name, cfg, backbone, head, cfg.codec(), grid=RESNET_STRIDE)


def build_hourglass(cfg: HourglassConfig):
    # Offsets live in [0, 1): start at the cell centre.
    return build_stacked(HOURGLASS_METHOD.name, cfg, cfg.codec(), head_bias={"offsets": 0.5})


METHOD = Method("clnet", Config, build, topdown_objective,
                "ResNet + composite head: sparse cell heatmap + in-cell offsets")
HOURGLASS_METHOD = Method("clnet-hourglass", HourglassConfig, build_hourglass, topdown_objective,
                          "stacked hourglass at the coarse stride + composite 1x1 heads per stack")
