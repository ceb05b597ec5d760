"""`vidpose bench clnet`: the quick suite and the shipped synth-single weights.

The quick suite evaluates every shipped checkpoint on the first 2 synth-single
test clips of renderer 3, the shipped models' data (generated on first use under
vidpose.store.home()/synth/renderer3, a few seconds).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

from vidpose.bench import clnet  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
NAMES = [name for name, _ in clnet.ROWS]
# Lowest pck@0.2 on the quick set (the first 2 renderer-3 test clips: getting up from lying on the
# floor, and a jog), `vidpose bench clnet --quick` on 2026-12-01: 0.452 (simplebaseline-s16); the
# others 0.527-0.637. These two clips are harder than the average test clip (full set: 0.739-0.780).
# The evaluation is deterministic (fixed weights, fixed data); the margin covers other CPUs' float
# rounding and torch builds only.
MIN_PCK = 0.42


@pytest.fixture(scope="module")
def quick():
    return clnet.run(quick=True)


def test_quick_suite_rows(quick):
    assert quick["suite"] == "clnet"
    assert quick["missing_weights"] == []
    assert [r["name"] for r in quick["rows"]] == NAMES
    assert quick["quick"] is True and quick["test_clips"] == clnet.QUICK_CLIPS
    assert quick["threads"] == clnet.THREADS
    assert quick["renderer"] == clnet.RENDERER == 3
    for r in quick["rows"]:
        for k in ("pck@0.2", "pck@0.2_visible", "pck@0.1", "oks_ap", "oks_ap50", "mean_px_error", "gflops", "params_m", "cpu_ms"):
            assert isinstance(r[k], float) and math.isfinite(r[k]), (r["name"], k, r[k])
        assert 0.0 <= r["pck@0.2"] <= 1.0 and 0.0 <= r["oks_ap"] <= 1.0
        assert 0.0 < r["gflops"] < 1.0 and 0.0 < r["params_m"] < 2.0  # quarter-width, 128x96
        assert r["cpu_ms"] > 0
        assert r["input_size"] == [128, 96]
        assert r["heatmap_stride"] in (4, 8, 16)
    for key, _, _ in clnet.PAIRS:
        d = quick[key]
        assert set(d) >= {"pck_delta", "gflops_ratio", "oks_ap_delta", "cpu_ms_ratio", "claim_holds"}
        assert all(math.isfinite(d[k]) for k in ("pck_delta", "gflops_ratio", "oks_ap_delta", "cpu_ms_ratio"))
    # FLOPs are deterministic: the composite heads are cheaper than the stride-4 heatmap heads.
    assert quick["clnet_vs_simplebaseline"]["gflops_ratio"] < 1.0
    assert quick["clnet_hourglass_vs_hourglass"]["gflops_ratio"] < 1.0


def test_shipped_weights_accuracy(quick):
    """A sanity bound: every shipped model localises a good part of the joints of the quick test clips."""
    for r in quick["rows"]:
        assert r["pck@0.2"] > MIN_PCK, r


@pytest.mark.parametrize("name,stem", clnet.ROWS)
def test_shipped_checkpoint_matches_config(name, stem):
    from vidpose.methods import config_of
    from vidpose.methods import load as load_checkpoint
    from vidpose.models.checkpoint import read_checkpoint
    from vidpose.training.config import load_config

    path = clnet.weight_path(stem)
    assert path.is_file(), path
    assert path.stat().st_size < 4 * 2**20  # a few MB at most
    cfg = load_config(CONFIGS / f"{stem}.toml")
    model = load_checkpoint(path)
    assert model.cfg == cfg.model
    assert next(model.parameters()).dtype == torch.float32  # float16 on disk, float32 once loaded
    ck = read_checkpoint(path, weights=False)
    assert ck.method == cfg.method and config_of(ck) == cfg.model
    extra = ck.extra
    assert f"vidpose train configs/{stem}.toml" in extra["command"]
    assert extra["epochs"] == cfg.optim.epochs
    assert extra["data"]["generator"]["renderer"] == clnet.RENDERER  # trained on the data the bench tests on
    assert 0.0 < extra["val_pck"] <= 1.0


def test_shipped_weights_total_size():
    total = sum(clnet.weight_path(stem).stat().st_size for _, stem in clnet.ROWS)
    assert total < 16 * 2**20


def test_pairs_share_everything_but_the_head():
    """The compared configs differ only in the head (arch, stride, deconvs, loss settings)."""
    from vidpose.training.config import load_config

    head = {"method", "backbone", "num_stacks", "deconv_channels", "heatmap_stride", "num_deconv", "sigma", "offset_weight", "composite_target", "cell_sigma"}
    for _, cand, ref in clnet.PAIRS:
        a, b = (load_config(CONFIGS / f"{dict(clnet.ROWS)[n]}.toml") for n in (cand, ref))
        da, db = a.to_dict(), b.to_dict()
        assert {k: v for k, v in da["model"].items() if k not in head} == \
            {k: v for k, v in db["model"].items() if k not in head}
        for sec in ("data", "aug", "optim"):
            assert da[sec] == db[sec], (cand, ref, sec)


@pytest.mark.parametrize("name,stem", clnet.ROWS)
def test_recorded_command_reproduces_the_config_hash(name, stem):
    """Each shipped file records the command that trained it and the hash of the resolved config;
    re-reading that command gives the same hash (paths and run settings are not part of it)."""
    from vidpose.models.checkpoint import read_checkpoint

    extra = read_checkpoint(clnet.weight_path(stem), weights=False).extra
    cfg = clnet.recorded_config(extra["command"], CONFIGS.parent)
    assert cfg.sha256() == extra["config_sha256"]
    assert cfg.run.out_dir.endswith(stem)  # the command's --out was read
    # a different setting gives a different hash
    cfg.optim.lr *= 2
    assert cfg.sha256() != extra["config_sha256"]


@pytest.mark.slow
def test_recorded_data_is_reproduced(tmp_path):
    """Regenerating the data that `trained_on` names gives the recorded data identity: generator
    (format, renderer, split), number of crops and the sha256 of every label (renderer 3, the
    split's default: about 2-3 minutes)."""
    from vidpose.data.synth.generate import generate_split
    from vidpose.models.checkpoint import read_checkpoint

    extra = read_checkpoint(clnet.weight_path(clnet.ROWS[0][1]), weights=False).extra
    assert "vidpose synth --split synth-single --subset all --seed 0" in extra["trained_on"]
    generate_split("synth-single", tmp_path, "train", seed=0)
    got = clnet.provenance(extra["command"], tmp_path / "synth-single", CONFIGS.parent)
    assert got["data"] == extra["data"]
    assert got["data"]["generator"]["split"] == "synth-single" and got["data"]["frames"] == 7680
    assert got["data"]["generator"]["renderer"] == 3
    for _, stem in clnet.ROWS[1:]:  # every shipped model was trained on the same data
        assert read_checkpoint(clnet.weight_path(stem), weights=False).extra["data"] == extra["data"]
