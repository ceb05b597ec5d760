"""Dataset names of the [data] section: file templates, MPII boxes, LSP halves, flip pairs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.io

from vidpose.data.topdown import flip_permutation_for
from vidpose.errors import InputError
from vidpose.data.loaders import DataConfig
from vidpose.data.loaders import load_dataset


def test_mpii_boxes_from_centre_and_scale(tmp_path):
    joints = np.tile([[100.0, 120.0]], (16, 1))
    entries = [{"image": "a.jpg", "joints": joints.tolist(), "joints_vis": [1] * 16, "center": [100, 120], "scale": 1.5},
               {"image": "a.jpg", "joints": joints.tolist(), "joints_vis": [1] * 16, "center": [50, 60], "scale": 0.5}]
    (tmp_path / "annot").mkdir()
    (tmp_path / "annot" / "valid.json").write_text(json.dumps(entries))
    ds = load_dataset(DataConfig(dataset="mpii", root=str(tmp_path), ann_file="annot/{subset}.json",
                                 image_root="images"), "valid")
    assert len(ds.frames) == 1 and ds.frames[0].image == tmp_path / "images" / "a.jpg"
    # MATLAB's 1-based pixels become 0-based: the box around the centre, and the joints, move by -1
    np.testing.assert_allclose(ds.frames[0].persons[0].bbox, [-51, -31, 249, 269])
    np.testing.assert_allclose(ds.frames[0].persons[1].bbox, [-1, 9, 99, 109])
    np.testing.assert_allclose(ds.frames[0].persons[0].keypoints[:, :2], joints - 1.0)
    # HRNet's file is valid.json: the subset "val" (data.val_subset's default) finds it
    val = load_dataset(DataConfig(dataset="mpii", root=str(tmp_path), ann_file="annot/{subset}.json",
                                  image_root="images"), "val")
    np.testing.assert_allclose(val.frames[0].persons[0].bbox, [-51, -31, 249, 269])
    # MPII names its sides right_/left_: the flip permutation pairs them by name.
    perm = flip_permutation_for(ds)
    names = ds.keypoint_names
    assert names[perm[names.index("right_ankle")]] == "left_ankle" and names[perm[names.index("pelvis")]] == "pelvis"


def test_lsp_train_and_test_halves(tmp_path):
    joints = np.zeros((3, 14, 4))
    joints[0] = np.arange(4)[None, :] * 10 + 5  # x encodes the image number
    scipy.io.savemat(tmp_path / "joints.mat", {"joints": joints})
    cfg = DataConfig(dataset="lsp", root=str(tmp_path), ann_file="joints.mat", image_root="images")
    train, test = load_dataset(cfg, "train"), load_dataset(cfg, "test")
    # x encodes the image number, 1-based in the file, 0-based once loaded
    assert [f.persons[0].keypoints[0, 0] for f in train.frames] == [4, 14]
    assert [f.persons[0].keypoints[0, 0] for f in test.frames] == [24, 34]
    with pytest.raises(InputError, match="subset 'valid' for lsp"):
        load_dataset(cfg, "valid")


def test_missing_settings_named():
    with pytest.raises(InputError, match=r"data\.ann_file must be set for dataset 'coco'"):
        load_dataset(DataConfig(dataset="coco", root="/x"), "train")
    with pytest.raises(InputError, match=r"data\.root must be set for dataset 'synth-single'"):
        load_dataset(DataConfig(dataset="synth-single", root=""), "train")


def test_synth_loader_reads_jpeg_frames(synth_root):
    ds = load_dataset(DataConfig(dataset="synth-single", root=str(synth_root)), "val")
    assert len(ds.frames) == 8 and ds.frames[0].image.suffix == ".jpg" and ds.frames[0].image.is_file()
