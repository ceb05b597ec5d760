"""Shipping a training run: float16 weights, the commands, provenance and the selecting metric."""

from __future__ import annotations

import torch

from vidpose.methods import load
from vidpose.models.checkpoint import read_checkpoint
from vidpose.training.config import load_config
from vidpose.training.ship import ship
from vidpose.training.trainer import train


def test_ship_records_provenance_and_halves_the_weights(tmp_path, write_config):
    cfg = load_config(write_config(epochs=1), [f"run.out_dir={tmp_path / 'run'}"])
    metrics = train(cfg, quiet=True)
    out = ship(tmp_path / "run", tmp_path / "shipped.safetensors", "vidpose train c.toml", "tiny synth",
               ship_command="python -m something ship")
    ck = read_checkpoint(out)
    assert all(v.dtype == torch.float16 for v in ck.state.values() if v.is_floating_point())
    e = ck.extra
    assert e["command"] == "vidpose train c.toml" and e["ship_command"] == "python -m something ship"
    assert e["trained_on"] == "tiny synth" and e["epochs"] == 1 and e["dtype"] == "float16"
    assert e["val_pck"] == metrics["val_pck"] and e["config_sha256"] == cfg.sha256()
    assert e["data"]["samples"] == 16
    assert load(out).predict(torch.zeros(1, 3, 64, 64)).shape == (1, 17, 3)
