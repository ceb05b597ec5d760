"""Pose metrics: pure numpy functions plus thin wrappers over pycocotools / motmetrics.

The reference-library wrappers (``coco``, ``mot``) import their library
inside the functions that need it, so importing this package stays light.
See docs/metrics.md for every definition.
"""

from vidpose.metrics.keypoints import (
    COCO_SIGMAS,
    PCKResult,
    bbox_max_norm,
    head_size,
    iou_matrix,
    oks,
    oks_matrix,
    pck,
    pckh,
    sigmas_for,
    torso_norm,
)
from vidpose.metrics.pose3d import auc, mpjpe, mpjve, n_mpjpe, p_mpjpe, pck3d, procrustes_align, root_align
from vidpose.metrics.temporal import accel_error, jitter

__all__ = [
    "COCO_SIGMAS", "PCKResult", "bbox_max_norm", "head_size", "iou_matrix", "oks", "oks_matrix",
    "pck", "pckh", "sigmas_for", "torso_norm",
    "auc", "mpjpe", "mpjve", "n_mpjpe", "p_mpjpe", "pck3d", "procrustes_align", "root_align",
    "accel_error", "jitter",
]
