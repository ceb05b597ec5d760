"""torchrun with 2 CPU processes (gloo DDP): one valid checkpoint, identical weights on both ranks,
and the same result as one process with twice the per-process batch."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys

import pytest
import torch

from vidpose.methods import load as load_checkpoint
from vidpose.models.checkpoint import read_checkpoint

# 2 ranks x batch b vs 1 process x batch 2b: the same samples per step (DistributedSampler
# interleaves one permutation), gradients averaged over ranks. They differ only where the
# loss's normalisation (per labelled joint) differs between a rank's half-batch and the whole
# batch, and by float summation order: measured 5e-7 of each tensor's largest magnitude.
REL_TOL = 1e-4


@pytest.mark.slow
def test_torchrun_two_processes(tmp_path, write_config):
    torchrun = shutil.which("torchrun") or os.path.join(os.path.dirname(sys.executable), "torchrun")
    cfg = write_config(epochs=2)
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # BatchNorm statistics frozen: SyncBatchNorm does not run on CPU, so per-rank batch statistics
    # would differ from the whole batch's.
    freeze = ["--set", "optim.freeze_bn=true"]
    r = subprocess.run([torchrun, "--standalone", "--nproc_per_node", "2", "-m", "vidpose.cli", "train", str(cfg),
                        "--out", str(out), *freeze], capture_output=True, text=True, env=env, timeout=300)
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
    assert "DDP: parameters identical on all 2 processes" in r.stderr  # checked across ranks by the trainer

    one = subprocess.run([sys.executable, "-m", "vidpose.cli", "train", str(cfg), "--out", str(tmp_path / "one"),
                          "--quiet", *freeze], capture_output=True, text=True, env=env, timeout=300)
    assert one.returncode == 0, one.stderr[-3000:]
    a = read_checkpoint(out / "last.safetensors").state
    b = read_checkpoint(tmp_path / "one" / "last.safetensors").state
    assert a.keys() == b.keys()
    for k in a:
        if a[k].is_floating_point():
            assert float((a[k] - b[k]).abs().max()) <= REL_TOL * float(b[k].abs().max()) + 1e-12, k
    # ... and both really trained: the weights moved away from the seed's initialisation.
    from vidpose.methods import get
    from vidpose.training.config import load_config
    from vidpose.training.trainer import seed_everything

    c = load_config(cfg)
    seed_everything(c.run.seed)
    init = get(c.method).build(c.model).state_dict()
    assert not torch.equal(init["head.final.weight"], b["head.final.weight"].to(init["head.final.weight"].dtype))
