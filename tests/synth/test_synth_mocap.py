"""DeepMimic mocap through the store: parsing, forward kinematics, joint mapping."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vidpose import store
from vidpose.data import mocap
from vidpose.errors import InputError
from vidpose.skeletons import COCO17

C = COCO17.index


@pytest.fixture(scope="module")
def rig() -> mocap.Rig:
    return mocap.load_rig()


def test_store_entries_registered_and_fetched():
    names = ["deepmimic-humanoid"] + [f"mocap-{n}" for n in mocap.CLIP_NAMES]
    for n in names:
        e = store.entry(n)
        assert (e.package, e.version) == ("pybullet", "3.2.7")
    paths = mocap.fetch_all()
    assert len(paths) == len(names)
    for n, p in zip(names, paths):
        assert p.stat().st_size == store.entry(n).size
        assert store.sha256_file(p) == store.entry(n).sha256


def test_store_lists_the_mocap_files_itself():
    # No registration as a side effect of importing vidpose.data.mocap: the catalog has them.
    import subprocess
    import sys

    code = ("import sys; from vidpose import store; "
            "assert 'mocap-walk' in store.CATALOG and 'deepmimic-humanoid' in store.CATALOG; "
            "assert 'vidpose.data.mocap' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_rig_from_urdf(rig):
    # URDF is 4x the motion scale: thigh 1.686 -> 0.42 m, shin 1.639 -> 0.41 m.
    assert rig.offsets[mocap.JOINT_INDEX["right_knee"]] == pytest.approx([0, -0.421546, 0], abs=1e-5)
    assert rig.offsets[mocap.JOINT_INDEX["left_ankle"]] == pytest.approx([0, -0.40987, 0], abs=1e-5)
    # right is +z in the character frame, left is -z
    assert rig.offsets[mocap.JOINT_INDEX["right_hip"], 2] > 0 > rig.offsets[mocap.JOINT_INDEX["left_hip"], 2]
    assert rig.parents[mocap.JOINT_INDEX["left_elbow"]] == mocap.JOINT_INDEX["left_shoulder"]
    assert set(rig.hinge_axes) == {"right_knee", "left_knee", "right_elbow", "left_elbow"}


def test_every_clip_parses_with_44_channel_frames(rig):
    for n in mocap.CLIP_NAMES:
        raw = json.loads(store.path(f"mocap-{n}").read_text())
        assert all(len(f) == mocap.FRAME_WIDTH for f in raw["Frames"])
        clip = mocap.load_clip(n)
        assert clip.name == n
        assert clip.duration == pytest.approx(sum(f[0] for f in raw["Frames"][:-1]))
        assert np.allclose(np.linalg.norm(clip.quats, axis=-1), 1.0)


def test_bone_lengths_constant_over_time(rig):
    # FK sanity: whatever the rotations, distances between linked joints never change.
    for n in mocap.CLIP_NAMES:
        m = mocap.load_clip(n).sample(30.0, 90)
        fk = mocap.forward_kinematics(m, rig)
        for j, p in enumerate(rig.parents):
            if p < 0:
                continue
            d = np.linalg.norm(fk.joints[:, j] - fk.joints[:, p], axis=-1)
            assert np.ptp(d) < 1e-9, (n, mocap.JOINTS[j])
            assert d[0] == pytest.approx(np.linalg.norm(rig.offsets[j]), abs=1e-9)
        # link frames stay rotations
        R = fk.frames.reshape(-1, 3, 3)
        assert np.allclose(R @ R.transpose(0, 2, 1), np.eye(3), atol=1e-9)
        coco = mocap.coco17_from_fk(fk)
        ears = np.linalg.norm(coco[:, C("left_ear")] - coco[:, C("right_ear")], axis=-1)
        assert np.ptp(ears) < 1e-9


def test_walk_feet_on_ground_and_upright():
    k = mocap.clip_keypoints("walk", 30.0, num_frames=76)
    ankles = k[:, [C("left_ankle"), C("right_ankle")], 2]
    # the ankle joint sits ~5 cm above the sole; some foot is always in contact
    assert 0.0 < ankles.min() < 0.1
    assert ankles.min(axis=1).max() < 0.12
    assert k[:, C("nose"), 2].min() > 1.3  # head stays up while walking


def test_walk_left_right_not_swapped_and_face_forward():
    k = mocap.clip_keypoints("walk", 30.0, num_frames=76)
    pelvis = (k[:, C("left_hip")] + k[:, C("right_hip")]) / 2
    fwd = pelvis[-1] - pelvis[0]
    fwd[2] = 0
    fwd /= np.linalg.norm(fwd)
    left_dir = np.cross([0.0, 0.0, 1.0], fwd)  # z-up world: up x forward = left
    for a, b in (("left_hip", "right_hip"), ("left_shoulder", "right_shoulder"), ("left_ear", "right_ear")):
        side = (k[:, C(a)] - k[:, C(b)]) @ left_dir
        assert (side > 0).mean() > 0.95, a
    head = (k[:, C("left_ear")] + k[:, C("right_ear")]) / 2
    assert ((k[:, C("nose")] - head) @ fwd > 0).mean() > 0.95


def test_resampling_is_consistent():
    clip = mocap.load_clip("run")
    a = clip.sample(30.0, 40).root_pos
    b = clip.sample(60.0, 80).root_pos
    assert np.allclose(a, b[::2], atol=1e-9)
    # a looping clip keeps travelling forward past its end
    long = clip.sample(30.0, 3 * int(clip.duration * 30))
    assert long.root_pos[-1, 0] > 2.5 * (clip.root_pos[-1, 0] - clip.root_pos[0, 0])


def _textbook_slerp(q0, q1, a):
    """Spherical interpolation of unit quaternions the short way round (the formula, written out)."""
    d = np.sum(q0 * q1, -1, keepdims=True)
    q1 = np.where(d < 0, -q1, q1)
    theta = np.arccos(np.clip(np.abs(d), -1.0, 1.0))
    s = np.sin(theta)
    near = s < 1e-9
    w0 = np.where(near, 1 - a, np.sin((1 - a) * theta) / np.where(near, 1, s))
    w1 = np.where(near, a, np.sin(a * theta) / np.where(near, 1, s))
    q = w0 * q0 + w1 * q1
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


@pytest.mark.parametrize("name", ["walk", "backflip", "getup_faceup"])
def test_sampling_is_slerp_between_key_frames(name):
    # scipy's Slerp does the interpolation; it must equal the textbook formula.
    clip = mocap.load_clip(name)
    fps, start = 47.0, 0.37
    m = clip.sample(fps, 120, start)
    t = start + np.arange(120) / fps
    tl = np.mod(t, clip.duration) if clip.loop else np.where(np.mod(t, 2 * clip.duration) <= clip.duration,
                                                               np.mod(t, 2 * clip.duration),
                                                               2 * clip.duration - np.mod(t, 2 * clip.duration))
    i = np.clip(np.searchsorted(clip.times, tl, side="right") - 1, 0, len(clip.times) - 2)
    a = ((tl - clip.times[i]) / (clip.times[i + 1] - clip.times[i]))[:, None, None]
    expected = mocap.quat_to_matrix(_textbook_slerp(clip.quats[i], clip.quats[i + 1], a))
    assert np.abs(m.rotations - expected).max() < 1e-12


def test_rotation_helpers():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(20, 4))
    R = mocap.quat_to_matrix(q)  # normalises
    assert np.allclose(R @ R.transpose(0, 2, 1), np.eye(3), atol=1e-12)
    assert np.allclose(np.linalg.det(R), 1.0)
    assert np.allclose(mocap.quat_to_matrix(-q), R)  # q and -q: same rotation
    w, x, y, z = q[0] / np.linalg.norm(q[0])  # scalar first, as in the motion files
    assert np.allclose(R[0, 0], [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)])
    quarter = mocap.axis_angle_matrix(np.array([0, 0, 2.0]), np.pi / 2)
    assert np.allclose(quarter, [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-12)
    assert mocap.axis_angle_matrix(np.array([1.0, 0, 0]), np.zeros((4, 5))).shape == (4, 5, 3, 3)


def test_zero_quaternion_is_an_input_error():
    row = [0.03] + [0.0] * 43
    row[4] = 1.0  # root identity; the chest quaternion stays all zero
    with pytest.raises(InputError, match=r"z\.txt: frame 0: joint 'chest' has a zero quaternion"):
        mocap.parse_motion(json.dumps({"Loop": "none", "Frames": [row, row]}), "z", source="z.txt")


def test_bad_motion_and_urdf_raise_input_error(rig):
    with pytest.raises(InputError, match="bad.txt.*not valid JSON"):
        mocap.parse_motion("{", "bad", source="bad.txt")
    with pytest.raises(InputError, match="'Frames'"):
        mocap.parse_motion(json.dumps({"Loop": "wrap", "Frames": [[0.1, 1, 2], [0.1, 1, 2]]}), "short")
    row = [0.03] + [0.0] * 43
    with pytest.raises(InputError, match="'Loop'"):
        mocap.parse_motion(json.dumps({"Loop": "sometimes", "Frames": [row, row]}), "loop")
    with pytest.raises(InputError, match="x.urdf"):
        mocap.parse_urdf(b"<robot><joint", "x.urdf")
    with pytest.raises(InputError, match="unknown mocap clip"):
        mocap.load_clip("moonwalk")
