"""Dense optical flow and warping: the one mechanism behind every flow-based part of vidpose.

Used by the Flowing ConvNets model and its refinement stage, the crowd
propagation stage and DKD; nothing else computes or applies flow.

Conventions
-----------
* A flow field ``flow`` (H, W, 2) float32 holds, at pixel (x, y) of frame t, the
  displacement (dx, dy) in pixels to where that point is in frame t+1
  (forward flow; the synthetic ground truth of ``vidpose synth --flow`` uses the
  same convention). Integer coordinates are pixel centres (OpenCV's).
* :func:`warp_points` moves points along a flow (sampled bilinearly);
  :func:`warp_map` moves a map's *content* along a flow given on the map's
  own grid: the value at ``p`` in frame t lands at ``p + flow(p)`` in frame
  t+1. It is computed by backward sampling with the inverse flow approximated
  by ``-flow`` sampled at the target (exact for smooth flow, as used for
  heatmaps in the Flowing ConvNets paper).
* :func:`resize_flow` brings a flow to another grid (e.g. the heatmaps' resolution);
  a person's ROI in another frame is reached by tracing the image points of its
  crop grid along the flow (:func:`warp_points`), as the refine stages do.

Estimator: OpenCV's DIS (Kroeger et al. 2016), a documented substitute for the
DeepFlow used by the Flowing ConvNets paper (DeepFlow is slower by two orders
of magnitude on CPU and not in opencv-python-headless); the preset and an
optional downscale are configurable. :class:`FlowCache` computes each frame
pair once and shares it between every person and stage.
"""

from __future__ import annotations

import functools

from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np

from vidpose.errors import InputError

PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


@dataclass
class FlowConfig:
    """Settings of the dense flow estimator."""

    preset: str = "medium"  # DIS preset: ultrafast | fast | medium
    scale: float = 0.5  # images are resized by this factor before the flow (1.0 = full resolution)
    max_side: int = 0  # ... and further, so that their longer side is at most this many pixels (0 = no limit)

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise InputError(f"flow preset: {self.preset!r} is unknown; choose one of {', '.join(PRESETS)}")
        if isinstance(self.scale, bool) or not isinstance(self.scale, (int, float)) or not 0.05 <= self.scale <= 1.0:
            raise InputError(f"flow scale: must be in [0.05, 1], got {self.scale!r}")
        if isinstance(self.max_side, bool) or not isinstance(self.max_side, int) or self.max_side < 0:
            raise InputError(f"flow max_side: must be a non-negative integer, got {self.max_side!r}")

    def scale_for(self, height: int, width: int) -> float:
        """The resize factor for an image of this size."""
        s = float(self.scale)
        if self.max_side:
            s = min(s, self.max_side / max(height, width))
        return min(1.0, s)


def _gray(image: np.ndarray, scale: float) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim == 3:
        if img.shape[2] != 3:
            raise InputError(f"flow: expected an (H, W, 3) RGB or (H, W) grey image, got {img.shape}")
        img = cv2.cvtColor(np.ascontiguousarray(img, dtype=np.uint8), cv2.COLOR_RGB2GRAY)
    elif img.ndim != 2:
        raise InputError(f"flow: expected an (H, W, 3) RGB or (H, W) grey image, got {img.shape}")
    img = np.ascontiguousarray(img, dtype=np.uint8)
    if scale != 1.0:
        size = (max(8, round(img.shape[1] * scale)), max(8, round(img.shape[0] * scale)))
        while img.shape[1] >= 2 * size[0] and img.shape[0] >= 2 * size[1]:
            img = cv2.pyrDown(img)  # anti-aliased halving, much cheaper than INTER_AREA on a full frame
        img = cv2.resize(img, size, interpolation=cv2.INTER_LINEAR)
    return img


@dataclass
class ScaledFlow:
    """A flow computed on a downscaled image: ``field`` (h, w, 2) in its own pixels, and the image
    size it stands for. :func:`sample` reads it at image coordinates without upsizing it.

    A flow computed on a region only (:class:`FlowCache` with regions) covers the rectangle of the
    downscaled ``grid`` (rows, cols) starting at ``origin`` (x, y); points outside it read the
    region's nearest border."""

    field: np.ndarray
    height: int
    width: int
    origin: tuple[int, int] = (0, 0)
    grid: tuple[int, int] | None = None

    @property
    def factors(self) -> np.ndarray:
        """(sx, sy): image pixels per field pixel."""
        gh, gw = self.grid or self.field.shape[:2]
        return np.array([self.width / gw, self.height / gh], np.float32)

    def full(self) -> np.ndarray:
        """The flow at the image's size (H, W, 2), in image pixels."""
        f = self.field
        if self.grid is not None and self.grid != f.shape[:2]:
            (ox, oy), (gh, gw) = self.origin, self.grid
            f = np.pad(f, ((oy, gh - oy - f.shape[0]), (ox, gw - ox - f.shape[1]), (0, 0)), mode="edge")
        return resize_flow(f, self.height, self.width)


def resize_flow(flow: np.ndarray, height: int, width: int) -> np.ndarray:
    """A flow field (h, w, 2) on another grid (height, width): resampled, and its vectors scaled to
    that grid's pixels (area averaging when shrinking, bilinear when enlarging)."""
    f = np.asarray(flow, np.float32)
    if f.shape[:2] == (height, width):
        return f
    shrink = height < f.shape[0] or width < f.shape[1]
    out = cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return (out * np.array([width / f.shape[1], height / f.shape[0]], np.float32)).astype(np.float32)


class FlowEstimator:
    """frame t, frame t+1 (RGB uint8) -> forward flow (H, W, 2) float32 at the input resolution."""

    def __init__(self, config: FlowConfig | None = None) -> None:
        self.config = config or FlowConfig()
        self._dis = cv2.DISOpticalFlow_create(PRESETS[self.config.preset])

    def prepare(self, frame: np.ndarray) -> np.ndarray:
        """The grey, resized image the flow is computed on (done once per frame by :class:`FlowCache`)."""
        a = np.asarray(frame)
        return _gray(a, self.config.scale_for(*a.shape[:2]))

    def between(self, prepared_a: np.ndarray, prepared_b: np.ndarray, height: int, width: int) -> ScaledFlow:
        """Flow between two :meth:`prepare` d images of an (height, width) video."""
        if prepared_a.shape != prepared_b.shape:
            raise InputError(f"flow: the two frames differ in size: {prepared_a.shape} vs {prepared_b.shape}")
        return ScaledFlow(self._dis.calc(prepared_a, prepared_b, None), int(height), int(width))

    def __call__(self, frame_t: np.ndarray, frame_next: np.ndarray) -> np.ndarray:
        a, b = np.asarray(frame_t), np.asarray(frame_next)
        if a.shape[:2] != b.shape[:2]:
            raise InputError(f"flow: the two frames differ in size: {a.shape[:2]} vs {b.shape[:2]}")
        return self.between(self.prepare(a), self.prepare(b), *a.shape[:2]).full()


class FlowCache:
    """Flow between frames by index, each pair computed once and kept for ``size`` pairs.

    ``add(index, image, regions)`` registers a frame (images are kept while a pair may need
    them); ``get(i, j)`` is the forward flow from frame i to frame j = i + 1 (or
    the backward flow for j = i - 1); :func:`chain` combines them over longer gaps.

    ``backward="invert"`` computes only the forward flow of a pair and inverts it for the backward
    direction (:func:`invert_flow`; one DIS call per pair instead of two). ``regions`` (boxes x1, y1,
    x2, y2 in image pixels, e.g. the people in the frame) limit the flow of a pair to the union of
    both frames' boxes, each grown by ``margin`` of its size, when that union is smaller than
    ``max_region`` of the frame: the flow is then valid near those boxes only.
    """

    def __init__(self, estimator: FlowEstimator | None = None, size: int = 32, backward: str = "estimate",
                 margin: float = 0.25, max_region: float = 0.6) -> None:
        if backward not in ("estimate", "invert"):
            raise InputError(f"flow cache: backward must be 'estimate' or 'invert', got {backward!r}")
        self.estimator = estimator or FlowEstimator()
        self.size = int(size)
        self.backward = backward  # "invert": flow j -> j-1 is the inverse of the estimated j-1 -> j (one DIS per pair)
        self.margin, self.max_region = float(margin), float(max_region)
        self._images: OrderedDict[int, tuple[np.ndarray, int, int, np.ndarray | None]] = OrderedDict()
        self._flows: OrderedDict[tuple[int, int], ScaledFlow] = OrderedDict()
        self.computed = 0  # number of flow fields estimated (for tests and run statistics)
        self.pixels = 0  # pixels of the downscaled images the estimated flows covered

    def add(self, index: int, image: np.ndarray, regions=None) -> None:
        """Register frame ``index`` (only its grey, resized version is kept), with the boxes (N, 4)
        the flow is needed around (None: everywhere)."""
        img = np.asarray(image)
        boxes = None if regions is None else np.asarray(regions, np.float64).reshape(-1, 4)
        self._images[int(index)] = (self.estimator.prepare(img), img.shape[0], img.shape[1], boxes)
        while len(self._images) > self.size + 1:
            self._images.popitem(last=False)

    def _crop(self, i: int, j: int) -> tuple[int, int, int, int] | None:
        """The rectangle (x0, y0, x1, y1) of the downscaled images the flow of pair (i, j) needs, or None
        for the whole image."""
        (a, h, w, ra), (_, _, _, rb) = self._images[i], self._images[j]
        if ra is None or rb is None or not (len(ra) or len(rb)):
            return None
        boxes = np.concatenate([ra, rb])
        size = (boxes[:, 2:] - boxes[:, :2]).max(axis=1, keepdims=True)
        grown = np.concatenate([boxes[:, :2] - self.margin * size, boxes[:, 2:] + self.margin * size], axis=1)
        sx, sy = a.shape[1] / w, a.shape[0] / h
        x0, y0 = max(0, int(np.floor(grown[:, 0].min() * sx))), max(0, int(np.floor(grown[:, 1].min() * sy)))
        x1, y1 = min(a.shape[1], int(np.ceil(grown[:, 2].max() * sx))), min(a.shape[0], int(np.ceil(grown[:, 3].max() * sy)))
        if x1 - x0 < 16 or y1 - y0 < 16 or (x1 - x0) * (y1 - y0) > self.max_region * a.shape[0] * a.shape[1]:
            return None
        return x0, y0, x1, y1

    def get_scaled(self, i: int, j: int) -> ScaledFlow:
        """Flow from frame i to its neighbour j at the estimator's resolution (see :class:`ScaledFlow`)."""
        if abs(i - j) != 1:
            raise InputError(f"flow cache: frames {i} and {j} are not neighbours; chain() longer gaps")
        key = (int(i), int(j))
        if key not in self._flows:
            if i not in self._images or j not in self._images:
                raise InputError(f"flow cache: frame {i if i not in self._images else j} is not (or no longer) held")
            if self.backward == "invert" and j < i:
                fwd = self.get_scaled(j, i)
                self._flows[key] = ScaledFlow(invert_flow(fwd.field), fwd.height, fwd.width, fwd.origin, fwd.grid)
            else:
                (a, h, w, _), (b, _, _, _) = self._images[i], self._images[j]
                crop = self._crop(i, j)
                if crop is None:
                    self._flows[key] = self.estimator.between(a, b, h, w)
                else:
                    x0, y0, x1, y1 = crop
                    part = self.estimator.between(np.ascontiguousarray(a[y0:y1, x0:x1]),
                                                  np.ascontiguousarray(b[y0:y1, x0:x1]), h, w)
                    self._flows[key] = ScaledFlow(part.field, h, w, (x0, y0), a.shape[:2])
                self.computed += 1
                self.pixels += self._flows[key].field.shape[0] * self._flows[key].field.shape[1]
            while len(self._flows) > 4 * self.size:
                self._flows.popitem(last=False)
        self._flows.move_to_end(key)  # least recently used leaves first
        return self._flows[key]

    def get(self, i: int, j: int) -> np.ndarray:
        """Flow from frame i to its neighbour j at the frames' size (H, W, 2)."""
        return self.get_scaled(i, j).full()

    def trace(self, points: np.ndarray, i: int, j: int) -> list[np.ndarray]:
        """Points (N, 2) of frame i carried to frame j (any gap) along the flow, one neighbour at a
        time: their positions (N, 2) in frames i, i±1, ..., j (the last is where they are in j)."""
        path = [np.asarray(points, np.float64)]
        step = 1 if j > i else -1
        for k in range(i, j, step):
            path.append(warp_points(path[-1], self.get_scaled(k, k + step)))
        return path

    def carry(self, points: dict[int, np.ndarray], j: int) -> dict[int, np.ndarray]:
        """Points of several frames ``{i: (N_i, 2)}`` carried to frame j along the flow: where each
        lands in j (the same as ``trace(points[i], i, j)[-1]``, bit for bit). The frames on one side
        of j share every step they pass through (one flow sample per frame pair, not one per frame
        and pair)."""
        out: dict[int, np.ndarray] = {}
        for side in (-1, 1):  # frames after j (stepping back to it), then frames before j
            k = max((i for i in points if (i - j) * side < 0), key=lambda i: abs(i - j), default=None)
            if k is None:
                continue
            stack, owners = np.zeros((0, 2)), []
            while k != j:
                if k in points:  # this frame's points join the ones already on their way
                    p = np.asarray(points[k], np.float64).reshape(-1, 2)
                    stack, owners = np.concatenate([stack, p]), owners + [(k, len(p))]
                stack = warp_points(stack, self.get_scaled(k, k + side))
                k += side
            start = 0
            for i, n in owners:
                out[i], start = stack[start:start + n], start + n
        if j in points:
            out[j] = np.asarray(points[j], np.float64).reshape(-1, 2)
        return out

    def between(self, i: int, j: int) -> np.ndarray:
        """Flow from frame i to frame j (any gap), chained through the frames in between."""
        if i == j:
            _, h, w, _ = next(iter(self._images.values()))
            return np.zeros((h, w, 2), np.float32)
        step = 1 if j > i else -1
        return chain([self.get(k, k + step) for k in range(i, j, step)])


@functools.lru_cache(maxsize=4)
def _pixel_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """(xs, ys) float32 pixel coordinates of an (h, w) grid, read-only (shared between calls)."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    xs.flags.writeable = ys.flags.writeable = False
    return xs, ys


def invert_flow(flow: np.ndarray, iterations: int = 3) -> np.ndarray:
    """The backward flow b of a forward flow f (H, W, 2), by fixed-point iteration of
    b(x) = -f(x + b(x)) from b = -f: exact where the motion is smooth; where f folds (occlusion)
    it is as ambiguous as a second estimate would be."""
    f = np.asarray(flow, np.float32)
    h, w = f.shape[:2]
    xs, ys = _pixel_grid(h, w)
    b = -f
    for _ in range(iterations):
        b = -cv2.remap(f, xs + b[..., 0], ys + b[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return b


def sample(field, points: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``field`` (H, W, C) (or a :class:`ScaledFlow`, read at image coordinates)
    at ``points`` (N, 2) x, y pixels -> (N, C); points outside the field take the nearest border value."""
    if isinstance(field, ScaledFlow):
        s = field.factors
        return sample(field.field, np.asarray(points, np.float32) / s - np.asarray(field.origin, np.float32)) * s
    f = np.asarray(field, np.float32)
    pts = np.asarray(points, np.float32).reshape(-1, 1, 2)
    if f.ndim == 2:
        f = f[..., None]
    out = cv2.remap(f, pts[..., 0], pts[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(len(pts), -1)


def warp_points(points: np.ndarray, flow) -> np.ndarray:
    """Move points (N, 2) along ``flow`` (H, W, 2) or a :class:`ScaledFlow`: p -> p + flow(p)."""
    p = np.asarray(points, np.float64)
    return p + sample(flow, p).astype(np.float64)


def chain(flows: list[np.ndarray]) -> np.ndarray:
    """Compose flows t->t+1, t+1->t+2, ... into t->t+n: f(x) = f1(x) + f2(x + f1(x)) + ..."""
    if not flows:
        raise InputError("chain: no flow given")
    total = np.asarray(flows[0], np.float32).copy()
    h, w = total.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    for f in flows[1:]:
        mx, my = xs + total[..., 0], ys + total[..., 1]
        total += cv2.remap(np.asarray(f, np.float32), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return total


def consistency(forward: np.ndarray, backward: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Forward-backward confidence (H, W) in (0, 1]: exp(-|f(x) + b(x + f(x))|^2 / (2 sigma^2)).

    1 where following the flow forward and back returns to the start (sigma in pixels)."""
    f = np.asarray(forward, np.float32)
    h, w = f.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    back = cv2.remap(np.asarray(backward, np.float32), xs + f[..., 0], ys + f[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)
    err2 = ((f + back) ** 2).sum(-1)
    return np.exp(-err2 / (2.0 * sigma * sigma)).astype(np.float32)


def warp_map(maps: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Move the content of ``maps`` (H, W) or (H, W, C) along ``flow`` (H, W, 2) on the same grid.

    Backward sampling: out(q) = maps(q - flow(q)) (the inverse flow approximated
    by the flow at the target); outside the map reads 0.
    """
    m = np.asarray(maps, np.float32)
    f = np.asarray(flow, np.float32)
    if f.shape[:2] != m.shape[:2] or f.ndim != 3 or f.shape[2] != 2:
        raise InputError(f"warp_map: flow {f.shape} does not fit maps {m.shape}")
    h, w = m.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    src_x, src_y = xs - f[..., 0], ys - f[..., 1]
    return cv2.remap(m, src_x, src_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def warp_maps_torch(maps, flow):
    """:func:`warp_map` for torch tensors, differentiable in ``maps``: maps (B, C, h, w), flow
    (B, h, w, 2) on the maps' grid (pixels) -> (B, C, h, w) with out(q) = maps(q - flow(q))."""
    import torch
    import torch.nn.functional as F

    b, _, h, w = maps.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=maps.dtype), torch.arange(w, dtype=maps.dtype), indexing="ij")
    src_x = xs[None] - flow[..., 0]
    src_y = ys[None] - flow[..., 1]
    # grid_sample's normalised coordinates with align_corners=True: -1 and 1 are the centres of
    # the first and last pixels, matching pixel-centre integer coordinates.
    grid = torch.stack([2.0 * src_x / max(w - 1, 1) - 1.0, 2.0 * src_y / max(h - 1, 1) - 1.0], dim=-1)
    return F.grid_sample(maps, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def clip_flows(frames: np.ndarray, centre: int, estimator: FlowEstimator) -> np.ndarray:
    """Flows from every frame of a clip to its centre frame, chained through the frames between.

    frames (T, H, W, 3) uint8 -> (T, H, W, 2) float32 (zeros at the centre)."""
    t = len(frames)
    out = np.zeros(frames.shape[:3] + (2,), np.float32)
    for k in range(t):
        if k == centre:
            continue
        step = 1 if centre > k else -1
        out[k] = chain([estimator(frames[i], frames[i + step]) for i in range(k, centre, step)])
    return out
