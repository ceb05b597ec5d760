"""A detector's 2D paired with 3D ground truth: training data for a lifter that learns the detector's errors.

A lifter trained only on clean 2D (projected ground truth with synthetic noise) meets a real
detector's errors at inference: errors that depend on the pose and the image and persist over
frames. VideoPose3D trains on a detector's 2D of the training videos for that reason. A
*lift-pairs* file holds such pairs: runs of consecutive frames of one person, each with the
detector's 2D keypoints and scores and the 3D ground truth of the same frames in the camera frame.
``python -m vidpose.bench.dgnet lift-pairs`` writes one from rendered synth-single clips (BlazePose
2D); any detector's output on any labelled video can be written with :func:`write_lift_pairs`.

Format ``vidpose.lift_pairs/1``, one ``.npz`` (``numpy.savez``, no pickles):

* ``format``, ``skeleton`` (the joints' layout, e.g. ``h36m17``), ``detector`` (free text): strings;
* ``keypoints_2d`` (N, J, 2) pixels, ``scores`` (N, J) in [0, 1], ``joints_3d`` (N, J, 3) metres in the
  camera frame (x right, y down, z forward), all runs' frames one after another;
* per run (R of them): ``run_length`` (R,) frames, ``run_clip`` (R,) names, ``run_first_frame`` (R,),
  ``run_size`` (R, 2) the image's width and height in pixels, ``run_fps`` (R,).

:func:`read_lift_pairs` gives one camera-frame :class:`~vidpose.data.annotations.Sequence3D` per run
with the scores in ``extra["scores"]``; the sequence objective then uses the scores as the
confidence channel and adds no synthetic corruption to that 2D (it is a detector's already).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from vidpose.data.annotations import Sequence3D
from vidpose.errors import InputError

FORMAT = "vidpose.lift_pairs/1"


def write_lift_pairs(path: str | os.PathLike, runs: list[dict], *, skeleton: str, detector: str) -> None:
    """Write runs (dicts with ``clip``, ``first_frame``, ``keypoints_2d`` (T, J, 2), ``scores`` (T, J),
    ``joints_3d`` (T, J, 3), ``width``, ``height``, ``fps``) as one lift-pairs file (atomically)."""
    from vidpose.io.atomic import atomic_path

    if not runs:
        raise InputError(f"{path}: no runs to write")
    for k, r in enumerate(runs):
        t = len(r["joints_3d"])
        j = np.shape(r["joints_3d"])[1] if t else 0
        if t < 1 or np.shape(r["keypoints_2d"]) != (t, j, 2) or np.shape(r["scores"]) != (t, j) \
                or np.shape(r["joints_3d"]) != (t, j, 3):
            raise InputError(f"{path}: run {k} ({r.get('clip')}): keypoints_2d {np.shape(r['keypoints_2d'])}, scores "
                             f"{np.shape(r['scores'])}, joints_3d {np.shape(r['joints_3d'])} do not agree")
    arrays = {
        "format": np.array(FORMAT), "skeleton": np.array(skeleton), "detector": np.array(detector),
        "keypoints_2d": np.concatenate([np.asarray(r["keypoints_2d"], np.float32) for r in runs]),
        "scores": np.concatenate([np.asarray(r["scores"], np.float32) for r in runs]),
        "joints_3d": np.concatenate([np.asarray(r["joints_3d"], np.float32) for r in runs]),
        "run_length": np.array([len(r["joints_3d"]) for r in runs], np.int64),
        "run_clip": np.array([str(r["clip"]) for r in runs]),
        "run_first_frame": np.array([int(r["first_frame"]) for r in runs], np.int64),
        "run_size": np.array([[float(r["width"]), float(r["height"])] for r in runs], np.float64),
        "run_fps": np.array([float(r["fps"]) for r in runs], np.float64),
    }
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)


def read_lift_pairs(path: str | os.PathLike) -> list[Sequence3D]:
    """The runs of a lift-pairs file as camera-frame sequences (``extra``: ``skeleton``, ``scores``,
    ``detector``, ``first_frame``), checked: a wrong format, a missing or misshapen array, run lengths
    that do not add up, or non-finite values are errors naming the file and the fault."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: lift-pairs file not found (python -m vidpose.bench.dgnet lift-pairs writes one)")
    try:
        with np.load(p, allow_pickle=False) as z:
            a = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise InputError(f"{p}: not a readable .npz file ({e})") from None
    need = ("format", "skeleton", "keypoints_2d", "scores", "joints_3d", "run_length", "run_clip",
            "run_first_frame", "run_size", "run_fps")
    missing = [k for k in need if k not in a]
    if missing:
        raise InputError(f"{p}: not a {FORMAT} file: missing {', '.join(missing)}")
    if str(a["format"]) != FORMAT:
        raise InputError(f"{p}: format {str(a['format'])!r}, expected {FORMAT!r}")
    k3, k2, sc = a["joints_3d"], a["keypoints_2d"], a["scores"]
    if k3.ndim != 3 or k3.shape[2] != 3 or k2.shape != k3.shape[:2] + (2,) or sc.shape != k3.shape[:2]:
        raise InputError(f"{p}: joints_3d {k3.shape}, keypoints_2d {k2.shape}, scores {sc.shape}: expected "
                         "(N, J, 3), (N, J, 2), (N, J)")
    lengths = a["run_length"].astype(np.int64)
    r = len(lengths)
    if (lengths < 1).any() or int(lengths.sum()) != len(k3):
        raise InputError(f"{p}: run_length sums to {int(lengths.sum())} frames (each >= 1), the arrays have {len(k3)}")
    for k in ("run_clip", "run_first_frame", "run_fps"):
        if a[k].shape != (r,):
            raise InputError(f"{p}: {k} has shape {a[k].shape}, expected ({r},)")
    if a["run_size"].shape != (r, 2) or (a["run_size"] <= 0).any():
        raise InputError(f"{p}: run_size must be ({r}, 2) positive widths and heights, got shape {a['run_size'].shape}")
    for name, x in (("keypoints_2d", k2), ("scores", sc), ("joints_3d", k3)):
        if not np.isfinite(x).all():
            bad = int(np.flatnonzero(~np.isfinite(x.reshape(len(x), -1)).all(1))[0])
            raise InputError(f"{p}: {name} is not finite at frame {bad}")
    if ((sc < 0) | (sc > 1)).any():
        raise InputError(f"{p}: scores must be in [0, 1]")
    out, start = [], 0
    skeleton, detector = str(a["skeleton"]), str(a.get("detector", ""))
    for i in range(r):
        n = int(lengths[i])
        s = slice(start, start + n)
        first = int(a["run_first_frame"][i])
        w, h = (float(v) for v in a["run_size"][i])
        out.append(Sequence3D(subject=str(a["run_clip"][i]), action=f"frames{first}-{first + n - 1}", camera=None,
                              joints_3d=k3[s].astype(np.float64), joints_2d=k2[s].astype(np.float64),
                              fps=float(a["run_fps"][i]), camera_params={"width": w, "height": h},
                              extra={"skeleton": skeleton, "scores": sc[s].astype(np.float64), "detector": detector,
                                     "first_frame": first}))
        start += n
    return out
