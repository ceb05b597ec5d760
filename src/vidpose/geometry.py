"""2D affine maps shared by the crop-based parts (BlazePose ROIs, top-down training crops)."""

from __future__ import annotations

import numpy as np


def apply_affine(m: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Apply a ``(2, 3)`` affine to points ``(..., 2)``."""
    xy = np.asarray(xy, dtype=np.float64)
    return xy @ m[:, :2].T + m[:, 2]


def invert_affine(m: np.ndarray) -> np.ndarray:
    """Inverse of a ``(2, 3)`` affine (e.g. image <- crop from crop <- image)."""
    m = np.asarray(m, dtype=np.float64)
    inv_lin = np.linalg.inv(m[:, :2])
    return np.concatenate([inv_lin, (-inv_lin @ m[:, 2])[:, None]], axis=1)


def crop_points_to_image(points: np.ndarray, affines: np.ndarray) -> np.ndarray:
    """Map per-crop points ``(N, J, 2)`` back to the image through each crop's ``(N, 2, 3)`` affine
    (image -> crop, as the crops were made)."""
    pts = np.asarray(points, dtype=np.float64)
    return np.stack([apply_affine(invert_affine(m), p) for m, p in zip(np.asarray(affines), pts)])
