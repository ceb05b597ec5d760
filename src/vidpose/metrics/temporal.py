"""Temporal smoothness of pose sequences.

Both metrics use the second difference ``x[t+1] - 2 x[t] + x[t-1]`` (acceleration
per frame**2, in the coordinates' unit). A ``valid`` mask ``(T,)`` or ``(T, J)``
marks which entries exist; a second difference counts only where all three of
its frames are valid, so gaps in a track never produce a fake jump.
When no second difference can be formed the metric is 0.0 (nothing measured).
"""

from __future__ import annotations

import numpy as np

from vidpose.errors import InputError
from vidpose.metrics.keypoints import _array


def _mask(valid, shape: tuple[int, int], name: str = "valid") -> np.ndarray:
    if valid is None:
        return np.ones(shape, dtype=bool)
    v = np.asarray(valid).astype(bool)
    if v.shape == shape[:1]:
        v = np.repeat(v[:, None], shape[1], axis=1)
    if v.shape != shape:
        raise InputError(f"{name}: expected shape {shape[:1]} or {shape}, got {v.shape}")
    return v


def _second_diff(x: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, J, D), (T, J) -> second differences (T-2, J, D) and their validity (T-2, J)."""
    acc = x[2:] - 2.0 * x[1:-1] + x[:-2]
    ok = v[2:] & v[1:-1] & v[:-2]
    return acc, ok


def jitter_sum(pred: np.ndarray, valid: np.ndarray | None = None) -> tuple[float, int]:
    """Sum of ||second difference|| and how many were summed (for pooling over tracks)."""
    p = _array(pred, "pred", 3)
    if p.shape[0] < 3:
        return 0.0, 0
    acc, ok = _second_diff(p, _mask(valid, p.shape[:2]))
    return float(np.linalg.norm(acc, axis=-1)[ok].sum()), int(ok.sum())


def jitter(pred: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Mean ||p[t+1] - 2 p[t] + p[t-1]|| of predictions; pred (T, J, D), valid (T,) or (T, J).
    NaN when no three consecutive valid frames exist (nothing measured is not "no jitter")."""
    s, n = jitter_sum(pred, valid)
    return s / n if n else float("nan")


def accel_error_sum(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None = None) -> tuple[float, int]:
    """Sum of ||Δ²pred − Δ²gt|| and how many were summed (for pooling over tracks)."""
    p = _array(pred, "pred", 3)
    g = _array(gt, "gt", 3)
    if p.shape != g.shape:
        raise InputError(f"pred shape {p.shape} does not match gt shape {g.shape}")
    if p.shape[0] < 3:
        return 0.0, 0
    v = _mask(valid, p.shape[:2])
    ap, ok = _second_diff(p, v)
    ag, _ = _second_diff(g, v)
    return float(np.linalg.norm(ap - ag, axis=-1)[ok].sum()), int(ok.sum())


def accel_error(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Acceleration error: mean ||Δ²pred − Δ²gt||; pred, gt (T, J, D), valid (T,) or (T, J).
    NaN when no three consecutive valid frames exist (nothing measured is not a perfect score)."""
    s, n = accel_error_sum(pred, gt, valid)
    return s / n if n else float("nan")
