"""Probing a frozen representation: a small regressor on top of an encoder, from a fraction of the labels.

Data: the per-frame person crops of a labelled video dataset
(:func:`vidpose.objectives.unlabelled.frame_crops`, the same crops the self-supervised encoder was
trained on, no augmentation), of which ``model.label_fraction`` are drawn once per run seed (at
least one). ``model.epoch_samples`` samples make one epoch (the drawn crops repeated), so every
fraction gets the same number of optimiser steps. A sample: ``images`` (3, H, W); ``keypoints``
(J, 2) crop coordinates scaled to [-1, 1]; ``visible`` (J,); ``joints_3d`` (J, 3) root-relative
metres (root: the mean of ``model.root_joints``) and ``has_3d``.

Validation (and the ``css`` bench): PCK@0.2 in image pixels (bbox-max normaliser over labelled
joints, as every 2D objective) and MPJPE in millimetres after root alignment.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vidpose.errors import InputError
from vidpose.objectives.base import Objective
from vidpose.objectives.unlabelled import FrameCrops, frame_crops

try:
    from torch.utils.data import Dataset as _TorchDataset
except ImportError:  # pragma: no cover
    _TorchDataset = object  # type: ignore[assignment,misc]


def label_subset(n: int, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of ``max(1, round(fraction * n))`` of ``n`` labelled samples, drawn with ``seed``."""
    if not 0.0 < fraction <= 1.0:
        raise InputError(f"config: model.label_fraction must be in (0, 1], got {fraction!r}")
    k = max(1, int(round(fraction * n)))
    return np.sort(np.random.default_rng([seed, 20]).choice(n, size=k, replace=False))


def crop_targets(crops: FrameCrops, root_joints: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Per crop: ``keypoints`` (N, J, 2) in [-1, 1] crop coordinates, ``visible`` (N, J) (labelled and inside
    the crop), ``joints_3d`` (N, J, 3) root-relative metres (zeros without 3D), ``has_3d`` (N,)."""
    from vidpose.geometry import apply_affine

    if crops.keypoints is None:
        raise InputError(f"{crops.name}: no labels; a probe needs a labelled dataset")
    h, w = crops.images.shape[1:3]
    kp = crops.keypoints
    xy = np.stack([apply_affine(m, k[:, :2]) for m, k in zip(crops.affines, kp)])
    inside = (xy[..., 0] >= 0) & (xy[..., 0] <= w - 1) & (xy[..., 1] >= 0) & (xy[..., 1] <= h - 1)
    scale = np.array([(w - 1) / 2, (h - 1) / 2])
    out = {"keypoints": (xy / scale - 1.0).astype(np.float32), "visible": (kp[..., 2] > 0) & inside}
    n, j = kp.shape[:2]
    k3 = root_relative_3d(crops, root_joints)
    out["joints_3d"] = np.zeros((n, j, 3), np.float32) if k3 is None else k3
    out["has_3d"] = np.full(n, k3 is not None)
    return out


def root_relative_3d(crops: FrameCrops, root_joints: tuple[int, ...]) -> np.ndarray | None:
    """(N, J, 3) float32 joints in metres relative to the mean of ``root_joints``; None without 3D labels."""
    k3 = crops.keypoints_3d
    if k3 is None:
        return None
    if max(root_joints) >= k3.shape[1]:
        raise InputError(f"config: model.root_joints {root_joints} out of range for {k3.shape[1]} joints")
    return (k3 - k3[:, list(root_joints)].mean(axis=1, keepdims=True)).astype(np.float32)


class ProbeDataset(_TorchDataset):
    """The labelled crops ``indices`` of :class:`FrameCrops`, repeated to ``epoch_samples`` per epoch."""

    def __init__(self, crops: FrameCrops, indices: np.ndarray, root_joints: tuple[int, ...], epoch_samples: int = 0):
        self.crops, self.indices = crops, np.asarray(indices, np.int64)
        self.targets = crop_targets(crops, root_joints)
        self.size = max(len(self.indices), int(epoch_samples))

    def __len__(self) -> int:
        return self.size

    def summary(self) -> str:
        return (f"{len(self.indices)} labelled crops of {len(self.crops)} ({self.crops.name}), "
                f"{self.size} samples per epoch")

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        k = int(self.indices[index % len(self.indices)])
        return {"images": torch.from_numpy(self.crops.normalised(k)),
                **{key: torch.from_numpy(np.asarray(v[k])) for key, v in self.targets.items()}}


def probe_scores(model, crops: FrameCrops, batch: int = 256) -> dict[str, float]:
    """``pck@0.2`` (image pixels, bbox-max) and ``mpjpe_mm`` (root-relative; NaN without 3D labels)
    of a probe model (``predict_2d`` crop pixels, ``predict_3d`` metres) on every crop."""
    import torch

    from vidpose.metrics.pose3d import mpjpe
    from vidpose.objectives.heatmaps import image_pixel_pck

    p2, p3 = [], []
    with torch.no_grad():
        for lo in range(0, len(crops), batch):
            x = torch.from_numpy(crops.normalised(np.arange(lo, min(lo + batch, len(crops)))))
            out = model(x)
            p2.append(model.to_crop_pixels(out["keypoints"]).numpy())
            p3.append(out["joints_3d"].numpy())
    pck = image_pixel_pck(np.concatenate(p2), crops.affines, crops.keypoints)["val_pck"]
    gt = root_relative_3d(crops, model.cfg.root_joints)
    err = float("nan") if gt is None else mpjpe(np.concatenate(p3) * 1000.0, gt * 1000.0)
    return {"pck@0.2": pck, "mpjpe_mm": err}


class ProbeObjective(Objective):
    select = "val_mpjpe_mm"
    higher_is_better = False
    metric_keys = ("val_mpjpe_mm", "val_pck")

    def dataset(self, subset: str, train: bool) -> ProbeDataset:
        m = self.model
        crops = frame_crops(self.cfg.data, subset, m.cfg.input_size)
        if crops.keypoints is not None and crops.keypoints.shape[1] != m.cfg.num_keypoints:
            raise InputError(f"config: model.num_keypoints is {m.cfg.num_keypoints} but {crops.name} has "
                             f"{crops.keypoints.shape[1]} keypoints")
        d = self.cfg.data
        if train:
            idx = label_subset(len(crops), m.cfg.label_fraction, self.cfg.run.seed)
            if d.max_samples:  # data.max_samples: the first N labelled crops
                idx = idx[: d.max_samples]
            return ProbeDataset(crops, idx, m.cfg.root_joints, m.cfg.epoch_samples)
        crops = crops.head(d.max_val_samples)  # data.max_val_samples: the first N crops are scored
        return ProbeDataset(crops, np.arange(len(crops)), m.cfg.root_joints)

    def loss(self, net, batch):
        return self.model.loss(net(batch["images"]), batch)

    def validate(self, model, loader) -> dict[str, float]:
        s = probe_scores(model, loader.dataset.crops)
        return {"val_mpjpe_mm": s["mpjpe_mm"], "val_pck": s["pck@0.2"]}

    def data_identity(self) -> dict[str, Any]:
        d = self.train_data
        return {"dataset": self.cfg.data.dataset, "subset": self.cfg.data.train_subset,
                "label_fraction": self.model.cfg.label_fraction, "labelled": len(d.indices),
                **d.crops.identity()}
