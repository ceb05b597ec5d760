"""Skeleton definitions and conversions between them.

A :class:`Skeleton` names its keypoints, the links drawn between them and the
left/right pairs that swap under a horizontal flip. Conversions are linear:
each target joint is a weighted mean of source joints (``W`` of shape
``(J_dst, J_src)``), so they apply identically to 2D pixels, 3D metres and
heatmap-free scores. A converted joint's score is the minimum of the scores it
was built from: a joint made from an unseen one is not seen either.

Documented choices (see docs/skeletons.md):

* H36M ``pelvis`` = mean of the two hips; ``thorax`` = mean of the shoulders;
  ``spine`` = mean of pelvis and thorax; ``neck_nose`` = nose; ``head`` = mean
  of the ears (an approximation of the head top, which BlazePose/COCO lack).
* HIE ``chest`` = mean of the shoulders.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Skeleton:
    name: str
    keypoints: tuple[str, ...]
    links: tuple[tuple[int, int], ...]
    flip_pairs: tuple[tuple[int, int], ...]
    description: str = ""
    root: tuple[int, ...] = (0,)  # the root joint (pelvis); several = their mean (the hip midpoint)
    _index: dict = field(default=None, compare=False, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {n: i for i, n in enumerate(self.keypoints)})
        n = len(self.keypoints)
        for a, b in (*self.links, *self.flip_pairs):
            if not (0 <= a < n and 0 <= b < n):
                raise ValueError(f"skeleton {self.name}: pair ({a}, {b}) out of range 0..{n - 1}")
        if not self.root or not all(0 <= r < n for r in self.root):
            raise ValueError(f"skeleton {self.name}: root {self.root} out of range 0..{n - 1}")

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoints)

    def index(self, name: str) -> int:
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"skeleton {self.name} has no keypoint {name!r}") from None

    def flip_permutation(self) -> np.ndarray:
        """Index array ``p`` such that ``kpts[p]`` swaps left and right."""
        perm = np.arange(self.num_keypoints)
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm

    def flip_groups(self) -> dict[str, np.ndarray]:
        """The left/right pairs grouped by body part, ``{"face": ..., "arms": ..., "legs": ...}``
        (``(P, 2)`` index arrays; groups without pairs are left out), by keypoint name: legs are
        hips, knees, ankles, heels, feet and toes; arms are shoulders, elbows, wrists and hands
        (fingers); every other pair is face. A per-frame estimator often swaps one group only (the
        legs of a person seen from the side) while the rest is right. Computed once per skeleton
        (the flow refinement asks every frame); the arrays are read-only."""
        return dict(_flip_groups(self))


@functools.lru_cache(maxsize=None)
def _flip_groups(skeleton: Skeleton) -> dict[str, np.ndarray]:
    groups: dict[str, list] = {}
    for a, b in skeleton.flip_pairs:
        name = skeleton.keypoints[a]
        part = ("legs" if any(w in name for w in _LEG_WORDS) else
                "arms" if any(w in name for w in _ARM_WORDS) else "face")
        groups.setdefault(part, []).append((a, b))
    out = {g: np.asarray(groups[g], np.int64) for g in ("face", "arms", "legs") if g in groups}
    for v in out.values():
        v.flags.writeable = False
    return out


_LEG_WORDS = ("hip", "knee", "ankle", "heel", "foot", "toe")
_ARM_WORDS = ("shoulder", "elbow", "wrist", "pinky", "index", "thumb", "hand")


def _pairs_by_side(names: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    idx = {n: i for i, n in enumerate(names)}
    out = []
    for n, i in idx.items():
        for l, r in (("left_", "right_"), ("mouth_left", "mouth_right")):
            if n.startswith(l) and n.replace(l, r, 1) in idx:
                out.append((i, idx[n.replace(l, r, 1)]))
    return tuple(out)


def _links(names: tuple[str, ...], pairs: list[tuple[str, str]]) -> tuple[tuple[int, int], ...]:
    idx = {n: i for i, n in enumerate(names)}
    return tuple((idx[a], idx[b]) for a, b in pairs)


_COCO = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
COCO17 = Skeleton(
    "coco17", _COCO,
    _links(_COCO, [
        ("left_ankle", "left_knee"), ("left_knee", "left_hip"), ("right_ankle", "right_knee"),
        ("right_knee", "right_hip"), ("left_hip", "right_hip"), ("left_shoulder", "left_hip"),
        ("right_shoulder", "right_hip"), ("left_shoulder", "right_shoulder"),
        ("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow"),
        ("left_elbow", "left_wrist"), ("right_elbow", "right_wrist"), ("left_eye", "right_eye"),
        ("nose", "left_eye"), ("nose", "right_eye"), ("left_eye", "left_ear"),
        ("right_eye", "right_ear"), ("left_ear", "left_shoulder"), ("right_ear", "right_shoulder"),
    ]),
    _pairs_by_side(_COCO),
    "MS-COCO person keypoints, in COCO order.",
    (11, 12),
)

_BP = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
BLAZEPOSE33 = Skeleton(
    "blazepose33", _BP,
    _links(_BP, [
        ("nose", "left_eye_inner"), ("left_eye_inner", "left_eye"), ("left_eye", "left_eye_outer"),
        ("left_eye_outer", "left_ear"), ("nose", "right_eye_inner"), ("right_eye_inner", "right_eye"),
        ("right_eye", "right_eye_outer"), ("right_eye_outer", "right_ear"), ("mouth_left", "mouth_right"),
        ("left_shoulder", "right_shoulder"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
        ("left_wrist", "left_pinky"), ("left_wrist", "left_index"), ("left_wrist", "left_thumb"),
        ("left_pinky", "left_index"), ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
        ("right_wrist", "right_pinky"), ("right_wrist", "right_index"), ("right_wrist", "right_thumb"),
        ("right_pinky", "right_index"), ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
        ("left_hip", "right_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
        ("left_ankle", "left_heel"), ("left_heel", "left_foot_index"), ("left_ankle", "left_foot_index"),
        ("right_hip", "right_knee"), ("right_knee", "right_ankle"), ("right_ankle", "right_heel"),
        ("right_heel", "right_foot_index"), ("right_ankle", "right_foot_index"),
    ]),
    _pairs_by_side(_BP),
    "MediaPipe BlazePose 33 landmarks, in model output order.",
    (23, 24),
)

_H36M = (
    "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "spine", "thorax", "neck_nose", "head", "left_shoulder", "left_elbow", "left_wrist",
    "right_shoulder", "right_elbow", "right_wrist",
)
H36M17 = Skeleton(
    "h36m17", _H36M,
    _links(_H36M, [
        ("pelvis", "right_hip"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
        ("pelvis", "left_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
        ("pelvis", "spine"), ("spine", "thorax"), ("thorax", "neck_nose"), ("neck_nose", "head"),
        ("thorax", "left_shoulder"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
        ("thorax", "right_shoulder"), ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ]),
    _pairs_by_side(_H36M),
    "Human3.6M 17 joints in VideoPose3D order (index 0 = pelvis/root).",
)

_HIE = (
    "nose", "chest", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
    "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip",
    "left_knee", "left_ankle",
)
HIE14 = Skeleton(
    "hie14", _HIE,
    _links(_HIE, [
        ("nose", "chest"), ("chest", "right_shoulder"), ("right_shoulder", "right_elbow"),
        ("right_elbow", "right_wrist"), ("chest", "left_shoulder"), ("left_shoulder", "left_elbow"),
        ("left_elbow", "left_wrist"), ("right_shoulder", "right_hip"), ("right_hip", "right_knee"),
        ("right_knee", "right_ankle"), ("left_shoulder", "left_hip"), ("left_hip", "left_knee"),
        ("left_knee", "left_ankle"), ("right_hip", "left_hip"),
    ]),
    _pairs_by_side(_HIE),
    "HIE (Human in Events) 14 keypoints; visibility 0 visible, 1 invisible, -1 unlabelled.",
    (8, 11),
)

# 3D datasets' own layouts (the lifters can be built for them: the lifter config's ``skeleton``).
_HUMANEVA = (
    "pelvis", "thorax", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder",
    "right_elbow", "right_wrist", "left_hip", "left_knee", "left_ankle", "right_hip",
    "right_knee", "right_ankle", "head",
)
HUMANEVA15 = Skeleton(
    "humaneva15", _HUMANEVA,
    _links(_HUMANEVA, [
        ("pelvis", "thorax"), ("thorax", "left_shoulder"), ("left_shoulder", "left_elbow"),
        ("left_elbow", "left_wrist"), ("thorax", "right_shoulder"), ("right_shoulder", "right_elbow"),
        ("right_elbow", "right_wrist"), ("pelvis", "left_hip"), ("left_hip", "left_knee"),
        ("left_knee", "left_ankle"), ("pelvis", "right_hip"), ("right_hip", "right_knee"),
        ("right_knee", "right_ankle"), ("thorax", "head"),
    ]),
    _pairs_by_side(_HUMANEVA),
    "HumanEva-I 15 joints in VideoPose3D order (index 0 = pelvis/root).",
)

_MPI3DHP = (
    "head_top", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
    "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip",
    "left_knee", "left_ankle", "pelvis", "spine", "head",
)
MPI_INF_3DHP17 = Skeleton(
    "mpi_inf_3dhp17", _MPI3DHP,
    _links(_MPI3DHP, [
        ("head_top", "head"), ("head", "neck"), ("neck", "spine"), ("spine", "pelvis"),
        ("neck", "right_shoulder"), ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
        ("neck", "left_shoulder"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
        ("pelvis", "right_hip"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
        ("pelvis", "left_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
    ]),
    _pairs_by_side(_MPI3DHP),
    "MPI-INF-3DHP's 17 test joints, in the test set's order (index 14 = pelvis/root).",
    (14,),
)

SKELETONS: dict[str, Skeleton] = {s.name: s for s in (COCO17, BLAZEPOSE33, H36M17, HIE14, HUMANEVA15, MPI_INF_3DHP17)}

# The 2D skeletons ``vidpose run --skeleton`` writes (the first is the default), with a
# one-line description for help texts. Every place that lists the choices reads this.
OUTPUT_SKELETONS: dict[str, str] = {
    "coco17": "MS-COCO 17 keypoints",
    "blazepose33": "BlazePose 33 landmarks (BlazePose models only)",
    "h36m17": "Human3.6M 17 joints (pelvis, spine, thorax and head derived)",
}


def get_skeleton(name: str | Skeleton) -> Skeleton:
    if isinstance(name, Skeleton):
        return name
    try:
        return SKELETONS[name]
    except KeyError:
        raise ValueError(f"unknown skeleton {name!r}; known: {', '.join(SKELETONS)}") from None


# --- conversions ----------------------------------------------------------------------------

# Each recipe: target joint -> source joints averaged with equal weight.
_RECIPES: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {
    ("blazepose33", "coco17"): {n: (n,) for n in _COCO},
    ("coco17", "h36m17"): {
        "pelvis": ("left_hip", "right_hip"),
        "right_hip": ("right_hip",), "right_knee": ("right_knee",), "right_ankle": ("right_ankle",),
        "left_hip": ("left_hip",), "left_knee": ("left_knee",), "left_ankle": ("left_ankle",),
        "spine": ("left_hip", "right_hip", "left_shoulder", "right_shoulder"),
        "thorax": ("left_shoulder", "right_shoulder"),
        "neck_nose": ("nose",), "head": ("left_ear", "right_ear"),
        "left_shoulder": ("left_shoulder",), "left_elbow": ("left_elbow",), "left_wrist": ("left_wrist",),
        "right_shoulder": ("right_shoulder",), "right_elbow": ("right_elbow",), "right_wrist": ("right_wrist",),
    },
    ("coco17", "hie14"): {n: ((n,) if n != "chest" else ("left_shoulder", "right_shoulder")) for n in _HIE},
}


def _matrix(src: Skeleton, dst: Skeleton) -> np.ndarray:
    recipe = _RECIPES.get((src.name, dst.name))
    if recipe is None:
        raise ValueError(
            f"no direct conversion {src.name} -> {dst.name}; "
            f"available: {', '.join(f'{a}->{b}' for a, b in _RECIPES)} (and compositions via coco17)"
        )
    w = np.zeros((dst.num_keypoints, src.num_keypoints), np.float64)
    for t, sources in recipe.items():
        for s in sources:
            w[dst.index(t), src.index(s)] = 1.0 / len(sources)
    return w


def conversion_matrix(src: str | Skeleton, dst: str | Skeleton) -> np.ndarray:
    """Weights ``W`` (J_dst, J_src) with ``dst = W @ src``; composes through coco17."""
    s, d = get_skeleton(src), get_skeleton(dst)
    if s.name == d.name:
        return np.eye(s.num_keypoints)
    if (s.name, d.name) in _RECIPES:
        return _matrix(s, d)
    if (s.name, "coco17") in _RECIPES and ("coco17", d.name) in _RECIPES:
        return _matrix(COCO17, d) @ _matrix(s, COCO17)
    raise ValueError(
        f"cannot convert skeleton {s.name} to {d.name}: {d.name} needs joints that {s.name} lacks"
    )


def convert(keypoints: np.ndarray, src: str | Skeleton, dst: str | Skeleton) -> np.ndarray:
    """Convert ``(..., J_src, C)`` coordinates to ``(..., J_dst, C)`` (every channel averaged).

    For arrays whose last channel is a score use :func:`convert_with_scores`.
    """
    w = conversion_matrix(src, dst)
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.shape[-2] != w.shape[1]:
        raise ValueError(
            f"keypoints have {kp.shape[-2]} joints but skeleton {get_skeleton(src).name} has {w.shape[1]}"
        )
    return np.einsum("ts,...sc->...tc", w, kp)


def convert_with_scores(keypoints: np.ndarray, src: str | Skeleton, dst: str | Skeleton) -> np.ndarray:
    """Like :func:`convert` for ``(..., J, D+1)`` arrays whose last channel is a score.

    Coordinates are averaged; each target score is the minimum source score used.
    """
    w = conversion_matrix(src, dst)
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.shape[-2] != w.shape[1]:
        raise ValueError(
            f"keypoints have {kp.shape[-2]} joints but skeleton {get_skeleton(src).name} has {w.shape[1]}"
        )
    xy = np.einsum("ts,...sc->...tc", w, kp[..., :-1])
    scores = kp[..., -1]
    used = w > 0
    big = np.where(used, scores[..., None, :], np.inf)
    sc = big.min(axis=-1)
    return np.concatenate([xy, sc[..., None]], axis=-1)
