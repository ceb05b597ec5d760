"""Human3.6M camera parameters (camera-parameters.json layout): read, attached to the VideoPose3D npz
sequences (camera-frame 3D that projects onto the 2D, image sizes; world frame without 2D), through
the h36m loader with data.camera_file; faults name the file and the entry. Tiny fixtures written here."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vidpose.data.loaders import DataConfig, load_sequences
from vidpose.data.readers.h36m_cameras import read_h36m_cameras
from vidpose.errors import InputError

CAMS = ("54138969", "55011271", "58860488", "60457274")


def _rotation(yaw: float) -> np.ndarray:
    """World (z up) -> camera (x right, y down, z forward) looking horizontally along yaw."""
    f = np.array([np.cos(yaw), np.sin(yaw), 0.0])
    x = np.cross(f, [0.0, 0.0, 1.0])
    return np.stack([x, np.cross(f, x), f])


def _write(tmp_path):
    rng = np.random.default_rng(0)
    world = rng.normal(0, 0.3, (6, 32, 3)) + [0.0, 0.0, 1.0]  # metres, around 1 m up
    params = {"intrinsics": {}, "extrinsics": {"S9": {}}}
    pos2d = []
    for k, cam in enumerate(CAMS):
        K = np.array([[1145.0 + k, 0, 512.0], [0, 1144.0, 515.0], [0, 0, 1]])
        R = _rotation(k * np.pi / 2)
        t_m = -R @ (-4.5 * np.array([np.cos(k * np.pi / 2), np.sin(k * np.pi / 2), 0.0]) + [0, 0, 1.5])
        params["intrinsics"][cam] = {"calibration_matrix": K.tolist(), "distortion": [0.0] * 5}
        params["extrinsics"]["S9"][cam] = {"R": R.tolist(), "t": (t_m * 1000.0).reshape(3, 1).tolist()}
        xc = world[:, [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]] @ R.T + t_m
        pos2d.append((xc[..., :2] / xc[..., 2:] * K[0, 0] + K[:2, 2]).astype(np.float32))
    (tmp_path / "camera-parameters.json").write_text(json.dumps(params))
    np.savez(tmp_path / "d3.npz", positions_3d=np.array({"S9": {"Walk": world}}, dtype=object))
    np.savez(tmp_path / "d2.npz", positions_2d=np.array({"S9": {"Walk": pos2d}}, dtype=object),
             metadata=np.array({"layout_name": "h36m", "num_joints": 17,
                                "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]}, dtype=object))
    return params


def test_h36m_cameras_give_camera_frame_3d_that_projects_onto_the_2d(tmp_path):
    _write(tmp_path)
    cams = read_h36m_cameras(tmp_path / "camera-parameters.json")
    assert set(cams["S9"]) == set(CAMS) and cams["S9"][CAMS[0]]["width"] == 1000 and cams["S9"][CAMS[0]]["height"] == 1002
    cfg = DataConfig(dataset="h36m", root=str(tmp_path), ann_file="d3.npz", image_root="d2.npz",
                     camera_file="camera-parameters.json")
    seqs = load_sequences(cfg, "test")
    assert len(seqs) == 4
    for s in seqs:
        cp = s.camera_params
        uv = s.joints_3d[..., :2] / s.joints_3d[..., 2:] * cp["intrinsics"][0, 0] + cp["intrinsics"][:2, 2]
        assert np.allclose(uv, s.joints_2d, atol=0.05) and (s.joints_3d[..., 2] > 2).all()
    # Without 2D: world-frame sequences (z up) for the random virtual cameras.
    world = load_sequences(DataConfig(dataset="h36m", root=str(tmp_path), ann_file="d3.npz",
                                      camera_file="camera-parameters.json"), "test")
    assert len(world) == 1 and world[0].extra["frame"] == "world" and world[0].extra["up"] == (0.0, 0.0, 1.0)
    # ... and the sequence objective takes both.
    from vidpose.objectives.sequences import SequenceWindows

    assert len(SequenceWindows(seqs + world, 3, 17, "h36m").targets) == 4 + 4


def test_h36m_camera_faults_name_the_file_and_entry(tmp_path):
    params = _write(tmp_path)
    path = tmp_path / "camera-parameters.json"
    params["extrinsics"]["S9"][CAMS[1]]["R"] = [[2, 0, 0], [0, 1, 0], [0, 0, 1]]
    path.write_text(json.dumps(params))
    with pytest.raises(InputError, match=r"camera-parameters.json: extrinsics\['S9'\]\['55011271'\].R: not a rotation"):
        read_h36m_cameras(path)
    params["extrinsics"]["S9"] = {"12345": {"R": np.eye(3).tolist(), "t": [0, 0, 0]}}
    params["intrinsics"]["12345"] = {"calibration_matrix": np.eye(3).tolist()}
    path.write_text(json.dumps(params))
    with pytest.raises(InputError, match="unknown Human3.6M camera '12345'"):
        read_h36m_cameras(path)
    path.write_text(json.dumps({"intrinsics": {}, "extrinsics": {}}))
    cfg = DataConfig(dataset="h36m", root=str(tmp_path), ann_file="d3.npz", image_root="d2.npz",
                     camera_file="camera-parameters.json")
    with pytest.raises(InputError, match="camera-parameters.json: no camera 54138969 for subject S9"):
        load_sequences(cfg, "test")
