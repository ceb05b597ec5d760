"""Fuzzing the JSON dataset readers: COCO, MPII (JSON), PoseTrack18, HIE, synth annotations.

See fuzzlib.py for the property. Run with ``--hypothesis-show-statistics`` to see
how many cases ran.
"""

import numpy as np
from hypothesis import given, note

from fuzzlib import FUZZ, check_dataset, expect_clean, json_case, workdir
from vidpose.data.readers import (
    MPII16_KEYPOINTS,
    POSETRACK17_KEYPOINTS,
    read_coco,
    read_hie,
    read_mpii_json,
    read_posetrack18,
)
from vidpose.skeletons import COCO17

RNG = np.random.default_rng(0)


def _flat_kp(j, vis=(0, 1, 2)):
    kp = np.c_[RNG.uniform(10, 200, (j, 2)).round(1), RNG.choice(vis, j)]
    kp[kp[:, 2] == 0, :2] = 0
    return kp.ravel().tolist()


COCO_BASE = {
    "images": [{"id": 1, "file_name": "a.jpg", "width": 640, "height": 480},
               {"id": 2, "file_name": "b.jpg", "width": 320, "height": 240}],
    "annotations": [
        {"id": 10, "image_id": 1, "category_id": 1, "keypoints": _flat_kp(17), "num_keypoints": 12,
         "bbox": [10.0, 20.0, 100.0, 200.0], "area": 5000.0, "iscrowd": 0},
        {"id": 11, "image_id": 2, "category_id": 1, "keypoints": _flat_kp(17), "num_keypoints": 9,
         "bbox": [1.0, 2.0, 30.0, 40.0], "area": 900.5, "iscrowd": 1},
    ],
    "categories": [{"id": 1, "name": "person", "keypoints": list(COCO17.keypoints), "skeleton": [[16, 14]]}],
}

MPII_JSON_BASE = [
    {"image": "015601864.jpg", "joints": RNG.uniform(1, 300, (16, 2)).round(1).tolist(),
     "joints_vis": [1] * 14 + [0, 1], "center": [120.0, 200.0], "scale": 3.5},
    {"image": "015601864.jpg", "joints": RNG.uniform(1, 300, (16, 2)).round(1).tolist(),
     "joints_vis": [1] * 16, "center": [20.0, 30.0], "scale": 1.2},
    {"image": "005808361.jpg", "joints": RNG.uniform(1, 300, (16, 2)).round(1).tolist(),
     "joints_vis": [0, 1] * 8, "center": [50.0, 60.0], "scale": 2.0},
]
assert len(MPII16_KEYPOINTS) == 16

POSETRACK_BASE = {
    "images": [{"id": 10000010000 + i, "file_name": f"images/val/000001/{i:06d}.jpg", "vid_id": "000001",
                "frame_id": 10000010000 + i, "is_labeled": i != 1, "width": 1280, "height": 720} for i in range(3)],
    "annotations": [
        {"id": 1, "image_id": 10000010000, "track_id": 0, "keypoints": _flat_kp(17, (0, 1)),
         "bbox": [100.0, 50.0, 80.0, 200.0], "bbox_head": [120.0, 50.0, 30.0, 35.0]},
        {"id": 2, "image_id": 10000010002, "track_id": 0, "keypoints": _flat_kp(17, (0, 1)),
         "bbox": [105.0, 52.0, 80.0, 200.0], "bbox_head": [125.0, 52.0, 30.0, 35.0]},
        {"id": 3, "image_id": 10000010002, "track_id": 1, "keypoints": _flat_kp(17, (0, 1)),
         "bbox": [400.0, 50.0, 70.0, 190.0]},
    ],
    "categories": [{"id": 1, "name": "person", "keypoints": list(POSETRACK17_KEYPOINTS)}],
}


def _hie_rect(tid, n):
    return {"x1": [10.0 + tid], "y1": [20.0], "x2": [110.0], "y2": [220.0], "track_id": [tid],
            "annopoints": [{"point": [
                {"id": [k], "x": [float(20 + 5 * k)], "y": [float(30 + 7 * k)], "is_visible": [[0, 1, -1][k % 3]]}
                for k in range(n)]}]}


HIE_BASE = {"annolist": [
    {"image": [{"name": "000001.jpg"}], "annorect": [_hie_rect(0, 14), _hie_rect(3, 5)]},
    {"image": [{"name": "000002.jpg"}], "annorect": []},
    {"image": [{"name": "000003.jpg"}], "annorect": [_hie_rect(3, 9)]},
]}


@FUZZ
@given(case=json_case(COCO_BASE))
def test_fuzz_read_coco(case):
    data, edits = case
    note(edits)
    with workdir() as d:
        p = d / "person_keypoints_val2017.json"
        p.write_bytes(data)
        ds = expect_clean(lambda: read_coco(p, d / "val2017"), p)
        if ds is not None:
            check_dataset(ds)


@FUZZ
@given(case=json_case(MPII_JSON_BASE))
def test_fuzz_read_mpii_json(case):
    data, edits = case
    note(edits)
    with workdir() as d:
        p = d / "valid.json"
        p.write_bytes(data)
        ds = expect_clean(lambda: read_mpii_json(p, d / "images"), p)
        if ds is not None:
            check_dataset(ds)
            for fr in ds.frames:
                for per in fr.persons:
                    assert per.extra["scale"] > 0 and np.isfinite(per.extra["center"]).all()


@FUZZ
@given(case=json_case(POSETRACK_BASE))
def test_fuzz_read_posetrack18(case):
    data, edits = case
    note(edits)
    with workdir() as d:
        (d / "val").mkdir()
        p = d / "val" / "000001_mpii_test.json"
        p.write_bytes(data)
        for target in (p, d / "val"):
            ds = expect_clean(lambda: read_posetrack18(target, d), p)
            if ds is not None:
                check_dataset(ds)
                assert all(per.track_id is not None for fr in ds.frames for per in fr.persons)


@FUZZ
@given(case=json_case(HIE_BASE))
def test_fuzz_read_hie(case):
    data, edits = case
    note(edits)
    with workdir() as d:
        p = d / "hiephone_01.json"
        p.write_bytes(data)
        ds = expect_clean(lambda: read_hie(p, d / "images"), p)
        if ds is not None:
            check_dataset(ds)
            assert all(per.track_id is not None for fr in ds.frames for per in fr.persons)
