"""`vidpose train` end to end (in process and as `python -m vidpose.cli`), workers, progress bar."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import torch

from vidpose.cli import main as cli_main
from vidpose.methods import load as load_checkpoint
from vidpose.training.config import load_config
from vidpose.progress import Progress
from vidpose.training.trainer import train


def test_cli_train_overrides_and_outputs(tmp_path, write_config, capsys):
    cfg = write_config(epochs=2)
    out = tmp_path / "cli_out"
    rc = cli_main(["train", str(cfg), "--out", str(out), "--set", "optim.batch_size=8", "--set", "run.log_every=1"])
    assert rc == 0
    captured = capsys.readouterr()
    metrics = json.loads(captured.out)
    assert metrics["epoch"] == 2.0 and metrics["step"] == 4.0  # 16 crops / 8 per batch * 2 epochs
    assert "epoch 2/2 loss" in captured.err  # messages on stderr (no progress bar: not a TTY)
    assert "\r" not in captured.err
    saved = load_config(out / "config.toml")
    assert saved.optim.batch_size == 8 and saved.run.out_dir == str(out)
    lines = (out / "metrics.csv").read_text().splitlines()
    assert lines[0] == "epoch,step,loss,lr,val_pck,val_mean_px_error,elapsed_s"
    assert len(lines) == 1 + 4 + 2  # a row per step (log_every=1) and one per epoch
    model = load_checkpoint(out / "last.safetensors")
    assert model.predict(torch.zeros(1, 3, 64, 64)).shape == (1, 17, 3)


def test_python_m_entry_point_quiet(tmp_path, write_config):
    cfg = write_config(epochs=1)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "vidpose.cli", "train", str(cfg), "--quiet", "--out",
                        str(tmp_path / "q"), "--set", "data.val_subset="],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "" and r.stderr == ""  # --quiet: nothing at all
    assert (tmp_path / "q" / "last.safetensors").is_file()


def test_workers_give_the_same_weights(tmp_path, write_config):
    cfg_path = write_config(epochs=1)
    sd = []
    for workers in (0, 2):
        cfg = load_config(cfg_path, [f"run.out_dir={tmp_path / str(workers)}", f"run.num_workers={workers}",
                                     "data.val_subset="])
        train(cfg, quiet=True)
        sd.append(load_checkpoint(tmp_path / str(workers) / "last.safetensors").state_dict())
    assert all(torch.equal(sd[0][k], sd[1][k]) for k in sd[0])


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar():
    tty = _Tty()
    with Progress(4, "epoch 1/2", stream=tty) as bar:
        for _ in range(4):
            bar.update(1, loss=0.5)
    text = tty.getvalue()
    assert "\repoch 1/2 [" in text and "4/4" in text and "loss=0.5" in text and text.endswith("\n")
    plain = io.StringIO()  # not a terminal: silent
    with Progress(4, "x", stream=plain) as bar:
        bar.update(4)
    assert plain.getvalue() == ""
    quiet = _Tty()
    with Progress(4, "x", stream=quiet, enabled=False) as bar:
        bar.update(4)
    assert quiet.getvalue() == ""
