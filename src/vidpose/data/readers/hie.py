"""HIE (Human in Events, HIE20) pose-tracking annotations as a :class:`PoseDataset`.

The JSON layout, its checks and the visibility mapping live in :mod:`vidpose.io.hie`
(shared with ``vidpose eval``); this reader adds what a dataset needs: one file per
video or a folder of them, the image paths, and the ``PoseDataset`` records.
"""

from __future__ import annotations

from pathlib import Path

from vidpose.data.readers._common import load_json, require_file
from vidpose.data.annotations import FrameAnnotation, PersonAnnotation, PoseDataset
from vidpose.errors import InputError
from vidpose.io.hie import hie_frames
from vidpose.skeletons import HIE14


def read_hie(ann_dir_or_file: str | Path, image_root: str | Path) -> PoseDataset:
    """Read one HIE JSON file or every ``*.json`` in a directory (one file per video).

    Sequence name = file stem; frame ``i`` of a video is
    ``image_root / <video> / <image name>``, ``index`` = position in
    ``annolist``, ``image_id`` = ``"<video>/<image name>"``. Persons carry
    ``track_id`` and ``bbox`` (x1, y1, x2, y2) when the box is given.
    """
    ann = Path(ann_dir_or_file)
    root = Path(image_root)
    if ann.is_dir():
        files = sorted(p for p in ann.glob("*.json") if p.is_file())
        if not files:
            raise InputError(f"{ann}: no HIE *.json files in this directory")
    else:
        files = [require_file(ann, "HIE annotation file")]
    frames: list[FrameAnnotation] = []
    sequences: dict[str, list[int]] = {}
    for path in files:
        video = path.stem
        idx = []
        for i, fr in enumerate(hie_frames(load_json(path), path)):
            persons = [PersonAnnotation(keypoints=p.keypoints, bbox=p.bbox, track_id=p.track_id) for p in fr.persons]
            idx.append(len(frames))
            frames.append(FrameAnnotation(image=root / video / fr.image, persons=persons, index=i,
                                          image_id=f"{video}/{fr.image}"))
        sequences[video] = idx
    return PoseDataset(name="hie", skeleton=HIE14.name, keypoint_names=HIE14.keypoints, frames=frames, sequences=sequences)
