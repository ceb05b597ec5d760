"""Penn Action labels/*.mat and Sub-JHMDB joint_positions.mat + split files."""

import numpy as np
import pytest
import scipy.io

from vidpose.data.readers import JHMDB15_KEYPOINTS, PENN13_KEYPOINTS, read_jhmdb, read_penn_action
from vidpose.errors import InputError


def _penn_label(t=3, **changes):
    x = np.arange(t * 13, dtype=float).reshape(t, 13) + 1
    y = x + 100
    vis = np.ones((t, 13))
    vis[1, 4] = 0
    d = {
        "action": "tennis_serve", "pose": "back", "x": x, "y": y, "visibility": vis,
        "train": np.array([[-1]]), "bbox": np.tile([10.0, 20.0, 110.0, 220.0], (t, 1)),
        "dimensions": np.array([[480, 640, t]]), "nframes": np.array([[t]]),
    }
    d.update(changes)
    return d


def test_read_penn_action_values(tmp_path):
    (tmp_path / "labels").mkdir()
    scipy.io.savemat(tmp_path / "labels" / "0002.mat", _penn_label(3))
    scipy.io.savemat(tmp_path / "labels" / "0001.mat",
                     _penn_label(2, train=np.array([[1]]), bbox=np.array([[1.0, 2.0, 3.0, 4.0]])))
    ds = read_penn_action(tmp_path)
    assert ds.skeleton == "penn13" and ds.keypoint_names == PENN13_KEYPOINTS
    assert ds.sequences == {"0001": [0, 1], "0002": [2, 3, 4]}
    f = ds.frames[3]  # sequence 0002, frame 1
    assert f.image == tmp_path / "frames" / "0002" / "000002.jpg" and f.index == 1
    assert (f.width, f.height) == (640, 480) and f.image_id == "0002/2"
    kp = f.persons[0].keypoints
    np.testing.assert_allclose(kp[4], [18, 118, 1])  # visibility 0 -> 1, coordinates kept
    np.testing.assert_allclose(kp[0], [14, 114, 2])
    np.testing.assert_allclose(f.persons[0].bbox, [10, 20, 110, 220])
    assert f.persons[0].extra == {"train": False, "action": "tennis_serve", "pose": "back"}
    # The 2-frame clip has one bbox row: the second frame is marked, not dropped.
    assert ds.frames[0].persons[0].extra["train"] is True
    assert ds.frames[1].persons[0].bbox is None and ds.frames[1].persons[0].extra["bbox_missing"] is True


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"x": np.zeros((3, 12))}, r"0001\.mat: x: expected shape 3x13"),
        ({"visibility": np.full((3, 13), 2.0)}, r"0001\.mat: visibility: visibility flag 2"),
        ({"y": np.full((3, 13), np.nan)}, r"0001\.mat: y: non-finite"),
        ({"train": np.array([[0]])}, r"0001\.mat: train: expected 1 \(train\) or -1"),
        ({"bbox": np.zeros((4, 4))}, r"0001\.mat: bbox: has 4 rows for 3 frames"),
    ],
)
def test_read_penn_action_malformed(tmp_path, changes, match):
    (tmp_path / "labels").mkdir()
    scipy.io.savemat(tmp_path / "labels" / "0001.mat", _penn_label(3, **changes))
    with pytest.raises(InputError, match=match):
        read_penn_action(tmp_path)


def test_read_penn_action_missing_variable_and_dir(tmp_path):
    with pytest.raises(InputError, match=r"labels: Penn Action label not found"):
        read_penn_action(tmp_path)
    (tmp_path / "labels").mkdir()
    d = _penn_label(2)
    del d["nframes"]
    scipy.io.savemat(tmp_path / "labels" / "0001.mat", d)
    with pytest.raises(InputError, match=r"0001\.mat: nframes: missing variable"):
        read_penn_action(tmp_path)


def _jhmdb(tmp_path, pos_by_video, split_lines):
    for (action, video), pos in pos_by_video.items():
        d = tmp_path / "joint_positions" / action / video
        d.mkdir(parents=True)
        scipy.io.savemat(d / "joint_positions.mat", {"pos_img": pos, "scale": np.ones((1, pos.shape[-1]))})
    sd = tmp_path / "sub_splits"
    sd.mkdir()
    for name, lines in split_lines.items():
        (sd / name).write_text("".join(line + "\n" for line in lines))


def test_read_jhmdb_values(tmp_path):
    pos = np.arange(2 * 15 * 3, dtype=float).reshape(2, 15, 3)
    _jhmdb(
        tmp_path,
        {("catch", "Ball_catch_1"): pos, ("catch", "Ball_catch_2"): pos + 1000, ("run", "Run_1"): pos * 2},
        {
            "catch_test_split1.txt": ["Ball_catch_1.avi 1", "Ball_catch_2.avi 2"],
            "run_test_split1.txt": ["Run_1.avi 2"],
            "catch_test_split2.txt": ["Ball_catch_1.avi 2"],
        },
    )
    ds = read_jhmdb(tmp_path, split=1)
    assert ds.skeleton == "jhmdb15" and ds.keypoint_names == JHMDB15_KEYPOINTS
    assert ds.sequences == {"catch/Ball_catch_1": [0, 1, 2], "catch/Ball_catch_2": [3, 4, 5], "run/Run_1": [6, 7, 8]}
    kp = ds.frames[1].persons[0].keypoints  # frame 1 of Ball_catch_1
    np.testing.assert_allclose(kp[:, 0], pos[0, :, 1])
    np.testing.assert_allclose(kp[:, 1], pos[1, :, 1])
    assert (kp[:, 2] == 2).all()
    assert ds.frames[1].image == tmp_path / "Rename_Images" / "catch" / "Ball_catch_1" / "00002.png"
    assert ds.frames[0].persons[0].extra == {"train": True, "action": "catch", "scale": 1.0}
    assert ds.frames[3].persons[0].extra["train"] is False
    ds2 = read_jhmdb(tmp_path, split=2)
    assert list(ds2.sequences) == ["catch/Ball_catch_1"] and ds2.frames[0].persons[0].extra["train"] is False


@pytest.mark.parametrize(
    "pos, lines, match",
    [
        (np.zeros((2, 14, 3)), ["V_1.avi 1"], r"joint_positions\.mat: pos_img: expected 2 x 15 x T"),
        (np.full((2, 15, 3), np.inf), ["V_1.avi 1"], r"joint_positions\.mat: pos_img: non-finite"),
        (np.zeros((2, 15, 3)), ["V_1.avi 3"], r"a_test_split1\.txt: line 1: expected '<video>\.avi 1\|2'"),
        (np.zeros((2, 15, 3)), ["V_2.avi 1"], r"a_test_split1\.txt: V_2: listed clip has no annotation file"),
    ],
)
def test_read_jhmdb_malformed(tmp_path, pos, lines, match):
    _jhmdb(tmp_path, {("a", "V_1"): pos}, {"a_test_split1.txt": lines})
    with pytest.raises(InputError, match=match):
        read_jhmdb(tmp_path, split=1)


def test_read_jhmdb_bad_split_argument(tmp_path):
    _jhmdb(tmp_path, {("a", "V_1"): np.zeros((2, 15, 2))}, {"a_test_split1.txt": ["V_1.avi 1"]})
    with pytest.raises(InputError, match="split must be 1, 2 or 3"):
        read_jhmdb(tmp_path, split=4)
    with pytest.raises(InputError, match=r"no split files \*_test_split2\.txt"):
        read_jhmdb(tmp_path, split=2)
