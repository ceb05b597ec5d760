"""css pretraining data from a folder of the user's own videos: person crops by the run pipeline's detector
(the ``videos`` dataset, :mod:`vidpose.data.videos`)."""

from __future__ import annotations

import shutil

import pytest

from vidpose.data.loaders import DataConfig
from vidpose.errors import InputError
from vidpose.objectives.unlabelled import FrameClipDataset, frame_crops


def test_video_folder_gives_person_crop_clips(tmp_path):
    from vidpose.data.synth.generate import generate_split

    generate_split("synth-single", tmp_path / "render", "train", clips=1, frames=12, seed=0, video=True, renderer=2)
    videos = tmp_path / "my_videos"
    (videos / "train").mkdir(parents=True)
    (clip,) = (tmp_path / "render" / "synth-single" / "train").iterdir()
    shutil.copy(clip / "video.mp4", videos / "train" / "walk.mp4")
    crops = frame_crops(DataConfig(dataset="videos", root=str(videos)), "train", (64, 64))
    assert crops.keypoints is None and crops.keypoints_3d is None and crops.images.shape[1:] == (64, 64, 3)
    assert len(crops) >= 10 and sum(len(t) for t in crops.tracks) == len(crops)  # the person is found
    assert set(crops.track_sources) == {"walk.mp4"}
    clips = FrameClipDataset(crops, length=4, stride=2, train=True)
    s = clips[0]
    assert s["images"].shape == (4, 3, 64, 64) and s["times"].tolist() == [0, 2, 4, 6]


def test_video_folder_errors_name_the_folder(tmp_path):
    (tmp_path / "train").mkdir()
    import re

    with pytest.raises(InputError, match=re.escape(str(tmp_path / "train")) + ": no video file"):
        frame_crops(DataConfig(dataset="videos", root=str(tmp_path)), "train", (64, 64))
    with pytest.raises(InputError, match=re.escape(str(tmp_path / "val")) + ": video folder not found"):
        frame_crops(DataConfig(dataset="videos", root=str(tmp_path)), "val", (64, 64))


def test_max_samples_limit_clips_and_probe_crops(synth_root):
    """data.max_samples / max_val_samples keep N clips (spread over the tracks) and the first N crops."""
    from vidpose.data.loaders import load_dataset
    from vidpose.objectives.unlabelled import dataset_crops

    crops = dataset_crops(load_dataset(DataConfig(dataset="synth-single", root=str(synth_root)), "train"), (64, 64))
    every = FrameClipDataset(crops, length=3, stride=1, train=True)
    some = FrameClipDataset(crops, length=3, stride=1, train=True, max_samples=5)
    assert len(every) > 5 and len(some) == 5 and set(some.starts) <= set(every.starts)
    assert {t for t, _ in some.starts} == {t for t, _ in every.starts}  # still every track
    head = crops.head(7)
    assert len(head) == 7 and (head.images == crops.images[:7]).all()
    assert sum(len(t) for t in head.tracks) == 7 and all((t < 7).all() for t in head.tracks)
    assert crops.head(0) is crops
