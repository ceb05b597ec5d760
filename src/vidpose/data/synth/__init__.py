"""Synthetic videos with exact ground truth (``vidpose synth``), and their reader.

Layout written by :func:`generate_split`::

    <out>/<split>/<subset>/<clip>/annotations.json
    <out>/<split>/<subset>/<clip>/frames/000000.jpg ...   (or video.mp4 with --video)
    <out>/<split>/<subset>/<clip>/flow/000000.npy ...     (with --flow)

:func:`read_synth` reads ``<out>/<split>`` back as a :class:`PoseDataset`;
:func:`read_synth_3d` as :class:`Sequence3D` lists for 2D->3D lifting.
See docs/synthetic.md for the annotation format.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from vidpose.data.annotations import FrameAnnotation, PersonAnnotation, PoseDataset, Sequence3D
from vidpose.errors import InputError
from vidpose.metrics.keypoints import MAX_ABS
from vidpose.io.jsonfile import read_json
from vidpose.skeletons import COCO17

from vidpose.data.synth.generate import FORMAT, HELD_OUT, SPLITS, SUBSETS, SplitConfig, generate_clip, generate_split

__all__ = ["FORMAT", "HELD_OUT", "SPLITS", "SUBSETS", "SplitConfig", "generate_clip", "generate_split",
           "read_clip", "read_synth", "read_synth_3d"]


def _field(obj: dict, key: str, where: str, types=None):
    if not isinstance(obj, dict) or key not in obj:
        raise InputError(f"{where}: missing field '{key}'")
    v = obj[key]
    # JSON true/false are not numbers, whatever Python's bool-is-int says
    if types is not None and (not isinstance(v, types) or (isinstance(v, bool) and bool not in _as_tuple(types))):
        raise InputError(f"{where}: field '{key}' has type {type(v).__name__}")
    if isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) > MAX_ABS:
        raise InputError(f"{where}: field '{key}' is {v:g}, larger than {MAX_ABS:g} in magnitude (corrupt file?)")
    return v


def _as_tuple(types) -> tuple:
    return types if isinstance(types, tuple) else (types,)


def _array(v, shape: tuple[int, ...], where: str) -> np.ndarray:
    """The numbers of ``v`` with the readers' checks (no booleans, finite, no huge values, ``shape``)."""
    from vidpose.data.readers._common import as_array

    return as_array(v, where, "value", shape)


def read_clip(path: str | os.PathLike) -> dict:
    """Load and validate one ``annotations.json``; return the parsed dict."""
    p = Path(path)
    ann = read_json(p)
    w = str(p)
    if not isinstance(ann, dict):
        raise InputError(f"{w}: top level must be an object")
    if _field(ann, "format", w, str) != FORMAT:
        raise InputError(f"{w}: field 'format' is {ann['format']!r}, expected {FORMAT!r}")
    video = _field(ann, "video", w, dict)
    for k in ("width", "height", "num_frames"):
        if not isinstance(_field(video, k, f"{w}: video", int), int) or video[k] < 0:
            raise InputError(f"{w}: field 'video.{k}' must be a non-negative integer")
    fps = _field(video, "fps", f"{w}: video", (int, float))
    if fps <= 0:
        raise InputError(f"{w}: field 'video.fps' must be positive")
    _field(video, "frames", f"{w}: video", (str, type(None)))
    sk = _field(ann, "skeleton", w, dict)
    if _field(sk, "name", f"{w}: skeleton", str) != "coco17":
        raise InputError(f"{w}: field 'skeleton.name' must be 'coco17'")
    cam = _field(ann, "camera", w, dict)
    _array(_field(cam, "intrinsics", f"{w}: camera"), (3, 3), f"{w}: field 'camera.intrinsics'")
    frames = _field(ann, "frames", w, list)
    for fi, fr in enumerate(frames):
        fw = f"{w}: frames[{fi}]"
        _field(fr, "index", fw, int)
        for pi, per in enumerate(_field(fr, "persons", fw, list)):
            pw = f"{fw}.persons[{pi}]"
            _field(per, "track_id", pw, int)
            kp = _array(_field(per, "keypoints", pw), (17, 3), f"{pw}: field 'keypoints'")
            if not np.isin(kp[:, 2], (0, 1, 2)).all():
                raise InputError(f"{pw}: field 'keypoints' visibility must be 0, 1 or 2")
            _array(_field(per, "bbox", pw), (4,), f"{pw}: field 'bbox'")
            _array(_field(per, "keypoints_3d", pw), (17, 3), f"{pw}: field 'keypoints_3d'")
            _array(_field(per, "h36m_2d", pw), (17, 2), f"{pw}: field 'h36m_2d'")
            _array(_field(per, "h36m_3d", pw), (17, 3), f"{pw}: field 'h36m_3d'")
    return ann


def _clip_dirs(root: Path, subset: str) -> list[Path]:
    if subset not in SUBSETS:
        raise InputError(f"subset must be one of {', '.join(SUBSETS)}, got {subset!r}")
    d = root / subset
    if not d.is_dir():
        raise InputError(f"{d}: no such folder (expected <out>/<split>/{subset}/ written by 'vidpose synth')")
    clips = sorted(c for c in d.iterdir() if c.is_dir() and not c.name.startswith("."))
    if not clips:
        raise InputError(f"{d}: contains no clip folders with annotations.json")
    for c in clips:  # a clip without its annotations is an incomplete copy, not one to skip in silence
        if not (c / "annotations.json").is_file():
            raise InputError(f"{c}: clip folder has no annotations.json (an incomplete copy? remove the folder "
                             "or generate it again with 'vidpose synth')")
    return clips


def read_synth(root: str | os.PathLike, subset: str) -> PoseDataset:
    """Read ``<root>/<subset>/*/annotations.json`` (``root`` = ``<out>/<split>``) as a PoseDataset.

    Frames carry the JPEG path (``image``) or the clip's ``video`` and frame
    ``index``; persons carry ``keypoints`` (17, 3) pixels + COCO visibility,
    ``bbox`` (4,), ``track_id``, ``keypoints_3d`` (17, 3) camera metres, ``area``;
    ``extra`` holds ``h36m_2d`` (17, 2), ``h36m_3d`` (17, 3), ``occlusion`` and
    the clip's ``camera`` intrinsics (3, 3). One sequence per clip.
    """
    root = Path(root)
    frames: list[FrameAnnotation] = []
    sequences: dict[str, list[int]] = {}
    fps = None
    for cdir in _clip_dirs(root, subset):
        ann = read_clip(cdir / "annotations.json")
        v = ann["video"]
        fps = float(v["fps"])
        K = np.asarray(ann["camera"]["intrinsics"], np.float64)
        pattern = v["frames"]
        idxs = []
        for fr in ann["frames"]:
            i = fr["index"]
            image = video = None
            if pattern is not None and pattern.endswith(".mp4"):
                video = cdir / pattern
            elif pattern is not None:
                image = cdir / pattern.format(i)
            persons = [
                PersonAnnotation(
                    keypoints=np.asarray(p["keypoints"], np.float64),
                    bbox=np.asarray(p["bbox"], np.float64),
                    track_id=int(p["track_id"]),
                    keypoints_3d=np.asarray(p["keypoints_3d"], np.float64),
                    area=float(p.get("area", 0.0)),
                    extra={"h36m_2d": np.asarray(p["h36m_2d"], np.float64),
                           "h36m_3d": np.asarray(p["h36m_3d"], np.float64),
                           "occlusion": float(p.get("occlusion", 0.0)), "camera": K},
                )
                for p in fr["persons"]
            ]
            idxs.append(len(frames))
            frames.append(FrameAnnotation(image=image, persons=persons, width=v["width"], height=v["height"],
                                          index=i, video=video, image_id=f"{ann['clip']}/{i:06d}"))
        sequences[ann["clip"]] = idxs
    return PoseDataset(name=f"{root.name}/{subset}", skeleton="coco17", keypoint_names=COCO17.keypoints,
                       frames=frames, sequences=sequences, fps=fps)


def read_synth_3d(root: str | os.PathLike, subset: str, min_frames: int = 1) -> list[Sequence3D]:
    """Per clip and track, the runs of consecutive frames in view as H36M-17 sequences.

    ``joints_3d`` (T, 17, 3) camera metres, ``joints_2d`` (T, 17, 2) pixels;
    ``camera_params`` has ``intrinsics`` (3, 3), ``width``, ``height`` and the run's per-frame
    extrinsics ``R`` (T, 3, 3), ``t`` (T, 3) (camera = R world + t; the world is z up);
    ``extra["motions"]``: the names of the clip's motions (mocap clips or procedural kinds).
    """
    out: list[Sequence3D] = []
    for cdir in _clip_dirs(Path(root), subset):
        ann = read_clip(cdir / "annotations.json")
        v = ann["video"]
        runs: dict[int, list[list]] = {}
        last: dict[int, int] = {}
        for fr in ann["frames"]:
            for p in fr["persons"]:
                tid = p["track_id"]
                if last.get(tid) != fr["index"] - 1:
                    runs.setdefault(tid, []).append([])
                runs[tid][-1].append((p["h36m_3d"], p["h36m_2d"], fr["index"]))
                last[tid] = fr["index"]
        ext = ann["camera"].get("extrinsics") or []
        for tid in sorted(runs):
            for r, run in enumerate(runs[tid]):
                if len(run) < min_frames:
                    continue
                cp = {"intrinsics": np.asarray(ann["camera"]["intrinsics"], np.float64),
                      "width": v["width"], "height": v["height"]}
                if len(ext) > run[-1][2]:
                    cp["R"] = np.asarray([ext[i]["R"] for _, _, i in run], np.float64)
                    cp["t"] = np.asarray([ext[i]["t"] for _, _, i in run], np.float64)
                out.append(Sequence3D(
                    subject=ann["clip"], action=f"track{tid}_run{r}", camera=0,
                    joints_3d=np.asarray([a for a, _, _ in run], np.float64),
                    joints_2d=np.asarray([b for _, b, _ in run], np.float64), fps=float(v["fps"]),
                    camera_params=cp, extra={"motions": tuple(ann.get("motions") or ())},
                ))
    return out
