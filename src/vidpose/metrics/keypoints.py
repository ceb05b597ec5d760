"""2D keypoint similarity and accuracy: OKS, IoU, PCK / PCKh.

All functions take plain numpy arrays and validate them; bad input raises
:class:`vidpose.errors.InputError` naming the argument and the fault.

OKS follows pycocotools' ``COCOeval.computeOks`` exactly::

    k = 2 * sigma                      # per-keypoint constant
    e = d**2 / k**2 / (area + eps) / 2 # eps = np.spacing(1)
    OKS = sum(exp(-e) * [v > 0]) / sum([v > 0])

with ``d`` the pixel distance between predicted and ground-truth keypoint and
``area`` the ground-truth object area (s**2). A ground truth with no labelled
keypoint gets OKS 0 here (pycocotools measures a box distance instead, but
such instances are ignored by COCO's evaluation anyway).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidpose.errors import InputError
from vidpose.io.jsonfile import MAX_ABS  # noqa: F401 - its home is io.jsonfile; still importable from here

# COCO keypoint sigmas in COCO-17 order (Ruggero Ronchi & Perona, as used by
# pycocotools): nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles.
COCO_SIGMAS = np.array(
    [0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
     0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089],
    dtype=np.float64,
)

# Per-joint sigma by joint *name*; names that also exist in COCO take COCO's value.
_COCO_BY_NAME = {
    "nose": 0.026, "left_eye": 0.025, "right_eye": 0.025, "left_ear": 0.035, "right_ear": 0.035,
    "left_shoulder": 0.079, "right_shoulder": 0.079, "left_elbow": 0.072, "right_elbow": 0.072,
    "left_wrist": 0.062, "right_wrist": 0.062, "left_hip": 0.107, "right_hip": 0.107,
    "left_knee": 0.087, "right_knee": 0.087, "left_ankle": 0.089, "right_ankle": 0.089,
}

# Documented choices for joints COCO has no sigma for (see docs/metrics.md):
_EXTRA_BY_NAME = {
    # HIE-14: the chest is the shoulder midpoint; we give it the shoulder sigma.
    "chest": 0.079,
    # H36M-17: pelvis/spine sit on the hip line/torso -> hip sigma; thorax is the
    # shoulder midpoint -> shoulder sigma; neck_nose is the nose; head is the
    # ear midpoint -> ear sigma.
    "pelvis": 0.107, "spine": 0.107, "thorax": 0.079, "neck_nose": 0.026, "head": 0.035,
    # BlazePose-33: extra eye corners take the eye sigma, mouth corners the nose
    # sigma, hand points the wrist sigma, heel/foot points the ankle sigma.
    "left_eye_inner": 0.025, "left_eye_outer": 0.025,
    "right_eye_inner": 0.025, "right_eye_outer": 0.025,
    "mouth_left": 0.026, "mouth_right": 0.026,
    "left_pinky": 0.062, "right_pinky": 0.062, "left_index": 0.062, "right_index": 0.062,
    "left_thumb": 0.062, "right_thumb": 0.062,
    "left_heel": 0.089, "right_heel": 0.089, "left_foot_index": 0.089, "right_foot_index": 0.089,
}


def sigmas_for(skeleton_name: str) -> np.ndarray:
    """Per-keypoint OKS sigmas ``(J,)`` for a vidpose skeleton (coco17, hie14, h36m17, blazepose33)."""
    from vidpose.skeletons import get_skeleton

    try:
        sk = get_skeleton(skeleton_name)
    except ValueError as e:
        raise InputError(f"sigmas_for: {e}") from None
    table = {**_COCO_BY_NAME, **_EXTRA_BY_NAME}
    missing = [n for n in sk.keypoints if n not in table]
    if missing:
        raise InputError(f"sigmas_for: skeleton {sk.name} has no OKS sigmas for {', '.join(missing)} (a 3D layout)")
    return np.array([table[n] for n in sk.keypoints], dtype=np.float64)


# --- validation helpers ---------------------------------------------------------------------

def _finite(a: np.ndarray, name: str) -> np.ndarray:
    if not np.all(np.isfinite(a)):
        bad = np.argwhere(~np.isfinite(a))[0].tolist()
        raise InputError(f"{name}: contains NaN or inf (first at index {bad})")
    return a


def _array(x, name: str, ndim: int, last: tuple[int, ...] | None = None) -> np.ndarray:
    if np.asarray(x).dtype == bool:  # true/false are not coordinates
        raise InputError(f"{name}: not a numeric array (booleans)")
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InputError(f"{name}: not a numeric array ({e})") from None
    if a.ndim != ndim:
        raise InputError(f"{name}: expected {ndim} dimensions, got shape {a.shape}")
    if last is not None and a.shape[-1] not in last:
        raise InputError(f"{name}: last dimension must be one of {last}, got shape {a.shape}")
    return _finite(a, name)


def _sigmas(sigmas, num_joints: int) -> np.ndarray:
    s = _array(sigmas, "sigmas", 1)
    if s.shape[0] != num_joints:
        raise InputError(f"sigmas: {s.shape[0]} values for {num_joints} keypoints")
    if np.any(s <= 0):
        raise InputError("sigmas: every sigma must be positive")
    return s


# --- OKS / IoU ------------------------------------------------------------------------------

def oks_matrix(pred: np.ndarray, gt: np.ndarray, areas: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """OKS between every prediction and every ground truth.

    pred (N, J, 2|3) pixels (a third column, a score, is ignored);
    gt (M, J, 3) pixels + COCO visibility (0 unlabelled, 1 occluded, 2 visible);
    areas (M,) ground-truth areas in pixels**2; sigmas (J,). Returns (N, M).
    """
    p = np.asarray(pred, dtype=np.float64)
    g = np.asarray(gt, dtype=np.float64)
    # Allow empty sets with any trailing shape: zero predictions or zero GT is valid.
    if p.ndim == 3 and g.ndim == 3 and (p.shape[0] == 0 or g.shape[0] == 0):
        return np.zeros((p.shape[0], g.shape[0]), dtype=np.float64)
    p = _array(p, "pred", 3, (2, 3))
    g = _array(g, "gt", 3, (3,))
    if p.shape[1] != g.shape[1]:
        raise InputError(f"pred has {p.shape[1]} keypoints but gt has {g.shape[1]}")
    a = _array(areas, "areas", 1)
    if a.shape[0] != g.shape[0]:
        raise InputError(f"areas: {a.shape[0]} values for {g.shape[0]} ground truths")
    if np.any(a < 0):
        raise InputError("areas: must be non-negative")
    s = _sigmas(sigmas, g.shape[1])
    var = (2.0 * s) ** 2  # (J,)
    labelled = g[:, :, 2] > 0  # (M, J)
    d2 = ((p[:, None, :, :2] - g[None, :, :, :2]) ** 2).sum(-1)  # (N, M, J)
    e = d2 / var / (a[None, :, None] + np.spacing(1)) / 2.0
    k = labelled.sum(1)  # (M,)
    num = (np.exp(-e) * labelled[None]).sum(-1)
    out = np.where(k[None] > 0, num / np.maximum(k[None], 1), 0.0)
    return out


def oks(pred: np.ndarray, gt: np.ndarray, area: float, sigmas: np.ndarray) -> float:
    """OKS of one prediction (J, 2|3) against one ground truth (J, 3) of ``area`` pixels**2."""
    p = _array(pred, "pred", 2, (2, 3))
    g = _array(gt, "gt", 2, (3,))
    return float(oks_matrix(p[None], g[None], np.array([float(area)]), sigmas)[0, 0])


def iou_matrix(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """IoU of boxes (N, 4) against boxes (M, 4), both x1, y1, x2, y2. Returns (N, M)."""
    a = np.asarray(boxes_a, dtype=np.float64)
    b = np.asarray(boxes_b, dtype=np.float64)
    if a.ndim == 2 and b.ndim == 2 and (a.shape[0] == 0 or b.shape[0] == 0):
        return np.zeros((a.shape[0], b.shape[0]), dtype=np.float64)
    a = _array(a, "boxes_a", 2, (4,))
    b = _array(b, "boxes_b", 2, (4,))
    for name, x in (("boxes_a", a), ("boxes_b", b)):
        if np.any(x[:, 2] < x[:, 0]) or np.any(x[:, 3] < x[:, 1]):
            raise InputError(f"{name}: x2 < x1 or y2 < y1 (boxes must be x1, y1, x2, y2)")
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    # Two degenerate (zero-area) boxes have no overlap to speak of: IoU 0, not NaN.
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


# --- PCK ------------------------------------------------------------------------------------

@dataclass
class PCKResult:
    """PCK scores: ``per_joint`` (J,) fraction correct (NaN for a joint never visible),
    ``mean`` over all visible joints pooled, ``counts`` (J,) visible joints per joint."""

    per_joint: np.ndarray
    mean: float
    counts: np.ndarray


def _pck_inputs(pred, gt, visible):
    p = _array(pred, "pred", 3, (2, 3))[..., :2]
    g = _array(gt, "gt", 3, (2, 3))[..., :2]
    if p.shape != g.shape:
        raise InputError(f"pred shape {p.shape[:2]} does not match gt shape {g.shape[:2]}")
    v = np.asarray(visible)
    if v.shape != p.shape[:2]:
        raise InputError(f"visible: expected shape {p.shape[:2]}, got {v.shape}")
    return p, g, v.astype(bool)


def pck(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, norm: np.ndarray, alpha: float) -> PCKResult:
    """Percentage of Correct Keypoints: correct when ``||pred - gt|| <= alpha * norm``.

    pred, gt (N, J, 2) pixels; visible (N, J) bool (only visible joints count);
    norm (N,) per-frame normaliser (see :func:`bbox_max_norm`, :func:`torso_norm`).
    """
    p, g, v = _pck_inputs(pred, gt, visible)
    n = np.asarray(norm, dtype=np.float64)
    if n.shape != (p.shape[0],):
        raise InputError(f"norm: expected shape ({p.shape[0]},), got {n.shape}")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.number)) or not np.isfinite(alpha) or alpha <= 0:
        raise InputError(f"alpha: must be a positive number, got {alpha!r}")
    used = v.any(1)
    bad = used & ~(np.isfinite(n) & (n > 0))
    if bad.any():
        raise InputError(
            f"norm: frame(s) {np.flatnonzero(bad)[:10].tolist()} have visible joints but a "
            "non-positive or non-finite normaliser"
        )
    dist = np.linalg.norm(p - g, axis=-1)
    thr = alpha * np.where(used, n, 1.0)
    correct = (dist <= thr[:, None]) & v
    counts = v.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_joint = np.where(counts > 0, correct.sum(0) / np.maximum(counts, 1), np.nan)
    total = int(counts.sum())
    mean = float(correct.sum() / total) if total else 0.0
    return PCKResult(per_joint=per_joint, mean=mean, counts=counts)


def bbox_max_norm(gt: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """max(width, height) of the tight box around each frame's visible GT joints (Penn Action,
    JHMDB). gt (N, J, 2|3), visible (N, J) -> (N,); 0 for a frame with no visible joint."""
    g = _array(gt, "gt", 3, (2, 3))[..., :2]
    v = np.asarray(visible).astype(bool)
    if v.shape != g.shape[:2]:
        raise InputError(f"visible: expected shape {g.shape[:2]}, got {v.shape}")
    lo = np.where(v[..., None], g, np.inf).min(1)
    hi = np.where(v[..., None], g, -np.inf).max(1)
    size = (hi - lo).max(-1)
    return np.where(v.any(1), size, 0.0)


# Torso diameter (FLIC / LSP convention): distance from the left shoulder to the right hip.
_TORSO = ("left_shoulder", "right_hip")


def torso_norm(gt: np.ndarray, visible: np.ndarray, skeleton: str = "coco17") -> np.ndarray:
    """Torso size per frame: ||left_shoulder - right_hip|| (FLIC / LSP PCK). gt (N, J, 2|3),
    visible (N, J) -> (N,); NaN where either joint is not visible."""
    from vidpose.skeletons import get_skeleton

    g = _array(gt, "gt", 3, (2, 3))[..., :2]
    v = np.asarray(visible).astype(bool)
    if v.shape != g.shape[:2]:
        raise InputError(f"visible: expected shape {g.shape[:2]}, got {v.shape}")
    try:
        sk = get_skeleton(skeleton)
    except ValueError as e:
        raise InputError(f"torso_norm: {e}") from None
    if g.shape[1] != sk.num_keypoints:
        raise InputError(f"gt: {g.shape[1]} keypoints but skeleton {sk.name} has {sk.num_keypoints}")
    if not all(n in sk.keypoints for n in _TORSO):
        raise InputError(f"torso_norm: skeleton {sk.name} has no {' or '.join(_TORSO)}")
    a, b = sk.index(_TORSO[0]), sk.index(_TORSO[1])
    d = np.linalg.norm(g[:, a] - g[:, b], axis=-1)
    return np.where(v[:, a] & v[:, b], d, np.nan)


def pckh(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, head_boxes: np.ndarray,
         alpha: float = 0.5) -> PCKResult:
    """MPII PCKh: normaliser L = 0.6 * head-box diagonal. head_boxes (N, 4) x1, y1, x2, y2."""
    hb = _array(head_boxes, "head_boxes", 2, (4,))
    return pck(pred, gt, visible, head_size(hb), alpha)


def head_size(head_boxes: np.ndarray) -> np.ndarray:
    """MPII head size: 0.6 * ||(x2, y2) - (x1, y1)||. head_boxes (N, 4) -> (N,)."""
    hb = _array(head_boxes, "head_boxes", 2, (4,))
    return 0.6 * np.linalg.norm(hb[:, 2:4] - hb[:, 0:2], axis=-1)
