"""MPII Human Pose: the official MATLAB release and the common JSON variant.

Keypoint order (MPII joint ids 0..15), skeleton name ``mpii16``::

    0 right_ankle  1 right_knee  2 right_hip  3 left_hip  4 left_knee  5 left_ankle
    6 pelvis  7 thorax  8 upper_neck  9 head_top  10 right_wrist  11 right_elbow
    12 right_shoulder  13 left_shoulder  14 left_elbow  15 left_wrist

Coordinates are kept as stored: MATLAB-style, 1-based pixels (subtract 1 for
0-based pixel indices).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vidpose.data.readers._common import (
    as_array,
    as_int,
    as_scalar,
    fail,
    get,
    load_json,
    load_mat,
    map_visibility,
)
from vidpose.data.annotations import FrameAnnotation, PersonAnnotation, PoseDataset

MPII16_KEYPOINTS: tuple[str, ...] = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "pelvis", "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow",
    "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
)
_J = len(MPII16_KEYPOINTS)


# --- JSON variant -------------------------------------------------------------------------


def read_mpii_json(ann_file: str | Path, image_root: str | Path) -> PoseDataset:
    """Read the common MPII JSON (``train.json`` / ``valid.json`` / ``test.json``).

    The file is a list of ``{"image", "joints" (16 x 2), "joints_vis" (16),
    "center" (2), "scale"}``, one entry per person; entries of the same image
    become one frame (order of first appearance), ``image_id`` = image name.

    Visibility: ``joints_vis`` 1 (labelled; this variant drops MPII's occlusion
    flag) -> 2, 0 (not labelled) -> 0 with x, y set to 0. ``extra`` holds
    ``center`` (2,) and ``scale`` (person height / 200 px, as in MPII).
    A file whose entries all lack ``joints`` and ``joints_vis`` (the test split)
    gives persons with visibility 0 everywhere and ``extra["annotated"] = False``;
    a file mixing both kinds is an error.
    """
    path = Path(ann_file)
    root = Path(image_root)
    data = load_json(path)
    if not isinstance(data, list):
        raise fail(path, "top level", f"expected a list of person entries, got {type(data).__name__}")
    unlabelled_file = bool(data) and all(
        isinstance(e, dict) and "joints" not in e and "joints_vis" not in e for e in data
    )

    frames: list[FrameAnnotation] = []
    by_image: dict[str, FrameAnnotation] = {}
    for i, entry in enumerate(data):
        where = f"[{i}]"
        name = get(entry, "image", path, where)
        if not isinstance(name, str) or not name:
            raise fail(path, f"{where}.image", f"expected an image file name, got {name!r}")
        center = as_array(get(entry, "center", path, where), path, f"{where}.center", (2,))
        scale = as_scalar(get(entry, "scale", path, where), path, f"{where}.scale")
        if scale <= 0:
            raise fail(path, f"{where}.scale", f"expected a positive scale (person height / 200 px), got {scale}")
        if unlabelled_file:
            kp = np.zeros((_J, 3))
            extra: dict[str, Any] = {"center": center, "scale": scale, "annotated": False}
        else:
            joints = as_array(get(entry, "joints", path, where), path, f"{where}.joints", (_J, 2))
            vis = as_array(get(entry, "joints_vis", path, where), path, f"{where}.joints_vis", (_J,))
            kp = np.zeros((_J, 3))
            kp[:, 2] = map_visibility(vis, {0: 0, 1: 2}, path, f"{where}.joints_vis")
            kp[:, :2] = np.where(kp[:, 2:] > 0, joints, 0.0)
            extra = {"center": center, "scale": scale, "annotated": True}
        frame = by_image.get(name)
        if frame is None:
            frame = FrameAnnotation(image=root / name, persons=[], index=len(frames), image_id=name)
            by_image[name] = frame
            frames.append(frame)
        frame.persons.append(PersonAnnotation(keypoints=kp, extra=extra))
    return PoseDataset(name="mpii", skeleton="mpii16", keypoint_names=MPII16_KEYPOINTS, frames=frames)


# --- official .mat ------------------------------------------------------------------------


def _items(x: Any) -> list:
    """Elements of a MATLAB struct/cell array loaded with ``squeeze_me=True``.

    squeeze_me turns a 1x1 struct into the struct itself, a 1xN one into an
    object array, and an empty one into an empty numeric array.
    """
    from scipy.io.matlab import mat_struct

    if isinstance(x, mat_struct):
        return [x]
    arr = np.asarray(x)
    if arr.size == 0:
        return []
    if arr.dtype == object:
        return list(arr.ravel())
    return list(np.atleast_1d(arr).ravel())


def _is_empty(x: Any) -> bool:
    if x is None:
        return True
    if isinstance(x, str):
        return x.strip() == ""
    return isinstance(x, np.ndarray) and x.size == 0


def _field(s: Any, name: str, path: Path, where: str) -> Any:
    from scipy.io.matlab import mat_struct

    if not isinstance(s, mat_struct):
        raise fail(path, where, f"expected a struct, got {type(s).__name__}")
    if name not in s._fieldnames:
        raise fail(path, f"{where}.{name}", "missing field")
    return getattr(s, name)


def _is_visible(v: Any, path: Path, where: str) -> int:
    """MPII ``is_visible`` -> COCO visibility: 1 -> 2, 0 -> 1, empty -> 2."""
    if _is_empty(v):
        return 2  # labelled, occlusion not recorded (head top / neck often are)
    if isinstance(v, str):
        v = v.strip()
        if v not in ("0", "1"):
            raise fail(path, where, f"expected 0, 1 or empty, got {v!r}")
        return 2 if v == "1" else 1
    flag = as_int(v, path, where)
    if flag not in (0, 1):
        raise fail(path, where, f"expected 0, 1 or empty, got {flag}")
    return 2 if flag == 1 else 1


def _mat_person(rect: Any, path: Path, where: str) -> PersonAnnotation:
    from scipy.io.matlab import mat_struct

    if not isinstance(rect, mat_struct):
        raise fail(path, where, f"expected a struct, got {type(rect).__name__}")
    fields = rect._fieldnames
    extra: dict[str, Any] = {}

    box = [getattr(rect, k) if k in fields else None for k in ("x1", "y1", "x2", "y2")]
    empty = [_is_empty(b) for b in box]
    if not all(empty):
        if any(empty):
            raise fail(path, f"{where}.x1/y1/x2/y2", "head box is partly empty")
        hb = np.array([as_scalar(b, path, f"{where}.{k}") for b, k in zip(box, ("x1", "y1", "x2", "y2"))])
        if hb[2] < hb[0] or hb[3] < hb[1]:
            raise fail(path, f"{where}.x1/y1/x2/y2", f"head box has x2 < x1 or y2 < y1: {hb.tolist()}")
        extra["head_box"] = hb
    if "scale" in fields and not _is_empty(rect.scale):
        extra["scale"] = as_scalar(rect.scale, path, f"{where}.scale")
    if "objpos" in fields and not _is_empty(rect.objpos):
        extra["center"] = np.array(
            [as_scalar(_field(rect.objpos, k, path, f"{where}.objpos"), path, f"{where}.objpos.{k}") for k in "xy"]
        )

    kp = np.zeros((_J, 3))
    ann = getattr(rect, "annopoints", None) if "annopoints" in fields else None
    # Test-set people and unannotated people in training images have no points.
    extra["annotated"] = not _is_empty(ann)
    if extra["annotated"]:
        points = _items(_field(ann, "point", path, f"{where}.annopoints"))
        seen: set[int] = set()
        for k, pt in enumerate(points):
            pw = f"{where}.annopoints.point({k + 1})"
            jid = as_int(_field(pt, "id", path, pw), path, f"{pw}.id")
            if not 0 <= jid < _J:
                raise fail(path, f"{pw}.id", f"joint id {jid} outside 0..{_J - 1}")
            if jid in seen:
                raise fail(path, f"{pw}.id", f"joint id {jid} appears twice")
            seen.add(jid)
            x = as_scalar(_field(pt, "x", path, pw), path, f"{pw}.x")
            y = as_scalar(_field(pt, "y", path, pw), path, f"{pw}.y")
            vis = _is_visible(getattr(pt, "is_visible", None), path, f"{pw}.is_visible")
            kp[jid] = (x, y, vis)
    return PersonAnnotation(keypoints=kp, bbox=None, extra=extra)


def read_mpii_mat(mat_file: str | Path, image_root: str | Path) -> PoseDataset:
    """Read the official ``mpii_human_pose_v1_u12_1.mat``.

    Layout (MATLAB): ``RELEASE.annolist(i).image.name``,
    ``RELEASE.annolist(i).annorect(j)`` with head box ``x1, y1, x2, y2``,
    ``scale``, ``objpos.x/.y`` and ``annopoints.point(k)`` with ``id`` (0..15),
    ``x``, ``y``, ``is_visible``; ``RELEASE.img_train(i)`` (1 train, 0 test);
    ``RELEASE.single_person{i}`` (1-based annorect indices); optional
    ``RELEASE.act(i)`` (``act_name``, ``cat_name``, ``act_id``).

    One frame per ``annolist`` entry (``image_id`` = image name), one person
    per ``annorect``. Visibility: a point with ``is_visible`` 1 -> 2, 0 -> 1,
    empty -> 2 (labelled, occlusion not recorded); a missing point -> 0 (x, y
    = 0). ``extra``: ``head_box`` (4,) x1, y1, x2, y2 when present, ``scale``,
    ``center`` (objpos), ``img_train`` (bool), ``single_person`` (bool),
    ``annotated`` (False for people without ``annopoints``, e.g. the test
    set), and ``act_name``/``cat_name``/``act_id`` when ``act`` is present.
    """
    path = Path(mat_file)
    root = Path(image_root)
    m = load_mat(path, squeeze=True, structs=True)
    if "RELEASE" not in m:
        raise fail(path, "RELEASE", "missing variable (not the official MPII annotation file?)")
    rel = m["RELEASE"]
    annolist = _items(_field(rel, "annolist", path, "RELEASE"))
    n = len(annolist)
    img_train = np.atleast_1d(np.asarray(_field(rel, "img_train", path, "RELEASE"))).ravel()
    if img_train.size != n:
        raise fail(path, "RELEASE.img_train", f"has {img_train.size} entries, annolist has {n}")
    single = _field(rel, "single_person", path, "RELEASE")
    # A cell array with one element squeezes to that element; re-wrap it.
    single_items = [single] if n == 1 else _items(single)
    if len(single_items) != n:
        raise fail(path, "RELEASE.single_person", f"has {len(single_items)} entries, annolist has {n}")
    acts = None
    if "act" in rel._fieldnames:
        acts = _items(rel.act)
        if len(acts) != n:
            raise fail(path, "RELEASE.act", f"has {len(acts)} entries, annolist has {n}")

    frames: list[FrameAnnotation] = []
    for i, entry in enumerate(annolist):
        where = f"RELEASE.annolist({i + 1})"
        image = _field(entry, "image", path, where)
        name = _field(image, "name", path, f"{where}.image")
        if not isinstance(name, str) or not name:
            raise fail(path, f"{where}.image.name", f"expected a file name, got {name!r}")
        train = as_int(img_train[i], path, f"RELEASE.img_train({i + 1})")
        if train not in (0, 1):
            raise fail(path, f"RELEASE.img_train({i + 1})", f"expected 0 or 1, got {train}")
        sp = single_items[i]
        single_ids = set() if _is_empty(sp) else {
            as_int(s, path, f"RELEASE.single_person{{{i + 1}}}") for s in np.atleast_1d(np.asarray(sp)).ravel()
        }
        act_extra: dict[str, Any] = {}
        if acts is not None:
            a = acts[i]
            aw = f"RELEASE.act({i + 1})"
            for k in ("act_name", "cat_name"):
                v = getattr(a, k, None)
                if not _is_empty(v) and not isinstance(v, str):
                    raise fail(path, f"{aw}.{k}", f"expected a string, got {type(v).__name__}")
                act_extra[k] = "" if _is_empty(v) else v
            aid = getattr(a, "act_id", None)
            act_extra["act_id"] = -1 if _is_empty(aid) else as_int(aid, path, f"{aw}.act_id")

        rects = _items(_field(entry, "annorect", path, where))
        bad = sorted(j for j in single_ids if not 1 <= j <= len(rects))
        if bad:
            raise fail(path, f"RELEASE.single_person{{{i + 1}}}", f"index {bad[0]} outside 1..{len(rects)}")
        persons = []
        for j, rect in enumerate(rects):
            p = _mat_person(rect, path, f"{where}.annorect({j + 1})")
            p.extra["img_train"] = bool(train)
            p.extra["single_person"] = (j + 1) in single_ids
            p.extra.update(act_extra)
            persons.append(p)
        frames.append(FrameAnnotation(image=root / name, persons=persons, index=i, image_id=name))
    return PoseDataset(name="mpii", skeleton="mpii16", keypoint_names=MPII16_KEYPOINTS, frames=frames)
