"""Articulated people for the synthetic generator: shape, clothing and motion.

A person is the DeepMimic humanoid rig (:mod:`vidpose.data.mocap`) with
per-person bone lengths, driven either by a real mocap clip or by a procedural
motion (walk, jog, wave, squat) written as joint rotations of the same rig.
Its surface is a set of primitives between points: capsules (limbs, torso
sides, neck), spheres (head, hands) and one polygon (the torso front).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidpose.data import mocap
from vidpose.data.mocap import JOINT_INDEX, JOINTS, Motion, PoseFK, axis_angle_matrix

PROCEDURAL_MOTIONS: tuple[str, ...] = ("walk", "jog", "wave", "squat")

# Extra surface points after the 17 COCO keypoints (indices into the point array).
P_HEAD, P_NECK, P_LHEEL, P_LTOE, P_RHEEL, P_RTOE, P_LHAND, P_RHAND = range(17, 25)
NUM_POINTS = 25

# Parts: (name, point a, point b, radius key, garment). Garments: 0 skin, 1 shirt,
# 2 trousers, 3 shoes; "sleeve"/"leg" parts switch between skin and cloth per person.
PARTS: tuple[tuple[str, int, int, str, str], ...] = (
    ("head", P_HEAD, P_HEAD, "head", "skin"),
    ("neck", P_NECK, P_HEAD, "neck", "skin"),
    ("torso_left", 11, 5, "torso", "shirt"),
    ("torso_right", 12, 6, "torso", "shirt"),
    ("torso_front", -1, -1, "torso", "shirt"),  # polygon l_sh, r_sh, r_hip, l_hip
    ("pelvis", 11, 12, "pelvis", "trousers"),
    ("shoulders", 5, 6, "shoulder", "shirt"),
    ("left_upper_arm", 5, 7, "upper_arm", "shirt"),
    ("left_forearm", 7, 9, "forearm", "sleeve"),
    ("left_hand", 9, P_LHAND, "hand", "skin"),
    ("right_upper_arm", 6, 8, "upper_arm", "shirt"),
    ("right_forearm", 8, 10, "forearm", "sleeve"),
    ("right_hand", 10, P_RHAND, "hand", "skin"),
    ("left_thigh", 11, 13, "thigh", "trousers"),
    ("left_shin", 13, 15, "shin", "leg"),
    ("left_foot", P_LHEEL, P_LTOE, "foot", "shoes"),
    ("right_thigh", 12, 14, "thigh", "trousers"),
    ("right_shin", 14, 16, "shin", "leg"),
    ("right_foot", P_RHEEL, P_RTOE, "foot", "shoes"),
)
PART_INDEX = {p[0]: i for i, p in enumerate(PARTS)}
TORSO_POLY = (5, 6, 12, 11)

# The parts a joint may be seen on: a joint is visible when its pixel shows one of these.
ADJACENT: tuple[tuple[int, ...], ...] = tuple(
    tuple(PART_INDEX[n] for n in names) for names in (
        ("head",), ("head",), ("head",), ("head",), ("head",),
        ("torso_left", "torso_front", "shoulders", "left_upper_arm"),
        ("torso_right", "torso_front", "shoulders", "right_upper_arm"),
        ("left_upper_arm", "left_forearm"), ("right_upper_arm", "right_forearm"),
        ("left_forearm", "left_hand"), ("right_forearm", "right_hand"),
        ("torso_left", "torso_front", "pelvis", "left_thigh"),
        ("torso_right", "torso_front", "pelvis", "right_thigh"),
        ("left_thigh", "left_shin"), ("right_thigh", "right_shin"),
        ("left_shin", "left_foot"), ("right_shin", "right_foot"),
    )
)

# Base radii (metres) for a build factor of 1.
_RADII = {"head": mocap.HEAD_RADIUS, "neck": 0.05, "torso": 0.10, "pelvis": 0.105, "shoulder": 0.075,
          "upper_arm": 0.046, "forearm": 0.038, "hand": 0.042, "thigh": 0.075, "shin": 0.055, "foot": 0.04}


@dataclass
class BodyShape:
    """One person's proportions and look."""

    rig: mocap.Rig
    scale: float  # overall size relative to the DeepMimic character
    leg_scale: float  # scales the root height so the feet stay on the ground
    radii: np.ndarray  # (num parts,) metres
    colours: np.ndarray  # (num parts, 2, 3) BGR 0..255: base colour and pattern colour
    pattern: np.ndarray  # (num parts,) 0 plain, 1 stripes, 2 checks
    period: np.ndarray  # (num parts,) pattern period, metres


def _garment_colour(rng: np.random.Generator) -> np.ndarray:
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(0.1, 1.0) * 255, rng.uniform(0.15, 0.95) * 255]]], np.uint8)
    import cv2

    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float64)


def random_body(rng: np.random.Generator, base: mocap.Rig) -> BodyShape:
    """A random person: bone lengths, widths, skin and clothing colours, textures."""
    s = rng.uniform(0.9, 1.2)
    legs, arms, torso = rng.uniform(0.92, 1.08, 3)
    shoulders, hips = rng.uniform(0.88, 1.12), rng.uniform(0.9, 1.2)
    f = np.full(len(JOINTS), s)
    for j in ("right_knee", "right_ankle", "left_knee", "left_ankle"):
        f[JOINT_INDEX[j]] *= legs
    for j in ("right_elbow", "right_wrist", "left_elbow", "left_wrist"):
        f[JOINT_INDEX[j]] *= arms
    for j in ("chest", "neck"):
        f[JOINT_INDEX[j]] *= torso
    off = base.offsets * f[:, None]
    for j in ("right_shoulder", "left_shoulder"):
        off[JOINT_INDEX[j], 2] *= shoulders
    for j in ("right_hip", "left_hip"):
        off[JOINT_INDEX[j], 2] *= hips
    rig = mocap.Rig(off, base.parents, dict(base.hinge_axes))
    build = rng.uniform(0.8, 1.35)
    radii = np.array([_RADII[p[3]] * s * (1.0 if p[3] in ("head", "hand", "foot") else build) for p in PARTS])
    radii[PART_INDEX["torso_front"]] = 0.0
    skin = np.array([rng.uniform(40, 200)] * 3) * np.array([0.75, 0.85, 1.0]) + rng.uniform(-10, 10, 3)
    garments = {"shirt": (_garment_colour(rng), _garment_colour(rng), rng.integers(0, 3), rng.uniform(0.03, 0.12)),
                "trousers": (_garment_colour(rng), _garment_colour(rng), rng.choice(3, p=[0.6, 0.2, 0.2]), rng.uniform(0.03, 0.1)),
                "shoes": (_garment_colour(rng) * 0.5, _garment_colour(rng) * 0.5, 0, 0.05)}
    long_sleeves, long_legs = rng.random() < 0.6, rng.random() < 0.75
    colours = np.zeros((len(PARTS), 2, 3))
    pattern = np.zeros(len(PARTS), np.int64)
    period = np.full(len(PARTS), 0.05)
    for i, p in enumerate(PARTS):
        g = p[4]
        if g == "sleeve":
            g = "shirt" if long_sleeves else "skin"
        if g == "leg":
            g = "trousers" if long_legs else "skin"
        if g == "skin":
            colours[i] = [skin, skin * 0.8]
        else:
            a, b, pat, per = garments[g]
            colours[i] = [a, b]
            pattern[i], period[i] = pat, per
    return BodyShape(rig, s, s * legs, radii, np.clip(colours, 0, 255), pattern, period)


# --- procedural motions ----------------------------------------------------------------------

def procedural_motion(kind: str, fps: float, num_frames: int, rng: np.random.Generator) -> Motion:
    """Joint rotations (character frame) of a procedural motion; root height is set later."""
    T = num_frames
    t = np.arange(T) / fps
    J = len(JOINTS)
    rot = np.tile(np.eye(3), (T, J, 1, 1))
    Z, X, Y = np.array([0.0, 0, 1]), np.array([1.0, 0, 0]), np.array([0.0, 1, 0])

    def setj(name: str, axis: np.ndarray, ang: np.ndarray) -> None:
        j = JOINT_INDEX[name]
        rot[:, j] = rot[:, j] @ axis_angle_matrix(axis, ang)

    root_pos = np.zeros((T, 3))
    root_pos[:, 1] = 0.85
    # Arms hang slightly away from the body (about x: + moves towards -z = the left).
    setj("right_shoulder", X, np.full(T, -rng.uniform(0.08, 0.25)))
    setj("left_shoulder", X, np.full(T, rng.uniform(0.08, 0.25)))
    if kind in ("walk", "jog"):
        jog = kind == "jog"
        cadence = rng.uniform(0.8, 1.0) if not jog else rng.uniform(1.25, 1.5)  # strides per second
        ph = 2 * np.pi * cadence * t + rng.uniform(0, 2 * np.pi)
        hip_a = rng.uniform(0.35, 0.5) * (1.3 if jog else 1.0)
        knee_a = rng.uniform(0.6, 0.9) * (1.6 if jog else 1.0)
        setj("right_hip", Z, hip_a * np.sin(ph))
        setj("left_hip", Z, hip_a * np.sin(ph + np.pi))
        setj("right_knee", Z, -knee_a * np.clip(np.sin(ph + 1.9), 0, None) - 0.05)
        setj("left_knee", Z, -knee_a * np.clip(np.sin(ph + np.pi + 1.9), 0, None) - 0.05)
        setj("right_ankle", Z, 0.2 * np.sin(ph + 0.5))
        setj("left_ankle", Z, 0.2 * np.sin(ph + np.pi + 0.5))
        arm_a = rng.uniform(0.2, 0.5) * (1.4 if jog else 1.0)
        setj("right_shoulder", Z, arm_a * np.sin(ph + np.pi))
        setj("left_shoulder", Z, arm_a * np.sin(ph))
        elbow = rng.uniform(0.1, 0.4) + (1.2 if jog else 0.0)
        setj("right_elbow", Z, np.full(T, elbow) + 0.15 * np.sin(ph))
        setj("left_elbow", Z, np.full(T, elbow) + 0.15 * np.sin(ph + np.pi))
        setj("chest", Y, 0.12 * np.sin(ph))
        setj("chest", Z, np.full(T, -0.1 if jog else -0.03))
        stride = 2 * hip_a * 0.85 * (1.4 if jog else 1.0)  # metres per stride, roughly leg swing
        root_pos[:, 0] = stride * cadence * t
        root_pos[:, 1] += 0.02 * np.cos(2 * ph)
    elif kind == "wave":
        side = "right" if rng.random() < 0.5 else "left"
        sgn = -1.0 if side == "right" else 1.0
        w = 2 * np.pi * rng.uniform(1.0, 2.0) * t
        raise_t = np.clip(t / 0.6, 0, 1)  # lift the arm over the first 0.6 s
        setj(f"{side}_shoulder", X, sgn * raise_t * (rng.uniform(2.0, 2.6) + 0.25 * np.sin(w)))
        setj(f"{side}_elbow", Z, raise_t * (0.8 + 0.5 * np.sin(w + 0.5)))
        setj("chest", Y, 0.1 * np.sin(0.5 * w))
        setj("neck", Y, 0.2 * np.sin(0.3 * w))
    elif kind == "squat":
        w = 2 * np.pi * rng.uniform(0.3, 0.6) * t + rng.uniform(0, 2 * np.pi)
        depth = rng.uniform(0.6, 1.0) * (0.5 - 0.5 * np.cos(w))  # 0 standing .. 1 deep
        knee = 1.9 * depth
        setj("right_hip", Z, 1.1 * depth)
        setj("left_hip", Z, 1.1 * depth)
        setj("right_knee", Z, -knee)
        setj("left_knee", Z, -knee)
        setj("right_ankle", Z, 0.8 * depth)
        setj("left_ankle", Z, 0.8 * depth)
        setj("chest", Z, 0.5 * depth)
        arms = rng.uniform(0.8, 1.5) * depth
        setj("right_shoulder", Z, arms)
        setj("left_shoulder", Z, arms)
    else:
        raise ValueError(f"unknown procedural motion {kind!r}")
    return Motion(f"procedural_{kind}", float(fps), root_pos, rot, loop=True)


# --- posing ----------------------------------------------------------------------------------

def surface_points(fk: PoseFK, body: BodyShape) -> np.ndarray:
    """COCO-17 keypoints plus the extra surface points: (T, NUM_POINTS, 3) world metres."""
    T = fk.joints.shape[0]
    pts = np.zeros((T, NUM_POINTS, 3))
    pts[:, :17] = mocap.coco17_from_fk(fk, head_scale=body.scale)
    pts[:, P_HEAD] = fk.link_point("neck", mocap.HEAD_CENTRE * body.scale)
    pts[:, P_NECK] = fk.joints[:, JOINT_INDEX["neck"]]
    for side, heel, toe in (("left", P_LHEEL, P_LTOE), ("right", P_RHEEL, P_RTOE)):
        pts[:, heel] = fk.link_point(f"{side}_ankle", mocap.FOOT_POINTS["heel"] * body.scale)
        pts[:, toe] = fk.link_point(f"{side}_ankle", mocap.FOOT_POINTS["toe"] * body.scale)
    for wrist, elbow, hand in ((9, 7, P_LHAND), (10, 8, P_RHAND)):
        d = pts[:, wrist] - pts[:, elbow]
        pts[:, hand] = pts[:, wrist] + 0.3 * d  # the hand continues the forearm
    return pts


def pose_person(motion: Motion, body: BodyShape, yaw: float, offset: np.ndarray,
                ground: bool) -> np.ndarray:
    """World surface points (T, NUM_POINTS, 3) of ``body`` doing ``motion``.

    The motion is scaled to the body (root height and travel by leg length),
    turned by ``yaw`` about the vertical and moved by ``offset`` (3,). With
    ``ground`` the lowest foot point of every frame is put on Z = 0 (procedural
    motions); mocap keeps its own root height so jumps leave the ground.
    """
    m = Motion(motion.name, motion.fps, motion.root_pos * body.leg_scale, motion.rotations, motion.loop)
    pts = surface_points(mocap.forward_kinematics(m, body.rig), body)
    if ground:
        feet = pts[:, [15, 16, P_LHEEL, P_LTOE, P_RHEEL, P_RTOE], 2]
        pts[..., 2] -= (feet.min(axis=1) - 0.035 * body.scale)[:, None]
    c, s = np.cos(yaw), np.sin(yaw)
    Rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
    return pts @ Rz.T + offset
