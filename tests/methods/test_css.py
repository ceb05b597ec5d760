"""Disentangled contrastive self-supervision (vidpose.methods.css): the loss terms, the ablation
switches, what the split latent learns on a toy set, and the probe's label fractions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vidpose.methods import make_config
from vidpose.methods.css import CSSModel, ProbeModel
from vidpose.objectives.unlabelled import gradual_ranking, info_nce

SIZE = 16


def toy_clips(n: int, t: int, rng: np.random.Generator) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """``n`` clips of ``t`` frames (SIZE x SIZE): a per-clip background colour (the appearance) and a
    bright 4x4 square sliding along a per-clip path (the pose). -> clips (n, t, 3, S, S), colours
    (n, 3), square positions (n, t, 2) (row, column of its top-left corner)."""
    colours = rng.uniform(-1.0, 1.0, (n, 3))
    start = rng.integers(0, SIZE - 4, (n, 2))
    step = rng.choice([-1, 1], (n, 2))
    x = np.broadcast_to(colours[:, None, :, None, None], (n, t, 3, SIZE, SIZE)).copy()
    pos = np.zeros((n, t, 2), int)
    for i in range(n):
        for k in range(t):
            r, c = np.abs((start[i] + step[i] * k + (SIZE - 4)) % (2 * (SIZE - 4)) - (SIZE - 4))  # bounce
            pos[i, k] = (r, c)
            x[i, k, :, r:r + 4, c:c + 4] = 2.5
    return torch.from_numpy(x.astype(np.float32)), colours, pos


def toy_cfg(**kw):
    base = dict(input_size=(SIZE, SIZE), channels=8, pose_dim=8, appearance_dim=8, frame_stride=1,
                positive_window=1, temperature=0.2)
    return make_config("css", {**base, **kw})


@pytest.fixture(scope="module")
def trained():
    """A css model trained briefly on toy clips, with each term's loss at the start and the end."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = CSSModel(toy_cfg())
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    times = torch.arange(6).expand(12, 6)
    history = []
    for _ in range(120):
        clips, _, _ = toy_clips(12, 6, rng)
        loss, log = model.loss(model(clips), times)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(log)
    return model.eval(), history


def test_info_nce_equals_hand_computed_value():
    # two clips of two frames; positives: the other frame of the same clip (|dt| = 1 <= window)
    z = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [-1.0, 0.0]]])
    times = torch.tensor([[0, 1], [0, 1]])
    # cosine similarities (already unit vectors), rows = anchors, tau = 1
    s = np.array([[1, 0, 1, -1], [0, 1, 0, 0], [1, 0, 1, -1], [-1, 0, -1, 1]], float)
    pos = {0: 1, 1: 0, 2: 3, 3: 2}
    expected = np.mean([-(s[i, p] - math.log(sum(math.exp(s[i, j]) for j in range(4) if j != i)))
                        for i, p in pos.items()])
    assert float(info_nce(z, times, window=1, temperature=1.0)) == pytest.approx(expected, abs=1e-6)
    # a wider window changes nothing here; no positive at all gives zero
    assert float(info_nce(z, times, window=0, temperature=1.0)) == 0.0


def test_gradual_ranking_is_zero_only_when_similarity_falls_with_distance():
    times = torch.arange(3)[None]
    falling = torch.tensor([[[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]]])  # s(0,1)=0.8 > s(0,2)=0
    rising = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [0.8, 0.6]]])  # frame 2 closer to frame 0 than frame 1
    assert float(gradual_ranking(falling, times, margin=0.0)) == 0.0
    assert float(gradual_ranking(rising, times, margin=0.0)) > 0.1
    assert float(gradual_ranking(falling, times, margin=2.0)) > 0.0  # the margin asks for a larger drop


@pytest.mark.parametrize("switch, absent", [
    ({}, set()),
    ({"reconstruction": False}, {"reconstruction"}),
    ({"gradual": False}, {"gradual"}),
    ({"contrast_on": "none", "gradual": False}, {"contrastive", "gradual"}),
])
def test_each_ablation_switch_removes_its_term(switch, absent):
    torch.manual_seed(0)
    model = CSSModel(toy_cfg(**switch))
    clips, _, _ = toy_clips(3, 4, np.random.default_rng(1))
    times = torch.arange(4).expand(3, 4)
    out = model(clips)
    total, log = model.loss(out, times)
    terms = {"contrastive", "reconstruction", "gradual"}
    assert set(log) == {"loss"} | (terms - absent)
    assert (model.decoder is None) == ("reconstruction" in absent) and (out["recon"] is None) == ("reconstruction" in absent)
    c = model.cfg
    assert float(total.detach()) == pytest.approx(sum(w * log[k] for k, w in (("contrastive", c.w_contrastive),
                                                                       ("reconstruction", c.w_reconstruction),
                                                                       ("gradual", c.w_gradual)) if k in log), rel=1e-5)


def test_contrast_on_selects_the_latent():
    torch.manual_seed(0)
    clips, _, _ = toy_clips(3, 4, np.random.default_rng(2))
    times = torch.arange(4).expand(3, 4)
    for on in ("pose", "full"):
        model = CSSModel(toy_cfg(contrast_on=on, reconstruction=False, gradual=False))
        z = model(clips)["z"]
        part = z[..., :8] if on == "pose" else z
        assert model.loss({"z": z}, times)[1]["contrastive"] == pytest.approx(float(info_nce(part.detach(), times, 1, 0.2)))


def test_swap_appearance_switch_picks_the_partner_frame():
    on, off = CSSModel(toy_cfg()).eval(), CSSModel(toy_cfg(swap_appearance=False)).eval()
    assert torch.equal(off.appearance_partner(2, 4, "cpu"), torch.arange(4).expand(2, 4))
    assert torch.equal(on.appearance_partner(2, 4, "cpu"), torch.tensor([[2, 3, 0, 1]] * 2))


def test_every_loss_decreases_on_a_tiny_run(trained):
    _, history = trained
    for key in ("contrastive", "reconstruction", "gradual", "loss"):
        first = np.mean([h[key] for h in history[:20]])
        last = np.mean([h[key] for h in history[-20:]])
        assert last < first, (key, first, last)


def test_invariant_part_is_closer_within_a_clip_than_across_clips(trained):
    model, _ = trained
    clips, _, _ = toy_clips(12, 6, np.random.default_rng(7))  # held-out toy clips
    with torch.no_grad():
        _, app = model.split(model(clips)["z"])  # (12, 6, D)
    d = torch.cdist(app.flatten(0, 1), app.flatten(0, 1))
    same = torch.arange(12).repeat_interleave(6)
    within = d[(same[:, None] == same[None]) & ~torch.eye(72, dtype=torch.bool)].mean()
    across = d[same[:, None] != same[None]].mean()
    assert within < 0.5 * across, (float(within), float(across))


def test_swapping_the_invariant_part_keeps_the_pose_and_carries_the_clip(trained):
    model, _ = trained
    clips, _, pos = toy_clips(12, 6, np.random.default_rng(11))  # held-out toy clips
    with torch.no_grad():
        pose, app = model.split(model(clips)["z"])
        own = model.decode(pose[:, 0], app[:, 0])  # clip i's frame 0 with its own invariant part
        within = model.decode(pose[:, 0], app[:, 3])  # ... with frame 3's (same clip)
        across = model.decode(pose[:, 0], app.roll(1, 0)[:, 0])  # ... with clip i-1's
    # the invariant part holds what a clip's frames share: swapping it inside a clip changes
    # the reconstruction far less than bringing in another clip's
    assert (within - own).abs().mean() < 0.4 * (across - own).abs().mean()
    for recon in (own, within, across):  # the square (the pose) stays where clip i has it
        contrast = []
        for i in range(12):
            r, c = pos[i, 0]
            outside = torch.ones(SIZE, SIZE, dtype=torch.bool)
            outside[r:r + 4, c:c + 4] = False
            contrast.append(float(recon[i][:, r:r + 4, c:c + 4].mean() - recon[i][:, outside].mean()))
        assert np.mean(contrast) > 0.3 and min(contrast) > 0.0, contrast


def test_probe_honours_label_fractions(synth_root, tmp_path):
    from vidpose.methods import get
    from vidpose.objectives.probe import label_subset
    from vidpose.training.config import load_config

    for frac, n in ((0.01, 1000), (0.05, 1000), (0.1, 1000), (1.0, 1000), (0.01, 30)):
        idx = label_subset(n, frac, seed=0)
        assert len(idx) == max(1, round(frac * n)) and len(set(idx.tolist())) == len(idx)
    assert not np.array_equal(label_subset(1000, 0.01, 0), label_subset(1000, 0.01, 1))
    cfg = load_config(None, ["model.method=css-probe", f"data.root={synth_root}", "model.label_fraction=0.25",
                             "model.epoch_samples=40"])
    model = get("css-probe").build(cfg.model)
    obj = get("css-probe").objective(cfg, model)
    train = obj.train_set()
    assert len(train.crops) == 16 and len(train.indices) == 4 and len(train) == 40  # 2 clips x 8 frames
    sample = train[0]
    assert sample["images"].shape == (3, 64, 64) and sample["joints_3d"].shape == (17, 3)
    assert float(sample["joints_3d"][[11, 12]].mean(0).abs().max()) < 1e-6  # root-relative
    assert len(obj.val_set()) == 8  # validation scores every crop


def test_frozen_probe_changes_only_its_head():
    torch.manual_seed(0)
    cfg = make_config("css-probe", dict(input_size=(SIZE, SIZE), channels=8, pose_dim=8, appearance_dim=8))
    model = ProbeModel(cfg)
    before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    head_before = {k: v.clone() for k, v in model.head.state_dict().items()}
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    batch = {"keypoints": torch.zeros(4, 17, 2), "visible": torch.ones(4, 17, dtype=torch.bool),
             "joints_3d": torch.zeros(4, 17, 3), "has_3d": torch.ones(4, dtype=torch.bool)}
    loss, _ = model.loss(model(toy_clips(4, 1, np.random.default_rng(0))[0][:, 0]), batch)
    loss.backward()
    opt.step()
    assert all(torch.equal(before[k], v) for k, v in model.encoder.state_dict().items())
    assert any(not torch.equal(head_before[k], v) for k, v in model.head.state_dict().items())  # the head learns
    assert model.predict(torch.zeros(2, 3, SIZE, SIZE)).shape == (2, 17, 3)
