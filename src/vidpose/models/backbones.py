"""Backbones: width-scalable ResNet-18/34/50 and the stacked Hourglass.

Parameter names of the ResNet follow the common ImageNet layout (``conv1``,
``bn1``, ``layer1.0.conv1``, ``downsample.0`` ...) so ImageNet weights of the
same shape can be loaded into a width-1.0 model by name.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

RESNET_STRIDE = 32  # the ResNet trunk's output stride

def _conv_bn(cin: int, cout: int, k: int, stride: int = 1) -> tuple[nn.Conv2d, nn.BatchNorm2d]:
    return nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout)


class BasicBlock(nn.Module):
    """Two 3x3 convs (ResNet-18/34)."""

    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1, self.bn1 = _conv_bn(cin, planes, 3, stride)
        self.conv2, self.bn2 = _conv_bn(planes, planes, 3)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(*_conv_bn(cin, planes, 1, stride))

    def forward(self, x: Tensor) -> Tensor:
        idt = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(y)) + idt)


class Bottleneck(nn.Module):
    """1x1 - 3x3 (strided) - 1x1 with 4x expansion (ResNet-50)."""

    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        cout = planes * self.expansion
        self.conv1, self.bn1 = _conv_bn(cin, planes, 1)
        self.conv2, self.bn2 = _conv_bn(planes, planes, 3, stride)
        self.conv3, self.bn3 = _conv_bn(planes, cout, 1)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(*_conv_bn(cin, cout, 1, stride))

    def forward(self, x: Tensor) -> Tensor:
        idt = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        return self.relu(self.bn3(self.conv3(y)) + idt)


RESNET_SPECS: dict[str, tuple[type, tuple[int, int, int, int]]] = {
    "resnet18": (BasicBlock, (2, 2, 2, 2)),
    "resnet34": (BasicBlock, (3, 4, 6, 3)),
    "resnet50": (Bottleneck, (3, 4, 6, 3)),
}


class ResNet(nn.Module):
    """ResNet trunk without the classifier: images (B, 3, H, W) -> features (B, C, H/32, W/32).

    ``width`` scales every stage's channels (64, 128, 256, 512 at width 1.0).
    """

    def __init__(self, depth: str = "resnet18", width: float = 1.0) -> None:
        super().__init__()
        block, layers = RESNET_SPECS[depth]

        def ch(c: int) -> int:
            return max(4, int(round(c * width)))

        self.conv1 = nn.Conv2d(3, ch(64), 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(ch(64))
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = ch(64)
        stages = []
        for i, (n, planes) in enumerate(zip(layers, (64, 128, 256, 512))):
            blocks = []
            for b in range(n):
                blk = block(cin, ch(planes), stride=2 if (b == 0 and i > 0) else 1)
                cin = ch(planes) * block.expansion
                blocks.append(blk)
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.out_channels = cin
        self.stride = 32
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        # Zero the last BN of each residual branch: every block starts as the
        # identity, which makes training from scratch (no ImageNet weights) stable.
        for m in self.modules():
            if isinstance(m, Bottleneck):
                nn.init.zeros_(m.bn3.weight)
            elif isinstance(m, BasicBlock):
                nn.init.zeros_(m.bn2.weight)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


# --------------------------------------------------------------------------- hourglass


class Residual(nn.Module):
    """Pre-activation bottleneck residual module of the stacked hourglass (cin -> cout)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        mid = max(2, cout // 2)
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, mid, 1)
        self.bn2, self.conv2 = nn.BatchNorm2d(mid), nn.Conv2d(mid, mid, 3, 1, 1)
        self.bn3, self.conv3 = nn.BatchNorm2d(mid), nn.Conv2d(mid, cout, 1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv1(F.relu(self.bn1(x)))
        y = self.conv2(F.relu(self.bn2(y)))
        y = self.conv3(F.relu(self.bn3(y)))
        return y + (x if self.skip is None else self.skip(x))


class Hourglass(nn.Module):
    """One recursive hourglass of ``depth`` halvings: (B, C, h, w) -> (B, C, h, w).

    Pooling uses ceil mode and upsampling targets the skip branch's exact size,
    so any h, w works (not only multiples of 2**depth).
    """

    def __init__(self, depth: int, channels: int) -> None:
        super().__init__()
        self.up1 = Residual(channels, channels)
        self.low1 = Residual(channels, channels)
        self.low2 = Hourglass(depth - 1, channels) if depth > 1 else Residual(channels, channels)
        self.low3 = Residual(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        up = self.up1(x)
        low = self.low1(F.max_pool2d(x, 2, 2, ceil_mode=True))
        low = self.low3(self.low2(low))
        return up + F.interpolate(low, size=up.shape[-2:], mode="nearest")


class StackedHourglass(nn.Module):
    """Newell et al. stacked hourglass: images (B, 3, H, W) -> per-stack predictions.

    The stem downsamples to ``stride`` (4 in the paper; 8/16 for CLNet-Hourglass,
    where the whole network then runs at the coarser resolution). Each stack
    ends in a 1x1 head with ``head_channels`` outputs; every stack's prediction is
    returned for intermediate supervision, and it is mapped back (1x1) and added
    to the next stack's input.
    """

    def __init__(
        self, num_stacks: int, head_channels: int, width: float = 1.0, stride: int = 4, depth: int = 4
    ) -> None:
        super().__init__()
        c = max(8, int(round(256 * width)))
        half = max(4, c // 2)
        self.conv1 = nn.Conv2d(3, max(4, int(round(64 * width))), 7, 2, 3)
        self.bn1 = nn.BatchNorm2d(self.conv1.out_channels)
        stem = [Residual(self.conv1.out_channels, half), nn.MaxPool2d(2, 2), Residual(half, half), Residual(half, c)]
        s = 4
        while s < stride:  # extra halvings for coarse (CLNet) outputs
            stem += [nn.MaxPool2d(2, 2), Residual(c, c)]
            s *= 2
        self.stem = nn.Sequential(*stem)
        self.stride = stride
        self.num_stacks = num_stacks
        self.hourglasses = nn.ModuleList(Hourglass(depth, c) for _ in range(num_stacks))
        self.features = nn.ModuleList(
            nn.Sequential(Residual(c, c), nn.Conv2d(c, c, 1), nn.BatchNorm2d(c), nn.ReLU(inplace=True))
            for _ in range(num_stacks)
        )
        self.heads = nn.ModuleList(nn.Conv2d(c, head_channels, 1) for _ in range(num_stacks))
        self.merge_features = nn.ModuleList(nn.Conv2d(c, c, 1) for _ in range(num_stacks - 1))
        self.merge_preds = nn.ModuleList(nn.Conv2d(head_channels, c, 1) for _ in range(num_stacks - 1))
        self.channels = c

    def forward(self, x: Tensor) -> list[Tensor]:
        """images (B, 3, H, W) -> list of num_stacks tensors (B, head_channels, H/stride, W/stride)."""
        x = self.stem(F.relu(self.bn1(self.conv1(x))))
        preds = []
        for i in range(self.num_stacks):
            f = self.features[i](self.hourglasses[i](x))
            p = self.heads[i](f)
            preds.append(p)
            if i < self.num_stacks - 1:
                x = x + self.merge_features[i](f) + self.merge_preds[i](p)
        return preds

