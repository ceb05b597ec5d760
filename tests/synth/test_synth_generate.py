"""`vidpose synth`: determinism, computed visibility, held-out clips, flow, the reader."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from vidpose.cli import main as cli
from vidpose.data import mocap
from vidpose.data.synth import HELD_OUT, SPLITS, generate_split, read_synth, read_synth_3d
from vidpose.data.synth import body as bodymod
from vidpose.data.synth.render import Camera, PersonFrame, look_at, render_frame
from vidpose.errors import InputError
from vidpose.skeletons import COCO17


@pytest.fixture(scope="module")
def crowd(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("crowd")
    assert cli(["synth", "--split", "synth-crowd", "--clips", "1", "--seed", "7", "--renderer", "2", "--out", str(out)]) == 0
    return out


def _ann(root: Path, sub: str = "train") -> dict:
    return json.loads((root / "synth-crowd" / sub / f"{sub}_00000" / "annotations.json").read_text())


def test_crowd_is_byte_identical_run_to_run(crowd, tmp_path):
    assert cli(["synth", "--split", "synth-crowd", "--clips", "1", "--seed", "7", "--renderer", "2",
                "--out", str(tmp_path)]) == 0
    def files(root: Path) -> dict[str, bytes]:
        return {str(f.relative_to(root)): f.read_bytes() for f in sorted(root.rglob("*")) if f.is_file()}

    a, b = files(crowd / "synth-crowd"), files(tmp_path / "synth-crowd")
    assert len(a) > 3 * 40 and any(k.endswith(".jpg") for k in a)  # every frame of every subset
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []  # annotations and JPEG frames, byte for byte
    # a different seed gives a different clip: other people, other pixels
    assert cli(["synth", "--split", "synth-crowd", "--subset", "train", "--clips", "1", "--frames", "4",
                "--seed", "8", "--renderer", "2", "--out", str(tmp_path / "s8")]) == 0
    clip8 = tmp_path / "s8/synth-crowd/train/train_00000"
    other = json.loads((clip8 / "annotations.json").read_text())
    mine = _ann(crowd)
    kp = lambda ann: np.array([p["keypoints"] for p in ann["frames"][0]["persons"]])  # noqa: E731
    assert kp(other).shape != kp(mine).shape or not np.allclose(kp(other), kp(mine))
    first = other["video"]["frames"].format(0)
    assert (clip8 / first).read_bytes() != (crowd / "synth-crowd/train/train_00000" / first).read_bytes()


def test_crowd_annotations_follow_the_contract(crowd):
    a = _ann(crowd)
    cfg = SPLITS["synth-crowd"]
    assert a["format"] == "vidpose.synth/1" and a["split"] == "synth-crowd" and a["subset"] == "train"
    v = a["video"]
    assert (v["width"], v["height"], v["num_frames"]) == (cfg.width, cfg.height, cfg.frames)
    assert a["skeleton"]["keypoints"] == list(COCO17.keypoints)
    assert len(a["camera"]["extrinsics"]) == v["num_frames"] == len(a["frames"])
    K = np.array(a["camera"]["intrinsics"])
    clip = crowd / "synth-crowd/train/train_00000"
    n_people = len(a["motions"])
    assert 3 <= n_people <= 8
    for fr in a["frames"]:
        assert (clip / v["frames"].format(fr["index"])).is_file()
        ext = fr["index"]
        R = np.array(a["camera"]["extrinsics"][ext]["R"])
        assert np.allclose(R @ R.T, np.eye(3), atol=1e-5)
        for p in fr["persons"]:
            kp, k3 = np.array(p["keypoints"]), np.array(p["keypoints_3d"])
            assert kp.shape == (17, 3) and k3.shape == (17, 3)
            assert (kp[:, 2] > 0).any()  # listed persons are in view
            # 2D keypoints are the projections of the 3D ones
            front = k3[:, 2] > 0.1
            proj = (k3[front] @ K.T)[:, :2] / k3[front, 2:3]
            assert np.allclose(proj, kp[front, :2], atol=0.02)
            inside = (kp[:, 0] >= 0) & (kp[:, 0] < v["width"]) & (kp[:, 1] >= 0) & (kp[:, 1] < v["height"]) & front
            assert np.array_equal(kp[:, 2] > 0, inside)
            x1, y1, x2, y2 = p["bbox"]
            assert 0 <= x1 < x2 <= v["width"] and 0 <= y1 < y2 <= v["height"]
            assert p["area"] == pytest.approx((x2 - x1) * (y2 - y1), abs=0.05)
            assert p["occlusion"] == pytest.approx((kp[:, 2] == 1).mean(), abs=1e-4)
            assert np.array(p["h36m_3d"])[0] == pytest.approx((k3[11] + k3[12]) / 2, abs=2e-4)


def test_crowd_has_substantial_occlusion(crowd):
    inside = occluded = 0
    for sub in ("train", "val", "test"):
        for fr in _ann(crowd, sub)["frames"]:
            for p in fr["persons"]:
                v = np.array(p["keypoints"])[:, 2]
                inside += int((v > 0).sum())
                occluded += int((v == 1).sum())
    assert inside > 1000
    assert occluded / inside > 0.10


def test_read_synth_returns_dataset(crowd):
    ds = read_synth(crowd / "synth-crowd", "val")
    a = _ann(crowd, "val")
    assert len(ds) == a["video"]["num_frames"] and ds.fps == 30.0
    assert ds.skeleton == "coco17" and ds.sequences == {"val_00000": list(range(len(ds)))}
    f0 = ds.frames[0]
    assert f0.image.is_file() and f0.width == 640
    assert len(f0.persons) == len(a["frames"][0]["persons"])
    p = f0.persons[0]
    assert p.keypoints.shape == (17, 3) and p.keypoints_3d.shape == (17, 3) and p.bbox.shape == (4,)
    assert p.extra["h36m_2d"].shape == (17, 2) and p.extra["camera"].shape == (3, 3)
    seqs = read_synth_3d(crowd / "synth-crowd", "val")
    assert seqs and all(s.joints_3d.shape[1:] == (17, 3) and s.joints_2d.shape[0] == s.joints_3d.shape[0] for s in seqs)


def test_a_clip_folder_without_annotations_is_named_not_skipped(crowd, tmp_path):
    root = tmp_path / "synth-crowd"
    shutil.copytree(crowd / "synth-crowd" / "val", root / "val")
    (root / "val" / "val_00001").mkdir()  # an incomplete copy: frames, no annotations.json
    with pytest.raises(InputError, match=r"val_00001: clip folder has no annotations.json"):
        read_synth(root, "val")
    (root / "val" / "val_00001").rmdir()
    (root / "val" / ".val_00002.tmp").mkdir()  # the generator's hidden temp folders are not clips
    assert len(read_synth(root, "val")) == _ann(crowd, "val")["video"]["num_frames"]


def test_malformed_annotation_names_file_and_field(crowd, tmp_path):
    root = tmp_path / "bad"
    shutil.copytree(crowd / "synth-crowd" / "test", root / "test")
    f = root / "test/test_00000/annotations.json"
    a = json.loads(f.read_text())
    a["frames"][3]["persons"][0]["keypoints"] = [[1, 2, 2]] * 16
    f.write_text(json.dumps(a))
    with pytest.raises(InputError, match=r"annotations\.json.*frames\[3\]\.persons\[0\].*keypoints"):
        read_synth(root, "test")
    f.write_text("{not json")
    with pytest.raises(InputError, match="annotations.json"):
        read_synth(root, "test")
    with pytest.raises(InputError, match="subset"):
        read_synth(root, "everything")


def test_held_out_mocap_clips(tmp_path):
    assert not set(HELD_OUT["train"]) & set(HELD_OUT["test"])
    assert not set(HELD_OUT["train"]) & set(HELD_OUT["val"])
    assert set(HELD_OUT["train"]) | set(HELD_OUT["val"]) | set(HELD_OUT["test"]) == set(mocap.CLIP_NAMES)
    used = {}
    for sub in ("train", "test"):
        generate_split("synth-3d", tmp_path, subset=sub, clips=25, frames=3, seed=5)
        names = set()
        for c in (tmp_path / "synth-3d" / sub).iterdir():
            a = json.loads((c / "annotations.json").read_text())
            assert a["video"]["frames"] is None and not (c / "frames").exists()  # annotations only
            names |= set(a["motions"])
        used[sub] = {n for n in names if not n.startswith("procedural_")}
    assert used["train"] and used["test"]
    assert used["train"] <= set(HELD_OUT["train"])
    assert used["test"] <= set(HELD_OUT["test"])


def _standing_person(slot: int, cam: Camera, spot: np.ndarray, yaw: float = 0.0) -> PersonFrame:
    rng = np.random.default_rng(slot)
    body = bodymod.random_body(rng, mocap.load_rig())
    m = bodymod.procedural_motion("squat", 30.0, 1, rng)
    pts = bodymod.pose_person(m, body, yaw, np.r_[spot, 0.0], ground=True)[0]
    return PersonFrame(slot, body, cam.to_camera(pts, 0), None)


def test_visibility_is_computed_from_the_id_buffer():
    K = np.array([[300.0, 0, 160], [0, 300.0, 120], [0, 0, 1]])
    R, t = look_at(np.array([[6.0, 0, 1.0]]), np.array([[0.0, 0, 1.0]]))
    cam = Camera(K, R, t, 320, 240)
    bg = np.zeros((240, 320, 3), np.uint8)
    # yaw 0: the person faces +x, towards the camera at x = 6
    front = _standing_person(0, cam, np.array([2.0, 0.0]))
    back = _standing_person(1, cam, np.array([-0.5, 0.0]))
    alone = render_frame([back], cam, 0, bg)
    v_alone = alone.keypoints[1][:, 2]
    assert (v_alone == 2).mean() > 0.7  # facing the camera, nothing in front
    both = render_frame([front, back], cam, 0, bg)
    v_back, v_front = both.keypoints[1][:, 2], both.keypoints[0][:, 2]
    assert (v_front == 2).mean() > 0.7
    assert (v_back[v_alone == 2] == 1).mean() > 0.7  # hidden behind the nearer person
    # the same person seen from behind: its face is self-occluded
    assert (v_alone[:3] == 2).all()  # nose and eyes
    turned = _standing_person(1, cam, np.array([-0.5, 0.0]), np.pi)
    v_turned = render_frame([turned], cam, 0, bg).keypoints[1][:, 2]
    assert (v_turned[:3] == 1).all()
    # moved out of the image: v = 0
    gone = _standing_person(2, cam, np.array([0.0, 8.0]))
    assert (render_frame([gone], cam, 0, bg).keypoints[2][:, 2] == 0).all()


def test_flow_matches_keypoint_motion(tmp_path):
    generate_split("synth-single", tmp_path, subset="val", clips=1, frames=12, seed=3, flow=True, renderer=2)
    clip = tmp_path / "synth-single/val/val_00000"
    a = json.loads((clip / "annotations.json").read_text())
    assert a["video"]["flow"] == "flow/{:06d}.npy"
    errs = []
    for i in range(11):
        flow = np.load(clip / f"flow/{i:06d}.npy").astype(np.float32)
        assert flow.shape == (256, 256, 2) and np.isfinite(flow).all()
        p0, p1 = a["frames"][i]["persons"], a["frames"][i + 1]["persons"]
        if not p0 or not p1:
            continue
        k0, k1 = np.array(p0[0]["keypoints"]), np.array(p1[0]["keypoints"])
        for j in range(5, 17):  # body joints lie on part axes, where the flow is exact
            if k0[j, 2] == 2 and k1[j, 2] > 0:
                x, y = int(k0[j, 0]), int(k0[j, 1])
                errs.append(np.linalg.norm(flow[y, x] - (k1[j, :2] - k0[j, :2])))
    assert len(errs) > 20
    assert np.median(errs) < 0.5


def test_video_output_and_reader(tmp_path):
    import av

    generate_split("synth-single", tmp_path, subset="test", clips=1, frames=10, seed=2, video=True, renderer=2)
    clip = tmp_path / "synth-single/test/test_00000"
    assert not (clip / "frames").exists()
    with av.open(str(clip / "video.mp4")) as c:
        frames = [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
    assert len(frames) == 10 and frames[0].shape == (256, 256, 3)
    ds = read_synth(tmp_path / "synth-single", "test")
    assert ds.frames[3].image is None and ds.frames[3].video == clip / "video.mp4" and ds.frames[3].index == 3


def test_cli_bad_input_is_reported(tmp_path, capsys):
    assert cli(["synth", "--split", "synth-huge", "--out", str(tmp_path)]) == 1
    assert "--split" in capsys.readouterr().err
    assert cli(["synth", "--split", "synth-3d", "--video", "--out", str(tmp_path)]) == 1
    assert cli(["synth", "--split", "synth-single", "--clips", "0", "--out", str(tmp_path)]) == 1
    assert "--clips" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_bench_generation_rows():
    from vidpose.bench import synth as bench_synth

    res = bench_synth.run(quick=True, renderers=(2,), score=False, plan={"synth-single": (2, 32), "synth-crowd": (1, 24)})
    rows = {r["name"]: r for r in res["rows"]}
    assert list(rows) == ["renderer-2", "renderer-2@crowd"]
    for r in rows.values():
        assert r["frames_per_s"] > 0 and r["cpu_frames_per_s"] > 0 and r["frames"] > 0 and r["width"] > 0
        assert "llvmpipe" in r["threads"]
    assert rows["renderer-2@crowd"]["occluded"] > 0.1


def test_a_failed_replacement_keeps_the_old_clip_and_leaves_no_temp_folder(tmp_path, monkeypatch):
    from vidpose.data.synth import generate as gen

    generate_split("synth-single", tmp_path, "test", clips=1, frames=2, seed=0, renderer=2)
    clip = tmp_path / "synth-single" / "test" / "test_00000"
    before = (clip / "annotations.json").read_bytes()
    real = os.replace

    def failing(src, dst):
        if Path(src) == clip:  # moving the old clip aside fails (e.g. an immutable folder)
            raise PermissionError(1, "Operation not permitted", str(src), None, str(dst))
        return real(src, dst)

    monkeypatch.setattr(gen.os, "replace", failing)
    with pytest.raises(PermissionError):
        generate_split("synth-single", tmp_path, "test", clips=1, frames=3, seed=1, renderer=2)
    assert sorted(p.name for p in clip.parent.iterdir()) == ["test_00000"]  # no hidden .old / temp folder
    assert (clip / "annotations.json").read_bytes() == before
