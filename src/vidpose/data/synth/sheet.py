"""Contact sheet of generated clips: one frame per clip in a grid (``vidpose synth --contact-sheet``)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from vidpose.errors import InputError
from vidpose.io.atomic import atomic_write_bytes


def contact_sheet(clip_dirs: list[Path], out: str | os.PathLike, cols: int = 4, tile_height: int = 180,
                  skeleton: bool = False) -> Path:
    """Write the middle frame of each clip (JPEG frames) as a grid image ``out`` (.png or .jpg).

    ``skeleton``: draw the annotated COCO-17 keypoints (visible green, occluded orange).
    """
    from vidpose.data.synth import read_clip
    from vidpose.skeletons import COCO17

    out = Path(out)
    ext = out.suffix.lower()
    if ext not in (".png", ".jpg", ".jpeg"):
        raise InputError(f"--contact-sheet: {out} must end in .png or .jpg")
    tiles = []
    for d in clip_dirs:
        ann = read_clip(d / "annotations.json")
        pat = ann["video"]["frames"]
        if pat is None or pat.endswith(".mp4"):
            raise InputError(f"{d}: the contact sheet needs JPEG frames (generate without --video, split with images)")
        fr = ann["frames"][len(ann["frames"]) // 2]
        img = cv2.imread(str(d / pat.format(fr["index"])), cv2.IMREAD_COLOR)
        if img is None:
            raise InputError(f"{d / pat.format(fr['index'])}: cannot read the frame")
        if skeleton:
            for p in fr["persons"]:
                kp = np.asarray(p["keypoints"], np.float64)
                for a, b in COCO17.links:
                    if kp[a, 2] > 0 and kp[b, 2] > 0:
                        cv2.line(img, tuple(int(v) for v in kp[a, :2]), tuple(int(v) for v in kp[b, :2]),
                                 (255, 255, 255), 1, cv2.LINE_AA)
                for x, y, v in kp:
                    if v > 0:
                        cv2.circle(img, (int(x), int(y)), 2, (0, 200, 0) if v == 2 else (0, 140, 255), -1, cv2.LINE_AA)
        s = tile_height / img.shape[0]
        tiles.append(cv2.resize(img, (int(round(img.shape[1] * s)), tile_height), interpolation=cv2.INTER_AREA))
    if not tiles:
        raise InputError("--contact-sheet: no clips were written")
    w = max(t.shape[1] for t in tiles)
    rows = []
    for r in range(0, len(tiles), cols):
        row = [np.pad(t, ((0, 0), (0, w - t.shape[1]), (0, 0))) for t in tiles[r:r + cols]]
        row += [np.zeros((tile_height, w, 3), np.uint8)] * (cols - len(row))
        rows.append(np.concatenate(row, 1))
    grid = np.concatenate(rows, 0)
    ok, buf = cv2.imencode(ext, grid, [cv2.IMWRITE_JPEG_QUALITY, 85] if ext != ".png" else [])
    if not ok:
        raise InputError(f"{out}: could not encode the contact sheet")
    atomic_write_bytes(out, buf.tobytes())
    return out
