"""Model composition: :class:`PoseModel` = backbone + head + codec, built from a :class:`ModelConfig`."""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import torch
from torch import Tensor, nn

from vidpose.errors import InputError
from vidpose.models.backbones import ResNet, StackedHourglass
from vidpose.models.codecs import Codec, CompositeCodec, GaussianHeatmapCodec
from vidpose.models.config import RESNET_STRIDE, ModelConfig
from vidpose.models.heads import CompositeHead, DeconvHead


def build_codec(cfg: ModelConfig) -> Codec:
    """The codec matching ``cfg`` (Gaussian heatmaps or CLNet composite)."""
    if cfg.is_composite:
        return CompositeCodec(
            cfg.input_size, cfg.heatmap_stride, cfg.num_keypoints,
            target=cfg.composite_target, cell_sigma=cfg.cell_sigma, offset_weight=cfg.offset_weight,
        )
    return GaussianHeatmapCodec(cfg.input_size, cfg.heatmap_stride, cfg.num_keypoints, sigma=cfg.sigma)


class PoseModel(nn.Module):
    """A trainable top-down 2D pose network.

    ``forward(images)`` takes (B, 3, H, W) images normalised with IMAGENET_MEAN/STD
    and returns ``heatmaps`` (B, K, h, w) (+ ``offsets`` (B, 2K, h, w) for CLNet);
    hourglass archs add ``stack_heatmaps`` (B, S, K, h, w) (+ ``stack_offsets``)
    for intermediate supervision.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.codec = build_codec(cfg)
        k = cfg.num_keypoints
        if cfg.is_hourglass:
            out = 3 * k if cfg.is_composite else k
            self.backbone = StackedHourglass(cfg.num_stacks, out, cfg.width, cfg.heatmap_stride)
            for head in self.backbone.heads:
                nn.init.normal_(head.weight, std=0.001)
                nn.init.zeros_(head.bias)
                if cfg.is_composite:
                    nn.init.constant_(head.bias[k:], 0.5)  # offsets start at the cell centre
            self.head = None
        else:
            self.backbone = ResNet(cfg.backbone, cfg.width)
            ch = cfg.channels(cfg.deconv_channels)
            num_up = int(math.log2(RESNET_STRIDE // cfg.heatmap_stride))
            if cfg.is_composite:
                self.head = CompositeHead(self.backbone.out_channels, k, num_up, ch)
            else:
                self.head = DeconvHead(self.backbone.out_channels, k, cfg.num_deconv, ch)

    @property
    def output_keys(self) -> tuple[str, ...]:
        """Names of the raw outputs the codec decodes (and ONNX export writes)."""
        return self.codec.output_keys

    def _check_images(self, images: Any) -> None:
        if not isinstance(images, Tensor):
            raise InputError(f"images: expected a torch.Tensor (B, 3, H, W), got {type(images).__name__}")
        if images.dim() != 4 or images.shape[1] != 3:
            raise InputError(f"images: expected shape (B, 3, H, W), got {tuple(images.shape)}")
        # Fully convolutional: any size on the backbone's grid works (decoding
        # only needs the stride); training targets use cfg.input_size.
        div = self.cfg.heatmap_stride if self.cfg.is_hourglass else RESNET_STRIDE
        if images.shape[-2] % div or images.shape[-1] % div:
            raise InputError(
                f"images: size {tuple(images.shape[-2:])} is not divisible by {div} "
                f"(model input_size {self.cfg.input_size})"
            )
        if not images.is_floating_point():
            raise InputError(f"images: expected float (normalised) pixels, got {images.dtype}")

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        """images (B, 3, H, W) -> raw outputs (see class docstring)."""
        if not torch.jit.is_tracing():  # shapes are fixed while exporting; checks would only warn
            self._check_images(images)
        k = self.cfg.num_keypoints
        if self.head is not None:
            return self.head(self.backbone(images))
        preds = self.backbone(images)  # list of (B, K or 3K, h, w)
        stack = torch.stack(preds, dim=1)
        out = {"heatmaps": preds[-1][:, :k], "stack_heatmaps": stack[:, :, :k]}
        if self.cfg.is_composite:
            out["offsets"] = preds[-1][:, k:]
            out["stack_offsets"] = stack[:, :, k:]
        return out

    def loss(self, outputs: Mapping[str, Tensor], targets: Mapping[str, Any]) -> tuple[Tensor, dict[str, float]]:
        """Training loss on a batch; ``targets`` are the codec's stacked per-sample targets.

        Hourglass archs sum the loss over every stack (intermediate supervision).
        Returns (scalar tensor, {"loss": ..., "loss_heatmap": ..., ["loss_offset": ...]}).
        """
        t = {key: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v) for key, v in targets.items()}
        dev = outputs["heatmaps"].device
        t = {key: v.to(dev) for key, v in t.items()}
        if "stack_heatmaps" in outputs:
            per_stack = []
            for s in range(outputs["stack_heatmaps"].shape[1]):
                o = {"heatmaps": outputs["stack_heatmaps"][:, s]}
                if "stack_offsets" in outputs:
                    o["offsets"] = outputs["stack_offsets"][:, s]
                per_stack.append(self.codec.loss(o, t))
            total = sum(l for l, _ in per_stack)
            parts: dict[str, float] = {}
            for _, p in per_stack:
                for key, v in p.items():
                    parts[key] = parts.get(key, 0.0) + v
        else:
            total, parts = self.codec.loss(outputs, t)
        parts = {"loss": float(total.detach()), **parts}
        return total, parts

    @torch.no_grad()
    def predict(self, images: Tensor) -> Tensor:
        """images (B, 3, H, W) normalised -> keypoints (B, K, 3): x, y in input pixels, score.

        Runs in eval mode (BatchNorm uses running statistics) and restores the mode.
        """
        was_training = self.training
        self.eval()
        try:
            out = self.forward(images)
        finally:
            self.train(was_training)
        kp = self.codec.decode({key: out[key] for key in self.output_keys})
        return torch.from_numpy(kp)


def build_model(cfg: ModelConfig) -> PoseModel:
    """Build a freshly initialised :class:`PoseModel` for ``cfg`` (raises InputError on a bad config)."""
    if not isinstance(cfg, ModelConfig):
        raise InputError(f"build_model: expected a ModelConfig, got {type(cfg).__name__}")
    return PoseModel(cfg)
