"""Model composition: :class:`PoseModel` = backbone -> head, decoded by a codec.

A method module (``vidpose.methods.<name>``) chooses the parts and builds the
model; this class only wires them, so no architecture branches live here.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch
from torch import Tensor, nn

from vidpose.errors import InputError
from vidpose.models.codecs import Codec


class PoseModel(nn.Module):
    """A trainable top-down 2D pose network.

    ``forward(images)`` takes (B, 3, H, W) images normalised with
    ``vidpose.io.images.IMAGENET_MEAN/STD`` and returns the head's raw outputs by
    name: the codec's ``output_keys`` (e.g. ``heatmaps`` (B, K, h, w), CLNet adds
    ``offsets`` (B, 2K, h, w)); a multi-stack head adds ``stacks``, one such dict
    per stack, for intermediate supervision.

    ``cfg`` is the method's config (``input_size`` (H, W), ``num_keypoints``,
    ``heatmap_stride``), ``method`` the method's name; ``grid`` is the factor
    the input size must be divisible by.
    """

    def __init__(self, method: str, cfg: Any, backbone: nn.Module, head: nn.Module, codec: Codec,
                 grid: int) -> None:
        super().__init__()
        self.method, self.cfg, self.codec, self.grid = method, cfg, codec, int(grid)
        self.backbone = backbone
        self.head = head
        self.extra: dict[str, Any] = {}

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
        if images.shape[-2] % self.grid or images.shape[-1] % self.grid:
            raise InputError(
                f"images: size {tuple(images.shape[-2:])} is not divisible by {self.grid} "
                f"({self.method}, model input_size {tuple(self.cfg.input_size)})"
            )
        if not images.is_floating_point():
            raise InputError(f"images: expected float (normalised) pixels, got {images.dtype}")

    def forward(self, images: Tensor) -> dict[str, Any]:
        """images (B, 3, H, W) -> raw outputs (see class docstring)."""
        if not torch.jit.is_tracing():  # shapes are fixed while exporting; checks would only warn
            self._check_images(images)
        return self.head(self.backbone(images))

    def loss(self, outputs: Mapping[str, Any], targets: Mapping[str, Any]) -> tuple[Tensor, dict[str, float]]:
        """Training loss on a batch; ``targets`` are the codec's stacked per-sample targets.

        With ``stacks`` in the outputs the codec's loss is summed over every stack
        (intermediate supervision). Returns (scalar tensor, {"loss", "loss_heatmap", ...}).
        """
        dev = outputs["heatmaps"].device
        t = {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v).to(dev) for k, v in targets.items()}
        per_stack = [self.codec.loss(o, t) for o in outputs.get("stacks", [outputs])]
        total = sum(l for l, _ in per_stack)
        parts: dict[str, float] = {}
        for _, p in per_stack:
            for key, v in p.items():
                parts[key] = parts.get(key, 0.0) + v
        return total, {"loss": float(total.detach()), **parts}

    @torch.no_grad()
    def predict(self, images: Tensor) -> Tensor:
        """images (B, 3, H, W) normalised -> keypoints (B, K, 3): x, y in input pixels, score.

        Runs in eval mode (BatchNorm uses running statistics) and restores the mode.
        """
        return decode_in_eval_mode(self, images)


def decode_in_eval_mode(model: nn.Module, inputs: Tensor) -> Tensor:
    """``model.codec``'s keypoints (B, K, 3) for ``inputs``, with the model in eval mode (BatchNorm on
    running statistics) and its mode restored afterwards; no gradients."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(inputs)
    finally:
        model.train(was_training)
    return torch.from_numpy(model.codec.decode({key: out[key] for key in model.output_keys}))
