"""Every objective shape trains through the one trainer: it runs, a run stopped and resumed ends
bit-identical to an unbroken one, and the checkpoint it writes loads back into its method.

Shapes: per-crop heatmaps (tests/training/test_train_resume.py), teacher -> student, keypoint
sequences -> 3D, clips of frames, unlabelled clips. The last three have their first tenants in
later methods; here each runs with a small method defined in this file and registered in the
plain ``METHODS`` dict, as a user's own method would be.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
import torch
from torch import nn

from vidpose.methods import METHODS, Method, get, load
from vidpose.models.checkpoint import read_checkpoint
from vidpose.training.config import load_config
from vidpose.training.trainer import train

torch.set_num_threads(1)


def _full_and_resumed(tmp_path, cfg_path, overrides=()):
    """Train 3 epochs unbroken, and 1 + resume 2; return both outputs after checking they agree exactly."""
    full = load_config(cfg_path, [f"run.out_dir={tmp_path / 'full'}", *overrides])
    m_full = train(full, quiet=True)
    part = load_config(cfg_path, [f"run.out_dir={tmp_path / 'part'}", "run.stop_after_epochs=1", *overrides])
    assert train(part, quiet=True)["epoch"] == 1.0
    part.run.stop_after_epochs = 0
    m_res = train(part, resume=True, quiet=True)
    assert m_res == m_full
    a = read_checkpoint(tmp_path / "full" / "last.safetensors").state
    b = read_checkpoint(tmp_path / "part" / "last.safetensors").state
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp_path / "full" / "metrics.csv").read_text().count("\n") == 4  # header + 3 epochs
    return m_full, tmp_path / "full"


def _toml(tmp_path, method: str, data: str, model: str = "", epochs: int = 3) -> object:
    p = tmp_path / f"{method}.toml"
    p.write_text(f"""
[model]
method = "{method}"
{model}
[data]
{data}
[optim]
epochs = {epochs}
batch_size = 4
lr = 0.002
[run]
threads = 1
seed = 3
""", encoding="utf-8")
    return p


# --- teacher -> student ------------------------------------------------------------------------

def test_distillation_from_a_teacher_needs_no_labels(tmp_path, synth_root):
    """A small SimpleBaseline learns from the shipped Hourglass's predictions; moving every label
    leaves the trained weights unchanged (the labels are never read), and it resumes exactly."""
    import shutil

    cfg = _toml(tmp_path, "simplebaseline", f'root = "{synth_root}"\nteacher = "hourglass"',
                "width = 0.125\ninput_size = [64, 64]\ndeconv_channels = 32")
    metrics, out = _full_and_resumed(tmp_path, cfg)
    assert metrics["select"] == "val_pck_teacher" and 0.0 <= metrics["val_pck_teacher"] <= 1.0
    ck = read_checkpoint(out / "best.safetensors", weights=False)
    assert ck.extra["data"]["teacher"] == "hourglass"
    student = load(out / "last.safetensors")
    assert student.method == "simplebaseline" and student.predict(torch.zeros(1, 3, 64, 64)).shape == (1, 17, 3)

    # The same data with every keypoint moved (boxes kept): the crops are the same, so must be the weights.
    moved = tmp_path / "moved" / "synth-single"
    shutil.copytree(synth_root, moved)
    import json

    for ann in moved.rglob("annotations.json"):
        d = json.loads(ann.read_text())
        for fr in d["frames"]:
            for p in fr["persons"]:
                p["keypoints"] = [[x + 3.0, y - 2.0, v] for x, y, v in p["keypoints"]]
        ann.write_text(json.dumps(d))
    other = load_config(cfg, [f"run.out_dir={tmp_path / 'moved_run'}", f"data.root={moved}",
                              "optim.epochs=1", "data.val_subset="])
    base = load_config(cfg, [f"run.out_dir={tmp_path / 'base_run'}", "optim.epochs=1", "data.val_subset="])
    train(other, quiet=True)
    train(base, quiet=True)
    a = read_checkpoint(tmp_path / "moved_run" / "last.safetensors").state
    b = read_checkpoint(tmp_path / "base_run" / "last.safetensors").state
    assert all(torch.equal(a[k], b[k]) for k in a)


# --- keypoint sequences -> 3D -------------------------------------------------------------------

@dataclass
class LifterConfig:
    method: ClassVar[str] = "toy-lifter"
    receptive_field: int = 5
    num_joints: int = 17
    hidden: int = 32


class ToyLifter(nn.Module):
    """A window of 2D joints -> the centre frame's root-relative 3D joints (an MLP)."""

    def __init__(self, cfg: LifterConfig):
        super().__init__()
        self.method, self.cfg = "toy-lifter", cfg
        j, t = cfg.num_joints, cfg.receptive_field
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(t * j * 2, cfg.hidden), nn.ReLU(), nn.Linear(cfg.hidden, j * 3))

    def forward(self, x):
        return self.net(x).reshape(x.shape[0], self.cfg.num_joints, 3)


def _sequence_objective(train_cfg, model):
    from vidpose.objectives.sequences import SequenceObjective

    return SequenceObjective(train_cfg, model)


@pytest.fixture(scope="module")
def synth3d_root(tmp_path_factory):
    from vidpose.data.synth.generate import generate_split

    out = tmp_path_factory.mktemp("synth3d")
    generate_split("synth-3d", out, "train", clips=2, frames=12, seed=0)
    generate_split("synth-3d", out, "val", clips=1, frames=12, seed=0)
    return out / "synth-3d"


def test_sequences_to_3d(tmp_path, synth3d_root, monkeypatch):
    monkeypatch.setitem(METHODS, "toy-lifter", Method("toy-lifter", LifterConfig, ToyLifter, _sequence_objective))
    cfg = _toml(tmp_path, "toy-lifter", f'dataset = "synth-3d"\nroot = "{synth3d_root}"', "receptive_field = 5")
    metrics, out = _full_and_resumed(tmp_path, cfg)
    assert metrics["select"] == "val_mpjpe" and 0 < metrics["val_mpjpe"] < 5000  # millimetres
    lines = (out / "metrics.csv").read_text().splitlines()
    assert lines[0] == "epoch,step,loss,lr,val_mpjpe,val_p_mpjpe,val_pck3d,val_auc,elapsed_s"
    assert float(lines[-1].split(",")[2]) < float(lines[1].split(",")[2])  # training loss fell
    model = load(out / "best.safetensors")
    assert isinstance(model, ToyLifter) and model.cfg == LifterConfig(receptive_field=5)
    assert model(torch.zeros(2, 5, 17, 2)).shape == (2, 17, 3)


# --- clips of frames -----------------------------------------------------------------------------

@dataclass
class ClipConfig:
    method: ClassVar[str] = "toy-clip"
    input_size: tuple[int, int] = (64, 64)
    num_keypoints: int = 17
    heatmap_stride: int = 4


class ToyClipModel(nn.Module):
    """Per-frame SimpleBaseline heatmaps, pooled over the clip with learned per-frame weights."""

    def __init__(self, cfg: ClipConfig, length: int = 3):
        super().__init__()
        from vidpose.methods import build

        self.method, self.cfg = "toy-clip", cfg
        self.frame = build("simplebaseline", width=0.125, input_size=tuple(cfg.input_size), deconv_channels=16)
        self.codec = self.frame.codec
        self.output_keys = self.codec.output_keys
        self.pool = nn.Parameter(torch.zeros(length))

    def forward(self, clips):
        b, t = clips.shape[:2]
        hm = self.frame(clips.flatten(0, 1))["heatmaps"].unflatten(0, (b, t))
        return {"heatmaps": (self.pool.softmax(0)[None, :, None, None, None] * hm).sum(1)}

    def loss(self, outputs, targets):
        centre = targets["heatmaps"].shape[1] // 2
        return self.codec.loss(outputs, {k: v[:, centre] for k, v in targets.items()})

    def predict(self, clips):
        with torch.no_grad():
            return torch.from_numpy(self.codec.decode({"heatmaps": self(clips)["heatmaps"].numpy()}))


def _clip_objective(train_cfg, model):
    from vidpose.objectives.clips import ClipObjective

    return ClipObjective(train_cfg, model)


def test_clips_of_frames(tmp_path, synth_root, monkeypatch):
    monkeypatch.setitem(METHODS, "toy-clip", Method("toy-clip", ClipConfig, ToyClipModel, _clip_objective))
    cfg = _toml(tmp_path, "toy-clip", f'root = "{synth_root}"\nclip_length = 3')
    metrics, out = _full_and_resumed(tmp_path, cfg)
    assert metrics["select"] == "val_pck" and 0.0 <= metrics["val_pck"] <= 1.0
    model = load(out / "last.safetensors")
    assert isinstance(model, ToyClipModel) and model.predict(torch.zeros(1, 3, 3, 64, 64)).shape == (1, 17, 3)
    # a clip sample: 3 frames cropped with one box, targets per frame
    from vidpose.data.loaders import DataConfig, load_dataset
    from vidpose.data.topdown import TopDownDataset
    from vidpose.objectives.clips import ClipDataset

    crops = TopDownDataset(load_dataset(DataConfig(root=str(synth_root)), "train"), (64, 64), model.codec)
    s = ClipDataset(crops, 3)[5]
    assert s["images"].shape == (3, 3, 64, 64) and s["targets"]["heatmaps"].shape == (3, 17, 16, 16)
    assert s["image_keypoints"].shape == (3, 17, 3)
    assert not torch.equal(s["images"][0], s["images"][2])  # neighbouring frames, not copies


# --- unlabelled clips ----------------------------------------------------------------------------

@dataclass
class EmbedConfig:
    method: ClassVar[str] = "toy-contrastive"
    input_size: tuple[int, int] = (64, 64)
    num_keypoints: int = 17
    dim: int = 16
    temperature: float = 0.2


class ToyContrastive(nn.Module):
    """Frame embeddings trained with InfoNCE: a clip's neighbouring frames are positives."""

    def __init__(self, cfg: EmbedConfig):
        super().__init__()
        self.method, self.cfg = "toy-contrastive", cfg
        self.net = nn.Sequential(nn.Conv2d(3, 8, 5, 4, 2), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                                 nn.Linear(32, cfg.dim))

    def forward(self, clips):
        b, t = clips.shape[:2]
        z = nn.functional.normalize(self.net(clips.flatten(0, 1)), dim=-1)
        return z.unflatten(0, (b, t))

    def loss(self, z, targets=None):
        a, p = z[:, 0], z[:, -1]
        logits = a @ p.T / self.cfg.temperature
        loss = nn.functional.cross_entropy(logits, torch.arange(len(a)))
        return loss, {"loss": float(loss.detach())}


def _unlabelled_objective(train_cfg, model):
    from vidpose.objectives.unlabelled import UnlabelledClipObjective

    return UnlabelledClipObjective(train_cfg, model)


def test_unlabelled_clips(tmp_path, synth_root, monkeypatch):
    monkeypatch.setitem(METHODS, "toy-contrastive",
                        Method("toy-contrastive", EmbedConfig, ToyContrastive, _unlabelled_objective))
    cfg = _toml(tmp_path, "toy-contrastive", f'root = "{synth_root}"\nclip_length = 3')
    metrics, out = _full_and_resumed(tmp_path, cfg)
    assert metrics["select"] == "val_loss" and np.isfinite(metrics["val_loss"])
    assert metrics["best"] == min(float(r.split(",")[4]) for r in (out / "metrics.csv").read_text().splitlines()[1:])
    ck = read_checkpoint(out / "best.safetensors", weights=False)
    assert "labels_sha256" not in ck.extra["data"]
    model = load(out / "best.safetensors")
    assert isinstance(model, ToyContrastive)
    # no keypoints or targets in an unlabelled sample
    from vidpose.objectives.unlabelled import UnlabelledClipObjective

    obj = UnlabelledClipObjective(load_config(cfg), model)
    assert set(obj.train_set()[0]) == {"images", "affine"}


def test_unknown_method_is_a_clear_error(tmp_path):
    from vidpose.errors import InputError

    with pytest.raises(InputError, match="unknown method 'nope'; known: simplebaseline"):
        get("nope")
