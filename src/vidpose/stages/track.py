"""The track stage: identities across frames (:mod:`vidpose.tracking`)."""

from __future__ import annotations

from vidpose.stages.base import Stage
from vidpose.types import FramePoses


class TrackStage(Stage):
    name = "track"

    def __init__(self, skeleton: str, max_age: int):
        from vidpose.tracking import PoseTracker, TrackerConfig

        self.tracker = PoseTracker(skeleton, TrackerConfig(max_age=max_age))

    def __call__(self, frame: FramePoses) -> None:
        self.tracker.update(frame.index, frame.persons, frame.image)
