"""The track stage: identities across frames (:mod:`vidpose.tracking`), and, for files, the tracks
too short to be a person dropped (``min_frames``).

A track is *confirmed* once it has a pose in ``min_frames`` frames (SORT's ``min_hits``). The stage
holds the last ``min_frames - 1`` frames; when a frame leaves, the poses of tracks not confirmed by
then are dropped. A pose of a real person who enters the view is kept from their first frame on,
since their track is confirmed before that frame leaves. What is dropped are the brief poses the
estimator makes of a tree, a shadow or one person's limbs for a frame or two (on the sample clip two
such "people" in frames 190-193). Tracks still present in the video's last frame are kept, however
short (their evidence was cut by the end, and a single image keeps its people). Output track ids are
renumbered in order of first appearance, so dropped tracks leave no gaps. ``min_frames`` 1 passes
every frame on at once, with the tracker's ids.

The tracker gets the same number as ``n_init``: a track not yet matched in ``min_frames`` frames is
deleted as soon as it misses one (DeepSORT's tentative tracks), so a dropped pose's track cannot come
back 30 frames later and take a real person's detection by re-identification.
"""

from __future__ import annotations

from collections import Counter, deque

from vidpose.errors import InputError
from vidpose.stages.base import Stage
from vidpose.types import FramePoses


class TrackStage(Stage):
    name = "track"

    def __init__(self, skeleton: str, max_age: int, min_frames: int = 1):
        from vidpose.tracking import PoseTracker, TrackerConfig

        if min_frames < 1:
            raise InputError(f"--min-track-frames must be an integer >= 1, got {min_frames!r}")
        self.tracker = PoseTracker(skeleton, TrackerConfig(max_age=max_age, n_init=min_frames))
        self.min_frames = int(min_frames)
        self._held: deque[FramePoses] = deque()
        self._seen: Counter = Counter()  # tracker id -> frames with a pose of it so far
        self._ids: dict[int, int] = {}  # tracker id -> output id (confirmed tracks)
        self.dropped = 0  # poses dropped (tracks shorter than min_frames)

    def __call__(self, frame: FramePoses) -> None:
        self.tracker.update(frame.index, frame.persons, frame.image)

    def process(self, frame: FramePoses) -> list[FramePoses]:
        self(frame)
        if self.min_frames <= 1:
            return [frame]
        self._seen.update({p.track_id for p in frame.persons})
        self._held.append(frame)
        if len(self._held) < self.min_frames:
            return []
        return [self._release(self._held.popleft(), set())]

    def finish(self) -> list[FramePoses]:
        last = {p.track_id for p in self._held[-1].persons} if self._held else set()
        out = [self._release(f, last) for f in self._held]
        self._held.clear()
        return out

    def _release(self, frame: FramePoses, at_end: set) -> FramePoses:
        """``frame`` with the poses of unconfirmed tracks dropped (except those in ``at_end``: present in
        the video's last frame) and the kept ones renumbered."""
        kept = []
        for p in frame.persons:
            if self._seen[p.track_id] < self.min_frames and p.track_id not in at_end:
                self.dropped += 1
                continue
            p.track_id = self._ids.setdefault(p.track_id, len(self._ids))
            kept.append(p)
        frame.persons = kept
        return frame
