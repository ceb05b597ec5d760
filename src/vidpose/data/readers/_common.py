"""Helpers shared by the dataset readers: loading, validation, error messages.

Every check raises :class:`vidpose.errors.InputError` with a message of the form
``<file>: <field>: <fault>`` so a user can find the bad entry in the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vidpose.errors import InputError
from vidpose.io.jsonfile import MAX_ABS, read_json


def fail(path: str | Path, what: str, fault: str) -> InputError:
    """Build the error for a bad ``what`` (key, field, entry) in file ``path``."""
    return InputError(f"{path}: {what}: {fault}")


def require_file(path: str | Path, what: str = "file") -> Path:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: {what} not found (or not a regular file)")
    return p


def require_dir(path: str | Path, what: str = "directory") -> Path:
    p = Path(path)
    if not p.is_dir():
        raise InputError(f"{p}: {what} not found (or not a directory)")
    return p


def load_json(path: str | Path) -> Any:
    """An annotation file's JSON content (:func:`vidpose.io.jsonfile.read_json` after an existence check)."""
    return read_json(require_file(path, "annotation file"))


def load_mat(path: str | Path, *, squeeze: bool = False, structs: bool = False) -> dict:
    """Load a MATLAB v4/v5/v7 file with scipy; a v7.3 (HDF5) file is reported clearly.

    ``squeeze=True, structs=True`` gives attribute-style access to nested structs
    (``scipy.io.loadmat(squeeze_me=True, struct_as_record=False)``).
    """
    from scipy.io import loadmat

    p = require_file(path, "MATLAB file")
    try:
        return loadmat(str(p), squeeze_me=squeeze, struct_as_record=not structs)
    except NotImplementedError as e:
        # scipy raises NotImplementedError for v7.3 files, which are HDF5 containers.
        raise InputError(
            f"{p}: MATLAB v7.3 (HDF5) file; scipy cannot read it. Install the optional "
            "package h5py, or re-save it as v7 in MATLAB: "
            "`s = load('in.mat'); save('out.mat', '-struct', 's', '-v7')`"
        ) from e
    except Exception as e:  # noqa: BLE001 - scipy's parser raises many types on damaged bytes
        # (MatReadError, IndexError, zlib/struct errors, UnicodeDecodeError, MemoryError on
        # absurd sizes ...): all mean the same to the user.
        raise InputError(f"{p}: not a readable MATLAB file ({type(e).__name__}: {e}); truncated or not a .mat?") from None


def is_hdf5(path: str | Path) -> bool:
    """True when ``path`` is an HDF5 container (MATLAB v7.3 files are)."""
    with open(path, "rb") as f:
        head = f.read(512 + 8)
    # A v7.3 .mat has a 512-byte MATLAB text header, then the HDF5 signature.
    sig = b"\x89HDF\r\n\x1a\n"
    return head[:8] == sig or head[512:520] == sig


def _has_bool(value: Any, depth: int = 0) -> bool:
    """True when a (nested) list holds a Python bool: JSON ``true``/``false`` are not numbers."""
    if isinstance(value, bool):
        return True
    if isinstance(value, (list, tuple)) and depth < 8:
        return any(_has_bool(v, depth + 1) for v in value)
    return False


def numeric(value: Any, path: str | Path, what: str, dtype: Any = np.float64) -> np.ndarray:
    """``value`` as a numeric array, refusing what numpy would silently convert.

    Strings (``"1"``), JSON booleans, complex numbers, ``None`` and ragged lists are
    errors; integers too large for a float (JSON allows any size) are errors too.
    """
    if _has_bool(value):
        raise fail(path, what, f"expected numbers, got a boolean in {_short(value)}")
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError, OverflowError):
        raise fail(path, what, f"expected numbers (a regular array), got {_short(value)}") from None
    if raw.dtype.kind not in "fiubO":
        raise fail(path, what, f"expected numbers, got {_short(value)}")
    if raw.dtype.kind == "O" and any(
        isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating))
        for v in raw.ravel()
    ):
        raise fail(path, what, f"expected numbers, got {_short(value)}")
    try:
        with np.errstate(over="raise", invalid="raise"):
            return np.asarray(raw, dtype=dtype)
    except (TypeError, ValueError, OverflowError, FloatingPointError):
        raise fail(path, what, f"expected numbers in range, got {_short(value)}") from None


def as_array(
    value: Any,
    path: str | Path,
    what: str,
    shape: tuple[int | None, ...] | None = None,
    *,
    finite: bool = True,
    dtype: Any = np.float64,
) -> np.ndarray:
    """Convert ``value`` to an array, check its shape (``None`` = any size) and finiteness."""
    arr = numeric(value, path, what, dtype)
    if shape is not None:
        ok = arr.ndim == len(shape) and all(s is None or s == a for s, a in zip(shape, arr.shape))
        if not ok:
            want = "x".join("N" if s is None else str(s) for s in shape) or "scalar"
            raise fail(path, what, f"expected shape {want}, got {arr.shape}")
    if finite and arr.dtype.kind == "f" and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise fail(path, what, f"non-finite value (NaN or inf) at index {tuple(int(i) for i in bad)}")
    if arr.dtype.kind in "fiu" and arr.size:
        a64 = arr.astype(np.float64)
        with np.errstate(invalid="ignore"):
            huge = np.isfinite(a64) & (np.abs(a64) > MAX_ABS)  # NaN/inf: the finiteness rule above
        if huge.any():
            bad = np.argwhere(huge)[0]
            raise fail(path, what, f"value {arr[tuple(bad)]:g} at index {tuple(int(i) for i in bad)} is larger "
                                   f"than {MAX_ABS:g} in magnitude (corrupt file?)")
    return arr


def as_scalar(value: Any, path: str | Path, what: str, limit: float = MAX_ABS) -> float:
    arr = numeric(value, path, what)
    if arr.size != 1:
        raise fail(path, what, f"expected one number, got shape {arr.shape}")
    v = float(arr.reshape(()))
    if not np.isfinite(v):
        raise fail(path, what, "non-finite value (NaN or inf)")
    if abs(v) > limit:
        raise fail(path, what, f"value {v:g} is larger than {limit:g} in magnitude (corrupt file?)")
    return v


def as_int(value: Any, path: str | Path, what: str) -> int:
    v = as_scalar(value, path, what, limit=2.0**53)  # integers exact in a float
    if v != int(v):
        raise fail(path, what, f"expected an integer, got {v}")
    return int(v)


def mat_str(value: Any, path: str | Path, what: str) -> str:
    """A MATLAB char array (as loaded by scipy) as a Python string."""
    arr = np.asarray(value)
    if arr.dtype.kind == "U" and arr.size == 1:
        return str(arr.reshape(()))
    if arr.dtype.kind == "U" and arr.size == 0:
        return ""
    raise fail(path, what, f"expected a string, got {_short(value)}")


def get(d: dict, key: str, path: str | Path, where: str) -> Any:
    """``d[key]``, or an InputError naming the missing key."""
    if not isinstance(d, dict):
        raise fail(path, where, f"expected an object, got {type(d).__name__}")
    if key not in d:
        raise fail(path, f"{where}.{key}" if where else key, "missing")
    return d[key]


def xywh_to_xyxy(box: np.ndarray) -> np.ndarray:
    """(4,) x, y, w, h -> (4,) x1, y1, x2, y2."""
    return np.array([box[0], box[1], box[0] + box[2], box[1] + box[3]], np.float64)


def box_xywh(value: Any, path: str | Path, what: str) -> np.ndarray:
    """A COCO-style ``[x, y, w, h]`` box, checked, as (4,) x1, y1, x2, y2."""
    box = as_array(value, path, what, (4,))
    if box[2] < 0 or box[3] < 0:
        raise fail(path, what, f"negative width or height {box.tolist()}")
    with np.errstate(over="ignore"):
        out = xywh_to_xyxy(box)
    if not np.isfinite(out).all():
        raise fail(path, what, f"coordinates too large (x + w or y + h overflows): {box.tolist()}")
    return out


def as_id(value: Any, path: str | Path, what: str) -> int | str:
    """An identifier: an integer or a non-empty string (not a list, float, boolean or null)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)) or value == "":
        raise fail(path, what, f"expected an integer or string id, got {_short(value)}")
    return value


def as_name(value: Any, path: str | Path, what: str) -> str:
    """A non-empty string (file names, keypoint names)."""
    if not isinstance(value, str) or not value or "\0" in value:
        raise fail(path, what, f"expected a non-empty string, got {_short(value)}")
    return value


def as_size(value: Any, path: str | Path, what: str) -> int:
    """An image width or height: a positive integer."""
    v = as_int(value, path, what)
    if v <= 0:
        raise fail(path, what, f"expected a positive size in pixels, got {v}")
    return v


def keypoints_from_flat(
    flat: Any, num: int, path: str | Path, what: str, vis_map: dict[int, int]
) -> np.ndarray:
    """COCO-style flat list ``[x1, y1, v1, ...]`` -> (num, 3), visibility mapped by ``vis_map``.

    Coordinates of joints that end up with visibility 0 are set to 0, as in COCO.
    """
    arr = as_array(flat, path, what, (None,))
    if arr.size != 3 * num:
        raise fail(path, what, f"expected {3 * num} numbers ({num} keypoints x 3), got {arr.size}")
    kp = arr.reshape(num, 3).copy()
    kp[:, 2] = map_visibility(kp[:, 2], vis_map, path, what)
    kp[kp[:, 2] == 0, :2] = 0.0
    return kp


def map_visibility(v: np.ndarray, vis_map: dict[int, int], path: str | Path, what: str) -> np.ndarray:
    """Map a dataset's visibility codes to COCO 0/1/2; unknown codes are an error."""
    v = np.asarray(v, np.float64)
    keys = np.array(sorted(vis_map), np.float64)
    ok = np.isin(v, keys)
    if not ok.all():
        i = tuple(int(j) for j in np.argwhere(~ok)[0])
        allowed = ", ".join(str(k) for k in sorted(vis_map))
        raise fail(path, what, f"visibility flag {v[i]:g} at index {i} not one of {allowed}")
    out = np.zeros(v.shape, np.float64)
    for code, coco in vis_map.items():
        out[v == code] = coco
    return out


def iter_files(root: str | Path, pattern: str, what: str) -> list[Path]:
    """Sorted files matching ``pattern`` under ``root``; none found is an error."""
    d = require_dir(root, what)
    files = sorted(p for p in d.glob(pattern) if p.is_file())
    if not files:
        raise InputError(f"{d}: no {what} files matching {pattern!r}")
    return files


def _short(value: Any) -> str:
    s = repr(value)
    return s if len(s) <= 60 else s[:57] + "..."

