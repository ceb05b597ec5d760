"""DG-Net and its baselines (gcn-fixed, tcn): shapes, window == dense sequence mode, short tracks,
config errors; the mocap sequence data (held-out clips never trained on, virtual cameras, detector-like
corruption seeded per sample) and one small training run that resumes bit-exact."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidpose.data.loaders import DataConfig, MOCAP_TEST_CLIPS, MOCAP_VAL_CLIPS, load_sequences, mocap_clips
from vidpose.errors import InputError
from vidpose.methods import build, get, load
from vidpose.objectives.sequences import LiftAugment, SequenceWindows
from vidpose.skeletons import H36M17

torch.set_num_threads(1)
LIFTERS = ("dgnet", "gcn-fixed", "tcn")


def varied(m):
    """``m`` with its output layer off the zero start (every joint at the root), so that the
    comparisons below compare real, varying poses rather than zeros with zeros."""
    last = m.head if hasattr(m, "head") else m.shrink
    torch.nn.init.normal_(last.weight, std=0.3)
    torch.nn.init.normal_(last.bias, std=0.3)
    return m


@pytest.mark.parametrize("name", LIFTERS)
def test_window_and_dense_sequence_mode_agree(name):
    torch.manual_seed(0)
    m = varied(build(name, receptive_field=9, channels=16).eval())
    assert m.method == name and get(name).config.method == name
    seq = torch.randn(20, 17, 3)
    with torch.no_grad():
        dense = m.lift(seq)
        assert dense.shape == (20, 17, 3)
        assert dense.std(0).max() > 0.1  # the pose varies over the frames: the checks below can fail
        # frame t of the dense pass == the window around t, ends padded by repeating the edge frames
        padded = torch.cat([seq[:1].expand(4, -1, -1), seq, seq[-1:].expand(4, -1, -1)])
        for t in (0, 3, 10, 19):
            assert torch.allclose(m(padded[None, t:t + 9])[0], dense[t], atol=1e-5)
        # chunked == one pass; several tracks of any length batched == one by one
        assert torch.allclose(m.lift(seq, chunk=7), dense, atol=1e-5)
        short = torch.randn(2, 17, 3)  # a track shorter than the receptive field
        many = m.lift_many([seq, short, seq[:5]])
        assert [tuple(y.shape) for y in many] == [(20, 17, 3), (2, 17, 3), (5, 17, 3)]
        assert torch.allclose(many[0], dense, atol=1e-5) and torch.allclose(many[1], m.lift(short), atol=1e-5)
        assert torch.allclose(m.lift(seq[:1]), m(seq[:1].expand(9, -1, -1)[None]), atol=1e-5)
        # 2-channel input (no confidences) means every joint trusted
        assert torch.allclose(m.lift(seq[..., :2]), m.lift(torch.cat([seq[..., :2], torch.ones(20, 17, 1)], -1)))


def test_dynamic_graphs_change_the_output_of_dgnet_only():
    """gcn-fixed has no DSG/DTG parameters; DG-Net has them and they act: changing the weights that
    make its dynamic spatial and temporal graphs changes its output."""
    torch.manual_seed(0)
    dg, fixed = varied(build("dgnet", receptive_field=9).eval()), build("gcn-fixed", receptive_field=9)
    keys_dg = set(dg.state_dict())
    keys_fixed = set(fixed.state_dict())
    dynamic = sorted(k for k in keys_dg - keys_fixed if "embed" in k)
    assert keys_fixed < keys_dg and any("embed.weight" in k and "temporal" in k for k in dynamic)
    assert any("embed" in k and "spatial" in k for k in dynamic)
    assert not any(("spatial." in k or "temporal." in k) and "embed" in k for k in keys_fixed)
    assert sum(p.numel() for p in fixed.parameters()) < sum(p.numel() for p in dg.parameters())
    x = torch.randn(1, 9, 17, 3)
    for part in ("spatial.", "temporal."):
        m = varied(build("dgnet", receptive_field=9).eval())
        m.load_state_dict(dg.state_dict())
        with torch.no_grad():
            before = m(x)
            for k, p in m.named_parameters():
                if k.startswith(part) and "embed" in k:
                    p.add_(torch.randn_like(p) * 0.5)
            assert (m(x) - before).abs().max() > 1e-3, part  # that graph acts on the output


def test_config_errors_name_the_field():
    with pytest.raises(InputError, match=r"receptive_field must be a power of 3 \(3, 9, 27, 81, 243\), got 10"):
        build("dgnet", receptive_field=10)
    with pytest.raises(InputError, match="num_joints must be 17"):
        build("tcn", num_joints=33)
    with pytest.raises(InputError, match="top_k must be an integer in \\[0, 17\\], got 30"):
        build("dgnet", top_k=30)
    with pytest.raises(InputError, match="tau_temporal must be in \\(0.0"):
        build("dgnet", tau_temporal=0.0)
    with pytest.raises(InputError, match="noise must be in \\[0, 1\\], got 2.0"):
        build("gcn-fixed", noise=2.0)
    m = build("dgnet", receptive_field=9, channels=8)
    with pytest.raises(InputError, match=r"keypoints_2d: expected \(B, T, 17, 3\) .* got \(1, 9, 33, 2\)"):
        m(torch.zeros(1, 9, 33, 2))
    with pytest.raises(InputError, match="windows of 5 frames, the model's receptive field is 9"):
        m(torch.zeros(1, 5, 17, 3))
    with pytest.raises(InputError, match="a sequence of 0 frames"):
        m.lift(torch.zeros(0, 17, 3))


# --- data ------------------------------------------------------------------------------------------

def test_mocap_held_out_clips_are_never_trained_on():
    train, val, test = mocap_clips("train"), mocap_clips("val"), mocap_clips("test")
    assert set(test) == set(MOCAP_TEST_CLIPS) and set(val) == set(MOCAP_VAL_CLIPS)
    assert not set(train) & (set(val) | set(test)) and not set(val) & set(test)
    assert not set(mocap_clips("trainval")) & set(test)
    cfg = DataConfig(dataset="mocap")
    seqs = load_sequences(cfg, "train")
    assert {s.subject for s in seqs} == set(train)
    # The data the training windows are built from never contains a held-out clip's motion.
    held = [s.joints_3d for s in load_sequences(cfg, "test") + load_sequences(cfg, "val")]
    for s in seqs:
        for h in held:
            n = min(len(s.joints_3d), len(h))
            assert not np.allclose(s.joints_3d[:n], h[:n])
    with pytest.raises(InputError, match="data subset 'S9' for mocap must be one of train, val, test, trainval"):
        load_sequences(cfg, "S9")


def test_mocap_windows_virtual_cameras_and_corruption_are_seeded_per_sample():
    seqs = load_sequences(DataConfig(dataset="mocap"), "train")[:2]
    aug = LiftAugment(noise=0.05, drop=0.2, swap=0.2)
    ds = SequenceWindows(seqs, 9, 17, "mocap/train", train=True, aug=aug, seed=5, in_channels=3)
    a, b = ds[10], ds[10]
    assert a["keypoints_2d"].shape == (9, 17, 3) and a["joints_3d"].shape == (17, 3)
    assert torch.equal(a["keypoints_2d"], b["keypoints_2d"]) and torch.equal(a["joints_3d"], b["joints_3d"])
    ds.set_epoch(1)
    c = ds[10]
    assert not torch.equal(a["keypoints_2d"], c["keypoints_2d"])  # another epoch, another camera
    # The target is the centre frame seen from the camera: a rotation of the world pose (bone lengths kept).
    s, t = ds.index[10]
    world = seqs[s].joints_3d[t]
    for sample in (a, c):
        y = sample["joints_3d"].numpy().astype(np.float64)
        assert np.allclose(y[0], 0.0)
        for i, j in H36M17.links:
            assert np.linalg.norm(y[i] - y[j]) == pytest.approx(np.linalg.norm(world[i] - world[j]), abs=1e-5)
    conf = a["keypoints_2d"][..., 2]
    assert ((conf >= 0) & (conf <= 1)).all() and (conf < 0.3).any()  # some joints dropped
    # Validation: fixed cameras (4 per clip), no corruption, confidences 1.
    val = SequenceWindows(load_sequences(DataConfig(dataset="mocap"), "val"), 9, 17, "mocap/val", in_channels=3)
    assert len(val.targets) == 4 * len(MOCAP_VAL_CLIPS)
    assert torch.equal(val[3]["keypoints_2d"], val[3]["keypoints_2d"]) and (val[3]["keypoints_2d"][..., 2] == 1).all()
    with pytest.raises(InputError, match="mocap/train: sequence backflip/original: extra\\['up'\\] must be a unit"):
        bad = [s for s in seqs]
        bad[0].extra = {"frame": "world", "up": (0, 0, 2.0)}
        SequenceWindows(bad, 9, 17, "mocap/train", train=True)


def test_a_small_dgnet_trains_on_mocap_and_resumes_bit_exact(tmp_path):
    from tests.training.test_objectives import _full_and_resumed

    cfg = tmp_path / "dg.toml"
    cfg.write_text("""
[model]
method = "dgnet"
receptive_field = 3
channels = 8
embed = 4
noise = 0.02
drop = 0.05
swap = 0.02
[data]
dataset = "mocap"
max_samples = 24
max_val_samples = 16
[optim]
epochs = 3
batch_size = 8
lr = 0.003
[run]
threads = 1
seed = 1
""", encoding="utf-8")
    metrics, out = _full_and_resumed(tmp_path, cfg)
    assert metrics["select"] == "val_mpjpe" and 0 < metrics["val_mpjpe"] < 2000
    model = load(out / "best.safetensors")
    assert model.method == "dgnet" and model.cfg.receptive_field == 3 and model.cfg.noise == 0.02
    assert model.lift(torch.zeros(4, 17, 3)).shape == (4, 17, 3)


def test_chunked_training_samples_equal_their_single_windows():
    """train_chunk = S: one sample holds S consecutive centre frames; the model's S predictions on it
    equal its predictions on the S single windows, and so do the targets."""
    from vidpose.data.annotations import Sequence3D

    rng = np.random.default_rng(0)
    seq = Sequence3D("s", "a", 0, rng.normal(size=(12, 17, 3)), rng.uniform(0, 100, (12, 17, 2)),
                     camera_params={"width": 100, "height": 80})
    one = SequenceWindows([seq], 3, 17, "toy", train=True, in_channels=3)
    chunked = SequenceWindows([seq], 3, 17, "toy", train=True, in_channels=3, chunk=5)
    assert len(chunked) == 3 and chunked.index == [(0, 0), (0, 5), (0, 10)]
    m = varied(build("dgnet", receptive_field=3, channels=8).eval())
    sample = chunked[1]
    assert sample["keypoints_2d"].shape == (7, 17, 3) and sample["joints_3d"].shape == (5, 17, 3)
    with torch.no_grad():
        pred = m(sample["keypoints_2d"][None])[0]
        assert pred.std(0).max() > 0.1  # real, varying predictions (not the zero start)
        for k in range(5):
            single = one[5 + k]
            assert torch.equal(single["joints_3d"], sample["joints_3d"][k])
            assert torch.allclose(m(single["keypoints_2d"][None])[0], pred[k], atol=1e-5)
    assert chunked[2]["joints_3d"].shape == (5, 17, 3)  # the last chunk repeats the last frame
    with pytest.raises(InputError, match="train_chunk must be a positive integer, got 0"):
        SequenceWindows([seq], 3, 17, "toy", train=True, chunk=0)
