"""Leeds Sports Pose (LSP, 2000 images) and LSP-extended (LSPET, 10000 images).

Keypoint order, skeleton name ``lsp14``::

    0 right_ankle  1 right_knee  2 right_hip  3 left_hip  4 left_knee  5 left_ankle
    6 right_wrist  7 right_elbow  8 right_shoulder  9 left_shoulder  10 left_elbow
    11 left_wrist  12 neck  13 head_top

The two releases store ``joints`` differently; the reader tells them apart by
shape:

* LSP: 3 x 14 x N (x, y, flag), flag 1 = occluded, 0 = visible;
  mapped 0 -> 2, 1 -> 1. Images ``im0001.jpg`` ... (4 digits).
* LSPET: 14 x 3 x N (x, y, flag), flag 1 = visible, 0 = not visible;
  mapped 1 -> 2, 0 -> 1 (joints are still annotated). Images
  ``im00001.jpg`` ... (5 digits).

Coordinates are kept as stored (MATLAB-style 1-based pixels).
"""

from __future__ import annotations

from pathlib import Path

from vidpose.data.readers._common import as_array, fail, load_mat, map_visibility
from vidpose.data.annotations import FrameAnnotation, PersonAnnotation, PoseDataset

LSP14_KEYPOINTS: tuple[str, ...] = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
    "left_wrist", "neck", "head_top",
)


def read_lsp(joints_mat: str | Path, image_root: str | Path) -> PoseDataset:
    """Read LSP or LSPET ``joints.mat`` (variable ``joints``) into a :class:`PoseDataset`.

    One frame per image, one person per frame, ``image_id`` = image number
    (1-based). ``PoseDataset.name`` is ``"lsp"`` or ``"lspet"`` depending on the
    detected layout (see the module docstring).
    """
    path = Path(joints_mat)
    root = Path(image_root)
    m = load_mat(path)
    if "joints" not in m:
        raise fail(path, "joints", "missing variable")
    raw = as_array(m["joints"], path, "joints")
    if raw.ndim == 2:
        raw = raw[..., None]  # MATLAB drops a trailing singleton: a one-image file
    if raw.ndim != 3:
        raise fail(path, "joints", f"expected 3 x 14 x N (LSP) or 14 x 3 x N (LSPET), got {raw.shape}")
    if raw.shape[:2] == (3, 14):
        name, digits = "lsp", 4
        joints = raw.transpose(2, 1, 0)  # (N, 14, 3)
        vis_map = {0: 2, 1: 1}  # flag 1 = occluded
    elif raw.shape[:2] == (14, 3):
        name, digits = "lspet", 5
        joints = raw.transpose(2, 0, 1)
        vis_map = {1: 2, 0: 1}  # flag 1 = visible
    else:
        raise fail(path, "joints", f"expected 3 x 14 x N (LSP) or 14 x 3 x N (LSPET), got {raw.shape}")

    vis = map_visibility(joints[:, :, 2], vis_map, path, "joints (visibility flags)")
    frames = []
    for i in range(joints.shape[0]):
        kp = joints[i].copy()
        kp[:, 2] = vis[i]
        frames.append(
            FrameAnnotation(
                image=root / f"im{i + 1:0{digits}d}.jpg",
                persons=[PersonAnnotation(keypoints=kp)],
                index=i,
                image_id=i + 1,
            )
        )
    return PoseDataset(name=name, skeleton="lsp14", keypoint_names=LSP14_KEYPOINTS, frames=frames)
