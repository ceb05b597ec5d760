"""JHMDB / Sub-JHMDB joint positions (puppet annotations, 15 joints).

Keypoint order (JHMDB's own), skeleton name ``jhmdb15``::

    0 neck  1 belly  2 face  3 right_shoulder  4 left_shoulder  5 right_hip
    6 left_hip  7 right_elbow  8 left_elbow  9 right_knee  10 left_knee
    11 right_wrist  12 left_wrist  13 right_ankle  14 left_ankle

JHMDB has no visibility flags (the puppet is fitted to the whole body), so
every joint gets visibility 2, including joints placed outside the image.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from vidpose.data.readers._common import as_array, fail, load_mat, require_dir
from vidpose.data.annotations import FrameAnnotation, PersonAnnotation, PoseDataset
from vidpose.errors import InputError

JHMDB15_KEYPOINTS: tuple[str, ...] = (
    "neck", "belly", "face", "right_shoulder", "left_shoulder", "right_hip", "left_hip",
    "right_elbow", "left_elbow", "right_knee", "left_knee", "right_wrist", "left_wrist",
    "right_ankle", "left_ankle",
)
_J = len(JHMDB15_KEYPOINTS)
_SPLIT_RE = re.compile(r"^(?P<action>.+)_test_split(?P<k>\d+)\.txt$")


def _split_dir(base: Path) -> Path:
    for name in ("sub_splits", "splits"):
        if (base / name).is_dir():
            return base / name
    raise InputError(f"{base}: no split folder (expected 'sub_splits/' or 'splits/' with <action>_test_split<k>.txt)")


def _read_split_file(path: Path) -> list[tuple[str, bool]]:
    """Lines ``<video>.avi 1|2`` -> [(video, is_train)] (1 = train, 2 = test)."""
    out = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise fail(path, "text", f"not UTF-8 text ({e})") from None
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or parts[1] not in ("1", "2"):
            raise fail(path, f"line {n}", f"expected '<video>.avi 1|2', got {line.strip()!r}")
        video = parts[0][:-4] if parts[0].endswith(".avi") else parts[0]
        out.append((video, parts[1] == "1"))
    return out


def read_jhmdb(root: str | Path, split: int = 1, *, frames_dir: str = "Rename_Images") -> PoseDataset:
    """Read JHMDB joint positions for the clips listed in split ``split`` (1, 2 or 3).

    Expects ``root/joint_positions/<action>/<video>/joint_positions.mat``
    (``pos_img``: 2 x 15 x T pixels; ``scale``: 1 x T, optional) and split
    files ``root/sub_splits/<action>_test_split<k>.txt`` (Sub-JHMDB; or
    ``root/splits/`` for full JHMDB). The split files define the clip set: every
    listed clip is read, and must exist. Sequence name = ``"<action>/<video>"``;
    frame ``t`` is ``root/<frames_dir>/<action>/<video>/%05d.png`` numbered
    ``t + 1``. The person's ``extra``: ``train`` (bool), ``action``, ``scale``
    (when present).
    """
    base = require_dir(root, "JHMDB root")
    if split not in (1, 2, 3):
        raise InputError(f"read_jhmdb: split must be 1, 2 or 3, got {split!r}")
    sdir = _split_dir(base)
    split_files = []
    for p in sorted(sdir.iterdir()):
        mt = _SPLIT_RE.match(p.name)
        if mt and int(mt["k"]) == split:
            split_files.append((mt["action"], p))
    if not split_files:
        raise InputError(f"{sdir}: no split files *_test_split{split}.txt")

    frames: list[FrameAnnotation] = []
    sequences: dict[str, list[int]] = {}
    for action, sfile in split_files:
        for video, is_train in _read_split_file(sfile):
            seq = f"{action}/{video}"
            if seq in sequences:
                raise fail(sfile, video, "clip listed twice")
            mat = base / "joint_positions" / action / video / "joint_positions.mat"
            if not mat.is_file():
                raise fail(sfile, video, f"listed clip has no annotation file {mat}")
            m = load_mat(mat)
            if "pos_img" not in m:
                raise fail(mat, "pos_img", "missing variable")
            pos = as_array(m["pos_img"], mat, "pos_img")
            if pos.ndim == 2:
                pos = pos[..., None]  # a one-frame clip: MATLAB drops the trailing 1
            if pos.ndim != 3 or pos.shape[:2] != (2, _J):
                raise fail(mat, "pos_img", f"expected 2 x {_J} x T, got {pos.shape}")
            t = pos.shape[2]
            scale = None
            if "scale" in m:
                scale = as_array(m["scale"], mat, "scale").ravel()
                if scale.size != t:
                    raise fail(mat, "scale", f"has {scale.size} values for {t} frames")
            idx = []
            for i in range(t):
                kp = np.concatenate([pos[:, :, i].T, np.full((_J, 1), 2.0)], axis=1)
                extra = {"train": is_train, "action": action}
                if scale is not None:
                    extra["scale"] = float(scale[i])
                idx.append(len(frames))
                frames.append(
                    FrameAnnotation(
                        image=base / frames_dir / action / video / f"{i + 1:05d}.png",
                        persons=[PersonAnnotation(keypoints=kp, extra=extra)],
                        index=i,
                        image_id=f"{seq}/{i + 1}",
                    )
                )
            sequences[seq] = idx
    return PoseDataset(name="jhmdb", skeleton="jhmdb15", keypoint_names=JHMDB15_KEYPOINTS, frames=frames, sequences=sequences)
