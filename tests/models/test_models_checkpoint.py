"""Checkpoints: round trip, metadata, and clear errors for bad files."""

import json

import pytest
import torch
from safetensors.torch import save_file

from vidpose.errors import InputError
from vidpose.methods import load as load_checkpoint
from vidpose.models import read_checkpoint, save_checkpoint
from vidpose.settings import to_dict

torch.set_num_threads(1)


def ModelConfig(arch="simplebaseline", **kw):
    """A method config from the flat settings the tests use (``arch`` names the method)."""
    from vidpose.methods import make_config

    return make_config(arch, kw)


def build_model(cfg):
    from vidpose.methods import build_from

    return build_from(cfg)


def _model(**kw):
    torch.manual_seed(0)
    cfg = ModelConfig(**{"width": 0.25, "input_size": (64, 64), **kw})
    m = build_model(cfg)
    # move BN statistics off their defaults so the round trip checks buffers too
    m.train()
    with torch.no_grad():
        m(torch.randn(2, 3, 64, 64))
    return m.eval()


@pytest.mark.parametrize("kw", [dict(arch="simplebaseline"), dict(arch="clnet", heatmap_stride=8, composite_target="onehot")])
def test_roundtrip_same_outputs_and_metadata(tmp_path, kw):
    m = _model(**kw)
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, m, extra={"command": "vidpose train cfg.toml", "epoch": 3})
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]  # no temp file left
    loaded = load_checkpoint(path)
    assert not loaded.training and loaded.cfg == m.cfg
    assert loaded.extra == {"command": "vidpose train cfg.toml", "epoch": 3}
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        a, b = m(x), loaded(x)
    for k in m.output_keys:
        assert torch.equal(a[k], b[k])
    ck = read_checkpoint(path, weights=False)
    assert ck.method == m.method and ck.config == to_dict(m.cfg) and ck.extra["epoch"] == 3 and ck.version
    assert ck.state == {} and not ck.legacy


def test_not_found(tmp_path):
    with pytest.raises(InputError, match=r"missing\.safetensors: checkpoint not found"):
        load_checkpoint(tmp_path / "missing.safetensors")


def test_truncated(tmp_path):
    path = tmp_path / "cut.safetensors"
    save_checkpoint(path, _model())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"cut\.safetensors: .*truncated or corrupt"):
        load_checkpoint(path)
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(InputError, match=r"cut\.safetensors: .*truncated or corrupt"):
        load_checkpoint(path)


def test_not_a_vidpose_checkpoint(tmp_path):
    path = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(3)}, str(path))
    with pytest.raises(InputError, match=r"plain\.safetensors: not a vidpose checkpoint"):
        load_checkpoint(path)


def test_architecture_mismatch_names_keys(tmp_path):
    # weights of a CLNet under a SimpleBaseline config
    clnet = _model(arch="clnet", heatmap_stride=8)
    sb_cfg = ModelConfig(width=0.25, input_size=(64, 64))
    path = tmp_path / "mixed.safetensors"
    save_file({k: v.contiguous() for k, v in clnet.state_dict().items()}, str(path),
              metadata={"vidpose_format": "2", "vidpose_method": "simplebaseline",
                        "vidpose_config": json.dumps(to_dict(sb_cfg))})
    with pytest.raises(InputError, match=r"mixed\.safetensors: weights do not match.*missing \(e\.g\. head\.deconv") as e:
        load_checkpoint(path)
    assert "unexpected (e.g. head.body" in str(e.value)

    # same arch, different width: shapes differ
    wide = _model(width=0.5)
    path2 = tmp_path / "wide.safetensors"
    save_file({k: v.contiguous() for k, v in wide.state_dict().items()}, str(path2),
              metadata={"vidpose_format": "2", "vidpose_method": "simplebaseline",
                        "vidpose_config": json.dumps(to_dict(sb_cfg))})
    with pytest.raises(InputError, match=r"wide\.safetensors: .*different shape \(e\.g\. backbone\.conv1\.weight"):
        load_checkpoint(path2)


def test_bad_config_metadata(tmp_path):
    path = tmp_path / "bad.safetensors"
    cfg = to_dict(ModelConfig())
    save_file({"w": torch.zeros(1)}, str(path), metadata={"vidpose_format": "2", "vidpose_method": "transformer",
                                                           "vidpose_config": json.dumps(cfg)})
    with pytest.raises(InputError, match=r"bad\.safetensors: made by method 'transformer', which this vidpose does not have"):
        load_checkpoint(path)
    cfg["heatmap_stride"] = 6
    save_file({"w": torch.zeros(1)}, str(path), metadata={"vidpose_format": "2", "vidpose_method": "simplebaseline",
                                                           "vidpose_config": json.dumps(cfg)})
    with pytest.raises(InputError, match=r"bad\.safetensors: metadata 'vidpose_config': .*heatmap_stride"):
        load_checkpoint(path)


def test_format_1_files_still_load(tmp_path):
    """Checkpoints written before methods were modules stored one flat config; fields the method
    does not use are dropped and the weights load unchanged."""
    m = _model()
    flat = {"arch": "simplebaseline", **to_dict(m.cfg), "num_stacks": 1, "offset_weight": 1.0}
    path = tmp_path / "old.safetensors"
    save_file({k: v.contiguous() for k, v in m.state_dict().items()}, str(path),
              metadata={"vidpose_format": "1", "vidpose_config": json.dumps(flat)})
    ck = read_checkpoint(path, weights=False)
    assert ck.legacy and ck.method == "simplebaseline"
    loaded = load_checkpoint(path)
    assert loaded.cfg == m.cfg
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded(x)["heatmaps"], m(x)["heatmaps"])


def test_failed_save_keeps_previous_file(tmp_path):
    path = tmp_path / "m.safetensors"
    m = _model()
    save_checkpoint(path, m)
    before = path.read_bytes()
    with pytest.raises(InputError, match="not JSON-serialisable"):
        save_checkpoint(path, m, extra={"bad": object()})
    assert path.read_bytes() == before
