"""The faults the fuzz tests found, pinned as plain tests: each must be an InputError naming
the file and the field (before the fixes each escaped as another exception or was accepted)."""

import copy
import json

import numpy as np
import pytest
import scipy.io

from test_fuzz_eval import COCO_GT, COCO_RES, POSES, SYNTH
from test_fuzz_json_readers import COCO_BASE, HIE_BASE, MPII_JSON_BASE, POSETRACK_BASE
from vidpose.data.readers import (
    read_coco,
    read_h36m_npz,
    read_hie,
    read_jhmdb,
    read_lsp,
    read_mpi_inf_3dhp,
    read_mpii_json,
    read_posetrack18,
)
from vidpose.errors import InputError
from vidpose.metrics.evaluate import evaluate


def _edit(base, path, value):
    d = copy.deepcopy(base)
    node = d
    for k in path[:-1]:
        node = node[k]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return d


def _write(tmp_path, name, doc):
    p = tmp_path / name
    p.write_text(json.dumps(doc))
    return p


@pytest.mark.parametrize("path, value, field", [
    (("images", 1, "id"), [2], r"images\[1\]\.id: expected an integer or string id"),
    (("annotations", 0, "image_id"), [1], r"annotations\[0\]\.image_id: expected an integer or string id"),
    (("annotations", 0, "keypoints", 0), 10**400, r"annotations\[0\]\.keypoints: expected numbers"),
    (("annotations", 0, "keypoints", 0), "131.0", r"annotations\[0\]\.keypoints: expected numbers"),
    (("annotations", 0, "keypoints", 0), True, r"annotations\[0\]\.keypoints: expected numbers, got a boolean"),
    (("annotations", 0, "keypoints", 0), 1e300, r"annotations\[0\]\.keypoints: value 1e\+300 .* larger than 1e\+12"),
    (("annotations", 0, "area"), -5.0, r"annotations\[0\]\.area: expected a non-negative area"),
    (("images", 0, "width"), 0, r"images\[0\]\.width: expected a positive size"),
    (("images", 0, "file_name"), {"a": 1}, r"images\[0\]\.file_name: expected a non-empty string"),
    (("categories", 0, "keypoints"), "nose", r"categories\[0\]\.keypoints: expected a non-empty list"),
])
def test_coco_reader(tmp_path, path, value, field):
    p = _write(tmp_path, "person_keypoints.json", _edit(COCO_BASE, path, value))
    with pytest.raises(InputError, match=field) as e:
        read_coco(p, tmp_path)
    assert str(e.value).startswith(f"{p}: ")


def test_other_json_readers(tmp_path):
    p = _write(tmp_path, "valid.json", _edit(MPII_JSON_BASE, (0, "scale"), 0.0))
    with pytest.raises(InputError, match=r"valid\.json: \[0\]\.scale: expected a positive scale"):
        read_mpii_json(p, tmp_path)
    p = _write(tmp_path, "hie.json", _edit(HIE_BASE, ("annolist", 2, "annorect", 0, "x2"), [0.0]))
    with pytest.raises(InputError, match=r"hie\.json: annolist\[2\]\.annorect\[0\]\.x1/y1/x2/y2: x2 < x1"):
        read_hie(p, tmp_path)
    p = _write(tmp_path, "pt.json", _edit(POSETRACK_BASE, ("annotations", 2, "id"), float("nan")))
    with pytest.raises(InputError, match=r"pt\.json: annotations\[2\]\.id: expected an integer or string id"):
        read_posetrack18(p, tmp_path)
    p = _write(tmp_path, "pt2.json", _edit(POSETRACK_BASE, ("images", 0, "frame_id"), "first"))
    with pytest.raises(InputError, match=r"pt2\.json: images\[0\]\.frame_id: expected"):
        read_posetrack18(p, tmp_path)


def test_mat_readers(tmp_path):
    p = tmp_path / "joints.mat"
    scipy.io.savemat(p, {"joints": np.zeros((3, 14, 5))})
    p.write_bytes(p.read_bytes()[:20])
    with pytest.raises(InputError, match=r"joints\.mat: not a readable MATLAB file"):
        read_lsp(p, tmp_path)
    (tmp_path / "j" / "sub_splits").mkdir(parents=True)
    split = tmp_path / "j" / "sub_splits" / "catch_test_split1.txt"
    split.write_bytes("clip_a.avi 1\n".encode("utf-16"))
    with pytest.raises(InputError, match=r"catch_test_split1\.txt: text: not UTF-8"):
        read_jhmdb(tmp_path / "j", 1)
    seq = tmp_path / "m" / "S1" / "Seq1"
    seq.mkdir(parents=True)
    cell = np.empty((2, 1), dtype=object)
    cell3 = np.empty((2, 1), dtype=object)
    for i in range(2):
        cell[i, 0], cell3[i, 0] = np.zeros((2, 56)), np.zeros((2, 84))
    scipy.io.savemat(seq / "annot.mat", {"annot2": cell, "annot3": cell3, "cameras": np.array([[0.0, np.nan]])})
    with pytest.raises(InputError, match=r"annot\.mat: cameras: non-finite"):
        read_mpi_inf_3dhp(tmp_path / "m")


def test_npz_reader(tmp_path):
    p3 = tmp_path / "data_3d.npz"
    np.savez(p3, positions_3d=np.array({"S1": {"Walk": np.zeros((3, 17, 3))}}, dtype=object))
    p2 = tmp_path / "data_2d.npz"
    np.savez(p2, positions_2d=np.array({"S1": {"Walk": [np.zeros((3, 17, 2))]}}, dtype=object),
             metadata=np.array({"layout_name": "h36m", "num_joints": float("inf")}, dtype=object))
    with pytest.raises(InputError, match=r"data_2d\.npz: metadata\.num_joints: non-finite"):
        read_h36m_npz(p3, p2)
    # a zip entry with an unsupported compression method (damaged flags): NotImplementedError before
    raw = bytearray(p3.read_bytes())
    central = raw.index(b"PK\x01\x02")  # the central directory entry: compression method at +10
    raw[central + 10:central + 12] = (99).to_bytes(2, "little")
    p3.write_bytes(bytes(raw))
    with pytest.raises(NotImplementedError):  # what numpy lets through on such a file
        with np.load(p3, allow_pickle=True) as z:
            z["positions_3d"]
    with pytest.raises(InputError, match=r"data_3d\.npz: not a readable \.npz file"):
        read_h36m_npz(p3)


@pytest.mark.parametrize("which, path, value, field", [
    ("gt", ("annotations", 0, "bbox"), KeyError, r"annotations\[0\]: missing key 'bbox'"),
    ("gt", ("annotations", 0, "num_keypoints"), 0, r"annotations\[0\]\.num_keypoints: 0, but \d+ keypoints"),
    ("gt", ("annotations", 0, "iscrowd"), None, r"annotations\[0\]\.iscrowd: expected 0 or 1"),
    ("gt", ("annotations", 0, "keypoints", 2), 3, r"annotations\[0\]\.keypoints\[2\]: visibility must be 0, 1 or 2"),
    ("gt", ("annotations", 0, "category_id"), 7, r"annotations\[0\]\.category_id: 7 is not in 'categories'"),
    ("res", (0, "score"), True, r"\[0\]\.score: expected a number"),
    ("res", (0, "keypoints", 0), 10**400, r"\[0\]\.keypoints\[0\]: expected a finite number"),
    ("res", (0, "image_id"), [100], r"\[0\]\.image_id: expected an integer or string id"),
])
def test_eval_coco(tmp_path, which, path, value, field):
    gt = _edit(COCO_GT, path, value) if which == "gt" else COCO_GT
    res = _edit(COCO_RES, path, value) if which == "res" else COCO_RES
    gp, rp = _write(tmp_path, "gt.json", gt), _write(tmp_path, "res.json", res)
    with pytest.raises(InputError, match=field) as e:
        evaluate(gp, rp, ["oks_ap"])
    assert str(gp if which == "gt" else rp) in str(e.value)


def test_eval_video_and_npz(tmp_path):
    gp = _write(tmp_path, "annotations.json", _edit(SYNTH, ("skeleton", "name"), ["coco17"]))
    pp = _write(tmp_path, "poses.json", POSES)
    with pytest.raises(InputError, match=r"annotations\.json: skeleton\.name: expected a skeleton name"):
        evaluate(gp, pp, ["pck@0.2"])
    gp = _write(tmp_path, "annotations.json", _edit(SYNTH, ("frames", 0, "persons", 0, "track_id"), 10**30))
    with pytest.raises(InputError, match=r"annotations\.json: frames\[0\]\.persons\[0\]\.track_id: expected an integer"):
        evaluate(gp, pp, ["mota"])
    gp = _write(tmp_path, "annotations.json", _edit(SYNTH, ("frames", 0, "persons", 0, "bbox", 0), -1e300))
    with pytest.raises(InputError, match=r"annotations\.json: frames\[0\]\.persons\[0\]\.bbox: value of magnitude"):
        evaluate(gp, pp, ["pck@0.2"])
    f = tmp_path / "p.npz"
    np.savez(f, gt=np.zeros((3, 17, 3)), pred=np.full((3, 17, 3), 1e300))
    with pytest.raises(InputError, match=r"p\.npz: array 'pred' has values of magnitude above 1e\+12"):
        evaluate(f, None, ["p_mpjpe"])  # was a LinAlgError from the SVD of overflowing values
