"""Graph convolutions of vidpose.models.graph: DSG/DTG affinities are equivariant to a permutation of
the joints, depend on the input, are row-stochastic; shapes; a dense pass equals window-by-window."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidpose.errors import InputError
from vidpose.models.graph import (SpatialGraphConv, TemporalGraphConv, skeleton_adjacency, spatial_affinity,
                                  tap_velocities, temporal_affinity, window_taps)
from vidpose.skeletons import H36M17

torch.set_num_threads(1)


def _perm(j: int, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).permutation(j))


def test_skeleton_adjacency_is_symmetric_normalised():
    a = skeleton_adjacency(H36M17.links, 17)
    assert a.shape == (17, 17) and np.allclose(a, a.T)
    # pelvis (0) has 3 neighbours + itself; right_hip (1) 2 + itself: 1 / sqrt(4 * 3)
    assert a[0, 1] == pytest.approx(1 / np.sqrt(12)) and a[0, 0] == pytest.approx(0.25)
    assert a[0, 13] == 0.0  # pelvis - left wrist: no link
    with pytest.raises(InputError, match=r"link \(0, 17\) out of range for 17 joints"):
        skeleton_adjacency([(0, 17)], 17)


@pytest.mark.parametrize("top_k", [0, 5])
def test_spatial_affinity_permutation_equivariant_and_input_dependent(top_k):
    g = torch.Generator().manual_seed(0)
    f = torch.randn(3, 17, 8, generator=g)
    a = spatial_affinity(f, tau=2.0, top_k=top_k)
    assert a.shape == (3, 17, 17)
    assert torch.allclose(a.sum(-1), torch.ones(3, 17))
    p = _perm(17)
    ap = spatial_affinity(f[:, p], tau=2.0, top_k=top_k)
    assert torch.allclose(ap, a[:, p][:, :, p], atol=1e-6)  # A(Px) = P A(x) P^T
    if top_k:
        assert ((a > 0).sum(-1) == top_k).all()  # each joint attends to its top_k nearest only
        assert (a.diagonal(dim1=-2, dim2=-1) > 0).all()  # itself among them (distance 0)
    other = spatial_affinity(torch.randn(3, 17, 8, generator=g), tau=2.0, top_k=top_k)
    assert (other - a).abs().max() > 0.05  # another input, another graph


def test_spatial_affinity_rejects_bad_settings():
    f = torch.zeros(2, 17, 4)
    with pytest.raises(InputError, match="tau must be positive, got 0"):
        spatial_affinity(f, tau=0)
    with pytest.raises(InputError, match="top_k must be 0..17"):
        spatial_affinity(f, top_k=18)
    with pytest.raises(InputError, match=r"features must be a tensor \(..., J, C\), got \(4,\)"):
        spatial_affinity(torch.zeros(4))


def test_temporal_affinity_permutation_equivariant_and_motion_dependent():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 9, 17, 6, generator=g)
    v = tap_velocities(window_taps(x, 3, 2))  # (B, K, T', J, C)
    assert v.shape == (2, 3, 5, 17, 6)
    a = temporal_affinity(v, tau=0.3)
    assert a.shape == (2, 5, 17, 3, 17)
    assert torch.allclose(a.sum((-1, -2)), torch.ones(2, 5, 17))
    p = _perm(17, 1)
    ap = temporal_affinity(tap_velocities(window_taps(x[:, :, p], 3, 2)), tau=0.3)
    assert torch.allclose(ap, a[:, :, p][..., p], atol=1e-6)
    # Two joints moving the same way attend to each other more than to one moving the opposite way.
    t = torch.arange(9.0)[:, None]
    y = torch.zeros(1, 9, 3, 2)
    y[0, :, 0] = torch.cat([t, 0 * t], 1)
    y[0, :, 1] = torch.cat([2 * t, 0 * t], 1)
    y[0, :, 2] = torch.cat([-t, 0 * t], 1)
    b = temporal_affinity(tap_velocities(window_taps(y, 3, 1)), tau=0.2)
    assert (b[0, :, 0, :, 1] > 5 * b[0, :, 0, :, 2]).all()
    # Only the motion counts: a constant offset of every frame leaves the graph unchanged.
    assert torch.allclose(temporal_affinity(tap_velocities(window_taps(x + 3.0, 3, 2)), 0.3), a, atol=1e-6)


def test_window_taps_and_errors():
    x = torch.arange(10.0).view(1, 10, 1, 1)
    taps = window_taps(x, 3, 3)
    assert taps.shape == (1, 3, 4, 1, 1)
    assert taps[0, :, 0, 0, 0].tolist() == [0.0, 3.0, 6.0] and taps[0, :, 3, 0, 0].tolist() == [3.0, 6.0, 9.0]
    with pytest.raises(InputError, match="5 frames, a window of 3 taps at dilation 3 needs more than 6"):
        window_taps(torch.zeros(1, 5, 17, 2), 3, 3)
    with pytest.raises(InputError, match="tau must be positive"):
        temporal_affinity(torch.zeros(1, 3, 2, 17, 4), tau=-1.0)


@pytest.mark.parametrize("dynamic", [True, False])
def test_graph_conv_shapes_and_dense_equals_windows(dynamic):
    torch.manual_seed(0)
    adj = skeleton_adjacency(H36M17.links, 17)
    s = SpatialGraphConv(4, 8, adj, dynamic=dynamic, tau=1.0, top_k=6)
    t = TemporalGraphConv(8, 8, kernel=3, dilation=3, dynamic=dynamic, tau=0.2)
    x = torch.randn(2, 12, 17, 4)
    with torch.no_grad():
        y = t(s(x))
        assert y.shape == (2, 6, 17, 8)
        # frame k of the dense output is the output of the window x[:, k:k+7] alone
        for k in range(6):
            assert torch.allclose(t(s(x[:, k:k + 7]))[:, 0], y[:, k], atol=1e-5)
    if dynamic:
        a1, a2 = s.affinity(x), s.affinity(torch.randn(2, 12, 17, 4))
        assert a1.shape == (2, 12, 17, 17) and (a1 - a2).abs().max() > 0.05
        assert t.affinity(s(x)).shape == (2, 6, 17, 3, 17)
    else:
        assert not hasattr(s, "embed") and not hasattr(t, "embed")


def test_graph_conv_rejects_bad_settings():
    adj = skeleton_adjacency(H36M17.links, 17)
    with pytest.raises(InputError, match="top_k must be 0..17, got 20"):
        SpatialGraphConv(2, 4, adj, top_k=20)
    with pytest.raises(InputError, match="kernel must be odd"):
        TemporalGraphConv(2, 4, kernel=2)
    with pytest.raises(InputError, match="needs a kernel of at least 3 taps"):
        TemporalGraphConv(2, 4, kernel=1, dynamic=True)
