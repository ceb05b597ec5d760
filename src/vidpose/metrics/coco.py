"""COCO keypoint AP through pycocotools' own ``COCOeval(iouType='keypoints')``.

Thin wrapper: it validates the inputs (so a bad file gives an InputError naming the
field, not a pycocotools assertion), silences pycocotools' printing, and allows
custom per-keypoint sigmas (HIE-14, ...) via ``params.kpt_oks_sigmas``.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
from pathlib import Path

import numpy as np

from vidpose.errors import InputError
from vidpose.io.jsonfile import finite_number, read_json
from vidpose.io.jsonfile import short_repr as _short

STAT_NAMES = ("AP", "AP50", "AP75", "APM", "APL", "AR", "AR50", "AR75", "ARM", "ARL")
REPORTED = ("AP", "AP50", "AP75", "APM", "APL", "AR")


def _load_json(x, what: str):
    if isinstance(x, (str, os.PathLike)):
        return read_json(x), str(Path(x))
    return copy.deepcopy(x), what


def _id(x, where: str):
    """An image / annotation / category id: an integer or a string (hashable, as pycocotools needs)."""
    if isinstance(x, bool) or not isinstance(x, (int, str)):
        raise InputError(f"{where}: expected an integer or string id, got {_short(x)}")
    return x


def _num_keypoints_list(kp, where: str, num_joints: int | None, gt: bool = False) -> int:
    if not isinstance(kp, list) or len(kp) % 3 or not kp:
        raise InputError(f"{where}.keypoints: expected a flat list of 3*J numbers")
    vals = [finite_number(v, f"{where}.keypoints[{i}]") for i, v in enumerate(kp)]
    j = len(kp) // 3
    if num_joints is not None and j != num_joints:
        raise InputError(f"{where}.keypoints: {j} keypoints, expected {num_joints}")
    if gt:
        bad = [i for i in range(2, len(vals), 3) if vals[i] not in (0.0, 1.0, 2.0)]
        if bad:
            raise InputError(f"{where}.keypoints[{bad[0]}]: visibility must be 0, 1 or 2, got {vals[bad[0]]:g}")
    return j


def validate_coco_gt(d, name: str = "gt") -> int:
    """Check a COCO keypoints ground-truth dict; return the keypoint count J (0 if no annotation).

    Everything pycocotools reads is checked, so that it neither crashes nor silently
    drops or mis-scores a person: ids, categories, keypoints (visibility 0/1/2),
    ``num_keypoints`` (pycocotools ignores people with 0), ``area``, ``bbox``, ``iscrowd``.
    """
    if not isinstance(d, dict):
        raise InputError(f"{name}: COCO ground truth must be a JSON object")
    for key in ("images", "annotations", "categories"):
        if key not in d:
            raise InputError(f"{name}: missing key {key!r}")
        if not isinstance(d[key], list):
            raise InputError(f"{name}: {key!r} must be a list")
    img_ids = set()
    for i, im in enumerate(d["images"]):
        if not isinstance(im, dict) or "id" not in im:
            raise InputError(f"{name}: images[{i}] has no 'id'")
        iid = _id(im["id"], f"{name}: images[{i}].id")
        if iid in img_ids:
            raise InputError(f"{name}: images[{i}].id: duplicate id {iid!r}")
        img_ids.add(iid)
    cat_ids = set()
    for i, c in enumerate(d["categories"]):
        if not isinstance(c, dict) or "id" not in c:
            raise InputError(f"{name}: categories[{i}] has no 'id'")
        cat_ids.add(_id(c["id"], f"{name}: categories[{i}].id"))
    j = None
    ann_ids = set()
    for i, a in enumerate(d["annotations"]):
        where = f"{name}: annotations[{i}]"
        if not isinstance(a, dict):
            raise InputError(f"{where}: not an object")
        for key in ("id", "image_id", "category_id", "keypoints", "num_keypoints", "area", "bbox"):
            if key not in a:
                raise InputError(f"{where}: missing key {key!r}")
        if _id(a["image_id"], f"{where}.image_id") not in img_ids:
            raise InputError(f"{where}: image_id {a['image_id']!r} not in 'images'")
        if _id(a["category_id"], f"{where}.category_id") not in cat_ids:
            raise InputError(f"{where}.category_id: {a['category_id']!r} is not in 'categories'")
        if _id(a["id"], f"{where}.id") in ann_ids:
            raise InputError(f"{where}: duplicate id {a['id']!r}")
        ann_ids.add(a["id"])
        j = _num_keypoints_list(a["keypoints"], where, j, gt=True)
        labelled = sum(1 for v in a["keypoints"][2::3] if v > 0)
        nk = a["num_keypoints"]
        if isinstance(nk, bool) or not isinstance(nk, int) or nk != labelled:
            raise InputError(f"{where}.num_keypoints: {_short(nk)}, but {labelled} keypoints have visibility > 0 "
                             "(pycocotools ignores a person with num_keypoints 0)")
        finite_number(a["area"], f"{where}.area", lo=0.0)
        box = a["bbox"]
        if not isinstance(box, list) or len(box) != 4:
            raise InputError(f"{where}.bbox: expected [x, y, w, h], got {_short(box)}")
        b = [finite_number(v, f"{where}.bbox[{k}]") for k, v in enumerate(box)]
        if b[2] < 0 or b[3] < 0:
            raise InputError(f"{where}.bbox: negative width or height {b}")
        crowd = a.setdefault("iscrowd", 0)
        if isinstance(crowd, bool) or crowd not in (0, 1):
            raise InputError(f"{where}.iscrowd: expected 0 or 1, got {_short(crowd)}")
    return j or 0


def validate_coco_results(res, name: str, img_ids: set, num_joints: int | None,
                          cat_ids: set | None = None) -> None:
    """Check a COCO keypoint results list against the ground truth's image ids, categories and J."""
    if not isinstance(res, list):
        raise InputError(f"{name}: COCO results must be a JSON list of detections")
    unknown = set()
    for i, r in enumerate(res):
        where = f"{name}: [{i}]"
        if not isinstance(r, dict):
            raise InputError(f"{where}: not an object")
        for key in ("image_id", "category_id", "keypoints", "score"):
            if key not in r:
                raise InputError(f"{where}: missing key {key!r}")
        _num_keypoints_list(r["keypoints"], where, num_joints or None)
        finite_number(r["score"], f"{where}.score")
        if _id(r["image_id"], f"{where}.image_id") not in img_ids:
            unknown.add(r["image_id"])
        if cat_ids is not None and _id(r["category_id"], f"{where}.category_id") not in cat_ids:
            raise InputError(f"{where}.category_id: {r['category_id']!r} is not a ground-truth category")
    if unknown:
        ids = sorted(unknown, key=str)
        raise InputError(
            f"{name}: predictions for image ids not in the ground truth: "
            f"{ids[:20]}{' ...' if len(ids) > 20 else ''}"
        )


def keypoint_coco_dicts(image_ids, gt_image_ids, gt_keypoints, gt_boxes, gt_areas,
                        pred_image_ids, pred_keypoints, pred_scores) -> tuple[dict, list]:
    """A COCO keypoints GT dict and results list from flat arrays.

    gt_keypoints (M, J, 3) with visibility, gt_boxes (M, 4) x1, y1, x2, y2, gt_areas (M,);
    pred_keypoints (N, J, 3), pred_scores (N,); ``*_image_ids`` give each instance's image.
    """
    anns = []
    for i, (img, kp, b, area) in enumerate(zip(gt_image_ids, gt_keypoints, gt_boxes, gt_areas)):
        kp = np.asarray(kp, dtype=np.float64)
        anns.append({
            "id": i + 1, "image_id": int(img), "category_id": 1, "iscrowd": 0,
            "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])],
            "area": float(area), "keypoints": kp.ravel().tolist(), "num_keypoints": int((kp[:, 2] > 0).sum()),
        })
    results = [
        {"image_id": int(img), "category_id": 1, "keypoints": np.asarray(kp, dtype=np.float64).ravel().tolist(),
         "score": float(sc)}
        for img, kp, sc in zip(pred_image_ids, pred_keypoints, pred_scores)
    ]
    gt = {"images": [{"id": int(i)} for i in image_ids], "annotations": anns,
          "categories": [{"id": 1, "name": "person"}]}
    return gt, results


def coco_keypoint_ap(gt_json_path_or_dict, results_json_path_or_list, sigmas=None) -> dict:
    """COCO keypoint AP/AR with pycocotools.

    Returns ``{"AP", "AP50", "AP75", "APM", "APL", "AR"}`` plus ``"stats"`` (all ten
    COCOeval stats). ``sigmas`` (J,) replaces COCO's sigmas.

    Empty input differs from pycocotools (docs/metrics.md): no results, or a ground
    truth without annotations, give 0.0 for every stat, where pycocotools' ``loadRes``
    fails on an empty list and ``COCOeval`` reports -1 for a GT without annotations.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt, gt_name = _load_json(gt_json_path_or_dict, "gt")
    res, res_name = _load_json(results_json_path_or_list, "results")
    j = validate_coco_gt(gt, gt_name)
    img_ids = {im["id"] for im in gt["images"]}
    cat_ids = {c.get("id") for c in gt["categories"] if isinstance(c, dict)}
    validate_coco_results(res, res_name, img_ids, j, cat_ids)
    if sigmas is not None:
        s = np.asarray(sigmas, dtype=np.float64)
        if s.ndim != 1 or (j and s.shape[0] != j) or not np.all(np.isfinite(s)) or np.any(s <= 0):
            raise InputError(f"sigmas: expected {j} positive finite values, got shape {s.shape}")
    elif j and j != 17:
        raise InputError(
            f"{gt_name}: {j} keypoints per person; pass sigmas (CLI: --skeleton NAME) for a non-COCO skeleton"
        )
    zeros = {k: 0.0 for k in REPORTED}
    if not res or not gt["annotations"]:
        return {**zeros, "stats": [0.0] * len(STAT_NAMES)}
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(res)
        ev = COCOeval(coco_gt, coco_dt, iouType="keypoints")
        if sigmas is not None:
            ev.params.kpt_oks_sigmas = np.asarray(sigmas, dtype=np.float64)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    stats = [float(x) for x in ev.stats]
    out = dict(zip(STAT_NAMES, stats))
    return {**{k: out[k] for k in REPORTED}, "stats": stats}
