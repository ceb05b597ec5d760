"""Human3.6M and HumanEva-I in the VideoPose3D ``.npz`` layout.

``data_3d_<name>.npz`` holds ``positions_3d``: a pickled dict
``subject -> action -> (T, J, 3)`` world coordinates in metres.
``data_2d_<name>_<source>.npz`` holds ``positions_2d``: ``subject -> action ->
[camera 0, camera 1, ...]`` each ``(T, J, 2)`` pixels (or ``None`` for a missing
camera), and ``metadata``: ``{"layout_name", "num_joints", "keypoints_symmetry"}``.

Security: both files are pickled object arrays, read with
``numpy.load(allow_pickle=True)``; unpickling can run arbitrary code, so only
read files from a source you trust (your own conversion or the published ones).

Human3.6M: 3D files have the 32 mocap joints; VideoPose3D keeps 17 of them,
indices ``H36M_KEPT_JOINTS`` = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19,
25, 26, 27], giving ``vidpose.skeletons.H36M17`` order (pelvis first). 50 fps.
Cameras 0..3 are, in order, 54138969, 55011271, 58860488, 60457274.

HumanEva-I: 15 joints (``HUMANEVA15_KEYPOINTS``), subjects ``Train/S1`` ...
``Validate/S3``, actions like ``"Walking 1 chunk0"``; 60 fps; cameras 0..2 =
C1, C2, C3. 2D entries under ``Unlabeled/...`` have no 3D ground truth and are
not returned (use the 2D file directly for them).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from vidpose.data.readers._common import as_array, as_int, fail, require_file
from vidpose.data.annotations import Sequence3D
from vidpose.errors import InputError
from vidpose.skeletons import H36M17, HUMANEVA15

H36M_TRAIN_SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8")
H36M_TEST_SUBJECTS: tuple[str, ...] = ("S9", "S11")
H36M_KEPT_JOINTS: tuple[int, ...] = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
H36M_CAMERA_IDS: tuple[str, ...] = ("54138969", "55011271", "58860488", "60457274")
H36M17_KEYPOINTS: tuple[str, ...] = H36M17.keypoints

HUMANEVA15_KEYPOINTS: tuple[str, ...] = HUMANEVA15.keypoints
HUMANEVA_TRAIN_SUBJECTS: tuple[str, ...] = ("Train/S1", "Train/S2", "Train/S3")
HUMANEVA_TEST_SUBJECTS: tuple[str, ...] = ("Validate/S1", "Validate/S2", "Validate/S3")
HUMANEVA_CAMERA_IDS: tuple[str, ...] = ("C1", "C2", "C3")


def _load_pickled(path: Path, key: str) -> Any:
    require_file(path, "npz file")
    # np.load falls back to plain unpickling for non-zip files; refuse those outright.
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as f:
            cdf = f.read(4) == b"\xcd\xf3\x00\x01"  # NASA CDF: Human3.6M's original pose files
        if cdf:
            raise InputError(f"{path}: an original Human3.6M .cdf file; vidpose reads the VideoPose3D conversion "
                             "(data_3d_h36m.npz, made by VideoPose3D's prepare_data_h36m.py from the CDF files)")
        raise InputError(f"{path}: not an .npz (zip) archive")
    try:
        with np.load(path, allow_pickle=True) as z:
            if key not in z.files:
                raise fail(path, key, f"missing array (has: {', '.join(z.files) or 'none'})")
            arr = z[key]
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 - damaged zip/npy/pickle bytes raise many types
        # (BadZipFile, NotImplementedError for odd zip flags, SyntaxError from a broken .npy
        # header, UnpicklingError, EOFError, zlib errors ...): all mean an unreadable file.
        raise InputError(f"{path}: not a readable .npz file ({type(e).__name__}: {e}); truncated?") from None
    # VideoPose3D saves dicts, which numpy stores as 0-d object arrays.
    if isinstance(arr, np.ndarray) and arr.dtype == object and arr.shape == ():
        return arr.item()
    return arr


def _as_dict(value: Any, path: Path, what: str) -> dict:
    if not isinstance(value, dict):
        raise fail(path, what, f"expected a dict, got {type(value).__name__}")
    bad = [k for k in value if not isinstance(k, str)]
    if bad:
        raise fail(path, what, f"expected string keys (subject / action names), got {bad[0]!r:.40}")
    return value


def _read(
    data_3d_path: str | Path,
    data_2d_path: str | Path | None,
    *,
    joints_full: int | None,
    kept: tuple[int, ...] | None,
    num_joints: int,
    layout: str,
    fps: float,
    camera_ids: tuple[str, ...],
) -> list[Sequence3D]:
    p3 = Path(data_3d_path)
    pos3d = _as_dict(_load_pickled(p3, "positions_3d"), p3, "positions_3d")
    pos2d = meta = None
    p2 = None
    if data_2d_path is not None:
        p2 = Path(data_2d_path)
        pos2d = _as_dict(_load_pickled(p2, "positions_2d"), p2, "positions_2d")
        meta = _as_dict(_load_pickled(p2, "metadata"), p2, "metadata")
        for k in ("layout_name", "num_joints"):
            if k not in meta:
                raise fail(p2, f"metadata.{k}", "missing")
        nj = as_int(meta["num_joints"], p2, "metadata.num_joints")
        if not isinstance(meta["layout_name"], str):
            raise fail(p2, "metadata.layout_name", f"expected a string, got {type(meta['layout_name']).__name__}")
        if nj != num_joints or meta["layout_name"] != layout:
            raise fail(
                p2, "metadata",
                f"2D layout {meta['layout_name']!r} with {meta['num_joints']} joints; the 3D data is "
                f"{layout!r} with {num_joints} (2D from another layout, e.g. 'coco', needs a skeleton conversion first)",
            )

    out: list[Sequence3D] = []
    for subject in sorted(pos3d):
        actions = _as_dict(pos3d[subject], p3, f"positions_3d[{subject!r}]")
        for action in sorted(actions):
            what = f"positions_3d[{subject!r}][{action!r}]"
            j3 = as_array(actions[action], p3, what, (None, None, 3))
            if kept is not None and j3.shape[1] == joints_full:
                j3 = j3[:, list(kept)]
            if j3.shape[1] != num_joints:
                allowed = f"{joints_full} or {num_joints}" if joints_full else str(num_joints)
                raise fail(p3, what, f"expected {allowed} joints, got {j3.shape[1]}")
            t = j3.shape[0]
            if pos2d is None:
                out.append(Sequence3D(subject=str(subject), action=str(action), camera=None, joints_3d=j3, fps=fps))
                continue
            w2 = f"positions_2d[{subject!r}][{action!r}]"
            if subject not in pos2d:
                raise fail(p2, w2, "missing: the 3D file has this sequence")
            if action not in _as_dict(pos2d[subject], p2, f"positions_2d[{subject!r}]"):
                raise fail(p2, w2, "missing: the 3D file has this sequence")
            cams = pos2d[subject][action]
            if not isinstance(cams, (list, tuple)) or not cams:
                raise fail(p2, w2, f"expected a list of per-camera arrays, got {type(cams).__name__}")
            for c, arr in enumerate(cams):
                extra: dict[str, Any] = {"camera_id": camera_ids[c] if c < len(camera_ids) else str(c)}
                j2 = None
                if arr is None:
                    extra["missing_2d"] = True  # this camera's video was not processed
                else:
                    j2 = as_array(arr, p2, f"{w2}[{c}]", (None, num_joints, 2))
                    if j2.shape[0] < t:
                        raise fail(p2, f"{w2}[{c}]", f"has {j2.shape[0]} frames, the 3D data has {t}")
                    if j2.shape[0] > t:
                        # Some Human3.6M videos have extra frames past the mocap; VideoPose3D
                        # trims them too. Recorded so nothing is lost silently.
                        extra["trimmed_2d_frames"] = j2.shape[0] - t
                        j2 = j2[:t]
                out.append(
                    Sequence3D(
                        subject=str(subject), action=str(action), camera=c, joints_3d=j3,
                        joints_2d=j2, fps=fps, extra=extra,
                    )
                )
    return out


def read_h36m_npz(data_3d_path: str | Path, data_2d_path: str | Path | None = None) -> list[Sequence3D]:
    """Read VideoPose3D Human3.6M files into 3D sequences in ``h36m17`` order.

    Without 2D: one sequence per (subject, action), ``camera = None``. With
    ``data_2d_h36m_<source>.npz``: one sequence per (subject, action, camera
    index 0..3) sharing the world 3D joints (T, 17, 3) metres, ``joints_2d``
    (T, 17, 2) pixels, ``extra["camera_id"]``; 2D longer than the mocap is
    trimmed to it (``extra["trimmed_2d_frames"]``), shorter is an error. 3D
    arrays with 32 joints are reduced to the 17 (see module docstring); 17-joint
    arrays are taken as already reduced. Only open trusted files (pickle).
    """
    return _read(
        data_3d_path, data_2d_path, joints_full=32, kept=H36M_KEPT_JOINTS, num_joints=17,
        layout="h36m", fps=50.0, camera_ids=H36M_CAMERA_IDS,
    )


def read_humaneva_npz(data_3d_path: str | Path, data_2d_path: str | Path | None = None) -> list[Sequence3D]:
    """Read VideoPose3D HumanEva-I files (``humaneva15`` layout) into 3D sequences.

    Same layout and rules as :func:`read_h36m_npz`, with 15 joints in
    ``HUMANEVA15_KEYPOINTS`` order, metres, 60 fps, cameras C1..C3. A ``None``
    camera entry in the 2D file gives ``joints_2d = None`` and
    ``extra["missing_2d"] = True``. Only open trusted files (pickle).
    """
    return _read(
        data_3d_path, data_2d_path, joints_full=None, kept=None, num_joints=15,
        layout="humaneva15", fps=60.0, camera_ids=HUMANEVA_CAMERA_IDS,
    )


# --- HumanEva-I cameras ---------------------------------------------------------------------

HUMANEVA_RESOLUTION = (640, 480)  # (width, height) of HumanEva-I's colour cameras C1..C3
CAMERA_FIT_MAX_PX = 0.05  # largest accepted median reprojection error of a fitted camera, x image width


def fit_camera(world: np.ndarray, pixels: np.ndarray) -> dict[str, np.ndarray | float]:
    """The pinhole camera that projects ``world`` (N, 3) onto ``pixels`` (N, 2): the direct linear
    transform (normalised points, SVD), split into intrinsics and rotation (RQ). Returns
    ``intrinsics`` (3, 3), ``R`` (3, 3), ``t`` (3,) (``camera = R world + t``, the world's unit) and
    ``error_px``, the median reprojection error. Lens distortion is not modelled."""
    X = np.asarray(world, np.float64).reshape(-1, 3)
    u = np.asarray(pixels, np.float64).reshape(-1, 2)
    if len(X) < 6:
        raise ValueError(f"a camera needs at least 6 points, got {len(X)}")

    def normaliser(p: np.ndarray) -> np.ndarray:  # Hartley: centred, mean distance sqrt(dim)
        c = p.mean(0)
        s = np.sqrt(p.shape[1]) / max(float(np.linalg.norm(p - c, axis=1).mean()), 1e-12)
        T = np.eye(p.shape[1] + 1)
        T[:-1, :-1] *= s
        T[:-1, -1] = -s * c
        return T

    T3, T2 = normaliser(X), normaliser(u)
    Xn = (np.c_[X, np.ones(len(X))] @ T3.T)
    un = (np.c_[u, np.ones(len(u))] @ T2.T)[:, :2]
    z = np.zeros_like(Xn)
    A = np.concatenate([np.c_[Xn, z, -un[:, :1] * Xn], np.c_[z, Xn, -un[:, 1:] * Xn]])
    P = np.linalg.inv(T2) @ np.linalg.svd(A, full_matrices=False)[2][-1].reshape(3, 4) @ T3
    M = P[:, :3]
    if abs(np.linalg.det(M)) < 1e-12 * max(np.abs(M).max(), 1e-300) ** 3:
        raise ValueError("degenerate point configuration (the 3D points do not span a volume)")
    P = P * np.sign(np.linalg.det(M))  # points in front of the camera have positive depth
    # RQ of M (K upper triangular, R orthonormal) through the QR of its row- and column-reversed transpose.
    flip = np.eye(3)[::-1]
    q, r = np.linalg.qr((flip @ P[:, :3]).T)
    K, R = flip @ r.T @ flip, flip @ q.T
    d = np.diag(np.sign(np.diag(K)))
    K, R = K @ d, d @ R
    t = np.linalg.solve(K, P[:, 3])
    cam = X @ R.T + t
    proj = (np.c_[cam[:, :2] / cam[:, 2:], np.ones(len(cam))] @ (K / K[2, 2]).T)[:, :2]
    return {"intrinsics": K / K[2, 2], "R": R, "t": t, "error_px": float(np.median(np.linalg.norm(proj - u, axis=1)))}


def with_fitted_cameras(sequences: list[Sequence3D], source: str | Path,
                        resolution: tuple[int, int] = HUMANEVA_RESOLUTION) -> list[Sequence3D]:
    """Camera-frame sequences from world 3D and one camera's 2D each (VideoPose3D's HumanEva-I files
    carry no cameras): every (subject, action, camera) gets the camera :func:`fit_camera` finds from
    its own frames, its 3D in that camera's frame and ``camera_params`` (``intrinsics``, ``R``, ``t``,
    ``width``, ``height``; ``extra["camera_fit_px"]`` the median reprojection error). Sequences
    without 2D are left out; a fit worse than ``CAMERA_FIT_MAX_PX`` of the image width is an error
    naming ``source`` and the sequence (2D and 3D that no single camera relates)."""
    w, h = resolution
    out = []
    for s in sequences:
        if s.joints_2d is None:
            continue
        where = f"positions_2d[{s.subject!r}][{s.action!r}][{s.camera}]"
        try:
            cam = fit_camera(s.joints_3d, s.joints_2d)
        except (ValueError, np.linalg.LinAlgError) as e:
            raise fail(source, where, f"no camera fits its 2D to the 3D ({e})") from None
        if not cam["error_px"] <= CAMERA_FIT_MAX_PX * w:
            raise fail(source, where, f"no camera fits its 2D to the 3D: median reprojection error "
                                      f"{cam['error_px']:.1f} px (more than {CAMERA_FIT_MAX_PX:.0%} of the "
                                      f"{w} px image; 2D of another sequence or layout?)")
        j3 = np.asarray(s.joints_3d, np.float64) @ cam["R"].T + cam["t"]
        extra = {**s.extra, "camera_fit_px": cam["error_px"]}
        out.append(Sequence3D(subject=s.subject, action=s.action, camera=s.camera, joints_3d=j3,
                              joints_2d=s.joints_2d, fps=s.fps, extra=extra,
                              camera_params={"intrinsics": cam["intrinsics"], "R": cam["R"], "t": cam["t"],
                                             "width": float(w), "height": float(h)}))
    return out
