"""Keypoint sequences -> 3D: the objective of 2D-to-3D lifters.

A sample is a window of ``model.cfg.receptive_field`` (odd) frames of one
sequence's 2D joints around a centre frame (edges repeat the first/last frame),
normalised to the image (``x / w * 2 - 1``, ``y / w * 2 - h / w``, as
VideoPose3D), and the centre frame's 3D joints relative to the root joint
(joint 0, the pelvis of H36M-17), in metres.

The model takes ``keypoints_2d`` (B, T, J, 2) and returns (B, J, 3). Loss: MPJPE
(metres); validation: ``val_mpjpe`` in millimetres (lower is better) over every
centre frame of the validation sequences.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from vidpose.errors import InputError
from vidpose.objectives.base import Objective

try:
    from torch.utils.data import Dataset as _TorchDataset
except ImportError:  # pragma: no cover
    _TorchDataset = object  # type: ignore[assignment,misc]


def normalize_screen(xy: np.ndarray, width: float, height: float) -> np.ndarray:
    """Pixels (..., 2) -> [-1, 1] across the width, aspect kept (VideoPose3D's convention)."""
    return xy / width * 2.0 - np.array([1.0, height / width])


class SequenceWindows(_TorchDataset):
    """(sequence, frame) windows of a list of :class:`~vidpose.data.annotations.Sequence3D`."""

    def __init__(self, sequences: list, window: int, num_joints: int, source: str, max_samples: int = 0) -> None:
        if window < 1 or window % 2 == 0:
            raise InputError(f"model config: receptive_field must be odd and >= 1, got {window}")
        self.window, self.source = int(window), source
        self.inputs, self.targets = [], []
        for s in sequences:
            j3, j2 = np.asarray(s.joints_3d, np.float64), s.joints_2d
            if j2 is None:
                raise InputError(f"{source}: sequence {s.subject}/{s.action} has no 2D joints")
            j2 = np.asarray(j2, np.float64)
            if j3.ndim != 3 or j3.shape[1:] != (num_joints, 3) or j2.shape != j3.shape[:2] + (2,):
                raise InputError(f"{source}: sequence {s.subject}/{s.action}: joints {j3.shape} / 2D {j2.shape}, "
                                 f"expected (T, {num_joints}, 3) / (T, {num_joints}, 2)")
            cp = s.camera_params or {}
            if "width" not in cp or "height" not in cp:
                raise InputError(f"{source}: sequence {s.subject}/{s.action} has no image size (camera_params)")
            self.inputs.append(normalize_screen(j2, float(cp["width"]), float(cp["height"])).astype(np.float32))
            self.targets.append((j3 - j3[:, :1]).astype(np.float32))
        self.index = [(i, t) for i, x in enumerate(self.inputs) for t in range(len(x))]
        if max_samples:
            self.index = self.index[:max_samples]
        if not self.index:
            raise InputError(f"{source}: no frames to train on")

    def __len__(self) -> int:
        return len(self.index)

    def summary(self) -> str:
        return f"{self.source}: {len(self.index)} windows of {self.window} frames from {len(self.inputs)} sequences"

    def __getitem__(self, i: int) -> dict[str, Any]:
        import torch

        s, t = self.index[i]
        x = self.inputs[s]
        h = self.window // 2
        idx = np.clip(np.arange(t - h, t + h + 1), 0, len(x) - 1)
        return {"keypoints_2d": torch.from_numpy(x[idx]), "joints_3d": torch.from_numpy(self.targets[s][t])}

    def identity(self) -> str:
        h = hashlib.sha256()
        for x, y in zip(self.inputs, self.targets):
            h.update(x.tobytes())
            h.update(y.tobytes())
        return h.hexdigest()


def mpjpe_loss(pred, target):
    """Mean per-joint position error (same unit as the inputs) of (B, J, 3) tensors."""
    return (pred - target).norm(dim=-1).mean()


class SequenceObjective(Objective):
    select = "val_mpjpe"
    higher_is_better = False
    metric_keys = ("val_mpjpe",)

    def __init__(self, train_cfg, model) -> None:
        self.cfg, self.model = train_cfg, model

    def _windows(self, subset: str, train: bool) -> SequenceWindows:
        from vidpose.data.loaders import describe_source, load_sequences

        d = self.cfg.data
        return SequenceWindows(load_sequences(d, subset), self.model.cfg.receptive_field, self.model.cfg.num_joints,
                               describe_source(d, subset), d.max_samples if train else d.max_val_samples)

    def train_set(self):
        self.train_data = self._windows(self.cfg.data.train_subset, True)
        return self.train_data

    def val_set(self):
        return self._windows(self.cfg.data.val_subset, False) if self.cfg.data.val_subset else None

    def loss(self, net, batch):
        loss = mpjpe_loss(net(batch["keypoints_2d"]), batch["joints_3d"])
        return loss, {"loss": float(loss.detach())}

    def validate(self, model, loader) -> dict[str, float]:
        import torch

        err, n = 0.0, 0
        with torch.no_grad():
            for batch in loader:
                e = (model(batch["keypoints_2d"]) - batch["joints_3d"]).norm(dim=-1)
                err += float(e.sum())
                n += e.numel()
        return {"val_mpjpe": 1000.0 * err / max(n, 1)}

    def data_identity(self) -> dict[str, Any]:
        return {"dataset": self.cfg.data.dataset, "subset": self.cfg.data.train_subset,
                "samples": len(self.train_data), "sequences": len(self.train_data.inputs),
                "data_sha256": self.train_data.identity()}
