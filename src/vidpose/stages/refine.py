"""Temporal refinement stages (``vidpose run --refine NAME[,NAME...]``).

A refine stage changes the 2D keypoints of tracked people, in the estimator's
native skeleton, and may read each person's heatmaps (``PersonPose.heatmaps``,
``(h, w, K)``; attached only when a chosen refine stage ``needs`` them). Stages
that need future frames buffer in ``refine`` and flush in ``flush``. The last
refine stage of a run frees the heatmaps of the frames it passes on.

``REFINERS`` holds the choices; today only ``none``. Planned: optical-flow
forward/backward refinement (``flowing``), crowd propagation (``propagate``),
and classic filters (``one-euro``, ``butterworth``).
"""

from __future__ import annotations

from vidpose.stages.base import Stage, StageChoice
from vidpose.types import FramePoses


class RefineStage(Stage):
    """Base of the refine stages: override ``refine`` (and ``flush`` when buffering)."""

    name = "refine"
    release_heatmaps = False  # set on the last refine stage of a run

    def __call__(self, frame: FramePoses) -> None:
        """A per-frame refiner changes ``frame.persons`` here (the base changes nothing)."""

    def refine(self, frame: FramePoses) -> list[FramePoses]:
        self(frame)
        return [frame]

    def flush(self) -> list[FramePoses]:
        return []

    def process(self, frame: FramePoses) -> list[FramePoses]:
        return self._release(self.refine(frame))

    def finish(self) -> list[FramePoses]:
        return self._release(self.flush())

    def _release(self, frames: list[FramePoses]) -> list[FramePoses]:
        if self.release_heatmaps:
            for f in frames:
                for p in f.persons:
                    p.heatmaps = None
        return frames


REFINERS: dict[str, StageChoice] = {
    "none": StageChoice("none", "no temporal refinement"),
}
