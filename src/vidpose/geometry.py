"""2D affine maps shared by the crop-based parts (BlazePose ROIs, top-down crops in training and in
``vidpose run``), and the lifters' screen normalisation of 2D keypoints."""

from __future__ import annotations

import math

import numpy as np


def normalize_screen(xy: np.ndarray, width: float, height: float) -> np.ndarray:
    """Pixels (..., 2) -> [-1, 1] across the width, aspect kept (VideoPose3D's convention): the 2D
    input of the lifters, in training (``objectives.sequences``) and in ``vidpose run --lift dgnet``."""
    return xy / width * 2.0 - np.array([1.0, height / width])


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


# --- crops ------------------------------------------------------------------------------------
#
# One parametrisation for every person crop (BlazePose's rotated ROIs, the top-down
# crops of training and of ``vidpose run --model <trained>``): a centre and a size
# (w, h) in image pixels, a rotation, and the crop's output size (H, W). The crop's
# centre point is ``(W/2, H/2)`` with ``pixel_centres=False`` (MediaPipe's convention:
# integer coordinates are pixel corners) or ``((W-1)/2, (H-1)/2)`` with
# ``pixel_centres=True`` (OpenCV's: integer coordinates are pixel centres). Both
# directions are written in closed form (no numerical inversion), so each caller gets
# exactly the numbers it always had.


def _crop_origin(out_size: tuple[int, int], pixel_centres: bool) -> np.ndarray:
    out_h, out_w = out_size
    if pixel_centres:
        return np.array([(out_w - 1) / 2, (out_h - 1) / 2])
    return np.array([out_w / 2, out_h / 2])


def crop_to_image_affine(center, size, rotation: float, out_size: tuple[int, int],
                         pixel_centres: bool = True) -> np.ndarray:
    """The ``(2, 3)`` affine image <- crop of a crop centred on ``center`` (image pixels).

    ``size`` is (w, h) in image pixels (a scalar: a square), ``rotation`` in radians
    (the crop's x axis points along ``(cos, sin)`` in the image), ``out_size`` (H, W).
    ``image = center + R(rotation) @ diag(w / W, h / H) @ (crop - origin)``.
    """
    out_h, out_w = out_size
    sw, sh = (float(size), float(size)) if np.ndim(size) == 0 else (float(size[0]), float(size[1]))
    c, s = math.cos(rotation), math.sin(rotation)
    kx, ky = sw / out_w, sh / out_h
    a = np.array([[c * kx, -s * ky], [s * kx, c * ky]])
    t = np.array([float(center[0]), float(center[1])]) - a @ _crop_origin(out_size, pixel_centres)
    return np.hstack([a, t[:, None]])


def image_to_crop_affine(center, size, rotation: float, out_size: tuple[int, int],
                         pixel_centres: bool = True, flip: bool = False) -> np.ndarray:
    """The ``(2, 3)`` affine crop <- image (what ``cv2.warpAffine`` takes): the inverse of
    :func:`crop_to_image_affine` for a crop whose size has the output's aspect ratio
    (one scale for x and y). With ``flip`` the crop is mirrored (x -> W-1-x, or W-x
    without ``pixel_centres``)."""
    out_h, out_w = out_size
    sw = float(size) if np.ndim(size) == 0 else float(size[0])
    k = out_w / sw
    c, s = np.cos(rotation), np.sin(rotation)
    lin = k * np.array([[c, s], [-s, c]])
    m = np.zeros((2, 3), np.float64)
    m[:, :2] = lin
    m[:, 2] = _crop_origin(out_size, pixel_centres) - lin @ np.asarray(center, dtype=np.float64)
    if flip:
        m[0] = -m[0]
        m[0, 2] += out_w - 1 if pixel_centres else out_w
    return m


def box_to_center_size(box, aspect: float, padding: float) -> tuple[np.ndarray, np.ndarray]:
    """Centre ``(2,)`` and size ``(2,)`` (w, h) of ``box`` (x1, y1, x2, y2) widened to
    ``aspect`` = W/H, times ``padding`` (1.25 for top-down crops)."""
    x1, y1, x2, y2 = box
    center = np.array([(x1 + x2) / 2, (y1 + y2) / 2], dtype=np.float64)
    w, h = x2 - x1, y2 - y1
    if w > aspect * h:
        h = w / aspect
    else:
        w = h * aspect
    return center, np.array([w, h], dtype=np.float64) * padding


def warp_crop(image: np.ndarray, image_to_crop: np.ndarray, out_size: tuple[int, int],
              out: np.ndarray | None = None) -> np.ndarray:
    """Cut a crop ``(H, W, C)`` out of ``image`` through a crop <- image affine (bilinear,
    black outside the image); into ``out`` (a preallocated ``(H, W, C)`` array of the
    image's dtype) when given, so a per-frame caller allocates nothing."""
    import cv2

    out_h, out_w = out_size
    return cv2.warpAffine(image, image_to_crop, (out_w, out_h), dst=out, flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
