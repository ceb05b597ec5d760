"""BVH export of lifted H36M-17 tracks: the file parses back, its forward kinematics gives back the
input positions (constant bone lengths: the DeepMimic mocap through a camera), and bad input is named."""

from __future__ import annotations

import numpy as np
import pytest

from vidpose.errors import InputError
from vidpose.io.bvh import CM, NAMES, PARENTS, TO_BVH, bvh_positions, poses_json_to_bvh, read_bvh, write_bvh


def _rigid_track(t: int = 30) -> np.ndarray:
    """H36M-17 joints (T, 17, 3), camera metres, of a body with constant bone lengths: forward kinematics
    of the T-pose rest skeleton with random joint rotations that drift over time."""
    from scipy.spatial.transform import Rotation

    from vidpose.io.bvh import REST_DIRECTIONS

    rng = np.random.default_rng(0)
    offsets = REST_DIRECTIONS * rng.uniform(10, 45, (17, 1))  # cm
    rv0, drift = rng.normal(size=(17, 3)), rng.normal(size=(17, 3)) * 0.03
    out = np.zeros((t, 17, 3))
    for f in range(t):
        g = [None] * 17
        for j in range(17):
            local = Rotation.from_rotvec(0.6 * rv0[j] + f * drift[j]).as_matrix()
            parent = g[PARENTS[j]] if PARENTS[j] >= 0 else np.eye(3)
            g[j] = parent @ local
            if j:
                out[f, j] = out[f, PARENTS[j]] + parent @ offsets[j]
        out[f] += np.array([10.0, 90.0, -300.0]) + f
    return out @ TO_BVH.T / CM  # BVH centimetres, Y up -> camera metres


def test_bvh_round_trip_reproduces_positions(tmp_path):
    x = _rigid_track()
    path = write_bvh(tmp_path / "a.bvh", x, 30.0)
    b = read_bvh(path)
    assert b["names"] == list(NAMES) and b["parents"] == list(PARENTS)
    assert b["frame_time"] == pytest.approx(1 / 30, abs=1e-6) and b["motion"].shape == (30, 6 + 3 * 16)
    got = bvh_positions(b)
    want = x @ TO_BVH.T * CM
    assert np.abs(got - want).max() < 0.05  # centimetres


def test_bvh_of_the_mocap_seen_by_a_camera(tmp_path):
    """A real motion (the first held-out mocap clip) through a fixed virtual camera."""
    from vidpose.data.loaders import DataConfig, load_sequences
    from vidpose.objectives.sequences import SequenceWindows

    ds = SequenceWindows(load_sequences(DataConfig(dataset="mocap"), "test")[:1], 3, 17, "t")
    y = ds.targets[0][:60].astype(np.float64)
    got = bvh_positions(read_bvh(write_bvh(tmp_path / "m.bvh", y, 30.0)))
    want = y @ TO_BVH.T * CM
    # H36M-17's derived joints (spine, thorax, head) change length a little: a few cm at most.
    assert np.median(np.abs(got - want)) < 1.0 and np.abs(got - want).max() < 8.0


def test_bvh_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match=r"a.bvh: BVH export needs H36M-17 joints \(T, 17, 3\), got \(4, 33, 3\)"):
        write_bvh(tmp_path / "a.bvh", np.zeros((4, 33, 3)), 30)
    with pytest.raises(InputError, match="fps must be positive"):
        write_bvh(tmp_path / "a.bvh", np.zeros((4, 17, 3)), 0)
    bad = tmp_path / "bad.bvh"
    bad.write_text("HIERARCHY\nROOT a\n{\nOFFSET 0 0 0\nCHANNELS 3 Xposition Yposition Zposition\n}\n"
                   "MOTION\nFrames: 2\nFrame Time: 0.1\n1 2 3\n")
    with pytest.raises(InputError, match="bad.bvh: .*MOTION has 3 values, expected 2 frames x 3 channels"):
        read_bvh(bad)
    bad.write_text("HIERARCHY\nROOT a\n{\nOFFSET 0 x 0\n")
    with pytest.raises(InputError, match="bad.bvh: malformed BVH"):
        read_bvh(bad)
    bad.write_text("HIERARCHY\nROOT")
    with pytest.raises(InputError, match="bad.bvh: ends early"):
        read_bvh(bad)
    with pytest.raises(InputError, match="missing.bvh: cannot read"):
        read_bvh(tmp_path / "missing.bvh")
    pj = tmp_path / "poses.json"
    pj.write_text('{"format": "vidpose.poses/1", "skeleton": {"name": "coco17"}, "frames": []}')
    with pytest.raises(InputError, match="poses.json: track 0 has no 3D keypoints"):
        poses_json_to_bvh(pj, 0, tmp_path / "x.bvh")
    pj.write_text('{"format": "vidpose.poses/1", "skeleton": {"name": "hie14"}, "frames": [{"persons": '
                  '[{"track_id": 0, "keypoints_3d": [[0, 0, 0]]}]}]}')
    with pytest.raises(InputError, match="poses.json: BVH export needs H36M-17 3D keypoints: .*hie14"):
        poses_json_to_bvh(pj, 0, tmp_path / "x.bvh")


def test_channels_stay_continuous_through_a_half_turn(tmp_path):
    """A body turning steadily about the vertical through ±180°: every channel moves by small steps
    (no 360° jump where an angle wraps), and the file still replays the input."""
    from scipy.spatial.transform import Rotation

    x0 = _rigid_track(1)[0]
    root = x0[0].copy()
    frames = []
    for f in range(40):
        r = Rotation.from_euler("y", 120 + 3 * f, degrees=True).as_matrix()  # camera axes: y is vertical
        frames.append((x0 - root) @ r.T + root)
    x = np.stack(frames)
    b = read_bvh(write_bvh(tmp_path / "turn.bvh", x, 30.0))
    assert np.abs(np.diff(b["motion"][:, 3:], axis=0)).max() < 20.0  # degrees per frame
    assert np.abs(bvh_positions(b) - x @ TO_BVH.T * CM).max() < 0.05


def test_poses_json_track_with_a_gap_holds_the_pose_like_the_run_writer(tmp_path):
    import json
    import warnings

    from vidpose.io.bvh import BvhWriter

    x = _rigid_track(12)
    frames = [{"index": i, "time": i / 30, "persons": [] if 4 <= i < 7 else
               [{"track_id": 3, "keypoints_3d": x[i].tolist()}]} for i in range(12)]
    pj = tmp_path / "poses.json"
    pj.write_text(json.dumps({"format": "vidpose.poses/1", "skeleton": {"name": "h36m17"},
                              "video": {"fps": 30.0}, "frames": frames}))
    b = read_bvh(poses_json_to_bvh(pj, 3, tmp_path / "a.bvh"))
    assert b["motion"].shape[0] == 12  # frames 4-6 are kept, holding frame 3's pose
    np.testing.assert_array_equal(b["motion"][4], b["motion"][3])
    w = BvhWriter(tmp_path, "run", "h36m17", 30.0)
    for fr in frames:
        w.write_frame(fr)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # evenly spaced frames: no timing warning
        w.close()
    assert (tmp_path / "run_track3.bvh").read_text() == (tmp_path / "a.bvh").read_text()
    # frames that are not evenly spaced (a variable frame rate) are named: BVH cannot hold them
    w = BvhWriter(tmp_path / "vfr", "run", "h36m17", 30.0)
    (tmp_path / "vfr").mkdir()
    for i, fr in enumerate(frames):
        w.write_frame({**fr, "time": i / 30 if i < 6 else 6 / 30 + (i - 6) / 15})
    with pytest.warns(UserWarning, match="not evenly spaced"):
        w.close()
