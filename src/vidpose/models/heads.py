"""Prediction heads on top of a stride-32 feature map.

* :class:`DeconvHead` -- SimpleBaseline (Xiao et al. 2018): ``num_deconv`` x
  (4x4 transposed conv stride 2, BN, ReLU), then a 1x1 conv to K heatmaps.
* :class:`CompositeHead` -- CLNet: a 1x1 channel reduction, as few 4x4 deconvs
  as the (coarse) output stride needs, then two 1x1 convs: K cell heatmaps and
  2K in-cell offsets (x_0, y_0, x_1, y_1, ...).
* :class:`StackOutputs` -- for backbones that end in their own 1x1 heads (the
  stacked hourglass): splits each stack's channels into the codec's named
  outputs; the last stack's are the model's outputs, all of them go to the loss.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _deconv_stage(cin: int, cout: int) -> list[nn.Module]:
    # kernel 4, stride 2, padding 1 doubles the size exactly
    return [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def _init_head(module: nn.Module, final: list[nn.Conv2d]) -> None:
    for m in module.modules():
        if isinstance(m, (nn.ConvTranspose2d, nn.Conv2d)):
            nn.init.normal_(m.weight, std=0.001)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    for m in module.modules():
        if isinstance(m, nn.Conv2d) and m not in final:
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


class DeconvHead(nn.Module):
    """features (B, C, h, w) -> heatmaps (B, K, h * 2**num_deconv, w * 2**num_deconv)."""

    def __init__(self, cin: int, num_keypoints: int, num_deconv: int = 3, channels: int = 256) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(num_deconv):
            layers += _deconv_stage(cin, channels)
            cin = channels
        self.deconv = nn.Sequential(*layers)
        self.final = nn.Conv2d(cin, num_keypoints, 1)
        _init_head(self, [self.final])

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return {"heatmaps": self.final(self.deconv(x))}


class CompositeHead(nn.Module):
    """features (B, C, h, w) -> cell heatmaps (B, K, h', w') and offsets (B, 2K, h', w'), h' = h * 2**num_up."""

    def __init__(self, cin: int, num_keypoints: int, num_up: int, channels: int = 256) -> None:
        super().__init__()
        # Reducing the wide stride-32 map first is where most of the saving over
        # SimpleBaseline's 2048-channel first deconv comes from.
        layers: list[nn.Module] = [nn.Conv2d(cin, channels, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
        for _ in range(num_up):
            layers += _deconv_stage(channels, channels)
        self.body = nn.Sequential(*layers)
        self.heatmap = nn.Conv2d(channels, num_keypoints, 1)
        self.offset = nn.Conv2d(channels, 2 * num_keypoints, 1)
        _init_head(self, [self.heatmap, self.offset])
        # Offsets live in [0, 1): start at the cell centre.
        nn.init.constant_(self.offset.bias, 0.5)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        f = self.body(x)
        return {"heatmaps": self.heatmap(f), "offsets": self.offset(f)}


class StackOutputs(nn.Module):
    """list of per-stack predictions (B, C, h, w) -> {name: last stack's slice, "stacks": [{name: slice}]}.

    ``channels`` is the codec's output layout, e.g. {"heatmaps": K} or
    {"heatmaps": K, "offsets": 2K}; C must be their sum. No parameters.
    """

    def __init__(self, channels: dict[str, int]) -> None:
        super().__init__()
        self.names = tuple(channels)
        self.sizes = tuple(int(channels[n]) for n in self.names)

    def split(self, pred: Tensor) -> dict[str, Tensor]:
        return dict(zip(self.names, torch.split(pred, self.sizes, dim=1)))

    def forward(self, preds: list[Tensor]) -> dict:
        stacks = [self.split(p) for p in preds]
        return {**stacks[-1], "stacks": stacks}
