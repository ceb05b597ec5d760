"""PoseTrack 2018 (one JSON file per video, COCO-like layout).

Keypoint order (PoseTrack18's own; ``head_bottom``/``head_top`` replace COCO's
eyes, ears are never labelled), skeleton name ``posetrack17``::

    0 nose  1 head_bottom  2 head_top  3 left_ear  4 right_ear  5 left_shoulder
    6 right_shoulder  7 left_elbow  8 right_elbow  9 left_wrist  10 right_wrist
    11 left_hip  12 right_hip  13 left_knee  14 right_knee  15 left_ankle
    16 right_ankle

Visibility: PoseTrack18 stores 1 for a labelled joint and 0 for an unlabelled
one (no occlusion flag): 1 -> 2, 0 -> 0 (x, y set to 0). A value of 2 is
accepted and kept as 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vidpose.data.readers._common import (
    as_array,
    as_id,
    as_int,
    as_name,
    as_size,
    box_xywh,
    fail,
    get,
    keypoints_from_flat,
    load_json,
    require_file,
)
from vidpose.data.annotations import FrameAnnotation, PersonAnnotation, PoseDataset
from vidpose.errors import InputError
from vidpose.skeletons import COCO17

POSETRACK17_KEYPOINTS: tuple[str, ...] = (
    "nose", "head_bottom", "head_top", "left_ear", "right_ear", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)
_VIS = {0: 0, 1: 2, 2: 2}


def _files(ann: Path) -> list[Path]:
    if ann.is_dir():
        files = sorted(p for p in ann.glob("*.json") if p.is_file())
        if not files:
            raise InputError(f"{ann}: no PoseTrack18 *.json files in this directory")
        return files
    return [require_file(ann, "PoseTrack18 annotation file")]


def _box(value: Any, path: Path, what: str):
    return box_xywh(value, path, what)


def _flag(value: Any, path: Path, what: str) -> bool:
    if isinstance(value, bool):
        return value
    v = as_int(value, path, what)
    if v not in (0, 1):
        raise fail(path, what, f"expected true/false (or 1/0), got {v}")
    return bool(v)


def _ignore_regions(img: dict, path: Path, where: str) -> list[np.ndarray]:
    """PoseTrack18's ``ignore_regions_x`` / ``ignore_regions_y`` (one list of coordinates per polygon):
    the image's unannotated people, as polygons (N, 2)."""
    xs, ys = img.get("ignore_regions_x") or [], img.get("ignore_regions_y") or []
    if not isinstance(xs, list) or not isinstance(ys, list) or len(xs) != len(ys):
        raise fail(path, f"{where}.ignore_regions_x", "expected two lists of polygons of the same length")
    out = []
    for k, (px, py) in enumerate(zip(xs, ys)):
        a = as_array(px, path, f"{where}.ignore_regions_x[{k}]", None)
        b = as_array(py, path, f"{where}.ignore_regions_y[{k}]", None)
        if a.ndim != 1 or a.shape != b.shape:
            raise fail(path, f"{where}.ignore_regions_y[{k}]", "expected as many y as x coordinates")
        if len(a):
            out.append(np.stack([a, b], axis=1))
    return out


def read_posetrack18(
    ann_file_or_dir: str | Path, image_root: str | Path, *, labeled_only: bool = True
) -> PoseDataset:
    """Read one PoseTrack18 JSON or every ``*.json`` in a directory (sorted by name).

    ``images`` entries (``id``, ``file_name`` relative to ``image_root``,
    ``vid_id``, ``frame_id``, ``is_labeled``) become frames, grouped by
    ``vid_id`` (the file stem when absent) into ``sequences``; within a video
    frames are ordered by ``frame_id`` and ``index`` is the frame's position in
    the video. ``annotations`` (``image_id``, ``track_id``, ``keypoints`` 17 x 3
    flat, optional ``bbox`` and ``bbox_head`` as x, y, w, h) become persons
    with ``bbox`` x1, y1, x2, y2 and ``extra["head_box"]`` (x1, y1, x2, y2)
    and ``extra["id"]``.

    With ``labeled_only`` (default) only frames with ``is_labeled`` true or
    with annotations are returned, so every returned frame is annotated and
    ``persons == []`` means "nobody there". With ``labeled_only=False`` all
    frames are returned; then ``persons == []`` on an unlabelled frame means
    "not annotated". Each frame's ``extra["labeled"]`` says which; the image's
    ``ignore_regions_x``/``_y`` (unannotated people) are ``extra["ignore_regions"]``,
    a list of polygons (N, 2).
    """
    ann = Path(ann_file_or_dir)
    root = Path(image_root)
    frames: list[FrameAnnotation] = []
    sequences: dict[str, list[int]] = {}
    names = POSETRACK17_KEYPOINTS
    for path in _files(ann):
        data = load_json(path)
        if not isinstance(data, dict):
            raise fail(path, "top level", f"expected an object, got {type(data).__name__}")
        images = get(data, "images", path, "")
        annotations = get(data, "annotations", path, "")
        if not isinstance(images, list) or not isinstance(annotations, list):
            raise fail(path, "images/annotations", "expected lists")
        cats = data.get("categories", []) or []
        if not isinstance(cats, list):
            raise fail(path, "categories", f"expected a list, got {type(cats).__name__}")
        for ci, c in enumerate(cats):
            if isinstance(c, dict) and "keypoints" in c:
                kps = c["keypoints"]
                if not isinstance(kps, list) or len(kps) != len(names):
                    got = len(kps) if isinstance(kps, list) else type(kps).__name__
                    raise fail(path, f"categories[{ci}].keypoints", f"expected a list of {len(names)} names, got {got}")
                cat_names = tuple(as_name(n, path, f"categories[{ci}].keypoints[{k}]") for k, n in enumerate(kps))
                if frames and cat_names != names:
                    raise fail(path, "categories.keypoints", "differs from the names in earlier files")
                names = cat_names

        videos: dict[str, list[tuple[Any, int, dict]]] = {}
        ignore: dict[Any, list] = {}  # image id -> polygons of people left unannotated
        seen_ids: set = set()
        for i, img in enumerate(images):
            where = f"images[{i}]"
            img_id = as_id(get(img, "id", path, where), path, f"{where}.id")
            if img_id in seen_ids:
                raise fail(path, f"{where}.id", f"duplicate image id {img_id!r}")
            seen_ids.add(img_id)
            file_name = as_name(get(img, "file_name", path, where), path, f"{where}.file_name")
            vid = str(as_id(img.get("vid_id", path.stem), path, f"{where}.vid_id"))
            order = as_int(img.get("frame_id", i), path, f"{where}.frame_id")
            labeled = _flag(img.get("is_labeled", True), path, f"{where}.is_labeled")
            w, h = img.get("width"), img.get("height")
            w = None if w is None else as_size(w, path, f"{where}.width")
            h = None if h is None else as_size(h, path, f"{where}.height")
            videos.setdefault(vid, []).append((order, i, (img_id, file_name, labeled, w, h)))
            regions = _ignore_regions(img, path, where)
            if regions:
                ignore[img_id] = regions

        persons: dict[Any, list[PersonAnnotation]] = {}
        for i, a in enumerate(annotations):
            where = f"annotations[{i}]"
            img_id = as_id(get(a, "image_id", path, where), path, f"{where}.image_id")
            if img_id not in seen_ids:
                raise fail(path, f"{where}.image_id", f"{img_id!r} is not an id in 'images'")
            kp = keypoints_from_flat(get(a, "keypoints", path, where), len(names), path, f"{where}.keypoints", _VIS)
            track = as_int(get(a, "track_id", path, where), path, f"{where}.track_id")
            bbox = _box(a["bbox"], path, f"{where}.bbox") if a.get("bbox") is not None else None
            extra: dict[str, Any] = {}
            if a.get("bbox_head") is not None:
                extra["head_box"] = _box(a["bbox_head"], path, f"{where}.bbox_head")
            if "id" in a:
                extra["id"] = as_id(a["id"], path, f"{where}.id")
            persons.setdefault(img_id, []).append(PersonAnnotation(keypoints=kp, bbox=bbox, track_id=track, extra=extra))

        for vid, entries in videos.items():
            if vid in sequences:
                raise fail(path, "images.vid_id", f"video {vid!r} also appears in an earlier file")
            entries.sort(key=lambda e: (e[0], e[1]))
            idx = []
            for pos, (_, _, (img_id, file_name, is_labeled, w, h)) in enumerate(entries):
                people = persons.get(img_id, [])
                labeled = is_labeled or bool(people)
                if labeled_only and not labeled:
                    continue
                idx.append(len(frames))
                extra = {"labeled": labeled}
                if img_id in ignore:
                    extra["ignore_regions"] = ignore[img_id]
                frames.append(
                    FrameAnnotation(
                        image=root / file_name,
                        persons=people,
                        width=w,
                        height=h,
                        index=pos,
                        image_id=img_id,
                        extra=extra,
                    )
                )
            sequences[vid] = idx

    skeleton = COCO17.name if names == COCO17.keypoints else "posetrack17"
    return PoseDataset(name="posetrack18", skeleton=skeleton, keypoint_names=names, frames=frames, sequences=sequences)
