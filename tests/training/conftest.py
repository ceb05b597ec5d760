"""Shared fixtures of the training tests: a tiny synthetic dataset and a tiny model config."""

from __future__ import annotations

from pathlib import Path

import pytest


def tiny_toml(root: Path, out_dir: Path, arch: str = "simplebaseline", epochs: int = 3, extra: str = "") -> str:
    """A config small enough to train a few epochs in seconds on one core."""
    stride = 8 if arch.startswith("clnet") else 4
    head = {"simplebaseline": "num_deconv = 3\ndeconv_channels = 32", "clnet": "deconv_channels = 32"}.get(arch, "")
    return f"""
[model]
method = "{arch}"
width = 0.125
input_size = [64, 64]
heatmap_stride = {stride}
{head}

[data]
dataset = "synth-single"
root = "{root}"

[optim]
epochs = {epochs}
batch_size = 4
lr = 0.002

[run]
out_dir = "{out_dir}"
threads = 1
seed = 5
{extra}
"""


@pytest.fixture
def write_config(tmp_path, synth_root):
    """write_config(name, **kw) -> path of a tiny TOML config using the session synth data."""

    def _write(name: str = "cfg.toml", out_dir: Path | None = None, **kw) -> Path:
        p = tmp_path / name
        p.write_text(tiny_toml(synth_root, out_dir or tmp_path / "run", **kw), encoding="utf-8")
        return p

    return _write
