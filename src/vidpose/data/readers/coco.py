"""MS-COCO person keypoints (``person_keypoints_{train,val}2017.json``).

Visibility is already COCO's own: 0 not labelled, 1 labelled but occluded,
2 labelled and visible; it is kept as is (other values are an error). x, y of
visibility-0 joints are set to 0 (COCO stores 0 there too).
"""

from __future__ import annotations

from pathlib import Path

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
)
from vidpose.data.annotations import FrameAnnotation, PersonAnnotation, PoseDataset
from vidpose.skeletons import COCO17

_COCO_VIS = {0: 0, 1: 1, 2: 2}


def read_coco(ann_file: str | Path, image_root: str | Path) -> PoseDataset:
    """Read a COCO keypoints JSON into a :class:`PoseDataset`.

    One frame per entry of ``images`` (in file order, images without people
    included with ``persons == []``); ``image`` is ``image_root / file_name``.
    Each annotation becomes a person: ``keypoints`` (J, 3), ``bbox`` (4,)
    converted from x, y, w, h to x1, y1, x2, y2, ``area``, and
    ``extra = {"iscrowd": 0|1, "id": annotation id, "num_keypoints": n}``
    (``iscrowd`` defaults to 0 when absent). Crowd annotations are kept, marked
    by ``iscrowd``. Keypoint names come from the category that has
    ``keypoints``; skeleton is ``coco17`` when they are COCO's 17 in COCO order.
    """
    path = Path(ann_file)
    root = Path(image_root)
    data = load_json(path)
    if not isinstance(data, dict):
        raise fail(path, "top level", f"expected an object, got {type(data).__name__}")
    images = get(data, "images", path, "")
    annotations = get(data, "annotations", path, "")
    categories = get(data, "categories", path, "")
    if not isinstance(images, list) or not isinstance(annotations, list) or not isinstance(categories, list):
        raise fail(path, "images/annotations/categories", "expected lists")

    # The person category is the one that names keypoints.
    kp_cats = [(i, c) for i, c in enumerate(categories) if isinstance(c, dict) and "keypoints" in c]
    if not kp_cats:
        raise fail(path, "categories", "no category with a 'keypoints' list (not a keypoints file?)")
    cat_names = []
    for i, c in kp_cats:
        kps = c["keypoints"]
        if not isinstance(kps, list) or not kps:
            raise fail(path, f"categories[{i}].keypoints", f"expected a non-empty list of names, got {kps!r:.60}")
        cat_names.append(tuple(as_name(n, path, f"categories[{i}].keypoints[{k}]") for k, n in enumerate(kps)))
    names = cat_names[0]
    cat_ids = {as_id(get(c, "id", path, f"categories[{i}]"), path, f"categories[{i}].id") for i, c in kp_cats}
    for (i, c), n in zip(kp_cats[1:], cat_names[1:]):
        if n != names:
            raise fail(path, f"categories[{i}].keypoints", "differs from the first keypoint category")
    num = len(names)

    frames: list[FrameAnnotation] = []
    by_id: dict = {}
    for i, img in enumerate(images):
        where = f"images[{i}]"
        img_id = as_id(get(img, "id", path, where), path, f"{where}.id")
        if img_id in by_id:
            raise fail(path, f"{where}.id", f"duplicate image id {img_id!r}")
        file_name = as_name(get(img, "file_name", path, where), path, f"{where}.file_name")
        w = img.get("width")
        h = img.get("height")
        frame = FrameAnnotation(
            image=root / file_name,
            persons=[],
            width=None if w is None else as_size(w, path, f"{where}.width"),
            height=None if h is None else as_size(h, path, f"{where}.height"),
            index=i,
            image_id=img_id,
        )
        by_id[img_id] = frame
        frames.append(frame)

    for i, ann in enumerate(annotations):
        where = f"annotations[{i}]"
        img_id = as_id(get(ann, "image_id", path, where), path, f"{where}.image_id")
        if img_id not in by_id:
            raise fail(path, f"{where}.image_id", f"{img_id!r} is not an id in 'images'")
        cat = ann.get("category_id")
        if cat is not None and (isinstance(cat, (list, dict)) or cat not in cat_ids):
            raise fail(path, f"{where}.category_id", f"{cat!r} is not a keypoint category")
        kp = keypoints_from_flat(get(ann, "keypoints", path, where), num, path, f"{where}.keypoints", _COCO_VIS)
        box = box_xywh(get(ann, "bbox", path, where), path, f"{where}.bbox")
        area = ann.get("area")
        if area is not None:
            area = float(as_array(area, path, f"{where}.area", ()))
            if area < 0:
                raise fail(path, f"{where}.area", f"expected a non-negative area, got {area}")
        iscrowd = as_int(ann.get("iscrowd", 0), path, f"{where}.iscrowd")
        if iscrowd not in (0, 1):
            raise fail(path, f"{where}.iscrowd", f"expected 0 or 1, got {iscrowd}")
        extra = {"iscrowd": iscrowd}
        if "id" in ann:
            extra["id"] = ann["id"]
        if "num_keypoints" in ann:
            nk = as_int(ann["num_keypoints"], path, f"{where}.num_keypoints")
            if not 0 <= nk <= num:
                raise fail(path, f"{where}.num_keypoints", f"expected 0..{num}, got {nk}")
            extra["num_keypoints"] = nk
        by_id[img_id].persons.append(
            PersonAnnotation(
                keypoints=kp,
                bbox=box,
                area=area,
                extra=extra,
            )
        )

    # COCO's own 17 names only: another 17-name list (PoseTrack's head_bottom/head_top, say) must not pass
    # for coco17, whose left/right flip and OKS sigmas it does not share.
    skeleton = COCO17.name if names == COCO17.keypoints else f"coco-format-{num}"
    return PoseDataset(name="coco", skeleton=skeleton, keypoint_names=names, frames=frames)
