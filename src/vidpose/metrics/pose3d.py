"""3D pose errors in the style of VideoPose3D and MPI-INF-3DHP.

Inputs are ``(N, J, 3)`` arrays (N poses of J joints) in one unit, usually
millimetres; every error comes back in that unit. Alignment (root, Procrustes,
scale) is done per pose, i.e. per frame.
"""

from __future__ import annotations

import numpy as np

from vidpose.errors import InputError
from vidpose.metrics.keypoints import _array

# MPI-INF-3DHP: 3DPCK counts a joint correct below 150 mm; AUC averages 3DPCK over
# the thresholds 0, 5, ..., 150 mm (31 values).
PCK3D_THRESHOLD_MM = 150.0
AUC_THRESHOLDS_MM = np.linspace(0.0, 150.0, 31)


def _pair(pred, gt) -> tuple[np.ndarray, np.ndarray]:
    p = _array(pred, "pred", 3, (3,))
    g = _array(gt, "gt", 3, (3,))
    if p.shape != g.shape:
        raise InputError(f"pred shape {p.shape} does not match gt shape {g.shape}")
    if p.shape[0] == 0 or p.shape[1] == 0:  # an error of nothing is undefined, not a perfect 0 mm
        raise InputError(f"pred and gt hold no poses to score (shape {p.shape})")
    return p, g


def root_align(poses: np.ndarray, root: int = 0) -> np.ndarray:
    """Subtract joint ``root`` from every joint: (..., J, 3) -> root-relative (..., J, 3)."""
    x = np.asarray(poses, dtype=np.float64)
    if x.ndim < 2 or not (0 <= root < x.shape[-2]):
        raise InputError(f"root_align: root joint {root} out of range for shape {x.shape}")
    return x - x[..., root:root + 1, :]


def joint_errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Euclidean error per joint, (N, J, 3) x2 -> (N, J)."""
    p, g = _pair(pred, gt)
    return np.linalg.norm(p - g, axis=-1)


def mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean Per-Joint Position Error: mean over poses and joints of ||pred - gt||."""
    return float(joint_errors(pred, gt).mean())


def procrustes_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Align each pred pose to its gt by the similarity transform (rotation, uniform scale,
    translation) minimising squared error; reflections are excluded. (N, J, 3) -> (N, J, 3)."""
    p, g = _pair(pred, gt)
    mu_p = p.mean(1, keepdims=True)
    mu_g = g.mean(1, keepdims=True)
    p0 = p - mu_p
    g0 = g - mu_g
    # Maximise trace(R^T H) with H = p0^T g0 (per pose, 3x3): R = U V^T from H = U S V^T.
    h = np.einsum("nji,njk->nik", p0, g0)
    u, s, vt = np.linalg.svd(h)
    # A negative determinant would make R a reflection: flip the weakest axis instead.
    d = np.sign(np.linalg.det(u @ vt))
    d = np.where(d == 0, 1.0, d)
    u = u.copy()
    u[:, :, -1] *= d[:, None]
    s = s.copy()
    s[:, -1] *= d
    r = u @ vt  # p0 @ r ~ g0
    norm_p = (p0 ** 2).sum((1, 2))
    # A pose collapsed onto a point has no defined rotation or scale: map it onto the gt centroid.
    scale = np.where(norm_p > 0, s.sum(1) / np.where(norm_p > 0, norm_p, 1.0), 0.0)
    return scale[:, None, None] * (p0 @ r) + mu_g


def p_mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    """MPJPE after per-pose Procrustes alignment (Protocol #2)."""
    p, g = _pair(pred, gt)
    return mpjpe(procrustes_align(p, g), g)


def n_mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    """MPJPE after per-pose optimal scaling s* = <pred, gt> / <pred, pred> (Rhodin et al.).

    Applied to the poses as given: root-align first (:func:`root_align`) for the usual protocol.
    """
    p, g = _pair(pred, gt)
    pp = (p * p).sum((1, 2))
    pg = (p * g).sum((1, 2))
    s = np.where(pp > 0, pg / np.where(pp > 0, pp, 1.0), 0.0)
    return mpjpe(s[:, None, None] * p, g)


def mpjve(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean Per-Joint Velocity Error: mean ||(p[t+1]-p[t]) - (g[t+1]-g[t])|| over t, joints.

    Poses must be consecutive frames of one sequence; fewer than 2 frames -> InputError.
    """
    p, g = _pair(pred, gt)
    if p.shape[0] < 2:
        raise InputError(f"mpjve: needs at least 2 consecutive frames, got {p.shape[0]}")
    return float(np.linalg.norm(np.diff(p, axis=0) - np.diff(g, axis=0), axis=-1).mean())


def _warn_if_metres(gt: np.ndarray) -> None:
    # Thresholds are millimetres; a body in metres spans ~2 units and would score 100%.
    g = np.asarray(gt, dtype=np.float64)
    span = np.ptp(g.reshape(-1, g.shape[-1]), axis=0).max() if g.size else 0.0
    if 0 < span < 10:
        import warnings

        warnings.warn("3D ground truth spans less than 10 units: it looks like metres, but 3DPCK/AUC "
                      "thresholds are millimetres (multiply by 1000)", stacklevel=3)


def pck3d(pred: np.ndarray, gt: np.ndarray, threshold: float = PCK3D_THRESHOLD_MM) -> float:
    """3DPCK: fraction of joints with error strictly below ``threshold`` (150 mm)."""
    _warn_if_metres(gt)
    return float((joint_errors(pred, gt) < threshold).mean())


def auc(pred: np.ndarray, gt: np.ndarray, thresholds: np.ndarray = AUC_THRESHOLDS_MM) -> float:
    """Area under the 3DPCK curve: mean 3DPCK over ``thresholds`` (0..150 mm, 31 steps)."""
    _warn_if_metres(gt)
    e = joint_errors(pred, gt)
    t = np.asarray(thresholds, dtype=np.float64)
    return float(np.mean([(e < x).mean() for x in t]))
