"""2D -> 3D lifting stages (``vidpose run --lift NAME``).

A lift stage sets ``PersonPose.keypoints_3d`` (metres, root-relative) in its
``output_skeleton``. It reads the 2D keypoints in the skeleton it needs
(``input_skeleton``), converted from the estimator's native skeleton with
:mod:`vidpose.skeletons` whatever the output skeleton of the run; the convert
stage then brings the 3D to the output skeleton.

``LIFTERS``: ``none`` (no 3D), ``blazepose`` (BlazePose's world landmarks,
which only the BlazePose models give, per frame), ``blazepose-online`` (the same through the
One-Euro filter per track: what ``auto`` picks for live sources), ``blazepose-smooth`` (low-passed
over time per track, offline), ``dgnet`` (graph-convolutional
lifting of H36M-17 keypoint tracks, :mod:`vidpose.stages.lift_dgnet`) and ``dgnet-smooth`` (its 3D
low-passed per track like ``blazepose-smooth``: what ``auto`` picks for files). 3D that
the output skeleton cannot hold stays in the lifter's skeleton (poses.json's
``skeleton_3d``; :class:`vidpose.stages.convert.ConvertStage`).
"""

from __future__ import annotations

import numpy as np

from vidpose.errors import InputError
from vidpose.skeletons import BLAZEPOSE33, H36M17, Skeleton, convert_with_scores
from vidpose.stages.base import Stage, StageChoice
from vidpose.stages.lift_dgnet import DGNetLift
from vidpose.stages.refine import OneEuro, WindowStage, zero_phase_window
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
        return take_world(person, "blazepose")


def take_world(person: PersonPose, lift: str) -> np.ndarray:
    """The world landmarks the estimate stage kept for ``person`` (removed from its ``extra``);
    InputError naming ``--lift {lift}`` when the estimator gave none."""
    world = person.extra.pop("world_landmarks", None)
    if world is None:
        raise InputError(f"--lift {lift}: the estimator gave no world landmarks (BlazePose models only)")
    return world


class BlazePoseSmoothLift(Stage):
    """BlazePose's world landmarks low-passed over time per track (offline): the zero-phase
    Butterworth of the ``butterworth`` refine stage (:func:`vidpose.stages.refine.zero_phase_window`)
    on each coordinate of each landmark, over a centred window of ±``half`` frames, so the output
    is ``half`` frames late and has no lag. Defaults (3 Hz, order 2, ±8 frames) chosen on
    synth-single val videos (docs/lifting.md). A person without a track, or a run of fewer frames
    than the filter needs, keeps its per-frame landmarks."""

    name = "lift"
    input_skeleton = BLAZEPOSE33
    output_skeleton = BLAZEPOSE33

    def __init__(self, cutoff: float = 3.0, order: int = 2, half: int = 8) -> None:
        self.window = _WorldWindow(cutoff, order, half)

    def process(self, frame: FramePoses) -> list[FramePoses]:
        for p in frame.persons:
            p.extra["world_raw"] = np.asarray(take_world(p, "blazepose-smooth"), np.float64)
            p.keypoints_3d = p.extra["world_raw"].copy()
        return self.window.refine(frame)

    def finish(self) -> list[FramePoses]:
        return self.window.flush()


class _WorldWindow(WindowStage):
    """The frames :class:`BlazePoseSmoothLift` holds: ±``half`` around the one it filters."""

    def __init__(self, cutoff: float, order: int, half: int) -> None:
        import scipy.signal  # noqa: F401  (half a second: when the stage is built, not on a frame)

        super().__init__()
        self.cutoff, self.order = float(cutoff), int(order)
        self.past = self.future = int(half)

    def refine_frame(self, window: list[FramePoses], i: int) -> None:
        for p, value in zero_phase_window(window, i, "world_raw", self.cutoff, self.order):
            p.keypoints_3d = value


class DGNetSmoothLift(Stage):
    """DG-Net's 3D (:class:`~vidpose.stages.lift_dgnet.DGNetLift`) low-passed per track by the filter of
    ``blazepose-smooth`` (zero-phase Butterworth, 3 Hz, order 2, ±8 frames; chosen for the landmarks,
    checked on DG-Net's output on synth-single val videos: docs/lifting.md). Offline: 8 frames more
    delay than ``dgnet``. A person without a track, or a run too short to filter, keeps DG-Net's 3D."""

    name = "lift"
    input_skeleton = H36M17
    output_skeleton = H36M17

    def __init__(self, model: str = "dgnet", cutoff: float = 3.0, order: int = 2, half: int = 8) -> None:
        self.lifter = DGNetLift(model)
        self.window = _WorldWindow(cutoff, order, half)

    def _smooth(self, frames: list[FramePoses]) -> list[FramePoses]:
        out: list[FramePoses] = []
        for f in frames:
            for p in f.persons:
                p.extra["world_raw"] = np.asarray(p.keypoints_3d, np.float64)
            out += self.window.refine(f)
        return out

    def process(self, frame: FramePoses) -> list[FramePoses]:
        return self._smooth(self.lifter.process(frame))

    def finish(self) -> list[FramePoses]:
        return self._smooth(self.lifter.finish()) + self.window.flush()


class BlazePoseOnlineLift(LiftStage):
    """BlazePose's world landmarks through the One-Euro filter per track (online, no delay): the
    filter of the ``one-euro`` refine stage (:class:`vidpose.stages.refine.OneEuro`) on each
    coordinate of each landmark, with a cut-off for metres (2 Hz at rest, ``beta`` 0.3 s/m) chosen
    on synth-single val videos (docs/lifting.md). A person without a track keeps its landmarks."""

    input_skeleton = BLAZEPOSE33
    output_skeleton = BLAZEPOSE33

    def __init__(self, min_cutoff: float = 2.0, beta: float = 0.3, d_cutoff: float = 1.0,
                 reset_after: float = 0.5) -> None:
        self.filter = OneEuro(min_cutoff, beta, d_cutoff, reset_after)

    def __call__(self, frame: FramePoses) -> None:
        for p in frame.persons:
            world = take_world(p, "blazepose-online")
            p.keypoints_3d = world if p.track_id is None else self.filter.filter(p.track_id, frame.time, world)


LIFTERS: dict[str, StageChoice] = {
    "none": StageChoice("none", "no 3D keypoints"),
    "blazepose": StageChoice(
        "blazepose", "BlazePose's world landmarks (metres, hip-centred), per frame; BlazePose models only",
        BlazePoseLift, frozenset({"world_landmarks"}),
    ),
    "blazepose-online": StageChoice(
        "blazepose-online", "BlazePose's world landmarks through the One-Euro filter per track (online, no delay); "
        "BlazePose models only",
        BlazePoseOnlineLift, frozenset({"world_landmarks"}),
    ),
    "blazepose-smooth": StageChoice(
        "blazepose-smooth", "BlazePose's world landmarks low-passed per track (zero-phase Butterworth, 3 Hz; "
        "offline: 8 frames late); BlazePose models only",
        BlazePoseSmoothLift, frozenset({"world_landmarks"}),
    ),
    "dgnet": StageChoice("dgnet", "DG-Net: each track's 2D, as H36M-17, lifted to H36M-17 3D (metres, camera axes)", DGNetLift, auto=False),
    "dgnet-smooth": StageChoice(
        "dgnet-smooth", "DG-Net's 3D low-passed per track like blazepose-smooth (offline: 8 more frames late)",
        DGNetSmoothLift),
}
# The lift stages built on a lifter checkpoint (their first argument: "dgnet", the shipped one, or a path):
# what `vidpose run --lifter PATH` plugs into.
CHECKPOINT_LIFTERS = ("dgnet", "dgnet-smooth")
