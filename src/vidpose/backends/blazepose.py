"""BlazePose (MediaPipe's pose detector + landmark model) run directly with LiteRT.

No mediapipe package is needed: the ``.tflite`` files come from the model
store, and the pre- and post-processing around them is implemented here:

* detector: letterbox to 224x224, scale to [-1, 1]; 2254 SSD anchors over
  strides 8/16/32/32/32; sigmoid scores; weighted non-maximum suppression;
* ROI: centre = detector keypoint 0 (mid-hip), side = 2 * |kp1 - kp0| * 1.25,
  rotation = pi/2 - atan2(-(y1 - y0), x1 - x0);
* landmark model: rotated ROI warped to 256x256, RGB in [0, 1]; 39 points
  (33 keypoints + 2 auxiliary points that give the next frame's ROI),
  visibility/presence logits, 64x64 heatmaps, world landmarks in metres;
* top-down multi-person tracking: every tracked ROI is re-estimated from the
  previous frame's auxiliary points; the detector runs on a schedule and
  whenever a person is lost; a new detection starts a new ROI unless its pose
  is a tracked person's (a duplicate) or spans a tracked person and another (a
  chimera), judged by the poses (:func:`same_person`), not by box overlap.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import sys
import time
from dataclasses import dataclass

import cv2
import numpy as np

from vidpose.errors import InputError
from vidpose.geometry import apply_affine, crop_to_image_affine, invert_affine, warp_crop
from vidpose.metrics.keypoints import iou_matrix
from vidpose.skeletons import BLAZEPOSE33
from vidpose.types import ROI, PersonPose

DETECTOR_SIZE = 224
LANDMARK_SIZE = 256
NUM_LANDMARKS = 39  # 33 keypoints + 2 auxiliary + 4 unused by the pose solution
LANDMARK_MODELS = {"lite": "blazepose-lite", "full": "blazepose-full", "heavy": "blazepose-heavy"}


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -80, 80)))


# --- detector ---------------------------------------------------------------------------------


def ssd_anchors(
    input_size: int = DETECTOR_SIZE, strides: tuple[int, ...] = (8, 16, 32, 32, 32), per_cell: int = 2
) -> np.ndarray:
    """(N, 2) anchor centres in normalised [0, 1] coords; 2254 for the BlazePose detector.

    Consecutive layers with the same stride share one grid, so their anchors
    are emitted together per cell (2 per layer), as in MediaPipe's SSD anchor
    generator with fixed anchor size.
    """
    out = []
    i = 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        f = math.ceil(input_size / strides[i])
        n = per_cell * (j - i)
        ys, xs = np.meshgrid((np.arange(f) + 0.5) / f, (np.arange(f) + 0.5) / f, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        out.append(np.repeat(grid, n, axis=0))
        i = j
    return np.concatenate(out).astype(np.float32)


@dataclass
class Letterbox:
    """Where the image sits inside the normalised letterboxed square."""

    offset_x: float  # left edge of the image content, normalised square units
    offset_y: float
    content_w: float  # content width / square side
    content_h: float
    width: int  # original image size in pixels
    height: int

    def to_image(self, pts: np.ndarray) -> np.ndarray:
        """Normalised square coords (..., 2) -> image pixels."""
        x = (pts[..., 0] - self.offset_x) / self.content_w * self.width
        y = (pts[..., 1] - self.offset_y) / self.content_h * self.height
        return np.stack([x, y], axis=-1)


def letterbox(image: np.ndarray, size: int = DETECTOR_SIZE) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping aspect, pad to a ``size`` square; float32 in [-1, 1].

    The padding is black (-1 after scaling), as MediaPipe pads before normalising;
    grey padding (0) measurably changes detections near the image border.
    """
    h, w = image.shape[:2]
    s = size / max(h, w)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    canvas = np.full((size, size, 3), -1.0, np.float32)
    ox, oy = (size - nw) // 2, (size - nh) // 2
    canvas[oy : oy + nh, ox : ox + nw] = resized.astype(np.float32) / 127.5 - 1.0
    return canvas, Letterbox(ox / size, oy / size, nw / size, nh / size, w, h)


@dataclass
class Detection:
    score: float
    box: np.ndarray  # (4,) x1, y1, x2, y2 in image pixels
    keypoints: np.ndarray  # (4, 2) image pixels; 0 = mid-hip, 1 = scale/rotation point


def decode_detections(
    regressors: np.ndarray, logits: np.ndarray, anchors: np.ndarray, threshold: float, input_size: int = DETECTOR_SIZE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode raw detector outputs.

    regressors (N, 12), logits (N,) or (N, 1), anchors (N, 2) ->
    scores (M,), boxes (M, 4) normalised x1,y1,x2,y2, keypoints (M, 4, 2) normalised,
    for the M anchors whose sigmoid score is >= threshold.
    """
    scores = sigmoid(logits.reshape(-1))
    keep = scores >= threshold
    reg, anc = regressors[keep], anchors[keep]
    centre = anc + reg[:, 0:2] / input_size
    half = np.abs(reg[:, 2:4]) / input_size / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    kps = anc[:, None, :] + reg[:, 4:12].reshape(-1, 4, 2) / input_size
    return scores[keep], boxes, kps


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes a (N, 4) or (4,) with b (M, 4) or (4,) -> (N, M)."""
    return iou_matrix(np.atleast_2d(a), np.atleast_2d(b))


def weighted_nms(
    scores: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray, iou_threshold: float = 0.3
) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """MediaPipe-style weighted NMS: each kept detection is the score-weighted mean of its cluster.

    Returns [(score, box (4,), keypoints (K, 2))] sorted by score.
    """
    order = np.argsort(-scores, kind="stable")
    remaining = list(order)
    out = []
    while remaining:
        best = remaining[0]
        ious = box_iou(boxes[best][None], boxes[remaining])[0]
        cluster = [r for r, iou in zip(remaining, ious) if iou > iou_threshold]
        cluster = cluster or [best]
        w = scores[cluster][:, None]
        box = (boxes[cluster] * w).sum(0) / w.sum()
        kp = (keypoints[cluster] * w[:, :, None]).sum(0) / w.sum()
        out.append((float(scores[best]), box, kp))
        remaining = [r for r in remaining if r not in set(cluster)]
    return out


def roi_from_points(centre: np.ndarray, scale_pt: np.ndarray, scale: float = 1.25) -> ROI:
    """Rotated square ROI from two points in image pixels (mid-hip and the scale point)."""
    x0, y0 = float(centre[0]), float(centre[1])
    x1, y1 = float(scale_pt[0]), float(scale_pt[1])
    size = 2.0 * math.hypot(x1 - x0, y1 - y0) * scale
    rotation = math.pi / 2 - math.atan2(-(y1 - y0), x1 - x0)
    rotation = rotation - 2 * math.pi * math.floor((rotation + math.pi) / (2 * math.pi))
    if rotation <= -math.pi:
        rotation += 2 * math.pi
    return ROI(x0, y0, size, rotation)


def roi_affine(roi: ROI, out_size: int = LANDMARK_SIZE) -> np.ndarray:
    """2x3 affine mapping crop pixels (u, v) in [0, out_size] to image pixels.

    image = centre + R(rotation) @ ((u, v) / out_size - 0.5) * size
    (:func:`vidpose.geometry.crop_to_image_affine` with MediaPipe's pixel-corner convention).
    """
    return crop_to_image_affine((roi.cx, roi.cy), roi.size, roi.rotation, (out_size, out_size), pixel_centres=False)


def crop_roi(image: np.ndarray, roi: ROI, out_size: int = LANDMARK_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Warp the rotated ROI to an ``out_size`` square. Returns (crop uint8, crop->image affine)."""
    m = roi_affine(roi, out_size)
    return warp_crop(image, invert_affine(m), (out_size, out_size)), m


def refine_from_heatmaps(
    xy_crop: np.ndarray, heatmaps: np.ndarray, kernel: int = 7, min_confidence: float = 0.5
) -> np.ndarray:
    """Sub-pixel refinement as MediaPipe does it: confidence-weighted centroid around each point.

    xy_crop (J, 2) in crop pixels (0..256), heatmaps (h, w, >=J) logits -> refined (J, 2).
    A point is moved only when its cell lies on the heatmap and the peak confidence
    (sigmoid) in its window is >= min_confidence. As in MediaPipe, the centroid of
    cell indices maps to crop pixels as ``index * stride`` (no half-cell offset:
    that is the convention the model's own regression uses).
    All joints at once: windows are gathered as from a heatmap padded with "no confidence".
    """
    h, w = heatmaps.shape[:2]
    j = xy_crop.shape[0]
    stride = LANDMARK_SIZE / w
    r = kernel // 2
    cx = np.clip((xy_crop[:, 0] / stride).astype(int), -r - 1, w + r)
    cy = np.clip((xy_crop[:, 1] / stride).astype(int), -r - 1, h + r)
    offs = np.arange(kernel)
    ys = np.clip(cy[:, None] + offs, 0, h + 2 * r - 1)  # (J, k) rows in the padded map
    xs = np.clip(cx[:, None] + offs, 0, w + 2 * r - 1)
    inside = ((cy[:, None] + offs >= 0) & (cy[:, None] + offs < h + 2 * r))[:, :, None] & (
        (cx[:, None] + offs >= 0) & (cx[:, None] + offs < w + 2 * r)
    )[:, None, :]
    # The windows as read from the map padded by r cells of -80 ("no confidence"), without padding
    # it: cells off the map read -80.
    yy, xx = ys - r, xs - r
    on = ((yy >= 0) & (yy < h))[:, :, None] & ((xx >= 0) & (xx < w))[:, None, :]
    win = heatmaps[np.clip(yy, 0, h - 1)[:, :, None], np.clip(xx, 0, w - 1)[:, None, :], np.arange(j)[:, None, None]]
    win = np.where(on, win, np.float32(-80.0))  # (J, k, k)
    conf = np.where(inside, sigmoid(win), 0.0)
    total = conf.sum(axis=(1, 2))
    on_map = (cx >= 0) & (cx < w) & (cy >= 0) & (cy < h)
    ok = on_map & (conf.max(axis=(1, 2)) >= min_confidence) & (total > 0)
    gx = (conf * (xs - r)[:, None, :]).sum(axis=(1, 2)) / np.maximum(total, 1e-12) * stride
    gy = (conf * (ys - r)[:, :, None]).sum(axis=(1, 2)) / np.maximum(total, 1e-12) * stride
    out = xy_crop.astype(np.float64).copy()
    out[ok, 0], out[ok, 1] = gx[ok], gy[ok]
    return out


# --- the estimator --------------------------------------------------------------------------


@dataclass
class BlazePoseConfig:
    model: str = "full"  # landmark model: lite | full | heavy
    max_people: int = 4
    detect_every: int = 5  # re-run the detector every N frames even when all ROIs track fine
    detection_threshold: float | None = None  # None: the detector's default (DETECTOR_THRESHOLDS)
    nms_iou: float = 0.3
    presence_threshold: float = 0.5  # drop a tracked ROI when the landmark model's pose flag falls below
    # Two poses are one person (a duplicate, or a chimera spanning two people) when judged by the
    # poses themselves (:func:`same_person`); boxes are not used, so people who overlap stay apart.
    duplicate_oks: float = 0.5  # OKS between the two poses (confident joints) at or above this: a duplicate
    anchor_radius: float = 0.15  # face / shoulder pair / hip pair closer than this x the torso size: one person
    shared_joints: float = 0.5  # this fraction of the confident joints coinciding: one person (a chimera)
    chimera_shared: float = 0.15  # ... or this fraction of either's confident joints on the other's joints
    chimera_containment: float = 0.5  # ... while their boxes overlap by this much of the smaller one
    confident: float = 0.5  # visibility at which a joint counts in these tests
    body_radius: float = 0.2  # a joint within this x the torso size of a person's limb lies on that body
    on_body: float = 0.7  # ... and a pose with this fraction of its confident joints on the other's body is part of it
    # A newly detected pose whose box overlaps a tracked person's by at least overlap_containment (of the
    # smaller box) is kept only when the landmark model is sure of it (pose flag >= overlap_presence):
    # poses strung along a person's limbs or spanning two people come with a low flag.
    overlap_containment: float = 0.3
    overlap_presence: float = 0.8
    subpixel: bool = True  # in-model sub-pixel refinement of each keypoint from its heatmap (as MediaPipe)
    keep_heatmaps: bool = False  # attach the 64x64x39 heatmaps to each person for later stages
    threads: int = 2
    # Tracked people's landmark calls side by side in this many threads, each with its own
    # one-thread interpreter (same outputs, bit for bit); None: ``threads``; 1: one after another
    # on the ``threads``-thread interpreter (as for a single person always).
    people_workers: int | None = None
    # Person detector that seeds the landmark ROIs: blazepose (MediaPipe's, anchored on the face) or
    # bodydet (MoveNet MultiPose, whole bodies; backends/bodydet.py). detection_threshold None: its default.
    detector: str = "blazepose"
    detector_size: int = 256  # bodydet: the frame's longer side in the detector's input (multiple of 32)
    detector_tiles: bool = False  # blazepose: also detect on square tiles of a wide or tall frame (detector_tiles)
    # ... and, while someone estimated in the frame is shorter than this fraction of the frame's shorter
    # side, also on a grid of tiles half that side (people that small are likely to have company the
    # whole-frame pass misses: crowds seen from afar); 0: never
    fine_tiles_below: float = 0.3

    def __post_init__(self) -> None:
        if self.detector not in DETECTOR_THRESHOLDS:
            raise InputError(f"unknown person detector {self.detector!r}; choose one of {', '.join(DETECTOR_THRESHOLDS)}")
        if self.model not in LANDMARK_MODELS:
            raise InputError(f"unknown BlazePose model {self.model!r}; choose one of {', '.join(LANDMARK_MODELS)}")
        if self.max_people < 1:
            raise InputError(f"max_people must be >= 1, got {self.max_people}")
        if self.detect_every < 1:
            raise InputError(f"detect_every must be >= 1, got {self.detect_every}")
        if self.people_workers is not None and self.people_workers < 1:
            raise InputError(f"people_workers must be >= 1, got {self.people_workers}")


class _Landmarker:
    """One landmark-model interpreter with its own crop buffer (one per thread that runs it). The
    model's input is written in place (one warp into the preallocated crop, one conversion into the
    interpreter's own input buffer): no per-crop arrays."""

    def __init__(self, path, threads: int) -> None:
        self.it = _interpreter(path, threads)
        self._in = self.it.get_input_details()[0]["index"]
        outs = {d["name"]: d["index"] for d in self.it.get_output_details()}
        self._out = (outs["Identity"], outs["Identity_1"], outs["Identity_3"], outs["Identity_4"])
        self.crop = np.empty((LANDMARK_SIZE, LANDMARK_SIZE, 3), np.uint8)
        self.last_seconds = 0.0  # the last invoke's time

    def run(self, image: np.ndarray, m: np.ndarray):
        """The model on the crop of ``image`` through the ROI affine ``m`` (crop -> image) ->
        (raw (39, 5), pose flag, heatmaps (64, 64, 39) logits, world (39, 3)); arrays the next call overwrites."""
        crop = warp_crop(image, invert_affine(m), (LANDMARK_SIZE, LANDMARK_SIZE), out=self.crop)
        buf = self.it.tensor(self._in)()  # a view of the interpreter's input; released before invoke
        np.divide(crop, np.float32(255.0), out=buf[0], casting="unsafe")  # == crop.astype(f32) / 255
        del buf
        t0 = time.perf_counter()
        self.it.invoke()
        self.last_seconds = time.perf_counter() - t0
        lm, flag, hm, world = self._out
        return (self.it.get_tensor(lm)[0].reshape(NUM_LANDMARKS, 5), float(self.it.get_tensor(flag).reshape(-1)[0]),
                self.it.get_tensor(hm)[0], self.it.get_tensor(world)[0].reshape(NUM_LANDMARKS, 3))


def _interpreter(path, threads: int):
    from ai_edge_litert.interpreter import Interpreter

    with _quiet_stderr():  # LiteRT logs "Created TensorFlow Lite XNNPACK delegate" to fd 2
        it = Interpreter(model_path=str(path), num_threads=threads)
        it.allocate_tensors()
    return it


@contextlib.contextmanager
def _quiet_stderr():
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, ValueError, OSError):  # no real stderr (e.g. captured): nothing to silence
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def detector_tiles(width: int, height: int, min_overlap: float = 0.2, fine: bool = False) -> list[tuple[int, int, int, int]]:
    """Square tiles (x0, y0, x1, y1) of the shorter side's size along the longer side of a frame,
    evenly spaced and overlapping by at least ``min_overlap`` of a tile; none for a frame within
    1.25:1 of square. The detector sees a frame letterboxed into 224x224: on a 16:9 frame its tiles
    show people 1.8x larger than the whole frame does. ``fine``: also a grid of squares of half the
    shorter side over the whole frame, overlapping alike (2x larger again; 15 tiles on 16:9)."""
    short, long_ = min(width, height), max(width, height)
    out = []
    if long_ >= 1.25 * short:
        out = [(a, 0, a + short, height) if width >= height else (0, a, width, a + short)
               for a in _spaced(long_, short, min_overlap)]
    if fine and short >= 64:
        half = short // 2
        out += [(x, y, x + half, y + half) for y in _spaced(height, half, min_overlap)
                for x in _spaced(width, half, min_overlap)]
    return out


def _spaced(length: int, size: int, min_overlap: float) -> list[int]:
    """Starts of the fewest windows of ``size`` that cover ``length`` overlapping by ``min_overlap``."""
    if length <= size:
        return [0]
    n = max(2, math.ceil((length - min_overlap * size) / ((1.0 - min_overlap) * size)))
    return [round(k * (length - size) / (n - 1)) for k in range(n)]


class BlazePoseDetector:
    """The person detector alone: frame -> list of :class:`Detection` (image pixels). With ``tiles``
    it also runs on the frame's :func:`detector_tiles` (people small in a wide frame), and the
    detections of all passes are merged by the weighted NMS."""

    def __init__(self, threshold: float = 0.5, nms_iou: float = 0.3, threads: int = 2, quiet: bool = False,
                 tiles: bool = False):
        from vidpose import store

        self.model_path = store.path("blazepose-detector", quiet=quiet)
        self.threshold, self.nms_iou, self.tiles = threshold, nms_iou, bool(tiles)
        self._it = _interpreter(self.model_path, threads)
        self._in = self._it.get_input_details()[0]["index"]
        outs = {d["name"]: d["index"] for d in self._it.get_output_details()}
        self._reg, self._cls = outs["Identity"], outs["Identity_1"]
        self.anchors = ssd_anchors()
        self.calls, self.invoke_seconds = 0, 0.0  # the model's own time (benchmarks)

    def __call__(self, image: np.ndarray, fine: bool = False) -> list[Detection]:
        """Detections in ``image``; ``fine`` (with ``tiles``): also on the half-size grid of tiles."""
        h, w = image.shape[:2]
        tiles = detector_tiles(w, h, fine=fine) if self.tiles else []
        if not tiles:  # one pass: NMS in the detector's own coordinates, as MediaPipe does it
            (scores, boxes, kps), lb = self._detect(image)
            return [Detection(score, lb.to_image(box.reshape(2, 2)).reshape(4), lb.to_image(kp))
                    for score, box, kp in weighted_nms(scores, boxes, kps, self.nms_iou)]
        found = []  # every pass in frame pixels (a uniform scale per pass, so IoUs are unchanged), then one NMS
        for x0, y0, x1, y1 in [(0, 0, w, h), *tiles]:
            (scores, boxes, kps), lb = self._detect(image[y0:y1, x0:x1])
            off = np.array([x0, y0], np.float64)
            found.append((scores, lb.to_image(boxes.reshape(-1, 2, 2)).reshape(-1, 4) + np.tile(off, 2),
                          lb.to_image(kps) + off))
        scores, boxes, kps = (np.concatenate([f[i] for f in found]) for i in range(3))
        return [Detection(score, box, kp) for score, box, kp in weighted_nms(scores, boxes, kps, self.nms_iou)]

    def _detect(self, image: np.ndarray):
        """One detector pass -> ((scores (M,), boxes (M, 4), keypoints (M, 4, 2)) in the letterbox's
        normalised coordinates, before NMS; the letterbox)."""
        x, lb = letterbox(image)
        self._it.set_tensor(self._in, x[None])
        t0 = time.perf_counter()
        self._it.invoke()
        self.invoke_seconds += time.perf_counter() - t0
        self.calls += 1
        reg = self._it.get_tensor(self._reg)[0]
        cls = self._it.get_tensor(self._cls)[0]
        return decode_detections(reg, cls, self.anchors, self.threshold), lb


# Person detectors by name -> their default score threshold.
DETECTOR_THRESHOLDS = {"blazepose": 0.5, "bodydet": 0.25}


def person_detector(name: str = "blazepose", threshold: float | None = None, size: int = 256, threads: int = 2,
                    nms_iou: float = 0.3, quiet: bool = False, tiles: bool = False):
    """BlazePose's face-anchored detector or the body detector (:mod:`vidpose.backends.bodydet`);
    both map a frame to a list of :class:`Detection`. ``size``: the body detector's input size;
    ``tiles``: BlazePose's detector also runs on the frame's :func:`detector_tiles`."""
    if name not in DETECTOR_THRESHOLDS:
        raise InputError(f"unknown person detector {name!r}; choose one of {', '.join(DETECTOR_THRESHOLDS)}")
    threshold = DETECTOR_THRESHOLDS[name] if threshold is None else threshold
    if name == "bodydet":
        from vidpose.backends.bodydet import BodyDetector

        return BodyDetector(threshold, size, threads=threads, quiet=quiet)
    return BlazePoseDetector(threshold, nms_iou, threads, quiet=quiet, tiles=tiles)


@dataclass
class _Track:
    roi: ROI
    from_detection: bool = True


class BlazePose:
    """Top-down multi-person BlazePose with ROI tracking between frames.

    Call it once per frame, in order; it returns people in the BlazePose-33
    skeleton with keypoints in image pixels, world landmarks (metres,
    hip-centred, image-aligned axes) and, if asked, heatmaps.
    """

    skeleton = BLAZEPOSE33

    def __init__(self, config: BlazePoseConfig | None = None, quiet: bool = False):
        from vidpose import store

        self.config = cfg = config or BlazePoseConfig()
        self.detector = person_detector(cfg.detector, cfg.detection_threshold, cfg.detector_size, cfg.threads,
                                        cfg.nms_iou, quiet=quiet, tiles=cfg.detector_tiles)
        self.landmark_path = store.path(LANDMARK_MODELS[cfg.model], quiet=quiet)
        self._main = _Landmarker(self.landmark_path, cfg.threads)
        self._workers: list[_Landmarker] = []  # one-thread interpreters for people side by side (made on first use)
        self._pool = None
        self.model_files = {
            "detector": self.detector.model_path,
            "landmark": self.landmark_path,
        }
        self._tracks: list[_Track] = []
        self._frame = 0
        # Calls and seconds inside the models' invoke (what the models themselves cost; landmark
        # calls made side by side add up their own seconds).
        self.stats = {"detector_calls": 0, "landmark_calls": 0, "detector_seconds": 0.0, "landmark_seconds": 0.0}

    def reset(self) -> None:
        self._tracks, self._frame = [], 0

    def track(self, rois: list[ROI]) -> None:
        """Start tracking ``rois`` from the next frame, as if the detector had found them
        (e.g. people located by another detector)."""
        self._tracks = [_Track(r, True) for r in rois]

    def estimate_roi(self, image: np.ndarray, roi: ROI, lm: "_Landmarker | None" = None) -> tuple[PersonPose, float, ROI]:
        """Run the landmark model on one ROI -> (person, pose flag, next frame's ROI); ``lm``: the
        interpreter to use (a worker's; default the main one, whose time goes into ``stats``)."""
        m = roi_affine(roi)
        raw, flag, heatmaps, world = (lm or self._main).run(image, m)
        if lm is None:
            self.stats["landmark_seconds"] += self._main.last_seconds
            self.stats["landmark_calls"] += 1
        xy = raw[:, :2].astype(np.float64)
        if self.config.subpixel:
            xy[:33] = refine_from_heatmaps(xy[:33], heatmaps)
        img_xy = apply_affine(m, xy)
        vis = sigmoid(raw[:33, 3])
        presence = sigmoid(raw[:33, 4])
        kps = np.concatenate([img_xy[:33], vis[:, None]], axis=1)
        # World landmarks come in ROI-rotated axes: rotate them back upright.
        c, s = math.cos(roi.rotation), math.sin(roi.rotation)
        rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
        w3 = world[:33].astype(np.float64) @ rot.T
        box = np.array([*img_xy[:33].min(0), *img_xy[:33].max(0)])
        person = PersonPose(
            keypoints=kps, bbox=box, score=flag, keypoints_3d=w3, roi=roi,
            heatmaps=heatmaps.copy() if self.config.keep_heatmaps else None,
            extra={"presence": presence, "crop_affine": m},
        )
        next_roi = roi_from_points(img_xy[33], img_xy[34])
        return person, flag, next_roi

    def _estimate_tracked(self, image: np.ndarray, rois: list[ROI]) -> list[tuple[PersonPose, float, ROI]]:
        """The landmark model on every tracked ROI: one after another, or with two or more people
        and ``people_workers`` > 1, side by side on one-thread interpreters (LiteRT releases the
        GIL while it runs; the outputs are the same bit for bit)."""
        w = self.config.people_workers or self.config.threads
        if len(rois) < 2 or w < 2:
            return [self.estimate_roi(image, r) for r in rois]
        from concurrent.futures import ThreadPoolExecutor

        w = min(w, len(rois))
        while len(self._workers) < w:
            self._workers.append(_Landmarker(self.landmark_path, 1))
        if self._pool is None:  # as many threads as workers can ever be used (the first frame may have fewer people)
            self._pool = ThreadPoolExecutor(max_workers=self.config.people_workers or self.config.threads,
                                            thread_name_prefix="vidpose-landmark")
        chunks = [(self._workers[k], rois[k::w]) for k in range(w)]
        done = list(self._pool.map(lambda c: [(self.estimate_roi(image, r, c[0]), c[0].last_seconds) for r in c[1]],
                                   chunks))
        out: list = [None] * len(rois)
        for k, results in enumerate(done):
            for i, (res, secs) in zip(range(k, len(rois), w), results):
                out[i] = res
                self.stats["landmark_seconds"] += secs
                self.stats["landmark_calls"] += 1
        return out

    def close(self) -> None:
        """Stop the side-by-side landmark threads and drop their interpreters (made again on next use)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._workers.clear()

    def __call__(self, image: np.ndarray) -> list[PersonPose]:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InputError(f"BlazePose expects an HxWx3 uint8 RGB image, got {image.shape} {image.dtype}")
        cfg = self.config
        lost = False
        people: list[PersonPose] = []
        next_tracks: list[_Track] = []
        for tr, (person, flag, nroi) in zip(self._tracks, self._estimate_tracked(image, [t.roi for t in self._tracks])):
            if flag < cfg.presence_threshold or nroi.size < 4:
                lost = True
                continue
            people.append(person)
            next_tracks.append(_Track(nroi, False))
        people, next_tracks = self._dedupe(people, next_tracks)
        scheduled = self._frame % cfg.detect_every == 0
        if len(people) < cfg.max_people and (scheduled or lost or not people):
            t0 = self.detector.invoke_seconds
            dets = self.detector(image, fine=True) if self._fine(image, people, scheduled) else self.detector(image)
            self.stats["detector_calls"] += 1
            self.stats["detector_seconds"] += self.detector.invoke_seconds - t0
            for d in dets:
                if len(people) >= cfg.max_people:
                    break
                if any(detection_is_person(d, p, cfg) for p in people):
                    continue  # already tracked (its face or body anchors sit on a tracked pose)
                roi = roi_from_points(d.keypoints[0], d.keypoints[1])
                person, flag, nroi = self.estimate_roi(image, roi)
                if flag < cfg.presence_threshold:
                    continue
                if any(same_person(person, p, cfg) for p in people):
                    # A detection between two tracked people can give one pose spanning both
                    # (a chimera), or converge on a tracked person: judged by the poses.
                    continue
                if doubtful_newcomer(person, flag, people, cfg):
                    continue
                people.append(person)
                next_tracks.append(_Track(nroi, True))
            people, next_tracks = self._dedupe(people, next_tracks)
        self._tracks = next_tracks
        self._frame += 1
        return people

    def _fine(self, image: np.ndarray, people: list[PersonPose], scheduled: bool) -> bool:
        """Whether this detection also looks at the fine tiles (BlazePose's own detector, tiles on):
        someone estimated in the frame is shorter than ``fine_tiles_below`` of its shorter side, or
        nobody is and the detector runs on its schedule (so an empty stretch of video pays for the
        fine tiles every ``detect_every`` frames, not every frame)."""
        cfg = self.config
        if not (cfg.detector_tiles and cfg.fine_tiles_below > 0 and isinstance(self.detector, BlazePoseDetector)):
            return False
        if not people:
            return scheduled
        limit = cfg.fine_tiles_below * min(image.shape[:2])
        return any(float(p.bbox[3] - p.bbox[1]) < limit for p in people)

    def _dedupe(self, people: list[PersonPose], tracks: list[_Track]) -> tuple[list[PersonPose], list[_Track]]:
        """Two ROIs that converged on the same person: keep the more confident one."""
        if len(people) < 2:
            return people, tracks
        keep = dedupe(people, self.config)
        return [people[i] for i in keep], [tracks[i] for i in keep]


# --- one person or two: judged by the poses ----------------------------------------------------

_FACE = (0, 2, 5)  # nose, left eye, right eye (BlazePose-33)
_SHOULDERS, _HIPS = (11, 12), (23, 24)


def torso_size(kp: np.ndarray) -> float:
    """Mean shoulder-to-hip distance of a BlazePose-33 pose (J, 3) in pixels (its box's larger side / 3
    when the torso is degenerate): a scale that spread limbs do not inflate."""
    d = np.linalg.norm(kp[_SHOULDERS, :2] - kp[_HIPS, :2], axis=1).mean()
    if not np.isfinite(d) or d < 1.0:
        d = max(float(np.ptp(kp[:, 0])), float(np.ptp(kp[:, 1])), 3.0) / 3.0
    return float(d)


def _anchor(kp: np.ndarray, idx: tuple[int, ...], confident: float) -> np.ndarray | None:
    ok = kp[list(idx), 2] >= confident
    return kp[list(idx)][ok, :2].mean(0) if ok.any() else None


def same_person(a: PersonPose, b: PersonPose, cfg: BlazePoseConfig) -> bool:
    """Whether two BlazePose-33 poses of one frame are one person (a duplicate, or a chimera: one
    pose spanning two people, sharing part of one's body) rather than two people.

    Two real people may overlap (one partly behind the other, limbs spread across the other's
    box), but they never share their face, both shoulders, both hips, or most of their joints;
    a duplicate shares them all. One person when any of: OKS of the confident joints (area: the
    smaller torso's, squared x 6) >= ``duplicate_oks``; the face anchors (nose and eyes), both
    shoulders or both hips closer than ``anchor_radius`` x the smaller torso size; at least
    ``shared_joints`` of the joints confident in both lie that close; or a chimera: at least
    ``chimera_shared`` of either's confident joints lie on the other's joints (:func:`shared_joints`)
    while the boxes overlap by ``chimera_containment`` of the smaller box, or ``on_body`` of either's
    confident joints lie on the other's limbs (:func:`on_body`).
    """
    ka, kb = np.asarray(a.keypoints, np.float64), np.asarray(b.keypoints, np.float64)
    ta, tb = torso_size(ka), torso_size(kb)  # each pose's scale, computed once for all the tests below
    size = min(ta, tb)
    radius = cfg.anchor_radius * size
    ca, cb = ka[:, 2] >= cfg.confident, kb[:, 2] >= cfg.confident
    if _apart(ka, ca, kb, cb, ta, tb, cfg):
        return False  # no test below can fire (people apart in a crowd: most pairs; tested equal)
    both = ca & cb
    d = np.linalg.norm(ka[:, :2] - kb[:, :2], axis=1)
    if both.sum() >= 4:
        from vidpose.metrics.keypoints import oks_matrix, sigmas_for

        gt = np.concatenate([kb[:, :2], np.where(both, 2.0, 0.0)[:, None]], axis=1)
        if oks_matrix(ka[None, :, :2], gt[None], np.array([6.0 * size * size]), sigmas_for("blazepose33"))[0, 0] \
                >= cfg.duplicate_oks:
            return True
        if (d[both] < radius).mean() >= cfg.shared_joints:
            return True
    fa, fb = _anchor(ka, _FACE, cfg.confident), _anchor(kb, _FACE, cfg.confident)
    if fa is not None and fb is not None and np.linalg.norm(fa - fb) < radius:
        return True
    for pair in (_SHOULDERS, _HIPS):
        if np.all(both[list(pair)]) and np.all(d[list(pair)] < radius):
            return True
    # A chimera shares only part of a body (often the legs or the head): some joints on the
    # other's joints while the boxes overlap. Overlap alone (spread limbs, one person partly behind
    # another) or a few coinciding joints alone (hands meeting) keep two people.
    r = max(cfg.anchor_radius, 0.25) * size
    shared = max(shared_joints(d, ca, cb, r), shared_joints(d, cb, ca, r))
    if shared >= cfg.chimera_shared and box_containment(a.bbox, b.bbox) >= cfg.chimera_containment:
        return True
    # A spurious pose made of another's limbs (along outstretched arms), or one that spans a
    # person (a background "torso" on their legs): one of the two lies almost wholly on the other.
    return max(on_body(ka, ca, kb, cb, cfg.body_radius * tb),
               on_body(kb, cb, ka, ca, cfg.body_radius * ta)) >= cfg.on_body


def _apart(ka: np.ndarray, ca: np.ndarray, kb: np.ndarray, cb: np.ndarray, ta: float, tb: float,
           cfg: BlazePoseConfig) -> bool:
    """Whether the boxes of two poses' confident joints lie so far apart that no test of
    :func:`same_person` can fire: every test compares confident joints of one (or points between
    them: face anchors, limbs) with confident joints of the other, within a reach of at most the
    largest of the anchor/chimera radii, ``body_radius`` x the larger torso, and the distance at
    which one joint's OKS term still reaches ``duplicate_oks`` (exp(-d²/(8σ²·6·size²)), the largest
    σ). A cheap exact skip of the O(people²) comparisons in crowds."""
    return _boxes_apart(_confident_box(ka, ca), _confident_box(kb, cb), ta, tb, cfg)


def _confident_box(kp: np.ndarray, confident: np.ndarray) -> tuple[float, float, float, float] | None:
    """x0, y0, x1, y1 of a pose's confident joints (None when it has none)."""
    if not confident.any():
        return None
    xy = kp[confident, :2]
    (x0, y0), (x1, y1) = xy.min(0), xy.max(0)
    return float(x0), float(y0), float(x1), float(y1)


def _boxes_apart(a: tuple | None, b: tuple | None, ta: float, tb: float, cfg: BlazePoseConfig) -> bool:
    """:func:`_apart` from the two poses' confident-joint boxes (:func:`_confident_box`) and torso sizes."""
    if a is None or b is None or cfg.duplicate_oks <= 0.0:
        return False
    gap = math.hypot(max(b[0] - a[2], a[0] - b[2], 0.0), max(b[1] - a[3], a[1] - b[3], 0.0))
    size = min(ta, tb)
    oks_reach = math.sqrt(48.0 * max(-math.log(min(cfg.duplicate_oks, 1.0)), 0.0)) * _max_sigma() * size
    reach = max(oks_reach, max(cfg.anchor_radius, 0.25) * size, cfg.body_radius * max(ta, tb))
    return gap > reach


@functools.lru_cache(maxsize=None)
def _max_sigma() -> float:
    """The largest OKS sigma of the BlazePose-33 keypoints (looked up once)."""
    from vidpose.metrics.keypoints import sigmas_for

    return float(sigmas_for("blazepose33").max())


_LINKS = np.array(BLAZEPOSE33.links).reshape(-1, 2)


def on_body(ka: np.ndarray, ca: np.ndarray, kb: np.ndarray, cb: np.ndarray, radius: float) -> float:
    """The fraction of pose a's confident joints (keypoints ``ka`` (J, 3), confident where ``ca``) that
    lie on b's body: within ``radius`` (``body_radius`` x b's torso size) of one of b's limbs (the
    skeleton's links between b's confident joints). A second person's visible joints are where the
    other person is not; a spurious pose built from b's limbs (along outstretched arms, or a
    background "torso" on b's legs) lies on them."""
    links = _LINKS[cb[_LINKS[:, 0]] & cb[_LINKS[:, 1]]]
    if not ca.any() or not len(links):
        return 0.0
    p0, p1 = kb[links[:, 0], :2], kb[links[:, 1], :2]  # (L, 2) segments
    q = ka[ca, :2][:, None]  # (N, 1, 2)
    seg = p1 - p0
    u = np.clip(((q - p0) * seg).sum(-1) / np.maximum((seg * seg).sum(-1), 1e-9), 0.0, 1.0)
    d = np.linalg.norm(q - (p0 + u[..., None] * seg), axis=-1).min(1)
    return float((d < radius).mean())


def shared_joints(d: np.ndarray, ca: np.ndarray, cb: np.ndarray, r: float) -> float:
    """The fraction of a's confident joints (``ca``) that lie on the same joint of b (confident there
    too, ``cb``; their distances ``d`` (J,) within ``r``: ``anchor_radius`` x the smaller torso size,
    at least 25% of it): how much of a's body is b's.
    Same joints only: a body part shared by a chimera keeps its name (b's knee is the chimera's
    knee), while a bystander's joints may lie near other joints of someone with spread limbs."""
    if not ca.any():
        return 0.0
    return float(((d < r) & cb)[ca].mean())


def detection_is_person(det: Detection, person: PersonPose, cfg: BlazePoseConfig) -> bool:
    """Whether a detector hit is a person already estimated in this frame, judged before running
    the landmark model on it (a cheap skip; :func:`same_person` decides after it): the centre of
    its box lies on the person's face anchor (within a quarter of the box's width), or its
    mid-hip (detector keypoint 0) within half the person's torso size of the person's mid-hip
    (another person's hips there would be hidden behind this one's)."""
    kp = np.asarray(person.keypoints, np.float64)
    box = np.asarray(det.box, np.float64)
    face = _anchor(kp, _FACE, cfg.confident)
    if face is not None and np.linalg.norm(face - (box[:2] + box[2:]) / 2) < 0.25 * float(box[2] - box[0]):
        return True
    hips = _anchor(kp, _HIPS, cfg.confident)
    return bool(hips is not None and np.linalg.norm(hips - det.keypoints[0]) < 0.5 * torso_size(kp))


def doubtful_newcomer(person: PersonPose, flag: float, people: list[PersonPose], cfg: BlazePoseConfig) -> bool:
    """Whether a newly detected pose overlapping a tracked person (box containment >=
    ``overlap_containment``) comes with a pose flag below ``overlap_presence``: then it is taken
    for a pose made of the other's limbs or spanning two people, not a second person (on the sample
    clip such poses come with flags 0.60-0.63; the woman stepping in front of the man with 1.0)."""
    return bool(flag < cfg.overlap_presence and any(
        box_containment(person.bbox, p.bbox) >= cfg.overlap_containment for p in people))


def dedupe(people: list[PersonPose], cfg: BlazePoseConfig) -> list[int]:
    """Indices (ascending) of the people to keep: of any two that are one person
    (:func:`same_person`), the one with the higher score."""
    order = np.argsort([-p.score for p in people], kind="stable")
    # Each pose's confident-joint box and torso once, so that the pairs lying apart (most of a
    # crowd's O(people²) pairs) are skipped without building their arrays (the verdicts are those
    # of same_person, which makes the same skip itself).
    boxes, torsos = [], []
    for p in people:
        kp = np.asarray(p.keypoints, np.float64)
        boxes.append(_confident_box(kp, kp[:, 2] >= cfg.confident))
        torsos.append(torso_size(kp))
    keep: list[int] = []
    for i in order:
        if not any(not _boxes_apart(boxes[i], boxes[k], torsos[i], torsos[k], cfg)
                   and same_person(people[i], people[k], cfg) for k in keep):
            keep.append(int(i))
    return sorted(keep)


def box_containment(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection of two boxes over the smaller box's area."""
    lt, rb = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    inter = float(np.prod(np.clip(rb - lt, 0, None)))
    small = min(float(np.prod(np.clip(a[2:] - a[:2], 0, None))), float(np.prod(np.clip(b[2:] - b[:2], 0, None))))
    return inter / small if small > 0 else 0.0


def _inside_any(pt: np.ndarray, boxes: np.ndarray) -> bool:
    return bool(
        np.any((boxes[:, 0] <= pt[0]) & (pt[0] <= boxes[:, 2]) & (boxes[:, 1] <= pt[1]) & (pt[1] <= boxes[:, 3]))
    )


class BlazePoseCropModel:
    """The landmark model alone on given person crops (no detector, no ROI tracking): crops
    (B, H, W, 3) uint8 RGB -> keypoints (B, 33, 3) in crop pixels, score = visibility.

    Each crop is padded to a centred square (black) and resized to 256x256, as the model's ROI
    would be; a teacher for distillation and DKD's ``blazepose-*`` initializers use it."""

    def __init__(self, model: str = "heavy", threads: int = 1, subpixel: bool = True, quiet: bool = True):
        from vidpose import store

        if model not in LANDMARK_MODELS:
            raise InputError(f"unknown BlazePose model {model!r}; choose one of {', '.join(LANDMARK_MODELS)}")
        self.model, self.subpixel = model, subpixel
        self.path = store.path(LANDMARK_MODELS[model], quiet=quiet)
        self._it = _interpreter(self.path, threads)
        self._in = self._it.get_input_details()[0]["index"]
        self._lm = {d["name"]: d["index"] for d in self._it.get_output_details()}["Identity"]
        self._hm = {d["name"]: d["index"] for d in self._it.get_output_details()}["Identity_3"]

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        crops = np.asarray(crops)
        if crops.ndim != 4 or crops.shape[-1] != 3 or crops.dtype != np.uint8:
            raise InputError(f"BlazePose crops must be (B, H, W, 3) uint8 RGB, got {crops.shape} {crops.dtype}")
        out = np.zeros((len(crops), 33, 3))
        h, w = crops.shape[1:3]
        side = max(h, w)
        ox, oy = (side - w) / 2.0, (side - h) / 2.0
        scale = side / LANDMARK_SIZE
        for i, crop in enumerate(crops):
            square = np.zeros((side, side, 3), np.uint8)
            square[int(oy) : int(oy) + h, int(ox) : int(ox) + w] = crop
            x = cv2.resize(square, (LANDMARK_SIZE, LANDMARK_SIZE), interpolation=cv2.INTER_LINEAR)
            self._it.set_tensor(self._in, (x.astype(np.float32) / 255.0)[None])
            self._it.invoke()
            raw = self._it.get_tensor(self._lm)[0].reshape(NUM_LANDMARKS, 5)
            xy = raw[:33, :2].astype(np.float64)
            if self.subpixel:
                xy = refine_from_heatmaps(xy, self._it.get_tensor(self._hm)[0])
            out[i, :, 0] = xy[:, 0] * scale - int(ox)
            out[i, :, 1] = xy[:, 1] * scale - int(oy)
            out[i, :, 2] = sigmoid(raw[:33, 3])
        return out
