"""Multi-person tracking: a stable ``track_id`` per person across frames.

Each frame, every live track predicts where its person is now (constant
velocity of the box centre, applied to box and keypoints), and detections are
assigned to tracks with the Hungarian method on a similarity that mixes
keypoint OKS and box IoU. A track that finds no detection is kept for
``max_age`` frames, so a person hidden for a moment (occlusion, a missed
detection) gets the same id back when they reappear near where they were
heading, or where they were last seen (people stop behind others). When the frame image is given, each track also keeps a colour
histogram of the person's box; a lost track whose motion no longer predicts
where the person reappears (a jump, a long occlusion) can still be re-identified
by appearance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from vidpose.errors import InputError
from vidpose.metrics.keypoints import iou_matrix, oks_matrix, sigmas_for
from vidpose.types import PersonPose


@dataclass
class TrackerConfig:
    oks_weight: float = 0.5  # similarity = w * OKS + (1 - w) * IoU
    min_similarity: float = 0.2  # below this a detection never continues a track
    max_age: int = 30  # frames a lost track is remembered
    min_keypoint_score: float = 0.3  # keypoints below this do not count in OKS
    velocity_smoothing: float = 0.5  # EMA factor for the centre velocity
    reid_threshold: float = 0.75  # appearance similarity that re-identifies a lost track (0 disables)
    appearance_smoothing: float = 0.2  # EMA factor for a track's colour histogram
    recover_static: bool = True  # a track lost for > 1 frame may also resume where it was last seen
    # A track is tentative until matched in this many frames (DeepSORT's n_init): a tentative track
    # that misses a frame is deleted at once, not remembered for max_age, so a pose the estimator made
    # for a frame or two (a tree, someone's limbs) cannot later take a real person's detection by
    # re-identification or by where it was last seen. 1: every track is confirmed at birth.
    n_init: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.oks_weight <= 1:
            raise InputError(f"tracker oks_weight must be in [0, 1], got {self.oks_weight}")
        if self.max_age < 0:
            raise InputError(f"tracker max_age must be >= 0, got {self.max_age}")
        if self.n_init < 1:
            raise InputError(f"tracker n_init must be >= 1, got {self.n_init}")


@dataclass
class Track:
    track_id: int
    keypoints: np.ndarray  # (J, 3) last seen
    bbox: np.ndarray  # (4,) last seen
    last_frame: int
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # px / frame
    hits: int = 1
    appearance: np.ndarray | None = None  # L1-normalised colour histogram

    def predict(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints (J, 3) and box (4,) extrapolated to ``frame``."""
        shift = self.velocity * (frame - self.last_frame)
        kp = self.keypoints.copy()
        kp[:, :2] += shift
        return kp, self.bbox + np.tile(shift, 2)


class PoseTracker:
    """Online tracker. ``update(frame_index, persons)`` sets ``person.track_id`` in place."""

    def __init__(self, skeleton: str, config: TrackerConfig | None = None):
        self.config = config or TrackerConfig()
        self.sigmas = sigmas_for(skeleton)
        self.tracks: list[Track] = []
        self._next_id = 0

    def similarity(self, frame: int, persons: list[PersonPose], appearances: list | None = None) -> np.ndarray:
        """(num_tracks, num_persons) similarity in [0, 1]."""
        cfg = self.config
        if not self.tracks or not persons:
            return np.zeros((len(self.tracks), len(persons)))
        motion = self._motion_similarity(frame, persons)
        if appearances is None or cfg.reid_threshold <= 0:
            return motion
        sim = motion.copy()
        for i, t in enumerate(self.tracks):
            if t.appearance is None or frame - t.last_frame <= 1:
                continue  # re-identification is for tracks that lost their person
            for j, a in enumerate(appearances):
                app = histogram_similarity(t.appearance, a)
                if motion[i, j] < cfg.min_similarity and app >= cfg.reid_threshold:
                    # Just above the acceptance bar: any motion match still wins.
                    sim[i, j] = cfg.min_similarity + 0.1 * (app - cfg.reid_threshold)
        return sim

    def _motion_similarity(self, frame: int, persons: list[PersonPose]) -> np.ndarray:
        """Pose (OKS) and box (IoU) agreement with where each track's constant-velocity motion puts it.
        A track that lost its person for more than a frame (an occlusion) is also compared with where
        it was last seen, and the better of the two counts: people often stop or turn while hidden
        behind someone (``recover_static``)."""
        sim = self._similarity_at(frame, persons, [t.predict(frame) for t in self.tracks])
        lost = [i for i, t in enumerate(self.tracks) if frame - t.last_frame > 1]
        if self.config.recover_static and lost:
            static = self._similarity_at(frame, persons, [(self.tracks[i].keypoints, self.tracks[i].bbox) for i in lost])
            sim[lost] = np.maximum(sim[lost], static)
        return sim

    def _similarity_at(self, frame: int, persons: list[PersonPose], preds: list) -> np.ndarray:
        cfg = self.config
        gt = np.stack([kp for kp, _ in preds]).copy()
        gt[:, :, 2] = np.where(gt[:, :, 2] >= cfg.min_keypoint_score, 2, 0)
        boxes_t = np.stack([b for _, b in preds])
        areas = np.prod(np.clip(boxes_t[:, 2:] - boxes_t[:, :2], 1, None), axis=1)
        det_kp = np.stack([p.keypoints for p in persons])
        det_boxes = np.stack([p.bbox for p in persons])
        oks = oks_matrix(det_kp[:, :, :2], gt, areas, self.sigmas).T  # (tracks, persons)
        iou = iou_matrix(boxes_t, det_boxes)
        return cfg.oks_weight * oks + (1 - cfg.oks_weight) * iou

    def update(self, frame: int, persons: list[PersonPose], image: np.ndarray | None = None) -> list[PersonPose]:
        """Assign ``track_id`` to each person of ``frame``; ``image`` (H, W, 3) enables re-identification."""
        cfg = self.config
        self.tracks = [t for t in self.tracks if frame - t.last_frame <= cfg.max_age
                       and (t.hits >= cfg.n_init or frame - t.last_frame <= 1)]  # tentative: missed a frame
        apps = [colour_histogram(image, p) for p in persons] if image is not None else None
        sim = self.similarity(frame, persons, apps)
        matched_p: set[int] = set()
        if sim.size:
            # Pairs below the bar must not steer the assignment: a forbidden pair
            # could otherwise win a detection away from its best track.
            rows, cols = linear_sum_assignment(-np.where(sim >= cfg.min_similarity, sim, -1e6))
            for r, c in zip(rows, cols):
                if sim[r, c] < cfg.min_similarity:
                    continue
                t, p = self.tracks[r], persons[c]
                gap = max(1, frame - t.last_frame)
                v = (_centre(p.bbox) - _centre(t.bbox)) / gap
                t.velocity = cfg.velocity_smoothing * v + (1 - cfg.velocity_smoothing) * t.velocity
                t.keypoints, t.bbox, t.last_frame = p.keypoints.copy(), p.bbox.copy(), frame
                t.hits += 1
                if apps is not None:
                    a = cfg.appearance_smoothing
                    t.appearance = apps[c] if t.appearance is None else (1 - a) * t.appearance + a * apps[c]
                p.track_id = t.track_id
                matched_p.add(c)
        for i, p in enumerate(persons):
            if i not in matched_p:
                p.track_id = self._next_id
                app = apps[i] if apps is not None else None
                self.tracks.append(Track(self._next_id, p.keypoints.copy(), p.bbox.copy(), frame, appearance=app))
                self._next_id += 1
        return persons


def _centre(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


def colour_histogram(image: np.ndarray, person: PersonPose, bins: tuple[int, int] = (16, 4)) -> np.ndarray:
    """Hue x saturation histogram (L1-normalised, flattened) of the person's box, inset by 15%.

    The inset keeps mostly clothing and skin and little background.
    """
    import cv2

    h, w = image.shape[:2]
    x1, y1, x2, y2 = person.bbox
    dx, dy = 0.15 * (x2 - x1), 0.15 * (y2 - y1)
    xa, xb = int(np.clip(x1 + dx, 0, w - 1)), int(np.clip(x2 - dx, 1, w))
    ya, yb = int(np.clip(y1 + dy, 0, h - 1)), int(np.clip(y2 - dy, 1, h))
    if xb <= xa or yb <= ya:
        return np.full(bins[0] * bins[1], 1.0 / (bins[0] * bins[1]))
    hsv = cv2.cvtColor(np.ascontiguousarray(image[ya:yb, xa:xb]), cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, list(bins), [0, 180, 0, 256]).ravel().astype(np.float64)
    return hist / max(hist.sum(), 1e-12)


def histogram_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Bhattacharyya coefficient of two L1-normalised histograms, in [0, 1]."""
    return float(np.sum(np.sqrt(np.clip(a, 0, None) * np.clip(b, 0, None))))
