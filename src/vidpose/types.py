"""Data that flows through the run pipeline, one frame at a time."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vidpose.skeletons import Skeleton


@dataclass
class ROI:
    """A rotated square region of interest in image pixels."""

    cx: float
    cy: float
    size: float  # side length in pixels
    rotation: float  # radians, (-pi, pi]; 0 = upright person

    def corners(self) -> np.ndarray:
        """(4, 2) corners in image pixels."""
        h = self.size / 2
        c, s = np.cos(self.rotation), np.sin(self.rotation)
        local = np.array([[-h, -h], [h, -h], [h, h], [-h, h]])
        return local @ np.array([[c, s], [-s, c]]) + [self.cx, self.cy]

    def bbox(self) -> np.ndarray:
        """(4,) axis-aligned x1, y1, x2, y2 around the rotated square."""
        c = self.corners()
        return np.array([*c.min(0), *c.max(0)])


@dataclass
class PersonPose:
    """One person in one frame, in the backend's native skeleton until the write stage."""

    keypoints: np.ndarray  # (J, 3): x, y in image pixels, score in [0, 1]
    bbox: np.ndarray  # (4,) x1, y1, x2, y2
    score: float
    keypoints_3d: np.ndarray | None = None  # (J, 3) metres, root-relative
    track_id: int | None = None
    heatmaps: np.ndarray | None = None  # (h, w, J) raw heatmaps from the model, if any
    roi: ROI | None = None  # the crop the keypoints came from
    extra: dict = field(default_factory=dict)


@dataclass
class FramePoses:
    """Everything known about one frame; stages fill it in."""

    index: int
    time: float
    image: np.ndarray | None  # (H, W, 3) uint8 RGB; dropped once no stage needs it
    skeleton: Skeleton
    persons: list[PersonPose] = field(default_factory=list)
    gray: np.ndarray | None = None  # (H, W) uint8 luma from the decoder, when it has one (the flow uses it)
