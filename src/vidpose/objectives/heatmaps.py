"""Per-crop heatmaps: the objective of the top-down 2D methods (SimpleBaseline, Hourglass, CLNet).

Data: every labelled person of the configured dataset as a box-centred crop
(:class:`vidpose.data.topdown.TopDownDataset`, ``[aug]`` augmentation), with
targets from the model's codec. Loss: the model's (codec's) loss. Validation:
PCK@0.2 (bbox-max normaliser over labelled joints) and mean pixel error, in
image pixels (crop predictions mapped back through each crop's affine);
``val_pck`` picks the best checkpoint.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from vidpose.errors import InputError
from vidpose.objectives.base import Objective

PCK_ALPHA = 0.2


def crop_dataset(train_cfg, subset: str, input_size: tuple[int, int], codec, num_keypoints: int, train: bool):
    """The top-down crops of ``subset`` (InputError naming the source when it has none or the keypoints differ)."""
    from vidpose.data.loaders import describe_source, load_dataset
    from vidpose.data.topdown import TopDownDataset

    d = train_cfg.data
    pose = load_dataset(d, subset)
    nj = len(pose.keypoint_names)
    if nj != num_keypoints:
        raise InputError(f"config: model.num_keypoints is {num_keypoints} but dataset {d.dataset!r} "
                         f"({describe_source(d, subset)}) has {nj} keypoints")
    ds = TopDownDataset(pose, input_size, codec, train=train, aug=train_cfg.aug, seed=train_cfg.run.seed,
                        max_samples=d.max_samples if train else d.max_val_samples)
    if len(ds) == 0:
        raise InputError(f"{describe_source(d, subset)}: dataset {d.dataset!r} subset {subset!r} has no usable person "
                         f"({len(pose.frames)} frames; {ds.summary()})")
    return ds


def crop_identity(ds) -> dict[str, Any]:
    """Dataset name, size and a sha256 over every sample's frame and keypoints (the labels' identity)."""
    from pathlib import Path

    h = hashlib.sha256()
    pose = ds.dataset
    for it in ds.items:
        frame = pose.frames[it.frame]
        # the dataset's own frame id (or the file name): not the folder, which differs between machines
        name = frame.image_id if frame.image_id is not None else Path(str(frame.image or frame.video or it.frame)).name
        h.update(str(name).encode())
        h.update(np.ascontiguousarray(frame.persons[it.person].keypoints, np.float64).tobytes())
    ident: dict[str, Any] = {"name": pose.name, "samples": len(ds), "frames": len(pose.frames),
                             "labels_sha256": h.hexdigest()}
    return ident


def image_pixel_pck(pred_crop: np.ndarray, affines: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """pred_crop (N, J, 2) crop pixels, affines (N, 2, 3) crop <- image, gt (N, J, 3) image pixels ->
    {"val_pck", "val_mean_px_error"}. Persons with fewer than two labelled joints have no bbox-max
    size and are left out of PCK (still in the pixel error)."""
    from vidpose.geometry import crop_points_to_image
    from vidpose.metrics.keypoints import bbox_max_norm, pck

    pred = crop_points_to_image(pred_crop, affines)
    vis = gt[..., 2] > 0
    err = np.linalg.norm(pred - gt[..., :2], axis=-1)
    mpe = float(err[vis].mean()) if vis.any() else float("nan")
    norm = bbox_max_norm(gt, vis)
    keep = norm > 0
    res = pck(pred[keep], gt[keep, :, :2], vis[keep], norm[keep], PCK_ALPHA) if keep.any() else None
    return {"val_pck": float(res.mean) if res is not None else float("nan"), "val_mean_px_error": mpe}


class TopDownObjective(Objective):
    select = "val_pck"
    higher_is_better = True
    metric_keys = ("val_pck", "val_mean_px_error")

    def dataset(self, subset: str, train: bool):
        m = self.model
        return crop_dataset(self.cfg, subset, m.cfg.input_size, m.codec, m.cfg.num_keypoints, train)

    def loss(self, net, batch):
        return self.model.loss(net(batch["image"]), batch["targets"])

    def validate(self, model, loader) -> dict[str, float]:
        preds, affines, gts = [], [], []
        for batch in loader:
            preds.append(model.predict(batch["image"]).numpy()[:, :, :2])
            affines.append(batch["affine"].numpy())
            gts.append(batch["image_keypoints"].numpy())
        return image_pixel_pck(np.concatenate(preds), np.concatenate(affines), np.concatenate(gts))

    def data_identity(self) -> dict[str, Any]:
        return {**self.source_identity(), **crop_identity(self.train_data)}
