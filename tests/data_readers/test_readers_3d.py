"""VideoPose3D npz (Human3.6M, HumanEva-I) and MPI-INF-3DHP train/test .mat files."""

import numpy as np
import pytest
import scipy.io

from vidpose.data.readers import (
    H36M_KEPT_JOINTS,
    H36M_TEST_SUBJECTS,
    H36M_TRAIN_SUBJECTS,
    MPI_INF_3DHP17_KEYPOINTS,
    MPI_INF_3DHP_TEST_JOINTS,
    read_h36m_npz,
    read_humaneva_npz,
    read_mpi_inf_3dhp,
    read_mpi_inf_3dhp_test,
)
from vidpose.errors import InputError

H36M_META = {"layout_name": "h36m", "num_joints": 17, "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]}


def _h36m_files(tmp_path, t=5, extra_2d=2, meta=H36M_META, cams=4):
    rng = np.random.default_rng(1)
    full = rng.normal(size=(t, 32, 3)).astype(np.float32)
    pos3d = {"S1": {"Walking 1": full}, "S9": {"Directions": full[:3] * 2}}
    p3 = tmp_path / "data_3d_h36m.npz"
    np.savez_compressed(p3, positions_3d=pos3d)
    kp2d = rng.uniform(0, 1000, size=(t + extra_2d, 17, 2)).astype(np.float32)
    pos2d = {"S1": {"Walking 1": [kp2d + c for c in range(cams)]},
             "S9": {"Directions": [kp2d[:3] for _ in range(cams)]}}
    p2 = tmp_path / "data_2d_h36m_cpn_ft_h36m_dbb.npz"
    np.savez_compressed(p2, positions_2d=pos2d, metadata=meta)
    return p3, p2, full, kp2d


def test_read_h36m_npz_3d_only(tmp_path):
    p3, _, full, _ = _h36m_files(tmp_path)
    seqs = read_h36m_npz(p3)
    assert [(s.subject, s.action, s.camera) for s in seqs] == [("S1", "Walking 1", None), ("S9", "Directions", None)]
    np.testing.assert_allclose(seqs[0].joints_3d, full[:, list(H36M_KEPT_JOINTS)])
    assert seqs[0].joints_3d.shape == (5, 17, 3) and seqs[0].fps == 50.0 and seqs[0].joints_2d is None
    assert H36M_TRAIN_SUBJECTS == ("S1", "S5", "S6", "S7", "S8") and H36M_TEST_SUBJECTS == ("S9", "S11")


def test_read_h36m_npz_with_2d(tmp_path):
    p3, p2, full, kp2d = _h36m_files(tmp_path)
    seqs = read_h36m_npz(p3, p2)
    assert len(seqs) == 8
    s = seqs[2]
    assert (s.subject, s.action, s.camera) == ("S1", "Walking 1", 2)
    assert s.extra["camera_id"] == "58860488" and s.extra["trimmed_2d_frames"] == 2
    np.testing.assert_allclose(s.joints_2d, kp2d[:5] + 2)  # extra 2D frames trimmed to the mocap
    np.testing.assert_allclose(s.joints_3d, full[:, list(H36M_KEPT_JOINTS)])
    assert "trimmed_2d_frames" not in seqs[4].extra


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"extra_2d": -1}, r"positions_2d\['S1'\]\['Walking 1'\]\[0\]: has 4 frames, the 3D data has 5"),
        ({"meta": {"layout_name": "coco", "num_joints": 17}}, r"metadata: 2D layout 'coco'"),
        ({"meta": {"layout_name": "h36m"}}, r"metadata\.num_joints: missing"),
    ],
)
def test_read_h36m_npz_malformed_2d(tmp_path, kwargs, match):
    p3, p2, _, _ = _h36m_files(tmp_path, **kwargs)
    with pytest.raises(InputError, match=match) as e:
        read_h36m_npz(p3, p2)
    assert str(p2) in str(e.value)


def test_read_h36m_npz_malformed_3d(tmp_path):
    p = tmp_path / "data_3d_h36m.npz"
    np.savez_compressed(p, positions_3d={"S1": {"Eating": np.zeros((4, 20, 3))}})
    with pytest.raises(InputError, match=r"positions_3d\['S1'\]\['Eating'\]: expected 32 or 17 joints, got 20"):
        read_h36m_npz(p)
    bad = np.zeros((4, 32, 3))
    bad[2, 5, 1] = np.nan
    np.savez_compressed(p, positions_3d={"S1": {"Eating": bad}})
    with pytest.raises(InputError, match=r"positions_3d\['S1'\]\['Eating'\]: non-finite"):
        read_h36m_npz(p)
    np.savez_compressed(p, other=np.zeros(2))
    with pytest.raises(InputError, match=r"data_3d_h36m\.npz: positions_3d: missing array"):
        read_h36m_npz(p)
    p.write_bytes(b"not a zip")  # never handed to the unpickler
    with pytest.raises(InputError, match=r"data_3d_h36m\.npz: not an \.npz \(zip\) archive"):
        read_h36m_npz(p)


def test_read_humaneva_npz(tmp_path):
    j3 = np.arange(4 * 15 * 3, dtype=np.float32).reshape(4, 15, 3) / 100
    p3 = tmp_path / "data_3d_humaneva15.npz"
    np.savez_compressed(p3, positions_3d={"Train/S1": {"Walking 1 chunk0": j3}})
    j2 = np.ones((4, 15, 2), np.float32)
    p2 = tmp_path / "data_2d_humaneva15_gt.npz"
    meta = {"layout_name": "humaneva15", "num_joints": 15, "keypoints_symmetry": [[2, 3, 4, 8, 9, 10], [5, 6, 7, 11, 12, 13]]}
    np.savez_compressed(
        p2, metadata=meta,
        positions_2d={"Train/S1": {"Walking 1 chunk0": [j2, None, j2 * 3]}, "Unlabeled/S4": {"Walk": [j2, j2, j2]}},
    )
    seqs = read_humaneva_npz(p3, p2)
    assert [(s.subject, s.camera) for s in seqs] == [("Train/S1", 0), ("Train/S1", 1), ("Train/S1", 2)]
    np.testing.assert_allclose(seqs[2].joints_2d, j2 * 3)
    np.testing.assert_allclose(seqs[0].joints_3d, j3)
    assert seqs[1].joints_2d is None and seqs[1].extra["missing_2d"] is True
    assert seqs[2].extra["camera_id"] == "C3" and seqs[0].fps == 60.0
    np.savez_compressed(p3, positions_3d={"Train/S1": {"Walking 1 chunk0": np.zeros((4, 17, 3))}})
    with pytest.raises(InputError, match=r"expected 15 joints, got 17"):
        read_humaneva_npz(p3)


# --- MPI-INF-3DHP -------------------------------------------------------------------------


def _cell(arrays):
    c = np.empty((len(arrays), 1), dtype=object)
    for i, a in enumerate(arrays):
        c[i, 0] = a
    return c


def _train_seq(tmp_path, subj, seq, t=3, ncam=3, **changes):
    rng = np.random.default_rng(subj * 10 + seq)
    j2 = [rng.uniform(0, 2048, size=(t, 28, 2)) for _ in range(ncam)]
    j3 = [rng.normal(0, 500, size=(t, 28, 3)) for _ in range(ncam)]
    d = {
        "annot2": _cell([a.reshape(t, 56) for a in j2]),
        "annot3": _cell([a.reshape(t, 84) for a in j3]),
        "univ_annot3": _cell([a.reshape(t, 84) * 0.9 for a in j3]),
        "cameras": np.arange(ncam)[None, :],
        "frames": np.arange(t)[:, None],
    }
    d.update(changes)
    folder = tmp_path / f"S{subj}" / f"Seq{seq}"
    folder.mkdir(parents=True)
    scipy.io.savemat(folder / "annot.mat", d)
    return j2, j3, folder / "annot.mat"


def test_read_mpi_inf_3dhp_train(tmp_path):
    j2, j3, _ = _train_seq(tmp_path, 1, 1)
    _train_seq(tmp_path, 2, 1, t=2)
    seqs = read_mpi_inf_3dhp(tmp_path)
    assert [(s.subject, s.action, s.camera) for s in seqs][:4] == [("S1", "Seq1", 0), ("S1", "Seq1", 1), ("S1", "Seq1", 2), ("S2", "Seq1", 0)]
    s = seqs[1]
    np.testing.assert_allclose(s.joints_2d, j2[1])
    np.testing.assert_allclose(s.joints_3d, j3[1])
    assert s.extra["video"] == tmp_path / "S1" / "Seq1" / "imageSequence" / "video_1.avi"
    u = read_mpi_inf_3dhp(tmp_path, cameras=[2], universal=True, joints_17=True)
    assert [(x.subject, x.camera) for x in u] == [("S1", 2), ("S2", 2)]
    np.testing.assert_allclose(u[0].joints_3d, j3[2][:, list(MPI_INF_3DHP_TEST_JOINTS)] * 0.9)
    assert u[0].joints_3d.shape == (3, 17, 3)


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"annot3": np.zeros((3, 84))}, r"annot3: expected a cell array"),
        ({"annot2": _cell([np.zeros((3, 54))] * 3)}, r"annot2\{1\}: expected shape Nx56"),
        ({"annot3": _cell([np.zeros((3, 84)), np.zeros((2, 84)), np.zeros((3, 84))])}, r"annot3\{2\}: has 2 frames, annot2 has 3"),
        ({"annot2": _cell([np.full((3, 56), np.nan)] * 3)}, r"annot2\{1\}: non-finite"),
        ({"cameras": np.arange(5)[None, :]}, r"cameras: lists 5 cameras, annot2 has 3 cells"),
    ],
)
def test_read_mpi_inf_3dhp_train_malformed(tmp_path, changes, match):
    _, _, path = _train_seq(tmp_path, 1, 1, **changes)
    with pytest.raises(InputError, match=match) as e:
        read_mpi_inf_3dhp(tmp_path)
    assert str(path) in str(e.value)


def _test_seq(tmp_path, k, t=4, layout="c17_1_t", **changes):
    rng = np.random.default_rng(k)
    j2 = rng.uniform(0, 2048, size=(t, 17, 2))
    j3 = rng.normal(0, 500, size=(t, 17, 3))

    def matlab(a):  # (T, 17, C) -> MATLAB-order C x 17 x 1 x T (or the alternative layout)
        m = a.transpose(2, 1, 0)
        return m[:, :, None, :] if layout == "c17_1_t" else m[:, None, :, :]

    valid = np.ones((1, t))
    valid[0, 1] = 0
    d = {"annot2": matlab(j2), "annot3": matlab(j3), "univ_annot3": matlab(j3 * 0.9), "valid_frame": valid,
         "activity_annotation": np.arange(t)[None, :] % 3}
    d.update(changes)
    folder = tmp_path / "mpi_inf_3dhp_test_set" / f"TS{k}"
    folder.mkdir(parents=True)
    scipy.io.savemat(folder / "annot_data.mat", d)
    return j2, j3, folder / "annot_data.mat"


def test_read_mpi_inf_3dhp_test(tmp_path):
    j2, j3, _ = _test_seq(tmp_path, 1)
    j2b, j3b, _ = _test_seq(tmp_path, 2, t=3, layout="c_1_17_t")
    seqs = read_mpi_inf_3dhp_test(tmp_path)
    assert [s.subject for s in seqs] == ["TS1", "TS2"] and seqs[0].camera is None
    np.testing.assert_allclose(seqs[0].joints_2d, j2)
    np.testing.assert_allclose(seqs[0].joints_3d, j3)
    np.testing.assert_allclose(seqs[1].joints_3d, j3b)
    assert seqs[0].extra["valid"].tolist() == [True, False, True, True]
    assert seqs[0].extra["activity"].tolist() == [0, 1, 2, 0]
    assert seqs[0].extra["image_dir"] == tmp_path / "mpi_inf_3dhp_test_set" / "TS1" / "imageSequence"
    assert len(MPI_INF_3DHP17_KEYPOINTS) == 17 and MPI_INF_3DHP17_KEYPOINTS[0] == "head_top"
    u = read_mpi_inf_3dhp_test(tmp_path / "mpi_inf_3dhp_test_set", universal=True)
    np.testing.assert_allclose(u[0].joints_3d, j3 * 0.9)


def test_read_mpi_inf_3dhp_test_nan_only_in_invalid_frames(tmp_path):
    t = 4
    a3 = np.zeros((3, 17, 1, t))
    a3[:, :, :, 1] = np.nan  # frame 1 is invalid: allowed
    _test_seq(tmp_path, 1, annot3=a3)
    (s,) = read_mpi_inf_3dhp_test(tmp_path)
    assert np.isnan(s.joints_3d[1]).all() and not s.extra["valid"][1]
    a3[:, :, :, 2] = np.inf  # frame 2 is valid: error
    scipy.io.savemat(tmp_path / "mpi_inf_3dhp_test_set" / "TS1" / "annot_data.mat",
                     {"annot2": np.zeros((2, 17, 1, t)), "annot3": a3, "valid_frame": np.array([[1, 0, 1, 1]])})
    with pytest.raises(InputError, match=r"annot_data\.mat: annot3: non-finite value \(NaN or inf\) in valid frame 2"):
        read_mpi_inf_3dhp_test(tmp_path)


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"annot2": np.zeros((2, 16, 1, 4))}, r"annot2: expected 2 x 17 x 1 x T"),
        ({"valid_frame": np.ones((1, 3))}, r"valid_frame: has 3 entries for 4 frames"),
        ({"valid_frame": np.full((1, 4), 2.0)}, r"valid_frame: values other than 0 and 1"),
    ],
)
def test_read_mpi_inf_3dhp_test_malformed(tmp_path, changes, match):
    _, _, path = _test_seq(tmp_path, 1, **changes)
    with pytest.raises(InputError, match=match) as e:
        read_mpi_inf_3dhp_test(tmp_path)
    assert str(path) in str(e.value)


def _v73_header() -> bytes:
    """The 128-byte header MATLAB writes before the HDF5 data of a v7.3 file (padded to 512)."""
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2018 HDF5 schema 1.00 ."
    head = text.ljust(116, b" ") + b"\0" * 8 + b"\x00\x02" + b"IM"
    return head.ljust(512, b"\0")


def test_read_mpi_inf_3dhp_test_v73_file(tmp_path):
    folder = tmp_path / "TS1"
    folder.mkdir()
    path = folder / "annot_data.mat"
    try:
        import h5py
    except ImportError:
        h5py = None
    if h5py is None:
        path.write_bytes(_v73_header() + b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
        with pytest.raises(InputError, match=r"annot_data\.mat: MATLAB v7\.3 \(HDF5\) file; install the optional package h5py"):
            read_mpi_inf_3dhp_test(tmp_path)
        return
    # h5py present: write a real v7.3-style file (HDF5 with a 512-byte user block,
    # arrays stored with MATLAB's dimension order reversed) and read it back.
    j3 = np.random.default_rng(0).normal(size=(4, 17, 3))
    with h5py.File(path, "w", userblock_size=512) as f:
        f["annot2"] = j3[..., :2].transpose(2, 1, 0)[:, :, None, :].T
        f["annot3"] = j3.transpose(2, 1, 0)[:, :, None, :].T
        f["valid_frame"] = np.ones((1, 4)).T
    with open(path, "r+b") as fh:
        fh.write(_v73_header())
    (s,) = read_mpi_inf_3dhp_test(tmp_path)
    np.testing.assert_allclose(s.joints_3d, j3)


def test_scipy_reader_reports_v73_file(tmp_path):
    from vidpose.data.readers import read_lsp

    p = tmp_path / "joints.mat"
    p.write_bytes(_v73_header() + b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(InputError, match=r"joints\.mat: MATLAB v7\.3 \(HDF5\) file; scipy cannot read it"):
        read_lsp(p, tmp_path)


def test_an_original_h36m_cdf_file_is_named_with_the_conversion_it_needs(tmp_path):
    from vidpose.data.readers import read_h36m_npz
    from vidpose.errors import InputError

    cdf = tmp_path / "S1_Directions.cdf"
    cdf.write_bytes(b"\xcd\xf3\x00\x01" + bytes(60))  # the NASA CDF magic of the original pose files
    with pytest.raises(InputError, match=r"S1_Directions.cdf: an original Human3.6M .cdf file; .*data_3d_h36m.npz"):
        read_h36m_npz(cdf)
