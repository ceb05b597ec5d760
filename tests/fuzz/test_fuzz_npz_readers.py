"""Fuzzing the VideoPose3D .npz readers (Human3.6M, HumanEva-I): pickled dicts of arrays.

Edits reach every level (subjects, actions, camera lists, metadata); the archives
are written with numpy.savez as VideoPose3D does, sometimes with damaged bytes.
Only trees built here are unpickled. See fuzzlib.py for the property.
"""

import io

import numpy as np
from hypothesis import given, note
from hypothesis import strategies as st

from fuzzlib import FUZZ, check_sequences, damaged_bytes, edited_tree, expect_clean, workdir
from vidpose.data.readers import read_h36m_npz, read_humaneva_npz

RNG = np.random.default_rng(2)


def _npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **{k: np.array(v, dtype=object) if isinstance(v, dict) else v for k, v in arrays.items()})
    return buf.getvalue()


H36M_3D = {"S1": {"Walking": RNG.normal(0, 1, (5, 32, 3)), "Eating 2": RNG.normal(0, 1, (4, 17, 3))},
           "S9": {"Sitting": RNG.normal(0, 1, (3, 32, 3))}}
H36M_2D = {"positions_2d": {s: {a: [RNG.uniform(0, 1000, (len(v) + c % 2, 17, 2)) for c in range(4)]
                                for a, v in acts.items()} for s, acts in H36M_3D.items()},
           "metadata": {"layout_name": "h36m", "num_joints": 17,
                        "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]}}
HE_3D = {"Train/S1": {"Walking 1 chunk0": RNG.normal(0, 1, (4, 15, 3))},
         "Validate/S2": {"Jog 1 chunk0": RNG.normal(0, 1, (3, 15, 3))}}
HE_2D = {"positions_2d": {s: {a: [RNG.uniform(0, 640, (len(v), 15, 2)), None, RNG.uniform(0, 640, (len(v), 15, 2))]
                              for a, v in acts.items()} for s, acts in HE_3D.items()},
         "metadata": {"layout_name": "humaneva15", "num_joints": 15}}


@st.composite
def npz_pair(draw, base3d, base2d):
    t3, e3 = draw(edited_tree({"positions_3d": base3d}, json=False, max_edits=2))
    with_2d = draw(st.booleans())
    t2, e2 = draw(edited_tree(base2d, json=False, max_edits=2)) if with_2d else (None, [])
    try:
        b3 = _npz_bytes(**t3)
        b2 = _npz_bytes(**t2) if with_2d else None
    except (TypeError, ValueError):
        b3, b2 = _npz_bytes(x=np.zeros(1)), None
    b3, op3 = draw(damaged_bytes(b3, text=False))
    op2 = "none"
    if b2 is not None:
        b2, op2 = draw(damaged_bytes(b2, text=False))
    return b3, b2, [*e3, op3, *e2, op2]


def _check_reader(reader, case, check_joints):
    b3, b2, edits = case
    note(edits)
    with workdir() as d:
        p3 = d / "data_3d.npz"
        p3.write_bytes(b3)
        p2 = None
        if b2 is not None:
            p2 = d / "data_2d_gt.npz"
            p2.write_bytes(b2)
        seqs = expect_clean(lambda: reader(p3, p2), [p for p in (p3, p2) if p is not None])
        if seqs is not None:
            check_sequences(seqs)
            assert all(s.joints_3d.shape[1] == check_joints for s in seqs)


@FUZZ
@given(case=npz_pair(H36M_3D, H36M_2D))
def test_fuzz_read_h36m_npz(case):
    _check_reader(read_h36m_npz, case, 17)


@FUZZ
@given(case=npz_pair(HE_3D, HE_2D))
def test_fuzz_read_humaneva_npz(case):
    _check_reader(read_humaneva_npz, case, 15)
