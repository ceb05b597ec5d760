"""2D -> 3D lifting stages (``vidpose run --lift NAME``).

A lift stage sets ``PersonPose.keypoints_3d`` (metres, root-relative) in its
``output_skeleton``. It reads the 2D keypoints in the skeleton it needs
(``input_skeleton``), converted from the estimator's native skeleton with
:mod:`vidpose.skeletons` whatever the output skeleton of the run; the convert
stage then brings the 3D to the output skeleton.

``LIFTERS``: ``none`` (no 3D), ``blazepose`` (BlazePose's world landmarks,
which only the BlazePose models give) and ``dgnet`` (graph-convolutional
lifting of H36M-17 keypoint tracks, :mod:`vidpose.stages.lift_dgnet`). 3D that
the output skeleton cannot hold stays in the lifter's skeleton (poses.json's
``skeleton_3d``; :class:`vidpose.stages.convert.ConvertStage`).
"""

from __future__ import annotations

import numpy as np

from vidpose.errors import InputError
from vidpose.skeletons import BLAZEPOSE33, Skeleton, convert_with_scores
from vidpose.stages.base import Stage, StageChoice
from vidpose.stages.lift_dgnet import DGNetLift
from vidpose.types import FramePoses, PersonPose


class LiftStage(Stage):
    """Base of the lift stages: override ``lift_person`` (or process/finish for temporal lifting)."""

    name = "lift"
    input_skeleton: Skeleton = BLAZEPOSE33
    output_skeleton: Skeleton = BLAZEPOSE33

    def __call__(self, frame: FramePoses) -> None:
        for p in frame.persons:
            kp = p.keypoints
            if frame.skeleton.name != self.input_skeleton.name:
                kp = convert_with_scores(kp, frame.skeleton, self.input_skeleton)
            p.keypoints_3d = self.lift_person(p, kp)

    def lift_person(self, person: PersonPose, keypoints_2d: np.ndarray) -> np.ndarray:
        """(J_in, 3) 2D keypoints in ``input_skeleton`` -> (J_out, 3) metres in ``output_skeleton``."""
        raise NotImplementedError


class BlazePoseLift(LiftStage):
    """BlazePose's world landmarks (metres, hip-centred, image-aligned axes) as the 3D keypoints.

    The estimate stage keeps them in ``person.extra["world_landmarks"]`` when this stage runs.
    """

    input_skeleton = BLAZEPOSE33
    output_skeleton = BLAZEPOSE33

    def lift_person(self, person: PersonPose, keypoints_2d: np.ndarray) -> np.ndarray:
        world = person.extra.pop("world_landmarks", None)
        if world is None:
            raise InputError("--lift blazepose: the estimator gave no world landmarks (BlazePose models only)")
        return world


LIFTERS: dict[str, StageChoice] = {
    "none": StageChoice("none", "no 3D keypoints"),
    "blazepose": StageChoice(
        "blazepose", "BlazePose's world landmarks (metres, hip-centred); BlazePose models only",
        BlazePoseLift, frozenset({"world_landmarks"}),
    ),
    "dgnet": StageChoice("dgnet", "DG-Net: each track's 2D, as H36M-17, lifted to H36M-17 3D (metres, camera axes)", DGNetLift, auto=False),
}
