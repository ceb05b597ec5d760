"""HumanEva-I and MPI-INF-3DHP through SEQUENCE_LOADERS, in their protocols: tiny fixtures written here
in the real formats (VideoPose3D npz with pickled dicts; MATLAB v5 annot.mat cells and a test-set
annot_data.mat), a few training steps of a lifter built for the dataset's own skeleton through the one
trainer, held-out subjects never trained on, evaluation numbers (perfect predictions score 0 mm and
3DPCK 1.0), and faults named by file and entry."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.io import savemat

from vidpose.data.loaders import MPI_INF_3DHP_TRAIN_CAMERAS, DataConfig, load_sequences
from vidpose.errors import InputError
from vidpose.methods import build, load
from vidpose.objectives.sequences import SequenceWindows, lift_scores
from vidpose.skeletons import HUMANEVA15, MPI_INF_3DHP17
from vidpose.stages.lift_dgnet import DGNetLift
from vidpose.training.config import load_config
from vidpose.training.trainer import train

torch.set_num_threads(1)


def _poses(rng, n_frames: int, skeleton, height: float = 1.7) -> np.ndarray:
    """(T, J, 3) world poses, z up, metres: a random stance per joint, drifting over time, one step a frame."""
    base = rng.normal(0.0, 0.25, (skeleton.num_keypoints, 3)) + [0.0, 0.0, height / 2]
    drift = np.cumsum(rng.normal(0.0, 0.01, (n_frames, skeleton.num_keypoints, 3)), axis=0)
    walk = np.linspace(0.0, 0.5, n_frames)[:, None, None] * np.array([1.0, 0.0, 0.0])
    return base + drift + walk


def _camera(k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """K, R, t of camera k: 4.5 m from the origin, 1.5 m up, looking horizontally at it (world z up)."""
    yaw = 0.4 + k * 2.0
    f = np.array([np.cos(yaw), np.sin(yaw), 0.0])
    x = np.cross(f, [0.0, 0.0, 1.0])
    R = np.stack([x, np.cross(f, x), f])
    eye = -4.5 * f + [0.0, 0.0, 1.5]
    K = np.array([[765.0 + 10 * k, 0.0, 300.0 + k], [0.0, 764.0 + 10 * k, 232.0], [0.0, 0.0, 1.0]])
    return K, R, -R @ eye


def _project(world: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    K, R, t = _camera(k)
    cam = world @ R.T + t
    return cam, (cam[..., :2] / cam[..., 2:]) @ K[:2, :2].T + K[:2, 2]


# --- HumanEva-I: VideoPose3D npz -----------------------------------------------------------------

HE_SEQUENCES = {  # subject -> actions; Gestures is not in the protocol's actions (Walk, Jog, Box)
    "Train/S1": ("Walking 1 chunk0", "Jog 1 chunk0", "Gestures 1 chunk0"),
    "Train/S2": ("Box 1 chunk0",),
    "Validate/S1": ("Walking 1 chunk0", "Box 1 chunk0"),
}


def _write_humaneva(root, frames: int = 40, fault: str = "") -> tuple[dict, dict]:
    rng = np.random.default_rng(0)
    pos3d, pos2d, cams = {}, {}, {}
    for subject, actions in HE_SEQUENCES.items():
        pos3d[subject], pos2d[subject] = {}, {}
        for action in actions:
            world = _poses(rng, frames, HUMANEVA15)
            pos3d[subject][action] = world.astype(np.float32)
            views = []
            for k in range(3):
                cam, px = _project(world, k)
                cams[(subject, action, k)] = cam
                views.append(px.astype(np.float32))
            if subject == "Train/S2":
                views[2] = None  # a camera whose video was not processed: no 2D, left out
            pos2d[subject][action] = views
    nj = 15
    if fault == "joints":
        pos2d["Train/S1"]["Jog 1 chunk0"][0] = np.zeros((frames, 17, 2), np.float32)
    if fault == "swapped":  # another sequence's 2D: no camera relates it to this 3D
        pos2d["Validate/S1"]["Box 1 chunk0"][1] = pos2d["Train/S1"]["Jog 1 chunk0"][1]
    if fault == "nan":
        pos3d["Train/S2"]["Box 1 chunk0"][3, 4, 0] = np.nan
    np.savez(root / "data_3d_humaneva15.npz", positions_3d=np.array(pos3d, dtype=object))
    np.savez(root / "data_2d_humaneva15_gt.npz", positions_2d=np.array(pos2d, dtype=object),
             metadata=np.array({"layout_name": "humaneva15", "num_joints": nj,
                                "keypoints_symmetry": [[2, 3, 4, 8, 9, 10], [5, 6, 7, 11, 12, 13]]}, dtype=object))
    return pos3d, cams


def _he_cfg(root) -> DataConfig:
    return DataConfig(dataset="humaneva", root=str(root), ann_file="data_3d_humaneva15.npz",
                      image_root="data_2d_humaneva15_gt.npz")


def test_humaneva_protocol_split_and_fitted_cameras(tmp_path):
    _, cams = _write_humaneva(tmp_path)
    train, test = load_sequences(_he_cfg(tmp_path), "train"), load_sequences(_he_cfg(tmp_path), "test")
    assert {(s.subject, s.action, s.camera) for s in train} == {
        ("Train/S1", "Walking 1 chunk0", 0), ("Train/S1", "Walking 1 chunk0", 1), ("Train/S1", "Walking 1 chunk0", 2),
        ("Train/S1", "Jog 1 chunk0", 0), ("Train/S1", "Jog 1 chunk0", 1), ("Train/S1", "Jog 1 chunk0", 2),
        ("Train/S2", "Box 1 chunk0", 0), ("Train/S2", "Box 1 chunk0", 1)}  # no Gestures, no camera without 2D
    assert {s.subject for s in test} == {"Validate/S1"} and len(test) == 6
    for s in train + test:
        # the fitted camera gives the true camera-frame 3D, which projects onto the file's 2D
        assert np.allclose(s.joints_3d, cams[(s.subject, s.action, s.camera)], atol=1e-4)
        assert s.extra["camera_fit_px"] < 0.01 and s.extra["skeleton"] == "humaneva15"
        assert (s.camera_params["width"], s.camera_params["height"]) == (640.0, 480.0)
    with pytest.raises(InputError, match="for humaneva must be train or test"):
        load_sequences(_he_cfg(tmp_path), "val")


def _train_toml(tmp_path, method: str, data: str, skeleton: str) -> object:
    model = {"dgnet": "channels = 8\nembed = 4\ntop_k = 4", "gcn-fixed": "channels = 8\nembed = 4",
             "tcn": "channels = 16"}[method]
    p = tmp_path / f"{method}.toml"
    p.write_text(f"""
[model]
method = "{method}"
skeleton = "{skeleton}"
receptive_field = 3
in_channels = 3
input_norm = "person"
noise = 0.02
drop = 0.05
swap = 0.02
{model}
[data]
{data}
train_subset = "train"
val_subset = "test"
[optim]
epochs = 2
batch_size = 8
lr = 0.003
[run]
out_dir = "{tmp_path / 'run'}"
threads = 1
seed = 0
""", encoding="utf-8")
    return p


@pytest.mark.parametrize("method", ["dgnet", "gcn-fixed", "tcn"])
def test_lifters_train_and_evaluate_on_humaneva(tmp_path, method):
    _write_humaneva(tmp_path)
    data = (f'dataset = "humaneva"\nroot = "{tmp_path}"\nann_file = "data_3d_humaneva15.npz"\n'
            'image_root = "data_2d_humaneva15_gt.npz"\nmax_samples = 48')
    cfg = load_config(_train_toml(tmp_path, method, data, "humaneva15"))
    metrics = train(cfg, quiet=True)
    assert 0 < metrics["val_p_mpjpe"] <= metrics["val_mpjpe"] < 2000 and 0 <= metrics["val_pck3d"] <= 1
    model = load(tmp_path / "run" / "best.safetensors")
    assert model.cfg.skeleton == "humaneva15" and model.cfg.num_joints == 15
    with pytest.raises(InputError, match="--lift dgnet: lifter .* is built for the humaneva15 joints .15., this needs a h36m17"):
        DGNetLift(str(tmp_path / "run" / "best.safetensors"))  # vidpose run lifts H36M-17 2D
    assert model.lift(torch.zeros(5, 15, 3)).shape == (5, 15, 3)
    # held out: no Validate subject is in the training data the checkpoint was made from
    windows = SequenceWindows(load_sequences(cfg.data, "train"), 3, 15, "he/train", skeleton="humaneva15", train=True)
    assert all(n.startswith("Train/") for n in windows.names)
    # an H36M-17 lifter (the shipped kind) refuses HumanEva's data by name
    with pytest.raises(InputError, match=r"humaneva15 layout, the model's skeleton is h36m17 .*model.skeleton = \"humaneva15\""):
        SequenceWindows(load_sequences(cfg.data, "test"), 3, 17, "he/test")


def test_humaneva_faults_name_the_file_and_entry(tmp_path):
    _write_humaneva(tmp_path, fault="joints")
    with pytest.raises(InputError, match=r"data_2d_humaneva15_gt.npz: positions_2d\['Train/S1'\]\['Jog 1 chunk0'\]\[0\]"):
        load_sequences(_he_cfg(tmp_path), "train")
    _write_humaneva(tmp_path, fault="swapped")
    with pytest.raises(InputError, match=r"data_2d_humaneva15_gt.npz: positions_2d\['Validate/S1'\]\['Box 1 chunk0'\]\[1\]: "
                                         r"no camera fits its 2D to the 3D: median reprojection error"):
        load_sequences(_he_cfg(tmp_path), "test")
    _write_humaneva(tmp_path, fault="nan")
    with pytest.raises(InputError, match=r"data_3d_humaneva15.npz: positions_3d\['Train/S2'\]\['Box 1 chunk0'\].*(NaN|finite)"):
        load_sequences(_he_cfg(tmp_path), "train")
    with pytest.raises(InputError, match="data.image_root must name HumanEva-I's 2D npz"):
        load_sequences(DataConfig(dataset="humaneva", root=str(tmp_path), ann_file="data_3d_humaneva15.npz"), "train")


# --- MPI-INF-3DHP: annot.mat (training) and annot_data.mat (test set) ------------------------------

def _train_mat(rng, frames: int, cameras: tuple[int, ...]) -> tuple[dict, dict]:
    """annot.mat variables: 28 joints per camera cell, mm; and the true camera-frame 17 per camera."""
    from vidpose.data.readers.mpi_inf_3dhp import MPI_INF_3DHP_TEST_JOINTS

    world = np.zeros((frames, 28, 3))
    world[:, list(MPI_INF_3DHP_TEST_JOINTS)] = _poses(rng, frames, MPI_INF_3DHP17)
    rest = [i for i in range(28) if i not in MPI_INF_3DHP_TEST_JOINTS]
    world[:, rest] = world[:, [4]] + rng.normal(0, 0.1, (1, len(rest), 3))  # the other 11 near the pelvis
    cells = {k: np.empty((len(cameras), 1), dtype=object) for k in ("annot2", "annot3", "univ_annot3")}
    truth = {}
    for c, cam in enumerate(cameras):
        xc, px = _project(world, cam)
        cells["annot2"][c, 0] = px.reshape(frames, 56)
        cells["annot3"][c, 0] = (1000 * xc).reshape(frames, 84)
        cells["univ_annot3"][c, 0] = (1000 * 0.9 * xc).reshape(frames, 84)
        truth[cam] = xc[:, list(MPI_INF_3DHP_TEST_JOINTS)]
    return {**cells, "cameras": np.array([cameras], dtype=np.float64)}, truth


def _test_mat(rng, frames: int, valid: np.ndarray, fault: str = "") -> tuple[dict, np.ndarray]:
    xc, px = _project(_poses(rng, frames, MPI_INF_3DHP17), 0)
    xc_mm = 1000 * xc
    xc_mm[~valid] = np.nan  # invalid frames may hold anything
    # MATLAB order: c x 17 x 1 x T
    d = {"annot2": px.transpose(2, 1, 0)[:, :, None, :], "annot3": (0.95 * xc_mm).transpose(2, 1, 0)[:, :, None, :],
         "univ_annot3": xc_mm.transpose(2, 1, 0)[:, :, None, :],
         "valid_frame": valid.astype(np.float64)[None], "activity_annotation": np.ones((1, frames))}
    if fault == "nan":
        d["univ_annot3"][0, 3, 0, int(np.flatnonzero(valid)[1])] = np.nan
    if fault == "missing":
        del d["valid_frame"]
    if fault == "joints":
        d["univ_annot3"] = d["univ_annot3"][:, :15]
    return d, xc


def _write_3dhp(root, frames: int = 30, fault: str = "") -> dict:
    rng = np.random.default_rng(1)
    truth = {}
    for subject in ("S1", "S2"):
        d, t = _train_mat(rng, frames, (0, 1, 3))  # camera 3 is not a training camera
        if fault == "train-missing" and subject == "S2":
            del d["annot3"]
        (root / subject / "Seq1").mkdir(parents=True, exist_ok=True)
        savemat(root / subject / "Seq1" / "annot.mat", d)
        truth[subject] = t
    valid = np.ones(frames, bool)
    valid[[0, 12, 13]] = False  # runs 1-11 and 14-29
    for ts in ("TS1", "TS5"):
        d, xc = _test_mat(rng, frames, valid, fault if ts == "TS5" else "")
        (root / "mpi_inf_3dhp_test_set" / ts).mkdir(parents=True, exist_ok=True)
        savemat(root / "mpi_inf_3dhp_test_set" / ts / "annot_data.mat", d)
        truth[ts] = xc
    return truth


def test_mpi_inf_3dhp_protocol_cameras_valid_frames_and_units(tmp_path):
    truth = _write_3dhp(tmp_path)
    cfg = DataConfig(dataset="mpi-inf-3dhp", root=str(tmp_path))
    train = load_sequences(cfg, "train")
    assert {(s.subject, s.camera) for s in train} == {("S1", 0), ("S1", 1), ("S2", 0), ("S2", 1)}  # not camera 3
    assert set(MPI_INF_3DHP_TRAIN_CAMERAS) >= {0, 1} and 3 not in MPI_INF_3DHP_TRAIN_CAMERAS
    for s in train:
        assert np.allclose(s.joints_3d, truth[s.subject][s.camera]) and s.joints_2d.shape == (30, 17, 2)
        assert s.extra["skeleton"] == "mpi_inf_3dhp17" and s.camera_params["width"] == 2048.0
    cams = load_sequences(DataConfig(dataset="mpi-inf-3dhp", root=str(tmp_path), cameras=(3,)), "train")
    assert {s.camera for s in cams} == {3}
    test = load_sequences(cfg, "test")
    assert [(s.subject, s.action, len(s.joints_3d)) for s in test] == [
        ("TS1", "frames1-11", 11), ("TS1", "frames14-29", 16), ("TS5", "frames1-11", 11), ("TS5", "frames14-29", 16)]
    for s in test:  # univ_annot3 (the official evaluation's), metres, valid frames only
        a = s.extra["first_frame"]
        assert np.allclose(s.joints_3d, truth[s.subject][a:a + len(s.joints_3d)])
    assert (test[2].camera_params["width"], test[2].camera_params["height"]) == (1920.0, 1080.0)
    with pytest.raises(InputError, match="for mpi-inf-3dhp must be train or test"):
        load_sequences(cfg, "val")


def test_a_lifter_trains_on_mpi_inf_3dhp_and_scores_3dpck(tmp_path):
    _write_3dhp(tmp_path)
    cfg = load_config(_train_toml(tmp_path, "dgnet", f'dataset = "mpi-inf-3dhp"\nroot = "{tmp_path}"', "mpi_inf_3dhp17"))
    metrics = train(cfg, quiet=True)
    assert 0 < metrics["val_mpjpe"] < 2000 and 0 <= metrics["val_auc"] <= metrics["val_pck3d"] <= 1
    lines = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert lines[0] == "epoch,step,loss,lr,val_mpjpe,val_p_mpjpe,val_pck3d,val_auc,elapsed_s" and len(lines) == 3
    # same joint count as H36M-17, another layout: refused by name, not silently mixed
    with pytest.raises(InputError, match="mpi_inf_3dhp17 layout, the model's skeleton is h36m17"):
        SequenceWindows(load_sequences(cfg.data, "test"), 3, 17, "3dhp/test")
    # targets are relative to the pelvis (joint 14 of the 17)
    w = SequenceWindows(load_sequences(cfg.data, "test"), 3, 17, "3dhp/test", skeleton="mpi_inf_3dhp17")
    assert all(np.abs(y[:, 14]).max() == 0 and np.abs(y[:, 0]).max() > 0.1 for y in w.targets)


def test_a_checkpoint_is_evaluated_with_vidpose_eval(tmp_path):
    """predict (the run's config, a checkpoint) -> .npz -> vidpose eval's scoring: the same numbers."""
    from vidpose.bench.dgnet import predict
    from vidpose.metrics.evaluate import evaluate

    _write_3dhp(tmp_path)
    cfg = load_config(_train_toml(tmp_path, "tcn", f'dataset = "mpi-inf-3dhp"\nroot = "{tmp_path}"', "mpi_inf_3dhp17"))
    train(cfg, quiet=True)
    run = tmp_path / "run"
    scores = predict(run / "last.safetensors", run / "config.toml", "test", tmp_path / "pred.npz")
    last = dict(zip(*[r.split(",") for r in (run / "metrics.csv").read_text().splitlines()[::2]]))
    assert all(float(last[k]) == pytest.approx(v, rel=1e-6) for k, v in scores.items())  # the training log's
    with np.load(tmp_path / "pred.npz") as z:
        assert z["pred"].shape == z["gt"].shape == (54, 17, 3) and str(z["skeleton"]) == "mpi_inf_3dhp17"
        assert z["sequence"][0] == "TS1/frames1-11" and z["frame"][:3].tolist() == [1, 2, 3]
        assert z["frame"][11] == 14  # the second run of valid frames starts after the invalid 12, 13
    raw = evaluate(tmp_path / "pred.npz", None, ["mpjpe", "p_mpjpe", "pck3d", "auc"], root_joint="none")
    assert raw == pytest.approx({k[4:]: v for k, v in scores.items()}, rel=1e-5)
    notes: list[str] = []
    aligned = evaluate(tmp_path / "pred.npz", None, ["mpjpe", "pck3d"], notes=notes)  # the default: root-aligned
    assert "joint 14 (pelvis) of mpi_inf_3dhp17" in notes[0] and 0 < aligned["mpjpe"] < 2000
    # a checkpoint of another skeleton is refused by name
    _write_humaneva(tmp_path)
    (tmp_path / "he").mkdir()
    he = _train_toml(tmp_path / "he", "tcn", (f'dataset = "humaneva"\nroot = "{tmp_path}"\nann_file = '
                                               '"data_3d_humaneva15.npz"\nimage_root = "data_2d_humaneva15_gt.npz"'),
                     "humaneva15")
    with pytest.raises(InputError, match="humaneva15 layout, the model's skeleton is mpi_inf_3dhp17"):
        predict(run / "best.safetensors", he, "test", tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()


def test_perfect_predictions_score_zero_and_full_3dpck(tmp_path):
    _write_3dhp(tmp_path)
    w = SequenceWindows(load_sequences(DataConfig(dataset="mpi-inf-3dhp", root=str(tmp_path)), "test"), 3, 17,
                        "3dhp/test", skeleton="mpi_inf_3dhp17")
    s = lift_scores(w.targets, w.targets)
    # AUC's first threshold is 0 mm, which no error is strictly below: 30 of the 31 thresholds
    assert s == {"val_mpjpe": 0.0, "val_p_mpjpe": pytest.approx(0.0, abs=1e-6), "val_pck3d": 1.0,
                 "val_auc": pytest.approx(30 / 31)}
    off = [y + np.array([0.2, 0.0, 0.0], np.float32) for y in w.targets]  # every joint 200 mm off
    s = lift_scores(off, w.targets)
    assert s["val_mpjpe"] == pytest.approx(200.0, rel=1e-5) and s["val_pck3d"] == 0.0 and s["val_auc"] == 0.0
    assert s["val_p_mpjpe"] == pytest.approx(0.0, abs=1e-3)  # a translation: Procrustes removes it


@pytest.mark.parametrize("fault, match", [
    ("nan", r"TS5/annot_data.mat: univ_annot3: non-finite value \(NaN or inf\) in valid frame 2"),
    ("missing", r"TS5/annot_data.mat: valid_frame: missing variable"),
    ("joints", r"TS5/annot_data.mat: univ_annot3: expected 3 x 17 x 1 x T"),
    ("train-missing", r"S2/Seq1/annot.mat: annot3: missing variable"),
])
def test_mpi_inf_3dhp_faults_name_the_file_and_entry(tmp_path, fault, match):
    _write_3dhp(tmp_path, fault=fault)
    cfg = DataConfig(dataset="mpi-inf-3dhp", root=str(tmp_path))
    with pytest.raises(InputError, match=match):
        load_sequences(cfg, "train" if fault.startswith("train") else "test")


def test_lifter_config_skeletons():
    m = build("gcn-fixed", receptive_field=3, channels=8, skeleton="mpi_inf_3dhp17")
    assert m.cfg.num_joints == 17 and m.lift(torch.zeros(4, 17, 3)).shape == (4, 17, 3)
    with pytest.raises(InputError, match="model.skeleton must be one of h36m17, humaneva15, mpi_inf_3dhp17, got .coco17."):
        build("tcn", skeleton="coco17")
    with pytest.raises(InputError, match="model.num_joints must be 15 .the joints of skeleton humaneva15., got 17"):
        build("dgnet", skeleton="humaneva15", num_joints=17)


def test_the_skeleton_and_cameras_enter_the_config_hash_only_when_set():
    """Keys added after the shipped lifters were trained leave their recorded config hashes as they were
    at the old meaning (h36m17, no camera choice), and change the hash when set."""
    base = load_config("configs/dgnet_mocap.toml")
    assert load_config("configs/dgnet_mocap.toml", ["model.skeleton=h36m17", "data.cameras=[]"]).sha256() == base.sha256()
    assert load_config("configs/dgnet_mocap.toml", ["model.skeleton=humaneva15"]).sha256() != base.sha256()
    assert load_config("configs/dgnet_mocap.toml", ["data.cameras=0,1"]).sha256() != base.sha256()
