"""Detector decoding, NMS, letterbox and ROI maths of the BlazePose backend (no model needed)."""

import math

import cv2
import numpy as np
import pytest

from vidpose.backends.blazepose import (
    Letterbox,
    apply_affine,
    crop_roi,
    decode_detections,
    letterbox,
    refine_from_heatmaps,
    roi_affine,
    roi_from_points,
    ssd_anchors,
    weighted_nms,
)


def test_anchor_count_and_layout():
    a = ssd_anchors()
    assert a.shape == (2254, 2)
    # stride 8: 28x28 cells x 2 anchors first, centred at (x + 0.5) / 28
    assert np.allclose(a[0], [0.5 / 28, 0.5 / 28]) and np.allclose(a[1], a[0])
    assert np.allclose(a[2], [1.5 / 28, 0.5 / 28])
    # stride 16 grid starts after 28*28*2 anchors
    assert np.allclose(a[28 * 28 * 2], [0.5 / 14, 0.5 / 14])
    # the three stride-32 layers share one 7x7 grid: 6 anchors per cell
    tail = a[28 * 28 * 2 + 14 * 14 * 2 :]
    assert len(tail) == 7 * 7 * 6
    assert np.allclose(tail[:6], [0.5 / 7, 0.5 / 7])
    assert np.allclose(tail[6], [1.5 / 7, 0.5 / 7])


def test_decode_detections_threshold_and_geometry():
    anchors = np.array([[0.5, 0.5], [0.25, 0.75]], np.float32)
    reg = np.zeros((2, 12), np.float32)
    reg[0, :4] = [22.4, -11.2, 44.8, 89.6]  # centre shift (+0.1, -0.05), size (0.2, 0.4)
    reg[0, 4:6] = [0, 22.4]  # kp0 = anchor + (0, 0.1)
    logits = np.array([2.0, -3.0], np.float32)  # sigmoid 0.88 and 0.047
    scores, boxes, kps = decode_detections(reg, logits, anchors, threshold=0.5)
    assert scores.shape == (1,) and scores[0] == pytest.approx(1 / (1 + math.exp(-2)))
    assert np.allclose(boxes[0], [0.5, 0.25, 0.7, 0.65], atol=1e-6)
    assert np.allclose(kps[0, 0], [0.5, 0.6], atol=1e-6)
    assert np.allclose(kps[0, 1], [0.5, 0.5])


def test_weighted_nms_merges_overlaps_and_keeps_separate_people():
    boxes = np.array([[0.1, 0.1, 0.3, 0.3], [0.11, 0.1, 0.31, 0.3], [0.6, 0.6, 0.8, 0.8]])
    kps = np.zeros((3, 4, 2))
    kps[0, 0] = [0.2, 0.2]
    kps[1, 0] = [0.3, 0.2]
    scores = np.array([0.9, 0.6, 0.7])
    out = weighted_nms(scores, boxes, kps, iou_threshold=0.3)
    assert len(out) == 2
    s0, b0, k0 = out[0]
    assert s0 == 0.9
    # score-weighted mean of the first two
    assert k0[0, 0] == pytest.approx((0.9 * 0.2 + 0.6 * 0.3) / 1.5)
    assert np.allclose(out[1][1], boxes[2])


def test_letterbox_pads_black_and_maps_back():
    img = np.full((100, 200, 3), 255, np.uint8)
    x, lb = letterbox(img, 224)
    assert x.shape == (224, 224, 3)
    assert x[0, 0, 0] == -1.0 and x[112, 112, 0] == pytest.approx(1.0)
    # content is 224 x 112, centred vertically
    assert lb.offset_x == 0 and lb.offset_y == pytest.approx(56 / 224)
    pts = np.array([[0.0, 56 / 224], [1.0, 168 / 224], [0.5, 0.5]])
    assert np.allclose(lb.to_image(pts), [[0, 0], [200, 100], [100, 50]])
    assert isinstance(lb, Letterbox)


@pytest.mark.parametrize(
    "scale_pt, rotation",
    [((100, 50), 0.0), ((150, 100), math.pi / 2), ((50, 100), -math.pi / 2), ((100, 150), math.pi)],
)
def test_roi_rotation_and_size(scale_pt, rotation):
    roi = roi_from_points(np.array([100.0, 100.0]), np.array(scale_pt, float))
    assert roi.size == pytest.approx(2 * 50 * 1.25)
    assert roi.rotation == pytest.approx(rotation)
    assert -math.pi < roi.rotation <= math.pi
    assert (roi.cx, roi.cy) == (100.0, 100.0)


def test_roi_affine_and_crop_put_the_scale_point_at_the_top():
    # A person lying on their side: the scale point is to the right of the hip.
    img = np.zeros((300, 400, 3), np.uint8)
    hip, head = np.array([200.0, 150.0]), np.array([280.0, 150.0])
    cv2.circle(img, (280, 150), 6, (255, 0, 0), -1)
    roi = roi_from_points(hip, head)
    m = roi_affine(roi, 256)
    assert np.allclose(apply_affine(m, np.array([[128.0, 128.0]])), [hip])
    crop, m2 = crop_roi(img, roi, 256)
    assert np.allclose(m, m2)
    ys, xs = np.nonzero(crop[:, :, 0] > 128)
    # upright in the crop: the marker sits straight above the centre
    assert abs(xs.mean() - 128) < 2
    expected_v = 128 - 80 / (roi.size / 256)
    assert abs(ys.mean() - expected_v) < 2
    # and maps back to where it was drawn
    assert np.allclose(apply_affine(m, np.array([[xs.mean(), ys.mean()]])), [[280, 150]], atol=1.5)


def test_refine_from_heatmaps_moves_to_the_peak_centroid():
    hm = np.full((64, 64, 3), -10.0, np.float32)
    yy, xx = np.mgrid[:64, :64]
    hm[:, :, 0] = 10 - ((xx - 20.3) ** 2 + (yy - 30.6) ** 2)  # peak between pixels
    refined = refine_from_heatmaps(np.array([[20 * 4 + 2, 30 * 4 + 2], [100.0, 100.0], [-30.0, 50.0]]), hm)
    # MediaPipe's convention: heatmap cell index * stride, no half-cell offset
    assert refined[0, 0] == pytest.approx(20.3 * 4, abs=0.4)
    assert refined[0, 1] == pytest.approx(30.6 * 4, abs=0.4)
    # no confident heatmap: the point stays where it was
    assert np.allclose(refined[1], [100, 100])
    # a point whose cell is off the heatmap is never moved
    hm[:, :3, 2] = 10.0
    assert np.allclose(refine_from_heatmaps(np.array([[-6.0, 50.0]] * 3), hm)[2], [-6.0, 50.0])


def test_detector_tiles_cover_a_wide_or_tall_frame_with_overlap():
    from vidpose.backends.blazepose import detector_tiles

    assert detector_tiles(640, 640) == [] and detector_tiles(700, 600) == []  # near square: the frame is enough
    for w, h in ((1768, 994), (1920, 1080), (640, 360), (2000, 1000), (1080, 1920), (3000, 500)):
        tiles = detector_tiles(w, h)
        short, long_ = min(w, h), max(w, h)
        assert len(tiles) >= 2
        starts = [t[0] if w >= h else t[1] for t in tiles]
        for x0, y0, x1, y1 in tiles:  # squares of the shorter side, inside the frame
            assert x1 - x0 == y1 - y0 == short and 0 <= x0 and x1 <= w and 0 <= y0 and y1 <= h
        assert starts[0] == 0 and starts[-1] == long_ - short  # both ends covered
        assert min(b - a for a, b in zip(starts, starts[1:])) <= 0.8 * short + 1  # overlap >= 20 % of a tile
    assert len(detector_tiles(1920, 1080)) == 2 and len(detector_tiles(2000, 1000)) == 3


def test_fine_tiles_are_a_half_size_grid_over_the_whole_frame():
    from vidpose.backends.blazepose import detector_tiles

    for w, h in ((640, 360), (1920, 1080), (256, 256), (1080, 1920)):
        wide, fine = detector_tiles(w, h), detector_tiles(w, h, fine=True)
        assert fine[:len(wide)] == wide  # the wide tiles first, then the grid
        grid = fine[len(wide):]
        half = min(w, h) // 2
        assert grid and all(x1 - x0 == y1 - y0 == half for x0, y0, x1, y1 in grid)
        covered = np.zeros((h, w), bool)
        for x0, y0, x1, y1 in grid:
            covered[y0:y1, x0:x1] = True
        assert covered.all()  # every pixel lies in some fine tile
    assert len(detector_tiles(640, 360, fine=True)) == 2 + 15


@pytest.mark.slow
def test_fine_tiles_run_while_someone_small_is_in_view():
    from vidpose.backends.blazepose import BlazePose, BlazePoseConfig
    from vidpose.types import PersonPose

    def person(height):
        return PersonPose(keypoints=np.zeros((33, 3)), bbox=np.array([10.0, 10.0, 60.0, 10.0 + height]), score=1.0)

    image = np.zeros((360, 640, 3), np.uint8)
    b = BlazePose(BlazePoseConfig(detector_tiles=True), quiet=True)  # fine_tiles_below 0.3: 108 px here
    assert b._fine(image, [person(100.0), person(300.0)], scheduled=False)  # one small person is enough
    assert not b._fine(image, [person(120.0)], scheduled=True)
    assert b._fine(image, [], scheduled=True) and not b._fine(image, [], scheduled=False)  # empty: on schedule only
    assert not BlazePose(BlazePoseConfig(detector_tiles=False), quiet=True)._fine(image, [person(50.0)], True)
