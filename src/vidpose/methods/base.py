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
        from vidpose.methods import load
        from vidpose.objectives.distill import DistillObjective

        teacher = load(train_cfg.data.teacher)
        if teacher.cfg.num_keypoints != model.cfg.num_keypoints:
            from vidpose.errors import InputError

            raise InputError(f"config: data.teacher {train_cfg.data.teacher!r} predicts {teacher.cfg.num_keypoints} "
                             f"keypoints, the model {model.cfg.num_keypoints}")
        scale = _teacher_scale(teacher, model)
        return DistillObjective(train_cfg, model, lambda x: _run_teacher(teacher, x, scale), train_cfg.data.teacher)
    from vidpose.objectives.heatmaps import TopDownObjective

    return TopDownObjective(train_cfg, model)


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
