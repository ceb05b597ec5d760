"""HIE (Human in Events, HIE20) pose-tracking annotations: the one parser of their JSON layout.

This is our understanding of the HIE20 layout (PoseTrack17-like, one JSON file
per video, every value wrapped in a one-element list; a bare value is accepted too)::

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

:func:`hie_frames` turns one loaded file into plain per-frame records; the
dataset reader (``vidpose.data.readers.read_hie``) and ``vidpose eval``
(``vidpose.metrics.evaluate.parse_hie``) both build on it. Every fault raises
:class:`~vidpose.errors.InputError` as ``<file>: <place>: <fault>``, the place
written as in the file, e.g. ``annolist[3].annorect[1].annopoints[0].point[2].id``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from vidpose.errors import InputError
from vidpose.io.jsonfile import finite_number
from vidpose.io.jsonfile import short_repr as _short
from vidpose.skeletons import HIE14

_J = HIE14.num_keypoints
_VIS = {0: 2, 1: 1, -1: 0}  # HIE is_visible -> COCO-style visibility
_BOX = ("x1", "y1", "x2", "y2")
_MAX_ID = 2**53  # ids stay exact through a float64 (and fit int64)


@dataclass(frozen=True)
class HiePerson:
    """One ``annorect``: ``bbox`` (4,) x1, y1, x2, y2 or None when the file gives none;
    ``keypoints`` (14, 3) x, y, visibility 2/1/0 in ``HIE14`` order."""

    track_id: int
    bbox: np.ndarray | None
    keypoints: np.ndarray


@dataclass(frozen=True)
class HieFrame:
    """One ``annolist`` entry: the image's file name and its people."""

    image: str
    persons: list[HiePerson]


def _fail(source: str, where: str, fault: str) -> InputError:
    return InputError(f"{source}: {where}: {fault}")


def _key(d: Any, key: str, source: str, where: str) -> Any:
    if not isinstance(d, dict):
        raise _fail(source, where, f"expected an object, got {type(d).__name__}")
    if key not in d:
        raise _fail(source, f"{where}.{key}" if where else key, "missing")
    return d[key]


def _one(x: Any, source: str, where: str) -> Any:
    """HIE wraps values in one-element lists; unwrap (a bare value is accepted too)."""
    if isinstance(x, list):
        if len(x) != 1:
            raise _fail(source, where, f"expected a one-element list, got {len(x)} elements")
        return x[0]
    return x


def _list(x: Any, source: str, where: str) -> list:
    if not isinstance(x, list):
        raise _fail(source, where, f"expected a list, got {type(x).__name__}")
    return x


def _int(x: Any, source: str, where: str) -> int:
    v = _one(x, source, where)
    if isinstance(v, bool) or not isinstance(v, int) or abs(v) >= _MAX_ID:
        raise _fail(source, where, f"expected an integer (magnitude below 2**53), got {_short(v)}")
    return v


def _number(x: Any, source: str, where: str) -> float:
    return finite_number(_one(x, source, where), f"{source}: {where}")


def _box(rect: dict, source: str, where: str) -> np.ndarray | None:
    given = [k for k in _BOX if k in rect]
    if not given:
        return None
    if len(given) < 4:
        raise _fail(source, f"{where}.x1/y1/x2/y2",
                    f"box is missing some corners ({', '.join(k for k in _BOX if k not in rect)}): give all four or none")
    box = np.array([_number(rect[k], source, f"{where}.{k}") for k in _BOX])
    if box[2] < box[0] or box[3] < box[1]:
        raise _fail(source, f"{where}.x1/y1/x2/y2", f"x2 < x1 or y2 < y1: {box.tolist()}")
    return box


def _keypoints(rect: dict, source: str, where: str) -> np.ndarray:
    kp = np.zeros((_J, 3))
    groups = rect.get("annopoints") or []
    seen: dict[int, str] = {}
    for g, group in enumerate(groups if isinstance(groups, list) else [groups]):
        gw = f"{where}.annopoints[{g}]"
        points = _list(_key(group, "point", source, gw), source, f"{gw}.point")
        for k, pt in enumerate(points):
            pw = f"{gw}.point[{k}]"
            jid = _int(_key(pt, "id", source, pw), source, f"{pw}.id")
            if not 0 <= jid < _J:
                raise _fail(source, f"{pw}.id", f"joint id {jid} outside 0..{_J - 1}")
            if jid in seen:
                raise _fail(source, f"{pw}.id", f"joint id {jid} appears twice (first at {seen[jid]})")
            seen[jid] = pw
            x = _number(_key(pt, "x", source, pw), source, f"{pw}.x")
            y = _number(_key(pt, "y", source, pw), source, f"{pw}.y")
            flag = _one(_key(pt, "is_visible", source, pw), source, f"{pw}.is_visible")
            # a flag, so 0.0 / 1.0 / -1.0 pass too (both former parsers took them); true/false do not
            if isinstance(flag, bool) or not isinstance(flag, (int, float)) or flag not in _VIS:
                raise _fail(source, f"{pw}.is_visible", f"expected 0, 1 or -1, got {_short(flag)}")
            v = _VIS[int(flag)]
            kp[jid] = (x, y, v) if v > 0 else (0.0, 0.0, 0.0)
    return kp


def hie_frames(data: Any, source: str | os.PathLike) -> list[HieFrame]:
    """The frames of one loaded HIE file (``data``: its parsed JSON), in ``annolist`` order.

    ``source`` names the file in errors. Checked: the layout (objects, lists, one-element
    wrappers, required keys: ``annolist``, ``image[0].name``, ``track_id``, a point's ``id``,
    ``x``, ``y``, ``is_visible``); numbers finite and at most ``MAX_ABS`` in magnitude; ids
    integers (JSON integers, not 4.0); joint ids in 0..13 and once per person; ``is_visible`` in
    {0, 1, -1} (1.0 too, not true); a box has
    all four corners or none, with x2 >= x1 and y2 >= y1; a track id once per frame.
    ``annorect`` and ``annopoints`` may be absent or empty.
    """
    src = str(source)
    if not isinstance(data, dict):
        raise InputError(f"{src}: expected an HIE annotation object (with an annolist), got {type(data).__name__}")
    annolist = _list(_key(data, "annolist", src, ""), src, "annolist")
    frames = []
    for i, entry in enumerate(annolist):
        where = f"annolist[{i}]"
        image = _one(_key(entry, "image", src, where), src, f"{where}.image")
        name = _key(image, "name", src, f"{where}.image[0]")
        if not isinstance(name, str) or not name or "\0" in name:
            raise _fail(src, f"{where}.image[0].name", f"expected a non-empty file name, got {_short(name)}")
        rects = _list(entry.get("annorect") or [], src, f"{where}.annorect")
        persons: list[HiePerson] = []
        tracks: dict[int, int] = {}
        for j, rect in enumerate(rects):
            rw = f"{where}.annorect[{j}]"
            if not isinstance(rect, dict):
                raise _fail(src, rw, f"expected an object, got {type(rect).__name__}")
            tid = _int(_key(rect, "track_id", src, rw), src, f"{rw}.track_id")
            if tid in tracks:
                raise _fail(src, f"{rw}.track_id",
                            f"track id {tid} appears twice in this frame (also annorect[{tracks[tid]}])")
            tracks[tid] = j
            persons.append(HiePerson(track_id=tid, bbox=_box(rect, src, rw), keypoints=_keypoints(rect, src, rw)))
        frames.append(HieFrame(image=name, persons=persons))
    return frames


__all__ = ["HieFrame", "HiePerson", "hie_frames"]
