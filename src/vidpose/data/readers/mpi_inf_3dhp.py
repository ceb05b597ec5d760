"""MPI-INF-3DHP: training sequences (``S*/Seq*/annot.mat``) and the test set.

Training ``annot.mat`` (MATLAB v5, read with scipy): ``annot2``, ``annot3``,
``univ_annot3`` are 14 x 1 cell arrays, one cell per camera, each cell a
T x 56 (2D: x0 y0 x1 y1 ...) or T x 84 (3D: x0 y0 z0 x1 ...) matrix, i.e. row
``t`` lists the 28 joints of frame ``t`` in order. ``cameras`` (1 x 14) gives the
camera numbers. 28 joints in ``MPI_INF_3DHP28_KEYPOINTS`` order; 3D in mm,
``annot3`` in the camera's frame, ``univ_annot3`` rescaled to a universal
skeleton size. The per-camera videos are ``S*/Seq*/imageSequence/video_<c>.avi``.

Test set ``mpi_inf_3dhp_test_set/TS<k>/annot_data.mat``: in MATLAB dimension
order ``annot2`` is 2 x 17 x 1 x T, ``annot3``/``univ_annot3`` 3 x 17 x 1 x T
(2 x 1 x 17 x T and 2 x 17 x T are accepted too), ``valid_frame`` 1 x T (1 =
valid), optional ``activity_annotation`` 1 x T. 17 joints in
``MPI_INF_3DHP17_KEYPOINTS`` order (= ``MPI_INF_3DHP_TEST_JOINTS`` of the 28).
The released test files are MATLAB v7.3 (HDF5): they are read with h5py when
it is installed (optional dependency; h5py returns dimensions reversed, which
the reader undoes); without it the reader says how to re-save them as v7.

No visibility: 3D datasets carry none. fps is left ``None`` (not stored in
the annotation files).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

import numpy as np

from vidpose.data.readers._common import (
    as_array,
    fail,
    is_hdf5,
    load_mat,
    require_dir,
    require_file,
)
from vidpose.data.annotations import Sequence3D
from vidpose.errors import InputError
from vidpose.skeletons import MPI_INF_3DHP17

MPI_INF_3DHP28_KEYPOINTS: tuple[str, ...] = (
    "spine3", "spine4", "spine2", "spine", "pelvis", "neck", "head", "head_top",
    "left_clavicle", "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_clavicle", "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot", "left_toe",
    "right_hip", "right_knee", "right_ankle", "right_foot", "right_toe",
)
# The 17 evaluation joints, as 0-based indices into the 28.
MPI_INF_3DHP_TEST_JOINTS: tuple[int, ...] = (7, 5, 14, 15, 16, 9, 10, 11, 23, 24, 25, 18, 19, 20, 4, 3, 6)
MPI_INF_3DHP17_KEYPOINTS: tuple[str, ...] = MPI_INF_3DHP17.keypoints  # the 17 of the 28 (tested)

_SEQ_RE = re.compile(r"^S(\d+)$")
_SEQ2_RE = re.compile(r"^Seq(\d+)$")


def _cells(m: dict, key: str, path: Path) -> list[np.ndarray]:
    if key not in m:
        raise fail(path, key, "missing variable")
    c = m[key]
    if not isinstance(c, np.ndarray) or c.dtype != object:
        raise fail(path, key, f"expected a cell array (one cell per camera), got {getattr(c, 'shape', type(c))}")
    return list(c.ravel())


def read_mpi_inf_3dhp(
    root: str | Path,
    *,
    cameras: Iterable[int] | None = None,
    universal: bool = False,
    joints_17: bool = False,
) -> list[Sequence3D]:
    """Read every ``root/S<i>/Seq<j>/annot.mat`` into one sequence per camera.

    ``subject`` = ``"S1"``, ``action`` = ``"Seq1"``, ``camera`` = camera number;
    ``joints_3d`` (T, 28, 3) mm from ``annot3`` (``univ_annot3`` when
    ``universal``), ``joints_2d`` (T, 28, 2) pixels from ``annot2``;
    ``joints_17`` keeps the 17 test joints instead. ``cameras`` restricts to
    those camera numbers (all 14 by default). ``extra``: ``video`` (the
    camera's .avi path), ``universal``.
    """
    base = require_dir(root, "MPI-INF-3DHP root")
    keep = None if cameras is None else {int(c) for c in cameras}
    sel = list(MPI_INF_3DHP_TEST_JOINTS) if joints_17 else None
    key3 = "univ_annot3" if universal else "annot3"
    files = sorted(
        (int(_SEQ_RE.match(s.name)[1]), int(_SEQ2_RE.match(q.name)[1]), q / "annot.mat")
        for s in base.iterdir() if s.is_dir() and _SEQ_RE.match(s.name)
        for q in s.iterdir() if q.is_dir() and _SEQ2_RE.match(q.name)
    )
    if not files:
        raise InputError(f"{base}: no S<i>/Seq<j>/ folders (MPI-INF-3DHP training layout)")
    out: list[Sequence3D] = []
    for subj, seq, path in files:
        require_file(path, "annot.mat")
        m = load_mat(path)
        a2 = _cells(m, "annot2", path)
        a3 = _cells(m, key3, path)
        if len(a2) != len(a3):
            raise fail(path, key3, f"has {len(a3)} cameras, annot2 has {len(a2)}")
        if "cameras" in m:
            cams = as_array(m["cameras"], path, "cameras").ravel()
            if not np.all(cams == np.round(cams)) or np.any(np.abs(cams) > 2**31):
                raise fail(path, "cameras", f"expected integer camera numbers, got {cams.tolist()[:14]}")
            cam_ids = [int(c) for c in cams]
            if len(set(cam_ids)) != len(cam_ids):
                raise fail(path, "cameras", f"camera numbers repeat: {cam_ids}")
            if len(cam_ids) != len(a2):
                raise fail(path, "cameras", f"lists {len(cam_ids)} cameras, annot2 has {len(a2)} cells")
        else:
            cam_ids = list(range(len(a2)))
        for c, cam in enumerate(cam_ids):
            if keep is not None and cam not in keep:
                continue
            j2 = as_array(a2[c], path, f"annot2{{{c + 1}}}", (None, 56))
            j3 = as_array(a3[c], path, f"{key3}{{{c + 1}}}", (None, 84))
            if j2.shape[0] != j3.shape[0]:
                raise fail(path, f"{key3}{{{c + 1}}}", f"has {j3.shape[0]} frames, annot2 has {j2.shape[0]}")
            # Each row is joint-major: x0 y0 [z0] x1 y1 ... so a C-order reshape is right.
            j2 = j2.reshape(-1, 28, 2)
            j3 = j3.reshape(-1, 28, 3)
            if sel is not None:
                j2, j3 = j2[:, sel], j3[:, sel]
            out.append(
                Sequence3D(
                    subject=f"S{subj}", action=f"Seq{seq}", camera=cam, joints_3d=j3, joints_2d=j2,
                    extra={"video": path.parent / "imageSequence" / f"video_{cam}.avi", "universal": universal},
                )
            )
        if keep is not None and not keep & set(cam_ids):
            raise fail(path, "cameras", f"none of the requested cameras {sorted(keep)} present")
    return out


# --- test set -----------------------------------------------------------------------------


def _load_test_mat(path: Path, keys: tuple[str, ...]) -> dict:
    """Variables ``keys`` (those present) in MATLAB dimension order, from v5 or v7.3."""
    if not is_hdf5(path):
        m = load_mat(path)
        return {k: m[k] for k in keys if k in m}
    try:
        import h5py  # optional: only the v7.3 test files need it
    except ImportError:
        raise InputError(
            f"{path}: MATLAB v7.3 (HDF5) file; install the optional package h5py to read it, "
            "or re-save it as v7 in MATLAB: `s = load('annot_data.mat'); "
            "save('annot_data.mat', '-struct', 's', '-v7')`"
        ) from None
    out = {}
    try:
        with h5py.File(path, "r") as f:
            for k in keys:
                if k not in f:
                    continue
                obj = f[k]
                if not isinstance(obj, h5py.Dataset):
                    raise fail(path, k, f"expected a numeric array, got an HDF5 {type(obj).__name__} "
                                        "(a MATLAB struct or cell?)")
                if obj.dtype.kind not in "fiub":
                    raise fail(path, k, f"expected a numeric array, got HDF5 type {obj.dtype}")
                # HDF5 stores MATLAB arrays with the dimension order reversed.
                out[k] = np.asarray(obj[()]).T
    except InputError:
        raise
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as e:
        raise InputError(f"{path}: not a readable MATLAB v7.3 (HDF5) file ({e}); truncated?") from None
    return out


def _test_joints(arr: np.ndarray, c: int, path: Path, what: str) -> np.ndarray:
    """MATLAB-order (c, 17, 1, T) / (c, 1, 17, T) / (c, 17, T) -> (T, 17, c)."""
    a = as_array(arr, path, what, finite=False)
    if a.ndim == 4 and a.shape[2] == 1:
        a = a[:, :, 0, :]
    elif a.ndim == 4 and a.shape[1] == 1:
        a = a[:, 0, :, :]
    elif a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[:2] != (c, 17):
        raise fail(path, what, f"expected {c} x 17 x 1 x T (MATLAB order), got {np.shape(arr)}")
    return a.transpose(2, 1, 0).copy()


def read_mpi_inf_3dhp_test(root: str | Path, *, universal: bool = False) -> list[Sequence3D]:
    """Read ``mpi_inf_3dhp_test_set/TS*/annot_data.mat`` (``root`` may be that folder or its parent).

    One sequence per ``TS<k>``: ``subject`` = ``"TS1"``, ``action`` =
    ``"test"``, ``camera`` = None, ``joints_3d`` (T, 17, 3) mm from ``annot3``
    (``univ_annot3`` when ``universal``), ``joints_2d`` (T, 17, 2) pixels.
    ``extra``: ``valid`` (T,) bool from ``valid_frame`` (the standard
    evaluation uses valid frames only), ``activity`` (T,) when present,
    ``image_dir`` (``TS<k>/imageSequence``, frames ``img_%06d.jpg`` from 1).
    Non-finite coordinates are an error in valid frames and kept in invalid ones.
    """
    base = require_dir(root, "MPI-INF-3DHP test root")
    if (base / "mpi_inf_3dhp_test_set").is_dir():
        base = base / "mpi_inf_3dhp_test_set"
    dirs = sorted((d for d in base.iterdir() if d.is_dir() and re.match(r"^TS\d+$", d.name)), key=lambda d: int(d.name[2:]))
    if not dirs:
        raise InputError(f"{base}: no TS<k>/ folders (MPI-INF-3DHP test set layout)")
    key3 = "univ_annot3" if universal else "annot3"
    out: list[Sequence3D] = []
    for d in dirs:
        path = require_file(d / "annot_data.mat", "annot_data.mat")
        m = _load_test_mat(path, ("annot2", key3, "valid_frame", "activity_annotation"))
        for k in ("annot2", key3, "valid_frame"):
            if k not in m:
                raise fail(path, k, "missing variable")
        j2 = _test_joints(m["annot2"], 2, path, "annot2")
        j3 = _test_joints(m[key3], 3, path, key3)
        t = j3.shape[0]
        if j2.shape[0] != t:
            raise fail(path, "annot2", f"has {j2.shape[0]} frames, {key3} has {t}")
        valid_raw = as_array(m["valid_frame"], path, "valid_frame").ravel()
        if valid_raw.size != t:
            raise fail(path, "valid_frame", f"has {valid_raw.size} entries for {t} frames")
        if not np.isin(valid_raw, (0, 1)).all():
            raise fail(path, "valid_frame", "values other than 0 and 1")
        valid = valid_raw.astype(bool)
        for name, arr in ((key3, j3), ("annot2", j2)):
            bad = valid & ~np.isfinite(arr).all(axis=(1, 2))
            if bad.any():
                raise fail(path, name, f"non-finite value (NaN or inf) in valid frame {int(np.argmax(bad))}")
        extra = {"valid": valid, "image_dir": d / "imageSequence", "universal": universal}
        if "activity_annotation" in m:
            act = as_array(m["activity_annotation"], path, "activity_annotation").ravel()
            if act.size != t:
                raise fail(path, "activity_annotation", f"has {act.size} entries for {t} frames")
            if not (np.all(act == np.round(act)) and np.all(np.abs(act) < 2**31)):
                raise fail(path, "activity_annotation", "expected integer activity labels")
            extra["activity"] = act.astype(np.int64)
        out.append(
            Sequence3D(subject=d.name, action="test", camera=None, joints_3d=j3, joints_2d=j2, extra=extra)
        )
    return out
