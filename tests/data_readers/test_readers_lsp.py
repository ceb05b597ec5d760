"""read_lsp on LSP (3 x 14 x N, flag 1 = occluded) and LSPET (14 x 3 x N, flag 1 = visible)."""

import numpy as np
import pytest
import scipy.io

from vidpose.data.readers import LSP14_KEYPOINTS, read_lsp
from vidpose.errors import InputError


def _joints(n):
    rng = np.random.default_rng(0)
    xy = rng.uniform(1, 200, size=(n, 14, 2))
    flags = np.zeros((n, 14))
    flags[0, 3] = 1
    flags[1, 13] = 1
    return xy, flags


def test_read_lsp_original(tmp_path):
    xy, flags = _joints(3)
    raw = np.concatenate([xy, flags[..., None]], axis=2).transpose(2, 1, 0)  # 3 x 14 x N
    p = tmp_path / "joints.mat"
    scipy.io.savemat(p, {"joints": raw})
    ds = read_lsp(p, tmp_path / "images")
    assert ds.name == "lsp" and ds.skeleton == "lsp14" and ds.keypoint_names == LSP14_KEYPOINTS
    assert len(ds) == 3
    assert ds.frames[2].image == tmp_path / "images" / "im0003.jpg" and ds.frames[2].image_id == 3
    kp = ds.frames[0].persons[0].keypoints
    np.testing.assert_allclose(kp[:, :2], xy[0])
    assert kp[3, 2] == 1 and kp[0, 2] == 2  # occluded flag 1 -> 1, 0 -> 2
    assert ds.frames[1].persons[0].keypoints[13, 2] == 1


def test_read_lsp_extended(tmp_path):
    xy, flags = _joints(2)
    raw = np.concatenate([xy, flags[..., None]], axis=2).transpose(1, 2, 0)  # 14 x 3 x N
    p = tmp_path / "joints.mat"
    scipy.io.savemat(p, {"joints": raw})
    ds = read_lsp(p, tmp_path)
    assert ds.name == "lspet"
    assert ds.frames[1].image.name == "im00002.jpg"
    kp = ds.frames[0].persons[0].keypoints
    np.testing.assert_allclose(kp[:, :2], xy[0])
    assert kp[3, 2] == 2 and kp[0, 2] == 1  # visible flag 1 -> 2, 0 -> 1


@pytest.mark.parametrize(
    "arr, match",
    [
        (np.zeros((3, 13, 4)), "expected 3 x 14 x N"),
        (np.full((3, 14, 2), 2.0), "visibility flag 2"),
        (np.where(np.arange(84).reshape(3, 14, 2) == 5, np.nan, 0.0), "non-finite"),
    ],
)
def test_read_lsp_malformed(tmp_path, arr, match):
    p = tmp_path / "joints.mat"
    scipy.io.savemat(p, {"joints": arr})
    with pytest.raises(InputError, match=match) as e:
        read_lsp(p, tmp_path)
    assert str(p) in str(e.value) and "joints" in str(e.value)


def test_read_lsp_missing_variable(tmp_path):
    p = tmp_path / "joints.mat"
    scipy.io.savemat(p, {"other": np.zeros(3)})
    with pytest.raises(InputError, match=r"joints\.mat: joints: missing"):
        read_lsp(p, tmp_path)
