"""Training objectives: what the one trainer (``vidpose.training``) needs from a method.

An objective supplies the training and validation data, the loss of a batch,
and the validation metric that picks ``best.safetensors``. The shapes:

| module | shape | data | selection metric |
|---|---|---|---|
| ``heatmaps`` | per-crop heatmaps (SimpleBaseline, Hourglass, CLNet) | top-down person crops + codec targets | ``val_pck`` (higher) |
| ``distill`` | teacher -> student | the same crops; the teacher's keypoints replace the labels | ``val_pck_teacher`` (higher) |
| ``sequences`` | keypoint sequences -> 3D (lifters) | 2D windows and the centre frame's 3D | ``val_mpjpe`` (lower) |
| ``clips`` | clips of frames (temporal 2D models) | T consecutive crops of one person, targets per frame | ``val_pck`` (higher) |
| ``unlabelled`` | unlabelled clips (self-supervision) | T consecutive crops, no targets | ``val_loss`` (lower) |
| ``probe`` | a regressor on a (frozen) encoder, a fraction of the labels | per-frame crops, 2D + root-relative 3D | ``val_mpjpe_mm`` (lower) |

A method's ``objective(train_cfg, model)`` picks one (see ``vidpose.methods``).
"""

from vidpose.objectives.base import Objective

__all__ = ["Objective"]
