"""Keypoint sequences -> 3D: the objective of 2D-to-3D lifters.

A sample is a window of ``model.cfg.receptive_field`` (odd) frames of one
sequence's 2D joints around a centre frame (edges repeat the first/last frame),
normalised to the image (``x / w * 2 - 1``, ``y / w * 2 - h / w``, as
VideoPose3D), and the centre frame's 3D joints relative to the root joint
(the skeleton's root, ``Skeleton.root``: the pelvis, joint 0 of H36M-17 and
HumanEva-I's 15, joint 14 of MPI-INF-3DHP's 17), in metres, in the camera frame
(x right, y down, z forward). The model's ``skeleton`` (default h36m17) must be
the layout of every sequence (``extra["skeleton"]``, h36m17 when absent).

Sequences come in two kinds (:class:`~vidpose.data.annotations.Sequence3D`):

* **camera-frame** (Human3.6M, synth-3d): 2D and 3D of one real or rendered camera; a sequence
  with ``extra["scores"]`` (T, J) has a detector's 2D (lift-pairs files,
  :mod:`vidpose.data.readers.lift_pairs`): its scores are the confidence channel and
  :class:`LiftAugment`'s corruption is not added to it;
* **world-frame** (``extra["frame"] == "world"``, ``extra["up"]`` the up axis: the
  DeepMimic mocap): no camera at all. In training every sample is seen through
  its own random virtual camera (:func:`random_camera`: anywhere around the
  person, 2.5-9 m away, -10..35 degrees elevation, 40-80 degrees field of view,
  landscape/portrait/4:3 images, static or following the person; a person who would
  leave the picture or come closer than ``MIN_DEPTH`` is followed), drawn from
  ``numpy.random.default_rng([seed, epoch, index])`` like every other
  augmentation, so a resumed run stays bit-exact. For validation and tests
  each world sequence is seen through ``EVAL_CAMERAS`` fixed cameras drawn from
  another stream (``[EVAL_CAMERA_SEED, sequence, camera]``): cameras never used in
  training.

2D corruption like a real detector's (:class:`LiftAugment`, fields of the
lifter's model config, so the checkpoint records them): Gaussian noise scaled
to the person's 2D height, dropped joints (low confidence, the position
thrown off), left/right confusions of whole frames or single limbs. With
``in_channels == 3`` the model also gets a confidence per joint: 1 for clean
joints; in training U(1 - l/2, 1) for kept joints of a sample whose noise level
is l in [0, 1] (noise std l x ``noise`` x height) and U(0, 0.3) for dropped
ones; the detector's score at inference.

The model takes ``keypoints_2d`` (B, T, J, C) and returns (B, J, 3). A model config with
``train_chunk = S > 1`` trains on S consecutive centre frames per sample (windows of R + S - 1
frames, targets (B, S, J, 3), the model returning one prediction per centre frame): the
frames the windows share are computed once. Loss: MPJPE
(metres); validation (:func:`lift_scores`, millimetres, over every centre frame of the
validation sequences): ``val_mpjpe`` (protocol #1, picks the best checkpoint), ``val_p_mpjpe``
(protocol #2, Procrustes-aligned per frame), ``val_pck3d`` (3DPCK at 150 mm) and ``val_auc``
(MPI-INF-3DHP's conventions, :mod:`vidpose.metrics.pose3d`).
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from vidpose.data.mocap import axis_angle_matrix
from vidpose.errors import InputError
from vidpose.geometry import normalize_screen
from vidpose.objectives.base import Objective

try:
    from torch.utils.data import Dataset as _TorchDataset
except ImportError:  # pragma: no cover
    _TorchDataset = object  # type: ignore[assignment,misc]

EVAL_CAMERAS = 4  # fixed virtual cameras per world-frame validation/test sequence
EVAL_CAMERA_SEED = 0x3D17  # their random stream; training cameras come from [seed, epoch, index]
IMAGE_SIZES = ((1920, 1080), (1280, 720), (1080, 1920), (640, 480))  # (w, h) of virtual cameras
LOW_CONFIDENCE = 0.3  # dropped joints get a confidence below this
MIN_DEPTH = 1.0  # metres: a virtual camera keeps the root at least this far in front of it
MAX_TILT_DEG = 100.0  # motion augmentation: the largest rotation of a tilted training window's body
MAX_SPEED_LOG = 1.5  # ... and the largest |log| of its playback speed (speed <= this)
MAX_NOISE_TIME = 30.0  # frames: the longest correlation time of the 2D noise (noise_time <= this)
OUTLIER_SIZE = (0.1, 0.4)  # a gross 2D error moves a joint by this fraction of the person's height ...
OUTLIER_FRAMES = 8  # ... for 1 to this many frames


@dataclass
class LiftAugment:
    """Training-time 2D corruption of a lifter (fields of its model config; 0 = off).

    ``noise``: the largest per-sample 2D noise std as a fraction of the person's 2D height
    (each sample draws its level in [0, noise]); ``drop``: the largest per-sample probability
    that a joint is dropped in a frame; ``swap``: the probability that a frame's left and right
    are swapped (half of them whole-body, half one limb pair).

    Motion augmentation of world-frame training windows (:func:`move_window`; no effect on
    camera-frame sequences, whose 2D is given): ``tilt``: the probability that a window's body is
    rotated about its root, about a random horizontal axis, by up to ``MAX_TILT_DEG`` degrees (lying,
    bent and upside-down poses from upright ones); ``speed``: the window is played at a speed
    ``exp(U(-speed, speed))`` (linear interpolation between frames).

    ``noise_time``: the 2D noise's correlation time in frames (0: independent per frame). A detector's
    errors persist over several frames, which a temporal lifter cannot average away; with
    ``noise_time = s`` the per-frame noise is white noise smoothed along time by a Gaussian of std
    ``s`` frames and rescaled to the same std (correlation ``exp(-lag^2 / (4 s^2))`` between frames
    ``lag`` apart).

    ``outlier``: the largest per-sample rate of gross errors. A detector sometimes puts a joint far from
    where it is, for a few frames, and not always with a low score. Each sample draws a rate in
    ``[0, outlier]``. A joint starts an error in a frame with that probability / ``OUTLIER_FRAMES``.
    The error moves the joint by ``OUTLIER_SIZE`` x the person's height, in a random direction, for
    1 to ``OUTLIER_FRAMES`` frames, with a confidence of U(0.4, 1).
    """

    noise: float = 0.0
    drop: float = 0.0
    swap: float = 0.0
    tilt: float = 0.0
    speed: float = 0.0
    noise_time: float = 0.0
    outlier: float = 0.0

    def check(self, where: str = "model config") -> None:
        bounds = {"noise": (1, ""), "drop": (1, ""), "swap": (1, ""), "tilt": (1, ""), "outlier": (1, ""),
                  "speed": (MAX_SPEED_LOG, ""), "noise_time": (MAX_NOISE_TIME, " frames")}
        for k, (hi, unit) in bounds.items():
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= hi:
                raise InputError(f"{where}: {k} must be in [0, {hi}]{unit}, got {v!r}")

    @property
    def active(self) -> bool:
        """Whether the 2D is corrupted (noise, dropped joints, swaps, gross errors)."""
        return bool(self.noise or self.drop or self.swap or self.outlier)

    @property
    def moves(self) -> bool:
        """Whether training windows of world-frame sequences are tilted or played at another speed."""
        return bool(self.tilt or self.speed)


# --- virtual cameras -------------------------------------------------------------------------

def look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray) -> np.ndarray:
    """World -> camera rotation (3, 3) (rows: x right, y down, z forward) of a camera at ``eye``."""
    z = target - eye
    z = z / np.linalg.norm(z)
    x = np.cross(z, up)
    n = np.linalg.norm(x)
    x = x / n if n > 1e-9 else np.cross(z, np.roll(up, 1)) / np.linalg.norm(np.cross(z, np.roll(up, 1)))
    return np.stack([x, np.cross(z, x), z])


def horizontal_axes(up: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit axes perpendicular to the unit vector ``up`` and to each other."""
    a = np.cross(up, [1.0, 0.0, 0.0] if abs(up[0]) < 0.9 else [0.0, 1.0, 0.0])
    a /= np.linalg.norm(a)
    return a, np.cross(up, a)


def random_camera(rng: np.random.Generator, root: np.ndarray, centre: int, up: np.ndarray) -> dict[str, Any]:
    """A virtual camera for world joints whose root moves along ``root`` (T, 3): ``R`` (3, 3),
    ``eye`` (T, 3) (static, or following the person by a random fraction), ``f``, ``width``, ``height``."""
    up = np.asarray(up, np.float64)
    c = root[centre]
    az = rng.uniform(0.0, 2 * np.pi)
    el = np.deg2rad(rng.uniform(-10.0, 35.0))
    dist = rng.uniform(2.5, 9.0)
    a, b = horizontal_axes(up)
    direction = np.cos(el) * (np.cos(az) * a + np.sin(az) * b) + np.sin(el) * up
    target = c + rng.uniform(-0.3, 0.3) * a + rng.uniform(-0.3, 0.3) * b + rng.uniform(-0.3, 0.2) * up
    eye0 = target + dist * direction
    R = look_at(eye0, target, up)
    follow = rng.uniform(0.0, 1.0) if rng.uniform() < 0.5 else 0.0
    w, h = IMAGE_SIZES[int(rng.integers(len(IMAGE_SIZES)))]
    f = w / 2 / np.tan(np.deg2rad(rng.uniform(40.0, 80.0)) / 2)
    eye = eye0 + follow * (root - c)
    if follow < 1.0 and not _root_in_view(R, eye, root, f, w, h):
        eye = eye0 + (root - c)  # a person who would leave the picture (or pass the camera) is followed
    return {"R": R, "eye": eye, "f": float(f), "width": float(w), "height": float(h)}


def _root_in_view(R: np.ndarray, eye: np.ndarray, root: np.ndarray, f: float, w: float, h: float) -> bool:
    """Whether the root stays at least ``MIN_DEPTH`` in front of the camera and inside the image in
    every frame (a video shows the people it tracks; a static camera that a runner passes does not)."""
    xc = np.einsum("ab,tb->ta", R, root - eye)
    if (xc[:, 2] < MIN_DEPTH).any():
        return False
    uv = xc[:, :2] / xc[:, 2:3] * f
    return bool((np.abs(uv[:, 0]) <= w / 2).all() and (np.abs(uv[:, 1]) <= h / 2).all())


def project(joints: np.ndarray, cam: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """World joints (T, J, 3) -> camera-frame joints (T, J, 3) and pixels (T, J, 2) (depth clamped at 0.1 m)."""
    xc = np.einsum("ab,tjb->tja", cam["R"], joints - cam["eye"][:, None, :])
    z = np.maximum(xc[..., 2:3], 0.1)
    px = xc[..., :2] / z * cam["f"] + np.array([cam["width"], cam["height"]]) / 2
    return xc, px


# --- detector-like corruption ------------------------------------------------------------------

def corrupt(rng: np.random.Generator, px: np.ndarray, aug: LiftAugment, flip_perm: np.ndarray,
            limb_pairs: tuple[tuple[int, int], ...]) -> tuple[np.ndarray, np.ndarray]:
    """Noisy pixels (T, J, 2) and confidences (T, J) from clean pixels, as :class:`LiftAugment` says."""
    t, j = px.shape[:2]
    out = px.copy()
    conf = np.ones((t, j))
    centre = px[t // 2]
    height = max(float(np.ptp(centre[:, 1])), float(np.ptp(centre[:, 0])), 1.0)
    if aug.noise:
        level = rng.uniform(0.0, 1.0)  # 0: clean 2D, confidences 1; 1: the noisiest, confidences down to 0.5
        sigma = level * aug.noise * height
        out += correlated_noise(rng, out.shape, sigma, aug.noise_time) + rng.normal(0.0, sigma / 2, (1, j, 2))
        conf = rng.uniform(1.0 - 0.5 * level, 1.0, (t, j))
    if aug.swap:
        frames = rng.uniform(size=t) < aug.swap
        whole = rng.uniform(size=t) < 0.5
        pair = rng.integers(len(limb_pairs), size=t)
        for k in np.flatnonzero(frames):
            if whole[k]:
                out[k] = out[k, flip_perm]
            else:
                a, b = limb_pairs[pair[k]]
                out[k, [a, b]] = out[k, [b, a]]
    if aug.drop:
        dropped = rng.uniform(size=(t, j)) < rng.uniform(0.0, aug.drop)
        n = int(dropped.sum())
        if n:
            out[dropped] += rng.normal(0.0, 0.25 * height, (n, 2))
            conf[dropped] = rng.uniform(0.0, LOW_CONFIDENCE, n)
    if aug.outlier:
        starts = np.argwhere(rng.uniform(size=(t, j)) < rng.uniform(0.0, aug.outlier) / OUTLIER_FRAMES)
        n = len(starts)
        if n:
            length = rng.integers(1, OUTLIER_FRAMES + 1, n)
            angle = rng.uniform(0.0, 2 * np.pi, n)
            size = rng.uniform(*OUTLIER_SIZE, n) * height
            score = rng.uniform(0.4, 1.0, n)
            for (f, k), m, a, r, c in zip(starts, length, angle, size, score):
                out[f:f + m, k] += r * np.array([np.cos(a), np.sin(a)])
                conf[f:f + m, k] = np.minimum(conf[f:f + m, k], c)
    return out, conf


def correlated_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: float, time: float) -> np.ndarray:
    """Gaussian noise of std ``sigma`` and ``shape`` (T, ...): independent per frame (``time`` 0), or
    white noise smoothed along axis 0 by a Gaussian of std ``time`` frames, rescaled to std ``sigma``."""
    if not time:
        return rng.normal(0.0, sigma, shape)
    r = int(np.ceil(3 * time))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / time) ** 2)
    k /= np.sqrt((k * k).sum())  # unit gain in std
    w = rng.normal(0.0, sigma, (shape[0] + 2 * r,) + tuple(shape[1:]))
    return np.lib.stride_tricks.sliding_window_view(w, len(k), axis=0) @ k  # k is symmetric: a convolution


def move_window(rng: np.random.Generator, joints: np.ndarray, t: int, half: int, chunk: int, up: np.ndarray,
                root: tuple[int, ...], aug: LiftAugment) -> np.ndarray:
    """The training window (half + chunk + half frames around centre frames t..t+chunk-1) of world
    joints (N, J, 3), played at a random speed and its body tilted about the root, as ``aug`` says
    (:class:`LiftAugment`'s ``speed`` and ``tilt``; frames beyond the sequence repeat its ends)."""
    n = len(joints)
    offs = np.arange(-half, chunk + half, dtype=np.float64)
    if aug.speed:
        pos = np.clip(t + offs * float(np.exp(rng.uniform(-aug.speed, aug.speed))), 0.0, n - 1.0)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, n - 1)
        f = (pos - lo)[:, None, None]
        w = joints[lo] * (1.0 - f) + joints[hi] * f
    else:
        w = joints[np.clip(t + offs.astype(int), 0, n - 1)]
    if aug.tilt and rng.uniform() < aug.tilt:
        a, b = horizontal_axes(np.asarray(up, np.float64))
        phi = rng.uniform(0.0, 2 * np.pi)
        rot = axis_angle_matrix(np.cos(phi) * a + np.sin(phi) * b,  # a horizontal axis
                                np.deg2rad(rng.uniform(-MAX_TILT_DEG, MAX_TILT_DEG)))
        r = root_of(w, root)
        w = np.einsum("ab,tjb->tja", rot, w - r) + r
    return w


def root_of(joints: np.ndarray, root: tuple[int, ...]) -> np.ndarray:
    """The root of (..., J, 3) joints, (..., 1, 3): the skeleton's root joint (``Skeleton.root``), or
    the mean of its root joints."""
    return joints[..., root[0]:root[0] + 1, :] if len(root) == 1 else joints[..., list(root), :].mean(-2, keepdims=True)


# --- windows -----------------------------------------------------------------------------------

class SequenceWindows(_TorchDataset):
    """(sequence, frame) windows of a list of :class:`~vidpose.data.annotations.Sequence3D`.

    ``train``: world-frame sequences get a random camera per sample and ``aug`` is applied;
    otherwise world-frame sequences are projected once through ``EVAL_CAMERAS`` fixed cameras
    and ``aug`` (the bench's noisy rows) is applied once per sequence from ``seed``.
    """

    def __init__(self, sequences: list, window: int, num_joints: int, source: str, max_samples: int = 0, *,
                 train: bool = False, aug: LiftAugment | None = None, seed: int = 0, in_channels: int = 2,
                 chunk: int = 1, skeleton: str = "h36m17") -> None:
        from vidpose.skeletons import get_skeleton

        if isinstance(window, bool) or not isinstance(window, int) or window < 1 or window % 2 == 0:
            raise InputError(f"model config: receptive_field must be odd and >= 1, got {window}")
        if in_channels not in (2, 3):
            raise InputError(f"model config: in_channels must be 2 (x, y) or 3 (x, y, confidence), got {in_channels}")
        self.window, self.source, self.train = int(window), source, bool(train)
        self.aug, self.seed, self.in_channels = aug or LiftAugment(), int(seed), int(in_channels)
        self.epoch = 0
        if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
            raise InputError(f"model config: train_chunk must be a positive integer, got {chunk!r}")
        self.chunk = int(chunk) if self.train else 1
        sk = get_skeleton(skeleton)
        if num_joints != sk.num_keypoints:
            raise InputError(f"{source}: the model has {num_joints} joints, its skeleton {sk.name} {sk.num_keypoints}")
        self.skeleton, self.root = sk.name, tuple(sk.root)
        self.flip_perm, self.limb_pairs = sk.flip_permutation(), tuple(sk.flip_pairs)
        # Per sequence: "world" (joints_3d world, up axis) or "camera" (inputs, targets ready).
        self.world: list[tuple[np.ndarray, np.ndarray] | None] = []
        self.inputs, self.targets, self.names = [], [], []
        self.sequence_index: list[int] = []  # per entry: its sequence in ``sequences``
        for si, s in enumerate(sequences):
            name = f"{s.subject}/{s.action}"
            layout = (s.extra or {}).get("skeleton", "h36m17")
            if layout != sk.name:
                raise InputError(f"{source}: sequence {name} is in the {layout} layout, the model's skeleton is {sk.name} "
                                 f"(build the lifter for the data's layout: model.skeleton = \"{layout}\"; a checkpoint "
                                 f"of another skeleton cannot be trained or evaluated on it)")
            j3 = np.asarray(s.joints_3d, np.float64)
            if j3.ndim != 3 or j3.shape[1:] != (num_joints, 3) or len(j3) < 1:
                raise InputError(f"{source}: sequence {name}: joints {j3.shape}, expected (T, {num_joints}, 3)")
            if not np.isfinite(j3).all():
                raise InputError(f"{source}: sequence {name}: 3D joints are not all finite")
            if (s.extra or {}).get("frame") == "world":
                up = np.asarray(s.extra.get("up", (0.0, 0.0, 1.0)), np.float64)
                if up.shape != (3,) or not np.isclose(np.linalg.norm(up), 1.0):
                    raise InputError(f"{source}: sequence {name}: extra['up'] must be a unit 3-vector, got {up}")
                if self.train:
                    self._add(si, name, None, j3, (j3, up))
                else:
                    for c in range(EVAL_CAMERAS):
                        rng = np.random.default_rng([EVAL_CAMERA_SEED, zlib.crc32(name.encode()), c])
                        cam = random_camera(rng, root_of(j3, self.root)[:, 0], len(j3) // 2, up)
                        xc, px = project(j3, cam)
                        self._add(si, f"{name}/cam{c}", self._eval_input(px, cam["width"], cam["height"], si * 100 + c),
                                  xc, None)
                continue
            j2 = s.joints_2d
            if j2 is None:
                raise InputError(f"{source}: sequence {name} has no 2D joints")
            j2 = np.asarray(j2, np.float64)
            if j2.shape != j3.shape[:2] + (2,):
                raise InputError(f"{source}: sequence {name}: joints {j3.shape} / 2D {j2.shape}, "
                                 f"expected (T, {num_joints}, 3) / (T, {num_joints}, 2)")
            cp = s.camera_params or {}
            if "width" not in cp or "height" not in cp:
                raise InputError(f"{source}: sequence {name} has no image size (camera_params)")
            scores = (s.extra or {}).get("scores")
            if scores is not None:  # a detector's 2D: its scores are the confidences (lift-pairs data)
                scores = np.asarray(scores, np.float64)
                if scores.shape != j2.shape[:2] or not np.isfinite(scores).all():
                    raise InputError(f"{source}: sequence {name}: scores {scores.shape} must be finite, shaped "
                                     f"{j2.shape[:2]} like its 2D")
            if self.train:
                self._add(si, name, (j2, float(cp["width"]), float(cp["height"]), scores), j3, None)
            else:
                self._add(si, name, self._eval_input(j2, float(cp["width"]), float(cp["height"]), si * 100, scores),
                          j3, None)
        # A sample: `chunk` consecutive centre frames (the window grows by chunk - 1 frames).
        self.index = [(i, t) for i, y in enumerate(self.targets) for t in range(0, len(y), self.chunk)]
        if max_samples and len(self.index) > max_samples:  # evenly spread over every sequence
            keep = np.linspace(0, len(self.index) - 1, int(max_samples)).round().astype(int)
            self.index = [self.index[k] for k in keep]
        if not self.index:
            raise InputError(f"{source}: no frames to train on")

    def _add(self, si, name, inputs, j3, world) -> None:
        self.sequence_index.append(si)
        self.names.append(name)
        self.inputs.append(inputs)
        self.targets.append((j3 - root_of(j3, self.root)).astype(np.float32))
        self.world.append(world)

    def _eval_input(self, px: np.ndarray, w: float, h: float, stream: int, scores: np.ndarray | None = None) -> np.ndarray:
        """Network input (T, J, C) of a validation/test sequence (corrupted once when ``aug`` is on,
        unless it is a detector's 2D with its ``scores``)."""
        conf = np.ones(px.shape[:2]) if scores is None else scores
        if self.aug.active and scores is None:
            px, conf = corrupt(np.random.default_rng([self.seed, stream]), px, self.aug, self.flip_perm,
                               self.limb_pairs)
        return self._channels(normalize_screen(px, w, h), conf)

    def _channels(self, xy: np.ndarray, conf: np.ndarray) -> np.ndarray:
        x = xy if self.in_channels == 2 else np.concatenate([xy, conf[..., None]], -1)
        return x.astype(np.float32)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.index)

    def summary(self) -> str:
        if self.chunk > 1:  # each sample: `chunk` centre frames, so a window of window + chunk - 1 input frames
            return (f"{self.source}: {len(self.index)} samples of {self.chunk} consecutive centre frames (input "
                    f"windows of {self.window + self.chunk - 1} frames, receptive field {self.window}) from "
                    f"{len(self.targets)} sequences")
        return f"{self.source}: {len(self.index)} windows of {self.window} frames from {len(self.targets)} sequences"

    def __getitem__(self, i: int) -> dict[str, Any]:
        import torch

        s, t = self.index[i]
        n = len(self.targets[s])
        h = self.window // 2
        c = self.chunk
        idx = np.clip(np.arange(t - h, t + c + h), 0, n - 1)
        if not self.train:
            return {"keypoints_2d": torch.from_numpy(self.inputs[s][idx]), "joints_3d": torch.from_numpy(self.targets[s][t])}
        rng = np.random.default_rng([self.seed, self.epoch, i])
        scores = None
        if self.world[s] is not None:
            j3, up = self.world[s]
            win = move_window(rng, j3, t, h, c, up, self.root, self.aug) if self.aug.moves else j3[idx]
            cam = random_camera(rng, root_of(win, self.root)[:, 0], h + c // 2, up)
            xc, px = project(win, cam)
            w, hh = cam["width"], cam["height"]
            target = (xc[h:h + c] - root_of(xc[h:h + c], self.root)).astype(np.float32)
        else:
            j2, w, hh, scores = self.inputs[s]
            px, target = j2[idx], self.targets[s][idx[h:h + c]]
        if c == 1:
            target = target[0]
        conf = np.ones(px.shape[:2])
        if scores is not None:  # a detector's 2D: no synthetic corruption on top
            conf = scores[idx]
        elif self.aug.active:
            px, conf = corrupt(rng, px, self.aug, self.flip_perm, self.limb_pairs)
        x = self._channels(normalize_screen(px, w, hh), conf)
        return {"keypoints_2d": torch.from_numpy(x), "joints_3d": torch.from_numpy(np.ascontiguousarray(target))}

    def identity(self) -> str:
        """sha256 of the sequences' labels (world joints, or 2D and 3D)."""
        hsh = hashlib.sha256()
        for name, x, y, w in zip(self.names, self.inputs, self.targets, self.world):
            hsh.update(name.encode())
            if w is not None:
                hsh.update(np.ascontiguousarray(w[0]).tobytes())
            elif isinstance(x, tuple):
                hsh.update(np.ascontiguousarray(x[0]).tobytes())
                if x[3] is not None:
                    hsh.update(np.ascontiguousarray(x[3]).tobytes())
                hsh.update(y.tobytes())
            else:
                hsh.update(x.tobytes())
                hsh.update(y.tobytes())
        return hsh.hexdigest()


def mpjpe_loss(pred, target):
    """Mean per-joint position error (same unit as the inputs) of (B, J, 3) tensors."""
    return (pred - target).norm(dim=-1).mean()


def model_augment(model_cfg) -> LiftAugment:
    """The :class:`LiftAugment` a lifter's config asks for (none for a config without the fields)."""
    return LiftAugment(*(float(getattr(model_cfg, k, 0.0)) for k in ("noise", "drop", "swap", "tilt", "speed",
                                                                     "noise_time", "outlier")))


def lift_scores(preds: list, targets: list) -> dict[str, float]:
    """``val_mpjpe``, ``val_p_mpjpe`` (per-frame Procrustes), ``val_pck3d`` (150 mm) and ``val_auc``
    (0..150 mm), millimetres, of root-relative predictions against targets (metres, (T, J, 3) each),
    pooled over every frame."""
    from vidpose.metrics import pose3d

    p = 1000.0 * np.concatenate([np.asarray(x, np.float64).reshape(-1, *np.shape(x)[-2:]) for x in preds])
    g = 1000.0 * np.concatenate([np.asarray(y, np.float64).reshape(-1, *np.shape(y)[-2:]) for y in targets])
    return {"val_mpjpe": pose3d.mpjpe(p, g), "val_p_mpjpe": pose3d.p_mpjpe(p, g),
            "val_pck3d": pose3d.pck3d(p, g), "val_auc": pose3d.auc(p, g)}


class SequenceObjective(Objective):
    select = "val_mpjpe"
    higher_is_better = False
    metric_keys = ("val_mpjpe", "val_p_mpjpe", "val_pck3d", "val_auc")

    def dataset(self, subset: str, train: bool) -> SequenceWindows:
        from vidpose.data.loaders import describe_source, load_sequences

        d, m = self.cfg.data, self.model.cfg
        where = describe_source(d, subset) if d.root or d.ann_file else f"{d.dataset}/{subset}"
        return SequenceWindows(load_sequences(d, subset), m.receptive_field, m.num_joints, where, d.max_samples if train else d.max_val_samples,
                               train=train, aug=model_augment(m) if train else None, seed=self.cfg.run.seed,
                               in_channels=int(getattr(m, "in_channels", 2)), chunk=int(getattr(m, "train_chunk", 1)),
                               skeleton=str(getattr(m, "skeleton", "h36m17")))

    def loss(self, net, batch):
        loss = mpjpe_loss(net(batch["keypoints_2d"]), batch["joints_3d"])
        return loss, {"loss": float(loss.detach())}

    def validate(self, model, loader) -> dict[str, float]:
        import torch

        ds = getattr(loader, "dataset", None)
        if hasattr(model, "lift") and isinstance(ds, SequenceWindows) and not ds.train \
                and len(ds.index) == sum(len(y) for y in ds.targets):
            # Every frame of every sequence: one dense pass per sequence (the same numbers, faster).
            return lift_scores([x.numpy() for x in model.lift_many(ds.inputs)], ds.targets)
        preds, targets = [], []
        with torch.no_grad():
            for batch in loader:
                preds.append(model(batch["keypoints_2d"]).numpy())
                targets.append(batch["joints_3d"].numpy())
        return lift_scores(preds, targets)

    def data_identity(self) -> dict[str, Any]:
        return {"dataset": self.cfg.data.dataset, "subset": self.cfg.data.train_subset,
                "samples": len(self.train_data), "sequences": len(self.train_data.targets),
                "data_sha256": self.train_data.identity()}
