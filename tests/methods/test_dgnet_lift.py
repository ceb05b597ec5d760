"""The dgnet lift stage: per track, buffered and lifted densely; the result does not depend on the
chunk size and equals lifting each track's run of frames whole; gaps, short tracks, untracked people."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pytest
import torch

from vidpose.errors import InputError

from vidpose.skeletons import COCO17, H36M17, convert_with_scores
from vidpose.types import FramePoses, PersonPose

torch.set_num_threads(1)


def _frames(n: int = 40, w: int = 320, h: int = 240):
    """Two tracked COCO-17 people (track 2 absent in frames 10-14 and after 30) and one untracked."""
    rng = np.random.default_rng(0)
    base = rng.uniform(80, 200, (17, 2))
    frames = []
    for t in range(n):
        persons = []
        for tid in (1, 2):
            if tid == 2 and (10 <= t < 15 or t >= 30):
                continue
            kp = np.concatenate([base + tid * 20 + 3 * np.sin(t / 5 + np.arange(17))[:, None],
                                 rng.uniform(0.2, 1.0, (17, 1))], 1)
            persons.append(PersonPose(kp, np.array([0, 0, w, h], float), 0.9, track_id=tid))
        if t == 7:
            persons.append(PersonPose(np.concatenate([base, np.ones((17, 1))], 1), np.zeros(4), 0.5))
        frames.append(FramePoses(t, t / 30, np.zeros((h, w, 3), np.uint8), COCO17, persons))
    return frames


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """A small randomly initialised DG-Net checkpoint (receptive field 9)."""
    from vidpose.methods import build
    from vidpose.models.checkpoint import save_checkpoint

    torch.manual_seed(0)
    m = build("dgnet", receptive_field=9, channels=8, embed=4)
    torch.nn.init.normal_(m.head.weight, std=0.3)  # not the zero start: a pose that varies
    return save_checkpoint(tmp_path_factory.mktemp("dg") / "dg.safetensors", m)


def _run(stage, frames):
    out = []
    for f in frames:
        out += stage.process(f)
    return out + stage.finish()


def test_lift_stage_matches_whole_track_lifting_for_any_chunk(ckpt):
    from vidpose.stages.lift_dgnet import DGNetLift

    a = _run(DGNetLift(ckpt, chunk=4), _frames())
    b = _run(DGNetLift(ckpt, chunk=1000), _frames())
    assert [f.index for f in a] == list(range(40)) == [f.index for f in b]
    for fa, fb in zip(a, b):
        for pa, pb in zip(fa.persons, fb.persons):
            assert pa.keypoints_3d.shape == (17, 3) and np.allclose(pa.keypoints_3d, pb.keypoints_3d, atol=1e-5)
            assert np.allclose(pa.keypoints_3d[0], 0.0)
    # Track 2's run 15..29 lifted as one whole track with the model's own dense mode.
    stage = DGNetLift(ckpt)
    frames = _frames()
    x = np.stack([stage._input(frames[t], frames[t].persons[1].keypoints) for t in range(15, 30)])
    assert stage.flip is True  # vidpose run lifts with test-time flip augmentation (methods.RUN_FLIP)
    y = stage.model.model.lift(x, flip=True).numpy()  # the PyTorch lifter behind the stage's runner
    y = y - y[:, :1]
    got = np.stack([a[t].persons[1].keypoints_3d for t in range(15, 30)])
    assert np.allclose(got, y, atol=1e-5)
    assert not np.allclose(got[0], got[5])  # a pose that moves
    assert a[7].persons[2].track_id is None and np.isfinite(a[7].persons[2].keypoints_3d).all()


def test_dgnet_smooth_is_dgnet_low_passed_per_track(ckpt):
    """--lift dgnet-smooth: DG-Net's 3D through the zero-phase Butterworth of blazepose-smooth, per track
    over the track's consecutive frames (±8 held); an untracked person and a run too short keep DG-Net's."""
    import scipy.signal

    from vidpose.stages import LIFTERS
    from vidpose.stages.lift import DGNetSmoothLift
    from vidpose.stages.lift_dgnet import DGNetLift

    raw = _run(DGNetLift(ckpt), _frames(60))
    got = _run(DGNetSmoothLift(ckpt), _frames(60))
    assert [f.index for f in got] == list(range(60)) and LIFTERS["dgnet-smooth"].auto is True  # files' default
    # Track 1 is in all 60 frames: frame 30 sees frames 22..38 and is filtered over that window.
    b, a = scipy.signal.butter(2, 3.0 / 15.0)
    series = np.stack([raw[t].persons[0].keypoints_3d for t in range(22, 39)])
    want = scipy.signal.filtfilt(b, a, series, axis=0)[8]
    assert np.allclose(got[30].persons[0].keypoints_3d, want, atol=1e-9)
    assert not np.allclose(want, raw[30].persons[0].keypoints_3d, atol=1e-4)  # the filter did something
    # The untracked person in frame 7 has no run to filter.
    assert got[7].persons[2].track_id is None
    assert np.allclose(got[7].persons[2].keypoints_3d, raw[7].persons[2].keypoints_3d)
    # A run of at most 9 frames (the filter's padding) keeps DG-Net's 3D: track 2 seen in frames 15..20 only.
    def short_run():
        frames = _frames(60)
        for f in frames:
            if not 15 <= f.index <= 20:
                f.persons = [p for p in f.persons if p.track_id != 2]
        return frames

    raw_s, got_s = _run(DGNetLift(ckpt), short_run()), _run(DGNetSmoothLift(ckpt), short_run())
    for t in range(15, 21):
        (p,) = [p for p in got_s[t].persons if p.track_id == 2]
        (q,) = [q for q in raw_s[t].persons if q.track_id == 2]
        assert np.allclose(p.keypoints_3d, q.keypoints_3d, atol=1e-9)
    assert not np.allclose(got_s[18].persons[0].keypoints_3d, raw_s[18].persons[0].keypoints_3d, atol=1e-4)
    for f, r in zip(got, raw):
        for p, q in zip(f.persons, r.persons):
            assert p.keypoints_3d.shape == (17, 3) and np.allclose(p.keypoints, q.keypoints)  # the 2D untouched


def test_flip_test_augmentation_is_mirror_equivariant(ckpt):
    """lift(x, flip=True) averages the plain prediction with the mirrored input's, mirrored back: so the
    prediction of a mirrored sequence is exactly the mirrored prediction, which plain lifting is not."""
    from vidpose.methods.dgnet import load_lifter

    m = load_lifter(str(ckpt))
    perm = H36M17.flip_permutation()
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.uniform(-0.5, 0.5, (20, 17, 2)), rng.uniform(0.3, 1, (20, 17, 1))], -1).astype(np.float32)
    xm = x[:, perm].copy()
    xm[..., 0] *= -1

    def mirror(y):
        y = y[:, perm].copy()
        y[..., 0] *= -1
        return y

    plain, plain_m = m.lift(x).numpy(), m.lift(xm).numpy()
    both, both_m = m.lift(x, flip=True).numpy(), m.lift(xm, flip=True).numpy()
    assert np.allclose(both_m, mirror(both), atol=1e-5)
    assert not np.allclose(plain_m, mirror(plain), atol=1e-3)
    assert np.allclose(both, (plain + mirror(plain_m)) / 2, atol=1e-5)
    assert np.allclose(m.lift(x, flip=False).numpy(), plain)


def test_lift_stage_runs_an_onnx_export_like_the_checkpoint(ckpt, tmp_path):
    """vidpose export of a lifter checkpoint: the stage run from the .onnx (onnxruntime) lifts every
    person as from the checkpoint (PyTorch), with and without the flip."""
    from vidpose.methods import load
    from vidpose.models.export import compare_lifter_onnx, export_lifter_onnx
    from vidpose.models.runtime import OnnxLifter
    from vidpose.stages.lift_dgnet import DGNetLift

    from vidpose.cli import main

    onnx_path = tmp_path / "dg.onnx"
    assert main(["export", str(ckpt), "--onnx", str(onnx_path), "--check"]) == 0
    assert compare_lifter_onnx(load(ckpt), onnx_path) < 1e-5
    again = export_lifter_onnx(load(ckpt), tmp_path / "again.onnx", source=ckpt)
    assert again.read_bytes() == onnx_path.read_bytes()  # deterministic: a shipped export can be remade
    runner = OnnxLifter(onnx_path)
    assert (runner.receptive_field, runner.in_channels, runner.skeleton) == (9, 3, "h36m17")
    assert runner.extra["onnx_metadata"]["vidpose_source_sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    for flip in (True, False):
        a = _run(DGNetLift(str(onnx_path), chunk=5, flip=flip), _frames())
        b = _run(DGNetLift(ckpt, flip=flip), _frames())
        for fa, fb in zip(a, b):
            for pa, pb in zip(fa.persons, fb.persons):
                assert np.allclose(pa.keypoints_3d, pb.keypoints_3d, atol=1e-5)
    with pytest.raises(InputError, match="frames, the lifter needs at least"):
        runner.lift_valid(np.zeros((1, 8, 17, 3), np.float32))
    with pytest.raises(InputError, match="non-finite"):
        runner.lift_valid(np.full((1, 9, 17, 3), np.nan, np.float32))


def test_an_onnx_file_that_is_not_a_lifter_is_refused(tmp_path):
    from vidpose.methods import build
    from vidpose.models.export import export_onnx
    from vidpose.stages.lift_dgnet import DGNetLift

    path = export_onnx(build("simplebaseline", input_size=(64, 64), backbone="resnet18"), tmp_path / "sb.onnx")
    with pytest.raises(InputError, match="not a vidpose lifter export"):
        DGNetLift(str(path))
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(InputError, match="bad.onnx: not a readable ONNX model"):
        DGNetLift(str(bad))


def test_a_missing_onnxruntime_is_named(monkeypatch):
    from vidpose.methods import shipped_lifter_path
    from vidpose.stages.lift_dgnet import DGNetLift

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    with pytest.raises(InputError, match=r"--lift dgnet: .*dgnet_synth3_pairs.onnx: running an ONNX model needs the onnxruntime"):
        DGNetLift()
    assert shipped_lifter_path(".onnx").is_file()


def test_shipped_lifter_export_matches_the_checkpoint_and_needs_no_torch():
    """The shipped .onnx is the export of the shipped .safetensors (its sha256 recorded, same 3D), made by
    SHIPPED_LIFTER_EXPORT; vidpose run's default lift stage loads it without importing torch."""
    from vidpose.methods import SHIPPED_LIFTER_EXPORT, load, shipped_lifter_path
    from vidpose.models.export import compare_lifter_onnx
    from vidpose.models.runtime import OnnxLifter

    ckpt, onnx_path = shipped_lifter_path(), shipped_lifter_path(".onnx")
    meta = OnnxLifter(onnx_path).extra["onnx_metadata"]
    assert meta["vidpose_source"] == ckpt.name
    assert meta["vidpose_source_sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert compare_lifter_onnx(load(ckpt), onnx_path) < 1e-5
    assert SHIPPED_LIFTER_EXPORT.split()[2] == f"src/vidpose/weights/{ckpt.name}" and onnx_path.name in SHIPPED_LIFTER_EXPORT
    code = ("import sys; from vidpose.stages.lift import DGNetSmoothLift; s = DGNetSmoothLift(); "
            "print(type(s.lifter.model).__name__, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["OnnxLifter", "False"]


def test_lift_stage_input_is_h36m_with_scores(ckpt):
    from vidpose.stages.lift_dgnet import DGNetLift

    stage = DGNetLift(ckpt)
    f = _frames(1)[0]
    kp = f.persons[0].keypoints
    x = stage._input(f, kp)
    h36 = convert_with_scores(kp, COCO17, H36M17)
    assert x.shape == (17, 3) and np.allclose(x[:, 2], np.clip(h36[:, 2], 0, 1))
    assert np.allclose(x[:, 0], h36[:, 0] / 320 * 2 - 1, atol=1e-6)


def test_lift_stage_rejects_a_2d_model():
    from vidpose.errors import InputError
    from vidpose.stages.lift_dgnet import DGNetLift

    with pytest.raises(InputError, match="--lift dgnet: lifter .simplebaseline. is a simplebaseline model, not a 2D->3D lifter"):
        DGNetLift("simplebaseline")


def test_run_with_lift_dgnet_on_the_sample_clip_writes_bvh(tmp_path):
    """vidpose run --lift dgnet --bvh with the default --skeleton coco17 on the sample clip: the 2D is
    COCO-17, every person gets H36M-17 3D (poses.json names it as skeleton_3d; metres, pelvis at the
    origin, a human size), poses.csv carries it, and each track's BVH file read back with the parser
    gives the track's 3D again (forward kinematics)."""
    import csv

    from vidpose import store
    from vidpose.io.bvh import CM, TO_BVH, bvh_positions, read_bvh
    from vidpose.io.poses import load_poses
    from vidpose.pipeline import RunConfig, run

    clip = store.path("sample-sports2d", quiet=True)
    rep = run(str(clip), tmp_path, RunConfig(lift="dgnet", bvh=True, trc=True, max_frames=40, overlay=False,
                                             report=False, threads=1, quiet=True))
    poses = load_poses(tmp_path / "poses.json")
    assert poses["skeleton"]["name"] == "coco17" and poses["skeleton_3d"]["name"] == "h36m17"
    persons = [p for f in poses["frames"] for p in f["persons"]]
    assert len(poses["frames"]) == 40 and persons
    for p in persons:
        k3 = np.asarray(p["keypoints_3d"])
        assert len(p["keypoints"]) == 17 and k3.shape == (17, 3) and np.allclose(k3[0], 0.0, atol=1e-4)
        height = np.ptp(k3[:, 1])  # y down: head to feet
        assert 0.8 < height < 2.5, height
    rows = list(csv.DictReader(open(tmp_path / "poses.csv")))
    pelvis = [r for r in rows if r["keypoint"] == "pelvis"]
    assert pelvis and all(r["x"] == "" and float(r["X"]) == 0.0 for r in pelvis)
    assert all(r["X"] != "" for r in rows if r["keypoint"] == "left_knee")
    bvhs = sorted(tmp_path.glob("poses_track*.bvh"))
    assert bvhs and [b.name for b in bvhs] == [n for n in rep["outputs"] if n.endswith(".bvh")]
    tid = int(bvhs[0].stem.rsplit("track", 1)[1])
    track = np.asarray([p["keypoints_3d"] for f in poses["frames"] for p in f["persons"] if p["track_id"] == tid])
    b = read_bvh(bvhs[0])
    assert b["names"][0] == "pelvis" and len(b["names"]) == 17 and abs(b["frame_time"] - 1 / poses["video"]["fps"]) < 1e-5
    got = bvh_positions(b)
    want = track @ TO_BVH.T * CM
    assert got.shape == want.shape
    # Bone lengths in the file are the track's medians: the lifted bones vary a little around them.
    assert np.median(np.abs((got - got[:, :1]) - want)) < 3.0
    # The TRC file of the same track: H36M-17 markers (the 3D's skeleton), OpenSim's Y up.
    lines = (tmp_path / f"poses_track{tid}.trc").read_text().splitlines()
    assert [n for n in lines[3].split("\t")[2:] if n] == list(H36M17.keypoints)
    rows = [np.asarray(r.split("\t")[2:], float).reshape(17, 3) for r in lines[6:] if r.split("\t")[2:] != [""] * 51]
    assert np.allclose(np.stack(rows), track * [1, -1, -1], atol=1e-4)


def test_run_with_lift_dgnet_smooth_on_the_sample_clip(tmp_path):
    """vidpose run --lift dgnet-smooth on real video: run.json records the stage, every person gets H36M-17
    3D with the pelvis at the origin, the 2D is that of --lift dgnet, and the 3D moves less from frame to
    frame than DG-Net's own."""
    import json

    from vidpose import store
    from vidpose.io.poses import load_poses
    from vidpose.pipeline import RunConfig, run

    clip = store.path("sample-sports2d", quiet=True)
    out = {}
    for lift in ("dgnet", "dgnet-smooth"):
        run(str(clip), tmp_path / lift, RunConfig(lift=lift, max_frames=40, overlay=False, report=False, threads=1,
                                                   quiet=True))
        out[lift] = load_poses(tmp_path / lift / "poses.json")
    ran = json.loads((tmp_path / "dgnet-smooth" / "run.json").read_text())["stages"]["ran"]
    assert {"stage": "lift", "choice": "dgnet-smooth"} in ran

    def tracks(poses):
        t = {}
        for f in poses["frames"]:
            for p in f["persons"]:
                t.setdefault(p["track_id"], []).append((p["keypoints"], np.asarray(p["keypoints_3d"])))
        return t

    raw, smooth = tracks(out["dgnet"]), tracks(out["dgnet-smooth"])
    assert raw.keys() == smooth.keys() and raw
    jerk = {"raw": [], "smooth": []}
    for tid in raw:
        assert [k for k, _ in raw[tid]] == [k for k, _ in smooth[tid]]  # the same 2D
        for name, seq in (("raw", raw[tid]), ("smooth", smooth[tid])):
            k3 = np.stack([x for _, x in seq])
            assert k3.shape[1:] == (17, 3) and np.allclose(k3[:, 0], 0.0, atol=1e-4)
            if len(k3) > 20:
                jerk[name].append(np.abs(np.diff(k3, 2, axis=0)).mean())
    assert jerk["raw"] and np.mean(jerk["smooth"]) < 0.7 * np.mean(jerk["raw"])


@pytest.mark.slow  # BlazePose on the sample clip
def test_a_trained_lifter_runs_in_vidpose_run(ckpt, tmp_path, capsys):
    """--lifter PATH: a checkpoint from vidpose train (here a random DG-Net) in --lift dgnet's place."""
    import json

    import vidpose
    from vidpose import store
    from vidpose.cli import main

    clip = store.path("sample-sports2d", quiet=True)
    mine = vidpose.estimate(clip, max_frames=4, refine="none", lift="dgnet", lifter=str(ckpt))
    shipped = vidpose.estimate(clip, max_frames=4, refine="none", lift="dgnet")
    a = np.array([p["keypoints_3d"] for f in mine["frames"] for p in f["persons"]])
    b = np.array([p["keypoints_3d"] for f in shipped["frames"] for p in f["persons"]])
    assert a.shape == b.shape and np.isfinite(a).all() and not np.allclose(a, b)
    assert main(["run", str(clip), "--out", str(tmp_path / "o"), "--max-frames", "2", "--lifter", str(ckpt),
                 "--no-overlay", "--no-report", "--quiet"]) == 0  # --lift auto: dgnet-smooth, with this lifter
    run = json.loads((tmp_path / "o" / "run.json").read_text())
    assert run["config"]["lifter"] == str(ckpt) and {"stage": "lift", "choice": "dgnet-smooth"} in run["stages"]["ran"]
    assert main(["run", str(clip), "--out", str(tmp_path / "p"), "--lifter", str(ckpt), "--lift", "blazepose",
                 "--quiet"]) == 1
    assert "a lifter runs in --lift dgnet or dgnet-smooth" in capsys.readouterr().err
