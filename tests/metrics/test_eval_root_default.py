"""MPJPE's default convention (protocol #1): `vidpose eval` root-aligns 3D poses at the
skeleton's root unless told `--root-joint none` (docs/metrics.md, issue 15 item 16)."""

import json

import numpy as np
import pytest

from vidpose.cli import main as cli_main
from vidpose.errors import InputError
from vidpose.metrics import pose3d
from vidpose.metrics.evaluate import evaluate


def _poses(j=17, n=6, seed=0):
    rng = np.random.default_rng(seed)
    gt = rng.normal(0, 300, (n, j, 3))
    pred = gt + rng.normal(0, 20, gt.shape) + np.array([120.0, -40.0, 300.0])  # a global offset
    return gt, pred


def test_default_is_root_aligned_at_the_pelvis(tmp_path):
    gt, pred = _poses()
    f = tmp_path / "h36m.npz"
    np.savez(f, gt=gt, pred=pred, skeleton="h36m17")
    want = pose3d.mpjpe(pose3d.root_align(pred, 0), pose3d.root_align(gt, 0))
    raw = pose3d.mpjpe(pred, gt)
    assert raw > want + 100  # the offset dominates the raw error
    notes: list[str] = []
    assert evaluate(f, None, ["mpjpe"], notes=notes)["mpjpe"] == pytest.approx(want, rel=1e-12)
    assert notes and "joint 0 (pelvis) of h36m17" in notes[0]
    assert evaluate(f, None, ["mpjpe"], root_joint="none")["mpjpe"] == pytest.approx(raw, rel=1e-12)
    assert evaluate(f, None, ["mpjpe"], root_joint=None)["mpjpe"] == pytest.approx(raw, rel=1e-12)


@pytest.mark.parametrize("skeleton,j,root", [
    ("mpi_inf_3dhp17", 17, [14]), ("mpi_inf_3dhp28", 28, [4]), ("humaneva15", 15, [0]),
    ("coco17", 17, [11, 12]), ("hie14", 14, [8, 11]),
])
def test_root_of_each_skeleton(tmp_path, skeleton, j, root):
    gt, pred = _poses(j)
    f = tmp_path / "p.npz"
    np.savez(f, gt=gt, pred=pred, skeleton=skeleton)
    g0 = gt - gt[:, root].mean(1, keepdims=True)
    p0 = pred - pred[:, root].mean(1, keepdims=True)
    assert evaluate(f, None, ["mpjpe"])["mpjpe"] == pytest.approx(pose3d.mpjpe(p0, g0), rel=1e-12)


def test_no_skeleton_named_uses_joint_0_and_says_so(tmp_path):
    gt, pred = _poses()
    np.savez(tmp_path / "g.npz", gt=gt)
    np.savez(tmp_path / "p.npz", pred=pred)
    notes: list[str] = []
    r = evaluate(tmp_path / "g.npz", tmp_path / "p.npz", ["mpjpe"], notes=notes)
    assert r["mpjpe"] == pytest.approx(pose3d.mpjpe(pose3d.root_align(pred, 0), pose3d.root_align(gt, 0)))
    assert "joint 0" in notes[0] and "no skeleton named" in notes[0]


def test_bad_root_requests(tmp_path):
    gt, pred = _poses()
    f = tmp_path / "odd.npz"
    np.savez(f, gt=gt, pred=pred, skeleton="my_rig")
    with pytest.raises(InputError, match="odd.npz: skeleton 'my_rig' has no known root joint; pass --root-joint"):
        evaluate(f, None, ["mpjpe"])
    assert evaluate(f, None, ["mpjpe"], root_joint=3)["mpjpe"] > 0  # an explicit joint works
    with pytest.raises(InputError, match="root_joint: 17 out of range 0..16"):
        evaluate(f, None, ["mpjpe"], root_joint="17")
    with pytest.raises(InputError, match="root_joint: expected a joint index, 'auto' or 'none'"):
        evaluate(f, None, ["mpjpe"], root_joint="pelvis")
    np.savez(tmp_path / "g.npz", gt=gt, skeleton="h36m17")
    np.savez(tmp_path / "p.npz", pred=pred, skeleton="mpi_inf_3dhp17")
    with pytest.raises(InputError, match="skeleton .* differs between"):
        evaluate(tmp_path / "g.npz", tmp_path / "p.npz", ["mpjpe"])


def test_cli_prints_the_convention(tmp_path, capsys):
    gt, pred = _poses()
    f = tmp_path / "h36m.npz"
    np.savez(f, gt=gt, pred=pred, skeleton="h36m17")
    out = tmp_path / "s.json"
    assert cli_main(["eval", "--gt", str(f), "--metric", "mpjpe,p_mpjpe", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "root-aligned at joint 0 (pelvis) of h36m17" in text and "--root-joint none" in text
    doc = json.loads(out.read_text())
    assert doc["metrics"]["mpjpe"] == pytest.approx(pose3d.mpjpe(pose3d.root_align(pred, 0), pose3d.root_align(gt, 0)))
    assert "root-aligned" in doc["notes"][0]
    assert cli_main(["eval", "--gt", str(f), "--metric", "mpjpe", "--root-joint", "none", "--json", str(out)]) == 0
    assert "scored as given" in capsys.readouterr().out
    assert json.loads(out.read_text())["metrics"]["mpjpe"] == pytest.approx(pose3d.mpjpe(pred, gt))
    assert cli_main(["eval", "--gt", str(f), "--metric", "mpjpe", "--root-joint", "x"]) == 1
    assert "root_joint: expected a joint index" in capsys.readouterr().err
