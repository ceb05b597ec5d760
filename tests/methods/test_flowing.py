"""Flowing ConvNets: the network and its ablations, the parametric pooling, two-stage training
through the one trainer and the clip objective."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidpose.errors import InputError
from vidpose.methods import build, load
from vidpose.models.checkpoint import read_checkpoint
from vidpose.training.config import load_config
from vidpose.training.trainer import train

torch.set_num_threads(1)


@pytest.mark.parametrize("kw, keys", [
    (dict(temporal="none"), {"heatmaps"}),
    (dict(temporal="none", fusion=False), {"heatmaps"}),
    (dict(temporal="none", head="regression"), {"coords"}),
    (dict(temporal="warp", neighbours=1), {"heatmaps"}),
    (dict(temporal="nowarp", neighbours=2), {"heatmaps"}),
    (dict(temporal="flow-input", neighbours=1), {"heatmaps"}),
])
def test_variants_forward_loss_predict(kw, keys):
    torch.manual_seed(0)
    m = build("flowing", width=0.125, **kw)
    t = m.cfg.clip_length
    x = torch.randn(2, t, 3, 64, 64)
    out = m(x)
    assert keys <= set(out)
    kp = np.c_[np.random.default_rng(0).uniform(4, 60, (17, 2)), np.full(17, 2)]
    enc = m.codec.encode(kp)
    targets = {k: torch.from_numpy(np.stack([np.stack([v] * t)] * 2)) for k, v in enc.items()}
    loss, parts = m.loss(out, targets)
    assert torch.isfinite(loss) and loss > 0 and parts["loss"] == pytest.approx(float(loss.detach()))
    loss.backward()
    assert m.predict(x).shape == (2, 17, 3)


def test_pooling_starts_as_the_centre_frame_and_is_per_joint():
    torch.manual_seed(0)
    m = build("flowing", width=0.125, temporal="nowarp", neighbours=2).eval()
    x = torch.randn(1, 5, 3, 64, 64)
    with torch.no_grad():
        out = m(x)
        _, h2, _ = m.frame(x[:, 2])
    assert torch.allclose(out["heatmaps"], h2, atol=1e-6)
    assert m.pooling.groups == 17 and m.pooling.weight.shape == (17, 5, 1, 1)


def test_warping_moves_neighbour_maps_onto_the_centre_frame():
    """With a clip whose content shifts, the neighbours' maps warped along the flow line up with the
    centre frame's map; unwarped, they do not. The frame net is replaced by one whose "heatmaps" are
    the image itself at heatmap resolution, so what is tested is the flow, the warp and the pooling."""
    import cv2
    from torch import nn

    class ImageAsHeatmaps(nn.Module):
        def forward(self, x):
            h = nn.functional.avg_pool2d(x[:, :1], 4).repeat(1, 17, 1, 1)
            return h, h, None

    rng = np.random.default_rng(0)
    base = cv2.resize(rng.uniform(0, 1, (24, 24)).astype(np.float32), (96, 96), interpolation=cv2.INTER_CUBIC)
    frames = np.stack([np.roll(base, 4 * (k - 1), axis=1)[16:80, 16:80] for k in range(3)])
    clip = torch.from_numpy(np.repeat(frames[:, None], 3, axis=1)[None] * 2 - 1).float()
    errs = {}
    for temporal in ("warp", "nowarp"):
        m = build("flowing", width=0.125, temporal=temporal, neighbours=1).eval()
        m.frame = ImageAsHeatmaps()
        with torch.no_grad():
            m.pooling.weight.zero_()  # average the two neighbours only
            m.pooling.weight[:, 0] = 0.5
            m.pooling.weight[:, 2] = 0.5
            centre = m.frame(clip[:, 1])[0]
            errs[temporal] = float((m(clip)["heatmaps"] - centre)[..., 2:-2, 2:-2].abs().mean())
    assert errs["warp"] < 0.3 * errs["nowarp"], errs


@pytest.mark.parametrize("kw, match", [
    (dict(temporal="warp"), "neighbours must be >= 1"),
    (dict(temporal="none", neighbours=2), "temporal is 'none'"),
    (dict(temporal="warp", neighbours=1, head="regression"), "head must be 'heatmap'"),
    (dict(temporal="sideways"), "temporal is 'sideways'"),
    (dict(input_size=(62, 64)), "not divisible by 4"),
    (dict(flow_preset="best"), "flow_preset"),
])
def test_bad_configs(kw, match):
    with pytest.raises(InputError, match=match):
        build("flowing", **kw)


def test_wrong_clip_length_is_a_clear_error():
    m = build("flowing", width=0.125, temporal="warp", neighbours=1)
    with pytest.raises(InputError, match=r"clips: expected \(B, 3, 3, H, W\)"):
        m(torch.zeros(1, 5, 3, 64, 64))


def _cfg(tmp_path, root, name, model, clip_length, extra=""):
    p = tmp_path / f"{name}.toml"
    p.write_text(f"""
[model]
method = "flowing"
width = 0.125
{model}
[data]
root = "{root}"
clip_length = {clip_length}
[optim]
epochs = 2
batch_size = 4
lr = 0.002
[run]
out_dir = "{tmp_path / name}"
threads = 1
seed = 1
{extra}
""")
    return p


def test_two_stage_training(tmp_path, synth_root):
    """Stage 1 trains the single-frame net; stage 2 starts from it (run.init_from), trains only the
    pooling over flow-warped neighbours, and its checkpoint loads."""
    s1 = _cfg(tmp_path, synth_root, "stage1", 'temporal = "none"', 1)
    m1 = train(load_config(s1), quiet=True)
    assert 0.0 <= m1["val_pck"] <= 1.0
    s2 = _cfg(tmp_path, synth_root, "stage2", 'temporal = "warp"\nneighbours = 1\ntrain_pooling_only = true', 3,
              f'init_from = "{tmp_path / "stage1" / "last.safetensors"}"')
    m2 = train(load_config(s2), quiet=True)
    assert 0.0 <= m2["val_pck"] <= 1.0
    a = read_checkpoint(tmp_path / "stage1" / "last.safetensors").state
    b = read_checkpoint(tmp_path / "stage2" / "last.safetensors").state
    frame = [k for k in a if k.startswith("frame.")]
    assert frame and all(torch.equal(a[k], b[k]) for k in frame)  # frozen, and initialised from stage 1
    w = b["pooling.weight"].squeeze()
    assert not torch.equal(w, torch.eye(3)[1].expand(17, 3))  # the pooling trained
    model = load(tmp_path / "stage2" / "last.safetensors")
    assert model.cfg.temporal == "warp" and model.predict(torch.zeros(1, 3, 3, 64, 64)).shape == (1, 17, 3)
    log = (tmp_path / "stage2" / "train.log").read_text()
    assert "initialised" in log and "from" in log


def test_clip_length_must_match_the_model(tmp_path, synth_root):
    bad = _cfg(tmp_path, synth_root, "bad", 'temporal = "warp"\nneighbours = 1', 5)
    with pytest.raises(InputError, match="data.clip_length is 5 but the model takes clips of 3"):
        train(load_config(bad), quiet=True)
