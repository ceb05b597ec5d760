"""A VideoPose3D-style temporal lifter (Pavllo et al., "3D human pose estimation in video with temporal
convolutions and semi-supervised training", 2019): the dilated-convolution baseline of DG-Net.

The joints of a frame are flattened into one vector (J x C_in); a 1D convolution
over 3 frames expands it to ``channels``; then blocks i = 1..n-1 of a 3-tap
convolution at dilation 3**i and a 1x1 convolution (each BatchNorm, ReLU,
Dropout) with a residual from the centre frames; a 1x1 convolution gives J x 3.
Receptive field 3**n, no padding inside: :meth:`SequenceLifter.lift` pads the
sequence ends. Same data, objective and 2D corruption as DG-Net
(:class:`vidpose.methods.dgnet.LifterConfig`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from vidpose.methods.base import Method
from vidpose.methods.dgnet import LifterConfig, objective


@dataclass
class Config(LifterConfig):
    method: ClassVar[str] = "tcn"
    channels: int = 128


def build(cfg: Config):
    from torch import nn

    from vidpose.models.graph import SequenceLifter

    class TemporalConvLifter(SequenceLifter):
        def __init__(self, cfg: Config) -> None:
            super().__init__()
            self.method, self.cfg = cfg.method, cfg
            c, j = cfg.channels, cfg.num_joints

            def unit(c_in, k, d):
                return nn.Sequential(nn.Conv1d(c_in, c, k, dilation=d, bias=False), nn.BatchNorm1d(c, momentum=0.1),
                                     nn.ReLU(), nn.Dropout(cfg.dropout))

            self.expand = unit(j * cfg.in_channels, 3, 1)
            self.blocks = nn.ModuleList([nn.Sequential(unit(c, 3, 3 ** i), unit(c, 1, 1))
                                         for i in range(1, cfg.blocks)])
            self.shrink = nn.Conv1d(c, j * 3, 1)
            nn.init.zeros_(self.shrink.weight)  # start from "every joint at the root", as dgnet
            nn.init.zeros_(self.shrink.bias)

        def forward_valid(self, x):
            b, t, j, ch = x.shape
            h = self.expand(x.reshape(b, t, j * ch).transpose(1, 2))
            for i, blk in enumerate(self.blocks, 1):
                d = 3 ** i
                h = h[:, :, d:h.shape[2] - d] + blk(h)
            y = self.shrink(h).transpose(1, 2)
            return y.reshape(b, y.shape[1], j, 3)

    return TemporalConvLifter(cfg)


METHOD = Method("tcn", Config, build, objective,
                "VideoPose3D-style dilated temporal convolutions, 2D->3D (Pavllo et al. 2019)")
