"""Temporal refinement stages (``vidpose run --refine NAME[,NAME...]``).

A refine stage changes the 2D keypoints of tracked people, in the estimator's
native skeleton, and may read each person's heatmaps (``PersonPose.heatmaps``,
``(h, w, K)``; attached only when a chosen refine stage ``needs`` them). Stages
that need future frames buffer in ``refine`` and flush in ``flush``. The last
refine stage of a run frees the heatmaps of the frames it passes on.

``REFINERS`` holds the choices: ``none``, the classic filters (``one-euro``,
``butterworth``) and the flow-warped heatmap pooling of Flowing ConvNets
(``flow-online``, ``flow-offline``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from vidpose.errors import InputError
from vidpose.stages.base import Stage, StageChoice
from vidpose.types import FramePoses, PersonPose


class RefineStage(Stage):
    """Base of the refine stages: override ``refine`` (and ``flush`` when buffering)."""

    name = "refine"
    release_heatmaps = False  # set on the last refine stage of a run

    def __call__(self, frame: FramePoses) -> None:
        """A per-frame refiner changes ``frame.persons`` here (the base changes nothing)."""

    def refine(self, frame: FramePoses) -> list[FramePoses]:
        self(frame)
        return [frame]

    def flush(self) -> list[FramePoses]:
        return []

    def process(self, frame: FramePoses) -> list[FramePoses]:
        return self._release(self.refine(frame))

    def finish(self) -> list[FramePoses]:
        return self._release(self.flush())

    def _release(self, frames: list[FramePoses]) -> list[FramePoses]:
        if self.release_heatmaps:
            for f in frames:
                for p in f.persons:
                    p.heatmaps = None
        return frames


REFINERS: dict[str, StageChoice] = {
    "none": StageChoice("none", "no temporal refinement"),
}


# --- shared: frames delayed by a window, tracks by id ------------------------------------------

class WindowStage(RefineStage):
    """A refine stage that sees ``past`` frames before and ``future`` frames after the frame it
    refines (offline stages: future > 0, delaying the output by ``future`` frames; online: 0).

    Subclasses implement ``refine_frame(window, i)``: refine ``window[i]`` in place, where
    ``window`` is the list of held frames (oldest first). Frames keep their images while held.
    """

    past = 0
    future = 0

    def __init__(self) -> None:
        self.window: list[FramePoses] = []
        self.pending = 0  # index in window of the next frame to refine

    def refine(self, frame: FramePoses) -> list[FramePoses]:
        self.window.append(frame)
        out = []
        while self.pending < len(self.window) and len(self.window) - 1 - self.pending >= self.future:
            out.append(self._emit())
        return out

    def flush(self) -> list[FramePoses]:
        out = []
        while self.pending < len(self.window):
            out.append(self._emit())
        self.window.clear()
        self.pending = 0
        return out

    def _emit(self) -> FramePoses:
        i = self.pending
        self.refine_frame(self.window, i)
        frame = self.window[i]
        self.pending += 1
        drop = max(0, self.pending - self.past)  # keep only the past frames a later frame may need
        if drop:
            del self.window[:drop]
            self.pending -= drop
        return frame

    def refine_frame(self, window: list[FramePoses], i: int) -> None:
        raise NotImplementedError


def _person(frame: FramePoses, track_id) -> PersonPose | None:
    if track_id is None:
        return None
    for p in frame.persons:
        if p.track_id == track_id:
            return p
    return None


# --- classic filters -----------------------------------------------------------------------------

class OneEuro:
    """One-Euro filter (Casiez, Roussel, Vogel, CHI 2012) of arrays keyed by track: an online, adaptive
    low-pass whose cut-off rises with speed. ``filter(key, time, x)`` returns the filtered ``x``; a key
    unseen for more than ``reset_after`` seconds (or seen at a time not after its last) starts over.
    Shared by the ``one-euro`` refine stage (2D) and the ``blazepose-online`` lift stage (world landmarks)."""

    def __init__(self, min_cutoff: float, beta: float, d_cutoff: float = 1.0, reset_after: float = 0.5) -> None:
        self.min_cutoff, self.beta, self.d_cutoff, self.reset_after = min_cutoff, beta, d_cutoff, reset_after
        self.state: dict = {}  # key -> (time, x, dx)

    @staticmethod
    def _alpha(cutoff, dt):
        tau = 1.0 / (2 * np.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def filter(self, key, time: float, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        if not np.isfinite(x).all():  # passed on; the next finite value starts over
            self.state.pop(key, None)
            return x
        prev = self.state.get(key)
        if prev is None or not (0 < time - prev[0] <= self.reset_after):
            self.state[key] = (time, x, np.zeros_like(x))
            return x
        t0, x0, dx0 = prev
        dt = time - t0
        dx = (x - x0) / dt
        a_d = self._alpha(self.d_cutoff, dt)
        dx_hat = a_d * dx + (1 - a_d) * dx0
        cutoff = self.min_cutoff + self.beta * np.abs(dx_hat)
        a = self._alpha(cutoff, dt)
        x_hat = a * x + (1 - a) * x0
        self.state[key] = (time, x_hat, dx_hat)
        return x_hat


class OneEuroStage(RefineStage):
    """One-Euro filter (:class:`OneEuro`) per track and image coordinate: online, no delay."""

    name = "one-euro"

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0,
                 reset_after: float = 0.5) -> None:
        self.filter = OneEuro(min_cutoff, beta, d_cutoff, reset_after)

    def __call__(self, frame: FramePoses) -> None:
        for p in frame.persons:
            if p.track_id is None:
                continue
            x_hat = self.filter.filter(p.track_id, frame.time, p.keypoints[:, :2])
            p.keypoints = p.keypoints.copy()
            p.keypoints[:, :2] = x_hat


class ButterworthStage(WindowStage):
    """Zero-phase Butterworth low-pass per track and coordinate (as Sports2D users know it), run
    forward and backward (``scipy.signal.filtfilt``) over a centred window of ±``half`` frames, so
    the output is delayed by ``half`` frames but has no lag. ``cutoff`` in Hz at the video's rate."""

    name = "butterworth"

    def __init__(self, cutoff: float = 6.0, order: int = 2, half: int = 15) -> None:
        import scipy.signal  # noqa: F401  (half a second: when the stage is built, not on a frame)

        super().__init__()
        self.cutoff, self.order = cutoff, order
        self.past = self.future = half

    def refine(self, frame: FramePoses) -> list[FramePoses]:
        for p in frame.persons:  # filter the estimates, never already-filtered values
            p.extra["raw_xy"] = p.keypoints[:, :2].astype(np.float64)
        return super().refine(frame)

    def refine_frame(self, window: list[FramePoses], i: int) -> None:
        for p, value in zero_phase_window(window, i, "raw_xy", self.cutoff, self.order):
            p.keypoints = p.keypoints.copy()
            p.keypoints[:, :2] = value


def zero_phase_window(window: list[FramePoses], i: int, key: str, cutoff: float, order: int):
    """Zero-phase Butterworth low-pass (``scipy.signal.filtfilt``, ``cutoff`` Hz at the frames' own
    rate) of the array each person keeps in ``extra[key]``, over its track's consecutive frames in
    ``window``: yields (person, filtered value) for the persons of ``window[i]`` whose run is long
    enough to filter and finite (the others keep their estimate). Shared by the Butterworth refine
    stage (2D) and the ``blazepose-smooth`` lift stage (world landmarks)."""
    dts = np.diff([f.time for f in window])
    fps = 1.0 / float(np.median(dts)) if len(dts) and np.median(dts) > 0 else 30.0
    wn = min(0.99, cutoff / (fps / 2))
    pad = 3 * (order + 1)  # filtfilt's default padding: 3 x the length of the filter's coefficients
    for p in window[i].persons:
        run = track_run(window, i, p.track_id)  # the track's consecutive frames through i
        if len(run) <= pad:
            continue  # too short to filter: left as estimated
        series = np.stack([q.extra[key] for q in run])
        if not np.isfinite(series).all():
            continue
        centre = next(k for k, q in enumerate(run) if q is p)
        yield p, np.tensordot(_zero_phase_weights(order, wn, len(run), centre), series, axes=(0, 0))


@functools.lru_cache(maxsize=512)
def _zero_phase_weights(order: int, wn: float, length: int, centre: int) -> np.ndarray:
    """filtfilt is linear in its input (odd-extension padding, initial state scaled by the first
    sample), so its output at ``centre`` of a ``length``-sample series is a fixed weighting of the
    samples: this row, computed once by filtering the identity, then one dot product per frame."""
    from scipy.signal import butter, filtfilt

    b, a = butter(order, wn)
    w = filtfilt(b, a, np.eye(length), axis=0)[centre]
    w.flags.writeable = False
    return w


def track_run(window: list[FramePoses], i: int, track_id) -> list[PersonPose]:
    """The persons of ``track_id`` in the consecutive frames of ``window`` around frame i that
    contain it (a frame without it ends the run)."""
    run: list[PersonPose] = []
    for k in range(i, -1, -1):
        q = _person(window[k], track_id)
        if q is None:
            break
        run.insert(0, q)
    for k in range(i + 1, len(window)):
        q = _person(window[k], track_id)
        if q is None:
            break
        run.append(q)
    return run


# --- Flowing ConvNets' temporal pooling on the estimator's heatmaps -------------------------------

def _probabilities(maps: np.ndarray, logits: bool) -> np.ndarray:
    m = np.asarray(maps, np.float32)
    if not logits:
        return np.clip(m, 0.0, 1.0)
    out = np.clip(m, -30, 30)  # the sigmoid, in place on one new array
    np.negative(out, out=out)
    np.exp(out, out=out)
    out += 1.0
    return np.reciprocal(out, out=out)


_CENTROID = 3  # the decoding refines a peak by the mean over ±this many heatmap cells


def _stack(maps: np.ndarray) -> np.ndarray:
    """(h, w, K) maps as one (K·h, w) float32 image, channel c in rows c·h..c·h+h-1 (for :func:`_bilinear`)."""
    h, w, k = maps.shape
    return np.ascontiguousarray(np.asarray(maps, np.float32).transpose(2, 0, 1)).reshape(k * h, w)


def _bilinear(stack: np.ndarray, h: int, points: np.ndarray, channels: np.ndarray) -> np.ndarray:
    """Maps stacked by :func:`_stack` (K·h rows) sampled bilinearly at points (P, 2) x, y, each in its
    own channel (P,) -> (P,), in one ``cv2.remap`` (interpolation weights in 1/32 of a cell); points
    off the map read its nearest border (callers mask them)."""
    import cv2

    w = stack.shape[1]
    pts = np.asarray(points, np.float32)
    x = np.clip(pts[:, 0], 0, w - 1)
    y = np.clip(pts[:, 1], 0, h - 1) + (np.asarray(channels) * h).astype(np.float32)
    return cv2.remap(stack, x.reshape(-1, 1), y.reshape(-1, 1), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE).reshape(-1)


@functools.lru_cache(maxsize=8)
def _interpolation(n: int, m: int) -> np.ndarray:
    """(n, m) weights that linearly interpolate m evenly spaced samples to n evenly spaced points
    over the same span (the identity when n == m)."""
    pos = np.linspace(0, m - 1, n)
    i0 = np.minimum(np.floor(pos).astype(int), max(m - 2, 0))
    f = pos - i0
    out = np.zeros((n, m))
    out[np.arange(n), i0] += 1 - f
    if m > 1:
        out[np.arange(n), i0 + 1] += f
    out.flags.writeable = False
    return out


def heatmap_to_image(person: PersonPose) -> np.ndarray:
    """(2, 3) affine from a person's heatmap grid to image pixels (heatmap sample j is crop pixel
    j * stride, the convention of BlazePose and of vidpose's codecs)."""
    m = np.asarray(person.extra["crop_affine"], np.float64)  # crop -> image
    stride = float(person.extra.get("heatmap_stride", 256.0 / person.heatmaps.shape[1]))
    return np.concatenate([m[:, :2] * stride, m[:, 2:]], axis=1)


# Learned pooling weights shipped in vidpose/weights, by (skeleton, n); made by
# ``python -m vidpose.bench.flowing learn-pooling`` (the command is recorded in each file).
POOLING_FILES: dict[tuple[str, int], str] = {
    ("blazepose33", 3): "flow_pooling_blazepose33_n3.safetensors",
}


def shipped_pooling_path(skeleton: str, n: int):
    """The shipped pooling-weights file for this skeleton and n, or None when none is shipped."""
    from pathlib import Path

    name = POOLING_FILES.get((skeleton, int(n)))
    if name is None:
        return None
    path = Path(__file__).resolve().parent.parent / "weights" / name
    return path if path.exists() else None


def read_pooling(path, skeleton: str, n: int) -> np.ndarray:
    """(K, 2n+1) pooling weights from a safetensors file, checked against the skeleton and n."""
    from safetensors import safe_open

    from vidpose.skeletons import get_skeleton

    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            w = f.get_tensor("pool_weights")
    except FileNotFoundError:
        raise InputError(f"{path}: pooling weights file not found") from None
    except Exception as e:  # safetensors raises its own types for short or corrupt files
        raise InputError(f"{path}: not a readable pooling-weights file (truncated or corrupt?): {e}") from None
    k = get_skeleton(skeleton).num_keypoints
    if meta.get("skeleton") != skeleton or w.shape != (k, 2 * int(n) + 1):
        raise InputError(f"{path}: pooling weights for skeleton {meta.get('skeleton')!r} with shape {tuple(w.shape)}; "
                         f"needed {skeleton!r} with shape ({k}, {2 * int(n) + 1})")
    if not np.isfinite(w).all() or (w < 0).any():
        raise InputError(f"{path}: pooling weights must be finite and non-negative")
    return w.astype(np.float64)


def fuse_points(points: list[np.ndarray], weights: list[np.ndarray], eps: float) -> tuple[np.ndarray, np.ndarray]:
    """The weighted mean (K, 2) of several estimates (K, 2) of the same K points (e.g. a frame's
    keypoints and its neighbours' carried to it along the flow), each with per-point weights (K,),
    and where it is defined (K,): total weight > ``eps`` (elsewhere the mean is meaningless)."""
    acc, tot = np.zeros((len(weights[0]), 2)), np.zeros(len(weights[0]))
    for y, wt in zip(points, weights):
        acc += y * wt[:, None]
        tot += wt
    ok = tot > eps
    return acc / np.where(ok, tot, 1.0)[:, None], ok


@dataclass
class _Seen:
    """What the flow stage keeps of one person in one frame (frames passed on are changed by later
    stages, so the stage keeps its own copies)."""

    keypoints: np.ndarray  # (K, 3) native skeleton, image pixels (left/right as decided, before pooling)
    probs: np.ndarray | None  # (h, w, K) heatmap probabilities, left/right as decided
    to_img: np.ndarray | None  # (2, 3) heatmap grid -> image
    raw: np.ndarray | None = None  # (K, 3) the estimator's keypoints (before any left/right swap)
    raw_probs: np.ndarray | None = None
    perm: np.ndarray | None = None  # the left/right permutation applied to raw (None: identity)
    from_img: np.ndarray | None = None  # (2, 3) image -> heatmap grid (the inverse of to_img)
    _stacked: np.ndarray | None = None  # probs as one (K·h, w) image, made on first use

    def stacked(self) -> np.ndarray:
        if self._stacked is None:
            self._stacked = _stack(self.probs)
        return self._stacked

    def __post_init__(self) -> None:
        from vidpose.geometry import invert_affine

        self.raw, self.raw_probs = self.keypoints, self.probs
        self.from_img = invert_affine(self.to_img) if self.to_img is not None else None

    def set_perm(self, perm: np.ndarray) -> None:
        """Apply the left/right permutation ``perm`` (K,) to the raw keypoints and heatmaps."""
        if (perm == np.arange(len(perm))).all():
            perm = None
        if perm is None and self.perm is None or perm is not None and self.perm is not None and (perm == self.perm).all():
            return
        self.perm, self._stacked = perm, None
        self.keypoints = self.raw if perm is None else self.raw[perm]
        if self.raw_probs is not None:
            self.probs = self.raw_probs if perm is None else self.raw_probs[..., perm]


class _SideChain:
    """Left/right states of one body part of one track, chosen by dynamic programming (Viterbi):
    state 1 = the estimator's left and right swapped. A swapped frame costs ``swap_cost``; going from
    frame t-1 to t costs the mean distance (in person sizes) between frame t's joints carried back
    along the flow and frame t-1's joints, compared as the two states say (same sides when both
    states agree, swapped sides otherwise). Costs use the estimator's raw joints only, so a wrong
    decision never feeds later ones; a swap held against the evidence of the raw joints gets dearer
    with every frame (no self-confirming chains)."""

    def __init__(self, first: int, swap_cost: float) -> None:
        self.swap_cost = swap_cost
        self.last = first
        self.cost = np.array([0.0, swap_cost])
        self.back: dict[int, np.ndarray] = {}  # frame -> best previous state for each state

    def step(self, t: int, same: float, swapped: float) -> None:
        """Frame t (= last + 1) with the transition distances ``same`` and ``swapped`` (0 and 0 when
        there is no evidence)."""
        stay = self.cost + np.array([same, same])  # previous state == state
        cross = self.cost[::-1] + np.array([swapped, swapped])  # previous state != state
        best = np.where(stay <= cross, np.array([0, 1]), np.array([1, 0]))
        self.cost = np.minimum(stay, cross) + np.array([0.0, self.swap_cost])
        self.cost -= self.cost.min()
        self.back[t] = best
        self.last = t
        for old in [f for f in self.back if f < t - 64]:
            del self.back[old]

    def states(self, since: int) -> dict[int, int]:
        """The best path's states of frames max(since, chain start)..last."""
        s = int(np.argmin(self.cost))
        out = {self.last: s}
        f = self.last
        while f > since and f in self.back:
            s = int(self.back[f][s])
            f -= 1
            out[f] = s
        return out


class FlowRefineStage(WindowStage):
    """Flow-warped heatmap pooling on the estimator's own heatmaps (the Flowing ConvNets idea applied
    to a pretrained per-frame model), with left/right consistency.

    For frame t and each tracked person: the heatmap cells of frame t around each joint's estimate
    (a window of ±(search+3) cells, all the decoding reads) are traced along the dense flow
    (:mod:`vidpose.flow`, computed once per frame pair for all people; the backward flow is the
    inverted forward one unless ``backward_flow="estimate"``; with ``flow_regions`` only around the
    people of each frame pair; only a ``lattice`` x ``lattice`` grid of each window is traced, the
    cells in between interpolated) into the frames t±1..t±n, where the
    same track's heatmaps are sampled (each neighbour in its own ROI); the 2n+1 maps are pooled per
    joint with weights (K, 2n+1): ``pool_weights`` if given, else the learned ones shipped for the
    skeleton (``pooling="learned"``, see :data:`POOLING_FILES`), else a Gaussian in |Δt|; each
    joint moves to the pooled map's confidence-weighted peak near its current estimate; then each joint
    is fused with the same track's joints of frames t±1..t±``fuse_n`` carried to frame t along the
    flow (``propagate``). ``online`` uses past frames only (no delay); offline uses a centred window
    (output delayed by max(n, fuse_n, side_lag) frames: 8 by default).

    Left/right consistency: before pooling, each body part (face, arms, legs) of a frame whose
    left/right joints match the previous frame (followed along the flow) better when swapped is
    swapped back, keypoints and heatmaps (a per-frame model often swaps the legs alone).
    """

    # Offline keypoint fusion over ±5 frames (σ 2.5): chosen on the synth-single and synth-crowd *val*
    # clips (docs/flowing.md: ±3 / ±5 / ±6 / ±8 compared); it lowers jitter by a fifth for ~2 % more error.
    OFFLINE_FUSE_N = 5

    def __init__(self, n: int = 3, online: bool = False, pool_weights: np.ndarray | None = None,
                 flow=None, left_right: bool = True, search: int = 4, min_confidence: float = 0.2,
                 propagate: bool = True, pooling: str = "learned", backward_flow: str = "invert",
                 flow_regions: bool = True, lattice: int = 5, swap_cost: float = 0.03, side_lag: int = 8,
                 fuse_n: int | None = None, fuse_sigma: float | None = None) -> None:
        from vidpose.flow import FlowCache, FlowConfig, FlowEstimator

        super().__init__()
        self.n, self.online = int(n), bool(online)
        self.name = "flow-online" if online else "flow-offline"
        # offline, a frame is refined once the frames up to n (pooling) and side_lag (left/right) after it are seen
        # the keypoint fusion's half-window and its Gaussian's σ in frames (default: OFFLINE_FUSE_N
        # offline, within the left/right delay; n online, where every frame more is a frame of lag; σ half of it)
        self.fuse_n = (self.n if self.online else self.OFFLINE_FUSE_N) if fuse_n is None else int(fuse_n)
        self.fuse_sigma = max(self.fuse_n / 2.0, 0.5) if fuse_sigma is None else float(fuse_sigma)
        self.past, self.future = 0, (0 if online else max(self.n, self.fuse_n, int(side_lag)))
        self.cache = FlowCache(FlowEstimator(flow or FlowConfig(preset="fast", scale=1.0, max_side=480)),
                               size=self.future + max(self.n, self.fuse_n) + 2,
                               backward=backward_flow)
        if pooling not in ("learned", "gaussian"):
            raise InputError(f"flow refinement: pooling must be 'learned' or 'gaussian', got {pooling!r}")
        self.pool_weights, self.pooling = pool_weights, pooling
        self.pooling_source = "given" if pool_weights is not None else None  # set on first use
        self.left_right, self.search, self.min_confidence = bool(left_right), int(search), float(min_confidence)
        self.propagate = bool(propagate)
        self.flow_regions = bool(flow_regions)  # flow only around the people of each frame pair
        self.lattice = int(lattice)  # points per side of each window traced along the flow (0: all)
        self.seen: dict[int, dict] = {}  # frame index -> {track id: _Seen}
        self.swap_cost = float(swap_cost)  # per swapped frame and body part, in person sizes per joint
        self.chains: dict[tuple, _SideChain] = {}  # (track id, body part) -> its left/right states
        self.swaps = 0  # frames whose left/right assignment was undone (run statistics, tests)
        self.part_swaps: dict[str, int] = {}  # the same per body part (face, arms, legs)

    def refine(self, frame: FramePoses) -> list[FramePoses]:
        if frame.image is None:
            raise RuntimeError(f"{self.name}: frame {frame.index} has no image (the flow needs it)")
        self.cache.add(frame.index, frame.gray if frame.gray is not None else frame.image,  # the decoder's luma: no conversion
                       regions=[p.bbox for p in frame.persons] if self.flow_regions else None)
        logits = frame.skeleton.name == "blazepose33"
        k = frame.skeleton.num_keypoints
        self.seen[frame.index] = {
            p.track_id: _Seen(p.keypoints.copy(),
                              _probabilities(p.heatmaps[..., :k], logits) if p.heatmaps is not None else None,
                              heatmap_to_image(p) if p.heatmaps is not None and "crop_affine" in p.extra else None)
            for p in frame.persons if p.track_id is not None
        }
        if self.left_right:
            self._left_right(frame)
        for old in [i for i in self.seen if i < frame.index - self.future - max(self.n, self.fuse_n) - 1]:
            del self.seen[old]
        return super().refine(frame)

    # -- left/right --

    def _left_right(self, frame: FramePoses) -> None:
        """Left/right states per track and body part (face, arms, legs: :meth:`Skeleton.flip_groups`)
        by :class:`_SideChain`, from the estimator's raw joints of frame t carried back to frame t-1
        along the flow. Offline, the states of frames t-n..t come from the best path up to frame t
        (frame t-n is the one refined next; its neighbours get the same path's states); online,
        frame t's state is the best path's last."""
        groups = frame.skeleton.flip_groups()
        if not groups:
            return
        from vidpose.flow import warp_points

        t, k = frame.index, frame.skeleton.num_keypoints
        prev = self.seen.get(t - 1, {})
        back = None
        for tid, me in self.seen[t].items():
            q = prev.get(tid)
            if q is not None and back is None:
                back = self.cache.get_scaled(t, t - 1)  # frame t -> t-1
            here = warp_points(me.raw[:, :2], back) if q is not None else None
            size = max(float(np.ptp(q.raw[:, 0])), float(np.ptp(q.raw[:, 1])), 1.0) if q is not None else 1.0
            for part, pairs in groups.items():
                chain = self.chains.get((tid, part))
                if q is None or chain is None or chain.last != t - 1:
                    self.chains[(tid, part)] = _SideChain(t, self.swap_cost)  # a new chain: no evidence yet
                    continue
                sided = pairs.reshape(-1)  # a0, b0, a1, b1, ...
                other = pairs[:, ::-1].reshape(-1)  # b0, a0, b1, a1, ...
                ok = (me.raw[sided, 2] > 0.3) & (q.raw[sided, 2] > 0.3)
                if ok.sum() < 4:
                    chain.step(t, 0.0, 0.0)
                    continue
                same = np.linalg.norm(here[sided] - q.raw[sided, :2], axis=1)[ok].mean() / size
                swapped = np.linalg.norm(here[other] - q.raw[sided, :2], axis=1)[ok].mean() / size
                chain.step(t, float(same), float(swapped))
        for old in [key for key, c in self.chains.items() if c.last < t - 2 * self.n - 2]:
            del self.chains[old]
        # the states of frames t - future .. t, as the best paths say now
        since = t - self.future
        paths = {key: c.states(since) for key, c in self.chains.items() if c.last >= since}  # ended tracks too
        for f in range(since, t + 1):
            for tid, me in self.seen.get(f, {}).items():
                perm = np.arange(k)
                for part, pairs in groups.items():
                    if paths.get((tid, part), {}).get(f, 0):
                        perm[pairs.reshape(-1)] = pairs[:, ::-1].reshape(-1)
                me.set_perm(perm)

    def _apply_left_right(self, frame: FramePoses) -> None:
        """Give the frame about to be refined its decided left/right states (keypoints, heatmaps)."""
        seen = self.seen.get(frame.index, {})
        groups = frame.skeleton.flip_groups()
        for p in frame.persons:
            me = seen.get(p.track_id)
            if me is None or me.perm is None:
                continue
            perm = me.perm
            k = len(perm)
            p.keypoints = p.keypoints[perm].copy()
            world = p.extra.get("world_landmarks")
            if world is not None:  # the 3D keeps the 2D's sides (the lift stage reads it)
                p.extra["world_landmarks"] = np.asarray(world)[perm].copy()
            if p.heatmaps is not None:
                hm = p.heatmaps.copy()
                hm[..., :k] = p.heatmaps[..., perm]
                p.heatmaps = hm
            self.swaps += 1
            for part, pairs in groups.items():
                if (perm[pairs[:, 0]] == pairs[:, 1]).any():
                    self.part_swaps[part] = self.part_swaps.get(part, 0) + 1

    # -- pooling --

    def _weights(self, skeleton) -> np.ndarray:
        """The (K, 2n+1) pooling weights: given ones, else the learned ones shipped for this skeleton
        and n (``pooling="learned"``), else a Gaussian in |Δt|; ``pooling_source`` says which."""
        k = skeleton.num_keypoints
        if self.pool_weights is None and self.pooling == "learned":
            path = shipped_pooling_path(skeleton.name, self.n)
            if path is not None:
                self.pool_weights = read_pooling(path, skeleton.name, self.n)
                self.pooling_source = path.name
        if self.pool_weights is not None:
            w = np.asarray(self.pool_weights, np.float64)
            if w.shape != (k, 2 * self.n + 1):
                raise RuntimeError(f"{self.name}: pooling weights {w.shape} do not fit {k} joints and n={self.n}")
            return w
        self.pooling_source = "gaussian"
        return self._gaussian(k)

    def _gaussian(self, k: int) -> np.ndarray:
        """(K, 2n+1) Gaussian weights in |Δt| (σ = n/2 frames): the pooling's default when no learned
        weights are shipped."""
        dt = np.arange(-self.n, self.n + 1)
        return np.repeat(np.exp(-(dt ** 2) / (2.0 * max(self.n / 2.0, 0.5) ** 2))[None], k, axis=0)

    def gather(self, t: int, track_id, centres: np.ndarray | None = None, half: int | None = None):
        """The same track's heatmap probabilities of frames t-n..t+n carried onto its heatmap grid in
        frame t along the flow, in one window per joint: the (2·half+1)² cells of frame t's grid
        around ``centres`` (K, 2) (heatmap cells; default: the track's current estimate, and half =
        the decoding's reach). Returns (maps (2n+1, K, W, W), inside (2n+1, K, W, W), centres (K, 2)
        int, heatmap->image (2, 3)); ``inside`` is 0 where a neighbour is missing, where its ROI
        does not reach, off frame t's grid, or (online) in the future. None when frame t has no
        heatmaps for the track. The pooling and the learning of its weights read this; only the
        windows are traced along the flow, never the whole grid."""
        from vidpose.flow import warp_points
        from vidpose.geometry import apply_affine

        me = self.seen.get(t, {}).get(track_id)
        if me is None or me.probs is None:
            return None
        h, w, k = me.probs.shape
        half = self.search + _CENTROID if half is None else int(half)
        if centres is None:
            centres = apply_affine(me.from_img, me.keypoints[:, :2])
        centres = np.rint(np.asarray(centres, np.float64)).astype(np.int64)
        off = np.arange(-half, half + 1)
        cells = np.stack(np.broadcast_arrays(centres[:, None, None, 0] + off[None, None, :],
                                             centres[:, None, None, 1] + off[None, :, None]), axis=-1)
        pts = cells.reshape(-1, 2).astype(np.float64)  # K·W·W cells of frame t's grid
        chan = np.repeat(np.arange(k), len(off) ** 2)
        on_grid = (pts[:, 0] >= 0) & (pts[:, 0] <= w - 1) & (pts[:, 1] >= 0) & (pts[:, 1] <= h - 1)
        d = 2 * self.n + 1
        maps = np.zeros((d, len(pts)), np.float32)
        inside = np.zeros((d, len(pts)), np.float32)
        cx, cy = np.clip(cells[..., 0], 0, w - 1).reshape(-1), np.clip(cells[..., 1], 0, h - 1).reshape(-1)
        maps[self.n] = me.probs[cy, cx, chan] * on_grid  # integer cells: read as they are
        inside[self.n] = on_grid
        # Only a lattice of each window is traced along the flow (``lattice`` x ``lattice`` points;
        # 0: every cell); the cells in between follow by bilinear interpolation of the lattice.
        nl = len(off) if not self.lattice or self.lattice >= len(off) else self.lattice
        interp = _interpolation(len(off), nl)  # (W, L)
        lat = np.linspace(-half, half, nl)
        lat_pts = np.stack(np.broadcast_arrays(centres[:, None, None, 0] + lat[None, None, :],
                                               centres[:, None, None, 1] + lat[None, :, None]), axis=-1)
        y0 = apply_affine(me.to_img, lat_pts.reshape(-1, 2))  # the lattice points in the image
        for step in ((-1,) if self.online else (-1, 1)):
            y = y0
            for m in range(1, self.n + 1):
                if t + m * step not in self.seen:
                    break  # before the start / past the end of the video
                y = warp_points(y, self.cache.get_scaled(t + (m - 1) * step, t + m * step))  # trace on by one frame
                q = self.seen[t + m * step].get(track_id)
                if q is None or q.probs is None:
                    continue
                u_lat = apply_affine(q.from_img, y).reshape(k, nl, nl, 2)
                u = interp @ u_lat.reshape(k, nl, nl * 2)  # along y: (K, W, L·2)
                u = (u.reshape(k, len(off), nl, 2).transpose(0, 1, 3, 2) @ interp.T).transpose(0, 1, 3, 2).reshape(-1, 2)
                ins = on_grid & (u[:, 0] >= 0) & (u[:, 0] <= w - 1) & (u[:, 1] >= 0) & (u[:, 1] <= h - 1)
                maps[self.n + m * step] = _bilinear(q.stacked(), q.probs.shape[0], u, chan) * ins
                inside[self.n + m * step] = ins
        shape = (d, k, len(off), len(off))
        return maps.reshape(shape), inside.reshape(shape), centres, me.to_img

    def refine_frame(self, window: list[FramePoses], i: int) -> None:
        frame = window[i]
        if self.left_right:
            self._apply_left_right(frame)
        w_all = self._weights(frame.skeleton)
        wt = w_all.T.astype(np.float32)[:, :, None, None]  # (2n+1, K, 1, 1)
        for p in frame.persons:
            got = self.gather(frame.index, p.track_id)
            if got is None:
                continue
            maps, inside, centres, to_img = got
            pooled = (wt * maps).sum(0) / np.maximum((wt * inside).sum(0), 1e-6)
            p.keypoints = self._decode(p.keypoints, pooled, centres, to_img)
        if self.propagate:  # the learned weights are fit for the heatmap pooling only
            self._propagate(frame)

    def _propagate(self, frame: FramePoses) -> None:
        """Fuse each joint with the same track's neighbours' joints of frames t±1..t±``fuse_n``
        carried to frame t along the flow, weighted by their scores and a Gaussian
        (σ = ``fuse_sigma`` frames) of their distance in time."""
        t = frame.index
        w_dt = lambda dt: float(np.exp(-(dt ** 2) / (2.0 * self.fuse_sigma ** 2)))  # noqa: E731
        for p in frame.persons:
            near = {t + dt: q for dt in range(-self.fuse_n, self.fuse_n + 1)
                    if dt != 0 and not (self.online and dt > 0)
                    and (q := self.seen.get(t + dt, {}).get(p.track_id)) is not None}
            carried = self.cache.carry({i: q.keypoints[:, :2] for i, q in near.items()}, t)  # frame i -> t
            points = [p.keypoints[:, :2], *(carried[i] for i in near)]
            weights = [p.keypoints[:, 2].copy(), *(w_dt(i - t) * q.keypoints[:, 2] for i, q in near.items())]
            xy, ok = fuse_points(points, weights, 1e-6)
            kp = p.keypoints.copy()
            kp[ok, :2] = xy[ok]
            p.keypoints = kp

    def _decode(self, keypoints: np.ndarray, pooled: np.ndarray, centres: np.ndarray, to_img: np.ndarray) -> np.ndarray:
        """Each joint to the pooled window's confidence-weighted peak: the highest cell within ``search``
        cells of the window's centre (the estimate), refined by the mean over ±3 cells around it.
        ``pooled`` (K, W, W) are the windows of :meth:`gather` around ``centres``; a joint whose
        window is empty or below ``min_confidence`` keeps its estimate."""
        from vidpose.geometry import apply_affine

        k, win = pooled.shape[:2]
        half, r, s = win // 2, self.search, _CENTROID
        j = np.arange(k)
        inner = pooled[:, half - r:half + r + 1, half - r:half + r + 1].reshape(k, -1)
        best = inner.argmax(axis=1)
        peak = inner[j, best]
        py, px = half - r + best // (2 * r + 1), half - r + best % (2 * r + 1)
        so = np.arange(-s, s + 1)
        ys, xs = py[:, None, None] + so[None, :, None], px[:, None, None] + so[None, None, :]
        patch = pooled[j[:, None, None], ys, xs]
        tot = patch.sum(axis=(1, 2))
        ok = (peak >= self.min_confidence) & (tot > 0)
        gx = (patch * xs).sum(axis=(1, 2)) / np.maximum(tot, 1e-12) - half + centres[:, 0]
        gy = (patch * ys).sum(axis=(1, 2)) / np.maximum(tot, 1e-12) - half + centres[:, 1]
        kp = keypoints.copy()
        if ok.any():
            kp[ok, :2] = apply_affine(to_img, np.stack([gx[ok], gy[ok]], axis=1))
        return kp


REFINERS.update({
    "one-euro": StageChoice("one-euro", "One-Euro filter per track (online, no delay)", OneEuroStage),
    "butterworth": StageChoice("butterworth", "zero-phase Butterworth low-pass per track (offline, 15-frame delay)",
                               ButterworthStage),
    "flow-online": StageChoice("flow-online", "flow-warped heatmap pooling over the past 3 frames + left/right "
                               "consistency (online, no delay)", lambda: FlowRefineStage(online=True),
                               frozenset({"blazepose_heatmaps"})),
    "flow-offline": StageChoice("flow-offline", "flow-warped heatmap pooling over ±3 frames + left/right "
                                "consistency (offline, 8-frame delay)", lambda: FlowRefineStage(online=False),
                                frozenset({"blazepose_heatmaps"})),
})


def _propagate_stage(online: bool):
    from vidpose.stages.propagate import PropagateStage  # its own module; it builds on WindowStage above

    return PropagateStage(online=online)


REFINERS.update({
    "propagate-online": StageChoice("propagate-online", "crowd propagation: keypoints of the past 3 frames carried "
                                    "along the flow and fused, people missed for up to 2 frames put back "
                                    "(online, no delay)",
                                    lambda: _propagate_stage(True), auto=False),
    "propagate-offline": StageChoice("propagate-offline", "crowd propagation: keypoints of ±3 frames carried along "
                                     "the flow and fused, gaps of up to 24 frames in a track filled (offline, "
                                     "24-frame delay)",
                                     lambda: _propagate_stage(False), auto=False),
    "propagate": StageChoice("propagate", "the same as propagate-offline", lambda: _propagate_stage(False),
                             auto=False),
})
