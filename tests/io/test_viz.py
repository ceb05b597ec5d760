"""Overlay drawing: bones, joints, boxes and ids land on the right pixels, input untouched."""

from __future__ import annotations

import numpy as np
import pytest

from vidpose.errors import InputError
from vidpose.skeletons import BLAZEPOSE33, COCO17
from vidpose.viz import draw_poses, track_colour

# A standing figure in a 640x480 frame (x, y), COCO17 order. The person faces
# the camera, so their left side is on the image's right.
_COCO_XY = {
    "nose": (320, 80), "left_eye": (330, 70), "right_eye": (310, 70),
    "left_ear": (345, 75), "right_ear": (295, 75),
    "left_shoulder": (380, 140), "right_shoulder": (260, 140),
    "left_elbow": (400, 220), "right_elbow": (240, 220),
    "left_wrist": (410, 300), "right_wrist": (230, 300),
    "left_hip": (360, 280), "right_hip": (280, 280),
    "left_knee": (365, 360), "right_knee": (275, 360),
    "left_ankle": (370, 440), "right_ankle": (270, 440),
}


def _person(track_id=1, scale=1.0, low=()):
    kpts = [[_COCO_XY[n][0] * scale, _COCO_XY[n][1] * scale, 0.05 if n in low else 0.9]
            for n in COCO17.keypoints]
    return {"track_id": track_id, "bbox": [200 * scale, 50 * scale, 450 * scale, 460 * scale],
            "score": 0.9, "keypoints": kpts}


def _mid(a, b, scale=1.0):
    (xa, ya), (xb, yb) = _COCO_XY[a], _COCO_XY[b]
    return int(round((ya + yb) / 2 * scale)), int(round((xa + xb) / 2 * scale))  # (row, col)


def test_bones_joints_box_are_drawn_and_input_untouched():
    image = np.zeros((480, 640, 3), np.uint8)
    before = image.copy()
    out = draw_poses(image, [_person()], COCO17)
    assert out.shape == image.shape and out.dtype == np.uint8 and out is not image
    np.testing.assert_array_equal(image, before)
    # Along a bone (midpoint, away from both joints) pixels changed.
    for a, b in [("left_shoulder", "left_elbow"), ("right_hip", "right_knee"), ("left_hip", "right_hip")]:
        assert out[_mid(a, b)].any(), (a, b)
    # Joints and the box outline.
    x, y = _COCO_XY["left_ankle"]
    assert out[y, x].any()
    assert out[460, 320].any() and out[255, 200].any()
    # Far from the person nothing changed.
    assert not out[10:40, 500:630].any()


def test_low_score_joints_are_not_drawn():
    image = np.zeros((480, 640, 3), np.uint8)
    out = draw_poses(image, [_person(low={"left_wrist"})], COCO17, min_score=0.3)
    x, y = _COCO_XY["left_wrist"]
    assert not out[y - 3 : y + 4, x - 3 : x + 4].any()  # joint absent
    assert not out[_mid("left_elbow", "left_wrist")].any()  # bone to it absent
    assert out[_mid("left_shoulder", "left_elbow")].any()  # the rest is drawn
    # With a lower threshold it appears.
    out2 = draw_poses(image, [_person(low={"left_wrist"})], COCO17, min_score=0.01)
    assert out2[y, x].any()


def test_left_and_right_bones_differ_and_track_colour_is_stable():
    image = np.zeros((480, 640, 3), np.uint8)
    out = draw_poses(image, [_person(track_id=3)], COCO17)
    left = out[_mid("left_knee", "left_ankle")].astype(int)
    right = out[_mid("right_knee", "right_ankle")].astype(int)
    assert np.abs(left - right).sum() > 60
    assert left.sum() > right.sum()  # left is the lighter shade
    # Same id, another frame: same colours. Another id: other colours.
    again = draw_poses(image, [_person(track_id=3)], COCO17)
    np.testing.assert_array_equal(out, again)
    other = draw_poses(image, [_person(track_id=4)], COCO17)
    centre = _mid("left_hip", "right_hip")
    assert np.abs(other[centre].astype(int) - out[centre].astype(int)).sum() > 60
    assert track_colour(3) == track_colour(3) != track_colour(4)


def test_line_thickness_scales_with_image():
    def drawn_width(scale):
        h, w = int(480 * scale), int(640 * scale)
        out = draw_poses(np.zeros((h, w, 3), np.uint8), [_person(scale=scale)], COCO17)
        row = int(round(280 * scale))  # the horizontal hip bone
        col = int(round(320 * scale))
        return int((out[:, col].any(axis=1)[row - 20 : row + 20]).sum())

    assert drawn_width(3.0) > 2 * drawn_width(0.5)


def test_untracked_person_and_other_skeleton():
    image = np.full((100, 100, 3), 255, np.uint8)
    kpts = [[50.0, 10.0 + 2 * j, 1.0] for j in range(BLAZEPOSE33.num_keypoints)]
    out = draw_poses(image, [{"track_id": None, "keypoints": kpts}], BLAZEPOSE33)
    assert (out != 255).any() and out.shape == (100, 100, 3)
    # BlazePose's own bones are drawn: only the left wrist and the left index finger (a bone COCO-17
    # lacks) score above the threshold, so their bone is all that appears
    kpts = [[50.0, 90.0, 0.0] for _ in range(BLAZEPOSE33.num_keypoints)]
    kpts[BLAZEPOSE33.index("left_wrist")] = [20.0, 50.0, 1.0]
    kpts[BLAZEPOSE33.index("left_index")] = [80.0, 50.0, 1.0]
    out = draw_poses(image, [{"track_id": None, "keypoints": kpts}], BLAZEPOSE33)
    drawn = (out != 255).any(axis=2)
    assert drawn[50, 35:66].all()  # along the wrist-index bone
    assert not drawn[80:, :].any() and not drawn[:35, :].any()  # nothing else


def test_bad_inputs():
    image = np.zeros((48, 64, 3), np.uint8)
    bad = {"track_id": 1, "keypoints": [[1, 2, 0.9]] * 5}
    with pytest.raises(InputError, match="5 keypoints"):
        draw_poses(image, [bad], COCO17)
    with pytest.raises(InputError, match="uint8"):
        draw_poses(image.astype(np.float32), [], COCO17)
    np.testing.assert_array_equal(draw_poses(image, [], COCO17), image)
