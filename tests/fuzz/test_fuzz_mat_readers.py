"""Fuzzing the MATLAB-file dataset readers: MPII (.mat), LSP/LSPET, Penn Action, Sub-JHMDB,
MPI-INF-3DHP training (annot.mat) and test set (annot_data.mat, v5 and v7.3/HDF5).

A case is a valid content tree (dicts = MATLAB structs, lists of dicts = struct
arrays, other lists = cell arrays) with random edits, written with scipy.io.savemat
(or as MATLAB v7.3 writes HDF5), sometimes with its bytes damaged. See fuzzlib.py.
"""

import h5py
import numpy as np
import scipy.io
from hypothesis import given, note, reject
from hypothesis import strategies as st

from fuzzlib import EMPTY, FUZZ, check_dataset, check_sequences, damaged_bytes, edited_tree, expect_clean, workdir
from vidpose.data.readers import (
    read_jhmdb,
    read_lsp,
    read_mpi_inf_3dhp,
    read_mpi_inf_3dhp_test,
    read_mpii_mat,
    read_penn_action,
)

RNG = np.random.default_rng(1)


def _struct_array(elems):
    names = []
    for e in elems:
        names += [k for k in e if k not in names]
    arr = np.zeros((1, len(elems)), dtype=[(n, object) for n in names] or [("_", object)])
    for i, e in enumerate(elems):
        for n in names:
            arr[0, i][n] = e.get(n, EMPTY)
    return arr


def to_mat(node):
    """Content tree -> what scipy.io.savemat writes as MATLAB structs / struct arrays / cells."""
    if isinstance(node, dict):
        return {k: to_mat(v) for k, v in node.items()}
    if isinstance(node, list):
        items = [to_mat(x) for x in node]
        if items and all(isinstance(x, dict) for x in items):
            return _struct_array(items)
        c = np.empty((len(items), 1), dtype=object)
        for i, x in enumerate(items):
            c[i, 0] = x
        return c
    return node


@st.composite
def mat_case(draw, base, max_edits=3):
    """Bytes of a damaged .mat file derived from ``base`` (a dict of variables)."""
    tree, edits = draw(edited_tree(base, json=False, max_edits=max_edits))
    if not isinstance(tree, dict):
        reject()
    import io

    buf = io.BytesIO()
    try:
        scipy.io.savemat(buf, to_mat(tree))
    except Exception:  # a tree scipy cannot write is no MATLAB file at all
        reject()
    data, op = draw(damaged_bytes(buf.getvalue(), text=False))
    return data, edits + ([op] if op != "none" else [])


def _point(j, x, y, v):
    return {"id": float(j), "x": x, "y": y, "is_visible": v}


MPII_BASE = {"RELEASE": {
    "annolist": [
        {"image": {"name": "015601864.jpg"}, "annorect": [
            {"x1": 100.0, "y1": 101.0, "x2": 140.0, "y2": 150.0, "scale": 3.5, "objpos": {"x": 120.0, "y": 200.0},
             "annopoints": {"point": [_point(0, 10.0, 11.0, 1.0), _point(9, 20.0, 21.0, "0"),
                                      _point(8, 30.0, 31.0, EMPTY), _point(15, 40.0, 41.0, "1")]}},
            {"x1": 1.0, "y1": 2.0, "x2": 3.0, "y2": 4.0, "scale": 1.0, "objpos": {"x": 7.0, "y": 8.0},
             "annopoints": {"point": [_point(6, 5.0, 6.0, 0.0), _point(7, 9.0, 9.5, 1.0)]}}]},
        {"image": {"name": "015599452.jpg"}, "annorect": [{"scale": 2.0, "objpos": {"x": 50.0, "y": 60.0}}]},
        {"image": {"name": "005808361.jpg"}, "annorect": EMPTY},
    ],
    "img_train": np.array([[1.0, 0.0, 1.0]]),
    "single_person": [np.array([[2.0]]), np.array([[1.0]]), EMPTY],
    "act": [{"act_name": "curling", "cat_name": "sports", "act_id": 1.0},
            {"act_name": EMPTY, "cat_name": EMPTY, "act_id": -1.0},
            {"act_name": "", "cat_name": "", "act_id": -1.0}],
    "version": "12",
}}


@FUZZ
@given(case=mat_case(MPII_BASE))
def test_fuzz_read_mpii_mat(case):
    data, edits = case
    note(edits)
    with workdir() as d:
        p = d / "mpii_human_pose_v1_u12_1.mat"
        p.write_bytes(data)
        ds = expect_clean(lambda: read_mpii_mat(p, d / "images"), p)
        if ds is not None:
            check_dataset(ds)


def _lsp_joints(n=4, extended=False):
    xy = RNG.uniform(1, 300, (n, 14, 2)).round(1)
    flag = RNG.integers(0, 2, (n, 14, 1)).astype(float)
    j = np.concatenate([xy, flag], axis=2)  # (N, 14, 3)
    return j.transpose(1, 2, 0) if extended else j.transpose(2, 1, 0)


@FUZZ
@given(case=st.one_of(mat_case({"joints": _lsp_joints()}), mat_case({"joints": _lsp_joints(extended=True)})))
def test_fuzz_read_lsp(case):
    data, edits = case
    note(edits)
    with workdir() as d:
        p = d / "joints.mat"
        p.write_bytes(data)
        ds = expect_clean(lambda: read_lsp(p, d / "images"), p)
        if ds is not None:
            check_dataset(ds)


def _penn(t=3):
    x = RNG.uniform(1, 600, (t, 13)).round(1)
    return {
        "action": "tennis_serve", "pose": "back", "x": x, "y": x + 10, "visibility": RNG.integers(0, 2, (t, 13)).astype(float),
        "train": np.array([[-1.0]]), "bbox": np.tile([10.0, 20.0, 110.0, 220.0], (t, 1)),
        "dimensions": np.array([[480.0, 640.0, t]]), "nframes": np.array([[float(t)]]),
    }


@FUZZ
@given(case=mat_case(_penn()))
def test_fuzz_read_penn_action(case):
    data, edits = case
    note(edits)
    with workdir() as d:
        (d / "labels").mkdir()
        p = d / "labels" / "0001.mat"
        p.write_bytes(data)
        ds = expect_clean(lambda: read_penn_action(d), p)
        if ds is not None:
            check_dataset(ds)
            for fr in ds.frames:
                assert fr.persons[0].bbox is None or fr.persons[0].bbox[2] >= fr.persons[0].bbox[0]


SPLIT_TEXT = b"clip_a.avi 1\nclip_b.avi 2\n"


@FUZZ
@given(case=mat_case({"pos_img": RNG.uniform(1, 300, (2, 15, 4)).round(1), "scale": np.ones((1, 4))}),
       split=damaged_bytes(SPLIT_TEXT, text=True))
def test_fuzz_read_jhmdb(case, split):
    data, edits = case
    split_bytes, split_op = split
    note((edits, split_op))
    with workdir() as d:
        (d / "sub_splits").mkdir()
        sp = d / "sub_splits" / "catch_test_split1.txt"
        sp.write_bytes(split_bytes)
        mats = []
        for clip in ("clip_a", "clip_b"):
            f = d / "joint_positions" / "catch" / clip / "joint_positions.mat"
            f.parent.mkdir(parents=True)
            f.write_bytes(data)
            mats.append(f)
        ds = expect_clean(lambda: read_jhmdb(d, 1), [sp, *mats, d / "sub_splits"])
        if ds is not None:
            check_dataset(ds)


def _mpi_train(t=3, cams=3):
    return {
        "annot2": [RNG.uniform(0, 2048, (t, 56)).round(1) for _ in range(cams)],
        "annot3": [RNG.normal(0, 500, (t, 84)).round(1) for _ in range(cams)],
        "univ_annot3": [RNG.normal(0, 500, (t, 84)).round(1) for _ in range(cams)],
        "cameras": np.arange(cams, dtype=float)[None, :],
    }


@FUZZ
@given(case=mat_case(_mpi_train()), opts=st.sampled_from([{}, {"cameras": [0, 2]}, {"universal": True, "joints_17": True}]))
def test_fuzz_read_mpi_inf_3dhp_train(case, opts):
    data, edits = case
    note(edits)
    with workdir() as d:
        p = d / "S1" / "Seq1" / "annot.mat"
        p.parent.mkdir(parents=True)
        p.write_bytes(data)
        seqs = expect_clean(lambda: read_mpi_inf_3dhp(d, **opts), p)
        if seqs is not None:
            check_sequences(seqs)


def _mpi_test(t=4):
    j2 = RNG.uniform(0, 2048, (2, 17, 1, t)).round(1)
    j3 = RNG.normal(0, 500, (3, 17, 1, t)).round(1)
    valid = np.ones((1, t))
    valid[0, 1] = 0
    return {"annot2": j2, "annot3": j3, "univ_annot3": j3 * 0.9, "valid_frame": valid,
            "activity_annotation": (np.arange(t) % 3).astype(float)[None, :]}


def _v73_bytes(tree: dict, d) -> bytes:
    """The variables as MATLAB v7.3 writes them (HDF5, 512-byte header, transposed arrays)."""
    p = d / "tmp_v73.mat"
    with h5py.File(p, "w", userblock_size=512) as f:
        for k, v in tree.items():
            if isinstance(v, dict):
                g = f.create_group(k)
                for kk, vv in v.items():
                    g[kk] = np.asarray(vv, dtype=float).T
                continue
            a = np.asarray(v)
            if a.dtype.kind == "U":
                a = np.frombuffer(str(a).encode("utf-16-le"), np.uint16)[:, None]
            elif a.dtype.kind == "O":
                reject()
            f.create_dataset(k, data=a.T)
    head = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Thu Mar  1 12:00:00 2018 HDF5 schema 1.00 ."
    raw = bytearray(p.read_bytes())
    raw[:128] = head.ljust(116, b" ") + b"\0" * 8 + b"\x00\x02IM"
    p.unlink()
    return bytes(raw)


@FUZZ
@given(case=mat_case(_mpi_test()), v73=st.booleans(), tree=edited_tree(_mpi_test(), json=False),
       damage=st.data())
def test_fuzz_read_mpi_inf_3dhp_test(case, v73, tree, damage):
    data, edits = case
    with workdir() as d:
        if v73:
            t, edits = tree
            if not isinstance(t, dict):
                reject()
            try:
                raw = _v73_bytes(t, d)
            except (TypeError, ValueError):
                reject()
            data, op = damage.draw(damaged_bytes(raw, text=False))
            edits = edits + [op, "v7.3"]
        note(edits)
        p = d / "mpi_inf_3dhp_test_set" / "TS1" / "annot_data.mat"
        p.parent.mkdir(parents=True)
        p.write_bytes(data)
        for universal in (False, True):
            seqs = expect_clean(lambda: read_mpi_inf_3dhp_test(d, universal=universal), p)
            if seqs is not None:
                check_sequences(seqs, valid_key="valid")
