"""read_coco on a tiny COCO person-keypoints JSON written in the real layout."""

import json
from pathlib import Path

import numpy as np
import pytest

from vidpose.data.readers import read_coco
from vidpose.errors import InputError
from vidpose.skeletons import COCO17


def _coco(tmp_path: Path, **changes) -> Path:
    kps = [0.0] * 51
    kps[0:3] = [10.5, 20.0, 2]  # nose visible
    kps[15:18] = [30.0, 40.0, 1]  # left shoulder occluded
    kps[3:6] = [99.0, 99.0, 0]  # left eye unlabelled, junk coordinates
    data = {
        "images": [
            {"id": 7, "file_name": "000007.jpg", "width": 640, "height": 480},
            {"id": 8, "file_name": "000008.jpg", "width": 320, "height": 240},
        ],
        "annotations": [
            {"id": 100, "image_id": 7, "category_id": 1, "keypoints": kps, "num_keypoints": 2,
             "bbox": [5.0, 6.0, 50.0, 60.0], "area": 1234.5, "iscrowd": 0},
            {"id": 101, "image_id": 7, "category_id": 1, "keypoints": [0] * 51, "num_keypoints": 0,
             "bbox": [0, 0, 10, 10], "area": 80.0, "iscrowd": 1},
        ],
        "categories": [{"id": 1, "name": "person", "keypoints": list(COCO17.keypoints), "skeleton": []}],
    }
    data.update(changes)
    p = tmp_path / "person_keypoints_val.json"
    p.write_text(json.dumps(data))
    return p


def test_read_coco_values(tmp_path):
    ds = read_coco(_coco(tmp_path), tmp_path / "img")
    assert ds.name == "coco" and ds.skeleton == "coco17" and ds.keypoint_names == COCO17.keypoints
    assert len(ds) == 2
    f0, f1 = ds.frames
    assert f0.image == tmp_path / "img" / "000007.jpg" and f0.image_id == 7
    assert (f0.width, f0.height) == (640, 480)
    assert f1.persons == [] and f1.index == 1  # image without people kept
    p, crowd = f0.persons
    assert p.keypoints.shape == (17, 3)
    np.testing.assert_allclose(p.keypoints[0], [10.5, 20.0, 2])
    np.testing.assert_allclose(p.keypoints[5], [30.0, 40.0, 1])
    np.testing.assert_allclose(p.keypoints[1], [0, 0, 0])  # unlabelled -> zeroed
    np.testing.assert_allclose(p.bbox, [5, 6, 55, 66])
    assert p.area == 1234.5 and p.extra == {"iscrowd": 0, "id": 100, "num_keypoints": 2}
    assert crowd.extra["iscrowd"] == 1  # crowd regions are kept, marked


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda d: d["annotations"][0].pop("keypoints"), r"annotations\[0\]\.keypoints: missing"),
        (lambda d: d["annotations"][0].__setitem__("keypoints", [0] * 48), r"annotations\[0\]\.keypoints: expected 51"),
        (lambda d: d["annotations"][0]["keypoints"].__setitem__(0, float("nan")), r"keypoints: non-finite"),
        (lambda d: d["annotations"][0]["keypoints"].__setitem__(2, 3), r"keypoints: visibility flag 3"),
        (lambda d: d["annotations"][1].__setitem__("image_id", 99), r"annotations\[1\]\.image_id: 99 is not an id"),
        (lambda d: d["annotations"][0].__setitem__("bbox", [1, 2, 3]), r"annotations\[0\]\.bbox: expected shape 4"),
        (lambda d: d.pop("categories"), r"categories: missing"),
    ],
)
def test_read_coco_malformed(tmp_path, mutate, match):
    p = _coco(tmp_path)
    d = json.loads(p.read_text())
    mutate(d)
    p.write_text(json.dumps(d))
    with pytest.raises(InputError, match=match) as e:
        read_coco(p, tmp_path)
    assert str(p) in str(e.value)


def test_read_coco_missing_file_and_bad_json(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_coco(tmp_path / "nope.json", tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        read_coco(bad, tmp_path)
