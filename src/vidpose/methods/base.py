"""What a method module provides: :class:`Method` (config class, ``build``, training objective)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Method:
    """One published method as vidpose implements it.

    * ``config``: the dataclass of its model settings (the ``[model]`` section of
      a training config, and what a checkpoint stores);
    * ``build(cfg)``: a freshly initialised model (``model.method``, ``model.cfg`` set);
    * ``objective(train_cfg, model)``: its training objective
      (:class:`vidpose.objectives.Objective`): batches, loss, the metric that
      picks the best checkpoint.
    """

    name: str
    config: type
    build: Callable[[Any], Any]
    objective: Callable[[Any, Any], Any]
    summary: str = ""


def topdown_objective(train_cfg, model):
    """The objective of the top-down 2D methods: per-crop heatmaps from the labels, or,
    with ``data.teacher`` set, from a teacher model's predictions (distillation)."""
    if train_cfg.data.teacher:
        from vidpose.objectives.distill import DistillObjective

        teacher = load_teacher(train_cfg.data.teacher, model)
        return DistillObjective(train_cfg, model, teacher, train_cfg.data.teacher)
    from vidpose.objectives.heatmaps import TopDownObjective

    return TopDownObjective(train_cfg, model)


BLAZEPOSE_TEACHERS = {"blazepose-heavy": "heavy", "blazepose-full": "full", "blazepose-lite": "lite"}


def load_teacher(spec: str, model):
    """``data.teacher`` as a callable: normalised crops (B, 3, H, W) of the student -> keypoints
    (B, K, 3) in the student's crop pixels. ``spec`` is a trained vidpose model (shipped name or
    checkpoint) or a BlazePose landmark model (``blazepose-heavy``/``-full``/``-lite``: run on the
    crop, BlazePose-33 converted to COCO-17)."""
    from vidpose.errors import InputError

    if spec in BLAZEPOSE_TEACHERS:
        if model.cfg.num_keypoints != 17:
            raise InputError(f"config: data.teacher {spec!r} gives COCO-17 keypoints, the model has "
                             f"{model.cfg.num_keypoints}")
        return BlazePoseTeacher(BLAZEPOSE_TEACHERS[spec])
    from vidpose.methods import load

    teacher = load(spec)
    if teacher.cfg.num_keypoints != model.cfg.num_keypoints:
        raise InputError(f"config: data.teacher {spec!r} predicts {teacher.cfg.num_keypoints} "
                         f"keypoints, the model {model.cfg.num_keypoints}")
    scale = _teacher_scale(teacher, model)
    return lambda x: _run_teacher(teacher, x, scale)


class BlazePoseTeacher:
    """A BlazePose landmark model on normalised crops (B, 3, H, W) -> COCO-17 keypoints (B, 17, 3)
    in crop pixels (score: the landmark's visibility)."""

    def __init__(self, model: str = "heavy") -> None:
        from vidpose.backends.blazepose import BlazePoseCropModel

        self.crop_model = BlazePoseCropModel(model)

    def __call__(self, images):
        import numpy as np
        import torch

        from vidpose.io.images import IMAGENET_MEAN, IMAGENET_STD
        from vidpose.skeletons import convert_with_scores

        x = images.detach().float().cpu().numpy().transpose(0, 2, 3, 1)
        rgb = np.clip((x * np.array(IMAGENET_STD) + np.array(IMAGENET_MEAN)) * 255.0, 0, 255).astype(np.uint8)
        kp = convert_with_scores(self.crop_model(rgb), "blazepose33", "coco17")
        return torch.from_numpy(kp.astype(np.float32))


def _teacher_scale(teacher, model) -> tuple[float, float]:
    (th, tw), (sh, sw) = teacher.cfg.input_size, model.cfg.input_size
    return tw / sw, th / sh


def _run_teacher(teacher, images, scale):
    """The teacher's keypoints in the student's crop pixels (the teacher sees the crop resized to its input)."""
    import torch.nn.functional as F

    th, tw = teacher.cfg.input_size
    x = images if tuple(images.shape[-2:]) == (th, tw) else F.interpolate(images, size=(th, tw), mode="bilinear",
                                                                             align_corners=False)
    kp = teacher.predict(x).clone()
    kp[:, :, 0] /= scale[0]
    kp[:, :, 1] /= scale[1]
    return kp
