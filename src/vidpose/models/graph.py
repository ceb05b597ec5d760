"""Graph convolutions over a skeleton sequence: fixed-skeleton, dynamical spatial (DSG), dynamical temporal (DTG).

Tensors are ``(B, T, J, C)``: batch, frames, joints, channels. The layers are
shared by the 2D->3D lifters in :mod:`vidpose.methods.dgnet` (DG-Net: Zhang et
al., "Dynamical Graph Network for 3D human pose estimation", arXiv 2109.07353,
and its fixed-graph baseline).

* :func:`skeleton_adjacency` -- the symmetric-normalised adjacency
  ``D^-1/2 (A + I) D^-1/2`` of a skeleton's links.
* :func:`spatial_affinity` -- DSG's per-frame joint affinity
  ``A_t[i, j] = softmax_j(-||f_i - f_j||^2 / tau)``, restricted to each joint's
  ``top_k`` nearest joints in feature space (itself included).
* :func:`temporal_affinity` -- DTG's affinity between joint ``i`` at the
  centre frame of a window and joint ``j`` at every frame of the window,
  ``softmax_{j,m}(cos(v_i(t), v_j(t + m d)) / tau)`` with ``v`` the joints'
  velocities in feature space (central differences over the window's taps).
* :class:`SpatialGraphConv` -- ``(A_fixed + A_t) X W`` per frame, ``A_fixed``
  learnable and initialised from the skeleton; ``dynamic=False`` drops ``A_t``
  (the fixed-graph baseline).
* :class:`TemporalGraphConv` -- a dilated temporal convolution over ``kernel``
  taps (per joint, no padding: ``T -> T - (kernel - 1) * dilation``) plus, with
  ``dynamic=True``, the DTG term that lets each joint gather features of the
  joints that move like it within the same taps. The window is the
  convolution's own taps, so DTG adds nothing to the receptive field and a
  dense pass over a long sequence equals the window-by-window result exactly.

The affinities are equivariant to a permutation of the joints (they are built
from pairwise distances and similarities only; tested).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from vidpose.errors import InputError


def skeleton_adjacency(links, num_joints: int) -> np.ndarray:
    """``D^-1/2 (A + I) D^-1/2`` (J, J) of an undirected skeleton given by ``links`` [(a, b), ...]."""
    a = np.eye(num_joints)
    for i, j in links:
        if not (0 <= i < num_joints and 0 <= j < num_joints):
            raise InputError(f"skeleton_adjacency: link ({i}, {j}) out of range for {num_joints} joints")
        a[i, j] = a[j, i] = 1.0
    d = 1.0 / np.sqrt(a.sum(1))
    return a * d[:, None] * d[None, :]


def _check_features(x: torch.Tensor, name: str, ndim: int) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != ndim:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise InputError(f"{name}: expected a tensor of {ndim} dimensions, got {got}")


def spatial_affinity(f: torch.Tensor, tau: float = 1.0, top_k: int = 0) -> torch.Tensor:
    """DSG affinity (..., J, J) of joint features ``f`` (..., J, C): row ``i`` is a softmax over the
    ``top_k`` joints nearest to ``i`` in feature space (0 = all joints) of ``-||f_i - f_j||^2 / tau``."""
    if not isinstance(f, torch.Tensor) or f.ndim < 2:
        got = tuple(f.shape) if isinstance(f, torch.Tensor) else type(f).__name__
        raise InputError(f"spatial_affinity: features must be a tensor (..., J, C), got {got}")
    if tau <= 0:
        raise InputError(f"spatial_affinity: tau must be positive, got {tau}")
    j = f.shape[-2]
    if not 0 <= top_k <= j:
        raise InputError(f"spatial_affinity: top_k must be 0..{j} (number of joints), got {top_k}")
    sq = (f * f).sum(-1)
    d2 = (sq[..., :, None] + sq[..., None, :] - 2.0 * f @ f.transpose(-1, -2)).clamp_min(0.0)
    logits = -d2 / tau
    if top_k and top_k < j:
        kth = logits.topk(top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return logits.softmax(-1)


def window_taps(x: torch.Tensor, kernel: int, dilation: int) -> torch.Tensor:
    """The ``kernel`` taps of a dilated window, no padding: (B, T, J, C) -> (B, kernel, T', J, C),
    ``T' = T - (kernel - 1) * dilation``; tap ``m`` of output frame ``t`` is input frame ``t + m * dilation``."""
    _check_features(x, "window_taps: input", 4)
    span = (kernel - 1) * dilation
    if x.shape[1] <= span:
        raise InputError(f"window_taps: {x.shape[1]} frames, a window of {kernel} taps at dilation {dilation} "
                         f"needs more than {span}")
    t = x.shape[1] - span
    return torch.stack([x[:, m * dilation:m * dilation + t] for m in range(kernel)], 1)


def tap_velocities(taps: torch.Tensor) -> torch.Tensor:
    """Velocities (B, K, T', J, C) of window taps (B, K, T', J, C): central differences between
    neighbouring taps, one-sided at the first and last tap."""
    k = taps.shape[1]
    if k < 2:
        raise InputError(f"tap_velocities: a motion needs at least 2 taps, got {k}")
    lo = [max(m - 1, 0) for m in range(k)]
    hi = [min(m + 1, k - 1) for m in range(k)]
    return (taps[:, hi] - taps[:, lo]) / torch.tensor([h - l for h, l in zip(hi, lo)], dtype=taps.dtype,
                                                      device=taps.device).view(1, k, 1, 1, 1)


def temporal_affinity(v: torch.Tensor, tau: float = 0.2, eps: float = 1e-6) -> torch.Tensor:
    """DTG affinity from tap velocities ``v`` (B, K, T', J, C): (B, T', J, K, J), for joint ``i`` at the
    centre tap a softmax over (tap ``m``, joint ``j``) of ``cos(v_i(centre), v_j(m)) / tau``.

    A still joint (zero velocity) has cosine 0 with everything, so it spreads its weight evenly.
    """
    _check_features(v, "temporal_affinity: velocities", 5)
    if tau <= 0:
        raise InputError(f"temporal_affinity: tau must be positive, got {tau}")
    b, k, t, j, c = v.shape
    u = v / (v.norm(dim=-1, keepdim=True) + eps)
    centre = u[:, k // 2]  # (B, T', J, C)
    cos = torch.einsum("btic,bmtjc->btimj", centre, u)  # (B, T', J, K, J)
    return (cos / tau).reshape(b, t, j, k * j).softmax(-1).reshape(b, t, j, k, j)


class SpatialGraphConv(nn.Module):
    """Per-frame graph convolution ``(A_fixed + A_t) X W + b`` on (B, T, J, C_in) -> (B, T, J, C_out).

    ``A_fixed`` is learnable, initialised from ``adjacency`` (the normalised skeleton);
    with ``dynamic`` the DSG affinity ``A_t`` of a learned embedding of ``X`` is added.
    """

    def __init__(self, c_in: int, c_out: int, adjacency: np.ndarray, dynamic: bool = True,
                 tau: float = 1.0, top_k: int = 0, embed: int = 16) -> None:
        super().__init__()
        j = adjacency.shape[0]
        if not 0 <= top_k <= j:
            raise InputError(f"SpatialGraphConv: top_k must be 0..{j}, got {top_k}")
        self.adjacency = nn.Parameter(torch.as_tensor(adjacency, dtype=torch.float32).clone())
        self.weight = nn.Linear(c_in, c_out)
        self.dynamic, self.tau, self.top_k = bool(dynamic), float(tau), int(top_k)
        if self.dynamic:
            self.embed = nn.Linear(c_in, embed, bias=False)
            self.dyn_weight = nn.Linear(c_in, c_out, bias=False)

    def affinity(self, x: torch.Tensor) -> torch.Tensor:
        """The DSG affinity (B, T, J, J) this layer uses for ``x``."""
        # The embedding is scaled so that tau means the same at any width.
        return spatial_affinity(self.embed(x) / math.sqrt(self.embed.out_features), self.tau, self.top_k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.adjacency @ self.weight(x)
        if self.dynamic:
            y = y + self.affinity(x) @ self.dyn_weight(x)
        return y


class TemporalGraphConv(nn.Module):
    """Dilated temporal convolution per joint over ``kernel`` taps, plus (``dynamic``) the DTG term.

    (B, T, J, C_in) -> (B, T - (kernel - 1) * dilation, J, C_out). The DTG term: joint ``i`` at
    the centre tap gathers ``W_dtg`` features of every joint ``j`` at every tap ``m``, weighted
    by :func:`temporal_affinity` of learned motion embeddings.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, dilation: int = 1, dynamic: bool = True,
                 tau: float = 0.2, embed: int = 16) -> None:
        super().__init__()
        if kernel < 1 or kernel % 2 == 0:
            raise InputError(f"TemporalGraphConv: kernel must be odd and >= 1, got {kernel}")
        if dynamic and kernel < 3:
            raise InputError("TemporalGraphConv: the dynamical temporal graph needs a kernel of at least 3 taps")
        self.kernel, self.dilation, self.c_out = int(kernel), int(dilation), int(c_out)
        self.conv = nn.Linear(c_in, c_out * kernel, bias=False)  # one (c_in -> c_out) map per tap
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.dynamic, self.tau = bool(dynamic), float(tau)
        if self.dynamic:
            self.embed = nn.Linear(c_in, embed, bias=False)
            self.dyn_weight = nn.Linear(c_in, c_out, bias=False)

    def affinity(self, x: torch.Tensor) -> torch.Tensor:
        """The DTG affinity (B, T', J, kernel, J) this layer uses for ``x``."""
        taps = window_taps(self.embed(x), self.kernel, self.dilation)
        return temporal_affinity(tap_velocities(taps), self.tau)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_features(x, "TemporalGraphConv: input", 4)
        k, d = self.kernel, self.dilation
        t = x.shape[1] - (k - 1) * d
        if t < 1:
            raise InputError(f"TemporalGraphConv: {x.shape[1]} frames, a window of {k} taps at dilation {d} "
                             f"needs more than {(k - 1) * d}")
        # Linear maps commute with the shifts: map every frame once, then add the shifted taps.
        w = self.conv(x)
        y = self.bias + w[:, 0:t, :, :self.c_out]
        for m in range(1, k):
            y = y + w[:, m * d:m * d + t, :, m * self.c_out:(m + 1) * self.c_out]
        if self.dynamic:
            a = self.affinity(x)  # (B, T', J, K, J)
            f = self.dyn_weight(x)
            for m in range(k):
                y = y + a[:, :, :, m] @ f[:, m * d:m * d + t]
        return y


# --- lifters over windows and whole sequences ----------------------------------------------------

def person_normalize(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Per-frame 2D normalisation of (..., J, C) keypoints (x, y[, confidence]): centred on the
    joints' weighted mean and scaled to unit weighted RMS distance from it, weights the squared
    confidences (1 without them), so a dropped low-confidence joint barely moves either. Invariant to
    where the person is in the picture and how large: only the pose's 2D shape is left (the
    root-relative 3D does not depend on the rest). Frame by frame, so dense and windowed lifting agree."""
    xy = x[..., :2]
    w = x[..., 2:3].clamp(0.0, 1.0) ** 2 + 1e-3 if x.shape[-1] > 2 else torch.ones_like(xy[..., :1])
    w = w / w.sum(-2, keepdim=True)
    centre = (w * xy).sum(-2, keepdim=True)
    scale = ((w * (xy - centre) ** 2).sum((-2, -1), keepdim=True)).sqrt().clamp_min(eps)
    return torch.cat([(xy - centre) / scale, x[..., 2:]], -1)


class SequenceLifter(nn.Module):
    """Base of the 2D->3D lifters: ``forward_valid`` maps (B, T, J, C) to (B, T - R + 1, J, 3) with no
    padding (R = ``cfg.receptive_field``); from it, :meth:`forward` lifts one window per sample
    (the training shape) and :meth:`lift` a whole sequence, frame for frame, with its ends padded
    by repeating the first and last frame (so tracks shorter than R work too)."""

    cfg: object

    def forward_valid(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def check_input(self, x, name: str = "keypoints_2d") -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(np.asarray(x, np.float32))
        c = self.cfg.in_channels
        j = self.cfg.num_joints
        if x.ndim != 4 or x.shape[2] != j or x.shape[3] not in (2, c):
            raise InputError(f"{name}: expected (B, T, {j}, {c}) normalised 2D joints"
                             f"{' (x, y, confidence)' if c == 3 else ''}, got {tuple(x.shape)}")
        if x.shape[3] == 2 and c == 3:  # no confidences given: every joint trusted
            x = torch.cat([x, torch.ones_like(x[..., :1])], -1)
        return x.to(next(self.parameters()).dtype)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """The network's view of checked input (B, T, J, C): as given (``input_norm = "screen"``), or
        with ``input_norm = "person"`` each frame's 2D centred on its joints' confidence-weighted
        mean and divided by their weighted RMS distance from it (see :func:`person_normalize`)."""
        return person_normalize(x) if getattr(self.cfg, "input_norm", "screen") == "person" else x

    def predict_valid(self, x: torch.Tensor, flip: bool = False) -> torch.Tensor:
        """:meth:`forward_valid` of normalised input; with ``flip``, test-time flip augmentation
        (VideoPose3D's): the input mirrored (x negated, left and right joints swapped) is lifted in the
        same batch, its 3D mirrored back and averaged with the plain prediction."""
        if not flip:
            return self.forward_valid(x)
        plain, mirrored = self.predict_views(x)
        return (plain + mirrored) / 2

    def predict_views(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`forward_valid` of normalised input and of its mirror image (x negated, left and right
        joints swapped) in one batch, the second mirrored back: the two views that flip augmentation
        averages (an ONNX export returns both, :func:`vidpose.models.export.export_lifter_onnx`)."""
        from vidpose.skeletons import get_skeleton

        perm = torch.as_tensor(get_skeleton(getattr(self.cfg, "skeleton", "h36m17")).flip_permutation())
        sign = torch.tensor([-1.0] + [1.0] * (x.shape[-1] - 1), dtype=x.dtype)
        b = x.shape[0]
        y = self.forward_valid(torch.cat([x, x[:, :, perm] * sign]))
        return y[:b], y[b:][:, :, perm] * torch.tensor([-1.0, 1.0, 1.0], dtype=y.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, R, J, C) windows -> (B, J, 3) root-relative 3D of each centre frame (metres);
        (B, R + S - 1, J, C) -> (B, S, J, 3), the S centre frames of longer windows (no padding)."""
        x = self.check_input(x)
        r = self.cfg.receptive_field
        if x.shape[1] < r:
            raise InputError(f"keypoints_2d: windows of {x.shape[1]} frames, the model's receptive field is {r}; "
                             "use lift() for sequences of any length")
        y = self.forward_valid(self.normalize(x))
        return y[:, 0] if x.shape[1] == r else y

    def lift(self, x, chunk: int = 4096, flip: bool = False) -> torch.Tensor:
        """Dense sequence mode: (T, J, C) or (B, T, J, C) -> (…, T, J, 3), every frame lifted, no grad.

        Sequence ends are padded by edge repetition (R // 2 frames each side). Long sequences are
        processed in chunks of ``chunk`` output frames (overlapping by R - 1 input frames), which
        gives the same result as one pass. ``flip``: test-time flip augmentation (:meth:`predict_valid`).
        """
        single = getattr(x, "ndim", np.ndim(x)) == 3
        x = self.check_input(x[None] if single else x)
        if x.shape[1] < 1:
            raise InputError("keypoints_2d: a sequence of 0 frames cannot be lifted")
        h = self.cfg.receptive_field // 2
        x = self.normalize(x)
        xp = torch.cat([x[:, :1].expand(-1, h, -1, -1), x, x[:, -1:].expand(-1, h, -1, -1)], 1)
        t = x.shape[1]
        with torch.no_grad():
            outs = [self.predict_valid(xp[:, s:s + chunk + 2 * h], flip) for s in range(0, t, chunk)]
        y = torch.cat(outs, 1)
        return y[0] if single else y

    def lift_many(self, sequences: list, batch_frames: int = 65536) -> list[torch.Tensor]:
        """:meth:`lift` of several sequences (T_i, J, C) of any lengths, batched: each padded at its
        end to the longest (edge repetition, which leaves its own frames unchanged)."""
        if not sequences:
            return []
        seqs = [self.check_input(s[None] if getattr(s, "ndim", np.ndim(s)) == 3 else s, f"sequence {i}")[0]
                for i, s in enumerate(sequences)]
        out: list[torch.Tensor | None] = [None] * len(seqs)
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
        i = 0
        while i < len(order):
            longest = len(seqs[order[i]])
            group = [order[i]]
            i += 1
            while i < len(order):
                cand = len(seqs[order[i]])
                if cand * (len(group) + 1) > batch_frames or cand > 2 * longest:
                    break
                group.append(order[i])
                longest = cand
                i += 1
            batch = torch.stack([torch.cat([seqs[g], seqs[g][-1:].expand(longest - len(seqs[g]), -1, -1)])
                                 for g in group])
            y = self.lift(batch)
            for k, g in enumerate(group):
                out[g] = y[k, :len(seqs[g])]
        return out  # type: ignore[return-value]


__all__ = ["person_normalize", "skeleton_adjacency", "spatial_affinity", "window_taps", "tap_velocities", "temporal_affinity",
           "SpatialGraphConv", "TemporalGraphConv", "SequenceLifter"]
