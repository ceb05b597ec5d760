"""torchrun with 2 CPU processes (gloo DDP) trains and writes one valid checkpoint."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys

import pytest
import torch

from vidpose.methods import load as load_checkpoint


@pytest.mark.slow
def test_torchrun_two_processes(tmp_path, write_config):
    torchrun = shutil.which("torchrun") or os.path.join(os.path.dirname(sys.executable), "torchrun")
    cfg = write_config(epochs=2)
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([torchrun, "--standalone", "--nproc_per_node", "2", "-m", "vidpose.cli", "train", str(cfg),
                        "--out", str(out)], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    state = torch.load(out / "train_state.pt", weights_only=True)
    assert state["world_size"] == 2
    # Global batch 4 split over 2 processes: each sees 8 of the 16 crops, 2 per step -> 4 steps/epoch.
    assert state["epoch"] == 2 and state["step"] == 8
    model = load_checkpoint(out / "last.safetensors")
    assert model.predict(torch.zeros(2, 3, 64, 64)).shape == (2, 17, 3)
    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2"] and rows[-1]["val_pck"] != ""
    # Only rank 0 writes: one JSON line of final metrics, one log.
    assert r.stdout.count('"select": "val_pck"') == 1
    assert r.stderr.count("epoch 2/2 loss") == 1
