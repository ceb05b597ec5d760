"""DKD (vidpose.methods.dkd): kernel matching, the distillator, the re-init policy, label-free training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vidpose.errors import InputError
from vidpose.methods import build, make_config
from vidpose.methods.dkd import KernelDistillator, match_kernels, needs_reinit


def test_kernel_matching_equals_an_explicit_correlation():
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(2, 3, 6, 5, generator=g)
    kernels = torch.randn(2, 4, 3, 3, 3, generator=g)
    out = match_kernels(feats, kernels)
    padded = F.pad(feats, (1, 1, 1, 1))
    ref = torch.zeros(2, 4, 6, 5)
    for b in range(2):  # each sample's own kernels, each joint, each position: a plain dot product
        for j in range(4):
            for y in range(6):
                for x in range(5):
                    ref[b, j, y, x] = (padded[b, :, y : y + 3, x : x + 3] * kernels[b, j]).sum()
    assert out.shape == (2, 4, 6, 5)
    assert torch.allclose(out, ref, atol=1e-5)
    with pytest.raises(InputError, match="do not fit"):
        match_kernels(feats, kernels[:, :, :2])


@pytest.mark.parametrize("attention", [True, False])
def test_distillator_kernels_depend_on_features_and_heatmaps(attention):
    torch.manual_seed(0)
    d = KernelDistillator(c=8, k=5, s=3, attention=attention)
    if attention:  # the conv path starts at zero; give it weights so both paths are exercised
        torch.nn.init.normal_(d.to_kernels.weight, std=0.1)
    f = torch.randn(1, 8, 16, 12)
    h = torch.zeros(1, 5, 16, 12)
    h[0, :, 8, 6] = 1.0
    h_moved = torch.zeros(1, 5, 16, 12)
    h_moved[0, :, 4, 4] = 1.0
    k = d(f, h)
    assert k.shape == (1, 5, 8, 3, 3)
    assert not torch.allclose(k, d(f, h_moved))  # heatmaps elsewhere -> other kernels
    assert not torch.allclose(k, d(f * 2.0 + 1.0, h))  # other features -> other kernels
    if attention:  # each joint's kernel starts as the feature patch under its heatmap's peak
        plain = KernelDistillator(c=8, k=5, s=3, attention=True)
        patch = F.pad(f, (1, 1, 1, 1))[0, :, 8:11, 6:9]
        assert torch.allclose(plain(f, h)[0, 2], patch, atol=1e-6)
    f.requires_grad_(True)
    h_moved.requires_grad_(True)
    d(f, h_moved).sum().backward()
    assert f.grad.abs().sum() > 0 and h_moved.grad.abs().sum() > 0


def test_reinit_policy_table():
    cfg = make_config("dkd", {"reinit_every": 4, "reinit_confidence": 0.5})
    assert not needs_reinit(1, 0.9, cfg)
    assert needs_reinit(4, 0.9, cfg)  # every N frames
    assert needs_reinit(1, 0.4, cfg)  # confidence dropped
    off = make_config("dkd", {"reinit_every": 0, "reinit_confidence": 0.0})
    assert not needs_reinit(1000, 0.0, off)


def _initialised(model, frames: torch.Tensor) -> list[bool]:
    state, flags = None, []
    for i in range(len(frames)):
        _, (state,) = model.track_step(frames[i : i + 1], [state])
        flags.append(state["initialised"])
    return flags


def test_reinit_policy_triggers_as_configured_when_tracking():
    frames = torch.randn(7, 3, 128, 96, generator=torch.Generator().manual_seed(1))
    every3 = build("dkd", reinit_every=3, reinit_confidence=0.0)
    assert _initialised(every3, frames) == [True, False, False, True, False, False, True]
    assert every3.counts["initializer"] == 3 and every3.counts["small"] == 7
    never = build("dkd", reinit_every=0, reinit_confidence=0.0)
    assert _initialised(never, frames) == [True] + [False] * 6  # first frame of the track only
    # peak scores are at most 1: a threshold above that re-initialises on every frame
    always = build("dkd", reinit_every=0, reinit_confidence=1.01)
    assert _initialised(always, frames) == [True] * 7


def test_training_losses_and_ablation_shapes():
    torch.manual_seed(0)
    clips = torch.randn(2, 5, 3, 128, 96)
    targets = {"heatmaps": torch.rand(2, 5, 17, 32, 24), "weights": torch.ones(2, 5, 17)}
    model = build("dkd")
    out = model(clips)
    assert out["sequence"].shape == (2, 5, 17, 32, 24)
    loss, parts = model.loss(out, targets)
    loss.backward()
    assert {"loss_heatmap", "loss_adversarial", "loss_discriminator"} <= set(parts)
    assert model.discriminator.net[0].weight.grad.abs().sum() > 0  # the discriminator learns too
    assert model.distill.to_kernels.weight.grad.abs().sum() > 0
    small = build("dkd", distillator=False, adversarial_weight=0.0)
    assert small.initializer is None and small.discriminator is None
    _, parts = small.loss(small(clips), targets)
    assert set(parts) == {"loss", "loss_heatmap"}
    # the initializer is frozen and not part of the checkpoint
    assert not any(k.startswith("initializer") for k in model.state_dict())


def test_the_location_prior_follows_the_tracks_crop():
    """A track's previous heatmaps are moved into the new crop: a joint stays at its image point."""
    from vidpose.geometry import apply_affine, crop_to_image_affine, invert_affine

    model = build("dkd", distillator=True)
    old = crop_to_image_affine(np.array([100.0, 100.0]), np.array([96.0, 128.0]), 0.0, (128, 96))
    new = crop_to_image_affine(np.array([110.0, 95.0]), np.array([72.0, 96.0]), 0.0, (128, 96))
    hm = torch.from_numpy(model.codec.encode(np.array([[40.0, 60.0, 1.0]] * 17, np.float32))["heatmaps"])
    moved = model._prior({"heatmaps": hm, "affine": old}, new)
    got = model.codec.decode({"heatmaps": moved[None].numpy()})[0, 0, :2]
    want = apply_affine(invert_affine(new), apply_affine(old, np.array([[40.0, 60.0]])))[0]
    assert np.allclose(got, want, atol=0.2)
    assert model._prior({"heatmaps": hm, "affine": old}, old) is hm  # same crop: unchanged


def test_config_errors_name_the_field():
    with pytest.raises(InputError, match="kernel_size"):
        make_config("dkd", {"kernel_size": 2})
    with pytest.raises(InputError, match="initializer"):
        build("dkd", input_size=(64, 64))  # the shipped simplebaseline takes 128x96


def test_teacher_objective_trains_on_unlabelled_videos_without_labels(tmp_path):
    """Clips of a folder of videos (no annotations read: only videos), a teacher's keypoints as targets."""
    from vidpose.data.synth.generate import generate_split
    from vidpose.training.config import config_from_dict
    from vidpose.training.trainer import train

    generate_split("synth-single", tmp_path / "render", "train", clips=1, frames=4, seed=3, video=True, renderer=2)
    generate_split("synth-single", tmp_path / "render", "val", clips=1, frames=4, seed=4, video=True, renderer=2)
    videos = tmp_path / "videos"
    for sub in ("train", "val"):
        (videos / sub).mkdir(parents=True)
        for v in (tmp_path / "render" / "synth-single" / sub).glob("*/video.mp4"):
            v.rename(videos / sub / f"{v.parent.name}.mp4")  # videos alone, no annotation file anywhere
    assert not list(videos.rglob("*.json"))
    cfg = config_from_dict({
        "model": {"method": "dkd", "adversarial_length": 2, "free_running": True},
        "data": {"dataset": "videos", "root": str(videos), "teacher": "simplebaseline", "clip_length": 3,
                 "max_samples": 4, "max_val_samples": 2},
        "optim": {"epochs": 1, "batch_size": 2},
        "run": {"out_dir": str(tmp_path / "run"), "threads": 1},
    })
    from vidpose.methods import get

    model = get("dkd").build(cfg.model)
    objective = get("dkd").objective(cfg, model)
    sample = objective.train_set()[0]
    assert set(sample) == {"images", "affine"}  # no keypoints, no targets: nothing labelled
    pose = objective.train_data.crops.dataset
    assert all(not (p.keypoints[:, 2] > 0).any() for f in pose.frames for p in f.persons)
    result = train(cfg, quiet=True)
    assert np.isfinite(result["train_loss"]) and 0.0 <= result["val_pck_teacher"] <= 1.0
    assert (tmp_path / "run" / "last.safetensors").is_file()


def test_blazepose_teacher_gives_coco17_in_crop_pixels(synth_root):
    """On rendered 128x96 person crops the teacher's points are COCO-17 in the student's crop pixels:
    near the labelled joints (x and y not exchanged, not in BlazePose's own 256-px crop)."""
    from vidpose import store
    from vidpose.data.loaders import DataConfig, load_dataset
    from vidpose.data.topdown import TopDownDataset
    from vidpose.errors import ModelStoreError
    from vidpose.methods.base import load_teacher

    try:
        store.path("blazepose-heavy", quiet=True)
    except ModelStoreError:
        pytest.skip("BlazePose heavy is not in the model store here (needs npm to fetch)")
    model = build("dkd", distillator=False, adversarial_weight=0.0)
    teacher = load_teacher("blazepose-heavy", model)
    assert teacher(torch.zeros(1, 3, 128, 96)).shape == (1, 17, 3)
    crops = TopDownDataset(load_dataset(DataConfig(root=str(synth_root)), "val"), (128, 96), None)
    batch = [crops[i] for i in range(0, len(crops), 2)]
    kp = teacher(torch.stack([b["image"] for b in batch]))
    gt = torch.stack([b["keypoints"] for b in batch])
    assert kp.shape == gt.shape and torch.isfinite(kp).all()
    lab = gt[..., 2] > 0
    err = (kp[..., :2] - gt[..., :2]).norm(dim=-1)[lab]
    assert err.median() < 6.0, err.median()  # px in the 128x96 crop
    assert ((kp[..., 0] >= -10) & (kp[..., 0] <= 106) & (kp[..., 1] >= -10) & (kp[..., 1] <= 138)).float().mean() > 0.95


def test_topdown_backend_keeps_each_tracks_kernels(synth_root):
    """vidpose run's top-down backend with the shipped dkd: the track's state (its kernels) goes from
    frame to frame; the initializer runs on the first frame only (re-init off)."""
    import cv2

    from vidpose.backends.blazepose import BlazePoseDetector
    from vidpose.backends.topdown import TopDown
    from vidpose.methods import load
    from vidpose.skeletons import COCO17

    model = load("dkd")
    model.cfg.reinit_every, model.cfg.reinit_confidence = 0, 0.0
    backend = TopDown(model, BlazePoseDetector(quiet=True), COCO17)
    assert backend.stateful
    frames = sorted((synth_root / "val").glob("*/frames/*.jpg"))[:4]
    for i, path in enumerate(frames):
        people = backend(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))
        assert len(people) == 1 and len(backend._states) == 1
        assert backend._states[0]["since"] == i + 1 and backend._states[0]["kernels"].shape[0] == 17
    assert model.counts == {"initializer": 1, "small": len(frames)}


def test_penn_action_halves_keep_their_clips_for_clip_training(tmp_path):
    """The train/test halves of Penn Action keep each clip's frame order (the clip objective needs it)."""
    import scipy.io

    from vidpose.data.loaders import DataConfig, load_dataset

    (tmp_path / "labels").mkdir()
    for name, t, train in (("0001", 3, 1), ("0002", 2, -1), ("0003", 4, 1)):
        x = np.arange(t * 13, dtype=float).reshape(t, 13) + 1
        scipy.io.savemat(tmp_path / "labels" / f"{name}.mat", {
            "action": "jump", "x": x, "y": x + 50, "visibility": np.ones((t, 13)), "train": np.array([[train]]),
            "bbox": np.tile([1.0, 2.0, 90.0, 150.0], (t, 1)), "nframes": np.array([[t]])})
    train = load_dataset(DataConfig(dataset="penn_action", root=str(tmp_path)), "train")
    assert train.sequences == {"0001": [0, 1, 2], "0003": [3, 4, 5, 6]}
    assert [f.index for f in train.frames] == [0, 1, 2, 0, 1, 2, 3]
    test = load_dataset(DataConfig(dataset="penn_action", root=str(tmp_path)), "test")
    assert test.sequences == {"0002": [0, 1]}
