"""The lifters' training data and input: mocap + synth-3d (world frame, random virtual cameras,
held-out motions never trained on), virtual cameras that keep the person in view, and the
per-person 2D normalisation (invariant to where and how large the person is; dense == windowed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidpose.data.loaders import DataConfig, MOCAP_TEST_CLIPS, MOCAP_VAL_CLIPS, load_sequences, mocap_clips
from vidpose.errors import InputError
from vidpose.methods import build
from vidpose.objectives.sequences import MIN_DEPTH, LiftAugment, SequenceWindows, project, random_camera

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def synth3d(tmp_path_factory):
    from vidpose.data.synth import generate_split

    out = tmp_path_factory.mktemp("s3d")
    for sub, n in (("train", 4), ("val", 1), ("test", 1)):
        generate_split("synth-3d", out, sub, clips=n, frames=12, seed=0)
    return out / "synth-3d"


def test_held_out_motions_agree_with_the_generator_and_never_reach_training(synth3d):
    from vidpose.data.synth import HELD_OUT, read_synth_3d

    assert set(MOCAP_TEST_CLIPS) == set(HELD_OUT["test"]) and set(MOCAP_VAL_CLIPS) == set(HELD_OUT["val"])
    cfg = DataConfig(dataset="mocap+synth-3d", root=str(synth3d))
    train = load_sequences(cfg, "train")
    held = set(MOCAP_TEST_CLIPS) | set(MOCAP_VAL_CLIPS)
    mocap = [s for s in train if not s.extra.get("motions")]
    synth = [s for s in train if s.extra.get("motions")]
    assert {s.subject for s in mocap} == set(mocap_clips("train")) and synth
    assert not {m for s in synth for m in s.extra["motions"]} & held
    assert not {s.subject for s in load_sequences(cfg, "val") if s.extra.get("motions")} & {s.subject for s in synth}
    # synth-3d comes back in the world frame (z up, on the ground): the rendered camera undone exactly.
    cam = read_synth_3d(synth3d, "train")
    for s, c in zip(synth, cam):
        assert s.extra["frame"] == "world" and s.extra["up"] == (0.0, 0.0, 1.0)
        cp = c.camera_params
        back = np.einsum("tab,tjb->tja", cp["R"], s.joints_3d) + cp["t"][:, None, :]
        assert np.allclose(back, c.joints_3d, atol=2e-3)  # the file's extrinsics are rounded
        assert -0.2 < s.joints_3d[..., 2].min() < 0.3 and s.joints_3d[:, 10, 2].mean() > 1.0  # feet down, head up
    # ... so training sees it through a new random camera every epoch, like the mocap.
    ds = SequenceWindows(train, 9, 17, "mix", train=True, aug=LiftAugment(0.02, 0.05, 0.02), in_channels=3)
    k = next(i for i, (s, _) in enumerate(ds.index) if train[s].extra.get("motions"))
    a = ds[k]["keypoints_2d"]
    ds.set_epoch(3)
    assert not torch.equal(a, ds[k]["keypoints_2d"])
    with pytest.raises(InputError, match="subset 'trainval' for mocap\\+synth-3d must be train, val or test"):
        load_sequences(cfg, "trainval")


def test_virtual_cameras_keep_a_travelling_person_in_view():
    """The run clip travels 28 m: a static camera would lose the runner (or have them pass behind it);
    such a camera follows the person instead, in training and in the fixed evaluation cameras."""
    run = next(s for s in load_sequences(DataConfig(dataset="mocap"), "train") if s.subject == "run")
    root = run.joints_3d[:, 0]
    assert np.ptp(root[:, 0]) > 20
    for seed in range(20):
        cam = random_camera(np.random.default_rng(seed), root, len(root) // 2, np.array([0.0, 0.0, 1.0]))
        xc, px = project(run.joints_3d, cam)
        assert (xc[:, 0, 2] >= MIN_DEPTH - 1e-9).all()
        assert (np.abs(px[:, 0] - [cam["width"] / 2, cam["height"] / 2]) <= [cam["width"] / 2, cam["height"] / 2]).all()
    ds = SequenceWindows([run], 9, 17, "run", in_channels=2)  # 4 fixed evaluation cameras
    assert all(np.abs(x).max() < 3 for x in ds.inputs)


def test_person_normalised_input_ignores_where_and_how_large_the_person_is():
    torch.manual_seed(0)
    for name in ("dgnet", "tcn"):
        m = build(name, receptive_field=9, channels=8, input_norm="person").eval()
        last = m.head if name == "dgnet" else m.shrink  # off the zero start: varying poses to compare
        torch.nn.init.normal_(last.weight, std=0.3)
        seq = torch.randn(12, 17, 3) * torch.tensor([0.2, 0.2, 0.0]) + torch.tensor([0.0, 0.0, 0.8])
        moved = seq.clone()
        moved[..., :2] = seq[..., :2] * 0.3 + torch.tensor([0.5, -0.2])
        dense = m.lift(seq)
        assert dense.std(0).max() > 0.1
        assert torch.allclose(m.lift(moved), dense, atol=1e-4)
        padded = torch.cat([seq[:1].expand(4, -1, -1), seq, seq[-1:].expand(4, -1, -1)])
        assert torch.allclose(m(padded[None, 5:14])[0], dense[5], atol=1e-5)  # dense == windowed
        unseen = seq.clone()
        unseen[:, 3, 2] = 0.0  # a joint with no confidence ...
        low = unseen.clone()
        low[:, 3, :2] += 1.0  # ... thrown off by 5 body sizes barely moves the others' normalised positions
        x = m.normalize(m.check_input(low[None]))[0]
        ref = m.normalize(m.check_input(unseen[None]))[0]
        assert (x[:, [0, 1, 2, 4], :2] - ref[:, [0, 1, 2, 4], :2]).abs().max() < 0.05
    assert torch.equal(build("tcn", receptive_field=9, channels=8).normalize(moved[None]), moved[None])  # "screen"
    with pytest.raises(InputError, match="input_norm must be one of screen, person, got 'box'"):
        build("dgnet", input_norm="box")


def test_motion_augmentation_tilts_the_body_and_changes_its_speed_only_when_asked():
    """``tilt`` rotates a training window's body about its root (bone lengths and the root path kept);
    ``speed`` plays the window faster or slower (the centre frame stays); without them the window is
    exactly the sequence's frames, and a config without the fields trains as before."""
    from vidpose.objectives.sequences import MAX_SPEED_LOG, MAX_TILT_DEG, move_window, root_of

    walk = next(s for s in load_sequences(DataConfig(dataset="mocap"), "train") if s.subject == "walk")
    j3 = np.asarray(walk.joints_3d, np.float64)
    up = np.array([0.0, 0.0, 1.0])
    t, half, chunk = 100, 4, 3
    plain = move_window(np.random.default_rng(0), j3, t, half, chunk, up, (0,), LiftAugment())
    assert np.array_equal(plain, j3[t - half:t + chunk + half])
    bones = [(0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (5, 6), (0, 7), (7, 8), (8, 9), (9, 10)]

    def lengths(w):
        return np.stack([np.linalg.norm(w[:, a] - w[:, b], axis=-1) for a, b in bones], -1)

    angles = []
    for seed in range(30):
        w = move_window(np.random.default_rng(seed), j3, t, half, chunk, up, (0,), LiftAugment(tilt=1.0))
        assert np.allclose(lengths(w), lengths(plain))
        assert np.allclose(root_of(w, (0,)), root_of(plain, (0,)))
        spine, spine0 = w[:, 8] - w[:, 0], plain[:, 8] - plain[:, 0]  # pelvis -> thorax
        cos = (spine * spine0).sum(-1) / np.linalg.norm(spine, axis=-1) / np.linalg.norm(spine0, axis=-1)
        angles.append(np.degrees(np.arccos(np.clip(cos, -1, 1))).max())
    assert max(angles) > 60 and max(angles) <= MAX_TILT_DEG + 1e-6  # lying poses come out of upright ones
    fast = move_window(np.random.default_rng(1), j3, t, half, chunk, up, (0,), LiftAugment(speed=MAX_SPEED_LOG))
    slow_or_fast = [move_window(np.random.default_rng(s), j3, t, half, chunk, up, (0,), LiftAugment(speed=1.0))
                    for s in range(10)]
    assert all(np.allclose(w[half], j3[t]) for w in slow_or_fast + [fast])  # the first centre frame stays
    span = [np.linalg.norm(w[-1, 0] - w[0, 0]) for w in slow_or_fast]
    normal = np.linalg.norm(plain[-1, 0] - plain[0, 0])
    assert min(span) < 0.8 * normal < 1.25 * normal < max(span)
    for bad_cfg in ({"tilt": 1.5}, {"speed": MAX_SPEED_LOG + 0.1}, {"speed": True}):
        with pytest.raises(InputError, match="must be in"):
            LiftAugment(**bad_cfg).check()
    # In a dataset: only asked-for augmentation draws from the sample's random stream.
    ds0 = SequenceWindows([walk], 9, 17, "walk", train=True, in_channels=2)
    ds1 = SequenceWindows([walk], 9, 17, "walk", train=True, in_channels=2, aug=LiftAugment(tilt=1.0, speed=0.5))
    x0, x1 = ds0[50]["keypoints_2d"], ds1[50]["keypoints_2d"]
    assert x0.shape == x1.shape and not torch.equal(x0, x1)
    assert torch.equal(ds0[50]["keypoints_2d"], x0)  # deterministic
    cfg = build("dgnet", receptive_field=9, channels=8, tilt=0.3, speed=0.5).cfg
    from vidpose.objectives.sequences import model_augment
    assert model_augment(cfg) == LiftAugment(tilt=0.3, speed=0.5)


def test_temporally_correlated_noise_only_when_asked():
    """``noise_time`` smooths the 2D noise along time (a detector's errors persist over frames): the
    same std, the correlation between frames ``lag`` apart close to exp(-lag^2 / (4 s^2)); at 0 the
    noise is drawn exactly as before (independent per frame), and 0 leaves the config hash alone."""
    from vidpose.objectives.sequences import MAX_NOISE_TIME, correlated_noise, corrupt, model_augment
    from vidpose.training.config import HASH_NEUTRAL_DEFAULTS

    x = correlated_noise(np.random.default_rng(0), (20000, 2, 2), 2.0, 2.5)
    assert x.std() == pytest.approx(2.0, rel=0.03)
    for lag in (1, 4, 8):
        r = (x[lag:] * x[:-lag]).mean() / x.var()
        assert r == pytest.approx(np.exp(-lag ** 2 / (4 * 2.5 ** 2)), abs=0.03)
    white = correlated_noise(np.random.default_rng(0), (20000, 2, 2), 2.0, 0.0)
    assert np.array_equal(white, np.random.default_rng(0).normal(0.0, 2.0, (20000, 2, 2)))
    assert abs((white[1:] * white[:-1]).mean() / white.var()) < 0.03
    px = np.random.default_rng(1).uniform(0, 500, (30, 17, 2))
    perm, pairs = np.arange(17), ((1, 4),)
    a, _ = corrupt(np.random.default_rng(2), px, LiftAugment(noise=0.05), perm, pairs)
    b, _ = corrupt(np.random.default_rng(2), px, LiftAugment(noise=0.05, noise_time=3.0), perm, pairs)
    da, db = np.diff(a - px, axis=0), np.diff(b - px, axis=0)
    assert np.abs(db).mean() < 0.5 * np.abs(da).mean()  # smooth over time: small frame-to-frame changes
    for bad_value in (-1.0, MAX_NOISE_TIME + 1, True):
        with pytest.raises(InputError, match="noise_time must be in"):
            LiftAugment(noise_time=bad_value).check()
    cfg = build("dgnet", receptive_field=9, channels=8, noise=0.03, noise_time=2.5).cfg
    assert model_augment(cfg) == LiftAugment(noise=0.03, noise_time=2.5)
    assert HASH_NEUTRAL_DEFAULTS[("model", "noise_time")] == 0.0


def test_gross_errors_move_a_few_joints_far_for_a_few_frames_only_when_asked():
    """``outlier`` throws joints 10-40 % of the person's height away for 1-8 frames, with confidences
    that stay in [0.4, 1] (a detector is not always unsure when it is wrong); without it nothing is
    drawn and the other corruptions come out exactly as before."""
    from vidpose.objectives.sequences import OUTLIER_FRAMES, OUTLIER_SIZE, corrupt

    px = np.zeros((200, 17, 2))
    px[:, :, 1] = np.linspace(0, 100, 17)  # a person 100 px tall
    perm, pairs = np.arange(17), ((1, 4),)
    out, conf = corrupt(np.random.default_rng(3), px, LiftAugment(outlier=1.0), perm, pairs)
    moved = np.linalg.norm(out - px, axis=-1) > 1e-9
    d = np.linalg.norm(out - px, axis=-1)[moved]
    assert 0.002 < moved.mean() < 0.6  # at most about 9/16 of the joint-frames (rate 1: 1/8 start, 4.5 frames long)
    assert d.min() >= 0 and np.percentile(d, 10) >= OUTLIER_SIZE[0] * 100 * 0.5
    assert d.max() <= 2 * OUTLIER_SIZE[1] * 100 + 1e-6  # two overlapping errors at most add up
    assert (conf[moved] >= 0.4).all() and (conf[~moved] == 1.0).all()
    sparse, _ = corrupt(np.random.default_rng(5), px, LiftAugment(outlier=0.1), perm, pairs)  # errors rarely overlap
    m = np.linalg.norm(sparse - px, axis=-1) > 1e-9
    runs = np.concatenate([np.diff(np.flatnonzero(np.diff(np.r_[0, m[:, k].astype(np.int8), 0])))[::2] for k in range(17)])
    assert len(runs) >= 3 and runs.max() <= OUTLIER_FRAMES
    a = corrupt(np.random.default_rng(4), px, LiftAugment(noise=0.03, drop=0.1, swap=0.03), perm, pairs)
    b = corrupt(np.random.default_rng(4), px, LiftAugment(noise=0.03, drop=0.1, swap=0.03, outlier=0.0), perm, pairs)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    with pytest.raises(InputError, match="outlier must be in"):
        LiftAugment(outlier=1.5).check()
