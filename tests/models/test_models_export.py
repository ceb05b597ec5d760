"""ONNX export: onnxruntime matches PyTorch, dynamic batch, metadata, CLI."""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from vidpose.cli import main as cli_main
from vidpose.errors import InputError
from vidpose.models import ModelConfig, build_model, save_checkpoint
from vidpose.models.codecs import decode_composite, decode_heatmaps
from vidpose.models.export import export_onnx

torch.set_num_threads(1)


def _trained_like(cfg):
    torch.manual_seed(0)
    m = build_model(cfg)
    m.train()
    with torch.no_grad():
        m(torch.randn(4, 3, *cfg.input_size))  # non-trivial BN statistics
    return m.eval()


CFGS = [
    ModelConfig(arch="simplebaseline", width=0.25, input_size=(64, 64)),
    ModelConfig(arch="clnet", width=0.25, input_size=(64, 64), heatmap_stride=8),
    ModelConfig(arch="clnet-hourglass", width=0.25, input_size=(64, 48), heatmap_stride=8, num_stacks=2),
]


@pytest.mark.parametrize("cfg", CFGS, ids=lambda c: c.arch)
def test_onnxruntime_matches_pytorch(tmp_path, cfg):
    m = _trained_like(cfg)
    path = export_onnx(m, tmp_path / "m.onnx")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    assert names == list(m.output_keys)
    # exported at batch 1, run at batch 3: the batch axis is dynamic
    x = torch.randn(3, 3, *cfg.input_size)
    got = dict(zip(names, sess.run(names, {"images": x.numpy()})))
    with torch.no_grad():
        ref = m(x)
    for k in names:
        np.testing.assert_allclose(got[k], ref[k].numpy(), rtol=1e-4, atol=1e-5)
    # the plain numpy decoders give the model's own predictions from ONNX outputs
    if cfg.is_composite:
        dec = decode_composite(got["heatmaps"], got["offsets"], cfg.heatmap_stride, cfg.composite_target)
    else:
        dec = decode_heatmaps(got["heatmaps"], cfg.heatmap_stride, cfg.sigma)
    np.testing.assert_allclose(dec, m.predict(x).numpy(), atol=1e-3)
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert ModelConfig.from_dict(json.loads(meta["vidpose_config"])) == cfg


def test_cli_export(tmp_path, capsys):
    cfg = CFGS[1]
    ckpt = tmp_path / "clnet.safetensors"
    save_checkpoint(ckpt, _trained_like(cfg))
    out = tmp_path / "clnet.onnx"
    assert cli_main(["export", str(ckpt), "--onnx", str(out), "--opset", "17", "--check"]) == 0
    text = capsys.readouterr().out
    assert "output offsets (B, 34, 8, 8)" in text and "max abs difference" in text
    assert onnx.load(str(out)).opset_import[0].version == 17
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clnet.onnx", "clnet.safetensors"]


def test_cli_export_errors(tmp_path, capsys):
    assert cli_main(["export", str(tmp_path / "none.safetensors"), "--onnx", str(tmp_path / "x.onnx")]) == 1
    assert "none.safetensors: checkpoint not found" in capsys.readouterr().err
    m = _trained_like(CFGS[0])
    with pytest.raises(InputError, match="--opset"):
        export_onnx(m, tmp_path / "x.onnx", opset=5)
    assert not (tmp_path / "x.onnx").exists()
