"""`vidpose run --model clnet` (a shipped trained 2D model) and its ONNX export, end to end (issue 13 point 3)."""

import hashlib
import json

import numpy as np
import pytest

from vidpose.cli import main
from vidpose.io import load_poses

pytestmark = pytest.mark.slow

FRAMES = 40


@pytest.fixture(scope="module")
def clnet_out(clip, tmp_path_factory):
    out = tmp_path_factory.mktemp("clnet") / "out"
    assert main(["run", str(clip), "--out", str(out), "--model", "clnet", "--max-frames", str(FRAMES), "--quiet"]) == 0
    return out


def test_writes_the_same_files_as_the_default_run(clip, clnet_out, tmp_path):
    default = tmp_path / "default"
    assert main(["run", str(clip), "--out", str(default), "--max-frames", "3", "--quiet"]) == 0
    assert sorted(p.name for p in clnet_out.iterdir()) == sorted(p.name for p in default.iterdir())
    poses = load_poses(clnet_out / "poses.json")
    assert poses["skeleton"]["name"] == "coco17" and poses["video"]["num_frames"] == FRAMES
    assert sum(bool(f["persons"]) for f in poses["frames"]) >= FRAMES // 2
    assert all(p["keypoints_3d"] is None for f in poses["frames"] for p in f["persons"])
    report = json.loads((clnet_out / "run.json").read_text())
    from vidpose.methods import pretrained_path

    shipped = pretrained_path("clnet")
    assert report["models"]["pose"]["sha256"] == hashlib.sha256(shipped.read_bytes()).hexdigest()
    assert report["model"]["method"] == "clnet" and report["model"]["skeleton"] == "coco17"
    assert report["model"]["skeleton_from"] == "17 keypoints"
    assert [s["stage"] for s in report["stages"]["ran"]] == ["estimate", "track", "convert"]
    assert [s["stage"] for s in report["stages"]["skipped"]] == ["refine", "lift"]


def test_keypoints_are_the_shipped_clnets(clip, clnet_out):
    """Frame 0 recomputed by hand: BlazePose's detection -> the training crop -> the model's own
    predict -> the bench's crop-to-image mapping; equal to poses.json to its rounding."""
    import cv2
    import torch

    from vidpose.backends.blazepose import BlazePoseDetector
    from vidpose.backends.topdown import detection_box
    from vidpose.data.topdown import crop_affine
    from vidpose.geometry import box_to_center_size, crop_points_to_image
    from vidpose.io.images import normalize_rgb
    from vidpose.io.video import open_source
    from vidpose.methods import load

    model = load("clnet")
    h, w = model.cfg.input_size
    with open_source(clip) as src:
        image = next(iter(src)).image
    got = np.asarray(load_poses(clnet_out / "poses.json")["frames"][0]["persons"][0]["keypoints"])
    best = None  # the detection (of the run's detector: the whole frame and its tiles) that gave this person
    for det in BlazePoseDetector(quiet=True, tiles=True)(image):
        center, size = box_to_center_size(detection_box(det, w / h), w / h, 1.25)
        m = crop_affine(center, size, 0.0, (h, w))
        crop = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        kp = model.predict(torch.from_numpy(normalize_rgb(crop[None]))).numpy().astype(np.float64)
        xy = crop_points_to_image(kp[:, :, :2], m[None])[0]
        if best is None or np.abs(got[:, :2] - xy).max() < np.abs(got[:, :2] - best[0]).max():
            best = (xy, kp)
    xy, kp = best
    assert np.abs(got[:, :2] - xy).max() <= 0.005 + 1e-6  # poses.json keeps 2 decimals
    assert np.abs(got[:, 2] - kp[0, :, 2]).max() <= 0.00005 + 1e-6  # ... and 4 for scores


def test_onnx_export_gives_the_same_keypoints(clip, clnet_out, tmp_path):
    """Tolerance: 0.002 heatmap cell, plus poses.json's rounding (0.01 px).

    A cell is ``heatmap_stride`` input pixels; in image pixels it is at least
    ``stride * (person box side / input side)`` (a crop is larger than the person in
    it), so that lower bound makes the tolerance stricter than 0.002 of a real cell.
    """
    from vidpose.methods import load

    onnx = tmp_path / "clnet.onnx"
    assert main(["export", "clnet", "--onnx", str(onnx)]) == 0
    out = tmp_path / "out"
    assert main(["run", str(clip), "--out", str(out), "--model", str(onnx), "--max-frames", str(FRAMES),
                 "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in clnet_out.iterdir())
    cfg = load("clnet").cfg
    stride = cfg.input_size[1] / (cfg.input_size[1] // cfg.heatmap_stride)
    a = load_poses(clnet_out / "poses.json")["frames"]
    b = load_poses(out / "poses.json")["frames"]
    assert len(a) == len(b) == FRAMES
    worst = 0.0
    n = 0
    for fa, fb in zip(a, b):
        assert [p["track_id"] for p in fa["persons"]] == [p["track_id"] for p in fb["persons"]], fa["index"]
        for pa, pb in zip(fa["persons"], fb["persons"]):
            x1, y1, x2, y2 = pa["bbox"]
            cell = stride * max((x2 - x1) / cfg.input_size[1], (y2 - y1) / cfg.input_size[0])
            d = np.abs(np.asarray(pa["keypoints"])[:, :2] - np.asarray(pb["keypoints"])[:, :2]).max()
            assert d <= 0.002 * cell + 0.01, (fa["index"], d, cell)
            ds = np.abs(np.asarray(pa["keypoints"])[:, 2] - np.asarray(pb["keypoints"])[:, 2]).max()
            assert ds <= 1e-3, (fa["index"], ds)
            worst, n = max(worst, d), n + 1
    assert n >= FRAMES // 2
    report = json.loads((out / "run.json").read_text())
    assert report["model"]["kind"] == "onnx" and report["model"]["skeleton"] == "coco17"


def test_checkpoint_path_is_the_same_as_the_shipped_name(clip, clnet_out):
    import vidpose
    from vidpose.methods import pretrained_path

    by_path = vidpose.estimate(clip, model=str(pretrained_path("clnet")), max_frames=5, overlay=False)
    assert by_path["frames"] == load_poses(clnet_out / "poses.json")["frames"][:5]
