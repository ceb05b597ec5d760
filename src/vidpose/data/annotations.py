"""Plain containers every dataset reader returns.

Visibility follows COCO: 0 = not labelled (or outside the image), 1 = labelled
but occluded, 2 = labelled and visible. Readers convert their dataset's own
convention (HIE: 0 visible / 1 invisible / -1 unlabelled; MPII ``is_visible``;
...) into this one and say so in their docstring.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class PersonAnnotation:
    keypoints: np.ndarray  # (J, 3): x, y in pixels, visibility 0/1/2
    bbox: np.ndarray | None = None  # (4,) x1, y1, x2, y2 in pixels
    track_id: int | None = None
    keypoints_3d: np.ndarray | None = None  # (J, 3), metres or mm as the reader documents
    area: float | None = None  # segmentation area (COCO) or bbox area
    extra: dict = field(default_factory=dict)  # dataset-specific fields (head box, scale, centre ...)


@dataclass
class FrameAnnotation:
    image: Path | None  # image file; None when the frame comes from a video file
    persons: list[PersonAnnotation]
    width: int | None = None
    height: int | None = None
    index: int = 0  # frame index inside its sequence
    video: Path | None = None  # video file the frame is decoded from, if any
    image_id: int | str | None = None  # the dataset's own id (COCO image_id ...)
    extra: dict = field(default_factory=dict)  # frame-level dataset fields (ignore regions ...)


@dataclass
class PoseDataset:
    """A 2D keypoint dataset: a flat list of frames, optionally grouped into sequences."""

    name: str
    skeleton: str  # a name from vidpose.skeletons.SKELETONS, or a dataset skeleton name
    keypoint_names: tuple[str, ...]
    frames: list[FrameAnnotation]
    sequences: dict[str, list[int]] = field(default_factory=dict)  # sequence name -> frame indices
    fps: float | None = None

    def __len__(self) -> int:
        return len(self.frames)


@dataclass
class Sequence3D:
    """One 3D sequence (Human3.6M / HumanEva / MPI-INF-3DHP / synth-3d)."""

    subject: str
    action: str
    camera: int | str | None
    joints_3d: np.ndarray  # (T, J, 3)
    joints_2d: np.ndarray | None = None  # (T, J, 2) pixels
    fps: float | None = None
    camera_params: dict | None = None
    extra: dict = field(default_factory=dict)  # dataset-specific: valid-frame masks, camera ids ...
