"""Penn Action (2326 video clips of 15 sports actions, 13 joints per frame).

Keypoint order, skeleton name ``penn13``::

    0 head  1 left_shoulder  2 right_shoulder  3 left_elbow  4 right_elbow
    5 left_wrist  6 right_wrist  7 left_hip  8 right_hip  9 left_knee
    10 right_knee  11 left_ankle  12 right_ankle

Visibility: ``visibility`` 1 -> 2; 0 -> 1 (the joint is annotated but not
visible; its x, y are kept). Standard Penn Action PCK counts visible joints
only, i.e. visibility 2.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vidpose.data.readers._common import (
    as_array,
    as_int,
    fail,
    iter_files,
    load_mat,
    map_visibility,
    mat_str,
)
from vidpose.data.annotations import FrameAnnotation, PersonAnnotation, PoseDataset

PENN13_KEYPOINTS: tuple[str, ...] = (
    "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
)
_J = len(PENN13_KEYPOINTS)


def read_penn_action(root: str | Path) -> PoseDataset:
    """Read ``root/labels/*.mat`` (one file per clip) into a :class:`PoseDataset`.

    Each label file holds ``x``, ``y``, ``visibility`` (T x 13), ``bbox``
    (T x 4, x1 y1 x2 y2), ``nframes``, ``train`` (1 train, -1 test),
    ``action`` and, optionally, ``pose`` (camera view) and ``dimensions``
    (H W T). Sequence name = file stem (``"0001"``); frame ``t`` (0-based) is
    ``root/frames/<seq>/%06d.jpg`` with number ``t + 1``; ``image_id`` =
    ``"<seq>/<t+1>"``. The person's ``extra``: ``train`` (bool), ``action``,
    ``pose`` (when present). A few clips have fewer bbox rows than frames: the
    remaining frames get ``bbox = None`` and ``extra["bbox_missing"] = True``.
    """
    base = Path(root)
    files = iter_files(base / "labels", "*.mat", "Penn Action label")
    frames: list[FrameAnnotation] = []
    sequences: dict[str, list[int]] = {}
    for f in files:
        seq = f.stem
        m = load_mat(f)
        for key in ("x", "y", "visibility", "bbox", "nframes", "train", "action"):
            if key not in m:
                raise fail(f, key, "missing variable")
        t = as_int(m["nframes"], f, "nframes")
        if t <= 0:
            raise fail(f, "nframes", f"expected a positive frame count, got {t}")
        x = as_array(m["x"], f, "x", (t, _J))
        y = as_array(m["y"], f, "y", (t, _J))
        vis_raw = as_array(m["visibility"], f, "visibility", (t, _J))
        vis = map_visibility(vis_raw, {1: 2, 0: 1}, f, "visibility")
        bbox = as_array(m["bbox"], f, "bbox", (None, 4)) if np.size(m["bbox"]) else np.zeros((0, 4))
        if bbox.shape[0] > t:
            raise fail(f, "bbox", f"has {bbox.shape[0]} rows for {t} frames")
        train_flag = as_int(m["train"], f, "train")
        if train_flag not in (1, -1):
            raise fail(f, "train", f"expected 1 (train) or -1 (test), got {train_flag}")
        action = mat_str(m["action"], f, "action")
        pose = mat_str(m["pose"], f, "pose") if "pose" in m else None
        width = height = None
        if "dimensions" in m:
            dims = as_array(m["dimensions"], f, "dimensions").ravel()
            if dims.size != 3:
                raise fail(f, "dimensions", f"expected [height width nframes], got {dims.tolist()}")
            height, width = int(dims[0]), int(dims[1])
            if int(dims[2]) != t:
                raise fail(f, "dimensions", f"frame count {int(dims[2])} differs from nframes {t}")

        idx = []
        for i in range(t):
            kp = np.stack([x[i], y[i], vis[i]], axis=1)
            extra = {"train": train_flag == 1, "action": action}
            if pose is not None:
                extra["pose"] = pose
            if i < bbox.shape[0]:
                box = bbox[i].copy()
            else:
                box = None
                extra["bbox_missing"] = True
            idx.append(len(frames))
            frames.append(
                FrameAnnotation(
                    image=base / "frames" / seq / f"{i + 1:06d}.jpg",
                    persons=[PersonAnnotation(keypoints=kp, bbox=box, extra=extra)],
                    width=width,
                    height=height,
                    index=i,
                    image_id=f"{seq}/{i + 1}",
                )
            )
        sequences[seq] = idx
    return PoseDataset(
        name="penn_action", skeleton="penn13", keypoint_names=PENN13_KEYPOINTS, frames=frames, sequences=sequences
    )
