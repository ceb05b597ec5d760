"""Codec tests: encode -> decode round trips, labelling rules, losses."""

import numpy as np
import pytest
import torch

from vidpose.errors import InputError
from vidpose.models.codecs import (
    CompositeCodec,
    GaussianHeatmapCodec,
    decode_composite,
    decode_heatmaps,
)

J = 17


def _random_keypoints(rng, input_size, margin):
    h, w = input_size
    x = rng.uniform(margin, w - margin, J)
    y = rng.uniform(margin, h - margin, J)
    return np.stack([x, y, np.full(J, 2.0)], axis=1)


def _batch(targets, key):
    return np.stack([t[key] for t in targets])


@pytest.mark.parametrize("stride", [4, 8, 16, 32])
def test_gaussian_roundtrip_subpixel(stride):
    rng = np.random.default_rng(stride)
    size = (16 * stride, 12 * stride)  # a 16x12 heatmap at every stride
    codec = GaussianHeatmapCodec(size, stride, J, sigma=2.0)
    # anywhere in the map but the outermost cell ring (the Taylor step needs both neighbours)
    kps = [_random_keypoints(rng, size, margin=1.5 * stride) for _ in range(3)]
    targets = [codec.encode(k) for k in kps]
    dec = codec.decode({"heatmaps": _batch(targets, "heatmaps")})
    err = np.abs(dec[..., :2] - np.stack(kps)[..., :2])
    # DARK on an exact Gaussian: well under 5% of a heatmap cell
    assert err.max() < 0.05 * stride, err.max()
    assert np.allclose(dec[..., 2], np.stack([t["heatmaps"].reshape(J, -1).max(1) for t in targets]))
    # the integer argmax alone is off by up to half a cell: refinement must beat it
    plain = decode_heatmaps(_batch(targets, "heatmaps"), stride, refine="none")
    assert np.abs(plain[..., :2] - np.stack(kps)[..., :2]).mean() > 3 * err.mean()


def test_gaussian_quarter_refine_between_none_and_dark():
    rng = np.random.default_rng(0)
    codec = GaussianHeatmapCodec((64, 48), 4, J, sigma=2.0)
    k = _random_keypoints(rng, (64, 48), 12)
    hm = codec.encode(k)["heatmaps"][None]
    errs = [np.abs(decode_heatmaps(hm, 4, 2.0, r)[0, :, :2] - k[:, :2]).mean() for r in ("none", "quarter", "dark")]
    assert errs[2] < errs[1] < errs[0]


def test_dark_on_noisy_heatmap_still_subcell():
    # A prediction is not an exact Gaussian: add noise and check DARK keeps the
    # error within a fraction of a cell.
    rng = np.random.default_rng(1)
    codec = GaussianHeatmapCodec((128, 96), 4, J, sigma=2.0)
    k = _random_keypoints(rng, (128, 96), 16)
    hm = codec.encode(k)["heatmaps"][None] * 0.8 + rng.normal(0, 0.02, (1, J, 32, 24)).astype(np.float32)
    dec = decode_heatmaps(hm, 4, 2.0)
    assert np.abs(dec[0, :, :2] - k[:, :2]).max() < 0.5 * 4


@pytest.mark.parametrize("stride", [4, 8, 16, 32])
@pytest.mark.parametrize("target", ["gaussian", "onehot"])
def test_composite_roundtrip(stride, target):
    rng = np.random.default_rng(stride)
    size = (8 * stride, 6 * stride)
    codec = CompositeCodec(size, stride, J, target=target)
    kps = [_random_keypoints(rng, size, margin=0.0) for _ in range(4)]
    targets = [codec.encode(k) for k in kps]
    hm = _batch(targets, "heatmaps")
    h, w = codec.heatmap_size
    # Dense offset maps holding the target offset at the GT cell (what a perfect network outputs)
    off = np.zeros((len(kps), 2 * J, h, w), np.float32)
    for b, t in enumerate(targets):
        for j in range(J):
            cy, cx = divmod(int(t["cells"][j]), w)
            off[b, 2 * j : 2 * j + 2, cy, cx] = t["offsets"][j]
    dec = codec.decode({"heatmaps": hm, "offsets": off})
    err = np.abs(dec[..., :2] - np.stack(kps)[..., :2])
    # float32 offsets: the error is rounding only, far below a pixel at any stride
    assert err.max() < 1e-4 * stride, err.max()
    # the cell alone (offset 0) is off by up to a whole cell
    coarse = decode_composite(hm, np.zeros_like(off), stride, target)
    assert np.abs(coarse[..., :2] - np.stack(kps)[..., :2]).max() > 0.5 * stride
    assert (dec[..., 2] > 0).all()


def test_composite_targets_layout():
    codec = CompositeCodec((64, 48), 8, 2, target="onehot")
    k = np.array([[13.0, 30.0, 2], [47.9, 63.9, 1]])
    t = codec.encode(k)
    assert t["heatmaps"].shape == (2, 8, 6) and t["offsets"].shape == (2, 2)
    assert t["cells"].dtype == np.int64 and t["cells"].tolist() == [3 * 6 + 1, 7 * 6 + 5]
    assert np.allclose(t["offsets"][0], [13 / 8 - 1, 30 / 8 - 3])
    assert t["heatmaps"][0].sum() == 1.0 and t["heatmaps"][0, 3, 1] == 1.0
    assert ((0 <= t["offsets"]) & (t["offsets"] < 1)).all()


@pytest.mark.parametrize("codec", [GaussianHeatmapCodec((64, 48), 4, 4), CompositeCodec((64, 48), 8, 4)])
def test_unlabelled_joints_weight_zero(codec):
    k = np.array([[10, 10, 2], [10, 10, 0], [-1, 10, 2], [np.nan, 5, 1]], float)
    t = codec.encode(k)
    assert t["weights"].tolist() == [1, 0, 0, 0]
    assert t["heatmaps"][1:].max() == 0 and t["heatmaps"][0].max() > 0.5


@pytest.mark.parametrize("codec", [GaussianHeatmapCodec((64, 48), 4, J), CompositeCodec((64, 48), 8, J)])
def test_encode_rejects_bad_shape(codec):
    with pytest.raises(InputError, match=r"keypoints: expected shape \(17, 3\)"):
        codec.encode(np.zeros((16, 3)))


def test_decode_rejects_bad_outputs():
    codec = CompositeCodec((64, 48), 8, J)
    with pytest.raises(InputError, match="missing 'offsets'"):
        codec.decode({"heatmaps": np.zeros((1, J, 8, 6))})
    with pytest.raises(InputError, match="offsets: expected shape"):
        codec.decode({"heatmaps": np.zeros((1, J, 8, 6)), "offsets": np.zeros((1, J, 8, 6))})
    with pytest.raises(InputError, match=r"heatmaps: expected shape \(B, J, h, w\)"):
        decode_heatmaps(np.zeros((J, 8, 6)), 4)


def _stack(targets):
    return {k: torch.from_numpy(np.stack([t[k] for t in targets])) for k in targets[0]}


@pytest.mark.parametrize("target", ["gaussian", "onehot"])
def test_composite_loss_zero_offsets_at_gt_cell_only(target):
    rng = np.random.default_rng(3)
    codec = CompositeCodec((64, 48), 8, J, target=target, offset_weight=2.0)
    targets = [codec.encode(_random_keypoints(rng, (64, 48), 0)) for _ in range(2)]
    t = _stack(targets)
    h, w = codec.heatmap_size
    off = torch.full((2, 2 * J, h, w), 7.0)  # wrong everywhere ...
    for b in range(2):
        for j in range(J):
            cy, cx = divmod(int(t["cells"][b, j]), w)
            off[b, 2 * j : 2 * j + 2, cy, cx] = t["offsets"][b, j]  # ... except at the GT cell
    hm = t["heatmaps"].clone() if target == "gaussian" else t["heatmaps"] * 50.0
    total, parts = codec.loss({"heatmaps": hm, "offsets": off}, t)
    assert parts["loss_offset"] < 1e-6
    assert parts["loss_heatmap"] < 1e-3
    # moving one GT-cell offset by 0.5 raises the L1 term by 0.5 / 2 coords / 34 joints, times lambda
    cy, cx = divmod(int(t["cells"][0, 0]), w)
    off[0, 0, cy, cx] += 0.5
    total2, parts2 = codec.loss({"heatmaps": hm, "offsets": off}, t)
    assert parts2["loss_offset"] == pytest.approx(0.25 / (2 * J), rel=1e-4)
    assert float(total2 - total) == pytest.approx(2.0 * 0.25 / (2 * J), rel=1e-3)


def test_gaussian_loss_ignores_unlabelled():
    codec = GaussianHeatmapCodec((64, 48), 4, 2)
    t = _stack([codec.encode(np.array([[20, 20, 2], [30, 30, 0]], float))])
    pred = t["heatmaps"].clone()
    pred[0, 1] = 5.0  # garbage on the unlabelled joint costs nothing
    loss, parts = codec.loss({"heatmaps": pred}, t)
    assert float(loss) == 0.0
    pred[0, 0, 0, 0] += 1.0
    assert float(codec.loss({"heatmaps": pred}, t)[0]) == pytest.approx(1.0, rel=1e-4)
