"""BVH export of H36M-17 3D tracks (``vidpose run --bvh``: the ``keypoints_3d`` of any lift stage, as H36M-17).

:func:`write_bvh` turns one person's joints (T, 17, 3) — metres, vidpose's
camera axes (x right, y down, z away) — into a BVH file that Blender and other
tools open: Y up (``X = x, Y = -y, Z = -z``), centimetres, a T-pose rest
skeleton with each bone's median length over the track, the pelvis with
position and rotation channels, every other joint rotation channels
(``Zrotation Xrotation Yrotation``, intrinsic, degrees). Each joint's rotation
turns its rest bones onto the observed ones: the best-fitting rotation
(Kabsch) for the pelvis and thorax (three children each), the smallest
rotation for single-child joints (positions carry no twist). With constant
bone lengths, forward kinematics of the file gives back the input positions of
every bone below a single-child joint exactly; the pelvis's and the thorax's
three bones share one rotation and keep the T-pose's angles between them, so
their directions come back only as close as the body allows that (a few
degrees for real poses; exactly for a rigidly turned T-pose, as tested with
:func:`read_bvh` and :func:`bvh_positions`). The pelvis's position channels
carry the input's root path: ``vidpose run``'s 3D is relative to the pelvis, so
there they stay 0 (the body turns and bends in place, with no travel). Each
Euler channel is kept continuous over the frames (no jump of 360° where an
angle passes ±180°).

:class:`BvhWriter` is ``vidpose run --bvh``'s writer (one file per track);
:func:`poses_json_to_bvh` converts one track of a ``poses.json`` written with a lift stage.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from vidpose.errors import InputError

# H36M-17: parent of each joint (-1: root), and the rest (T-pose) direction of the bone to it, Y up,
# the character facing +Z (its right side at -X).
PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
REST_DIRECTIONS = np.array([
    [0, 0, 0], [-1, 0, 0], [0, -1, 0], [0, -1, 0], [1, 0, 0], [0, -1, 0], [0, -1, 0],
    [0, 1, 0], [0, 1, 0], [0, 1, 0], [0, 1, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0], [-1, 0, 0], [-1, 0, 0], [-1, 0, 0],
], np.float64)
NAMES = ("pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "spine",
         "thorax", "neck_nose", "head", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder",
         "right_elbow", "right_wrist")
CHILDREN = tuple(tuple(c for c in range(17) if PARENTS[c] == j) for j in range(17))
TO_BVH = np.diag([1.0, -1.0, -1.0])  # camera (x right, y down, z away) -> Y up, Z toward the camera
CM = 100.0


def _swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation matrix turning direction ``a`` onto ``b``."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    v, c = np.cross(a, b), float(a @ b)
    if c < -1 + 1e-9:  # opposite: half a turn about any axis perpendicular to a
        axis = np.cross(a, [1.0, 0, 0] if abs(a[0]) < 0.9 else [0, 1.0, 0])
        return Rotation.from_rotvec(np.pi * axis / np.linalg.norm(axis)).as_matrix()
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1 + c)


def _kabsch(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Rotation R minimising sum ||R src_i - dst_i||² (no reflection); src, dst (N, 3)."""
    u, _, vt = np.linalg.svd(dst.T @ src)
    d = np.sign(np.linalg.det(u @ vt)) or 1.0
    return u @ np.diag([1.0, 1.0, d]) @ vt


def joint_rotations(joints: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Global rotations (T, 17, 3, 3) turning the rest ``offsets`` (17, 3) onto ``joints`` (T, 17, 3) (Y up)."""
    t = len(joints)
    g = np.tile(np.eye(3), (t, 17, 1, 1))
    for j in range(17):
        kids = CHILDREN[j]
        if not kids:
            g[:, j] = g[:, PARENTS[j]]  # leaves: no bone of their own to orient
            continue
        for f in range(t):
            parent = g[f, PARENTS[j]] if PARENTS[j] >= 0 else np.eye(3)
            if len(kids) == 1:
                c = kids[0]
                d = joints[f, c] - joints[f, j]
                carried = parent @ offsets[c]
                g[f, j] = (_swing(carried, d) if np.linalg.norm(d) > 1e-9 else np.eye(3)) @ parent
            else:
                src = np.stack([offsets[c] for c in kids])
                dst = np.stack([joints[f, c] - joints[f, j] for c in kids])
                dst = dst / np.maximum(np.linalg.norm(dst, axis=1, keepdims=True), 1e-9) * \
                    np.linalg.norm(src, axis=1, keepdims=True)
                g[f, j] = _kabsch(src, dst)
    return g


def write_bvh(path: str | os.PathLike, joints_3d: np.ndarray, fps: float) -> Path:
    """Write one person's H36M-17 joints (T, 17, 3) (metres, camera axes) as BVH; returns the path."""
    x = np.asarray(joints_3d, np.float64)
    if x.ndim != 3 or x.shape[1:] != (17, 3) or len(x) < 1:
        raise InputError(f"{path}: BVH export needs H36M-17 joints (T, 17, 3), got {x.shape}")
    if not np.isfinite(x).all():
        raise InputError(f"{path}: BVH export: joints are not all finite")
    if not fps or fps <= 0:
        raise InputError(f"{path}: BVH export: fps must be positive, got {fps}")
    p = x @ TO_BVH.T * CM
    lengths = np.array([np.median(np.linalg.norm(p[:, j] - p[:, PARENTS[j]], axis=1)) if j else 0.0
                        for j in range(17)])
    offsets = REST_DIRECTIONS * lengths[:, None]
    g = joint_rotations(p, offsets)
    lines = ["HIERARCHY"]

    def emit(j: int, depth: int) -> None:
        ind = "  " * depth
        o = offsets[j]
        if j == 0:
            lines.append(f"ROOT {NAMES[j]}")
        else:
            lines.append(f"{ind}JOINT {NAMES[j]}")
        lines.append(ind + "{")
        lines.append(f"{ind}  OFFSET {o[0]:.4f} {o[1]:.4f} {o[2]:.4f}")
        chans = "6 Xposition Yposition Zposition Zrotation Xrotation Yrotation" if j == 0 else \
            "3 Zrotation Xrotation Yrotation"
        lines.append(f"{ind}  CHANNELS {chans}")
        for c in CHILDREN[j]:
            emit(c, depth + 1)
        if not CHILDREN[j]:
            lines.extend([f"{ind}  End Site", ind + "  {", f"{ind}    OFFSET 0.0000 0.0000 0.0000", ind + "  }"])
        lines.append(ind + "}")

    emit(0, 0)
    lines += ["MOTION", f"Frames: {len(p)}", f"Frame Time: {1.0 / fps:.6f}"]
    parents = np.where(np.array(PARENTS)[None, :, None, None] >= 0, g[:, np.maximum(PARENTS, 0)], np.eye(3))
    local = np.swapaxes(parents, -1, -2) @ g  # (T, 17, 3, 3): each joint's rotation in its parent's frame
    euler = Rotation.from_matrix(local.reshape(-1, 3, 3)).as_euler("ZXY", degrees=True).reshape(len(p), 17, 3)
    euler = np.unwrap(euler, period=360.0, axis=0)  # continuous channels: 179.6 -> 181.2, not -178.8
    for f in range(len(p)):
        vals = np.concatenate([p[f, 0], euler[f].reshape(-1)])
        lines.append(" ".join(f"{v:.4f}" for v in np.round(vals, 4) + 0.0))  # + 0.0: no "-0.0000"
    from vidpose.io.atomic import atomic_write_text

    path = Path(path)
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def read_bvh(path: str | os.PathLike) -> dict:
    """A BVH file as ``{"names", "parents", "offsets" (J, 3), "channels" [[...]], "frame_time", "motion" (T, C)}``
    (joints only; End Sites skipped). Faults raise InputError naming the file and line."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except IsADirectoryError:
        raise InputError(f"{path}: cannot read (a folder, not a file)") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from None
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not a BVH text file ({e.reason} at byte {e.start})") from None
    try:
        return _parse_bvh(path, text)
    except InputError:
        raise
    except IndexError:
        raise InputError(f"{path}: ends early (a truncated BVH file)") from None
    except ValueError as e:  # a word where a number belongs
        raise InputError(f"{path}: malformed BVH ({e})") from None


def _parse_bvh(path: Path, text: str) -> dict:
    words = []
    for n, line in enumerate(text.splitlines(), 1):
        words += [(w, n) for w in line.split()]
    names, parents, offsets, channels = [], [], [], []
    stack: list[int] = []
    i = 0

    def need(cond: bool, what: str) -> None:
        if not cond:
            raise InputError(f"{path}: line {words[min(i, len(words) - 1)][1] if words else 0}: {what}")

    need(bool(words) and words[0][0] == "HIERARCHY", "expected HIERARCHY")
    i = 1
    end_site = 0
    while i < len(words) and words[i][0] != "MOTION":
        w = words[i][0]
        if w in ("ROOT", "JOINT"):
            names.append(words[i + 1][0])
            parents.append(stack[-1] if stack else -1)
            i += 2
        elif w == "End":
            end_site += 1
            i += 2
        elif w == "{":
            if end_site:
                stack.append(-2)
            else:
                stack.append(len(names) - 1)
            i += 1
        elif w == "}":
            need(bool(stack), "unbalanced '}'")
            if stack.pop() == -2:
                end_site -= 1
            i += 1
        elif w == "OFFSET":
            vals = [float(v) for v, _ in words[i + 1:i + 4]]
            if not (stack and stack[-1] == -2):
                offsets.append(vals)
            i += 4
        elif w == "CHANNELS":
            k = int(words[i + 1][0])
            channels.append([v for v, _ in words[i + 2:i + 2 + k]])
            i += 2 + k
        else:
            need(False, f"unexpected {w!r}")
    need(i < len(words), "no MOTION section")
    need(words[i + 1][0] == "Frames:" and words[i + 3][0] == "Frame" and words[i + 4][0] == "Time:",
         "expected 'Frames: N' and 'Frame Time: dt'")
    t = int(words[i + 2][0])
    dt = float(words[i + 5][0])
    vals = np.array([float(v) for v, _ in words[i + 6:]])
    c = sum(len(ch) for ch in channels)
    need(vals.size == t * c, f"MOTION has {vals.size} values, expected {t} frames x {c} channels")
    return {"names": names, "parents": parents, "offsets": np.array(offsets), "channels": channels,
            "frame_time": dt, "motion": vals.reshape(t, c)}


def bvh_positions(bvh: dict) -> np.ndarray:
    """Joint positions (T, J, 3) in the file's units and axes by forward kinematics of :func:`read_bvh`'s result."""
    t = len(bvh["motion"])
    j = len(bvh["names"])
    pos = np.zeros((t, j, 3))
    rot = np.zeros((t, j, 3, 3))
    col = 0
    for k in range(j):
        ch = bvh["channels"][k]
        vals = bvh["motion"][:, col:col + len(ch)]
        col += len(ch)
        trans = np.zeros((t, 3))
        order, angles = "", []
        for n, name in enumerate(ch):
            if name.endswith("position"):
                trans[:, "XYZ".index(name[0])] = vals[:, n]
            else:
                order += name[0]
                angles.append(vals[:, n])
        local = Rotation.from_euler(order, np.stack(angles, 1), degrees=True).as_matrix() if order else \
            np.tile(np.eye(3), (t, 1, 1))
        parent = bvh["parents"][k]
        if parent < 0:
            pos[:, k] = trans + bvh["offsets"][k]
            rot[:, k] = local
        else:
            pos[:, k] = pos[:, parent] + rot[:, parent] @ bvh["offsets"][k]
            rot[:, k] = rot[:, parent] @ local
    return pos


def to_h36m(joints_3d: np.ndarray, skeleton) -> np.ndarray:
    """(..., J, 3) 3D keypoints of ``skeleton`` as H36M-17 (InputError when they cannot be)."""
    from vidpose.skeletons import H36M17, convert, get_skeleton

    try:
        sk = get_skeleton(skeleton)
        if sk.name == H36M17.name:
            return np.asarray(joints_3d, np.float64)
        return convert(joints_3d, sk, H36M17)
    except ValueError as e:
        raise InputError(f"BVH export needs H36M-17 3D keypoints: {e}") from None


def held_frames(frames: dict[int, np.ndarray]) -> np.ndarray:
    """A track's poses ``{frame index: (J, 3)}`` from its first to its last frame, a missing frame
    repeating the pose before it (BVH has no missing frames)."""
    idx = sorted(frames)
    held, last = [], frames[idx[0]]
    for k in range(idx[0], idx[-1] + 1):
        last = frames.get(k, last)
        held.append(last)
    return np.stack(held)


class BvhWriter:
    """``vidpose run --bvh``: one BVH file per track (``<stem>_track<id>.bvh``) from the 3D keypoints,
    converted to H36M-17 (from ``skeleton_3d``), written by :func:`write_bvh` when the run closes.
    A track's frames run from its first to its last appearance; a frame where it is missing repeats
    the pose before it (BVH has no missing frames)."""

    def __init__(self, folder: str | os.PathLike, stem: str, skeleton_3d, fps: float):
        from vidpose.skeletons import get_skeleton

        self.folder, self.stem, self.skeleton_3d, self.fps = Path(folder), stem, get_skeleton(skeleton_3d), fps
        to_h36m(np.zeros((self.skeleton_3d.num_keypoints, 3)), self.skeleton_3d)  # fails now, not at the end
        self._tracks: dict[int, dict[int, np.ndarray]] = {}
        self._times: dict[int, float] = {}
        self.paths: list[Path] = []

    def write_frame(self, frame: dict) -> None:
        self._times[frame["index"]] = float(frame["time"])
        for p in frame["persons"]:
            if p["keypoints_3d"] is not None and p["track_id"] is not None:
                self._tracks.setdefault(p["track_id"], {})[frame["index"]] = np.asarray(p["keypoints_3d"], np.float64)

    def close(self) -> None:
        import warnings

        from vidpose.errors import output_error

        steps = np.diff([self._times[k] for k in sorted(self._times)])
        if len(steps) and self.fps and np.abs(steps * self.fps - 1.0).max() > 0.25:
            warnings.warn(f"{self.folder}: the video's frames are not evenly spaced ({steps.min():.4f}-"
                          f"{steps.max():.4f} s apart); BVH assumes even frames, so its Frame Time is the mean "
                          f"1/{self.fps:g} s and the motion's timing is off where the rate changes", stacklevel=2)
        for tid, frames in sorted(self._tracks.items()):
            path = self.folder / f"{self.stem}_track{tid}.bvh"
            try:
                write_bvh(path, to_h36m(held_frames(frames), self.skeleton_3d), self.fps)
            except OSError as e:
                raise output_error(path, e) from e
            self.paths.append(path)

    def abort(self) -> None:
        self._tracks.clear()


def poses_json_to_bvh(poses_json: str | os.PathLike, track_id: int, out: str | os.PathLike) -> Path:
    """One track's ``keypoints_3d`` of a ``poses.json`` written with a lift stage, as BVH (in H36M-17,
    converted from ``skeleton_3d``, else ``skeleton``): the same file as ``vidpose run --bvh`` writes, a
    frame where the track is missing repeating the pose before it."""
    from vidpose.io.jsonfile import read_json

    d = read_json(poses_json)
    if not isinstance(d, dict):
        raise InputError(f"{poses_json}: not a poses.json file")
    try:
        sk = (d.get("skeleton_3d") or d.get("skeleton") or {}).get("name", "h36m17")
        frames = {int(f.get("index", i)): np.asarray(p["keypoints_3d"], np.float64)
                  for i, f in enumerate(d.get("frames", [])) for p in f.get("persons", [])
                  if p.get("track_id") == track_id and p.get("keypoints_3d") is not None}
        fps = float(d.get("video", {}).get("fps") or d.get("fps") or 30.0)
        x = held_frames(frames) if frames else None
    except (AttributeError, TypeError, ValueError):  # a list where poses.json has an object, ragged keypoints
        raise InputError(f"{poses_json}: not a poses.json file (malformed skeleton, frames or video)") from None
    if not frames:
        raise InputError(f"{poses_json}: track {track_id} has no 3D keypoints (run with --lift)")
    try:
        joints = to_h36m(x, sk)
    except InputError as e:
        raise InputError(f"{poses_json}: {e}") from None
    return write_bvh(out, joints, fps)
