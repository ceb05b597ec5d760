"""poses.json / poses.csv / .trc: writing, schema round-trip, validation errors."""

import csv
import json

import numpy as np
import pytest

from vidpose.errors import InputError
from vidpose.io import load_poses
from vidpose.io.poses import PosesCsvWriter, PosesJsonWriter, TrcWriter, person_dict, track_arrays
from vidpose.skeletons import COCO17


def _frames(n=3):
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        kp = np.concatenate([rng.uniform(0, 100, (17, 2)), rng.uniform(0, 1, (17, 1))], 1)
        k3 = rng.normal(size=(17, 3))
        persons = [person_dict(7, [1, 2, 30, 40], 0.8, kp, k3)]
        if i == 1:
            persons.append(person_dict(9, [5, 5, 6, 6], 0.5, kp, None))
        out.append({"index": i, "time": i / 25, "persons": persons})
    return out


def _write_json(path, frames):
    w = PosesJsonWriter(path, COCO17)
    for f in frames:
        w.write_frame(f)
    w.video = {"path": "clip.mp4", "width": 100, "height": 80, "fps": 25.0, "num_frames": len(frames)}
    w.close()


def test_json_round_trip(tmp_path):
    frames = _frames()
    _write_json(tmp_path / "poses.json", frames)
    data = load_poses(tmp_path / "poses.json")
    assert data["format"] == "vidpose.poses/1"
    assert data["skeleton"]["keypoints"] == list(COCO17.keypoints)
    assert data["video"]["num_frames"] == 3
    assert data["frames"] == json.loads(json.dumps(frames))
    idx, kps = track_arrays(data, 7)
    assert idx.tolist() == [0, 1, 2] and kps.shape == (3, 17, 3)
    with pytest.raises(InputError, match="track 8"):
        track_arrays(data, 8)


def test_aborted_writer_leaves_nothing(tmp_path):
    w = PosesJsonWriter(tmp_path / "poses.json", COCO17)
    w.write_frame(_frames(1)[0])
    w.abort()
    assert list(tmp_path.iterdir()) == []


def test_person_dict_refuses_nan():
    kp = np.zeros((17, 3))
    kp[3, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        person_dict(1, [0, 0, 1, 1], 1.0, kp, None)


def test_csv_has_one_row_per_keypoint(tmp_path):
    w = PosesCsvWriter(tmp_path / "poses.csv", COCO17)
    for f in _frames():
        w.write_frame(f)
    w.close()
    rows = list(csv.DictReader(open(tmp_path / "poses.csv")))
    assert len(rows) == 4 * 17
    assert rows[0]["keypoint"] == "nose" and rows[0]["track_id"] == "7"
    no3d = [r for r in rows if r["track_id"] == "9"]
    assert all(r["X"] == "" for r in no3d)


def test_trc_per_track_with_y_up(tmp_path):
    w = TrcWriter(tmp_path, "poses", COCO17, 25.0)
    frames = _frames()
    for f in frames:
        w.write_frame(f)
    w.close()
    assert [p.name for p in w.paths] == ["poses_track7.trc"]
    lines = (tmp_path / "poses_track7.trc").read_text().splitlines()
    assert lines[0].startswith("PathFileType\t4")
    assert lines[2].split("\t")[2:5] == ["3", "17", "m"]
    first = lines[6].split("\t")
    assert first[0] == "1" and float(first[1]) == 0.0
    y_json = frames[0]["persons"][0]["keypoints_3d"][0][1]
    assert float(first[3]) == pytest.approx(-y_json, abs=1e-4)


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda d: d.pop("frames"), "frames: missing"),
        (lambda d: d.update(format="other/1"), "format"),
        (lambda d: d["frames"][0]["persons"][0]["keypoints"].pop(), r"keypoints: shape \(16, 3\)"),
        (lambda d: d["frames"][1]["persons"][0]["keypoints"][2].__setitem__(0, float("nan")), "NaN"),
        (lambda d: d["frames"][0]["persons"][0].pop("bbox"), "bbox: missing"),
        (lambda d: d["frames"][0]["persons"][0].__setitem__("keypoints_3d", [[0, 0, 0]]), "keypoints_3d"),
    ],
)
def test_load_poses_names_file_and_field(tmp_path, mutate, match):
    _write_json(tmp_path / "poses.json", _frames())
    data = json.loads((tmp_path / "poses.json").read_text())
    mutate(data)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data).replace("NaN", "NaN"))
    with pytest.raises(InputError, match=match) as e:
        load_poses(bad)
    assert str(bad) in str(e.value)


def test_load_poses_not_json(tmp_path):
    p = tmp_path / "poses.json"
    p.write_text("{truncated")
    with pytest.raises(InputError, match="not valid JSON"):
        load_poses(p)
    with pytest.raises(InputError, match="no such"):
        load_poses(tmp_path / "missing.json")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.__setitem__("frames", [1]),
        lambda d: d["frames"][0]["persons"][0].__setitem__("bbox", ["x", 0, 1, 1]),
        lambda d: d["frames"][0]["persons"][0]["keypoints"].__setitem__(0, [1, 2]),
        lambda d: d["frames"][0]["persons"][0].__setitem__("bbox", 5),
        lambda d: d["frames"][0].__setitem__("persons", {"a": 1}),
    ],
)
def test_load_poses_malformed_types_are_input_errors(tmp_path, mutate):
    _write_json(tmp_path / "poses.json", _frames())
    data = json.loads((tmp_path / "poses.json").read_text())
    mutate(data)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(InputError, match="frames"):
        load_poses(bad)


def test_atomic_files_get_ordinary_permissions(tmp_path):
    import os
    import stat

    from vidpose.io.atomic import atomic_write_text

    atomic_write_text(tmp_path / "a.txt", "x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o666 & ~umask
