"""css pretraining data from a folder of the user's own videos: person crops by the run pipeline's detector."""

from __future__ import annotations

import shutil

import pytest

from vidpose.data.loaders import DataConfig
from vidpose.errors import InputError
from vidpose.objectives.unlabelled import FrameClipDataset, frame_crops


def test_video_folder_gives_person_crop_clips(tmp_path):
    from vidpose.data.synth.generate import generate_split

    generate_split("synth-single", tmp_path / "render", "train", clips=1, frames=12, seed=0, video=True)
    videos = tmp_path / "my_videos"
    videos.mkdir()
    (clip,) = (tmp_path / "render" / "synth-single" / "train").iterdir()
    shutil.copy(clip / "video.mp4", videos / "walk.mp4")
    (videos / "notes.txt").write_text("not a video")
    crops = frame_crops(DataConfig(dataset="videos", root=str(videos)), "train", (64, 64))
    assert crops.keypoints is None and crops.images.shape[1:] == (64, 64, 3)
    assert len(crops) >= 10 and sum(len(t) for t in crops.tracks) == len(crops)  # the person is found
    clips = FrameClipDataset(crops, length=4, stride=2, train=True)
    s = clips[0]
    assert s["images"].shape == (4, 3, 64, 64) and s["times"].tolist() == [0, 2, 4, 6]


def test_video_folder_errors_name_the_folder(tmp_path):
    with pytest.raises(InputError, match="no video files"):
        frame_crops(DataConfig(dataset="videos", root=str(tmp_path)), "train", (64, 64))
    with pytest.raises(InputError, match="data.root must name a folder of videos"):
        frame_crops(DataConfig(dataset="videos"), "train", (64, 64))
