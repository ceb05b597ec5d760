"""The TF.js graph-model runner (dense part lowered to TFLite) on a small graph written by the test in the real format
(model.json + .bin shard): TF's SAME padding (the extra pixel after), depthwise channel order,
fused bias/Relu6, float16-quantised weights, half-pixel bilinear resizing, SAME max pooling —
checked against direct numpy/OpenCV computations; and bad files fail naming the file."""

from __future__ import annotations

import base64
import json

import cv2
import numpy as np
import pytest

from vidpose.backends.tfjs import GraphModel
from vidpose.errors import ModelStoreError


def _s(text: str) -> dict:
    return {"s": base64.b64encode(text.encode()).decode()}


def _ints(*v: int) -> dict:
    return {"list": {"i": [str(x) for x in v]}}


def _write_model(tmp_path, weights: dict[str, np.ndarray], half: set[str], nodes: list[dict]):
    manifest, blobs = [], []
    for name, a in weights.items():
        spec = {"name": name, "shape": list(a.shape), "dtype": "int32" if a.dtype == np.int32 else "float32"}
        if name in half:
            spec["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
            blobs.append(a.astype(np.float16).tobytes())
        else:
            blobs.append(a.tobytes())
        manifest.append(spec)
    consts = [{"name": n, "op": "Const", "attr": {}} for n in weights]
    spec = {"format": "graph-model",
            "modelTopology": {"node": [{"name": "x", "op": "Placeholder", "attr": {}}] + consts + nodes},
            "weightsManifest": [{"paths": ["m.bin"], "weights": manifest}],
            "signature": {"inputs": {"x": {"name": "x:0"}}, "outputs": {"y": {"name": "Identity:0"}}}}
    (tmp_path / "m.json").write_text(json.dumps(spec))
    (tmp_path / "m.bin").write_bytes(b"".join(blobs))
    return tmp_path / "m.json", tmp_path / "m.bin"


def _conv_same(x, w, stride, depthwise=False):
    """Direct NHWC convolution with TF's SAME padding (x (H, W, C), w (kh, kw, C, O|M))."""
    h, wd, _ = x.shape
    kh, kw = w.shape[:2]
    oh, ow = -(-h // stride), -(-wd // stride)
    ph = max((oh - 1) * stride + kh - h, 0)
    pw = max((ow - 1) * stride + kw - wd, 0)
    xp = np.pad(x, ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    out = []
    for i in range(oh):
        row = []
        for j in range(ow):
            patch = xp[i * stride:i * stride + kh, j * stride:j * stride + kw]
            if depthwise:
                row.append(np.einsum("hwc,hwcm->cm", patch, w).reshape(-1))
            else:
                row.append(np.einsum("hwc,hwco->o", patch, w))
        out.append(row)
    return np.array(out)


def test_small_graph_matches_direct_computation(tmp_path):
    rng = np.random.default_rng(0)
    w1 = rng.normal(size=(3, 3, 2, 4)).astype(np.float32)
    b1 = rng.normal(size=(4,)).astype(np.float16).astype(np.float32)  # exact in float16
    dw = rng.normal(size=(3, 3, 4, 2)).astype(np.float32)
    size = np.array([10, 12], np.int32)
    nodes = [
        {"name": "conv", "op": "_FusedConv2D", "input": ["x", "w1", "b1"],
         "attr": {"strides": _ints(1, 2, 2, 1), "padding": _s("SAME"), "data_format": _s("NHWC"),
                  "dilations": _ints(1, 1, 1, 1), "fused_ops": {"list": {"s": [_s("BiasAdd")["s"], _s("Relu6")["s"]]}}}},
        {"name": "dconv", "op": "DepthwiseConv2dNative", "input": ["conv", "dw"],
         "attr": {"strides": _ints(1, 1, 1, 1), "padding": _s("SAME"), "data_format": _s("NHWC")}},
        {"name": "up", "op": "ResizeBilinear", "input": ["dconv", "size"],
         "attr": {"align_corners": {"b": False}, "half_pixel_centers": {"b": True}}},
        {"name": "pool", "op": "MaxPool", "input": ["up"],
         "attr": {"ksize": _ints(1, 3, 3, 1), "strides": _ints(1, 1, 1, 1), "padding": _s("SAME"),
                  "data_format": _s("NHWC")}},
        {"name": "Identity", "op": "Identity", "input": ["pool"]},
    ]
    model_json, weights = _write_model(tmp_path, {"w1": w1, "b1": b1, "dw": dw, "size": size}, {"b1"}, nodes)
    x = rng.normal(size=(1, 9, 11, 2)).astype(np.float32) * 3  # odd sizes: SAME pads 1 before, 1 after... or 0/1
    (y,) = GraphModel(model_json, [weights])(x)

    ref = np.clip(_conv_same(x[0], w1, 2) + b1, 0, 6)  # (5, 6, 4)
    ref = _conv_same(ref, dw, 1, depthwise=True)  # (5, 6, 8): channel c*M + m
    ref = cv2.resize(ref.astype(np.float32), (12, 10), interpolation=cv2.INTER_LINEAR)  # half-pixel centres
    padded = np.pad(ref, ((1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    ref = np.max([padded[i:i + 10, j:j + 12] for i in range(3) for j in range(3)], axis=0)
    assert y.shape == (1, 10, 12, 8)
    np.testing.assert_allclose(y[0], ref, rtol=1e-4, atol=1e-4)


def test_bad_files_fail_naming_the_file(tmp_path):
    w1 = np.ones((1, 1, 1, 1), np.float32)
    nodes = [{"name": "Identity", "op": "Identity", "input": ["x"]}]
    model_json, weights = _write_model(tmp_path, {"w1": w1}, set(), nodes)
    weights.write_bytes(weights.read_bytes()[:2])  # truncated shard
    with pytest.raises(ModelStoreError, match=r"m\.bin: the weights file ends inside weight w1"):
        GraphModel(model_json, [weights])
    weights.write_bytes(b"\0" * 8)  # too long for its manifest
    with pytest.raises(ModelStoreError, match=r"m\.bin: the manifest accounts for 4 bytes of weights, the file has 8"):
        GraphModel(model_json, [weights])
    model_json.write_text("{not json")
    with pytest.raises(ModelStoreError, match=r"m\.json: not a TF\.js graph model"):
        GraphModel(model_json, [weights])
    model_json, weights = _write_model(tmp_path, {"w2": np.ones(4, np.float32)}, {"w2"}, nodes)
    weights.write_bytes(weights.read_bytes()[:6])  # truncated float16 (quantised) shard
    with pytest.raises(ModelStoreError, match=r"m\.bin: the weights file ends inside weight w2"):
        GraphModel(model_json, [weights])


def test_an_op_it_does_not_implement_is_named(tmp_path):
    nodes = [{"name": "Identity", "op": "NonMaxSuppressionV5", "input": ["x"]}]
    model_json, weights = _write_model(tmp_path, {}, set(), nodes)
    with pytest.raises(ModelStoreError, match="node Identity uses op NonMaxSuppressionV5"):
        GraphModel(model_json, [weights])
