"""Image normalisation for the trainable networks: one home for ImageNet mean/std.

The training crops (``vidpose.data.topdown``), the top-down inference backend
and the ONNX runner all feed networks the same way: RGB in [0, 1], minus
``IMAGENET_MEAN``, over ``IMAGENET_STD``, channels first.
"""

from __future__ import annotations

import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # RGB in [0, 1]
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalize_rgb(images: np.ndarray, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> np.ndarray:
    """uint8 RGB (..., H, W, 3) -> float32 (..., 3, H, W) normalised with ``mean``/``std``."""
    m = np.asarray(mean, np.float32).reshape(3)
    s = np.asarray(std, np.float32).reshape(3)
    x = (np.asarray(images).astype(np.float32) / 255.0 - m) / s
    return np.ascontiguousarray(np.moveaxis(x, -1, -3))
