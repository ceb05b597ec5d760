"""A folder of unlabelled videos as a :class:`PoseDataset` of person boxes (no keypoints).

For label-free training (a teacher's predictions as targets, ``[data] dataset = "videos"``):
every video file under ``root/<subset>/`` (searched recursively; ``.mp4 .mov .avi .mkv .webm``)
is one sequence. Its frames are decoded once into a cache folder (JPEG, in
``root/<subset>/.vidpose_frames/``, keyed by the video's path, size and modification time;
the folder must be writable) and BlazePose's person detector
gives one box per frame: the highest-scoring detection's full-body circle as a square box
(``extra["box_only"]``: the crops of label-free objectives take it without keypoints).
Frames without a detection have no person. No annotation file next to the videos is read.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

import numpy as np

from vidpose.data.annotations import FrameAnnotation, PersonAnnotation, PoseDataset
from vidpose.errors import InputError
from vidpose.io.video import VIDEO_EXTENSIONS

CACHE = ".vidpose_frames"  # decoded frames and detector boxes, inside the video folder


def find_videos(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise InputError(f"{folder}: video folder not found")
    videos = sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file()
                    and CACHE not in p.relative_to(folder).parts)
    if not videos:
        raise InputError(f"{folder}: no video file ({', '.join(VIDEO_EXTENSIONS)})")
    return videos


def _cache_dir(folder: Path, video: Path) -> Path:
    """``folder/.vidpose_frames/<video path>-<key>``: beside the videos, keyed by size and mtime."""
    st = video.stat()
    rel = video.relative_to(folder)
    key = hashlib.sha256(f"{rel.as_posix()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    return folder / CACHE / f"{'_'.join(rel.with_suffix('').parts)}-{key}"


def _extract(video: Path, out: Path, detector) -> None:
    """Decode ``video`` into ``out`` (JPEG frames + boxes.npy), written to a temporary folder first."""
    import cv2

    from vidpose.io.video import open_source

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        boxes = []
        with open_source(video) as src:
            for f in src:
                cv2.imwrite(str(tmp / f"{f.index:06d}.jpg"), cv2.cvtColor(f.image, cv2.COLOR_RGB2BGR))
                dets = detector(f.image)
                if dets:
                    d = max(dets, key=lambda d: d.score)
                    r = float(np.hypot(*(d.keypoints[1] - d.keypoints[0])))
                    c = d.keypoints[0]
                    boxes.append([f.index, c[0] - r, c[1] - r, c[0] + r, c[1] + r, d.score])
        np.save(tmp / "boxes.npy", np.asarray(boxes, np.float64).reshape(-1, 6))
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def read_video_folder(folder: str | Path, keypoint_names: tuple[str, ...]) -> PoseDataset:
    """Every video under ``folder`` -> frames with one unlabelled person box each (zero keypoints in
    ``keypoint_names``' order, visibility 0), one sequence per video."""
    folder = Path(folder)
    frames: list[FrameAnnotation] = []
    sequences: dict[str, list[int]] = {}
    nj = len(keypoint_names)
    detector = None  # loaded once, for the first video without a cache
    for video in find_videos(folder):
        cache = _cache_dir(folder, video)
        if not (cache / "boxes.npy").is_file():
            if detector is None:
                from vidpose.backends.blazepose import BlazePoseDetector

                detector = BlazePoseDetector(threads=1, quiet=True)
            try:
                _extract(video, cache, detector)
            except OSError as e:
                raise InputError(f"{video}: cannot write its frame cache {cache} ({e.strerror or e})") from None
        boxes = {int(b[0]): b[1:5] for b in np.load(cache / "boxes.npy")}
        images = sorted(cache.glob("*.jpg"))
        name = str(video.relative_to(folder))
        sequences[name] = []
        for img in images:
            i = int(img.stem)
            persons = []
            if i in boxes:
                persons.append(PersonAnnotation(keypoints=np.zeros((nj, 3)), bbox=np.asarray(boxes[i]), track_id=0,
                                                extra={"box_only": True}))
            sequences[name].append(len(frames))
            frames.append(FrameAnnotation(image=img, persons=persons, index=i, video=video, image_id=f"{name}:{i}"))
    return PoseDataset(name=f"videos:{folder.name}", skeleton="coco17", keypoint_names=keypoint_names,
                       frames=frames, sequences=sequences)
