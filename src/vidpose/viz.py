"""Drawing poses on frames for ``overlay.mp4``.

Each person gets a colour chosen from its track id (the same id keeps the same
colour across frames). Bones on the person's left side are drawn in a lighter
shade of that colour, bones on the right in a darker one, and centre bones
(shoulder to shoulder, hip to hip, face midline) in the colour itself, so left
and right can be told apart even when limbs cross. Line widths grow with the
image so overlays look alike from 320p to 4K.

Images are RGB, so colours here are (R, G, B) tuples even though OpenCV's
documentation speaks of BGR: OpenCV only writes the three numbers it is given.
"""

from __future__ import annotations

import colorsys
import math
from typing import Sequence

import cv2
import numpy as np

from vidpose.errors import InputError
from vidpose.skeletons import Skeleton

UNTRACKED_COLOUR = (200, 200, 200)
_GOLDEN = 0.6180339887498949
_FAR = 100_000  # clamp coordinates: OpenCV needs ints, and wild values would overflow


def track_colour(track_id: int | None) -> tuple[int, int, int]:
    """A saturated RGB colour for ``track_id``; consecutive ids get well-separated hues."""
    if track_id is None:
        return UNTRACKED_COLOUR
    # Golden-ratio hue steps spread any run of ids evenly around the wheel.
    hue = (int(track_id) * _GOLDEN + 0.1) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.8, 0.95)
    return (round(r * 255), round(g * 255), round(b * 255))


def _shade(colour: tuple[int, int, int], side: str | None) -> tuple[int, int, int]:
    if side == "left":  # lighter: halfway to white
        return tuple(round(c + 0.5 * (255 - c)) for c in colour)  # type: ignore[return-value]
    if side == "right":  # darker: 55 % of the colour
        return tuple(round(0.55 * c) for c in colour)  # type: ignore[return-value]
    return colour


def _side(name: str) -> str | None:
    if "left" in name:
        return "left"
    if "right" in name:
        return "right"
    return None


def _link_side(skeleton: Skeleton, a: int, b: int) -> str | None:
    sides = {_side(skeleton.keypoints[a]), _side(skeleton.keypoints[b])} - {None}
    return sides.pop() if len(sides) == 1 else None  # left+right (e.g. hips) is a centre bone


def _pt(x: float, y: float) -> tuple[int, int]:
    return (int(round(min(max(x, -_FAR), _FAR))), int(round(min(max(y, -_FAR), _FAR))))


def _keypoints(person: dict, skeleton: Skeleton, i: int) -> list[tuple[float, float, float] | None]:
    kpts = person.get("keypoints") or []
    if len(kpts) != skeleton.num_keypoints:
        raise InputError(
            f"persons[{i}] (track {person.get('track_id')}): {len(kpts)} keypoints, "
            f"but skeleton {skeleton.name} has {skeleton.num_keypoints}"
        )
    out: list[tuple[float, float, float] | None] = []
    for k in kpts:
        if k is None or len(k) < 2 or k[0] is None or k[1] is None:
            out.append(None)
            continue
        x, y = float(k[0]), float(k[1])
        s = 1.0 if len(k) < 3 or k[2] is None else float(k[2])
        out.append((x, y, s) if math.isfinite(x) and math.isfinite(y) and math.isfinite(s) else None)
    return out


def _link_groups(skeleton: Skeleton) -> dict[str | None, tuple[np.ndarray, np.ndarray]]:
    """The skeleton's bones grouped by side: side -> (starts, ends) index arrays (cached)."""
    groups = _LINK_GROUPS.get(skeleton.name)
    if groups is None:
        by: dict[str | None, list[tuple[int, int]]] = {}
        for a, b in skeleton.links:
            by.setdefault(_link_side(skeleton, a, b), []).append((a, b))
        groups = {side: (np.array([a for a, _ in ab]), np.array([b for _, b in ab])) for side, ab in by.items()}
        _LINK_GROUPS[skeleton.name] = groups
    return groups


_LINK_GROUPS: dict[str, dict] = {}


def draw_poses(image: np.ndarray, persons: Sequence[dict], skeleton: Skeleton,
               min_score: float = 0.3, scale: float = 1.0) -> np.ndarray:
    """Return a copy of ``image`` (H, W, 3) uint8 RGB with ``persons`` drawn on it.

    ``persons`` are poses.json person dicts: ``track_id`` (int or None),
    ``bbox`` [x1, y1, x2, y2] (optional), ``score``, and ``keypoints``
    (J, 3) as [x, y, score] in pixels, J = ``skeleton.num_keypoints``.
    Joints scoring below ``min_score`` are not drawn, nor are bones touching them.
    ``scale`` multiplies the coordinates (for an image resized by ``scale``).
    The input image is not modified.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(f"draw_poses: image must be an (H, W, 3) uint8 RGB array, got {image.shape} {image.dtype}")
    out = np.array(image, order="C")  # a contiguous copy: OpenCV draws in place
    _draw_into(out, persons, skeleton, min_score, scale)
    return out


def draw_overlay(image: np.ndarray, persons: Sequence[dict], skeleton: Skeleton, min_score: float = 0.3,
                 max_size: int | None = 720) -> np.ndarray:
    """The overlay frame: ``image`` shrunk so its shorter side is at most ``max_size`` (None or 0:
    full size), with ``persons`` (full-size coordinates) drawn on it. Drawing on the small frame
    and encoding it costs a fraction of the full-size frame (1080p -> 720p: 0.44 of the pixels)."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(f"draw_overlay: image must be an (H, W, 3) uint8 RGB array, got {image.shape} {image.dtype}")
    h, w = image.shape[:2]
    size = overlay_size(w, h, max_size)
    if size == (w, h):
        return draw_poses(image, persons, skeleton, min_score)
    s = size[0] / w
    out = cv2.resize(image, size, interpolation=cv2.INTER_AREA if s < 0.5 else cv2.INTER_LINEAR)
    _draw_into(out, persons, skeleton, min_score, s)
    return out


def overlay_size(width: int, height: int, max_size: int | None) -> tuple[int, int]:
    """(w, h) of the overlay of a ``width`` x ``height`` video: the shorter side at most
    ``max_size`` (even sizes when shrunk, as H.264 4:2:0 needs); unchanged when it fits."""
    if not max_size or min(width, height) <= max_size:
        return width, height
    s = max_size / min(width, height)
    return max(2, round(width * s / 2) * 2), max(2, round(height * s / 2) * 2)


def _draw_into(out: np.ndarray, persons: Sequence[dict], skeleton: Skeleton, min_score: float,
               scale: float) -> None:
    h, w = out.shape[:2]
    size = min(h, w)
    thick = max(1, round(size / 240))
    radius = thick + 2  # wider than the bones (thick + 1) so joints stand out
    font_scale = max(0.3, size / 900)
    groups = _link_groups(skeleton)
    joint_sides = [_side(n) for n in skeleton.keypoints]

    for i, person in enumerate(persons):
        tid = person.get("track_id")
        colour = track_colour(tid)
        kpts = _keypoints(person, skeleton, i)

        bbox = person.get("bbox")
        if bbox is not None and len(bbox) == 4 and all(v is not None and math.isfinite(v) for v in bbox):
            p1, p2 = _pt(bbox[0] * scale, bbox[1] * scale), _pt(bbox[2] * scale, bbox[3] * scale)
            cv2.rectangle(out, p1, p2, colour, thick, cv2.LINE_AA)
            if tid is not None:
                label = f"id {tid}"
                (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thick)
                # Above the box when there is room, else just inside it.
                top = p1[1] - th - base - 2 if p1[1] - th - base - 2 >= 0 else p1[1]
                cv2.rectangle(out, (p1[0], top), (p1[0] + tw + 4, top + th + base + 2), colour, -1)
                cv2.putText(out, label, (p1[0] + 2, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX,
                            font_scale, (0, 0, 0), thick, cv2.LINE_AA)

        if not kpts:
            continue
        # All joints at once: (J, 3) with NaN for missing ones; bones of one shade in one call.
        kp = np.array([k if k is not None else (np.nan, np.nan, -np.inf) for k in kpts], dtype=np.float64)
        ok = kp[:, 2] >= min_score
        pts = np.rint(np.clip(kp[:, :2] * scale, -_FAR, _FAR))
        pts = np.where(ok[:, None], pts, 0).astype(np.int32)
        for side, (a, b) in groups.items():
            keep = ok[a] & ok[b]
            if keep.any():
                lines = np.stack([pts[a[keep]], pts[b[keep]]], axis=1)  # (L, 2, 2)
                cv2.polylines(out, list(lines), False, _shade(colour, side), thick + 1, cv2.LINE_AA)
        for j in np.flatnonzero(ok):
            c = (int(pts[j, 0]), int(pts[j, 1]))
            cv2.circle(out, c, radius, _shade(colour, joint_sides[j]), -1, cv2.LINE_AA)
            cv2.circle(out, c, radius, (0, 0, 0), 1, cv2.LINE_AA)  # outline: visible on any shade
