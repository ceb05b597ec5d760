"""Lift-pairs files (a detector's 2D with 3D ground truth): written and read back, every malformed file
an error naming it, the loaders that mix them with synth-3d, the sequence objective using the
detector's scores as confidences without corrupting that 2D again, and a real file made by BlazePose
on a rendered clip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidpose.data.loaders import DataConfig, load_sequences
from vidpose.data.readers.lift_pairs import FORMAT, read_lift_pairs, write_lift_pairs
from vidpose.errors import InputError
from vidpose.objectives.sequences import LiftAugment, SequenceWindows, normalize_screen

torch.set_num_threads(1)


def _runs(seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for k, t in enumerate((7, 3)):
        j3 = rng.normal(0.0, 0.3, (t, 17, 3)) + [0.0, 0.0, 4.0]
        out.append({"clip": f"train_{k:05d}", "first_frame": 2 * k, "keypoints_2d": rng.uniform(0, 600, (t, 17, 2)),
                    "scores": rng.uniform(0.2, 1.0, (t, 17)), "joints_3d": j3, "width": 640, "height": 360, "fps": 30})
    return out


def test_written_runs_read_back_as_camera_frame_sequences_with_scores(tmp_path):
    runs = _runs()
    p = tmp_path / "pairs.npz"
    write_lift_pairs(p, runs, skeleton="h36m17", detector="test")
    assert [f.name for f in tmp_path.iterdir()] == ["pairs.npz"]  # no temp file left
    seqs = read_lift_pairs(p)
    assert [s.subject for s in seqs] == ["train_00000", "train_00001"]
    assert [s.action for s in seqs] == ["frames0-6", "frames2-4"]
    for s, r in zip(seqs, runs):
        assert "frame" not in s.extra  # camera-frame: the 2D and 3D of the rendered camera
        assert s.extra["skeleton"] == "h36m17" and s.extra["detector"] == "test"
        assert s.camera_params == {"width": 640.0, "height": 360.0} and s.fps == 30.0
        np.testing.assert_allclose(s.joints_3d, r["joints_3d"], atol=1e-5)
        np.testing.assert_allclose(s.joints_2d, r["keypoints_2d"], atol=1e-3)
        np.testing.assert_allclose(s.extra["scores"], r["scores"], atol=1e-6)


def _rewrite(src, dst, **change):
    with np.load(src) as z:
        a = {k: z[k] for k in z.files}
    for k, v in change.items():
        if v is None:
            del a[k]
        else:
            a[k] = v
    np.savez(dst, **a)
    return dst


@pytest.mark.parametrize("change, message", [
    ({"format": np.array("other/1")}, "format 'other/1', expected 'vidpose.lift_pairs/1'"),
    ({"scores": None}, "missing scores"),
    ({"run_length": np.array([7, 4])}, "run_length sums to 11 frames"),
    ({"run_size": np.array([[640.0, 0.0], [640.0, 360.0]])}, "run_size must be"),
    ({"scores": np.full((10, 17), 1.5, np.float32)}, "scores must be in \\[0, 1\\]"),
    ({"keypoints_2d": np.full((10, 17, 2), np.nan, np.float32)}, "keypoints_2d is not finite at frame 0"),
    ({"joints_3d": np.zeros((10, 16, 3), np.float32)}, "expected \\(N, J, 3\\), \\(N, J, 2\\), \\(N, J\\)"),
])
def test_malformed_files_are_errors_naming_the_file(tmp_path, change, message):
    good = tmp_path / "good.npz"
    write_lift_pairs(good, _runs(), skeleton="h36m17", detector="test")
    bad = _rewrite(good, tmp_path / "bad.npz", **change)
    with pytest.raises(InputError, match=f"{bad}: .*{message}"):
        read_lift_pairs(bad)


def test_unreadable_missing_and_inconsistent_inputs(tmp_path):
    trunc = tmp_path / "trunc.npz"
    write_lift_pairs(trunc, _runs(), skeleton="h36m17", detector="test")
    trunc.write_bytes(trunc.read_bytes()[:300])
    with pytest.raises(InputError, match="trunc.npz: not a readable .npz file"):
        read_lift_pairs(trunc)
    with pytest.raises(InputError, match="nope.npz: lift-pairs file not found"):
        read_lift_pairs(tmp_path / "nope.npz")
    runs = _runs()
    runs[1]["scores"] = runs[1]["scores"][:, :5]
    with pytest.raises(InputError, match="run 1 \\(train_00001\\).*do not agree"):
        write_lift_pairs(tmp_path / "x.npz", runs, skeleton="h36m17", detector="test")
    assert not (tmp_path / "x.npz").exists()
    with pytest.raises(InputError, match="no runs to write"):
        write_lift_pairs(tmp_path / "x.npz", [], skeleton="h36m17", detector="test")


def test_the_detectors_2d_and_scores_reach_the_lifter_uncorrupted(tmp_path):
    p = tmp_path / "pairs_train.npz"
    runs = _runs()
    write_lift_pairs(p, runs, skeleton="h36m17", detector="test")
    seqs = load_sequences(DataConfig(dataset="lift-pairs", ann_file=str(tmp_path / "pairs_{subset}.npz")), "train")
    aug = LiftAugment(noise=0.1, drop=0.5, swap=0.5)  # would corrupt synthetic 2D heavily
    ds = SequenceWindows(seqs, 5, 17, "pairs", train=True, aug=aug, in_channels=3, chunk=3)
    for i, (s, t) in enumerate(ds.index):
        x = ds[i]["keypoints_2d"].numpy()
        idx = np.clip(np.arange(t - 2, t + 3 + 2), 0, len(runs[s]["joints_3d"]) - 1)
        want = normalize_screen(runs[s]["keypoints_2d"][idx], 640.0, 360.0)
        np.testing.assert_allclose(x[..., :2], want, atol=1e-3)
        np.testing.assert_allclose(x[..., 2], runs[s]["scores"][idx], atol=1e-6)
        y = ds[i]["joints_3d"].numpy()
        j3 = runs[s]["joints_3d"][idx[2:2 + 3]]
        np.testing.assert_allclose(y, j3 - j3[:, :1], atol=1e-5)
    ev = SequenceWindows(seqs, 5, 17, "pairs", aug=aug, in_channels=3)  # validation: the same, once
    np.testing.assert_allclose(ev.inputs[0][..., 2], runs[0]["scores"], atol=1e-6)
    # The scores are part of the data's identity (a checkpoint records it).
    runs[0]["scores"] = runs[0]["scores"] * 0.5
    write_lift_pairs(p, runs, skeleton="h36m17", detector="test")
    ds2 = SequenceWindows(load_sequences(DataConfig(dataset="lift-pairs", ann_file=str(p)), "train"), 5, 17, "pairs",
                          train=True, in_channels=3)
    assert ds2.identity() != ds.identity()


def test_scores_of_the_wrong_shape_are_an_error(tmp_path):
    seqs = read_lift_pairs(_write(tmp_path))
    seqs[0].extra["scores"] = seqs[0].extra["scores"][:, :3]
    with pytest.raises(InputError, match="pairs: sequence train_00000/frames0-6: scores \\(7, 3\\) must be finite"):
        SequenceWindows(seqs, 5, 17, "pairs", train=True, in_channels=3)


def _write(tmp_path):
    p = tmp_path / "pairs.npz"
    write_lift_pairs(p, _runs(), skeleton="h36m17", detector="test")
    return p


def test_synth_3d_and_lift_pairs_train_together(tmp_path):
    from vidpose.data.synth import generate_split

    for sub in ("train", "val"):
        generate_split("synth-3d", tmp_path, sub, clips=2, frames=10, seed=0)
    write_lift_pairs(tmp_path / "synth-3d" / "pairs_train.npz", _runs(), skeleton="h36m17", detector="test")
    cfg = DataConfig(dataset="synth-3d+lift-pairs", root=str(tmp_path / "synth-3d"), ann_file="pairs_{subset}.npz")
    seqs = load_sequences(cfg, "train")
    world = [s for s in seqs if s.extra.get("frame") == "world"]
    pairs = [s for s in seqs if "scores" in s.extra]
    assert world and len(pairs) == 2 and len(world) + len(pairs) == len(seqs)
    ds = SequenceWindows(seqs, 5, 17, "mix", train=True, aug=LiftAugment(0.03, 0.1, 0.03), in_channels=3)
    assert len(ds) == sum(len(s.joints_3d) for s in seqs)
    kinds = {"scores" in seqs[s].extra: ds[i]["keypoints_2d"].shape for i, (s, _) in enumerate(ds.index)}
    assert kinds == {True: (5, 17, 3), False: (5, 17, 3)}
    with pytest.raises(InputError, match="pairs_val.npz: lift-pairs file not found"):
        load_sequences(cfg, "val")


@pytest.mark.slow  # renders one clip and runs BlazePose on it
def test_make_lift_pairs_from_a_rendered_clip(tmp_path):
    from vidpose.bench.dgnet import make_lift_pairs
    from vidpose.data.synth import generate_split
    from vidpose.io.jsonfile import read_json

    generate_split("synth-single", tmp_path, "train", clips=1, frames=12, seed=0)
    root = tmp_path / "synth-single"
    out = tmp_path / "pairs.npz"
    info = make_lift_pairs(root, "train", out)
    assert info["clips"] == 1 and info["frames"] + info["frames_not_matched"] >= 6
    seqs = read_lift_pairs(out)
    assert sum(len(s.joints_3d) for s in seqs) == info["frames"] > 0
    ann = read_json(root / "train" / "train_00000" / "annotations.json")
    gt = {f["index"]: f["persons"][0] for f in ann["frames"] if f["persons"]}
    for s in seqs:
        first = s.extra["first_frame"]
        for k in range(len(s.joints_3d)):
            g = gt[first + k]
            np.testing.assert_allclose(s.joints_3d[k], g["h36m_3d"], atol=1e-4)
            h = np.ptp(np.asarray(g["h36m_2d"])[:, 1])
            assert np.median(np.linalg.norm(s.joints_2d[k] - g["h36m_2d"], axis=-1)) < 0.3 * h  # BlazePose found them
        assert ((s.extra["scores"] >= 0) & (s.extra["scores"] <= 1)).all()
    with pytest.raises(InputError, match="no clips"):
        make_lift_pairs(root, "val", tmp_path / "v.npz")
