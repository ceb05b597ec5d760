"""Flowing ConvNets (Pfister, Charles, Zisserman, "Flowing ConvNets for Human Pose Estimation in
Videos", ICCV 2015).

A heatmap ConvNet with a spatial-fusion branch; dense optical flow warps the
fused heatmaps of the ±n neighbouring frames into the current frame, and a
learned *parametric pooling* (one 1x1 convolution per joint over its 2n+1
warped maps) combines them.

Single-frame network (the paper's layer list; widths times ``width``):
conv1 5x5/128, pool 2, conv2 5x5/128, pool 2, conv3 5x5/128, conv4 9x9/256,
conv5 9x9/512, conv6 1x1/256, conv7 1x1/256, conv8 1x1/K -> heatmap 1 (stride 4).
Spatial fusion: concat(conv3, conv7) -> 7x7/64 -> 13x13/64 -> 13x13/128 ->
1x1/256 -> 1x1/K (no final ReLU) -> heatmap 2. Gaussian targets, sigma 1.5
heatmap pixels; an L2 loss on each head and ``pool_weight`` (5) x L2 on the pooled map.

Training in two stages through the one trainer and the clip objective:
stage 1 the single-frame net (``temporal = "none"``, clips of 1 frame);
stage 2 the pooling (``temporal = "warp"``, ``neighbours = n``,
``train_pooling_only = true``, ``run.init_from`` = the stage-1 checkpoint,
``data.clip_length = 2n+1``). The pooling starts as the identity on the centre frame.

Ablations in the same code (``temporal``/``fusion``/``head``):
``none`` (single frame), ``nowarp`` (pooling over unwarped neighbours),
``flow-input`` (the flows to the centre frame fed as extra input channels,
no pooling), ``fusion = false`` (no spatial fusion), ``head = "regression"``
(direct coordinate regression instead of heatmaps).

Deviations from the paper (documented in docs/flowing.md): OpenCV DIS flow
instead of DeepFlow (``flow_preset``); flow is computed on the person crops
(one box per clip) rather than full frames; widths scaled down for CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from vidpose.errors import InputError
from vidpose.methods.base import Method
from vidpose.models.config import TopDownConfig, bad, check_positive

TEMPORAL = ("none", "warp", "nowarp", "flow-input")
HEADS = ("heatmap", "regression")


@dataclass
class Config(TopDownConfig):
    method: ClassVar[str] = "flowing"
    input_size: tuple[int, int] = (64, 64)  # (H, W); the paper used 256x256
    width: float = 0.25  # multiplier of the paper's channel widths (128 ... 512)
    sigma: float = 1.5  # Gaussian target sigma in heatmap pixels
    fusion: bool = True  # the spatial-fusion branch
    temporal: str = "none"  # none | warp | nowarp | flow-input
    neighbours: int = 0  # n: frames on each side (clips of 2n + 1 frames)
    head: str = "heatmap"  # heatmap | regression (direct coordinates)
    pool_weight: float = 5.0  # weight of the pooled map's loss
    train_pooling_only: bool = False  # stage 2: the single-frame net is frozen
    flow_preset: str = "fast"  # DIS preset for the flow between frames (see vidpose.flow)

    @property
    def clip_length(self) -> int:
        return 2 * self.neighbours + 1

    def validate(self) -> None:
        from vidpose.flow import PRESETS

        super().validate()
        if self.heatmap_stride != 4:
            raise bad("heatmap_stride", f"is fixed at 4 (two 2x2 poolings) for flowing, got {self.heatmap_stride}")
        self.check_grid(4, "flowing, multiples of 4")
        check_positive(self.sigma, "sigma")
        if self.temporal not in TEMPORAL:
            raise bad("temporal", f"is {self.temporal!r}; known: {', '.join(TEMPORAL)}")
        if self.head not in HEADS:
            raise bad("head", f"is {self.head!r}; known: {', '.join(HEADS)}")
        if not isinstance(self.neighbours, int) or not 0 <= self.neighbours <= 15:
            raise bad("neighbours", f"must be 0..15, got {self.neighbours!r}")
        if self.temporal == "none" and self.neighbours:
            raise bad("neighbours", f"is {self.neighbours} but temporal is 'none' (single frame)")
        if self.temporal != "none" and not self.neighbours:
            raise bad("neighbours", f"must be >= 1 for temporal {self.temporal!r}")
        if self.temporal in ("warp", "nowarp") and self.head != "heatmap":
            raise bad("head", "must be 'heatmap' for the heatmap pooling (temporal warp/nowarp)")
        if self.flow_preset not in PRESETS:
            raise bad("flow_preset", f"is {self.flow_preset!r}; known: {', '.join(PRESETS)}")
        if isinstance(self.pool_weight, bool) or not isinstance(self.pool_weight, (int, float)) or self.pool_weight < 0:
            raise bad("pool_weight", f"must be >= 0, got {self.pool_weight!r}")


def conv(cin: int, cout: int, k: int, relu: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, padding=k // 2)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)

class FrameNet(nn.Module):
    """The single-frame network with its spatial-fusion branch: image -> (heatmap 1, heatmap 2, conv7 features)."""

    def __init__(self, cfg: Config, in_channels: int) -> None:
        super().__init__()
        c = cfg.channels
        k = cfg.num_keypoints
        self.conv1 = conv(in_channels, c(128), 5)
        self.conv2 = conv(c(128), c(128), 5)
        self.conv3 = conv(c(128), c(128), 5)
        self.conv4 = conv(c(128), c(256), 9)
        self.conv5 = conv(c(256), c(512), 9)
        self.conv6 = conv(c(512), c(256), 1)
        self.conv7 = conv(c(256), c(256), 1)
        self.conv8 = nn.Conv2d(c(256), k, 1)
        self.fusion = None
        if cfg.fusion:
            self.fusion = nn.Sequential(conv(c(128) + c(256), c(64), 7), conv(c(64), c(64), 13),
                                        conv(c(64), c(128), 13), conv(c(128), c(256), 1), nn.Conv2d(c(256), k, 1))
        self.pool = nn.MaxPool2d(2, 2)

    def forward(self, x):
        x = self.pool(self.conv1(x))
        x = self.pool(self.conv2(x))
        f3 = self.conv3(x)
        f7 = self.conv7(self.conv6(self.conv5(self.conv4(f3))))
        h1 = self.conv8(f7)
        h2 = self.fusion(torch.cat([f3, f7], dim=1)) if self.fusion is not None else None
        return h1, h2, f7

class FlowingConvNet(nn.Module):
    """clips (B, T, 3, H, W) normalised RGB, T = 2n + 1 -> outputs of the centre frame."""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        from vidpose.models.codecs import CoordinateCodec, GaussianHeatmapCodec

        self.method, self.cfg = METHOD.name, cfg
        self.extra: dict = {}
        k, t = cfg.num_keypoints, cfg.clip_length
        flow_in = 2 * (t - 1) if cfg.temporal == "flow-input" else 0
        self.frame = FrameNet(cfg, 3 + flow_in)
        if cfg.head == "regression":
            self.codec = CoordinateCodec(cfg.input_size, 4, k)
            self.regress = nn.Linear(cfg.channels(256), 2 * k)
        else:
            self.codec = GaussianHeatmapCodec(cfg.input_size, 4, k, sigma=cfg.sigma)
            self.regress = None
        self.pooling = None
        if cfg.temporal in ("warp", "nowarp"):
            # the parametric pooling: per joint, a 1x1 conv over its 2n+1 maps; starts as
            # "take the centre frame's map"
            self.pooling = nn.Conv2d(k * t, k, 1, groups=k)
            with torch.no_grad():
                self.pooling.weight.zero_()
                self.pooling.weight[:, t // 2] = 1.0
                self.pooling.bias.zero_()
        if cfg.train_pooling_only:
            for p in self.frame.parameters():
                p.requires_grad_(False)
        self._flow = None

    @property
    def output_keys(self) -> tuple[str, ...]:
        return self.codec.output_keys

    def _flows(self, clips) -> np.ndarray:
        """(B, T, H, W, 2) flows from every frame to the centre frame, on the crops."""
        from vidpose.flow import FlowConfig, FlowEstimator, clip_flows
        from vidpose.io.images import IMAGENET_MEAN, IMAGENET_STD

        if self._flow is None:
            self._flow = FlowEstimator(FlowConfig(preset=self.cfg.flow_preset, scale=1.0))
        x = clips.detach().cpu().numpy().transpose(0, 1, 3, 4, 2)
        rgb = np.clip((x * np.array(IMAGENET_STD) + np.array(IMAGENET_MEAN)) * 255.0, 0, 255).astype(np.uint8)
        c = rgb.shape[1] // 2
        return np.stack([clip_flows(clip, c, self._flow) for clip in rgb])

    def forward(self, clips):
        if clips.dim() == 4 and self.cfg.clip_length == 1:
            clips = clips[:, None]  # single-frame variants also take plain crops (B, 3, H, W), as vidpose run gives
        if clips.dim() != 5 or clips.shape[1] != self.cfg.clip_length or clips.shape[2] != 3:
            raise InputError(f"clips: expected (B, {self.cfg.clip_length}, 3, H, W), got {tuple(clips.shape)}")
        b, t = clips.shape[:2]
        c = t // 2
        temporal = self.cfg.temporal
        if temporal == "flow-input":
            flows = torch.from_numpy(self._flows(clips)).to(clips.dtype)  # (B, T, H, W, 2)
            others = [k for k in range(t) if k != c]
            extra = flows[:, others].permute(0, 1, 4, 2, 3).reshape(b, -1, *clips.shape[-2:])
            h1, h2, f7 = self.frame(torch.cat([clips[:, c], extra / 8.0], dim=1))
            return self._outputs(h1, h2, f7, None)
        if temporal == "none":
            h1, h2, f7 = self.frame(clips[:, c])
            return self._outputs(h1, h2, f7, None)
        h1, h2, f7 = self.frame(clips.flatten(0, 1))
        fused = (h2 if h2 is not None else h1).unflatten(0, (b, t))  # (B, T, K, h, w)
        if temporal == "warp":
            from vidpose.flow import resize_flow, warp_maps_torch

            flows = self._flows(clips)  # input pixels; to heatmap pixels:
            hh, ww = fused.shape[-2:]
            small = np.stack([[resize_flow(f, hh, ww) for f in clip] for clip in flows])
            small = torch.from_numpy(small).to(fused.dtype)
            warped = warp_maps_torch(fused.flatten(0, 1), small.flatten(0, 1)).unflatten(0, (b, t))
        else:
            warped = fused
        # (B, T, K, h, w) -> (B, K*T, h, w) grouped per joint for the per-joint pooling
        stacked = warped.permute(0, 2, 1, 3, 4).reshape(b, -1, *warped.shape[-2:])
        pooled = self.pooling(stacked)
        pick = lambda m: m.unflatten(0, (b, t))[:, c] if m is not None else None  # noqa: E731
        return self._outputs(pick(h1), pick(h2), None, pooled)

    def _outputs(self, h1, h2, f7, pooled) -> dict:
        if self.regress is not None:
            coords = self.regress(f7.mean(dim=(2, 3))).unflatten(1, (self.cfg.num_keypoints, 2))
            return {"coords": torch.sigmoid(coords), "stages": []}
        stages = [(1.0, h1)] + ([(1.0, h2)] if h2 is not None else [])
        if pooled is not None:
            stages.append((float(self.cfg.pool_weight), pooled))
        final = pooled if pooled is not None else (h2 if h2 is not None else h1)
        return {"heatmaps": final, "stages": stages}

    def loss(self, outputs, targets):
        """Targets are the clip objective's per-frame targets (B, T, ...); the centre frame's are used."""
        t = {k: v[:, v.shape[1] // 2] for k, v in targets.items()}
        if self.regress is not None:
            total, parts = self.codec.loss(outputs, t)
            return total, {"loss": float(total.detach()), **parts}
        total, parts = 0.0, {}
        names = ["loss_heatmap1", "loss_heatmap2"][: len(outputs["stages"]) - (self.pooling is not None)]
        names += ["loss_pooled"] if self.pooling is not None else []
        for name, (w, hm) in zip(names, outputs["stages"]):
            part, _ = self.codec.loss({"heatmaps": hm}, t)
            total = total + w * part
            parts[name] = float(part.detach())
        return total, {"loss": float(total.detach()), **parts}

    def predict(self, clips):
        """clips (B, T, 3, H, W) -> the centre frame's keypoints (B, K, 3) in crop pixels."""
        from vidpose.models.model import decode_in_eval_mode

        return decode_in_eval_mode(self, clips)




def build(cfg: Config):
    return FlowingConvNet(cfg)


def objective(train_cfg, model):
    from vidpose.objectives.clips import ClipObjective

    if train_cfg.data.clip_length != model.cfg.clip_length:
        raise InputError(f"config: data.clip_length is {train_cfg.data.clip_length} but the model takes clips of "
                         f"{model.cfg.clip_length} frames (2 * model.neighbours + 1)")
    return ClipObjective(train_cfg, model)


METHOD = Method("flowing", Config, build, objective,
                "Flowing ConvNets: heatmap ConvNet + spatial fusion + flow-warped neighbours + parametric pooling")
