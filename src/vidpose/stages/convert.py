"""The convert stage: native skeleton -> output skeleton (2D, and the lifted 3D)."""

from __future__ import annotations

from vidpose.skeletons import Skeleton, conversion_matrix, convert, convert_with_scores
from vidpose.stages.base import Stage
from vidpose.types import FramePoses


class ConvertStage(Stage):
    """Converts the 2D keypoints (frame skeleton) and the 3D keypoints (``skeleton_3d``, the
    lift stage's output skeleton) to ``dst``; frees what no later part writes (heatmaps,
    world landmarks). 3D that ``dst`` cannot hold (H36M-17 from ``--lift dgnet`` with the
    default ``--skeleton coco17``: COCO-17's face points are not in it) stays in its own
    skeleton, ``dst_3d``, which the writers name (poses.json's ``skeleton_3d``)."""

    name = "convert"

    def __init__(self, dst: Skeleton, skeleton_3d: Skeleton | None):
        self.dst, self.skeleton_3d = dst, skeleton_3d
        self.dst_3d = None if skeleton_3d is None else dst if _convertible(skeleton_3d, dst) else skeleton_3d

    def __call__(self, frame: FramePoses) -> None:
        src = frame.skeleton
        for p in frame.persons:
            if src.name != self.dst.name:
                p.keypoints = convert_with_scores(p.keypoints, src, self.dst)
            if self.skeleton_3d is None:
                p.keypoints_3d = None
            elif p.keypoints_3d is not None and self.skeleton_3d.name != self.dst_3d.name:
                p.keypoints_3d = convert(p.keypoints_3d, self.skeleton_3d, self.dst_3d)
            p.heatmaps = None  # not written; free the memory
            p.extra.pop("world_landmarks", None)
        frame.skeleton = self.dst


def _convertible(src: Skeleton, dst: Skeleton) -> bool:
    try:
        conversion_matrix(src, dst)
    except ValueError:
        return False
    return True
