"""ONNX export: onnxruntime matches PyTorch relative to each output's scale, for every shipped
(trained) architecture on real rendered crops; dynamic batch, metadata, CLI, --check."""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from vidpose.cli import main as cli_main
from vidpose.errors import InputError
from vidpose.methods import config_of, load, resolve
from vidpose.models.checkpoint import read_checkpoint
from vidpose.models.export import compare_onnx, export_onnx
from vidpose.settings import to_dict

torch.set_num_threads(1)
# Largest onnxruntime-vs-PyTorch difference accepted, as a fraction of the output's range.
REL_TOL = 1e-4
ARCH_MODELS = ["simplebaseline", "hourglass", "clnet", "clnet-hourglass"]  # one shipped model per architecture


@pytest.fixture(scope="module")
def crops():
    """Real person crops (normalised, 128x96) from a rendered synth-single clip."""
    import tempfile

    from vidpose.data.synth import read_synth
    from vidpose.data.synth.generate import generate_split
    from vidpose.data.topdown import TopDownDataset

    with tempfile.TemporaryDirectory() as d:
        generate_split("synth-single", d, "test", clips=1, frames=3, seed=0, renderer=2)
        ds = TopDownDataset(read_synth(f"{d}/synth-single", "test"), (128, 96))
        return torch.stack([ds[i]["image"] for i in range(3)])


@pytest.mark.parametrize("name", ARCH_MODELS)
def test_onnxruntime_matches_pytorch(tmp_path, name, crops):
    m = load(name)
    path = export_onnx(m, tmp_path / "m.onnx")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    assert names == list(m.output_keys)
    # exported at batch 1, run at batch 3: the batch axis is dynamic
    got = dict(zip(names, sess.run(names, {"images": crops.numpy()})))
    with torch.no_grad():
        ref = m(crops)
    for k in names:
        r = ref[k].numpy()
        scale = float(r.max() - r.min())
        assert scale > 0.1, f"{name}: {k} is nearly constant on real crops (range {scale}); not a useful check"
        assert np.abs(got[k] - r).max() <= REL_TOL * scale
    rel = compare_onnx(m, path, images=crops)
    assert set(rel) == set(names) and max(rel.values()) <= REL_TOL
    # decoding the ONNX outputs with the model's codec gives the model's own predictions
    np.testing.assert_allclose(m.codec.decode(got), m.predict(crops).numpy(), atol=1e-3 * m.cfg.heatmap_stride)
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    ck = read_checkpoint(resolve(name), weights=False)
    assert meta["vidpose_method"] == ck.method == m.method
    assert json.loads(meta["vidpose_config"]) == to_dict(config_of(ck))
    # the ONNX file runs through vidpose.methods.load with the same decode
    onnx_model = load(path)
    np.testing.assert_allclose(onnx_model.predict(crops.numpy()), m.predict(crops).numpy(), atol=1e-3 * m.cfg.heatmap_stride)


def test_relative_check_catches_a_broken_export(tmp_path, crops):
    """An export whose last layer outputs zeros must fail the relative check (an absolute 1e-5 would not)."""
    m = load("simplebaseline")
    path = export_onnx(m, tmp_path / "m.onnx")
    proto = onnx.load(str(path))
    last = proto.graph.node[-1]
    for init in proto.graph.initializer:
        if init.name in last.input:
            arr = onnx.numpy_helper.to_array(init)
            init.CopyFrom(onnx.numpy_helper.from_array(np.zeros_like(arr), init.name))
    onnx.save(proto, str(path))
    assert max(compare_onnx(m, path, images=crops).values()) > 0.1


def test_cli_export(tmp_path, capsys):
    out = tmp_path / "clnet.onnx"
    assert cli_main(["export", "clnet", "--onnx", str(out), "--opset", "17", "--check"]) == 0
    text = capsys.readouterr().out
    assert "output offsets (B, 34, 16, 12)" in text and "max abs difference / output scale" in text
    assert onnx.load(str(out)).opset_import[0].version == 17
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clnet.onnx"]


def test_cli_export_check_failure_removes_the_file(tmp_path, capsys, monkeypatch):
    """--check that finds a mismatch fails and leaves no ONNX file behind (the tolerance is set below
    any real difference, so the comparison itself decides)."""
    from vidpose.cli import export_cmd

    monkeypatch.setattr(export_cmd, "CHECK_TOLERANCE", -1.0)
    out = tmp_path / "sb.onnx"
    assert cli_main(["export", "simplebaseline", "--onnx", str(out), "--check"]) == 1
    assert "differ from PyTorch" in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_cli_export_errors(tmp_path, capsys):
    assert cli_main(["export", str(tmp_path / "none.safetensors"), "--onnx", str(tmp_path / "x.onnx")]) == 1
    assert "none.safetensors" in capsys.readouterr().err
    (tmp_path / "folder.onnx").mkdir()
    assert cli_main(["export", "simplebaseline", "--onnx", str(tmp_path / "folder.onnx")]) == 1
    assert f"--onnx {tmp_path / 'folder.onnx'}: is a folder" in capsys.readouterr().err
    assert cli_main(["models", "fetch", "simplebaseline"]) == 0
    assert "simplebaseline: ships with vidpose" in capsys.readouterr().out
    m = load("clnet")
    with pytest.raises(InputError, match="--opset"):
        export_onnx(m, tmp_path / "x.onnx", opset=5)
    assert not (tmp_path / "x.onnx").exists()


def test_an_altered_input_shape_and_a_lifter_export_are_named_when_loaded(tmp_path):
    """An export whose graph input no longer matches its metadata fails at load, naming the file and both
    shapes; a lifter's export given where a 2D model is expected says what it is."""
    out = tmp_path / "sb.onnx"
    assert cli_main(["export", "simplebaseline", "--onnx", str(out)]) == 0
    proto = onnx.load(str(out))
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_value, dims[3].dim_value = 256, 192
    bad = tmp_path / "sb_256.onnx"
    onnx.save(proto, str(bad))
    with pytest.raises(InputError, match=r"sb_256.onnx: the graph's input is .*256, 192\), but its metadata says "
                                         r"input_size \(128, 96\)"):
        load(bad)
    from vidpose.methods import shipped_lifter_path

    with pytest.raises(InputError, match="a dgnet export is not a 2D keypoint model"):
        load(shipped_lifter_path(".onnx"))


def test_checkpoint_bytes_do_not_depend_on_the_metadata_order(tmp_path):
    """safetensors writes its metadata in hash-map order; vidpose sorts the header, so the same weights and
    metadata give the same file, whatever the process, and the file still loads."""
    from vidpose.methods import build
    from vidpose.models.checkpoint import read_checkpoint, save_checkpoint

    torch.manual_seed(0)
    m = build("clnet", width=0.125, input_size=(64, 64))
    a = save_checkpoint(tmp_path / "a.safetensors", m, extra={"z": 1, "a": 2, "m": [3, 4]})
    b = save_checkpoint(tmp_path / "b.safetensors", m, extra={"m": [3, 4], "a": 2, "z": 1})
    assert a.read_bytes() == b.read_bytes()
    header_len = int.from_bytes(a.read_bytes()[:8], "little")
    assert header_len % 8 == 0
    ck = read_checkpoint(a)
    assert ck.extra == {"a": 2, "m": [3, 4], "z": 1}
    assert all(torch.equal(v, m.state_dict()[k]) for k, v in ck.state.items())
    import subprocess, sys  # noqa: E401 - another process, another hash seed
    code = ("import sys, torch; from vidpose.methods import build; from vidpose.models.checkpoint import save_checkpoint; "
            "torch.manual_seed(0); m = build('clnet', width=0.125, input_size=(64, 64)); "
            "save_checkpoint(sys.argv[1], m, extra={'z': 1, 'a': 2, 'm': [3, 4]})")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "c.safetensors")], check=True)
    assert (tmp_path / "c.safetensors").read_bytes() == a.read_bytes()
