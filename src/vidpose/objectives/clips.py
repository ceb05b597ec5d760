"""Clips of frames: the objective of temporal 2D models, and the data of the label-free one.

A sample is ``T = data.clip_length`` consecutive frames of one tracked person
(a sequence of the dataset), all cropped with the box of the centre frame (so
the person's motion stays visible inside the crop) and the same augmentation.
``images`` (T, 3, H, W); with a codec, ``targets`` are the codec's per-frame
targets stacked on a T axis; ``image_keypoints`` (T, J, 3) image pixels (all
zero where the person is not in that frame); ``affine`` (2, 3) crop <- image.

The model takes ``images`` (B, T, 3, H, W); ``model.loss(outputs, targets)``
trains it and ``model.predict(images)`` gives the centre frame's keypoints
(B, K, 3) in crop pixels; validation is that frame's PCK@0.2 in image pixels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vidpose.errors import InputError
from vidpose.objectives.base import Objective
from vidpose.objectives.heatmaps import crop_dataset, crop_identity, image_pixel_pck

try:
    from torch.utils.data import Dataset as _TorchDataset
except ImportError:  # pragma: no cover
    _TorchDataset = object  # type: ignore[assignment,misc]


class ClipDataset(_TorchDataset):
    """Clips of ``length`` frames around every person crop of a :class:`~vidpose.data.topdown.TopDownDataset`."""

    def __init__(self, crops, length: int, labels: bool = True) -> None:
        if length < 1 or length % 2 == 0:
            raise InputError(f"config: data.clip_length must be odd and >= 1, got {length}")
        self.crops, self.length, self.labels = crops, int(length), bool(labels)
        pose = crops.dataset
        where: dict[int, tuple[str, int]] = {}
        for name, idx in pose.sequences.items():
            at = [pose.frames[fi].index for fi in idx]
            gap = next((k for k in range(1, len(at)) if at[k] != at[k - 1] + 1), None)
            if gap is not None:  # a clip would take frames that are not neighbours in the video
                raise InputError(f"dataset {pose.name}: sequence {name!r} skips frames (frame {at[gap - 1]}, then "
                                 f"{at[gap]}); clip objectives need every frame of a video, labelled or not")
            for pos, fi in enumerate(idx):
                where[fi] = (name, pos)
        if not where:
            raise InputError(f"dataset {pose.name}: no sequences; clip objectives need video datasets "
                             "(e.g. synth-single, posetrack18, penn_action)")
        self.where = where

    def __len__(self) -> int:
        return len(self.crops)

    def set_epoch(self, epoch: int) -> None:
        self.crops.set_epoch(epoch)

    def summary(self) -> str:
        return f"clips of {self.length} frames around {self.crops.summary()}"

    def _frames(self, index: int) -> list[tuple[int, int | None]]:
        """(frame index, person index or None) of each frame of the clip around sample ``index``."""
        c = self.crops
        it = c.items[index]
        pose = c.dataset
        name, pos = self.where[it.frame]
        seq = pose.sequences[name]
        tid = pose.frames[it.frame].persons[it.person].track_id
        out = []
        for k in range(pos - self.length // 2, pos + self.length // 2 + 1):
            fi = seq[min(max(k, 0), len(seq) - 1)]  # edges repeat the first/last frame
            if fi == it.frame:
                out.append((fi, it.person))
                continue
            match = [i for i, p in enumerate(pose.frames[fi].persons) if tid is not None and p.track_id == tid]
            out.append((fi, match[0] if match else None))
        return out

    def __getitem__(self, index: int) -> dict[str, Any]:
        import cv2
        import torch

        from vidpose.data.topdown import crop_affine, read_image
        from vidpose.geometry import apply_affine
        from vidpose.io.images import normalize_rgb

        c = self.crops
        it = c.items[index]
        center, size, rot, flip = it.center, it.size, 0.0, False
        if c.train:
            center, size, rot, flip = c._augment(index, center, size)
        m = crop_affine(center, size, rot, c.input_size, flip)
        out_h, out_w = c.input_size
        images, kps, targets = [], [], []
        for fi, pi in self._frames(index):
            frame = c.dataset.frames[fi]
            img = cv2.warpAffine(read_image(frame, fi), m, (out_w, out_h), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
            images.append(img)
            kp = np.zeros((c.num_keypoints, 3))
            if pi is not None:
                kp = np.asarray(frame.persons[pi].keypoints, np.float64).copy()
            kps.append(kp.copy())
            if self.labels and c.codec is not None:
                k = kp.copy()
                k[:, :2] = apply_affine(m, k[:, :2])
                if flip:
                    k = k[c.flip_perm]
                inside = (k[:, 0] >= 0) & (k[:, 0] <= out_w - 1) & (k[:, 1] >= 0) & (k[:, 1] <= out_h - 1)
                k[~inside, 2] = 0
                targets.append(c.codec.encode(k.astype(np.float32)))
        sample: dict[str, Any] = {
            "images": torch.from_numpy(normalize_rgb(np.stack(images), c.mean, c.std)),
            "affine": torch.from_numpy(m),
        }
        if self.labels:
            sample["image_keypoints"] = torch.from_numpy(np.stack(kps))
            if targets:
                sample["targets"] = {k: torch.from_numpy(np.stack([t[k] for t in targets])) for k in targets[0]}
        return sample


class ClipObjective(Objective):
    select = "val_pck"
    higher_is_better = True
    metric_keys = ("val_pck", "val_mean_px_error")

    def dataset(self, subset: str, train: bool) -> ClipDataset:
        m = self.model
        crops = crop_dataset(self.cfg, subset, m.cfg.input_size, m.codec, m.cfg.num_keypoints, train)
        return ClipDataset(crops, self.cfg.data.clip_length)

    def loss(self, net, batch):
        return self.model.loss(net(batch["images"]), batch["targets"])

    def validate(self, model, loader) -> dict[str, float]:
        preds, affines, gts = [], [], []
        for batch in loader:
            centre = batch["images"].shape[1] // 2
            preds.append(model.predict(batch["images"]).numpy()[:, :, :2])
            affines.append(batch["affine"].numpy())
            gts.append(batch["image_keypoints"][:, centre].numpy())
        return image_pixel_pck(np.concatenate(preds), np.concatenate(affines), np.concatenate(gts))

    def data_identity(self) -> dict[str, Any]:
        return {**self.source_identity(), "clip_length": self.cfg.data.clip_length,
                **crop_identity(self.train_data.crops)}
