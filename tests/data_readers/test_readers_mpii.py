"""MPII: the official nested-struct .mat (written with scipy.io.savemat) and the JSON variant."""

import json

import numpy as np
import pytest
import scipy.io

from vidpose.data.readers import MPII16_KEYPOINTS, read_mpii_json, read_mpii_mat
from vidpose.errors import InputError

EMPTY = np.zeros((0, 0))  # MATLAB's [] for an empty field of a struct array


def struct_array(elems):
    """A 1 x N MATLAB struct array: every element has every field, missing ones are []."""
    names = []
    for e in elems:
        names += [k for k in e if k not in names]
    arr = np.zeros((1, len(elems)), dtype=[(n, object) for n in names])
    for i, e in enumerate(elems):
        for n in names:
            arr[0, i][n] = e.get(n, EMPTY)
    return arr


def cell_column(items):
    c = np.empty((len(items), 1), dtype=object)
    for i, x in enumerate(items):
        c[i, 0] = x
    return c


def point(jid, x, y, vis):
    return {"id": jid, "x": x, "y": y, "is_visible": vis}


def release(annolist=None, img_train=None, single=None, with_act=True):
    p0 = struct_array([point(0, 10.0, 11.0, 1), point(9, 20.0, 21.0, "0"), point(8, 30.0, 31.0, EMPTY),
                       point(15, 40.0, 41.0, "1")])
    person0 = {"x1": 100.0, "y1": 101.0, "x2": 140.0, "y2": 150.0, "annopoints": {"point": p0},
               "scale": 3.5, "objpos": {"x": 120.0, "y": 200.0}}
    person1 = {"x1": 1.0, "y1": 2.0, "x2": 3.0, "y2": 4.0,
               "annopoints": {"point": struct_array([point(6, 5.0, 6.0, 0)])}, "scale": 1.0,
               "objpos": {"x": 7.0, "y": 8.0}}
    test_person = {"scale": 2.0, "objpos": {"x": 50.0, "y": 60.0}}  # test set: no points, no head box
    if annolist is None:
        annolist = struct_array([
            {"image": {"name": "015601864.jpg"}, "annorect": struct_array([person0, person1]),
             "frame_sec": 11.0, "vididx": 1.0},
            {"image": {"name": "015599452.jpg"}, "annorect": struct_array([test_person])},
            {"image": {"name": "005808361.jpg"}, "annorect": EMPTY},
        ])
    rel = {
        "annolist": annolist,
        "img_train": np.array([[1, 0, 1]]) if img_train is None else img_train,
        "single_person": cell_column([np.array([[2]]), np.array([[1]]), EMPTY]) if single is None else single,
        "version": "12",
    }
    if with_act:
        rel["act"] = struct_array([
            {"act_name": "curling", "cat_name": "sports", "act_id": 1},
            {"act_name": EMPTY, "cat_name": EMPTY, "act_id": -1},
            {"act_name": "", "cat_name": "", "act_id": -1},
        ]).T
    return rel


def test_read_mpii_mat_values(tmp_path):
    p = tmp_path / "mpii_human_pose_v1_u12_1.mat"
    scipy.io.savemat(p, {"RELEASE": release()})
    ds = read_mpii_mat(p, tmp_path / "images")
    assert ds.skeleton == "mpii16" and ds.keypoint_names == MPII16_KEYPOINTS and len(ds) == 3
    f0, f1, f2 = ds.frames
    assert f0.image == tmp_path / "images" / "015601864.jpg" and f0.image_id == "015601864.jpg"
    a, b = f0.persons
    np.testing.assert_allclose(a.keypoints[0], [10, 11, 2])  # is_visible 1 -> 2
    np.testing.assert_allclose(a.keypoints[9], [20, 21, 1])  # '0' (string) -> 1
    np.testing.assert_allclose(a.keypoints[8], [30, 31, 2])  # empty -> 2
    np.testing.assert_allclose(a.keypoints[15], [40, 41, 2])  # '1' (string) -> 2
    assert (a.keypoints[[1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13, 14]] == 0).all()  # missing points
    np.testing.assert_allclose(a.extra["head_box"], [100, 101, 140, 150])
    np.testing.assert_allclose(a.extra["center"], [120, 200])
    assert a.extra["scale"] == 3.5 and a.extra["img_train"] is True and a.extra["annotated"] is True
    assert a.extra["single_person"] is False and b.extra["single_person"] is True
    assert a.extra["act_name"] == "curling" and a.extra["act_id"] == 1
    np.testing.assert_allclose(b.keypoints[6], [5, 6, 1])
    (t,) = f1.persons
    assert t.extra["annotated"] is False and "head_box" not in t.extra and t.extra["img_train"] is False
    assert (t.keypoints == 0).all() and t.extra["single_person"] is True and t.extra["act_name"] == ""
    assert f2.persons == []


def test_read_mpii_mat_single_image_single_point(tmp_path):
    # MATLAB 1x1 structs/cells squeeze to the element itself on loading; check that path.
    rect = {"x1": 1.0, "y1": 2.0, "x2": 3.0, "y2": 4.0, "annopoints": {"point": struct_array([point(7, 8.0, 9.0, 1)])}}
    rel = release(annolist=struct_array([{"image": {"name": "a.jpg"}, "annorect": struct_array([rect])}]),
                  img_train=np.array([[1]]), single=cell_column([np.array([[1]])]), with_act=False)
    p = tmp_path / "one.mat"
    scipy.io.savemat(p, {"RELEASE": rel})
    ds = read_mpii_mat(p, tmp_path)
    (person,) = ds.frames[0].persons
    np.testing.assert_allclose(person.keypoints[7], [8, 9, 2])
    assert person.extra["single_person"] is True and "act_name" not in person.extra


def _bad_point_release(pt):
    rect = {"x1": 1.0, "y1": 2.0, "x2": 3.0, "y2": 4.0, "annopoints": {"point": struct_array(pt)}}
    return release(annolist=struct_array([{"image": {"name": "a.jpg"}, "annorect": struct_array([rect])}]),
                   img_train=np.array([[1]]), single=cell_column([EMPTY]), with_act=False)


@pytest.mark.parametrize(
    "rel, match",
    [
        (_bad_point_release([point(16, 1.0, 2.0, 1)]), r"annorect\(1\)\.annopoints\.point\(1\)\.id: joint id 16"),
        (_bad_point_release([point(3, 1.0, 2.0, 1), point(3, 5.0, 6.0, 1)]), r"point\(2\)\.id: joint id 3 appears twice"),
        (_bad_point_release([point(3, np.nan, 2.0, 1)]), r"point\(1\)\.x: non-finite"),
        (_bad_point_release([point(3, 1.0, 2.0, "yes")]), r"point\(1\)\.is_visible: expected 0, 1 or empty"),
        (_bad_point_release([{"id": 3, "x": 1.0, "is_visible": 1}]), r"point\(1\)\.y: missing field"),
        (release(img_train=np.array([[1, 0]])), r"RELEASE\.img_train: has 2 entries, annolist has 3"),
        (release(single=cell_column([np.array([[3]]), EMPTY, EMPTY])), r"single_person\{1\}: index 3 outside 1\.\.2"),
    ],
)
def test_read_mpii_mat_malformed(tmp_path, rel, match):
    p = tmp_path / "mpii.mat"
    scipy.io.savemat(p, {"RELEASE": rel})
    with pytest.raises(InputError, match=match) as e:
        read_mpii_mat(p, tmp_path)
    assert str(p) in str(e.value)


def test_read_mpii_mat_not_release(tmp_path):
    p = tmp_path / "x.mat"
    scipy.io.savemat(p, {"other": 1})
    with pytest.raises(InputError, match="RELEASE: missing variable"):
        read_mpii_mat(p, tmp_path)


def _json_entries():
    joints = [[float(10 + j), float(20 + j)] for j in range(16)]
    joints[4] = [-1.0, -1.0]
    vis = [1] * 16
    vis[4] = 0
    return [
        {"image": "015601864.jpg", "joints": joints, "joints_vis": vis, "center": [594.0, 257.0], "scale": 3.02},
        {"image": "015601864.jpg", "joints": joints, "joints_vis": [1] * 16, "center": [1.0, 2.0], "scale": 1.5},
        {"image": "015599452.jpg", "joints": joints, "joints_vis": vis, "center": [3.0, 4.0], "scale": 2.0},
    ]


def test_read_mpii_json_values(tmp_path):
    p = tmp_path / "valid.json"
    p.write_text(json.dumps(_json_entries()))
    ds = read_mpii_json(p, tmp_path / "images")
    assert len(ds) == 2 and [len(f.persons) for f in ds.frames] == [2, 1]  # grouped by image
    a = ds.frames[0].persons[0]
    np.testing.assert_allclose(a.keypoints[0], [10, 20, 2])
    np.testing.assert_allclose(a.keypoints[4], [0, 0, 0])  # joints_vis 0 -> 0, -1 coordinates zeroed
    np.testing.assert_allclose(a.extra["center"], [594, 257])
    assert a.extra["scale"] == 3.02 and a.extra["annotated"] is True
    assert ds.frames[1].image == tmp_path / "images" / "015599452.jpg"


def test_read_mpii_json_test_split(tmp_path):
    p = tmp_path / "test.json"
    p.write_text(json.dumps([{"image": "a.jpg", "center": [5.0, 6.0], "scale": 1.0}]))
    (person,) = read_mpii_json(p, tmp_path).frames[0].persons
    assert person.extra["annotated"] is False and (person.keypoints == 0).all()


@pytest.mark.parametrize(
    "i, key, value, match",
    [
        (1, "joints_vis", None, r"\[1\]\.joints_vis: missing"),
        (0, "joints", [[1.0, 2.0]] * 15, r"\[0\]\.joints: expected shape 16x2"),
        (2, "joints_vis", [2] * 16, r"\[2\]\.joints_vis: visibility flag 2"),
        (0, "center", [float("inf"), 1.0], r"\[0\]\.center: non-finite"),
    ],
)
def test_read_mpii_json_malformed(tmp_path, i, key, value, match):
    entries = _json_entries()
    if value is None:
        del entries[i][key]
    else:
        entries[i][key] = value
    p = tmp_path / "train.json"
    p.write_text(json.dumps(entries))
    with pytest.raises(InputError, match=match) as e:
        read_mpii_json(p, tmp_path)
    assert str(p) in str(e.value)
