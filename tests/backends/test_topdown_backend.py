"""The top-down backend with a real trained model, and the heatmaps it keeps for refine stages."""

import numpy as np
import pytest

from vidpose.backends.topdown import TopDownConfig, detection_box, keypoint_box
from vidpose.backends.blazepose import Detection


def test_detection_box_is_the_full_body_circle_at_the_model_aspect():
    d = Detection(0.9, np.zeros(4), np.array([[100.0, 200.0], [100.0, 100.0], [0, 0], [0, 0]]))
    assert np.allclose(detection_box(d, 0.75), [25, 100, 175, 300])


def test_keypoint_box_uses_confident_keypoints():
    kp = np.array([[10, 10, 0.9], [50, 80, 0.8], [500, 500, 0.01]], float)
    assert np.allclose(keypoint_box(kp, 0.2), [10, 10, 50, 80])
    assert np.allclose(keypoint_box(kp, 0.95), [10, 10, 500, 500])  # fewer than 2 confident: all


@pytest.mark.slow
def test_heatmaps_are_kept_when_asked_and_freed_after_the_refine_stages():
    from vidpose import store
    from vidpose.io.video import open_source
    from vidpose.pipeline import RunConfig
    from vidpose.skeletons import COCO17
    from vidpose.stages import ConvertStage, RefineStage, build_estimator, model_choice
    from vidpose.types import FramePoses

    with open_source(store.path("sample-sports2d", quiet=True)) as src:
        image = next(iter(src)).image
    cfg = RunConfig(model="clnet", quiet=True)
    backend, info = build_estimator(cfg, model_choice("clnet"), keep_heatmaps=True, quiet=True)
    assert backend.config == TopDownConfig(max_people=4, detect_every=5, keep_heatmaps=True)
    people = backend(image)
    assert people and info["skeleton"] == "coco17"
    for p in people:
        assert p.heatmaps.shape == (16, 12, 17) and p.heatmaps.dtype == np.float32  # (h, w, K)
        assert p.extra["heatmap_stride"] == 8
    frame = FramePoses(0, 0.0, image, backend.skeleton, people)
    last = RefineStage()
    last.release_heatmaps = True
    assert last.process(frame) == [frame] and all(p.heatmaps is None for p in frame.persons)
    # BlazePose's 64x64x39 maps, freed by the convert stage when no refine stage ran.
    bp, _ = build_estimator(RunConfig(quiet=True), model_choice("full"), keep_heatmaps=True, quiet=True)
    people = bp(image)
    for _ in range(3):
        people = people or bp(image)
    frame = FramePoses(0, 0.0, image, bp.skeleton, people)
    assert all(p.heatmaps.shape == (64, 64, 39) for p in frame.persons)
    ConvertStage(COCO17, None)(frame)
    assert all(p.heatmaps is None and p.keypoints_3d is None for p in frame.persons)
