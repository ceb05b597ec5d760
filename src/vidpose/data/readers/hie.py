"""HIE (Human in Events, HIE20) pose-tracking annotations.

This is our understanding of the HIE20 layout (PoseTrack17-like, one JSON file
per video, every value wrapped in a one-element list)::

    {"annolist": [
        {"image": [{"name": "000001.jpg"}],
         "annorect": [
            {"x1": [x1], "y1": [y1], "x2": [x2], "y2": [y2], "track_id": [t],
             "annopoints": [{"point": [
                 {"id": [k], "x": [x], "y": [y], "is_visible": [v]}, ...]}]},
            ...]},
        ...]}

Point ids 0..13 follow ``vidpose.skeletons.HIE14`` (skeleton ``hie14``)::

    0 nose  1 chest  2 right_shoulder  3 right_elbow  4 right_wrist
    5 left_shoulder  6 left_elbow  7 left_wrist  8 right_hip  9 right_knee
    10 right_ankle  11 left_hip  12 left_knee  13 left_ankle

Visibility: HIE ``is_visible`` 0 (visible) -> 2, 1 (invisible, labelled) -> 1,
-1 (unlabelled) -> 0 (x, y set to 0); a joint with no point -> 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vidpose.data.readers._common import as_int, as_name, as_scalar, fail, get, load_json, require_file
from vidpose.data.annotations import FrameAnnotation, PersonAnnotation, PoseDataset
from vidpose.errors import InputError
from vidpose.skeletons import HIE14

_J = HIE14.num_keypoints
_VIS = {0: 2, 1: 1, -1: 0}


def _one(value: Any, path: Path, what: str) -> Any:
    """HIE wraps scalars in one-element lists; unwrap (a bare scalar is accepted too)."""
    if isinstance(value, list):
        if len(value) != 1:
            raise fail(path, what, f"expected a one-element list, got {len(value)} elements")
        return value[0]
    return value


def _person(rect: Any, path: Path, where: str) -> PersonAnnotation:
    if not isinstance(rect, dict):
        raise fail(path, where, f"expected an object, got {type(rect).__name__}")
    track = as_int(_one(get(rect, "track_id", path, where), path, f"{where}.track_id"), path, f"{where}.track_id")
    keys = ("x1", "y1", "x2", "y2")
    present = [k in rect for k in keys]
    bbox = None
    if any(present):
        if not all(present):
            raise fail(path, f"{where}.x1/y1/x2/y2", "box is missing some corners")
        bbox = np.array([as_scalar(_one(rect[k], path, f"{where}.{k}"), path, f"{where}.{k}") for k in keys])
        if bbox[2] < bbox[0] or bbox[3] < bbox[1]:
            raise fail(path, f"{where}.x1/y1/x2/y2", f"x2 < x1 or y2 < y1: {bbox.tolist()}")
    kp = np.zeros((_J, 3))
    groups = rect.get("annopoints") or []
    if not isinstance(groups, list):
        groups = [groups]
    seen: set[int] = set()
    for g, grp in enumerate(groups):
        gw = f"{where}.annopoints[{g}]"
        points = get(grp, "point", path, gw)
        if not isinstance(points, list):
            raise fail(path, f"{gw}.point", f"expected a list, got {type(points).__name__}")
        for k, pt in enumerate(points):
            pw = f"{gw}.point[{k}]"
            jid = as_int(_one(get(pt, "id", path, pw), path, f"{pw}.id"), path, f"{pw}.id")
            if not 0 <= jid < _J:
                raise fail(path, f"{pw}.id", f"joint id {jid} outside 0..{_J - 1}")
            if jid in seen:
                raise fail(path, f"{pw}.id", f"joint id {jid} appears twice")
            seen.add(jid)
            x = as_scalar(_one(get(pt, "x", path, pw), path, f"{pw}.x"), path, f"{pw}.x")
            y = as_scalar(_one(get(pt, "y", path, pw), path, f"{pw}.y"), path, f"{pw}.y")
            flag = as_int(_one(get(pt, "is_visible", path, pw), path, f"{pw}.is_visible"), path, f"{pw}.is_visible")
            if flag not in _VIS:
                raise fail(path, f"{pw}.is_visible", f"expected 0, 1 or -1, got {flag}")
            v = _VIS[flag]
            kp[jid] = (x, y, v) if v > 0 else (0.0, 0.0, 0.0)
    return PersonAnnotation(keypoints=kp, bbox=bbox, track_id=track)


def read_hie(ann_dir_or_file: str | Path, image_root: str | Path) -> PoseDataset:
    """Read one HIE JSON file or every ``*.json`` in a directory (one file per video).

    Sequence name = file stem; frame ``i`` of a video is
    ``image_root / <video> / <image name>``, ``index`` = position in
    ``annolist``, ``image_id`` = ``"<video>/<image name>"``. Persons carry
    ``track_id`` and ``bbox`` (x1, y1, x2, y2) when the box is given.
    """
    ann = Path(ann_dir_or_file)
    root = Path(image_root)
    if ann.is_dir():
        files = sorted(p for p in ann.glob("*.json") if p.is_file())
        if not files:
            raise InputError(f"{ann}: no HIE *.json files in this directory")
    else:
        files = [require_file(ann, "HIE annotation file")]
    frames: list[FrameAnnotation] = []
    sequences: dict[str, list[int]] = {}
    for path in files:
        video = path.stem
        data = load_json(path)
        annolist = get(data, "annolist", path, "")
        if not isinstance(annolist, list):
            raise fail(path, "annolist", f"expected a list, got {type(annolist).__name__}")
        idx = []
        for i, entry in enumerate(annolist):
            where = f"annolist[{i}]"
            image = _one(get(entry, "image", path, where), path, f"{where}.image")
            name = as_name(get(image, "name", path, f"{where}.image[0]"), path, f"{where}.image[0].name")
            rects = entry.get("annorect") or []
            if not isinstance(rects, list):
                raise fail(path, f"{where}.annorect", f"expected a list, got {type(rects).__name__}")
            persons = [_person(r, path, f"{where}.annorect[{j}]") for j, r in enumerate(rects)]
            idx.append(len(frames))
            frames.append(
                FrameAnnotation(image=root / video / name, persons=persons, index=i, image_id=f"{video}/{name}")
            )
        sequences[video] = idx
    return PoseDataset(name="hie", skeleton=HIE14.name, keypoint_names=HIE14.keypoints, frames=frames, sequences=sequences)
