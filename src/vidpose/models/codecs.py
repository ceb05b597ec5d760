"""Target codecs: how keypoints become training targets, and network outputs become keypoints.

A codec owns encoding, decoding and the loss, so the three cannot drift apart.

Coordinate convention (both codecs): a keypoint at input pixel ``x`` lies at
heatmap coordinate ``u = x / stride``; heatmap sample ``j`` stands for input
pixel ``j * stride`` (the SimpleBaseline convention). A keypoint is labelled
when its visibility is > 0, its coordinates are finite and it lies inside the
input image; other keypoints get weight 0 and an all-zero target.

* :class:`GaussianHeatmapCodec` -- dense Gaussian heatmaps (SimpleBaseline,
  Hourglass). Encoding places the Gaussian at the sub-pixel position (no
  rounding); decoding refines the argmax with DARK (Zhang et al. 2020): blur
  the heatmap with the target's Gaussian, then one Newton step of the
  second-order Taylor expansion of the log-heatmap (full 2x2 Hessian). Within
  3 sigma of the map border the blur is skipped (padding would bias it).
* :class:`CompositeCodec` -- CLNet: a sparse low-resolution "cell" heatmap
  (tiny Gaussian centred on the keypoint's cell, or a one-hot cell) plus an
  (x, y) offset inside the cell, in cell units in [0, 1). Decoding: argmax
  cell ``c``, position ``(c + offset(c)) * stride``.

The decode functions are plain numpy, usable on ONNX Runtime outputs.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from scipy.ndimage import gaussian_filter

from vidpose.errors import InputError


def _to_numpy(a: Any, key: str) -> np.ndarray:
    if hasattr(a, "detach"):  # torch.Tensor, without importing torch here
        a = a.detach().cpu().float().numpy()
    a = np.asarray(a)
    if a.dtype.kind not in "fiu":
        raise InputError(f"outputs[{key!r}]: expected a numeric array, got dtype {a.dtype}")
    return a.astype(np.float32, copy=False)


def _get(outputs: Mapping[str, Any], key: str) -> np.ndarray:
    if key not in outputs:
        raise InputError(f"outputs: missing {key!r} (have {', '.join(outputs) or 'nothing'})")
    return _to_numpy(outputs[key], key)


def _check_keypoints(keypoints: Any, num_keypoints: int) -> np.ndarray:
    k = np.asarray(keypoints, dtype=np.float64)
    if k.shape != (num_keypoints, 3):
        raise InputError(f"keypoints: expected shape ({num_keypoints}, 3) of x, y, visibility, got {k.shape}")
    return k


def _labelled(k: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    """(J,) bool: visible, finite and inside the input image."""
    h, w = input_size
    x, y, v = k[:, 0], k[:, 1], k[:, 2]
    with np.errstate(invalid="ignore"):
        return (v > 0) & np.isfinite(x) & np.isfinite(y) & (x >= 0) & (x < w) & (y >= 0) & (y < h)


# --------------------------------------------------------------------------- decoding (plain numpy)


def decode_heatmaps(
    heatmaps: np.ndarray, stride: int, sigma: float = 2.0, refine: str = "dark"
) -> np.ndarray:
    """Decode dense heatmaps (B, J, h, w) to keypoints (B, J, 3): x, y in input pixels, score.

    ``refine``: ``"dark"`` (blur + log-Taylor step), ``"quarter"`` (shift a
    quarter cell towards the higher neighbour, the classic SimpleBaseline rule)
    or ``"none"`` (integer argmax). The score is the raw heatmap maximum.
    """
    hm = _to_numpy(heatmaps, "heatmaps")
    if hm.ndim != 4:
        raise InputError(f"heatmaps: expected shape (B, J, h, w), got {hm.shape}")
    if refine not in ("dark", "quarter", "none"):
        raise InputError(f"refine: unknown mode {refine!r}; known: dark, quarter, none")
    b, j, h, w = hm.shape
    flat = hm.reshape(b * j, h * w)
    idx = flat.argmax(axis=1)
    score = flat[np.arange(b * j), idx]
    px, py = (idx % w).astype(np.int64), (idx // w).astype(np.int64)
    u, v = px.astype(np.float64), py.astype(np.float64)
    maps = hm.reshape(b * j, h, w).astype(np.float64)
    if refine == "quarter":
        inner_x = (px > 0) & (px < w - 1)
        inner_y = (py > 0) & (py < h - 1)
        n = np.arange(b * j)
        dx = np.where(inner_x, maps[n, py, np.clip(px + 1, 0, w - 1)] - maps[n, py, np.clip(px - 1, 0, w - 1)], 0.0)
        dy = np.where(inner_y, maps[n, np.clip(py + 1, 0, h - 1), px] - maps[n, np.clip(py - 1, 0, h - 1), px], 0.0)
        u = u + 0.25 * np.sign(dx)
        v = v + 0.25 * np.sign(dy)
    elif refine == "dark":
        du, dv = _dark_offsets(maps, px, py, sigma)
        u, v = u + du, v + dv
    out = np.stack([u * stride, v * stride, score.astype(np.float64)], axis=-1)
    return out.reshape(b, j, 3).astype(np.float32)


def _dark_offsets(maps: np.ndarray, px: np.ndarray, py: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel offsets (N,), (N,) from the log-heatmap's Taylor expansion at (px, py)."""
    n, h, w = maps.shape
    peak = maps.max(axis=(1, 2), keepdims=True)
    # Blur to make a predicted heatmap Gaussian-like (DARK's "modulation"), then
    # restore each map's peak so the log stays on the same scale.
    blurred = gaussian_filter(maps, sigma=(0, sigma, sigma), mode="nearest", truncate=3.0)
    bpeak = blurred.max(axis=(1, 2), keepdims=True)
    blurred = blurred * np.where(bpeak > 0, peak / np.maximum(bpeak, 1e-12), 1.0)
    # Padding biases the blur within 3 sigma of the border (towards or away from
    # the edge, depending on the mode); there, use the unblurred map instead.
    r3 = int(np.ceil(3 * sigma))
    near = (px < r3) | (px > w - 1 - r3) | (py < r3) | (py > h - 1 - r3)
    blurred[near] = maps[near]
    logm = np.log(np.maximum(blurred, 1e-10))
    du = np.zeros(n)
    dv = np.zeros(n)
    ok = (px >= 1) & (px <= w - 2) & (py >= 1) & (py <= h - 2) & (peak.reshape(n) > 0)
    if not ok.any():
        return du, dv
    i = np.nonzero(ok)[0]
    x, y = px[i], py[i]
    L = logm[i]
    r = np.arange(len(i))
    c = L[r, y, x]
    gx = 0.5 * (L[r, y, x + 1] - L[r, y, x - 1])
    gy = 0.5 * (L[r, y + 1, x] - L[r, y - 1, x])
    hxx = L[r, y, x + 1] - 2 * c + L[r, y, x - 1]
    hyy = L[r, y + 1, x] - 2 * c + L[r, y - 1, x]
    hxy = 0.25 * (L[r, y + 1, x + 1] - L[r, y + 1, x - 1] - L[r, y - 1, x + 1] + L[r, y - 1, x - 1])
    det = hxx * hyy - hxy * hxy
    # Only a concave (negative-definite) neighbourhood has a maximum to step to.
    good = (det > 1e-12) & (hxx < 0)
    safe = np.where(good, det, 1.0)
    ox = -(hyy * gx - hxy * gy) / safe
    oy = -(hxx * gy - hxy * gx) / safe
    ox = np.where(good, np.clip(ox, -1.0, 1.0), 0.0)
    oy = np.where(good, np.clip(oy, -1.0, 1.0), 0.0)
    du[i], dv[i] = ox, oy
    return du, dv


def decode_composite(
    heatmaps: np.ndarray, offsets: np.ndarray, stride: int, target: str = "gaussian"
) -> np.ndarray:
    """Decode CLNet outputs to keypoints (B, J, 3): x, y in input pixels, score.

    ``heatmaps`` (B, J, h, w) cell scores; ``offsets`` (B, 2J, h, w) with
    channels (x_0, y_0, x_1, y_1, ...) in cell units. Position = (argmax cell +
    offset at that cell, clipped to [0, 1]) * stride. The score is the heatmap
    value at the cell ("gaussian") or its spatial-softmax probability ("onehot").
    """
    hm = _to_numpy(heatmaps, "heatmaps")
    off = _to_numpy(offsets, "offsets")
    if hm.ndim != 4:
        raise InputError(f"heatmaps: expected shape (B, J, h, w), got {hm.shape}")
    b, j, h, w = hm.shape
    if off.shape != (b, 2 * j, h, w):
        raise InputError(f"offsets: expected shape {(b, 2 * j, h, w)} for heatmaps {hm.shape}, got {off.shape}")
    if target not in ("gaussian", "onehot"):
        raise InputError(f"target: unknown cell target {target!r}; known: gaussian, onehot")
    flat = hm.reshape(b * j, h * w).astype(np.float64)
    idx = flat.argmax(axis=1)
    n = np.arange(b * j)
    if target == "onehot":
        z = flat - flat.max(axis=1, keepdims=True)
        score = np.exp(z[n, idx]) / np.exp(z).sum(axis=1)
    else:
        score = flat[n, idx]
    o = off.reshape(b * j, 2, h * w)
    ox = np.clip(o[n, 0, idx], 0.0, 1.0)
    oy = np.clip(o[n, 1, idx], 0.0, 1.0)
    x = ((idx % w) + ox) * stride
    y = ((idx // w) + oy) * stride
    return np.stack([x, y, score], axis=-1).reshape(b, j, 3).astype(np.float32)


# --------------------------------------------------------------------------- codecs


class Codec:
    """Base class: ``encode`` one sample, ``decode`` a batch, ``loss`` on a batch.

    Targets are per-sample numpy dicts; the trainer stacks them along a new
    batch axis (``torch.from_numpy``) before calling :meth:`loss`.
    """

    output_keys: tuple[str, ...] = ("heatmaps",)

    def __init__(self, input_size: tuple[int, int], stride: int, num_keypoints: int) -> None:
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.stride = int(stride)
        self.num_keypoints = int(num_keypoints)
        self.heatmap_size = (self.input_size[0] // self.stride, self.input_size[1] // self.stride)

    @property
    def output_channels(self) -> dict[str, int]:
        """Channels of each raw output the network must produce, in order."""
        return {"heatmaps": self.num_keypoints}

    def encode(self, keypoints: np.ndarray) -> dict[str, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def decode(self, outputs: Mapping[str, Any]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def loss(self, outputs: Mapping[str, Any], targets: Mapping[str, Any]):  # pragma: no cover - abstract
        raise NotImplementedError

    def _grid(self) -> tuple[np.ndarray, np.ndarray]:
        h, w = self.heatmap_size
        return np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64)


def _gaussians(cx: np.ndarray, cy: np.ndarray, xs: np.ndarray, ys: np.ndarray, sigma: float) -> np.ndarray:
    """(J, h, w) unnormalised Gaussians (peak 1) centred at (cx, cy), separable."""
    gx = np.exp(-((xs[None, :] - cx[:, None]) ** 2) / (2 * sigma**2))
    gy = np.exp(-((ys[None, :] - cy[:, None]) ** 2) / (2 * sigma**2))
    return gy[:, :, None] * gx[:, None, :]


def _require(targets: Mapping[str, Any], key: str):
    if key not in targets:
        raise InputError(f"targets: missing {key!r} (have {', '.join(targets) or 'nothing'})")
    return targets[key]


def _weighted_sse(pred, gt, weights):
    """Per-joint sum of squared errors over pixels, averaged over labelled joints.

    pred, gt (B, J, h, w); weights (B, J). Summing (not averaging) over pixels
    keeps the term's scale independent of the heatmap resolution's sparsity.
    """
    per_joint = ((pred - gt) ** 2).flatten(2).sum(-1)
    return (per_joint * weights).sum() / weights.sum().clamp(min=1.0)


class GaussianHeatmapCodec(Codec):
    """Dense Gaussian heatmaps at ``stride``; targets ``heatmaps`` (J, h, w), ``weights`` (J,)."""

    output_keys = ("heatmaps",)

    def __init__(
        self, input_size: tuple[int, int], stride: int, num_keypoints: int, sigma: float = 2.0, refine: str = "dark"
    ) -> None:
        super().__init__(input_size, stride, num_keypoints)
        self.sigma = float(sigma)
        self.refine = refine

    def encode(self, keypoints: np.ndarray) -> dict[str, np.ndarray]:
        """keypoints (J, 3) x, y in input pixels, visibility -> heatmaps (J, h, w), weights (J,)."""
        k = _check_keypoints(keypoints, self.num_keypoints)
        ok = _labelled(k, self.input_size)
        xs, ys = self._grid()
        cx = np.where(ok, k[:, 0], 0.0) / self.stride
        cy = np.where(ok, k[:, 1], 0.0) / self.stride
        hm = _gaussians(cx, cy, xs, ys, self.sigma) * ok[:, None, None]
        return {"heatmaps": hm.astype(np.float32), "weights": ok.astype(np.float32)}

    def decode(self, outputs: Mapping[str, Any]) -> np.ndarray:
        """outputs["heatmaps"] (B, J, h, w) -> (B, J, 3)."""
        return decode_heatmaps(_get(outputs, "heatmaps"), self.stride, self.sigma, self.refine)

    def loss(self, outputs: Mapping[str, Any], targets: Mapping[str, Any]):
        """Weighted heatmap SSE. Returns (scalar tensor, {"loss_heatmap": float})."""
        w = _require(targets, "weights").to(outputs["heatmaps"].dtype)
        hm = _weighted_sse(outputs["heatmaps"], _require(targets, "heatmaps").to(w.dtype), w)
        return hm, {"loss_heatmap": float(hm.detach())}


class CompositeCodec(Codec):
    """CLNet composite localisation: sparse cell heatmap + in-cell (x, y) offsets.

    Targets per sample: ``heatmaps`` (J, h, w) cell map, ``offsets`` (J, 2) the
    in-cell offset in [0, 1), ``cells`` (J,) int64 flat cell index ``cy * w + cx``,
    ``weights`` (J,). Network outputs: ``heatmaps`` (B, J, h, w) and ``offsets``
    (B, 2J, h, w), channels (x_0, y_0, x_1, y_1, ...).
    """

    output_keys = ("heatmaps", "offsets")

    def __init__(
        self,
        input_size: tuple[int, int],
        stride: int,
        num_keypoints: int,
        target: str = "gaussian",
        cell_sigma: float = 1.0,
        offset_weight: float = 1.0,
    ) -> None:
        super().__init__(input_size, stride, num_keypoints)
        if target not in ("gaussian", "onehot"):
            raise InputError(f"composite target: unknown {target!r}; known: gaussian, onehot")
        self.target = target
        self.cell_sigma = float(cell_sigma)
        self.offset_weight = float(offset_weight)

    @property
    def output_channels(self) -> dict[str, int]:
        return {"heatmaps": self.num_keypoints, "offsets": 2 * self.num_keypoints}

    def encode(self, keypoints: np.ndarray) -> dict[str, np.ndarray]:
        """keypoints (J, 3) -> heatmaps (J, h, w), offsets (J, 2), cells (J,), weights (J,)."""
        k = _check_keypoints(keypoints, self.num_keypoints)
        ok = _labelled(k, self.input_size)
        h, w = self.heatmap_size
        u = np.where(ok, k[:, 0], 0.0) / self.stride
        v = np.where(ok, k[:, 1], 0.0) / self.stride
        # floor: cell c covers input pixels [c*stride, (c+1)*stride); clip guards
        # the float edge case u == w - tiny rounding up.
        cx = np.clip(np.floor(u), 0, w - 1)
        cy = np.clip(np.floor(v), 0, h - 1)
        offsets = np.stack([u - cx, v - cy], axis=1) * ok[:, None]
        if self.target == "onehot":
            hm = np.zeros((self.num_keypoints, h, w))
            hm[np.arange(self.num_keypoints), cy.astype(int), cx.astype(int)] = 1.0
        else:
            xs, ys = self._grid()
            hm = _gaussians(cx, cy, xs, ys, self.cell_sigma)
        hm = hm * ok[:, None, None]
        cells = (cy * w + cx).astype(np.int64) * ok
        return {
            "heatmaps": hm.astype(np.float32),
            "offsets": offsets.astype(np.float32),
            "cells": cells.astype(np.int64),
            "weights": ok.astype(np.float32),
        }

    def decode(self, outputs: Mapping[str, Any]) -> np.ndarray:
        """outputs["heatmaps"] (B, J, h, w), outputs["offsets"] (B, 2J, h, w) -> (B, J, 3)."""
        return decode_composite(_get(outputs, "heatmaps"), _get(outputs, "offsets"), self.stride, self.target)

    def loss(self, outputs: Mapping[str, Any], targets: Mapping[str, Any]):
        """Cell-heatmap loss + lambda * L1 on the offsets at the ground-truth cell only.

        Returns (scalar tensor, {"loss_heatmap", "loss_offset"} floats).
        """
        import torch.nn.functional as F

        pred_hm, pred_off = outputs["heatmaps"], outputs["offsets"]
        w = _require(targets, "weights").to(pred_hm.dtype)
        cells = _require(targets, "cells").long()
        b, j = pred_hm.shape[:2]
        denom = w.sum().clamp(min=1.0)
        if self.target == "onehot":
            # "Which cell" is a classification over the h*w cells.
            ce = F.cross_entropy(pred_hm.flatten(2).reshape(b * j, -1), cells.reshape(-1), reduction="none")
            hm_loss = (ce.reshape(b, j) * w).sum() / denom
        else:
            hm_loss = _weighted_sse(pred_hm, _require(targets, "heatmaps").to(w.dtype), w)
        off = pred_off.reshape(b, j, 2, -1)
        picked = off.gather(3, cells[:, :, None, None].expand(b, j, 2, 1)).squeeze(3)  # (B, J, 2)
        l1 = (picked - _require(targets, "offsets").to(w.dtype)).abs().mean(-1)
        off_loss = (l1 * w).sum() / denom
        total = hm_loss + self.offset_weight * off_loss
        return total, {"loss_heatmap": float(hm_loss.detach()), "loss_offset": float(off_loss.detach())}


class CoordinateCodec(Codec):
    """Direct coordinate regression (no heatmap): targets ``coords`` (J, 2) in [0, 1] of the input
    (x / W, y / H) and ``weights`` (J,); network output ``coords`` (B, J, 2); loss L1 over labelled
    joints. The score of a decoded joint is 1 (a regressor has no confidence of its own).
    Used as the "direct regression" ablation of Flowing ConvNets."""

    output_keys = ("coords",)

    @property
    def output_channels(self) -> dict[str, int]:
        return {"coords": 2 * self.num_keypoints}

    def encode(self, keypoints: np.ndarray) -> dict[str, np.ndarray]:
        k = _check_keypoints(keypoints, self.num_keypoints)
        ok = _labelled(k, self.input_size)
        h, w = self.input_size
        coords = np.where(ok[:, None], k[:, :2] / np.array([w, h]), 0.0)
        return {"coords": coords.astype(np.float32), "weights": ok.astype(np.float32)}

    def decode(self, outputs: Mapping[str, Any]) -> np.ndarray:
        c = _get(outputs, "coords")
        if c.ndim != 3 or c.shape[1:] != (self.num_keypoints, 2):
            raise InputError(f"outputs['coords']: expected (B, {self.num_keypoints}, 2), got {c.shape}")
        h, w = self.input_size
        xy = c * np.array([w, h], np.float32)
        return np.concatenate([xy, np.ones(xy.shape[:2] + (1,), np.float32)], axis=-1)

    def loss(self, outputs: Mapping[str, Any], targets: Mapping[str, Any]):
        w = _require(targets, "weights").to(outputs["coords"].dtype)
        l1 = (outputs["coords"] - _require(targets, "coords").to(w.dtype)).abs().sum(-1)
        loss = (l1 * w).sum() / w.sum().clamp(min=1.0)
        return loss, {"loss_coords": float(loss.detach())}
