"""MPI-INF-3DHP test set in MATLAB v7.3 (HDF5) files, read with h5py (the `hdf5` extra).

The fixture is written the way MATLAB writes a v7.3 file: an HDF5 file with a
512-byte user block holding MATLAB's text header, one dataset per variable with a
``MATLAB_class`` attribute, every array stored with MATLAB's dimension order
reversed (MATLAB is column-major: a 2 x 17 x 1 x T array is an HDF5 dataset of
shape (T, 1, 17, 2)). The same content saved as a v5 file (scipy) must read the same.
"""

import sys

import h5py  # the dev extra includes the hdf5 extra: this path must run in CI
import numpy as np
import pytest
import scipy.io

from vidpose.data.readers import read_mpi_inf_3dhp_test
from vidpose.data.readers._common import is_hdf5
from vidpose.errors import InputError


def matlab_v73_header() -> bytes:
    """MATLAB's 128-byte header (text, subsystem offset, version 0x0200, endian 'IM'), padded to 512."""
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Thu Mar  1 12:00:00 2018 HDF5 schema 1.00 ."
    head = text.ljust(116, b" ") + b"\0" * 8 + b"\x00\x02" + b"IM"
    assert len(head) == 128
    return head.ljust(512, b"\0")


def save_v73(path, variables: dict) -> None:
    """Write ``variables`` (MATLAB-order numpy arrays) as MATLAB v7.3 does."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, value in variables.items():
            a = np.asarray(value)
            ds = f.create_dataset(name, data=a.T)  # column-major: dimensions reversed
            ds.attrs["MATLAB_class"] = np.bytes_("double" if a.dtype.kind == "f" else "uint8")
    with open(path, "r+b") as fh:
        fh.write(matlab_v73_header())


def _content(t=5, seed=0, layout="c17_1_t"):
    rng = np.random.default_rng(seed)
    j2 = rng.uniform(0, 2048, size=(t, 17, 2))
    j3 = rng.normal(0, 500, size=(t, 17, 3))

    def matlab(a):  # (T, 17, C) -> C x 17 x 1 x T (or C x 1 x 17 x T)
        m = a.transpose(2, 1, 0)
        return m[:, :, None, :] if layout == "c17_1_t" else m[:, None, :, :]

    valid = np.ones((1, t))
    valid[0, 2] = 0
    j3_nan = j3.copy()
    j3_nan[2] = np.nan  # invalid frames may hold NaN (the released files do)
    variables = {"annot2": matlab(j2), "annot3": matlab(j3_nan), "univ_annot3": matlab(j3 * 0.95),
                 "valid_frame": valid, "activity_annotation": (np.arange(t)[None, :] % 7).astype(np.uint8)}
    return j2, j3, variables


@pytest.mark.parametrize("layout", ["c17_1_t", "c_1_17_t"])
def test_v73_file_reads_like_the_v5_file(tmp_path, layout):
    j2, j3, variables = _content(layout=layout)
    v73 = tmp_path / "v73" / "mpi_inf_3dhp_test_set" / "TS1"
    v5 = tmp_path / "v5" / "mpi_inf_3dhp_test_set" / "TS1"
    v73.mkdir(parents=True)
    v5.mkdir(parents=True)
    save_v73(v73 / "annot_data.mat", variables)
    scipy.io.savemat(v5 / "annot_data.mat", variables)
    raw = (v73 / "annot_data.mat").read_bytes()
    assert raw[:10] == b"MATLAB 7.3" and raw[512:520] == b"\x89HDF\r\n\x1a\n"
    assert is_hdf5(v73 / "annot_data.mat") and not is_hdf5(v5 / "annot_data.mat")
    with h5py.File(v73 / "annot_data.mat", "r") as f:  # really stored transposed
        assert f["annot3"].shape == variables["annot3"].shape[::-1]

    (a,) = read_mpi_inf_3dhp_test(tmp_path / "v73")
    (b,) = read_mpi_inf_3dhp_test(tmp_path / "v5")
    valid = np.array([True, True, False, True, True])
    assert a.extra["valid"].tolist() == valid.tolist()
    np.testing.assert_array_equal(a.joints_3d[valid], j3[valid])
    assert np.isnan(a.joints_3d[2]).all()  # kept in the invalid frame
    np.testing.assert_array_equal(a.joints_2d, j2)
    np.testing.assert_array_equal(a.extra["activity"], np.arange(5) % 7)
    np.testing.assert_array_equal(a.joints_2d, b.joints_2d)
    np.testing.assert_array_equal(a.joints_3d, b.joints_3d)
    np.testing.assert_array_equal(a.extra["activity"], b.extra["activity"])
    (u,) = read_mpi_inf_3dhp_test(tmp_path / "v73", universal=True)
    np.testing.assert_allclose(u.joints_3d, j3 * 0.95)


def _one(tmp_path, variables):
    d = tmp_path / "TS1"
    d.mkdir()
    save_v73(d / "annot_data.mat", variables)
    return d / "annot_data.mat"


def test_v73_missing_variable(tmp_path):
    _, _, v = _content()
    del v["valid_frame"]
    p = _one(tmp_path, v)
    with pytest.raises(InputError, match="valid_frame: missing variable") as e:
        read_mpi_inf_3dhp_test(tmp_path)
    assert str(p) in str(e.value)


def test_v73_nan_in_a_valid_frame(tmp_path):
    _, _, v = _content()
    v["annot3"][0, 3, 0, 1] = np.inf
    _one(tmp_path, v)
    with pytest.raises(InputError, match=r"annot_data\.mat: annot3: non-finite value \(NaN or inf\) in valid frame 1"):
        read_mpi_inf_3dhp_test(tmp_path)


def test_v73_struct_instead_of_array(tmp_path):
    _, _, v = _content()
    p = _one(tmp_path, {k: a for k, a in v.items() if k != "annot2"})
    with h5py.File(p, "r+") as f:  # a MATLAB struct is an HDF5 group
        g = f.create_group("annot2")
        g["x"] = np.zeros((3, 1))
    with pytest.raises(InputError, match=r"annot_data\.mat: annot2: expected a numeric array, got an HDF5 Group"):
        read_mpi_inf_3dhp_test(tmp_path)


def test_v73_wrong_shape(tmp_path):
    _, _, v = _content()
    v["annot3"] = v["annot3"][:, :16]
    _one(tmp_path, v)
    with pytest.raises(InputError, match=r"annot3: expected 3 x 17 x 1 x T \(MATLAB order\), got \(3, 16, 1, 5\)"):
        read_mpi_inf_3dhp_test(tmp_path)


def test_v73_truncated_file(tmp_path):
    _, _, v = _content(t=200)
    p = _one(tmp_path, v)
    p.write_bytes(p.read_bytes()[:4000])
    with pytest.raises(InputError, match=r"annot_data\.mat: not a readable MATLAB v7\.3 \(HDF5\) file"):
        read_mpi_inf_3dhp_test(tmp_path)


def test_without_h5py_the_error_says_what_to_do(tmp_path, monkeypatch):
    _, _, v = _content()
    _one(tmp_path, v)
    monkeypatch.setitem(sys.modules, "h5py", None)  # as if the hdf5 extra were not installed
    with pytest.raises(InputError, match=r"annot_data\.mat: MATLAB v7\.3 \(HDF5\) file; install the optional "
                                         r"package h5py .*save\('annot_data\.mat', '-struct', 's', '-v7'\)"):
        read_mpi_inf_3dhp_test(tmp_path)
