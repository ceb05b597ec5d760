"""Shared fixtures of the training tests: a tiny synthetic dataset and a tiny model config."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory) -> Path:
    """A real (rendered) synth-single split: 2 train clips and 1 val clip of 8 JPEG frames."""
    from vidpose.data.synth.generate import generate_split

    out = tmp_path_factory.mktemp("synth")
    generate_split("synth-single", out, "train", clips=2, frames=8, seed=0)
    generate_split("synth-single", out, "val", clips=1, frames=8, seed=0)
    return out / "synth-single"


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
