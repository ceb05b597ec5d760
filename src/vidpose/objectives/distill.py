"""Teacher -> student: a model learns from another model's predictions instead of labels.

The teacher is any callable that maps a batch of normalised crops
(B, 3, H, W) to keypoints (B, K, 3) in crop pixels (a trained vidpose model's
``predict``, or a wrapper around a pretrained estimator); its keypoints are
encoded with the student's codec, so teacher and student may differ in
architecture, stride and input size of the heatmaps. No labels are read:
the crops come from the dataset's person boxes (or keypoints), and
validation scores the student against the teacher on held-out crops
(``val_pck_teacher``: PCK@0.2 with the teacher as reference, in image pixels).

With ``data.clip_length`` > 1 the samples are clips of T frames of one person
(:class:`vidpose.objectives.clips.ClipDataset` without labels); the teacher labels
every frame, the targets are stacked on a T axis (as the clip objective's), and
validation scores the centre frame (what ``model.predict`` of a clip model returns).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from vidpose.objectives.base import Objective
from vidpose.objectives.heatmaps import crop_dataset, crop_identity, image_pixel_pck


class DistillObjective(Objective):
    select = "val_pck_teacher"
    higher_is_better = True
    metric_keys = ("val_pck_teacher", "val_px_to_teacher")

    def __init__(self, train_cfg, model, teacher: Callable[[torch.Tensor], torch.Tensor], teacher_name: str) -> None:
        self.cfg, self.model, self.teacher, self.teacher_name = train_cfg, model, teacher, teacher_name

    def dataset(self, subset: str, train: bool):
        # No codec: targets are made from the teacher at training time, labels are never encoded.
        m = self.model
        crops = crop_dataset(self.cfg, subset, m.cfg.input_size, None, m.cfg.num_keypoints, train)
        if self.cfg.data.clip_length == 1:
            return crops
        from vidpose.objectives.clips import ClipDataset

        return ClipDataset(crops, self.cfg.data.clip_length, labels=False)

    @property
    def _key(self) -> str:
        return "image" if self.cfg.data.clip_length == 1 else "images"

    def _teacher_keypoints(self, images: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            kp = self.teacher(images)
        return (kp.numpy() if hasattr(kp, "numpy") else np.asarray(kp)).astype(np.float32)

    def loss(self, net, batch):
        x = batch[self._key]
        kp = self._teacher_keypoints(x.flatten(0, 1) if x.dim() == 5 else x)
        kp[:, :, 2] = 1.0  # every teacher keypoint is a target (its score is not a visibility)
        codec = self.model.codec
        enc = [codec.encode(k) for k in kp]
        targets = {key: torch.from_numpy(np.stack([e[key] for e in enc])) for key in enc[0]}
        if x.dim() == 5:  # clips: per-frame targets (B, T, ...)
            targets = {key: v.unflatten(0, tuple(x.shape[:2])) for key, v in targets.items()}
        return self.model.loss(net(x), targets)

    def validate(self, model, loader) -> dict[str, float]:
        preds, refs, affines = [], [], []
        for batch in loader:
            x = batch[self._key]
            preds.append(model.predict(x).numpy()[:, :, :2])
            refs.append(self._teacher_keypoints(x[:, x.shape[1] // 2] if x.dim() == 5 else x))
            affines.append(batch["affine"].numpy())
        from vidpose.geometry import crop_points_to_image

        a = np.concatenate(affines)
        ref = np.concatenate(refs).astype(np.float64)
        ref_img = np.concatenate([crop_points_to_image(ref[:, :, :2], a), np.ones_like(ref[:, :, :1])], axis=-1)
        r = image_pixel_pck(np.concatenate(preds), a, ref_img)
        return {"val_pck_teacher": r["val_pck"], "val_px_to_teacher": r["val_mean_px_error"]}

    def data_identity(self) -> dict[str, Any]:
        crops = getattr(self.train_data, "crops", self.train_data)
        ident = {**self.source_identity(), "teacher": self.teacher_name, **crop_identity(crops)}
        if self.cfg.data.clip_length > 1:
            ident["clip_length"] = self.cfg.data.clip_length
        return ident
