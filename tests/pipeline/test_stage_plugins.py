"""The plug-in points of the stages registries, with real models: a refine stage that needs heatmaps
gets them (and they are freed after it), a lifter gets the 2D skeleton it asks for."""

import numpy as np
import pytest

import vidpose
from vidpose.pipeline import PoseRun, RunConfig
from vidpose.skeletons import COCO17, H36M17, convert
from vidpose.stages import LIFTERS, REFINERS, LiftStage, RefineStage, StageChoice

pytestmark = pytest.mark.slow


class HeatmapProbe(RefineStage):
    seen: list = []

    def __call__(self, frame):
        HeatmapProbe.seen += [None if p.heatmaps is None else p.heatmaps.shape for p in frame.persons]


class PelvisLifter(LiftStage):
    """Puts each joint at (x, y) / 1000 relative to the pelvis: enough to see which 2D it got."""

    input_skeleton = H36M17
    output_skeleton = H36M17
    got: list = []

    def lift_person(self, person, keypoints_2d):
        PelvisLifter.got.append(keypoints_2d.shape)
        xyz = np.zeros((17, 3))
        xyz[:, :2] = (keypoints_2d[:, :2] - keypoints_2d[0, :2]) / 1000
        return xyz


@pytest.mark.parametrize("model, shape", [("clnet", (16, 12, 17)), ("full", (64, 64, 39))])
def test_refine_stage_gets_heatmaps_and_they_are_freed_after_it(monkeypatch, clip, model, shape):
    monkeypatch.setitem(REFINERS, "probe", StageChoice("probe", "test probe", HeatmapProbe, frozenset({"heatmaps"})))
    HeatmapProbe.seen = []
    pr = PoseRun(clip, RunConfig(model=model, refine="probe", max_frames=4, overlay=False, quiet=True))
    frames = list(pr)
    assert HeatmapProbe.seen and all(s == shape for s in HeatmapProbe.seen)
    assert all(p.heatmaps is None for f in frames for p in f.persons)
    assert pr.model_info["stages"]["ran"][2] == {"stage": "refine", "choice": "probe"}


def test_stage_needing_blazepose_outputs_with_a_trained_model_is_an_error(monkeypatch, clip):
    monkeypatch.setitem(REFINERS, "bp-probe", StageChoice("bp-probe", "test", HeatmapProbe,
                                                          frozenset({"blazepose_heatmaps"})))
    with pytest.raises(vidpose.InputError, match=r"--refine bp-probe needs BlazePose's 39-channel 64x64 heatmaps"):
        RunConfig(model="clnet", refine="bp-probe")
    RunConfig(model="full", refine="bp-probe")  # BlazePose gives them


def test_lifter_gets_the_2d_skeleton_it_needs(monkeypatch, clip):
    monkeypatch.setitem(LIFTERS, "pelvis", StageChoice("pelvis", "test", PelvisLifter))
    PelvisLifter.got = []
    poses = vidpose.estimate(clip, model="clnet", lift="pelvis", skeleton="h36m17", max_frames=3, overlay=False)
    assert PelvisLifter.got and all(s == (17, 3) for s in PelvisLifter.got)
    people = [p for f in poses["frames"] for p in f["persons"]]
    assert people
    for p in people:  # the lifter's 3D is the H36M-17 2D that was written, relative to its pelvis:
        h = np.asarray(p["keypoints"])[:, :2]  # so it got H36M-17 converted from the COCO-17 model
        assert len(p["keypoints_3d"]) == 17 and p["keypoints_3d"][0] == [0.0, 0.0, 0.0]
        np.testing.assert_allclose(np.asarray(p["keypoints_3d"])[:, :2], (h - h[0]) / 1000, atol=2e-4)
    # Its 3D is in H36M-17, which COCO-17 cannot hold: the 2D is COCO-17, the 3D stays H36M-17 and says so.
    poses = vidpose.estimate(clip, model="clnet", lift="pelvis", skeleton="coco17", max_frames=1)
    assert poses["skeleton"]["name"] == "coco17" and poses["skeleton_3d"]["name"] == "h36m17"
    people = [p for f in poses["frames"] for p in f["persons"]]
    assert people
    for p in people:
        assert len(p["keypoints"]) == 17 and len(p["keypoints_3d"]) == 17 and p["keypoints_3d"][0] == [0.0, 0.0, 0.0]
        h = convert(np.asarray(p["keypoints"])[:, :2], COCO17, H36M17)
        np.testing.assert_allclose(np.asarray(p["keypoints_3d"])[:, :2], (h - h[0]) / 1000, atol=2e-4)
