"""Real motion capture: the DeepMimic humanoid clips shipped inside pybullet's data files.

The clips (``humanoid3d_<name>.txt``) and the character (``humanoid/humanoid.urdf``)
come out of the PyPI wheel ``pybullet==3.2.7`` through :mod:`vidpose.store`, pinned
by sha256. pybullet itself is never imported: the URDF is parsed with
``xml.etree`` and the motion JSON with :mod:`vidpose.io.jsonfile`; forward kinematics is
done here.

Motion file layout (checked against every clip): ``{"Loop": "wrap"|"none",
"Frames": [[44 floats], ...]}`` with, per frame::

    duration (s) | root position xyz | root quat wxyz | chest quat | neck quat |
    right hip quat | right knee angle | right ankle quat | right shoulder quat |
    right elbow angle | left hip quat | left knee angle | left ankle quat |
    left shoulder quat | left elbow angle

Quaternions are joint rotations relative to the parent link; knees and elbows
are hinges about the local z axis. The character frame is y-up, x forward,
z to the character's right. The URDF's lengths are 4x the motion's metres
(pybullet loads it with ``globalScaling=0.25``), so offsets are scaled by 0.25.

:func:`forward_kinematics` returns positions in a z-up *world* frame
(X forward, Y left, Z up, metres; ground at Z = 0), the frame vidpose's
generator uses.

Mapping to COCO-17 (see docs/synthetic.md): shoulders, elbows, wrists, hips,
knees and ankles are the URDF joints of those names. The face points are fixed
points of the neck link (which carries the head sphere, centre 0.175 m above the
neck joint, radius 0.1025 m): nose on the front of the sphere, eyes above and
beside it, ears at the sides. H36M-17 joints are derived from COCO-17 with
:func:`vidpose.skeletons.convert`, so they match what a COCO detector's output
converts to.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from vidpose import store
from vidpose.errors import InputError
from vidpose.io.jsonfile import parse_json
from vidpose.skeletons import convert

URDF_SCALE = 0.25  # pybullet's DeepMimic env loads the humanoid with globalScaling=0.25

# The clips listed in the store's catalog (``mocap-<name>`` entries, next to ``deepmimic-humanoid``).
CLIP_NAMES: tuple[str, ...] = tuple(sorted(store.MOCAP_CLIPS))

# Joints of the DeepMimic humanoid in FK (parent-before-child) order.
JOINTS: tuple[str, ...] = (
    "root", "chest", "neck",
    "right_hip", "right_knee", "right_ankle", "right_shoulder", "right_elbow", "right_wrist",
    "left_hip", "left_knee", "left_ankle", "left_shoulder", "left_elbow", "left_wrist",
)
JOINT_INDEX = {n: i for i, n in enumerate(JOINTS)}
# Motion-file channels after duration/root: (joint, number of values) in file order.
_CHANNELS: tuple[tuple[str, int], ...] = (
    ("chest", 4), ("neck", 4), ("right_hip", 4), ("right_knee", 1), ("right_ankle", 4),
    ("right_shoulder", 4), ("right_elbow", 1), ("left_hip", 4), ("left_knee", 1),
    ("left_ankle", 4), ("left_shoulder", 4), ("left_elbow", 1),
)
FRAME_WIDTH = 1 + 3 + 4 + sum(n for _, n in _CHANNELS)  # 44

# Character (y-up, x forward, z right) -> world (X forward, Y left, Z up).
TO_WORLD = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])

# Fixed points on links, character frame, metres (already at motion scale).
HEAD_CENTRE = np.array([0.0, 0.175, 0.0])  # neck link: head sphere centre (URDF 0.7 * 0.25)
HEAD_RADIUS = 0.1025  # URDF 0.41 * 0.25
FACE_POINTS: dict[str, np.ndarray] = {  # neck link frame
    "nose": np.array([0.100, 0.160, 0.0]),
    "left_eye": np.array([0.088, 0.200, -0.033]),
    "right_eye": np.array([0.088, 0.200, 0.033]),
    "left_ear": np.array([0.0, 0.180, -0.095]),
    "right_ear": np.array([0.0, 0.180, 0.095]),
    "head_top": np.array([0.0, 0.2775, 0.0]),
}
FOOT_POINTS: dict[str, np.ndarray] = {  # ankle link frame: foot box spans x -0.044..0.133, bottom y -0.05
    "heel": np.array([-0.035, -0.035, 0.0]),
    "toe": np.array([0.125, -0.035, 0.0]),
}


# --- rotations (scipy.spatial.transform) ----------------------------------------------------
# The motion files store quaternions scalar-first (w, x, y, z); scipy wants them scalar-last.


def _rotations(q: np.ndarray) -> Rotation:
    """A flat :class:`~scipy.spatial.transform.Rotation` of ``(..., 4)`` wxyz quaternions (normalised)."""
    q = np.asarray(q, np.float64).reshape(-1, 4)
    return Rotation.from_quat(q[:, [1, 2, 3, 0]])


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` from quaternions ``(..., 4)`` wxyz (normalised first)."""
    q = np.asarray(q, np.float64)
    return _rotations(q).as_matrix().reshape(q.shape[:-1] + (3, 3))


def axis_angle_matrix(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotations ``(..., 3, 3)`` about a fixed unit ``axis`` (3,) by ``angle`` ``(...)`` radians."""
    axis = np.asarray(axis, np.float64) / np.linalg.norm(axis)
    angle = np.asarray(angle, np.float64)
    rotvec = angle.reshape(-1, 1) * axis
    return Rotation.from_rotvec(rotvec).as_matrix().reshape(angle.shape + (3, 3))


# --- the character ---------------------------------------------------------------------------

@dataclass
class Rig:
    """Bone offsets of the DeepMimic humanoid (character frame, metres).

    ``offsets[j]`` (3,) is joint ``j``'s position in its parent's frame;
    ``parents[j]`` its parent index (-1 for the root); ``hinge_axes`` the axis
    of each revolute joint.
    """

    offsets: np.ndarray  # (J, 3)
    parents: tuple[int, ...]
    hinge_axes: dict[str, np.ndarray] = field(default_factory=dict)

    def scaled(self, factors: dict[str, float] | np.ndarray) -> "Rig":
        """A copy with each joint's offset multiplied by ``factors`` (per joint name or (J,) array)."""
        f = np.ones(len(JOINTS))
        if isinstance(factors, dict):
            for k, v in factors.items():
                f[JOINT_INDEX[k]] = v
        else:
            f = np.asarray(factors, np.float64)
        return Rig(self.offsets * f[:, None], self.parents, dict(self.hinge_axes))


def parse_urdf(text: bytes | str, source: str = "urdf") -> Rig:
    """Read joint origins and hinge axes from the DeepMimic humanoid URDF text."""
    if isinstance(text, str):
        text = text.encode()
    # The shipped file ends in a NUL byte, which XML parsers reject.
    try:
        root = ET.fromstring(text.rstrip(b"\x00 \r\n\t"))
    except ET.ParseError as e:
        raise InputError(f"{source}: not valid URDF XML ({e})") from None
    found: dict[str, tuple[str, np.ndarray, np.ndarray | None]] = {}
    for j in root.findall("joint"):
        name = j.get("name")
        parent, origin = j.find("parent"), j.find("origin")
        if name is None or parent is None or origin is None:
            raise InputError(f"{source}: joint {name!r} lacks a name, parent or origin")
        try:
            xyz = np.array([float(v) for v in origin.get("xyz", "0 0 0").split()])
            rpy = [float(v) for v in origin.get("rpy", "0 0 0").split()]
        except ValueError:
            raise InputError(f"{source}: joint {name!r} has a non-numeric origin") from None
        if xyz.shape != (3,) or any(abs(v) > 1e-9 for v in rpy):
            raise InputError(f"{source}: joint {name!r} origin must be xyz with rpy 0 0 0")
        axis = j.find("axis")
        ax = np.array([float(v) for v in axis.get("xyz").split()]) if axis is not None else None
        found[name] = (parent.get("link"), xyz, ax)
    offsets = np.zeros((len(JOINTS), 3))
    parents = []
    hinges = {}
    for i, name in enumerate(JOINTS):
        if name not in found:
            raise InputError(f"{source}: joint {name!r} is missing")
        plink, xyz, ax = found[name]
        if name == "root":
            parents.append(-1)
            continue
        if plink not in JOINT_INDEX:
            raise InputError(f"{source}: joint {name!r} has unknown parent link {plink!r}")
        parents.append(JOINT_INDEX[plink])
        offsets[i] = xyz * URDF_SCALE
        if ax is not None:
            hinges[name] = ax
    return Rig(offsets, tuple(parents), hinges)


_RIG: Rig | None = None


def load_rig() -> Rig:
    """The DeepMimic humanoid's rig, from the store (downloaded once, then cached)."""
    global _RIG
    if _RIG is None:
        p = store.path("deepmimic-humanoid", quiet=True)
        _RIG = parse_urdf(p.read_bytes(), str(p))
    return _RIG


# --- motions ---------------------------------------------------------------------------------

@dataclass
class Motion:
    """A motion of the humanoid at a fixed frame rate (character frame: y-up).

    ``root_pos`` (T, 3) metres; ``rotations`` (T, J, 3, 3): the root's world
    rotation at index 0 and every other joint's rotation relative to its parent.
    """

    name: str
    fps: float
    root_pos: np.ndarray
    rotations: np.ndarray
    loop: bool = False

    @property
    def num_frames(self) -> int:
        return int(self.root_pos.shape[0])


@dataclass
class MocapClip:
    """One DeepMimic clip as stored: key frames at ``times`` (K,) seconds."""

    name: str
    loop: bool
    times: np.ndarray  # (K,)
    root_pos: np.ndarray  # (K, 3)
    quats: np.ndarray  # (K, J, 4) wxyz; hinge joints stored as quaternions about their axis
    duration: float

    def sample(self, fps: float, num_frames: int | None = None, start: float = 0.0) -> Motion:
        """Resample to ``fps`` from ``start`` seconds (slerp between key frames).

        Past the end a looping clip repeats, carried forward by its per-cycle
        root displacement on the ground plane; a non-looping clip plays back
        and forth so the motion stays continuous.
        """
        if fps <= 0:
            raise InputError(f"fps must be positive, got {fps}")
        if num_frames is None:
            num_frames = max(1, int(np.floor(self.duration * fps)) + 1)
        t = start + np.arange(num_frames) / fps
        D = self.duration
        if self.loop:
            cycles = np.floor(t / D)
            tl = t - cycles * D
        else:
            cycles = np.zeros_like(t)
            ph = np.mod(t, 2 * D)
            tl = np.where(ph <= D, ph, 2 * D - ph)
        tl = np.clip(tl, self.times[0], self.times[-1])
        i = np.clip(np.searchsorted(self.times, tl, side="right") - 1, 0, len(self.times) - 2)
        t0, t1 = self.times[i], self.times[i + 1]
        a = np.clip((tl - t0) / np.maximum(t1 - t0, 1e-9), 0.0, 1.0)
        pos = self.root_pos[i] * (1 - a)[:, None] + self.root_pos[i + 1] * a[:, None]
        if self.loop:
            delta = self.root_pos[-1] - self.root_pos[0]
            delta[1] = 0.0  # height does not accumulate
            pos = pos + cycles[:, None] * delta
        # Spherical interpolation between key frames, per joint (the short way round).
        rot = np.stack([Slerp(self.times, _rotations(self.quats[:, j]))(tl).as_matrix()
                        for j in range(self.quats.shape[1])], axis=1)
        return Motion(self.name, float(fps), pos, rot, self.loop)


def parse_motion(text: str | bytes, name: str = "motion", rig: Rig | None = None,
                 source: str | None = None) -> MocapClip:
    """Parse a DeepMimic motion JSON text into key frames (``source`` names the file in errors)."""
    where = source or name
    data = parse_json(text, where)
    frames = data.get("Frames") if isinstance(data, dict) else None
    if not isinstance(frames, list) or len(frames) < 2:
        raise InputError(f"{where}: field 'Frames' must be a list of at least 2 frames")
    try:
        arr = np.array(frames, np.float64)
    except (ValueError, TypeError):
        raise InputError(f"{where}: field 'Frames' rows must be lists of numbers of equal length") from None
    if arr.ndim != 2 or arr.shape[1] != FRAME_WIDTH or not np.isfinite(arr).all():
        raise InputError(f"{where}: field 'Frames' must be K x {FRAME_WIDTH} finite numbers, got {arr.shape}")
    loop = data.get("Loop", "none")
    if loop not in ("wrap", "none"):
        raise InputError(f"{where}: field 'Loop' must be 'wrap' or 'none', got {loop!r}")
    dur = arr[:, 0]
    if (dur[:-1] <= 0).any():
        raise InputError(f"{where}: frame durations must be positive")
    times = np.concatenate([[0.0], np.cumsum(dur[:-1])])
    K = arr.shape[0]
    quats = np.zeros((K, len(JOINTS), 4))
    quats[:, 0] = arr[:, 4:8]
    col = 8
    hinge_axes = rig.hinge_axes if rig is not None else {}
    for joint, n in _CHANNELS:
        j = JOINT_INDEX[joint]
        if n == 4:
            quats[:, j] = arr[:, col:col + 4]
        else:
            ax = hinge_axes.get(joint, np.array([0.0, 0.0, 1.0]))
            ang = arr[:, col]
            quats[:, j, 0] = np.cos(ang / 2)
            quats[:, j, 1:] = np.sin(ang / 2)[:, None] * ax[None, :]
        col += n
    # wrists are fixed joints: identity
    for w in ("right_wrist", "left_wrist"):
        quats[:, JOINT_INDEX[w], 0] = 1.0
    norms = np.linalg.norm(quats, axis=-1, keepdims=True)
    if (norms < 1e-6).any():
        k, j = np.argwhere(norms[..., 0] < 1e-6)[0]
        raise InputError(f"{where}: frame {k}: joint {JOINTS[j]!r} has a zero quaternion (no rotation)")
    return MocapClip(name, loop == "wrap", times, arr[:, 1:4].copy(), quats / norms, float(times[-1]))


_CLIPS: dict[str, MocapClip] = {}


def load_clip(name: str) -> MocapClip:
    """Load a DeepMimic clip by name (one of :data:`CLIP_NAMES`) from the store."""
    if name not in store.MOCAP_CLIPS:
        raise InputError(f"unknown mocap clip {name!r}; known: {', '.join(CLIP_NAMES)}")
    if name not in _CLIPS:
        p = store.path(f"mocap-{name}", quiet=True)
        _CLIPS[name] = parse_motion(p.read_bytes(), name, load_rig(), source=str(p))
    return _CLIPS[name]


# --- forward kinematics ----------------------------------------------------------------------

@dataclass
class PoseFK:
    """Result of forward kinematics in the world frame (z-up, metres).

    ``joints`` (T, J, 3) joint positions in :data:`JOINTS` order;
    ``frames`` (T, J, 3, 3) each link's world rotation (columns: link axes).
    """

    joints: np.ndarray
    frames: np.ndarray

    def link_point(self, joint: str, local: np.ndarray) -> np.ndarray:
        """World positions (T, 3) of a point fixed in ``joint``'s link (character-frame offset, metres)."""
        j = JOINT_INDEX[joint]
        return self.joints[:, j] + np.einsum("tab,b->ta", self.frames[:, j], local)


def forward_kinematics(motion: Motion, rig: Rig) -> PoseFK:
    """Chain the rotations from the root to every joint: positions (T, J, 3), rotations (T, J, 3, 3)."""
    T = motion.num_frames
    J = len(JOINTS)
    R = np.zeros((T, J, 3, 3))
    P = np.zeros((T, J, 3))
    for j in range(J):
        p = rig.parents[j]
        if p < 0:
            R[:, j] = motion.rotations[:, j]
            P[:, j] = motion.root_pos
        else:
            R[:, j] = R[:, p] @ motion.rotations[:, j]
            P[:, j] = P[:, p] + R[:, p] @ rig.offsets[j]
    # Character frame -> world frame, for positions and link frames alike.
    return PoseFK(P @ TO_WORLD.T, np.einsum("ab,tjbc->tjac", TO_WORLD, R))


_COCO_FROM_JOINTS = {
    "left_shoulder": "left_shoulder", "right_shoulder": "right_shoulder",
    "left_elbow": "left_elbow", "right_elbow": "right_elbow",
    "left_wrist": "left_wrist", "right_wrist": "right_wrist",
    "left_hip": "left_hip", "right_hip": "right_hip",
    "left_knee": "left_knee", "right_knee": "right_knee",
    "left_ankle": "left_ankle", "right_ankle": "right_ankle",
}


def coco17_from_fk(fk: PoseFK, head_scale: float = 1.0) -> np.ndarray:
    """COCO-17 keypoints (T, 17, 3) world metres from an FK result."""
    from vidpose.skeletons import COCO17

    out = np.zeros((fk.joints.shape[0], 17, 3))
    for i, n in enumerate(COCO17.keypoints):
        if n in _COCO_FROM_JOINTS:
            out[:, i] = fk.joints[:, JOINT_INDEX[_COCO_FROM_JOINTS[n]]]
        else:
            out[:, i] = fk.link_point("neck", FACE_POINTS[n] * head_scale)
    return out


def h36m17_from_coco(coco: np.ndarray) -> np.ndarray:
    """H36M-17 joints (..., 17, 3) from COCO-17 (..., 17, C) with the project's conversion."""
    return convert(coco, "coco17", "h36m17")


def clip_keypoints(name: str, fps: float = 30.0, skeleton: str = "coco17",
                   num_frames: int | None = None) -> np.ndarray:
    """A mocap clip resampled to ``fps`` as (T, 17, 3) world joints (z-up, metres)."""
    if skeleton not in ("coco17", "h36m17"):
        raise InputError(f"skeleton must be 'coco17' or 'h36m17', got {skeleton!r}")
    rig = load_rig()
    fk = forward_kinematics(load_clip(name).sample(fps, num_frames), rig)
    coco = coco17_from_fk(fk)
    return coco if skeleton == "coco17" else h36m17_from_coco(coco)


def fetch_all() -> list[Path]:
    """Make sure the rig and every clip are cached; return their paths."""
    return [store.path("deepmimic-humanoid", quiet=True)] + [store.path(f"mocap-{n}", quiet=True) for n in CLIP_NAMES]
