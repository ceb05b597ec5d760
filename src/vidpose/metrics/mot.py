"""Multi-person tracking and video pose metrics.

* :func:`mot_metrics` — CLEAR-MOT (MOTA, ID switches, precision, recall) and IDF1
  through motmetrics' ``MOTAccumulator``; the distance is ``1 - IoU`` of boxes or
  ``1 - OKS`` of keypoints, and pairs farther than ``max_distance`` (0.5) cannot match.
* :func:`posetrack_map` — PoseTrack-style per-joint AP with PCKh matching.
* :func:`weighted_oks_ap` — ``w_AP``: COCO OKS AP where each ground-truth person
  carries a weight (for HIE: its occlusion / crowd level). With all weights 1 it
  equals pycocotools' keypoint AP (area range "all", 20 detections per image).

Every function takes per-frame :class:`TrackedFrame`, ground truth and predictions
aligned frame by frame (same list length).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidpose.errors import InputError
from vidpose.metrics.keypoints import _array, head_size, iou_matrix, oks_matrix


@dataclass
class TrackedFrame:
    """The people of one frame, as the tracking metrics see them (ground truth or predictions).

    track_ids (K,) ints; boxes (K, 4) x1, y1, x2, y2; keypoints (K, J, 3): ground truth
    x, y, visibility 0/1/2, predictions x, y, per-joint score; areas (K,) ground-truth
    areas (pixels**2, for OKS); scores (K,) person scores (predictions, for AP);
    weights (K,) ground-truth weights (w_AP); head_boxes (K, 4) ground truth (PCKh).
    """

    track_ids: np.ndarray
    boxes: np.ndarray | None = None
    keypoints: np.ndarray | None = None
    areas: np.ndarray | None = None
    scores: np.ndarray | None = None
    weights: np.ndarray | None = None
    head_boxes: np.ndarray | None = None

    def __len__(self) -> int:
        return int(np.asarray(self.track_ids).shape[0])


def _field(frame: TrackedFrame, name: str, where: str, ndim: int, last: tuple[int, ...] | None = None):
    x = getattr(frame, name)
    k = len(frame)
    if x is None:
        raise InputError(f"{where}: field {name!r} is required here")
    a = np.asarray(x, dtype=np.float64)
    if k == 0 and a.size == 0:
        return a.reshape((0,) + a.shape[1:]) if a.ndim == ndim else np.zeros((0,) * ndim)
    a = _array(a, f"{where}.{name}", ndim, last)
    if a.shape[0] != k:
        raise InputError(f"{where}.{name}: {a.shape[0]} rows for {k} people")
    return a


def _check_aligned(gt: list, pred: list) -> None:
    if len(gt) != len(pred):
        raise InputError(f"pred: {len(pred)} frames but gt has {len(gt)}; frames must be aligned")


def _distance(g: TrackedFrame, p: TrackedFrame, t: int, distance: str, sigmas) -> np.ndarray:
    """(K_gt, K_pred) distances; NaN marks pairs that may not match (set by caller)."""
    if distance == "iou":
        gb = _field(g, "boxes", f"gt[{t}]", 2, (4,))
        pb = _field(p, "boxes", f"pred[{t}]", 2, (4,))
        return 1.0 - iou_matrix(gb, pb)
    if distance == "oks":
        if sigmas is None:
            raise InputError("sigmas: required for distance='oks'")
        gk = _field(g, "keypoints", f"gt[{t}]", 3, (3,))
        ga = _field(g, "areas", f"gt[{t}]", 1)
        pk = _field(p, "keypoints", f"pred[{t}]", 3, (2, 3))
        if len(g) == 0 or len(p) == 0:
            return np.zeros((len(g), len(p)))
        return 1.0 - oks_matrix(pk, gk, ga, sigmas).T
    raise InputError(f"distance: expected 'iou' or 'oks', got {distance!r}")


def _ids(frame: TrackedFrame, where: str) -> list:
    ids = np.asarray(frame.track_ids)
    if ids.ndim != 1:
        raise InputError(f"{where}.track_ids: expected shape (K,), got {ids.shape}")
    if len(set(ids.tolist())) != ids.shape[0]:
        raise InputError(f"{where}.track_ids: duplicate track id in one frame")
    return ids.tolist()


def mot_metrics(gt: list[TrackedFrame], pred: list[TrackedFrame], distance: str = "iou",
                max_distance: float = 0.5, sigmas=None) -> dict:
    """MOTA, IDF1, ID switches, precision and recall via motmetrics.

    distance: ``"iou"`` (boxes) or ``"oks"`` (keypoints, needs gt areas and ``sigmas``).
    Ratios that are undefined (no ground truth / no prediction) are reported as 0.0.
    """
    import motmetrics as mm

    _check_aligned(gt, pred)
    acc = mm.MOTAccumulator(auto_id=True)
    for t, (g, p) in enumerate(zip(gt, pred)):
        gids, pids = _ids(g, f"gt[{t}]"), _ids(p, f"pred[{t}]")
        d = _distance(g, p, t, distance, sigmas)
        d = np.where(d <= max_distance, d, np.nan)
        acc.update(gids, pids, d)
    names = ["mota", "idf1", "num_switches", "precision", "recall", "num_objects",
             "num_predictions", "num_matches", "num_false_positives", "num_misses"]
    summary = mm.metrics.create().compute(acc, metrics=names, name="all")
    row = summary.loc["all"]
    out = {}
    for n in names:
        v = float(row[n])
        out[n] = 0.0 if not np.isfinite(v) else v
    out["idsw"] = int(out.pop("num_switches"))
    for n in ("num_objects", "num_predictions", "num_matches", "num_false_positives", "num_misses"):
        out[n] = int(out[n])
    return out


# --- AP helpers -----------------------------------------------------------------------------

def voc_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """All-point interpolated AP (PASCAL VOC 2010+, as in PoseTrack's evaluation):
    the area under the monotone (right-to-left max) precision envelope."""
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(((mrec[i] - mrec[i - 1]) * mpre[i]).sum())


def posetrack_map(gt: list[TrackedFrame], pred: list[TrackedFrame], threshold: float = 0.5) -> dict:
    """PoseTrack-style multi-person pose mAP.

    Per frame, a predicted joint *hits* a labelled GT joint when its distance is at most
    ``threshold`` x head size (0.6 x head-box diagonal). Each (pred, GT) pair scores the
    fraction of the GT's labelled joints hit (PCKh); people are paired one-to-one by the
    Hungarian algorithm maximising that score, keeping pairs with score > 0. Each predicted
    joint is then a detection with its own score: a true positive when its pair hits that
    joint, a false positive otherwise (unpaired people, misses, joints unlabelled in the GT).
    AP per joint is the all-point VOC AP over all frames; ``mAP`` is the mean over joints
    that have at least one labelled GT instance.
    Returns {"mAP", "per_joint" (J,) with NaN for joints never labelled, "num_gt" (J,)}.
    """
    from scipy.optimize import linear_sum_assignment

    _check_aligned(gt, pred)
    scores: list[np.ndarray] = []
    hits: list[np.ndarray] = []
    num_joints = None
    num_gt = None
    for t, (g, p) in enumerate(zip(gt, pred)):
        gk = _field(g, "keypoints", f"gt[{t}]", 3, (3,))
        pk = _field(p, "keypoints", f"pred[{t}]", 3, (3,))
        for arr, w in ((gk, "gt"), (pk, "pred")):
            if arr.shape[0]:
                if num_joints is None:
                    num_joints = arr.shape[1]
                elif arr.shape[1] != num_joints:
                    raise InputError(f"{w}[{t}].keypoints: {arr.shape[1]} joints, expected {num_joints}")
        if num_joints is None:
            continue
        if num_gt is None:
            num_gt = np.zeros(num_joints, dtype=np.int64)
        labelled = gk[:, :, 2] > 0 if gk.shape[0] else np.zeros((0, num_joints), bool)
        num_gt += labelled.sum(0)
        hit = np.zeros((pk.shape[0], num_joints), dtype=bool)
        if gk.shape[0] and pk.shape[0]:
            hb = _field(g, "head_boxes", f"gt[{t}]", 2, (4,))
            hs = head_size(hb)
            if np.any(hs[labelled.any(1)] <= 0):
                raise InputError(f"gt[{t}].head_boxes: a labelled person has an empty head box")
            d = np.linalg.norm(pk[:, None, :, :2] - gk[None, :, :, :2], axis=-1)  # (P, G, J)
            joint_hit = (d <= threshold * np.where(hs > 0, hs, 1.0)[None, :, None]) & labelled[None]
            n_lab = labelled.sum(1)
            pckh = np.where(n_lab > 0, joint_hit.sum(-1) / np.maximum(n_lab, 1), 0.0)  # (P, G)
            rows, cols = linear_sum_assignment(-pckh)
            for r, c in zip(rows, cols):
                if pckh[r, c] > 0:
                    hit[r] = joint_hit[r, c]
        scores.append(pk[:, :, 2])
        hits.append(hit)
    if num_joints is None or num_gt is None:
        return {"mAP": 0.0, "per_joint": np.zeros(0), "num_gt": np.zeros(0, dtype=np.int64)}
    s = np.concatenate(scores, 0) if scores else np.zeros((0, num_joints))
    h = np.concatenate(hits, 0) if hits else np.zeros((0, num_joints), bool)
    per_joint = np.full(num_joints, np.nan)
    for j in range(num_joints):
        if num_gt[j] == 0:
            continue
        order = np.argsort(-s[:, j], kind="mergesort")
        tp = np.cumsum(h[order, j])
        fp = np.cumsum(~h[order, j])
        rec = tp / num_gt[j]
        prec = tp / np.maximum(tp + fp, 1)
        per_joint[j] = voc_ap(rec, prec) if order.size else 0.0
    valid = ~np.isnan(per_joint)
    m = float(per_joint[valid].mean()) if valid.any() else 0.0
    return {"mAP": m, "per_joint": per_joint, "num_gt": num_gt}


# COCO evaluation constants, as in pycocotools' keypoint parameters.
OKS_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)


def occlusion_weights(occlusion: np.ndarray, gain: float = 1.0) -> np.ndarray:
    """Default w_AP weights: w = 1 + gain * occlusion, occlusion in [0, 1] (fraction hidden)."""
    o = _array(occlusion, "occlusion", 1)
    if np.any(o < 0) or np.any(o > 1):
        raise InputError("occlusion: values must lie in [0, 1]")
    return 1.0 + gain * o


def _box_oks(pred: np.ndarray, box: np.ndarray, area: float, sigmas) -> np.ndarray:
    """pycocotools' OKS against a GT with no labelled joint: pred (D, J, 2|3), box x1, y1, x2, y2."""
    var = (2.0 * np.asarray(sigmas, dtype=np.float64)) ** 2
    w, h = box[2] - box[0], box[3] - box[1]
    x0, x1, y0, y1 = box[0] - w, box[0] + 2 * w, box[1] - h, box[1] + 2 * h
    xd, yd = pred[:, :, 0], pred[:, :, 1]
    dx = np.maximum(0, x0 - xd) + np.maximum(0, xd - x1)
    dy = np.maximum(0, y0 - yd) + np.maximum(0, yd - y1)
    e = (dx ** 2 + dy ** 2) / var / (area + np.spacing(1)) / 2
    return np.exp(-e).mean(1)


def weighted_oks_ap(gt: list[TrackedFrame], pred: list[TrackedFrame], sigmas, fp_weight: float = 1.0,
                    max_dets: int = 20) -> dict:
    """w_AP: COCO OKS AP in which every GT person counts with its weight.

    Matching is exactly COCOeval's (per frame, detections by descending score, each
    takes the unmatched GT with the highest OKS >= threshold; GT with no labelled joint
    are ignored and detections matched to them discarded). Accumulation is weighted:
    a true positive adds its GT's weight, a false positive adds ``fp_weight``; recall =
    Σ TP weight / Σ GT weight, precision = Σ TP weight / (Σ TP weight + Σ FP weight).
    Precision is interpolated at 101 recall points and averaged over OKS 0.50:0.05:0.95.
    ``gt[t].weights`` defaults to 1 (then w_AP equals COCO AP).
    Returns {"w_AP", "w_AP50", "w_AP75"}.
    """
    _check_aligned(gt, pred)
    if not np.isfinite(fp_weight) or fp_weight < 0:
        raise InputError(f"fp_weight: must be a finite non-negative number, got {fp_weight}")
    T = len(OKS_THRESHOLDS)
    det_scores, det_w, det_ign = [], [], []  # per frame: (D,), (T, D) weights if TP else -1, (T, D)
    total_w = 0.0
    for t, (g, p) in enumerate(zip(gt, pred)):
        gk = _field(g, "keypoints", f"gt[{t}]", 3, (3,))
        ga = _field(g, "areas", f"gt[{t}]", 1)
        gw = np.ones(len(g)) if g.weights is None else _field(g, "weights", f"gt[{t}]", 1)
        if np.any(gw < 0):
            raise InputError(f"gt[{t}].weights: must be non-negative")
        pk = _field(p, "keypoints", f"pred[{t}]", 3, (2, 3))
        ps = _field(p, "scores", f"pred[{t}]", 1)
        ignore = (gk[:, :, 2] > 0).sum(1) == 0 if len(g) else np.zeros(0, bool)
        total_w += float(gw[~ignore].sum())
        # COCOeval: detections by descending score (stable), at most max_dets; GT ignored last.
        dorder = np.argsort(-ps, kind="mergesort")[:max_dets]
        gorder = np.argsort(ignore.astype(int), kind="mergesort")
        D, G = dorder.size, gorder.size
        if D == 0:
            continue
        ious = oks_matrix(pk[dorder], gk[gorder], ga[gorder], sigmas) if G else np.zeros((D, 0))
        if G and ignore.any() and g.boxes is not None:
            # pycocotools scores a GT without labelled joints by the distance to its box
            # (grown by one box size each side); a detection matched to it is then ignored.
            gb = _field(g, "boxes", f"gt[{t}]", 2, (4,))[gorder]
            for gi in np.flatnonzero(ignore[gorder]):
                ious[:, gi] = _box_oks(pk[dorder], gb[gi], ga[gorder][gi], sigmas)
        gig = ignore[gorder]
        gwt = gw[gorder]
        tpw = np.full((T, D), -1.0)  # -1: false positive
        dig = np.zeros((T, D), dtype=bool)
        for ti, thr in enumerate(OKS_THRESHOLDS):
            gtm = np.zeros(G, dtype=bool)
            for di in range(D):
                best = min(thr, 1 - 1e-10)
                m = -1
                for gi in range(G):
                    if gtm[gi]:
                        continue
                    if m > -1 and not gig[m] and gig[gi]:
                        break
                    if ious[di, gi] < best:
                        continue
                    best = ious[di, gi]
                    m = gi
                if m == -1:
                    continue
                gtm[m] = True
                dig[ti, di] = gig[m]
                tpw[ti, di] = gwt[m]
        det_scores.append(ps[dorder])
        det_w.append(tpw)
        det_ign.append(dig)
    out = {"w_AP": 0.0, "w_AP50": 0.0, "w_AP75": 0.0}
    if total_w <= 0 or not det_scores:
        return out
    s = np.concatenate(det_scores)
    order = np.argsort(-s, kind="mergesort")
    w = np.concatenate(det_w, 1)[:, order]
    ig = np.concatenate(det_ign, 1)[:, order]
    prec_at = np.zeros((T, RECALL_POINTS.size))
    for ti in range(T):
        tp = np.where((w[ti] >= 0) & ~ig[ti], w[ti], 0.0)
        fp = np.where((w[ti] < 0) & ~ig[ti], fp_weight, 0.0)
        tp_c, fp_c = np.cumsum(tp), np.cumsum(fp)
        rc = tp_c / total_w
        # Float sums of weights in another order can fall an ulp short of the total: all GT
        # weight recovered is recall 1 (with unit weights the sums are exact integers anyway).
        rc[tp_c >= total_w * (1 - 1e-12)] = 1.0
        pr = tp_c / (tp_c + fp_c + np.spacing(1))
        pr = np.maximum.accumulate(pr[::-1])[::-1]
        idx = np.searchsorted(rc, RECALL_POINTS, side="left")
        q = np.zeros(RECALL_POINTS.size)
        ok = idx < pr.size
        q[ok] = pr[idx[ok]]
        prec_at[ti] = q
    out["w_AP"] = float(prec_at.mean())
    out["w_AP50"] = float(prec_at[0].mean())
    out["w_AP75"] = float(prec_at[5].mean())
    return out
