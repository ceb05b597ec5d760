"""Pose files: ``poses.json`` (vidpose.poses/1), ``poses.csv``, OpenSim ``.trc`` (and BVH: :mod:`vidpose.io.bvh`).

Writers stream: each frame is written as it comes, so memory does not grow
with the video's length, and every file is written to a temporary name and
renamed only when the run has finished (no partial outputs). The JSON layout
is documented in docs/formats.md; ``load_poses`` reads and validates it.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from vidpose.errors import InputError, output_error
from vidpose.io.atomic import atomic_path
from vidpose.io.jsonfile import read_json
from vidpose.skeletons import SKELETONS, Skeleton, get_skeleton

POSES_FORMAT = "vidpose.poses/1"


def skeleton_dict(skeleton: Skeleton) -> dict:
    return {"name": skeleton.name, "keypoints": list(skeleton.keypoints), "links": [list(l) for l in skeleton.links]}


def _r(x: float, nd: int) -> float:
    return round(float(x), nd)


def person_dict(track_id: int | None, bbox, score: float, keypoints: np.ndarray, keypoints_3d: np.ndarray | None) -> dict:
    """One person of a frame, as in poses.json. keypoints (J, 3) x, y, score; keypoints_3d (J, 3) metres."""
    if not np.all(np.isfinite(keypoints)) or (keypoints_3d is not None and not np.all(np.isfinite(keypoints_3d))):
        raise ValueError(f"non-finite keypoints for track {track_id}")
    return {
        "track_id": None if track_id is None else int(track_id),
        "bbox": [_r(v, 2) for v in bbox],
        "score": _r(score, 4),
        "keypoints": [[_r(x, 2), _r(y, 2), _r(s, 4)] for x, y, s in keypoints],
        "keypoints_3d": None if keypoints_3d is None else [[_r(v, 4) for v in p] for p in keypoints_3d],
    }


class _Streamed:
    """Base for writers that stream into a temp file and rename on ``close``.

    An ``OSError`` while writing (disk full, file too large) is raised as an
    :class:`~vidpose.errors.OutputError` naming the file.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._ctx = atomic_path(self.path)
        self._tmp = self._ctx.__enter__()
        try:
            self._f = open(self._tmp, "w", encoding="utf-8", newline="")
        except OSError as e:
            self._ctx.__exit__(type(e), e, None)
            raise output_error(self.path, e) from e

    def write_frame(self, frame: dict) -> None:
        try:
            self._write_frame(frame)
        except OSError as e:
            raise output_error(self.path, e) from e

    def close(self) -> None:
        try:
            self._finish()
            self._f.close()
        except OSError as e:
            self.abort()
            raise output_error(self.path, e) from e
        self._ctx.__exit__(None, None, None)

    def abort(self) -> None:
        """Drop everything written so far; the target path is left untouched."""
        try:
            self._f.close()
        except OSError:
            pass  # the data is being dropped anyway (e.g. a full disk fails the final flush)
        try:
            self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)
        except RuntimeError:
            pass

    def _write_frame(self, frame: dict) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        pass


def skeleton_3d_entry(skeleton: Skeleton, skeleton_3d: Skeleton | None) -> dict:
    """``{"skeleton_3d": ...}`` when the 3D keypoints are in another skeleton than the 2D ones, else ``{}``."""
    return {} if skeleton_3d is None or skeleton_3d.name == skeleton.name else {"skeleton_3d": skeleton_dict(skeleton_3d)}


class PosesJsonWriter(_Streamed):
    """Streams ``poses.json``. ``video`` is written last, when the frame count is known.
    ``skeleton_3d``: the 3D keypoints' skeleton, written as ``skeleton_3d`` when it is not ``skeleton``."""

    def __init__(self, path: str | os.PathLike, skeleton: Skeleton, skeleton_3d: Skeleton | None = None):
        super().__init__(path)
        self.video: dict[str, Any] = {}
        self._n = 0
        head = {"format": POSES_FORMAT, "skeleton": skeleton_dict(skeleton), **skeleton_3d_entry(skeleton, skeleton_3d)}
        self._f.write("{" + "".join(f"{json.dumps(k)}: {json.dumps(v)},\n " for k, v in head.items()) + '"frames": [')

    def _write_frame(self, frame: dict) -> None:
        self._f.write(("\n  " if self._n == 0 else ",\n  ") + json.dumps(frame, separators=(",", ":")))
        self._n += 1

    def _finish(self) -> None:
        self._f.write("\n ],\n \"video\": %s}\n" % json.dumps(self.video))


CSV_COLUMNS = ["frame", "time", "track_id", "person_score", "keypoint", "x", "y", "score", "X", "Y", "Z"]


class PosesCsvWriter(_Streamed):
    """``poses.csv``: one row per frame x person x keypoint (3D columns empty when absent).

    With 3D in another skeleton (``skeleton_3d``), a 2D keypoint's row carries the 3D of the
    3D keypoint of the same name, and the 3D keypoints without a 2D namesake get rows of their
    own with empty 2D columns."""

    def __init__(self, path: str | os.PathLike, skeleton: Skeleton, skeleton_3d: Skeleton | None = None):
        super().__init__(path)
        self.skeleton = skeleton
        names_3d = (skeleton_3d or skeleton).keypoints
        self._same = [names_3d.index(n) if n in names_3d else None for n in skeleton.keypoints]
        self._only_3d = [(i, n) for i, n in enumerate(names_3d) if n not in skeleton.keypoints]
        self._w = csv.writer(self._f)
        self._w.writerow(CSV_COLUMNS)

    def _write_frame(self, frame: dict) -> None:
        for p in frame["persons"]:
            k3 = p["keypoints_3d"]
            head = [frame["index"], f"{frame['time']:.6f}", p["track_id"], p["score"]]
            for name, (x, y, s), j in zip(self.skeleton.keypoints, p["keypoints"], self._same):
                self._w.writerow([*head, name, x, y, s, *(k3[j] if k3 is not None and j is not None else ("", "", ""))])
            if k3 is not None:
                for j, name in self._only_3d:
                    self._w.writerow([*head, name, "", "", "", *k3[j]])


class TrcWriter:
    """OpenSim ``.trc`` marker files from the 3D keypoints, one file per track.

    Axes: vidpose's 3D keypoints are x right, y down, z away from the camera
    (image-aligned, metres, root-relative); OpenSim wants y up, so Y = -y and
    Z = -z (a proper rotation, not a mirror). Frames where a track is absent
    are left blank, which OpenSim reads as missing markers.
    """

    def __init__(self, folder: str | os.PathLike, stem: str, skeleton: Skeleton, fps: float):
        self.folder, self.stem, self.skeleton, self.fps = Path(folder), stem, skeleton, fps
        self._tracks: dict[int, dict[int, np.ndarray]] = {}
        self._times: dict[int, float] = {}
        self.paths: list[Path] = []

    def write_frame(self, frame: dict) -> None:
        self._times[frame["index"]] = frame["time"]
        for p in frame["persons"]:
            if p["keypoints_3d"] is None or p["track_id"] is None:
                continue
            xyz = np.asarray(p["keypoints_3d"], np.float64) * [1, -1, -1]
            self._tracks.setdefault(p["track_id"], {})[frame["index"]] = xyz

    def close(self) -> None:
        names = list(self.skeleton.keypoints)
        for tid, frames in sorted(self._tracks.items()):
            path = self.folder / f"{self.stem}_track{tid}.trc"
            try:
                self._write_track(path, frames, names)
            except OSError as e:
                raise output_error(path, e) from e
            self.paths.append(path)

    def _write_track(self, path: Path, frames: dict[int, np.ndarray], names: list[str]) -> None:
        idx = sorted(frames)
        first, last = idx[0], idx[-1]
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as f:
            n = last - first + 1
            f.write(f"PathFileType\t4\t(X/Y/Z)\t{path.name}\n")
            f.write("DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames\n")
            f.write(f"{self.fps:.6g}\t{self.fps:.6g}\t{n}\t{len(names)}\tm\t{self.fps:.6g}\t{first + 1}\t{n}\n")
            f.write("Frame#\tTime\t" + "\t\t\t".join(names) + "\t\t\n")
            f.write("\t\t" + "\t".join(f"X{i + 1}\tY{i + 1}\tZ{i + 1}" for i in range(len(names))) + "\n\n")
            for k in range(first, last + 1):
                t = self._times.get(k, (k - first) / self.fps)
                row = frames.get(k)
                vals = ("\t".join(f"{v:.5f}" for v in np.round(row.ravel(), 5) + 0.0)  # + 0.0: no "-0.00000"
                        if row is not None else "\t" * (3 * len(names) - 1))
                f.write(f"{k + 1}\t{t:.6f}\t{vals}\n")

    def abort(self) -> None:
        self._tracks.clear()


# --- reading ---------------------------------------------------------------------------------


def _fail(path: Path, where: str, fault: str) -> InputError:
    return InputError(f"{path}: {where}: {fault}")


def load_poses(path: str | os.PathLike) -> dict:
    """Read and validate a ``poses.json`` file; returns its content as a dict.

    Raises :class:`InputError` naming the file and the field for anything that
    does not follow vidpose.poses/1 (see docs/formats.md).
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such poses file")
    data = read_json(p)
    if not isinstance(data, dict) or data.get("format") != POSES_FORMAT:
        raise _fail(p, "format", f"expected {POSES_FORMAT!r}, got {data.get('format') if isinstance(data, dict) else type(data).__name__!r}")
    for key in ("video", "skeleton", "frames"):
        if key not in data:
            raise _fail(p, key, "missing")
    sk = data["skeleton"]
    if not isinstance(sk, dict) or "keypoints" not in sk or "name" not in sk:
        raise _fail(p, "skeleton", "needs 'name' and 'keypoints'")
    nk = len(sk["keypoints"])
    if sk["name"] in SKELETONS and nk != get_skeleton(sk["name"]).num_keypoints:
        raise _fail(p, "skeleton.keypoints", f"{nk} names for skeleton {sk['name']}")
    nk3 = nk
    if data.get("skeleton_3d") is not None:
        s3 = data["skeleton_3d"]
        if not isinstance(s3, dict) or not isinstance(s3.get("keypoints"), list) or "name" not in s3:
            raise _fail(p, "skeleton_3d", "needs 'name' and 'keypoints'")
        nk3 = len(s3["keypoints"])
        if s3["name"] in SKELETONS and nk3 != get_skeleton(s3["name"]).num_keypoints:
            raise _fail(p, "skeleton_3d.keypoints", f"{nk3} names for skeleton {s3['name']}")
    if not isinstance(data["frames"], list):
        raise _fail(p, "frames", "must be a list")
    for fi, fr in enumerate(data["frames"]):
        if not isinstance(fr, dict):
            raise _fail(p, f"frames[{fi}]", f"must be an object, got {type(fr).__name__}")
        for key in ("index", "time", "persons"):
            if key not in fr:
                raise _fail(p, f"frames[{fi}].{key}", "missing")
        if not isinstance(fr["persons"], list):
            raise _fail(p, f"frames[{fi}].persons", "must be a list")
        for pi, person in enumerate(fr["persons"]):
            where = f"frames[{fi}].persons[{pi}]"
            try:
                _check_person(p, where, person, nk, nk3)
            except InputError:  # already names the file and the field
                raise
            except (TypeError, ValueError) as e:  # ragged lists, strings where numbers belong
                raise _fail(p, where, f"malformed ({e})") from None
    return data


def _check_person(p: Path, where: str, person: dict, nk: int, nk3: int) -> None:
    if not isinstance(person, dict):
        raise _fail(p, where, f"must be an object, got {type(person).__name__}")
    for key in ("track_id", "bbox", "score", "keypoints"):
        if key not in person:
            raise _fail(p, f"{where}.{key}", "missing")
    kp = np.asarray(person["keypoints"], dtype=np.float64)
    if kp.shape != (nk, 3):
        raise _fail(p, f"{where}.keypoints", f"shape {kp.shape}, expected ({nk}, 3)")
    if not np.all(np.isfinite(kp)):
        raise _fail(p, f"{where}.keypoints", "contains NaN or inf")
    k3 = person.get("keypoints_3d")
    if k3 is not None:
        k3 = np.asarray(k3, dtype=np.float64)
        if k3.shape != (nk3, 3) or not np.all(np.isfinite(k3)):
            raise _fail(p, f"{where}.keypoints_3d", f"must be ({nk3}, 3) finite numbers or null")
    if len(person["bbox"]) != 4 or not all(math.isfinite(float(v)) for v in person["bbox"]):
        raise _fail(p, f"{where}.bbox", "must be 4 finite numbers")


def track_arrays(poses: dict, track_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(frame indices (T,), keypoints (T, J, 3)) of one track from a loaded poses dict."""
    idx, kps = [], []
    for fr in poses["frames"]:
        for p in fr["persons"]:
            if p["track_id"] == track_id:
                idx.append(fr["index"])
                kps.append(p["keypoints"])
    if not idx:
        raise InputError(f"track {track_id} does not occur in the poses")
    return np.asarray(idx), np.asarray(kps, dtype=np.float64)
