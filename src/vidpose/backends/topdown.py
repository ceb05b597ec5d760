"""Top-down 2D pose with a trained model: person detector -> crops -> model -> image keypoints.

For ``vidpose run --model clnet`` (a shipped trained model), a ``.safetensors``
checkpoint or its ``.onnx`` export. The model comes already loaded (the estimate
stage loads it; this module does not know how models are stored or built): it
needs ``cfg.input_size`` (H, W), ``codec.decode(outputs) -> (B, K, 3)`` in
input pixels, ``output_keys`` and ``raw_outputs(images) -> {key: array}`` (see
:mod:`vidpose.models.runtime`).

* Person boxes: the person detector (BlazePose's) runs on the same schedule as
  in the BlazePose backend: every ``detect_every`` frames, whenever a tracked
  person is lost (mean keypoint score below ``min_pose_score``) and when nobody is
  tracked. A detection's box is the detector's full-body circle (centre = mid-hip,
  radius = distance to its scale point) at the model's aspect ratio. Between
  detections each person's box is the tight box of its previous keypoints
  (those scoring at least ``keypoint_threshold``), widened by ``box_margin`` and
  rounded to whole pixels. A
  pose is dropped (the person is lost) when its mean score is below
  ``min_pose_score`` or its keypoints shrank into a box under ``min_box_ratio`` of
  the box it was estimated in.
* Crops: box-centred, upright, widened to the model's input aspect ratio and
  enlarged by ``padding`` (1.25), exactly as the training crops
  (:mod:`vidpose.data.topdown`, both through :mod:`vidpose.geometry`); all people
  of a frame go through the model as one batch.
* Keypoints map back to image pixels through each crop's affine; a person's
  score is its mean keypoint score; with ``keep_heatmaps`` each person keeps the
  model's ``heatmaps`` output as ``(h, w, K)`` (``extra["heatmap_stride"]`` input
  pixels per cell, ``extra["crop_affine"]`` image <- crop).
* Per-track state: a model with ``stateful = True`` (DKD) is called as
  ``raw_outputs_tracked(images, states, affines) -> (outputs, new states)`` with one state
  per crop (and each crop's image <- crop affine, so the model can follow its crop):
  the state its model returned for that person on the previous frame (DKD: the
  pose kernels distilled from it), ``None`` for a newly detected person. A person keeps
  its state while it is tracked from box to box; a lost person's state is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidpose.backends.blazepose import Detection, _inside_any, box_containment, box_iou
from vidpose.errors import InputError
from vidpose.io.images import IMAGENET_MEAN, IMAGENET_STD, normalize_rgb
from vidpose.geometry import apply_affine, box_to_center_size, crop_to_image_affine, image_to_crop_affine, warp_crop
from vidpose.skeletons import Skeleton
from vidpose.types import PersonPose


@dataclass
class TopDownConfig:
    max_people: int = 4
    detect_every: int = 5  # run the detector every N frames (and whenever someone is lost)
    padding: float = 1.25  # crop = person box at the model's aspect ratio times this (as in training)
    min_pose_score: float = 0.2  # a person whose mean keypoint score is below this is dropped (lost)
    keypoint_threshold: float = 0.2  # keypoints scoring at least this give the next frame's box ...
    box_margin: float = 0.1  # ... widened by this fraction of its size on each side (keypoints lie inside the body)
    min_box_ratio: float = 0.25  # a pose whose box is smaller than this fraction of its input box found nobody
    duplicate_iou: float = 0.5  # two people whose boxes overlap more than this are one
    duplicate_containment: float = 0.8  # ... or whose intersection covers this much of the smaller box
    new_person_containment: float = 0.6  # a new detection's pose may cover at most this much of a tracked person
    keep_heatmaps: bool = False  # attach each person's heatmaps (h, w, K) for later stages
    batch_size: int = 16

    def __post_init__(self) -> None:
        if self.max_people < 1:
            raise InputError(f"max_people must be >= 1, got {self.max_people}")
        if self.detect_every < 1:
            raise InputError(f"detect_every must be >= 1, got {self.detect_every}")
        if not self.padding > 0:
            raise InputError(f"padding must be > 0, got {self.padding}")


def detection_box(det: Detection, aspect: float) -> np.ndarray:
    """(4,) person box from a BlazePose detection: its full-body circle at aspect W/H."""
    centre, scale_pt = det.keypoints[0], det.keypoints[1]
    r = float(np.hypot(*(scale_pt - centre)))
    return np.array([centre[0] - r * aspect, centre[1] - r, centre[0] + r * aspect, centre[1] + r])


def keypoint_box(keypoints: np.ndarray, threshold: float) -> np.ndarray:
    """(4,) tight box of the keypoints scoring at least ``threshold`` (all of them if fewer than 2 do)."""
    ok = keypoints[:, 2] >= threshold
    xy = keypoints[ok, :2] if ok.sum() >= 2 else keypoints[:, :2]
    return np.concatenate([xy.min(0), xy.max(0)])


class TopDown:
    """Multi-person top-down 2D pose with a trained single-person model.

    Call it once per frame, in order; it returns people in ``skeleton`` (the
    model's keypoints) with keypoints in image pixels.
    """

    def __init__(self, model, detector, skeleton: Skeleton, config: TopDownConfig | None = None,
                 mean=IMAGENET_MEAN, std=IMAGENET_STD, model_file=None):
        self.model, self.detector, self.skeleton = model, detector, skeleton
        self.config = config or TopDownConfig()
        self.input_size = (int(model.cfg.input_size[0]), int(model.cfg.input_size[1]))
        if int(model.cfg.num_keypoints) != skeleton.num_keypoints:
            raise InputError(
                f"model has {model.cfg.num_keypoints} keypoints, skeleton {skeleton.name} has {skeleton.num_keypoints}"
            )
        self.aspect = self.input_size[1] / self.input_size[0]
        self.mean, self.std = mean, std
        self.model_files = {"detector": detector.model_path}
        if model_file is not None:
            self.model_files["pose"] = model_file
        self._boxes: list[np.ndarray] = []
        self._states: list = []  # per tracked person, for stateful models
        self.stateful = bool(getattr(model, "stateful", False))
        self._frame = 0
        self.stats = {"detector_calls": 0, "model_calls": 0, "crops": 0}

    def reset(self) -> None:
        self._boxes, self._states, self._frame = [], [], 0

    def estimate_boxes(self, image: np.ndarray, boxes: list[np.ndarray], states: list | None = None) -> list[PersonPose]:
        """One person per box (image pixels): crop, run the model (batched), map back. For a
        stateful model ``states`` (one per box, None = new person) go with the crops and each
        person's new state is ``extra["track_state"]``."""
        if not boxes:
            return []
        crops, to_image = [], []
        for b in boxes:
            center, size = box_to_center_size(b, self.aspect, self.config.padding)
            crops.append(warp_crop(image, image_to_crop_affine(center, size, 0.0, self.input_size), self.input_size))
            to_image.append(crop_to_image_affine(center, size, 0.0, self.input_size))
        x = normalize_rgb(np.stack(crops), self.mean, self.std)
        keys = tuple(self.model.output_keys)
        raw: dict[str, list[np.ndarray]] = {}
        states = list(states) if states is not None else [None] * len(boxes)
        new_states: list = []
        for lo in range(0, len(x), self.config.batch_size):
            sl = slice(lo, lo + self.config.batch_size)
            if self.stateful:
                out, st = self.model.raw_outputs_tracked(x[sl], states[sl], np.stack(to_image[sl]))
                new_states += st
            else:
                out = self.model.raw_outputs(x[sl])
            self.stats["model_calls"] += 1
            for k, v in out.items():
                raw.setdefault(k, []).append(np.asarray(v))
        outputs = {k: np.concatenate(v) for k, v in raw.items()}
        kp = np.asarray(self.model.codec.decode({k: outputs[k] for k in keys}), np.float64)
        self.stats["crops"] += len(boxes)
        hm = outputs.get("heatmaps")
        people = []
        for i, m in enumerate(to_image):
            kps = np.concatenate([apply_affine(m, kp[i, :, :2]), np.clip(kp[i, :, 2:3], 0.0, 1.0)], axis=1)
            extra = {"crop_affine": m}
            heatmaps = None
            if self.config.keep_heatmaps and hm is not None:
                heatmaps = np.ascontiguousarray(hm[i].transpose(1, 2, 0))
                extra["heatmap_stride"] = self.input_size[1] / hm.shape[-1]
            extra["input_box"] = np.asarray(boxes[i], np.float64)
            if self.stateful:
                extra["track_state"] = new_states[i]
            people.append(PersonPose(
                keypoints=kps, bbox=keypoint_box(kps, self.config.keypoint_threshold),
                score=float(kps[:, 2].mean()), heatmaps=heatmaps, extra=extra,
            ))
        return people

    def __call__(self, image: np.ndarray) -> list[PersonPose]:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InputError(f"top-down pose expects an HxWx3 uint8 RGB image, got {image.shape} {image.dtype}")
        cfg = self.config
        lost = False
        people: list[PersonPose] = []
        for p in self.estimate_boxes(image, self._boxes, self._states if self.stateful else None):
            if not self._found(p):
                lost = True
                continue
            people.append(p)
        people = self._dedupe(people)
        scheduled = self._frame % cfg.detect_every == 0
        if len(people) < cfg.max_people and (scheduled or lost or not people):
            dets = self.detector(image)
            self.stats["detector_calls"] += 1
            taken = [p.bbox for p in people]
            new: list[np.ndarray] = []
            for d in dets:
                if len(people) + len(new) >= cfg.max_people:
                    break
                box = detection_box(d, self.aspect)
                boxes = np.array(taken + new).reshape(-1, 4)
                if len(boxes) and (box_iou(box, boxes).max() > 0.3 or _inside_any(d.keypoints[0], boxes)):
                    continue  # already tracked
                new.append(box)
            for p in self.estimate_boxes(image, new):
                if not self._found(p):
                    continue
                if any(box_containment(p.bbox, b) > cfg.new_person_containment for b in taken):
                    continue  # a pose spanning a tracked person is not a new person
                people.append(p)
                taken.append(p.bbox)
            people = self._dedupe(people)
        self._boxes = [self._next_box(p.bbox) for p in people]
        if self.stateful:
            self._states = [p.extra.pop("track_state", None) for p in people]
        self._frame += 1
        return people

    def _found(self, p: PersonPose) -> bool:
        """A pose counts when its mean score is high enough and it did not shrink to a point
        inside its input box (what a model trained on people does on background)."""
        side = max(p.bbox[2] - p.bbox[0], p.bbox[3] - p.bbox[1])
        ib = p.extra["input_box"]
        return p.score >= self.config.min_pose_score and side >= self.config.min_box_ratio * max(
            ib[2] - ib[0], ib[3] - ib[1]
        )

    def _next_box(self, box: np.ndarray) -> np.ndarray:
        m = self.config.box_margin
        w, h = box[2] - box[0], box[3] - box[1]
        # Whole pixels: a crop does not follow sub-pixel jitter, and two runtimes whose outputs
        # differ by float rounding (PyTorch, onnxruntime) cut the same crops.
        return np.round([box[0] - m * w, box[1] - m * h, box[2] + m * w, box[3] + m * h])

    def _dedupe(self, people: list[PersonPose]) -> list[PersonPose]:
        """Two boxes that converged on the same person: keep the more confident one."""
        if len(people) < 2:
            return people
        keep: list[int] = []
        for i in np.argsort([-p.score for p in people], kind="stable"):
            a = people[i].bbox
            if not any(
                box_iou(a, people[k].bbox)[0, 0] > self.config.duplicate_iou
                or box_containment(a, people[k].bbox) > self.config.duplicate_containment
                for k in keep
            ):
                keep.append(int(i))
        keep.sort()
        return [people[i] for i in keep]
