"""Training configs: TOML loading, --set overrides, type and key errors, shipped configs."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from vidpose.errors import InputError
from vidpose.training.config import TrainConfig, config_from_dict, load_config, to_toml

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "c.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_load_and_override(tmp_path):
    p = _write(tmp_path, """
[model]
method = "clnet"
input_size = [128, 96]
heatmap_stride = 8
width = 1          # an integer is fine for a float field
[optim]
lr = 1e-3
milestones = [5, 8]
[aug]
flip = false
""")
    cfg = load_config(p, ["optim.lr=5e-4", "model.input_size=96,96", "aug.flip=true", "run.out_dir=x/y=z",
                          "optim.milestones=3", "data.val_subset="])
    assert cfg.method == "clnet" and type(cfg.model).method == "clnet" and cfg.model.heatmap_stride == 8
    assert cfg.model.width == 1.0 and isinstance(cfg.model.width, float)
    assert cfg.model.input_size == (96, 96)
    assert cfg.optim.lr == 5e-4 and cfg.optim.milestones == (3,)
    assert cfg.aug.flip is True and cfg.run.out_dir == "x/y=z" and cfg.data.val_subset == ""
    assert cfg.optim.batch_size == TrainConfig().optim.batch_size  # untouched keys keep defaults


def test_to_toml_round_trip(tmp_path):
    cfg = load_config(None, ["model.input_size=128,96", "optim.milestones=4,6", "data.root=C:\\data \"x\""])
    again = config_from_dict(tomllib.loads(to_toml(cfg)))
    assert again == cfg


@pytest.mark.parametrize("text, match", [
    ("[model]\narchh = 'clnet'\n", r"c\.toml: unknown key model\.archh"),
    ("[optimizer]\nlr = 1\n", r"c\.toml: unknown section \[optimizer\]"),
    ("[optim]\nlr = 'fast'\n", r"c\.toml: optim\.lr: expected a number, got 'fast'"),
    ("[optim]\nepochs = 2.5\n", r"c\.toml: optim\.epochs: expected an integer"),
    ("[aug]\nflip = 1\n", r"c\.toml: aug\.flip: expected true or false"),
    ("[model]\ninput_size = [1, 2, 3]\n", r"c\.toml: model\.input_size: expected 2 values"),
    ("[model]\nmethod = 'resnet'\n", r"c\.toml: model\.method 'resnet' is unknown; known: simplebaseline"),
    ("[model]\nmethod = 'clnet'\nnum_deconv = 2\n", r"c\.toml: unknown key model\.num_deconv; known in \[model\]"),
    ("[optim]\nlr = -1.0\n", r"c\.toml: optim\.lr must be positive"),
    ("[aug]\nrotation_prob = 1.5\n", r"c\.toml: aug\.rotation_prob"),
    ("lr = 1\n", r"c\.toml: unknown section \[lr\]"),
    ("[optim\n", r"c\.toml: not valid TOML"),
])
def test_bad_files(tmp_path, text, match):
    with pytest.raises(InputError, match=match):
        load_config(_write(tmp_path, text))


@pytest.mark.parametrize("item, match", [
    ("optim.lrr=1", r"--set optim\.lrr=1: unknown key optim\.lrr"),
    ("optim.lr", r"--set optim\.lr: expected section\.key=value"),
    ("lr=1", r"--set lr=1: key 'lr' must be section\.key"),
    ("train.lr=1", r"--set train\.lr=1: unknown section 'train'"),
    ("optim.epochs=ten", r"--set optim\.epochs=ten: optim\.epochs: expected an integer"),
    ("model.input_size=128", r"model\.input_size: expected 2 comma-separated values"),
    ("aug.flip=maybe", r"aug\.flip: expected true or false"),
    ("model.method=transformer", r"--set model\.method=transformer: model\.method 'transformer' is unknown"),
])
def test_bad_overrides(tmp_path, item, match):
    with pytest.raises(InputError, match=match):
        load_config(_write(tmp_path, ""), [item])


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="nope.toml: config file not found"):
        load_config(tmp_path / "nope.toml")


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.name)
def test_shipped_configs_load(path):
    cfg = load_config(path)
    assert cfg.run.out_dir and cfg.optim.epochs >= 1
    from vidpose.methods import get

    # Every shipped config builds its model (validates input size / stride combinations).
    model = get(cfg.method).build(cfg.model)
    assert model.cfg == cfg.model and model.method == cfg.method


def test_synth_pair_shares_backbone_and_input():
    sb = load_config(CONFIGS / "simplebaseline_synth_single.toml")
    cl = load_config(CONFIGS / "clnet_synth_single.toml")
    assert (sb.model.backbone, sb.model.input_size, sb.model.width) == (cl.model.backbone, cl.model.input_size, cl.model.width)
    assert cl.method == "clnet" and sb.method == "simplebaseline"


def test_method_override_switches_the_model_section(tmp_path):
    """--set model.method=... applies first, so the other [model] keys are checked against the new method."""
    cfg = load_config(_write(tmp_path, "[model]\nwidth = 0.5\n"), ["model.heatmap_stride=16", "model.method=clnet"])
    assert cfg.method == "clnet" and cfg.model.heatmap_stride == 16 and cfg.model.width == 0.5
    assert cfg.to_dict()["model"]["method"] == "clnet"
    assert config_from_dict(tomllib.loads(to_toml(cfg))) == cfg
