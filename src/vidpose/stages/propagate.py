"""Crowd propagation (``--refine propagate-online`` / ``propagate-offline``): poses carried along the flow.

The method of Yuan et al. (HIE challenge, ACM MM 2020; docs/crowd.md), applied to the
estimator's keypoints: for frame t and k = 1..w, the keypoints of each track in frame t-k are
moved forward to t, and (offline) those of frame t+k backward to t, along the flow chained
through the frames between (:mod:`vidpose.flow`: one :class:`~vidpose.flow.FlowCache` shared by
every person, computed around the people only, points moved step by step with :meth:`~vidpose.flow.FlowCache.trace`, which is the
chained flow read at the points). Each carried joint is weighted by

    its own confidence x flow consistency x exp(-k^2 / (2 tau^2)),

where the flow consistency is the product, over the steps of the chain, of the forward-backward
agreement :func:`~vidpose.flow.consistency` read at the joint. The frame's own estimate
counts with its confidence (k = 0). A track missing in frame t is put back into the frame from the
poses carried to it alone (``extra["recovered"] = True``, score scaled by ``recovered_score``, each
joint's confidence the carried confidence x consistency; box: the carried keypoints' box): offline
when it is seen on both sides of t within ``recover`` frames (a gap: an occlusion, a missed
detection; from the nearest sighting on each side), online when it was seen at most ``recover``
frames ago (default 2: a person who leaves is carried on for at most that long); never onto a
person already in the frame (box IoU > ``duplicate_iou``: the tracker gave them another id), and
only for tracks seen in ``min_seen`` frames on each side (brief tracks are often spurious poses).

Online: past frames only, no delay. Offline: the output is delayed by max(w, recover) frames
(default 24: the length of gap it can fill), which also holds that many decoded frames in memory.
It runs after tracking (it needs track ids) and before or after ``flow-*`` (``--refine
flow-offline,propagate-offline``). ``seconds_flow`` / ``seconds_people`` and ``person_frames``
give the cost of the flow (per frame, independent of the number of people) and of the
propagation itself (per person).
"""

from __future__ import annotations

import time

import numpy as np

from vidpose.errors import InputError
from vidpose.stages.refine import WindowStage, fuse_points
from vidpose.types import FramePoses, PersonPose


class PropagateStage(WindowStage):
    """Forward/backward keypoint propagation along chained flow, fused by confidence, flow
    consistency and temporal distance; recovers people missed in a frame from their neighbours.

    w: frames each side fused into a present person; tau: temporal scale of the weights (frames);
    sigma: forward-backward error (pixels, at the flow's resolution) at which a step's consistency
    is exp(-1/2); recover: the longest gap filled (offline, default 24) or how long after its last
    sighting a track is still put back (online, default 2); 0 disables recovery; min_weight: a
    recovered joint's confidence below which it gets score 0; duplicate_iou: a recovered person
    whose box overlaps a person in the frame by more than this is not put back; min_seen: a track
    is put back only when seen in at least this many frames on each side of the gap (before it:
    within ``recover`` + w frames; after it: within ``recover``); cache: a
    :class:`vidpose.flow.FlowCache` (default: DIS "fast", longer side 480 px).
    """

    def __init__(self, w: int = 3, online: bool = False, tau: float = 2.0, sigma: float = 1.0,
                 recover: int | None = None, recovered_score: float = 0.8, min_weight: float = 0.05,
                 duplicate_iou: float = 0.5, min_seen: int = 3, cache=None) -> None:
        from vidpose.flow import FlowCache, FlowConfig, FlowEstimator

        super().__init__()
        if int(w) < 1:
            raise InputError(f"propagation: w must be >= 1, got {w}")
        if tau <= 0 or sigma <= 0:
            raise InputError(f"propagation: tau and sigma must be positive, got {tau}, {sigma}")
        self.w, self.online = int(w), bool(online)
        self.name = "propagate-online" if online else "propagate-offline"
        self.recover = int(recover if recover is not None else (2 if online else 24))
        if self.recover < 0:
            raise InputError(f"propagation: recover must be >= 0, got {recover}")
        # The stage keeps its own copies of past estimates, so only future frames are held (offline).
        self.reach = max(self.w, self.recover)
        self.past, self.future = 0, (0 if online else self.reach)
        self.tau, self.sigma = float(tau), float(sigma)
        self.recovered_score, self.min_weight = float(recovered_score), float(min_weight)
        self.duplicate_iou, self.min_seen = float(duplicate_iou), max(1, int(min_seen))
        self.cache = cache or FlowCache(FlowEstimator(FlowConfig(preset="fast", scale=1.0, max_side=480)),
                                        size=2 * self.reach + 2)
        # frame index -> {track id: (keypoints (K, 3) as estimated, score, world landmarks or None)}
        self.seen: dict[int, dict] = {}
        self._consistency: dict[tuple[int, int], object] = {}  # (i, j) -> ScaledFlow of the (i -> j) consistency
        self.seconds_flow = 0.0  # flow and consistency fields (per frame pair, shared by every person)
        self.seconds_people = 0.0  # carrying and fusing (per person)
        self.person_frames = 0
        self.recovered = 0

    # -- buffering --

    def refine(self, frame: FramePoses) -> list[FramePoses]:
        if frame.image is None:
            raise RuntimeError(f"{self.name}: frame {frame.index} has no image (the flow needs it)")
        # The flow is needed around the people only (the union of both frames' boxes, see FlowCache).
        self.cache.add(frame.index, frame.gray if frame.gray is not None else frame.image, [p.bbox for p in frame.persons])
        self.seen[frame.index] = {p.track_id: (p.keypoints.astype(np.float64).copy(), float(p.score),
                                               p.extra.get("world_landmarks"))
                                  for p in frame.persons if p.track_id is not None}
        for old in [i for i in self.seen if i < frame.index - 2 * self.reach - 1]:
            del self.seen[old]
        for key in [k for k in self._consistency if min(k) < frame.index - 2 * self.reach - 1]:
            del self._consistency[key]
        return super().refine(frame)

    # -- flow along a chain of frames --

    def _step(self, a: int, b: int):
        """Flow a -> b (neighbours) and its forward-backward consistency field, both at the flow's grid."""
        from vidpose.flow import ScaledFlow, consistency

        t0 = time.perf_counter()
        fwd = self.cache.get_scaled(a, b)
        cons = self._consistency.get((a, b))
        if cons is None:  # both directions of a pair cover the same region of the frames
            bwd = self.cache.get_scaled(b, a)
            field = consistency(fwd.field, bwd.field, self.sigma)
            cons = self._consistency[(a, b)] = ScaledFlow(field[..., None], fwd.height, fwd.width, fwd.origin, fwd.grid)
        self.seconds_flow += time.perf_counter() - t0
        return fwd, cons

    def carry(self, points: np.ndarray, src: int, dst: int) -> tuple[np.ndarray, np.ndarray]:
        """Points (N, 2) of frame ``src`` moved to frame ``dst`` along the chained flow -> (points (N, 2),
        consistency (N,) in (0, 1]: the product of each step's forward-backward agreement)."""
        from vidpose.flow import sample

        step = 1 if dst > src else -1
        steps = [self._step(a, a + step)[1] for a in range(src, dst, step)]
        path = self.cache.trace(points, src, dst)
        c = np.ones(len(path[0]))
        for y, cons in zip(path, steps):  # each step's consistency read where the points start it
            grid_xy = y / cons.factors - np.asarray(cons.origin, np.float64)  # the field's own pixels
            c *= np.clip(sample(cons.field, grid_xy)[:, 0], 0.0, 1.0)
        return path[-1], c

    # -- fusion --

    def _sources(self, t: int) -> list[int]:
        """Frames within w of t (online: before t) that the stage has seen."""
        ks = [t - k for k in range(1, self.w + 1)]
        if not self.online:
            ks += [t + k for k in range(1, self.w + 1)]
        return [s for s in ks if s in self.seen]

    def refine_frame(self, window: list[FramePoses], i: int) -> None:
        frame = window[i]
        t = frame.index
        sources = self._sources(t)
        flow_before = self.seconds_flow
        t0 = time.perf_counter()
        for p in frame.persons:
            if p.track_id is None:
                continue
            carried = [(s, *self.seen[s][p.track_id]) for s in sources if p.track_id in self.seen[s]]
            if carried:
                xy, _ = self._fuse(t, carried, p.keypoints)
                kp = p.keypoints.copy()
                kp[:, :2] = xy
                p.keypoints = kp
            self.person_frames += 1
        present = {p.track_id for p in frame.persons}
        for tid, carried in self._missing(t, present).items():
            person = self._recovered(tid, t, carried)
            if self._already_there(person, frame.persons):
                continue  # the person is in the frame under another track id (the tracker switched and back)
            frame.persons.append(person)
            self.recovered += 1
            self.person_frames += 1
        self.seconds_people += time.perf_counter() - t0 - (self.seconds_flow - flow_before)

    def _fuse(self, t: int, carried: list, own: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Fused keypoints (K, 2) of frame t and each joint's confidence (K,): the weighted mean of the
        carried joints' confidence x consistency (weights: temporal only)."""
        k = len(carried[0][1])
        points, weights = [], []
        conf, tw = np.zeros(k), 0.0
        if own is not None:
            points.append(own[:, :2])
            weights.append(np.clip(own[:, 2], 0.0, 1.0))
        for s, kp, *_ in carried:
            y, cons = self.carry(kp[:, :2], s, t)
            temporal = float(np.exp(-((s - t) ** 2) / (2.0 * self.tau ** 2)))
            c = np.clip(kp[:, 2], 0.0, 1.0) * cons
            points.append(y)
            weights.append(c * max(temporal, 1e-12))  # far sources (a long gap) still count relative to each other
            conf += temporal * c
            tw += temporal
        mean, ok = fuse_points(points, weights, 1e-300)
        xy = np.where(ok[:, None], mean, own[:, :2] if own is not None else 0.0)
        return xy, conf / max(tw, 1e-300)

    def _missing(self, t: int, present: set) -> dict:
        """Tracks absent from frame t that are put back: track id -> carried sources. Offline: seen in
        ``min_seen`` frames within ``recover`` before t and as many after (a gap), carried from the
        nearest sighting on each side and every sighting within w; online: last seen at most
        ``recover`` frames ago, and in ``min_seen`` of the ``recover`` + w frames before t."""
        if self.recover <= 0:
            return {}
        out: dict = {}
        ids = set().union(*(self.seen[s].keys() for s in self.seen if s != t)) - present - {None}
        for tid in ids:
            before = [s for s in self.seen if t - self.recover - self.w <= s < t and tid in self.seen[s]]
            after = [] if self.online else [s for s in self.seen if t < s <= t + self.recover and tid in self.seen[s]]
            if len(before) < self.min_seen or t - max(before) > self.recover or (
                    not self.online and len(after) < self.min_seen):
                continue  # a track seen only briefly (often a spurious pose) is not carried into a gap
            chosen = {max(before), *([min(after)] if after else [])}
            chosen |= {s for s in before + after if abs(s - t) <= self.w}
            out[tid] = [(s, *self.seen[s][tid]) for s in sorted(chosen)]
        return out

    def _already_there(self, person: PersonPose, persons: list[PersonPose]) -> bool:
        """Whether a recovered person's box overlaps a person of the frame by more than ``duplicate_iou``."""
        from vidpose.metrics.keypoints import iou_matrix

        if not persons:
            return False
        return bool(iou_matrix(person.bbox[None], np.stack([p.bbox for p in persons])).max() > self.duplicate_iou)

    def _recovered(self, tid, t: int, carried: list) -> PersonPose:
        xy, conf = self._fuse(t, carried, None)
        conf = np.where(conf >= self.min_weight, np.clip(conf, 0.0, 1.0), 0.0)
        kp = np.concatenate([xy, conf[:, None]], axis=1)
        good = conf > 0
        pts = xy[good] if good.any() else xy
        nearest = min(carried, key=lambda c: abs(c[0] - t))
        extra = {"recovered": True}
        if nearest[3] is not None:  # a later 3D lift (--lift blazepose) takes the nearest sighting's 3D pose
            extra["world_landmarks"] = np.array(nearest[3], copy=True)
        return PersonPose(keypoints=kp, bbox=np.r_[pts.min(0), pts.max(0)], score=self.recovered_score * nearest[2],
                          track_id=tid, extra=extra)
