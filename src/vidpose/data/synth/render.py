"""Camera, backgrounds and the painter's-algorithm renderer with an ID buffer.

Conventions: world is z-up (metres, ground Z = 0); camera coordinates are
OpenCV's (x right, y down, z forward). Extrinsics map world to camera:
``X_cam = R @ X_world + t``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vidpose.data.synth.body import ADJACENT, PARTS, PART_INDEX, TORSO_POLY, P_HEAD, BodyShape

NEAR = 0.1  # metres: primitives closer than this to the camera plane are not drawn
IDS_PER_PERSON = 32
_CAP_PTS = 7  # points per half circle of a capsule outline
# Painter's-order bias (metres, + = drawn earlier): the neck must never cover the face.
_DEPTH_BIAS = np.array([0.05 if p[0] == "neck" else 0.0 for p in PARTS])
_CAP_COS = np.cos(np.linspace(-np.pi / 2, np.pi / 2, _CAP_PTS))[:, None]
_CAP_SIN = np.sin(np.linspace(-np.pi / 2, np.pi / 2, _CAP_PTS))[:, None]


# --- camera ----------------------------------------------------------------------------------

def look_at(eye: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World->camera ``R`` (T, 3, 3) and ``t`` (T, 3) for cameras at ``eye`` (T, 3) looking at ``target`` (T, 3)."""
    z = target - eye
    z = z / np.linalg.norm(z, axis=-1, keepdims=True)
    up = np.array([0.0, 0.0, 1.0])
    x = np.cross(z, up)
    x = x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9)
    y = np.cross(z, x)
    R = np.stack([x, y, z], axis=-2)
    t = -np.einsum("tab,tb->ta", R, eye)
    return R, t


@dataclass
class Camera:
    """Pinhole camera over T frames: ``K`` (3, 3), ``R`` (T, 3, 3), ``t`` (T, 3)."""

    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    width: int
    height: int

    def to_camera(self, pts: np.ndarray, i: int) -> np.ndarray:
        """World points (..., 3) -> camera coordinates (..., 3) at frame ``i``."""
        return pts @ self.R[i].T + self.t[i]

    def project(self, cam: np.ndarray) -> np.ndarray:
        """Camera points (..., 3) -> pixels (..., 2) (z clamped to NEAR to stay finite)."""
        z = np.maximum(cam[..., 2:3], NEAR)
        return cam[..., :2] / z * self.K[[0, 1], [0, 1]] + self.K[:2, 2]


def random_intrinsics(rng: np.random.Generator, width: int, height: int,
                      hfov_deg: tuple[float, float] = (45.0, 75.0)) -> np.ndarray:
    hfov = np.deg2rad(rng.uniform(*hfov_deg))
    f = width / 2 / np.tan(hfov / 2)
    cx = width / 2 + rng.uniform(-0.02, 0.02) * width
    cy = height / 2 + rng.uniform(-0.02, 0.02) * height
    return np.array([[f, 0, cx], [0, f, cy], [0, 0, 1.0]])


def smooth_wobble(rng: np.random.Generator, T: int, fps: float, amp: float) -> np.ndarray:
    """A smooth random 3D path (T, 3): a sum of two slow sinusoids per axis, amplitude ``amp``."""
    t = np.arange(T)[:, None] / fps
    out = np.zeros((T, 3))
    for _ in range(2):
        w = 2 * np.pi * rng.uniform(0.05, 0.3, 3)
        out += amp / 2 * rng.uniform(0.2, 1.0, 3) * np.sin(w * t + rng.uniform(0, 2 * np.pi, 3))
    return out


# --- backgrounds -----------------------------------------------------------------------------

def _value_noise(rng: np.random.Generator, h: int, w: int, octaves: int = 4) -> np.ndarray:
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        cells = 2 ** (o + 2)
        small = rng.random((cells, cells)).astype(np.float32)
        out += amp * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= 0.5
    return out / total


def random_texture(rng: np.random.Generator, size: int = 512) -> np.ndarray:
    """A tileable-looking procedural texture (size, size, 3) uint8: noise, gradient, tiles or stripes."""
    kind = rng.integers(0, 4)
    c1, c2 = rng.uniform(20, 235, 3), rng.uniform(20, 235, 3)
    n = _value_noise(rng, size, size)[..., None]
    if kind == 0:  # noise blend
        img = c1 * n + c2 * (1 - n)
    elif kind == 1:  # gradient with noise
        g = np.linspace(0, 1, size, dtype=np.float32)[:, None, None]
        img = (c1 * g + c2 * (1 - g)) * (0.75 + 0.5 * n)
    elif kind == 2:  # tiles / bricks with mortar
        tile = int(rng.integers(16, 64))
        yy, xx = np.mgrid[0:size, 0:size]
        row = yy // tile
        shift = (row % 2) * (tile // 2) * int(rng.integers(0, 2))
        mortar = ((yy % tile) < 2) | (((xx + shift) % tile) < 2)
        cell = (row * 7 + (xx + shift) // tile * 13) % 5 / 5.0
        img = c1 * (0.8 + 0.4 * cell[..., None]) * (0.85 + 0.3 * n)
        img[mortar] = c2 * 0.6
    else:  # stripes
        period = int(rng.integers(8, 48))
        xx = np.arange(size)[None, :, None]
        img = np.where((xx // period) % 2 == 0, c1, c2) * (0.8 + 0.4 * n)
    return np.clip(img, 0, 255).astype(np.uint8)


@dataclass
class Background:
    """Two textured world planes: the ground Z = 0 and a far vertical wall behind the scene.

    A plane is an origin (3,) and two axes (3,) (world metres per texture
    pixel), so each renders with one homography (``cv2.warpPerspective``, the
    texture tiled by wrapping).
    """

    ground: np.ndarray  # (Hg, Wg, 3) uint8
    wall: np.ndarray  # (Hw, Ww, 3) uint8
    ground_plane: tuple[np.ndarray, np.ndarray, np.ndarray]  # origin, axis u, axis v
    wall_plane: tuple[np.ndarray, np.ndarray, np.ndarray]
    haze: float  # distance (m) over which the ground fades into the haze colour
    haze_colour: np.ndarray  # (3,)

    @staticmethod
    def random(rng: np.random.Generator, centre: np.ndarray, view_dir: np.ndarray) -> "Background":
        """Random textures; the wall stands 25-45 m beyond ``centre`` across the horizontal ``view_dir``."""
        fwd = np.array([view_dir[0], view_dir[1], 0.0])
        fwd /= max(np.linalg.norm(fwd), 1e-9)
        side = np.array([-fwd[1], fwd[0], 0.0])
        gs, ws = rng.uniform(0.01, 0.04), rng.uniform(0.05, 0.15)
        g_origin = np.array([rng.uniform(-50, 50), rng.uniform(-50, 50), 0.0])
        w_origin = np.array([centre[0], centre[1], 0.0]) + fwd * rng.uniform(25, 45) + np.array([0, 0, rng.uniform(20, 50)])
        wall = random_texture(rng, 512)
        return Background(
            random_texture(rng, 512), wall,
            (g_origin, np.array([gs, 0.0, 0.0]), np.array([0.0, gs, 0.0])),
            (w_origin, side * ws, np.array([0.0, 0.0, -ws])),
            float(rng.uniform(20, 50)), wall.reshape(-1, 3).mean(0).astype(np.float32),
        )


def _plane_homography(cam: Camera, i: int, plane) -> np.ndarray:
    """Image-from-texture homography (3, 3) of a textured plane at frame ``i``."""
    o, eu, ev = plane
    R, t = cam.R[i], cam.t[i]
    return cam.K @ np.stack([R @ eu, R @ ev, R @ o + t], axis=1)


def _grid(cam: Camera) -> tuple[np.ndarray, np.ndarray]:
    return (np.arange(cam.width, dtype=np.float32)[None, :] + 0.5,
            np.arange(cam.height, dtype=np.float32)[:, None] + 0.5)


def _homography_flow(Hn: np.ndarray, Hc: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Flow (H, W, 2) of points on a plane: pixel -> texture (inverse of ``Hc``) -> next pixel (``Hn``)."""
    M = (Hn @ np.linalg.inv(Hc)).astype(np.float32)
    x = M[0, 0] * u + M[0, 1] * v + M[0, 2]
    y = M[1, 0] * u + M[1, 1] * v + M[1, 2]
    w = M[2, 0] * u + M[2, 1] * v + M[2, 2]
    w = np.where(np.abs(w) < 1e-6, 1e-6, w)
    return np.stack([x / w - u, y / w - v], -1)


def render_background(bg: Background, cam: Camera, i: int, want_flow: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Background image (H, W, 3) uint8 at frame ``i`` and, if asked, its flow to frame i+1 (H, W, 2).

    The image is rendered at half resolution and upsampled (a mild defocus of
    the background, and 4x cheaper); the flow is computed at full resolution.
    """
    full = cam
    hw, hh = (cam.width + 1) // 2, (cam.height + 1) // 2
    S = np.diag([hw / cam.width, hh / cam.height, 1.0])
    cam = Camera(S @ cam.K, cam.R, cam.t, hw, hh)
    size = (cam.width, cam.height)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    Hg = _plane_homography(cam, i, bg.ground_plane)
    Hw = _plane_homography(cam, i, bg.wall_plane)
    img_g = cv2.warpPerspective(bg.ground, np.linalg.inv(Hg), size, flags=flags, borderMode=cv2.BORDER_WRAP)
    img_w = cv2.warpPerspective(bg.wall, np.linalg.inv(Hw), size, flags=flags, borderMode=cv2.BORDER_WRAP)
    # Which plane each pixel's ray meets first: depth along the ray to the ground
    # and to the wall, both from linear forms in (u, v).
    u, v = _grid(cam)
    A = (cam.R[i].T @ np.linalg.inv(cam.K)).astype(np.float32)  # pixel -> world ray (camera depth 1)
    C = -cam.R[i].T @ cam.t[i]
    dz = A[2, 0] * u + A[2, 1] * v + A[2, 2]
    o, eu, ev = bg.wall_plane
    n = np.cross(eu, ev).astype(np.float32)
    nd = (n @ A[:, 0]) * u + (n @ A[:, 1]) * v + (n @ A[:, 2])
    zg = np.where(dz < -1e-6, -C[2] / np.where(dz < -1e-6, dz, -1.0), np.inf).astype(np.float32)
    zw = (n @ (o - C)) / np.where(np.abs(nd) < 1e-6, 1e-6, nd)
    zw = np.where(zw > 0, zw, np.inf)
    ground = (zg < zw)
    fade = (np.clip(zg / bg.haze, 0, 1) * 0.9)[..., None]  # haze hides far-texture aliasing
    ground_col = img_g * (1 - fade) + bg.haze_colour * fade
    img = np.where(ground[..., None], ground_col, img_w).astype(np.uint8)
    img = cv2.resize(img, (full.width, full.height), interpolation=cv2.INTER_LINEAR)
    flow = None
    if want_flow and i + 1 < cam.R.shape[0]:
        cam = full
        u, v = _grid(cam)
        Hg = _plane_homography(cam, i, bg.ground_plane)
        Hw = _plane_homography(cam, i, bg.wall_plane)
        A = (cam.R[i].T @ np.linalg.inv(cam.K)).astype(np.float32)
        dz = A[2, 0] * u + A[2, 1] * v + A[2, 2]
        nd = (n @ A[:, 0]) * u + (n @ A[:, 1]) * v + (n @ A[:, 2])
        zg = np.where(dz < -1e-6, -C[2] / np.where(dz < -1e-6, dz, -1.0), np.inf)
        zw = (n @ (o - C)) / np.where(np.abs(nd) < 1e-6, 1e-6, nd)
        ground = zg < np.where(zw > 0, zw, np.inf)
        fg = _homography_flow(_plane_homography(cam, i + 1, bg.ground_plane), Hg, u, v)
        fw = _homography_flow(_plane_homography(cam, i + 1, bg.wall_plane), Hw, u, v)
        flow = np.where(ground[..., None], fg, fw).astype(np.float32)
    elif want_flow:
        flow = np.zeros((full.height, full.width, 2), np.float32)
    return img, flow


# --- people ----------------------------------------------------------------------------------

@dataclass
class PersonFrame:
    """One person in one frame, in camera coordinates."""

    slot: int  # index of the person in the clip (IDs: slot * IDS_PER_PERSON + part + 1)
    body: BodyShape
    cam_pts: np.ndarray  # (NUM_POINTS, 3) camera coordinates, metres
    next_pts: np.ndarray | None  # (NUM_POINTS, 3) at frame i+1, for flow


def _part_geometry(p: PersonFrame, cam: Camera, pts3: np.ndarray):
    """Per-part 2D axis endpoints (P, 2, 2), pixel radii (P, 2), depths (P,), valid (P,)."""
    uv = cam.project(pts3)
    z = pts3[:, 2]
    a = np.array([q[1] for q in PARTS])
    b = np.array([q[2] for q in PARTS])
    ti = PART_INDEX["torso_front"]
    # The torso front polygon is parameterised like a capsule from mid-hip to mid-shoulder.
    mid_hip = (pts3[11] + pts3[12]) / 2
    mid_sh = (pts3[5] + pts3[6]) / 2
    ends3 = np.stack([pts3[np.where(a < 0, 0, a)], pts3[np.where(b < 0, 0, b)]], 1)  # (P, 2, 3)
    ends3[ti] = [mid_hip, mid_sh]
    ends2 = np.stack([uv[np.where(a < 0, 0, a)], uv[np.where(b < 0, 0, b)]], 1)
    ends2[ti] = cam.project(ends3[ti])
    f = cam.K[0, 0]
    r3 = p.body.radii.copy()
    r3[ti] = np.linalg.norm(pts3[5] - pts3[6]) / 2
    rpx = f * r3[:, None] / np.maximum(ends3[..., 2], NEAR)
    depth = ends3[..., 2].mean(axis=1) + _DEPTH_BIAS
    depth[ti] = z[list(TORSO_POLY)].mean()
    valid = (ends3[..., 2] > NEAR).all(axis=1)
    valid[ti] &= bool((z[list(TORSO_POLY)] > NEAR).all())
    length3 = np.linalg.norm(ends3[:, 1] - ends3[:, 0], axis=1)
    return ends2, rpx, depth, valid, r3, length3, uv


def _capsule_polygon(p1: np.ndarray, p2: np.ndarray, r1: float, r2: float) -> np.ndarray:
    d = p2 - p1
    n = np.hypot(d[0], d[1])
    u = d / n if n > 1e-6 else np.array([1.0, 0.0])
    v = np.array([-u[1], u[0]])
    c, s = _CAP_COS, _CAP_SIN
    cap2 = p2 + r2 * (c * u + s * v)  # around p2, facing away from p1
    cap1 = p1 - r1 * (c * u + s * v)  # around p1, facing away from p2
    return np.concatenate([cap2, cap1])


@dataclass
class RenderResult:
    image: np.ndarray | None  # (H, W, 3) uint8 BGR, or None when only the ID buffer was drawn
    ids: np.ndarray  # (H, W) uint16: 0 background, else slot * 32 + part + 1
    keypoints: dict[int, np.ndarray]  # slot -> (17, 3) x, y, v
    boxes: dict[int, np.ndarray]  # slot -> (4,) x1, y1, x2, y2 (amodal body extent, clipped)
    flow: np.ndarray | None  # (H, W, 2) float32, pixels from this frame to the next


# Bumped whenever the pixels change for the same annotations, so cached clips
# made by an older renderer are regenerated (see bench/clnet.ensure_test_clips).
RENDERER_VERSION = 2


def _draw_face(image: np.ndarray, kp: np.ndarray, head_r: float) -> None:
    """Dark eyes and a nose on the visible face points: without them a symmetric
    body seen from the front and from behind look alike, and left/right become
    unlearnable. kp (17, 3) x, y, v; head_r the head's radius in pixels."""
    for j, frac, colour in ((1, 0.16, (25, 25, 25)), (2, 0.16, (25, 25, 25)), (0, 0.12, (60, 70, 120))):
        if kp[j, 2] == 2:
            r = max(1, int(round(frac * head_r)))
            # OpenCV puts integer coordinates at pixel centres; ours are at +0.5.
            centre = np.round((kp[j, :2] - 0.5) * 16).astype(int)
            cv2.circle(image, (int(centre[0]), int(centre[1])), r * 16, colour, -1, lineType=cv2.LINE_AA, shift=4)


def render_frame(people: list[PersonFrame], cam: Camera, i: int, background: np.ndarray | None,
                 bg_flow: np.ndarray | None = None, light: np.ndarray | None = None) -> RenderResult:
    """Draw ``people`` far to near into an ID buffer, colour it, compute visibility and flow.

    ``background`` (H, W, 3) uint8, or None to draw only the ID buffer (no image).
    """
    H, W = cam.height, cam.width
    ids = np.zeros((H, W), np.uint16)
    n_ids = (max((p.slot for p in people), default=0) + 1) * IDS_PER_PERSON + 1
    # Per-ID lookup tables used when colouring and for flow.
    lut_a = np.zeros((n_ids, 2))
    lut_b = np.zeros((n_ids, 2))
    lut_r = np.ones((n_ids, 2))
    lut_len = np.ones(n_ids)
    lut_rad3 = np.ones(n_ids)
    lut_col = np.zeros((n_ids, 2, 3))
    lut_pat = np.zeros(n_ids, np.int64)
    lut_per = np.ones(n_ids)
    lut_next = np.full((n_ids, 3, 2), np.nan)  # next frame's a, b and radii
    draw: list[tuple[float, int, np.ndarray]] = []
    kps: dict[int, np.ndarray] = {}
    boxes: dict[int, np.ndarray] = {}
    facing: dict[int, np.ndarray] = {}
    head_px: dict[int, float] = {}
    for p in people:
        ends2, rpx, depth, valid, r3, length3, uv = _part_geometry(p, cam, p.cam_pts)
        head_px[p.slot] = float(rpx[PART_INDEX["head"], 0])
        base = p.slot * IDS_PER_PERSON + 1
        sl = slice(base, base + len(PARTS))
        lut_a[sl], lut_b[sl], lut_r[sl] = ends2[:, 0], ends2[:, 1], np.maximum(rpx, 0.5)
        lut_len[sl], lut_rad3[sl] = length3, np.maximum(r3, 1e-3)
        lut_col[sl], lut_pat[sl], lut_per[sl] = p.body.colours, p.body.pattern, p.body.period
        if p.next_pts is not None:
            e2n, rn, _, vn, *_ = _part_geometry(p, cam, p.next_pts)
            lut_next[sl, 0], lut_next[sl, 1], lut_next[sl, 2] = e2n[:, 0], e2n[:, 1], rn
            lut_next[sl][~vn] = np.nan
        polys = []
        for k in range(len(PARTS)):
            if not valid[k]:
                continue
            if PARTS[k][0] == "torso_front":
                poly = uv[list(TORSO_POLY)]
            else:
                poly = _capsule_polygon(ends2[k, 0], ends2[k, 1], rpx[k, 0], rpx[k, 1])
            polys.append(poly)
            draw.append((float(depth[k]), base + k, poly))
        z = p.cam_pts[:17, 2]
        kp = np.zeros((17, 3))
        kp[:, :2] = np.where((z > NEAR)[:, None], uv[:17], 0.0)
        inside = (z > NEAR) & (uv[:17, 0] >= 0) & (uv[:17, 0] < W) & (uv[:17, 1] >= 0) & (uv[:17, 1] < H)
        kp[:, 2] = np.where(inside, 2.0, 0.0)
        kps[p.slot] = kp
        if polys:
            allp = np.concatenate(polys)
            x1, y1 = np.clip(allp.min(0), 0, [W, H])
            x2, y2 = np.clip(allp.max(0), 0, [W, H])
            boxes[p.slot] = np.array([x1, y1, x2, y2])
        # Face points are on the head sphere: seen only where the sphere faces the camera.
        head = p.cam_pts[P_HEAD]
        normal = p.cam_pts[:5] - head
        # cos(normal, towards camera) > -0.15: points on the silhouette (ears in a
        # frontal view) still count as seen.
        to_cam = -p.cam_pts[:5]
        cos = np.einsum("ij,ij->i", normal, to_cam) / (np.linalg.norm(normal, axis=1) * np.linalg.norm(to_cam, axis=1) + 1e-12)
        facing[p.slot] = cos > -0.15
    # Painter's algorithm: far primitives first, near ones overwrite them.
    draw.sort(key=lambda d: (-d[0], d[1]))
    for _, pid, poly in draw:
        # OpenCV rasterises integer coordinates at pixel centres; ours have centres at +0.5.
        cv2.fillPoly(ids, [np.round((poly - 0.5) * 16).astype(np.int32)], int(pid), lineType=cv2.LINE_8, shift=4)
    # Visibility from the ID buffer: the pixel under a joint must show one of the
    # person's own parts next to that joint (and, for face points, the side of the
    # head facing the camera); anything else in front makes it occluded (v = 1).
    for p in people:
        kp = kps[p.slot]
        base = p.slot * IDS_PER_PERSON + 1
        inside = kp[:, 2] > 0
        xi = np.clip(np.floor(kp[:, 0]).astype(int), 0, W - 1)
        yi = np.clip(np.floor(kp[:, 1]).astype(int), 0, H - 1)
        owner = ids[yi, xi].astype(np.int64)
        for j in range(17):
            if not inside[j]:
                continue
            ok = owner[j] == 0 or (owner[j] - base) in ADJACENT[j]
            if j < 5:
                ok = ok and bool(facing[p.slot][j])
            kp[j, 2] = 2.0 if ok else 1.0
    image = None
    flow = None
    if background is None and bg_flow is None:
        return RenderResult(None, ids, kps, boxes, None)  # ID buffer and visibility only
    ys, xs = np.nonzero(ids)
    pid = ids[ys, xs].astype(np.int64)
    q = np.stack([xs + 0.5, ys + 0.5], -1)
    a, b = lut_a[pid], lut_b[pid]
    d = b - a
    dd = np.maximum((d * d).sum(-1), 1e-9)
    tpar = np.clip(((q - a) * d).sum(-1) / dd, 0.0, 1.0)
    axis_pt = a + tpar[:, None] * d
    r = lut_r[pid, 0] * (1 - tpar) + lut_r[pid, 1] * tpar
    off = q - axis_pt
    if background is not None:
        image = background.copy()
        # Cross-axis coordinate, signed, in units of the radius: cylinder-like shading.
        nrm = np.stack([-d[:, 1], d[:, 0]], -1) / np.sqrt(dd)[:, None]
        sc = (off * nrm).sum(-1) / r
        shade = 0.55 + 0.45 * np.sqrt(np.clip(1 - sc * sc, 0, 1))
        u = tpar * lut_len[pid] / lut_per[pid]
        w = sc * lut_rad3[pid] / lut_per[pid]
        pat = lut_pat[pid]
        alt = np.where(pat == 1, np.floor(u) % 2, np.where(pat == 2, (np.floor(u) + np.floor(w)) % 2, 0)).astype(np.int64)
        col = lut_col[pid, alt] * shade[:, None]
        if light is not None:
            col = col * light
        image[ys, xs] = np.clip(col, 0, 255).astype(np.uint8)
        for p in people:
            _draw_face(image, kps[p.slot], head_px[p.slot])
    if bg_flow is not None:
        flow = bg_flow.copy()
        # A body pixel keeps its place on its part: same position along the axis,
        # same offset from it scaled by the part's change in projected radius.
        an, bn, rn = lut_next[pid, 0], lut_next[pid, 1], lut_next[pid, 2]
        axis_n = an + tpar[:, None] * (bn - an)
        r_n = rn[:, 0] * (1 - tpar) + rn[:, 1] * tpar
        qn = axis_n + off * (r_n / r)[:, None]
        flow[ys, xs] = (qn - q).astype(np.float32)
    return RenderResult(image, ids, kps, boxes, flow)
