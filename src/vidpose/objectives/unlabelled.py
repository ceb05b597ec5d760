"""Unlabelled clips: self-supervised objectives that read no labels.

The data are the clips of :mod:`vidpose.objectives.clips` without keypoints or
targets (``images`` (T, 3, H, W) and the crop ``affine`` only; the person box
comes from the dataset's box, so a detector's boxes on any video do as well).
The model's own ``loss(outputs)`` is the objective (contrastive, reconstruction
...); the best checkpoint is the one with the lowest loss on held-out clips
(``val_loss``), since no label exists to score it.
"""

from __future__ import annotations

from typing import Any

from vidpose.objectives.base import Objective, mean_loss
from vidpose.objectives.clips import ClipDataset
from vidpose.objectives.heatmaps import crop_dataset, crop_identity


class UnlabelledClipObjective(Objective):
    select = "val_loss"
    higher_is_better = False
    metric_keys = ("val_loss",)

    def dataset(self, subset: str, train: bool) -> ClipDataset:
        m = self.model
        crops = crop_dataset(self.cfg, subset, m.cfg.input_size, None, m.cfg.num_keypoints, train)
        return ClipDataset(crops, self.cfg.data.clip_length, labels=False)

    def loss(self, net, batch):
        return self.model.loss(net(batch["images"]))

    def validate(self, model, loader) -> dict[str, float]:
        return {"val_loss": mean_loss(self, model, loader)}

    def data_identity(self) -> dict[str, Any]:
        ident = crop_identity(self.train_data.crops)
        ident.pop("labels_sha256")  # no label is read; the frames are the data
        return {"dataset": self.cfg.data.dataset, "subset": self.cfg.data.train_subset,
                "clip_length": self.cfg.data.clip_length, **ident}
