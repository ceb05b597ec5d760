"""Human3.6M camera parameters: the ``camera-parameters.json`` layout that users of the dataset pass
around (intrinsics per camera, extrinsics per subject and camera), attached to the sequences of
:func:`vidpose.data.readers.videopose3d.read_h36m_npz`.

Layout::

    {"intrinsics": {"54138969": {"calibration_matrix": [[fx, 0, cx], [0, fy, cy], [0, 0, 1]],
                                 "distortion": [k1, k2, p1, p2, k3]}, ...},
     "extrinsics": {"S1": {"54138969": {"R": [[...], [...], [...]], "t": [[tx], [ty], [tz]]}, ...}, ...}}

with ``camera = R world + t``, ``t`` in millimetres (Human3.6M's world unit; the VideoPose3D npz
files hold metres, so ``t / 1000`` is used). The file has no image sizes: they are the dataset's,
``H36M_RESOLUTION`` (width, height) per camera. The world is z up (the floor at z = 0).

:func:`with_h36m_cameras`: a sequence with 2D of one camera gets its 3D in that camera's frame
(metres) and ``camera_params`` (``intrinsics``, ``distortion``, ``R``, ``t`` metres, ``width``,
``height``), as the sequence objective needs; a sequence without 2D stays in the world frame and is
marked so (``extra["frame"] = "world"``, ``extra["up"]``), so training sees it through random
virtual cameras like the mocap.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vidpose.data.readers._common import as_array, fail, load_json
from vidpose.errors import InputError

H36M_RESOLUTION: dict[str, tuple[int, int]] = {
    "54138969": (1000, 1002), "55011271": (1000, 1000), "58860488": (1000, 1000), "60457274": (1000, 1002),
}
WORLD_UP = (0.0, 0.0, 1.0)


def _matrix(value, path: Path, what: str, shape: tuple[int, ...]) -> np.ndarray:
    """``value`` as finite numbers (the readers' checks: :func:`as_array`) of ``shape``'s size, reshaped to it."""
    a = as_array(value, path, what)
    if a.size != int(np.prod(shape)):
        raise fail(path, what, f"expected {int(np.prod(shape))} finite numbers {shape}, got shape {a.shape}")
    return a.reshape(shape)


def read_h36m_cameras(path: str | Path) -> dict[str, dict[str, dict]]:
    """``subject -> camera id -> {"intrinsics", "distortion", "R", "t" (metres), "width", "height"}``
    from a ``camera-parameters.json``; InputError naming the file and the entry on any fault."""
    path = Path(path)
    d = load_json(path)
    if not isinstance(d, dict) or not isinstance(d.get("intrinsics"), dict) or not isinstance(d.get("extrinsics"), dict):
        raise fail(path, "top level", "expected an object with 'intrinsics' and 'extrinsics' objects")
    out: dict[str, dict[str, dict]] = {}
    for subject, cams in d["extrinsics"].items():
        if not isinstance(cams, dict):
            raise fail(path, f"extrinsics[{subject!r}]", "expected an object of cameras")
        for cam, ex in cams.items():
            where = f"extrinsics[{subject!r}][{cam!r}]"
            if cam not in d["intrinsics"] or not isinstance(d["intrinsics"][cam], dict):
                raise fail(path, where, f"camera {cam} has no intrinsics")
            if not isinstance(ex, dict) or "R" not in ex or "t" not in ex:
                raise fail(path, where, "expected 'R' and 't'")
            if cam not in H36M_RESOLUTION:
                raise fail(path, where, f"unknown Human3.6M camera {cam!r} (known: {', '.join(H36M_RESOLUTION)})")
            intr = d["intrinsics"][cam]
            if "calibration_matrix" not in intr:
                raise fail(path, f"intrinsics[{cam!r}]", "expected 'calibration_matrix'")
            r = _matrix(ex["R"], path, f"{where}.R", (3, 3))
            if not np.allclose(r @ r.T, np.eye(3), atol=1e-4) or np.linalg.det(r) < 0:
                raise fail(path, f"{where}.R", "not a rotation matrix")
            w, h = H36M_RESOLUTION[cam]
            out.setdefault(str(subject), {})[str(cam)] = {
                "intrinsics": _matrix(intr["calibration_matrix"], path, f"intrinsics[{cam!r}].calibration_matrix", (3, 3)),
                "distortion": _matrix(intr.get("distortion", [0.0] * 5), path, f"intrinsics[{cam!r}].distortion", (5,)),
                "R": r, "t": _matrix(ex["t"], path, f"{where}.t", (3,)) / 1000.0, "width": w, "height": h,
            }
    return out


def with_h36m_cameras(sequences: list, cameras: dict[str, dict[str, dict]], source: str | Path) -> list:
    """The sequences of ``read_h36m_npz`` with their cameras (see the module docstring), in place;
    InputError naming ``source`` when a sequence's subject or camera is not in it."""
    for s in sequences:
        cam_id = (s.extra or {}).get("camera_id")
        if s.joints_2d is None or cam_id is None:
            s.extra = {**(s.extra or {}), "frame": "world", "up": WORLD_UP}
            continue
        cam = cameras.get(str(s.subject), {}).get(str(cam_id))
        if cam is None:
            raise InputError(f"{source}: no camera {cam_id} for subject {s.subject} (sequence {s.subject}/{s.action})")
        s.joints_3d = np.einsum("ab,tjb->tja", cam["R"], np.asarray(s.joints_3d, np.float64)) + cam["t"]
        s.camera_params = dict(cam)
    return sequences
