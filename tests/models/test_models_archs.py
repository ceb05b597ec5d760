"""Model composition: config validation, output shapes, losses, predict, FLOPs."""

import numpy as np
import pytest
import torch

from vidpose.errors import InputError
from vidpose.models import count_flops

ARCHS = ("simplebaseline", "clnet", "hourglass", "clnet-hourglass")  # the top-down 2D methods

torch.set_num_threads(1)


def ModelConfig(arch="simplebaseline", **kw):
    """A method config from the flat settings the tests use (``arch`` names the method)."""
    from vidpose.methods import make_config

    return make_config(arch, kw)


def build_model(cfg):
    from vidpose.methods import build_from

    return build_from(cfg)
SMALL = dict(width=0.25, input_size=(64, 64))
STEPS = 60


def small_cfg(arch, **kw):
    base = dict(SMALL, arch=arch)
    if arch in ("clnet", "clnet-hourglass"):
        base["heatmap_stride"] = 8
    if arch.endswith("hourglass"):
        base["num_stacks"] = 2
        base["input_size"] = (64, 48)  # hourglass only needs divisibility by its stride
    base.update(kw)
    return ModelConfig(**base)


@pytest.mark.parametrize(
    "kw, fault",
    [
        (dict(arch="dense"), "unknown method 'dense'"),
        (dict(backbone="resnet101"), "backbone"),
        (dict(input_size=(250, 192)), "input_size"),
        (dict(heatmap_stride=6), "heatmap_stride"),
        (dict(heatmap_stride=8), "heatmap_stride .* needs num_deconv 2"),
        (dict(arch="hourglass", num_stacks=9), "num_stacks"),
        (dict(arch="clnet", composite_target="box"), "composite_target"),
        (dict(arch="clnet", num_deconv=2), "unknown setting.*num_deconv"),
        (dict(width=0), "width"),
    ],
)
def test_config_validation(kw, fault):
    with pytest.raises(InputError, match=fault):
        ModelConfig(**kw)


def test_config_from_dict_roundtrip_and_unknown_key():
    from vidpose.methods import make_config
    from vidpose.settings import to_dict

    cfg = ModelConfig("clnet", backbone="resnet34")
    assert cfg.heatmap_stride == 8 and type(cfg).method == "clnet"
    again = make_config("clnet", to_dict(cfg))
    assert again == cfg and isinstance(again.input_size, tuple)
    with pytest.raises(InputError, match="model.toml: unknown setting.*stacks"):
        make_config("hourglass", {"stacks": 2}, source="model.toml")


@pytest.mark.parametrize("arch", ARCHS)
def test_forward_shapes_loss_and_predict(arch):
    torch.manual_seed(0)
    cfg = small_cfg(arch)
    model = build_model(cfg)
    b, k = 2, cfg.num_keypoints
    h, w = cfg.heatmap_size
    x = torch.randn(b, 3, *cfg.input_size)
    out = model(x)
    assert out["heatmaps"].shape == (b, k, h, w)
    if arch.startswith("clnet"):
        assert out["offsets"].shape == (b, 2 * k, h, w)
    if arch.endswith("hourglass"):
        assert len(out["stacks"]) == cfg.num_stacks
        assert all(st["heatmaps"].shape == (b, k, h, w) for st in out["stacks"])
        assert torch.equal(out["stacks"][-1]["heatmaps"], out["heatmaps"])

    rng = np.random.default_rng(0)
    kps = [np.c_[rng.uniform(0, cfg.input_size[1], k), rng.uniform(0, cfg.input_size[0], k), np.full(k, 2)] for _ in range(b)]
    kps[0][3, 2] = 0  # one unlabelled joint
    per_sample = [model.codec.encode(kp) for kp in kps]
    targets = {key: torch.from_numpy(np.stack([t[key] for t in per_sample])) for key in per_sample[0]}
    assert targets["weights"][0, 3] == 0
    loss, parts = model.loss(out, targets)
    assert loss.ndim == 0 and torch.isfinite(loss) and loss > 0
    assert parts["loss"] == pytest.approx(loss.item())
    if arch.startswith("clnet"):
        assert parts["loss_offset"] > 0
    loss.backward()
    # gradients reach the first layer through every part of the network
    first = next(model.parameters())
    assert first.grad is not None and first.grad.abs().sum() > 0

    model.train()
    pred = model.predict(x)
    assert model.training  # predict restores the mode
    assert pred.shape == (b, k, 3) and pred.dtype == torch.float32
    hh, ww = cfg.input_size
    assert (pred[..., 0] >= 0).all() and (pred[..., 0] <= ww).all()
    assert (pred[..., 1] >= 0).all() and (pred[..., 1] <= hh).all()
    # predict == decode of the eval-mode raw outputs
    model.eval()
    with torch.no_grad():
        raw = model(x)
    assert np.allclose(pred.numpy(), model.codec.decode({kk: raw[kk].numpy() for kk in model.output_keys}))


def test_forward_rejects_wrong_image_size():
    model = build_model(small_cfg("simplebaseline"))
    with pytest.raises(InputError, match="images: size .* not divisible by 32"):
        model(torch.zeros(1, 3, 48, 64))
    with pytest.raises(InputError, match=r"images: expected shape \(B, 3, H, W\)"):
        model(torch.zeros(3, 64, 64))


@pytest.mark.parametrize("arch", ["simplebaseline", "clnet"])
def test_overfits_fixed_batch_to_subcell_accuracy(arch):
    """A few hundred steps on 4 fixed images must bring the mean error well under one heatmap cell."""
    torch.manual_seed(0)
    cfg = small_cfg(arch, num_keypoints=4, input_size=(64, 64), backbone="resnet18")
    model = build_model(cfg)
    rng = np.random.default_rng(1)
    x = torch.randn(4, 3, 64, 64)
    kps = [np.c_[rng.uniform(4, 60, (4, 2)), np.full(4, 2)] for _ in range(4)]
    per = [model.codec.encode(k) for k in kps]
    t = {key: torch.from_numpy(np.stack([p[key] for p in per])) for key in per[0]}
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for step in range(STEPS):
        loss, _ = model.loss(model(x), t)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.2 * first
    # BatchNorm in train mode on this fixed batch is what was fitted; decode those outputs
    with torch.no_grad():
        out = model(x)
    dec = model.codec.decode({k: out[k] for k in model.output_keys})
    err = np.abs(dec[..., :2] - np.stack(kps)[..., :2]).mean()
    assert err < 0.5 * cfg.heatmap_stride, err


def test_count_flops_matches_analytic_conv():
    conv = torch.nn.Conv2d(3, 8, 3, padding=1)
    r = count_flops(conv, (16, 12))
    # 2 FLOPs per multiply-accumulate: 2 * Cin * k * k * Cout * H * W
    assert r["gflops"] * 1e9 == 2 * 3 * 9 * 8 * 16 * 12
    assert r["params_m"] * 1e6 == pytest.approx(3 * 9 * 8 + 8)


def test_clnet_head_is_cheaper_than_simplebaseline():
    sb = count_flops(build_model(ModelConfig(arch="simplebaseline", width=0.25, input_size=(128, 96))))
    cl = count_flops(build_model(ModelConfig(arch="clnet", heatmap_stride=8, width=0.25, input_size=(128, 96))))
    backbone = count_flops(build_model(ModelConfig(arch="simplebaseline", width=0.25, input_size=(128, 96))).backbone, (128, 96))
    assert cl["gflops"] < sb["gflops"]
    # the composite head costs less than half of the deconvolution head
    assert cl["gflops"] - backbone["gflops"] < 0.5 * (sb["gflops"] - backbone["gflops"])
    assert cl["params_m"] < sb["params_m"]


def test_count_flops_scales_with_input_and_stacks():
    m = build_model(small_cfg("hourglass", num_stacks=1))
    a = count_flops(m)["gflops"]
    assert count_flops(m, (128, 96))["gflops"] == pytest.approx(4 * a, rel=0.05)
    b = count_flops(build_model(small_cfg("hourglass", num_stacks=2)))["gflops"]
    c = count_flops(build_model(small_cfg("hourglass", num_stacks=3)))["gflops"]
    # every extra stack adds the same hourglass + head + merge convs
    assert b > a and c - b == pytest.approx(b - a, rel=1e-9)
