"""Shared machinery of the reader / eval fuzz tests (issue 15 item 14).

A fuzz case starts from a small *valid* input in the real on-disk format and
damages it: 1-3 edits of its content tree (a value replaced by a wrong type,
NaN/inf, a huge number, a key or list element deleted, a list shortened or
lengthened, an array reshaped) and, sometimes, of the file's bytes (truncated,
re-encoded as UTF-16 or Latin-1, a stray invalid byte, emptied). The property:
the reader either returns data that passes the container invariants (finite
coordinates, COCO visibility 0/1/2, well-formed boxes, consistent shapes), or
raises ``InputError`` whose message names the file and what is wrong in it.
Any other exception fails the test, and so does an accepted input that would
give a wrong score.
"""

from __future__ import annotations

import copy
import math
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from vidpose.errors import InputError
from vidpose.metrics.keypoints import MAX_ABS

# Small budgets: the whole fuzz suite must stay well under a minute on 2 shared cores.
FUZZ = settings(
    max_examples=int(os.environ.get("VIDPOSE_FUZZ_EXAMPLES", "60")),
    deadline=None,
    derandomize=os.environ.get("VIDPOSE_FUZZ_RANDOM", "") == "",  # reproducible in CI unless asked
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    print_blob=True,
)

EMPTY = np.zeros((0, 0))  # MATLAB []


# --- content-tree edits ---------------------------------------------------------------------

def paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every position in a tree of dicts and lists (numpy arrays and scalars are leaves)."""
    out: list[tuple] = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append(prefix + (k,))
            out += paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.append(prefix + (i,))
            out += paths(v, prefix + (i,))
    return out


def _parent(tree: Any, path: tuple) -> Any:
    node = tree
    for k in path[:-1]:
        node = node[k]
    return node


JSON_WEIRD = [
    None, True, False, 0, -1, 1, 2, 3, 17, -3, 10**400, -(10**400), 2**63, 2**64 + 1, 1e308, -1e308, 5e-324,
    1.5, float("nan"), float("inf"), float("-inf"), "", "x", "1", "2", "nan", "é", "\u0000", [], {}, [[]], [None],
    [1, 2], [1.0, float("nan")], {"a": 1}, {"id": 1}, [[1.0, 2.0], [3.0]],
]

json_value = st.one_of(
    st.sampled_from(JSON_WEIRD),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.lists(st.one_of(st.floats(allow_nan=True), st.integers(-5, 5)), max_size=6),
)

MAT_WEIRD = [
    np.nan, np.inf, -np.inf, 1e308, -1e308, 0.0, -1.0, 2.0, 3.0, 1.5, "text", "", EMPTY,
    np.zeros((2, 3)), np.full((1, 1), np.nan), np.array([[1 + 2j]]), np.array([[True, False]]),
    np.array([[2**62]], dtype=np.int64), np.array([[255]], dtype=np.uint8), {"a": 1.0},
]


@st.composite
def mat_value(draw):
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return draw(st.sampled_from(MAT_WEIRD))
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=1, max_size=4)))
    fill = draw(st.sampled_from([0.0, 1.0, np.nan, np.inf, 1e308, -7.0]))
    return np.full(shape, fill)


def _number_edit(v: Any, draw, json: bool) -> Any:
    choices = [float("nan"), float("inf"), float("-inf"), 1e308, -1e308]
    if json:
        choices += [10**400, -(10**400), str(v), [v], None, True]
    else:
        choices += [np.array([[v, v]]), "1", EMPTY]
    return draw(st.sampled_from(choices))


def _array_edit(a: np.ndarray, draw) -> Any:
    op = draw(st.sampled_from(["nan", "inf", "huge", "drop", "transpose", "flatten", "extra_dim", "empty", "string"]))
    a = np.array(a, copy=True)
    if a.dtype.kind in "iub":
        a = a.astype(np.float64)
    if op in ("nan", "inf", "huge") and a.size and a.dtype.kind in "fc":
        idx = tuple(draw(st.integers(0, s - 1)) for s in a.shape)
        a[idx] = {"nan": np.nan, "inf": np.inf, "huge": 1e308}[op]
        return a
    if op == "drop" and a.ndim and a.shape[0] > 0:
        ax = draw(st.integers(0, a.ndim - 1))
        return np.delete(a, -1, axis=ax) if a.shape[ax] else a
    if op == "transpose":
        return a.T
    if op == "flatten":
        return a.ravel()[None, :]
    if op == "extra_dim":
        return a[..., None]
    if op == "empty":
        return EMPTY
    return "not an array"


@st.composite
def edited_tree(draw, base: Any, json: bool = True, max_edits: int = 3):
    """``base`` with 1..max_edits random edits; returns (tree, list of edit descriptions)."""
    tree = copy.deepcopy(base)
    done = []
    for _ in range(draw(st.integers(1, max_edits))):
        ps = paths(tree)
        if not ps:
            break
        path = draw(st.sampled_from(ps))
        parent = _parent(tree, path)
        key = path[-1]
        old = parent[key]
        op = draw(st.sampled_from(["replace", "delete", "number", "list"]))
        if op == "delete":
            del parent[key]
        elif op == "number" and isinstance(old, (int, float)) and not isinstance(old, bool):
            parent[key] = copy.deepcopy(_number_edit(old, draw, json))
        elif op == "number" and isinstance(old, np.ndarray):
            parent[key] = _array_edit(old, draw)
        elif op == "list" and isinstance(old, list):
            if old and draw(st.booleans()):
                old.pop(draw(st.integers(0, len(old) - 1)))
            else:
                old.append(copy.deepcopy(old[0] if old and draw(st.booleans()) else draw(json_value if json else mat_value())))
        else:
            # a copy: the weird values are shared module constants, later edits must not change them
            parent[key] = copy.deepcopy(draw(json_value if json else mat_value()))
        done.append(f"{op} at {path}")
    return tree, done


# --- byte-level damage ----------------------------------------------------------------------

@st.composite
def damaged_bytes(draw, data: bytes, text: bool = True):
    """``data`` unchanged (most often) or truncated / re-encoded / with a bad byte / empty."""
    op = draw(st.sampled_from(["none", "none", "none", "truncate", "truncate", "byte", "empty"]
                              + (["utf16", "latin1"] if text else [])))
    if op == "truncate" and data:
        return data[: draw(st.integers(0, len(data) - 1))], op
    if op == "byte" and data:
        i = draw(st.integers(0, len(data) - 1))
        b = draw(st.sampled_from([b"\xff", b"\x00", b"\x80", b"{", b"]"]))
        return data[:i] + b + data[i + 1:], op
    if op == "empty":
        return b"", op
    if op == "utf16":
        return data.decode("utf-8").encode("utf-16"), op
    if op == "latin1":
        return data.decode("utf-8").replace('"', '"é', 1).encode("latin-1", "replace"), op
    return data, "none"


# --- running a case -------------------------------------------------------------------------

@contextmanager
def workdir():
    d = Path(tempfile.mkdtemp(prefix="vidpose-fuzz-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def expect_clean(call: Callable[[], Any], names: Path | list[Path]) -> Any:
    """Run ``call``: its result (None on InputError) after checking that an error names the input.

    ``names``: the file (or folder) the message must mention; the text after it must say
    what is wrong (``<file>: <field>: <fault>`` or ``<file>: <fault>``).
    """
    cands = [names] if isinstance(names, Path) else names
    try:
        return call()
    except InputError as e:
        msg = str(e)
        hit = [c for c in cands if str(c) in msg]
        assert hit, f"InputError does not name the input {[str(c) for c in cands]}: {msg}"
        rest = msg.split(str(hit[0]), 1)[1].strip(" :")
        assert len(rest) >= 5, f"InputError names the file but not the fault: {msg}"
        return None


def _finite_box(b: Any, what: str) -> None:
    b = np.asarray(b)
    assert b.shape == (4,) and b.dtype.kind == "f", f"{what}: bbox {b!r}"
    assert np.isfinite(b).all(), f"{what}: non-finite bbox {b}"
    assert np.abs(b).max() <= MAX_ABS, f"{what}: huge bbox coordinate accepted {b}"
    assert b[2] >= b[0] and b[3] >= b[1], f"{what}: inverted bbox {b}"


def check_dataset(ds: Any, *, zero_unlabelled: bool = True) -> None:
    """Invariants of a returned PoseDataset: what a metric may rely on.

    ``zero_unlabelled``: x, y of visibility-0 joints are 0 (the readers' rule, docs/datasets.md;
    synth annotations keep the projected position of joints outside the image).
    """
    j = len(ds.keypoint_names)
    assert j > 0 and all(isinstance(n, str) for n in ds.keypoint_names)
    for fi, fr in enumerate(ds.frames):
        what = f"frames[{fi}]"
        assert fr.width is None or (isinstance(fr.width, int) and fr.width > 0), f"{what}: width {fr.width!r}"
        assert fr.height is None or (isinstance(fr.height, int) and fr.height > 0), f"{what}: height {fr.height!r}"
        assert isinstance(fr.index, int) and fr.index >= 0, f"{what}: index {fr.index!r}"
        hash(fr.image_id)
        assert fr.image is None or isinstance(fr.image, Path)
        for pi, p in enumerate(fr.persons):
            pw = f"{what}.persons[{pi}]"
            kp = p.keypoints
            assert isinstance(kp, np.ndarray) and kp.shape == (j, 3) and kp.dtype.kind == "f", f"{pw}: keypoints"
            assert np.isfinite(kp).all(), f"{pw}: non-finite keypoints"
            assert np.abs(kp).max() <= MAX_ABS, f"{pw}: huge coordinate accepted"
            assert np.isin(kp[:, 2], (0, 1, 2)).all(), f"{pw}: visibility {kp[:, 2]}"
            if zero_unlabelled:
                assert (kp[kp[:, 2] == 0, :2] == 0).all(), f"{pw}: coordinates kept for visibility-0 joints"
            if p.bbox is not None:
                _finite_box(p.bbox, pw)
            if p.area is not None:
                assert isinstance(p.area, float) and math.isfinite(p.area) and p.area >= 0, f"{pw}: area {p.area!r}"
            assert p.track_id is None or isinstance(p.track_id, int), f"{pw}: track_id {p.track_id!r}"
            for k, v in p.extra.items():
                if isinstance(v, (float, np.ndarray)) and np.asarray(v).dtype.kind == "f":
                    assert np.isfinite(v).all(), f"{pw}: extra[{k!r}] non-finite"
                if k == "head_box":
                    _finite_box(v, f"{pw}.extra.head_box")
    n = len(ds.frames)
    for name, idx in ds.sequences.items():
        assert all(0 <= i < n for i in idx), f"sequence {name}: bad frame index"


def check_sequences(seqs: list, *, valid_key: str | None = None) -> None:
    """Invariants of returned Sequence3D lists (finite joints; only invalid frames may hold NaN)."""
    for s in seqs:
        j3 = s.joints_3d
        assert isinstance(j3, np.ndarray) and j3.ndim == 3 and j3.shape[2] == 3 and j3.dtype.kind == "f"
        mask = np.ones(j3.shape[0], bool)
        if valid_key is not None:
            mask = np.asarray(s.extra[valid_key], bool)
            assert mask.shape == (j3.shape[0],)
        assert np.isfinite(j3[mask]).all(), f"{s.subject}/{s.action}: non-finite 3D joints in a valid frame"
        assert not (np.abs(j3[mask]) > MAX_ABS).any(), f"{s.subject}/{s.action}: huge 3D coordinate accepted"
        if s.joints_2d is not None:
            j2 = s.joints_2d
            assert j2.shape == (j3.shape[0], j3.shape[1], 2) and j2.dtype.kind == "f"
            assert np.isfinite(j2[mask]).all(), f"{s.subject}/{s.action}: non-finite 2D joints in a valid frame"


def dumps(tree: Any) -> bytes:
    """JSON text as Python writes it (NaN/Infinity literals allowed: readers must refuse them)."""
    import json

    return json.dumps(tree).encode("utf-8")


@st.composite
def json_case(draw, base: Any, max_edits: int = 3):
    """Bytes of a damaged JSON file derived from ``base``, and what was done (for the failure report)."""
    tree, edits = draw(edited_tree(base, json=True, max_edits=max_edits))
    data, op = draw(damaged_bytes(dumps(tree)))
    return data, edits + ([op] if op != "none" else [])
