"""One crop-affine mechanism (vidpose.geometry) for BlazePose ROIs, training crops and top-down inference."""

import math

import numpy as np

from vidpose.geometry import (
    apply_affine,
    box_to_center_size,
    crop_to_image_affine,
    image_to_crop_affine,
    invert_affine,
    warp_crop,
)


def test_the_two_directions_are_inverse():
    c, s, r, out = (310.5, 122.0), (90.0, 120.0), 0.4, (128, 96)
    pts = np.array([[0.0, 0.0], [95.0, 127.0], [40.0, 10.0]])
    for pixel_centres in (True, False):
        a = crop_to_image_affine(c, s, r, out, pixel_centres)
        b = image_to_crop_affine(c, s, r, out, pixel_centres)
        assert np.allclose(apply_affine(b, apply_affine(a, pts)), pts)
        assert np.allclose(invert_affine(a), b)
        # flip: the same crop mirrored, x -> W-1-x with pixel centres, W-x with pixel corners
        f = image_to_crop_affine(c, s, r, out, pixel_centres, True)
        img = apply_affine(a, pts)
        mirrored = np.c_[(95.0 if pixel_centres else 96.0) - pts[:, 0], pts[:, 1]]
        assert np.allclose(apply_affine(f, img), mirrored)


def test_centre_conventions():
    # pixel centres: the box centre lands on ((W-1)/2, (H-1)/2); pixel corners (MediaPipe): on (W/2, H/2)
    m = image_to_crop_affine((100.0, 50.0), (30.0, 40.0), 0.0, (64, 48), pixel_centres=True)
    assert np.allclose(apply_affine(m, [100.0, 50.0]), [23.5, 31.5])
    m = crop_to_image_affine((100.0, 50.0), 256.0, 0.0, (256, 256), pixel_centres=False)
    assert np.allclose(apply_affine(m, [128.0, 128.0]), [100.0, 50.0])


def test_blazepose_and_training_crops_are_the_same_mechanism():
    from vidpose.backends.blazepose import roi_affine
    from vidpose.data.topdown import crop_affine
    from vidpose.types import ROI

    roi = ROI(200.0, 150.0, 180.0, math.radians(30))
    assert np.array_equal(roi_affine(roi, 256), crop_to_image_affine((200.0, 150.0), 180.0, roi.rotation, (256, 256),
                                                                     pixel_centres=False))
    c, s = box_to_center_size(np.array([10.0, 20.0, 70.0, 200.0]), 0.75, 1.25)
    assert np.allclose(s, [135.0 * 1.25, 180.0 * 1.25])
    assert np.array_equal(crop_affine(c, s, 25.0, (64, 48), True),
                          image_to_crop_affine(c, s, np.deg2rad(25.0), (64, 48), True, True))


def test_warp_crop_cuts_the_box():
    img = np.zeros((100, 200, 3), np.uint8)
    img[40:60, 90:110] = 255
    m = image_to_crop_affine((99.5, 49.5), (40.0, 40.0), 0.0, (40, 40))
    crop = warp_crop(img, m, (40, 40))
    assert crop.shape == (40, 40, 3) and crop[20, 20, 0] == 255 and crop[2, 2, 0] == 0
