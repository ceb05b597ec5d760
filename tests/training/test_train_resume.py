"""The training loop: a run stopped and resumed ends bit-identical to an uninterrupted one."""

from __future__ import annotations

import csv

import torch

from vidpose.methods import load as load_checkpoint
from vidpose.models.checkpoint import read_checkpoint
from vidpose.training.config import load_config
from vidpose.training.trainer import train


def _rows(path):
    with open(path, newline="") as f:
        return [{k: v for k, v in r.items() if k != "elapsed_s"} for r in csv.DictReader(f)]


def test_resume_is_exact(tmp_path, write_config):
    cfg_path = write_config()
    full = load_config(cfg_path, [f"run.out_dir={tmp_path / 'full'}"])
    m_full = train(full, quiet=True)

    part = load_config(cfg_path, [f"run.out_dir={tmp_path / 'part'}", "run.stop_after_epochs=1"])
    m_stop = train(part, quiet=True)
    assert m_stop["epoch"] == 1.0
    state = torch.load(tmp_path / "part" / "train_state.pt", weights_only=True)
    assert state["epoch"] == 1 and state["step"] == 4  # 16 crops / batch 4
    # stop_after_epochs counts the epochs of one invocation: 1 again stops after epoch 2.
    m_two = train(part, resume=True, quiet=True)
    assert m_two["epoch"] == 2.0
    part.run.stop_after_epochs = 0
    m_res = train(part, resume=True, quiet=True)

    assert m_res == m_full  # every final metric, exactly
    a = load_checkpoint(tmp_path / "full" / "last.safetensors").state_dict()
    b = load_checkpoint(tmp_path / "part" / "last.safetensors").state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)  # bit-exact weights and BN buffers
    assert _rows(tmp_path / "full" / "metrics.csv") == _rows(tmp_path / "part" / "metrics.csv")
    # ... and the files byte for byte (vidpose sorts the header that safetensors writes in no fixed order)
    for name in ("last.safetensors", "best.safetensors"):
        assert (tmp_path / "full" / name).read_bytes() == (tmp_path / "part" / name).read_bytes(), name
    best_a = load_checkpoint(tmp_path / "full" / "best.safetensors").state_dict()
    best_b = load_checkpoint(tmp_path / "part" / "best.safetensors").state_dict()
    assert all(torch.equal(best_a[k], best_b[k]) for k in best_a)
    assert read_checkpoint(tmp_path / "full" / "best.safetensors", weights=False).extra == \
        read_checkpoint(tmp_path / "part" / "best.safetensors", weights=False).extra

    # The run really trained and logged: 3 epoch rows, loss going down, validation present.
    rows = _rows(tmp_path / "full" / "metrics.csv")
    assert [r["epoch"] for r in rows] == ["1", "2", "3"] and [r["step"] for r in rows] == ["4", "8", "12"]
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])
    assert 0.0 <= m_full["val_pck"] <= 1.0 and m_full["select"] == "val_pck"
    assert m_full["best"] == max(float(r["val_pck"]) for r in rows)
    ck = read_checkpoint(tmp_path / "full" / "best.safetensors", weights=False)
    assert ck.method == "simplebaseline" and ck.extra["val_pck"] == m_full["best"]
    from vidpose.methods import config_of

    assert config_of(ck) == full.model
    # Provenance: the resolved config's hash and the identity of the data it trained on.
    assert ck.extra["config_sha256"] == full.sha256()
    assert ck.extra["data"]["samples"] == 16 and len(ck.extra["data"]["labels_sha256"]) == 64
    log = (tmp_path / "part" / "train.log").read_text()
    assert "resumed from" in log and "16 person crops" in log
    # The resolved config is saved next to the weights and reloads to the same config.
    assert load_config(tmp_path / "full" / "config.toml") == full


def test_same_seed_same_weights_other_seed_differs(tmp_path, write_config):
    cfg_path = write_config(epochs=1)
    outs = {}
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        cfg = load_config(cfg_path, [f"run.out_dir={tmp_path / name}", f"run.seed={seed}", "data.val_subset="])
        train(cfg, quiet=True)
        outs[name] = load_checkpoint(tmp_path / name / "last.safetensors").state_dict()
    k = "backbone.conv1.weight" if "backbone.conv1.weight" in outs["a"] else next(iter(outs["a"]))
    assert all(torch.equal(outs["a"][n], outs["b"][n]) for n in outs["a"])
    assert not torch.equal(outs["a"][k], outs["c"][k])
    assert not (tmp_path / "a" / "best.safetensors").exists()  # no validation, no "best"


def test_resume_survives_a_crash_between_the_two_checkpoint_writes(tmp_path, write_config):
    """last.safetensors newer than train_state.pt (a crash in between): resume from the state, exactly."""
    import shutil

    cfg_path = write_config()
    full = load_config(cfg_path, [f"run.out_dir={tmp_path / 'full'}"])
    m_full = train(full, quiet=True)
    part = load_config(cfg_path, [f"run.out_dir={tmp_path / 'part'}", "run.stop_after_epochs=1"])
    train(part, quiet=True)
    # The crash: weights of a later save next to the state of the earlier one.
    shutil.copy(tmp_path / "full" / "last.safetensors", tmp_path / "part" / "last.safetensors")
    part.run.stop_after_epochs = 0
    assert train(part, resume=True, quiet=True) == m_full
    a = load_checkpoint(tmp_path / "full" / "last.safetensors").state_dict()
    b = load_checkpoint(tmp_path / "part" / "last.safetensors").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_csv_row_survives_a_crash_between_state_and_csv(tmp_path, write_config):
    """The CSV rows travel in train_state.pt: a crash after the state was saved but before
    metrics.csv was rewritten loses no row on resume."""
    cfg_path = write_config()
    full = load_config(cfg_path, [f"run.out_dir={tmp_path / 'full'}"])
    train(full, quiet=True)
    part = load_config(cfg_path, [f"run.out_dir={tmp_path / 'part'}", "run.stop_after_epochs=1"])
    train(part, quiet=True)
    csv_path = tmp_path / "part" / "metrics.csv"
    header = csv_path.read_text().splitlines()[0]
    csv_path.write_text(header + "\n")  # the crash: epoch 1's state is saved, its CSV row is not
    part.run.stop_after_epochs = 0
    train(part, resume=True, quiet=True)
    assert _rows(csv_path) == _rows(tmp_path / "full" / "metrics.csv")
    assert [r["epoch"] for r in _rows(csv_path)] == ["1", "2", "3"]


def test_sigint_leaves_a_resumable_run(tmp_path, write_config):
    """Ctrl-C during `vidpose train`: exit 130, the last finished epoch's checkpoint is whole, and
    --resume continues from it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    cfg_path = write_config(epochs=40)
    out = tmp_path / "sig"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # a test runner started in the background ignores SIGINT and its children inherit that: give the
    # child the default, as a terminal would
    proc = subprocess.Popen([sys.executable, "-m", "vidpose.cli", "train", str(cfg_path), "--out", str(out), "--quiet",
                             "--set", "optim.epochs=40"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not (out / "train_state.pt").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert (out / "train_state.pt").exists(), proc.communicate()[1][-2000:]
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    state = torch.load(out / "train_state.pt", weights_only=True)  # whole, readable
    assert 1 <= state["epoch"] < 40
    assert "interrupted in epoch" in (out / "train.log").read_text()
    leftovers = [p.name for p in out.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]
    assert leftovers == []
    # resume to the end (fewer epochs to keep the test short: stop right after the saved one)
    stop = state["epoch"] + 1
    resumed = load_config(cfg_path, [f"run.out_dir={out}", "optim.epochs=40", "run.stop_after_epochs=1"])
    assert train(resumed, resume=True, quiet=True)["epoch"] == float(stop)
