"""Top-down crops: affine round trip, flip with left/right swap, exclusions, files on disk."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vidpose.data.topdown import AugConfig, TopDownDataset, crop_affine
from vidpose.geometry import apply_affine, invert_affine
from vidpose.data.annotations import FrameAnnotation, PersonAnnotation, PoseDataset
from vidpose.errors import InputError
from vidpose.skeletons import COCO17

ZERO, ONE = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)  # identity normalisation: crop pixels / 255
LW, RW = COCO17.index("left_wrist"), COCO17.index("right_wrist")


def _person(points: dict[int, tuple[float, float]], bbox=None) -> PersonAnnotation:
    kp = np.zeros((17, 3))
    for j, (x, y) in points.items():
        kp[j] = (x, y, 2)
    return PersonAnnotation(keypoints=kp, bbox=None if bbox is None else np.asarray(bbox, float))


def _write_image(path: Path, dots: dict[tuple[int, int], tuple[int, int, int]], size=(160, 200)) -> None:
    """A black image with coloured 5x5 dots (RGB) at integer (x, y); written as PNG (lossless)."""
    img = np.zeros((*size, 3), np.uint8)
    for (x, y), rgb in dots.items():
        img[y - 2:y + 3, x - 2:x + 3] = rgb
    assert cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))


def _dataset(tmp_path: Path) -> PoseDataset:
    # Left wrist red at (60, 80), right wrist green at (110, 90); a box around them.
    _write_image(tmp_path / "f0.png", {(60, 80): (255, 0, 0), (110, 90): (0, 255, 0)})
    p = _person({LW: (60, 80), RW: (110, 90), 0: (85, 40)}, bbox=(40, 30, 130, 150))
    empty = PersonAnnotation(keypoints=np.zeros((17, 3)), bbox=np.array([0, 0, 10, 10.0]))
    frames = [FrameAnnotation(image=tmp_path / "f0.png", persons=[p, empty], width=200, height=160)]
    return PoseDataset("toy", "coco17", COCO17.keypoints, frames)


def test_affine_round_trip_and_pixels_follow_keypoints(tmp_path):
    ds = TopDownDataset(_dataset(tmp_path), (64, 48), None, train=True,
                        aug=AugConfig(scale=0.3, shift=0.1, rotation=40, rotation_prob=1.0, flip=False),
                        seed=3, mean=ZERO, std=ONE)
    orig = ds.dataset.frames[0].persons[0].keypoints
    rotations = set()
    for epoch in range(6):
        ds.set_epoch(epoch)
        s = ds[0]
        m = s["affine"].numpy()
        kp = s["keypoints"].numpy().astype(np.float64)
        rotations.add(round(float(np.degrees(np.arctan2(m[1, 0], m[0, 0]))), 3))
        back = apply_affine(invert_affine(m), apply_affine(m, orig[:, :2]))
        np.testing.assert_allclose(back, orig[:, :2], atol=1e-3)
        np.testing.assert_allclose(apply_affine(m, orig[:, :2])[[LW, RW]], kp[[LW, RW], :2], atol=1e-3)
        img = s["image"].numpy()  # (3, H, W) in [0, 1]
        for j, ch in ((LW, 0), (RW, 1)):
            x, y = np.round(kp[j, :2]).astype(int)
            if kp[j, 2] > 0:  # inside the crop: the dot's colour moved with the keypoint
                assert img[ch, y, x] > 0.5, (epoch, j, img[:, y, x])
    assert len(rotations) > 3  # augmentation really rotates


def test_flip_mirrors_crop_and_swaps_left_right(tmp_path):
    pose = _dataset(tmp_path)
    plain = TopDownDataset(pose, (64, 48), None, train=False, mean=ZERO, std=ONE)
    flipped = TopDownDataset(pose, (64, 48), None, train=True, seed=0, mean=ZERO, std=ONE,
                             aug=AugConfig(scale=0.0, shift=0.0, rotation_prob=0.0, flip=True, flip_prob=1.0))
    a, b = plain[0], flipped[0]
    assert b["meta"]["flipped"] and not a["meta"]["flipped"]
    ia, ib = a["image"].numpy(), b["image"].numpy()
    # The flipped crop is the mirror image of the plain crop (up to interpolation rounding).
    assert np.abs(ib - ia[:, :, ::-1]).max() <= 2 / 255
    ka, kb = a["keypoints"].numpy(), b["keypoints"].numpy()
    w = 48
    # Joint "left wrist" of the flipped sample is the mirrored right wrist, and vice versa.
    np.testing.assert_allclose(kb[LW, :2], [w - 1 - ka[RW, 0], ka[RW, 1]], atol=1e-4)
    np.testing.assert_allclose(kb[RW, :2], [w - 1 - ka[LW, 0], ka[LW, 1]], atol=1e-4)
    np.testing.assert_allclose(kb[0, :2], [w - 1 - ka[0, 0], ka[0, 1]], atol=1e-4)  # nose stays nose
    # The red dot (image left wrist) now sits at the flipped sample's right-wrist position.
    x, y = np.round(kb[RW, :2]).astype(int)
    assert ib[0, y, x] > 0.5 and ib[1, y, x] < 0.2
    # Mapping back still works for a flipped crop (joint order already swapped).
    orig = pose.frames[0].persons[0].keypoints
    back = apply_affine(invert_affine(b["affine"].numpy()), kb[:, :2].astype(np.float64))
    np.testing.assert_allclose(back[LW], orig[RW, :2], atol=1e-3)


def test_exclusions_are_counted_and_reported(tmp_path):
    ds = TopDownDataset(_dataset(tmp_path), (64, 48), None, mean=ZERO, std=ONE)
    assert len(ds) == 1
    assert ds.excluded["no_labelled_keypoints"] == 1
    assert "excluded 1 persons" in ds.summary() and "no labelled keypoints" in ds.summary()


def test_box_from_keypoints_and_outside_joints(tmp_path):
    _write_image(tmp_path / "a.png", {})
    far = _person({LW: (60, 80), RW: (100, 120), 5: (80, 60), 15: (195, 5)})  # no bbox
    pose = PoseDataset("toy", "coco17", COCO17.keypoints,
                       [FrameAnnotation(image=tmp_path / "a.png", persons=[far])])
    s = TopDownDataset(pose, (64, 48), None, mean=ZERO, std=ONE, aug=AugConfig(padding=1.0))[0]
    kp = s["keypoints"].numpy()
    # Box from the labelled keypoints (incl. the far one) spans the crop width exactly: its
    # edges land on the crop's outer pixel edges -0.5 and W - 0.5 ...
    xs = kp[pose.frames[0].persons[0].keypoints[:, 2] > 0, 0]
    assert xs.min() == pytest.approx(-0.5, abs=1e-3) and xs.max() == pytest.approx(47.5, abs=1e-3)
    # ... which are outside the pixel-centre range [0, W-1], so those two joints get visibility 0.
    assert kp[LW, 2] == 0 and kp[15, 2] == 0 and kp[RW, 2] == 2
    # With a bbox that leaves the far ankle out, it becomes invisible (0) in the crop.
    pose.frames[0].persons[0].bbox = np.array([50.0, 50, 110, 130])
    s2 = TopDownDataset(pose, (64, 48), None, mean=ZERO, std=ONE)[0]
    assert s2["keypoints"][15, 2] == 0 and s2["keypoints"][LW, 2] == 2


def test_determinism_and_epochs(tmp_path):
    pose = _dataset(tmp_path)
    a = TopDownDataset(pose, (64, 48), None, train=True, seed=7, mean=ZERO, std=ONE)
    b = TopDownDataset(pose, (64, 48), None, train=True, seed=7, mean=ZERO, std=ONE)
    for e in (0, 1):
        a.set_epoch(e)
        b.set_epoch(e)
        assert np.array_equal(a[0]["image"].numpy(), b[0]["image"].numpy())
        assert np.array_equal(a[0]["affine"].numpy(), b[0]["affine"].numpy())
    a.set_epoch(0)
    b.set_epoch(1)
    assert not np.array_equal(a[0]["affine"].numpy(), b[0]["affine"].numpy())


def test_real_codec_targets_and_collate(tmp_path):
    import torch
    from torch.utils.data import DataLoader

    from vidpose.methods import build

    model = build("simplebaseline", width=0.125, input_size=(64, 64))
    cfg = model.cfg
    ds = TopDownDataset(_dataset(tmp_path), cfg.input_size, model.codec, train=True, seed=1)
    batch = next(iter(DataLoader(ds, batch_size=1)))
    assert batch["image"].shape == (1, 3, 64, 64)
    hm = batch["targets"]["heatmaps"]
    assert hm.shape == (1, 17, 16, 16)
    # The heatmap peak of a visible joint is at its crop position / stride.
    kp = batch["keypoints"][0]
    j = LW if kp[LW, 2] > 0 else RW
    peak = torch.nonzero(hm[0, j] == hm[0, j].max())[0]
    assert abs(int(peak[1]) - float(kp[j, 0]) / 4) <= 1 and abs(int(peak[0]) - float(kp[j, 1]) / 4) <= 1
    # Default normalisation is ImageNet's: a black pixel becomes -mean/std.
    assert float(batch["image"][0, 0].min()) == pytest.approx(-0.485 / 0.229, abs=1e-4)


def test_bad_inputs(tmp_path):
    pose = _dataset(tmp_path)
    (tmp_path / "f0.png").unlink()
    ds = TopDownDataset(pose, (64, 48), None, mean=ZERO, std=ONE)
    with pytest.raises(InputError, match="f0.png: image file not found"):
        ds[0]
    (tmp_path / "f0.png").write_bytes(b"not an image")
    with pytest.raises(InputError, match="f0.png: cannot decode image"):
        ds[0]
    with pytest.raises(InputError, match="flip_perm"):
        TopDownDataset(pose, (64, 48), None, flip_perm=[0, 1], mean=ZERO, std=ONE)
    pose.frames[0].persons[0].keypoints = np.zeros((5, 3))
    with pytest.raises(InputError, match=r"person 0: keypoints shape \(5, 3\)"):
        TopDownDataset(pose, (64, 48), None, mean=ZERO, std=ONE)
    with pytest.raises(InputError, match="aug.rotation_prob"):
        AugConfig(rotation_prob=2.0).validate()


def test_crop_affine_centre_maps_to_crop_centre():
    m = crop_affine(np.array([100.0, 50.0]), np.array([30.0, 40.0]), 25.0, (64, 48))
    np.testing.assert_allclose(apply_affine(m, np.array([100.0, 50.0])), [23.5, 31.5], atol=1e-9)
    # Scale: the box width (30 px) becomes the crop width (48 px).
    d = apply_affine(m, np.array([[0.0, 0.0], [30.0, 0.0]]))
    assert np.linalg.norm(d[1] - d[0]) == pytest.approx(48.0)
