"""A small runner for TensorFlow.js graph models (``model.json`` + ``.bin`` weights).

No TensorFlow is needed: the graph's nodes are evaluated in order with numpy,
and the convolutions with PyTorch (NHWC arrays are handed to it as
channels-last views, so nothing is copied). Only the ops that the models
vidpose ships use are implemented (MoveNet MultiPose: 45 op types); any other
op fails with an error naming it, the node and the file.
TF semantics followed where they differ from numpy/PyTorch: SAME padding
(extra pixel after), integer ``FloorDiv``, ``Select`` with a vector condition,
``StridedSlice`` masks, half-pixel bilinear resizing.
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path

import numpy as np

from vidpose.errors import ModelStoreError

_DTYPES = {"DT_FLOAT": np.float32, "DT_INT32": np.int32, "DT_BOOL": np.bool_, "DT_INT64": np.int64}
_MANIFEST_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}


def _attr(node: dict, key: str, default=None):
    """A node attribute decoded from TF.js JSON (ints arrive as strings, strings as base64)."""
    a = node.get("attr", {}).get(key)
    if a is None:
        return default
    if "list" in a:
        lst = a["list"]
        if "i" in lst:
            return [int(v) for v in lst["i"]]
        if "s" in lst:
            return [base64.b64decode(v).decode() for v in lst["s"]]
        if "f" in lst:
            return [float(v) for v in lst["f"]]
        return []
    if "i" in a:
        return int(a["i"])
    if "s" in a:
        return base64.b64decode(a["s"]).decode()
    if "f" in a:
        return float(a["f"])
    if "b" in a:
        return bool(a["b"])
    if "type" in a:
        return a["type"]
    return default


def read_weights(manifest: list[dict], data: bytes, where: str) -> dict[str, np.ndarray]:
    """Weights by name from a TF.js weights manifest and its concatenated shards.

    float16 and affine uint8/uint16 quantisation (``value = q * scale + min``) are undone.
    """
    out: dict[str, np.ndarray] = {}
    pos = 0
    for group in manifest:
        for w in group["weights"]:
            shape = [int(d) for d in w["shape"]]
            n = int(np.prod(shape)) if shape else 1
            q = w.get("quantization")
            if q:
                qdtype = {"float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}.get(q["dtype"])
                if qdtype is None:
                    raise ModelStoreError(f"{where}: weight {w['name']} uses unsupported quantisation {q['dtype']}")
                raw = np.frombuffer(data, qdtype, n, pos)
                pos += raw.nbytes
                arr = raw.astype(np.float32)
                if q["dtype"] != "float16":
                    arr = arr * np.float32(q["scale"]) + np.float32(q["min"])
                arr = arr.astype(_MANIFEST_DTYPES[q.get("original_dtype", "float32")])
            else:
                dtype = _MANIFEST_DTYPES.get(w["dtype"])
                if dtype is None:
                    raise ModelStoreError(f"{where}: weight {w['name']} has unsupported dtype {w['dtype']}")
                if pos + n * np.dtype(dtype).itemsize > len(data):
                    raise ModelStoreError(f"{where}: the weights file ends inside weight {w['name']} (truncated?)")
                arr = np.frombuffer(data, dtype, n, pos).copy()
                pos += arr.nbytes
            out[w["name"]] = arr.reshape(shape)
    if pos != len(data):
        raise ModelStoreError(f"{where}: the manifest accounts for {pos} bytes of weights, the file has {len(data)}")
    return out


def _same_pads(size: int, k: int, s: int, d: int) -> tuple[int, int]:
    eff = (k - 1) * d + 1
    total = max((math.ceil(size / s) - 1) * s + eff - size, 0)
    return total // 2, total - total // 2


class GraphModel:
    """A TF.js graph model, evaluated node by node. ``model(x)`` -> the signature's outputs."""

    def __init__(self, model_json: str | Path, weight_files: list[str | Path]):
        import torch

        self._torch = torch
        self.path = Path(model_json)
        try:
            spec = json.loads(Path(model_json).read_text())
            topo = spec["modelTopology"]["node"]
            manifest = spec["weightsManifest"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ModelStoreError(f"{model_json}: not a TF.js graph model ({e})") from None
        data = b"".join(Path(p).read_bytes() for p in weight_files)
        self.values = read_weights(manifest, data, str(weight_files[0]))
        self.nodes = {n["name"]: n for n in topo}
        sig = spec.get("signature", {})
        self.inputs = [v["name"].split(":")[0] for v in sig.get("inputs", {}).values()] or [
            n["name"] for n in topo if n["op"] == "Placeholder"]
        self.outputs = [v["name"] for v in sig.get("outputs", {}).values()]
        for n in topo:
            if n["op"] == "Const" and n["name"] not in self.values:
                raise ModelStoreError(f"{model_json}: constant {n['name']} has no weights in the manifest")
            if n["op"] not in _OPS and n["op"] not in ("Const", "Placeholder"):
                raise ModelStoreError(f"{model_json}: node {n['name']} uses op {n['op']}, which vidpose's "
                                      "TF.js runner does not implement")
        self.order = self._order(self.outputs)
        self._filters: dict[str, object] = {}  # conv filters in PyTorch layout, made once

    def _order(self, outputs: list[str]) -> list[str]:
        """Nodes needed for ``outputs``, dependencies first (iterative DFS)."""
        seen: set[str] = set()
        order: list[str] = []
        for out in outputs:
            stack = [(out.split(":")[0], False)]
            while stack:
                name, done = stack.pop()
                if done:
                    order.append(name)
                    continue
                if name in seen:
                    continue
                seen.add(name)
                stack.append((name, True))
                for i in self.nodes[name].get("input", []):
                    if not i.startswith("^"):
                        stack.append((i.split(":")[0], False))
        return order

    def __call__(self, *inputs: np.ndarray) -> list[np.ndarray]:
        env: dict[str, list] = {}
        for name, x in zip(self.inputs, inputs):
            env[name] = [x]
        for name in self.order:
            if name in env:
                continue
            node = self.nodes[name]
            if node["op"] == "Const":
                env[name] = [self.values[name]]
                continue
            args = []
            for i in node.get("input", []):
                if i.startswith("^"):
                    continue
                base, _, idx = i.partition(":")
                args.append(env[base][int(idx) if idx else 0])
            try:
                res = _OPS[node["op"]](self, node, *args)
            except (ValueError, IndexError, RuntimeError, TypeError) as e:
                raise RuntimeError(f"{self.path}: node {name} ({node['op']}) failed: {e}") from e
            env[name] = list(res) if isinstance(res, tuple) else [res]
        return [env[o.split(":")[0]][int(o.split(":")[1]) if ":" in o else 0] for o in self.outputs]

    # --- convolutions (PyTorch on channels-last views) ---------------------------------------

    def _filter(self, node: dict, w: np.ndarray, depthwise: bool):
        key = node["name"]
        f = self._filters.get(key)
        if f is None:
            t = self._torch.from_numpy(np.ascontiguousarray(w, np.float32))
            if depthwise:  # (H, W, C, M) -> (C*M, 1, H, W); TF's output channel c*M + m is PyTorch's
                h, wd, c, m = t.shape
                f = t.reshape(h, wd, c * m).permute(2, 0, 1).unsqueeze(1).contiguous()
            else:  # HWIO -> OIHW
                f = t.permute(3, 2, 0, 1).contiguous()
            self._filters[key] = f
        return f

    def conv(self, node: dict, x: np.ndarray, w: np.ndarray, depthwise: bool) -> np.ndarray:
        torch = self._torch
        if _attr(node, "data_format", "NHWC") != "NHWC":
            raise ValueError("only NHWC convolutions are supported")
        f = self._filter(node, w, depthwise)
        s = _attr(node, "strides", [1, 1, 1, 1])[1:3]
        d = (_attr(node, "dilations", [1, 1, 1, 1]) or [1, 1, 1, 1])[1:3]
        t = torch.from_numpy(np.ascontiguousarray(x, np.float32)).permute(0, 3, 1, 2)
        pad = _attr(node, "padding", "VALID")
        kh, kw = f.shape[2], f.shape[3]
        if pad == "SAME":
            ph = _same_pads(t.shape[2], kh, s[0], d[0])
            pw = _same_pads(t.shape[3], kw, s[1], d[1])
        elif pad == "EXPLICIT":
            e = _attr(node, "explicit_paddings")
            ph, pw = (e[2], e[3]), (e[4], e[5])
        else:
            ph = pw = (0, 0)
        padding: tuple[int, int] | int = 0
        if ph[0] == ph[1] and pw[0] == pw[1]:
            padding = (ph[0], pw[0])
        else:
            t = torch.nn.functional.pad(t, (pw[0], pw[1], ph[0], ph[1]))
        with torch.no_grad():
            y = torch.nn.functional.conv2d(t, f, None, tuple(s), padding, tuple(d), t.shape[1] if depthwise else 1)
        return y.permute(0, 2, 3, 1).numpy()


def _fused(m: GraphModel, node: dict, x, w, *args, depthwise: bool):
    y = m.conv(node, x, w, depthwise)
    ops = _attr(node, "fused_ops", [])
    rest = list(args)
    for op in ops:
        if op == "BiasAdd":
            y = y + rest.pop(0)
        elif op == "FusedBatchNorm":
            scale, offset, mean, var = rest[:4]
            rest = rest[4:]
            y = (y - mean) * (scale / np.sqrt(var + _attr(node, "epsilon", 1e-3))) + offset
        elif op == "Relu":
            y = np.maximum(y, 0)
        elif op == "Relu6":
            y = np.clip(y, 0, 6)
        elif op == "LeakyRelu":
            a = _attr(node, "leakyrelu_alpha", 0.2)
            y = np.where(y > 0, y, y * np.float32(a))
        elif op == "Prelu":
            alpha = rest.pop(0)
            y = np.where(y > 0, y, y * alpha)
        elif op == "Sigmoid":
            y = 1.0 / (1.0 + np.exp(-y))
        else:
            raise ValueError(f"unsupported fused op {op}")
    return y.astype(np.float32, copy=False)


def _strided_slice(m, node, x, begin, end, strides):
    x = np.asarray(x)
    bm, em = _attr(node, "begin_mask", 0), _attr(node, "end_mask", 0)
    elm, nam, sam = _attr(node, "ellipsis_mask", 0), _attr(node, "new_axis_mask", 0), _attr(node, "shrink_axis_mask", 0)
    idx: list = []
    shrink = []
    for i, (b, e, s) in enumerate(zip(np.asarray(begin).tolist(), np.asarray(end).tolist(), np.asarray(strides).tolist())):
        if elm >> i & 1:
            idx.append(Ellipsis)
        elif nam >> i & 1:
            idx.append(None)
        elif sam >> i & 1:
            idx.append(b)
            shrink.append(i)
        else:
            idx.append(slice(None if bm >> i & 1 else b, None if em >> i & 1 else e, s))
    return np.asarray(x[tuple(idx)])


def _select(m, node, c, a, b):
    c = np.asarray(c)
    a = np.asarray(a)
    if c.ndim == 1 and a.ndim > 1:  # TF1 Select: a vector condition picks whole rows
        c = c.reshape((-1,) + (1,) * (a.ndim - 1))
    return np.where(c, a, b)


def _resize_bilinear(m, node, x, size):
    torch = m._torch
    h, w = (int(v) for v in np.asarray(size))
    t = torch.from_numpy(np.ascontiguousarray(x, np.float32)).permute(0, 3, 1, 2)
    align = _attr(node, "align_corners", False)
    if not align and not _attr(node, "half_pixel_centers", False):
        raise ValueError("legacy (asymmetric) bilinear resizing is not supported")
    with torch.no_grad():
        y = torch.nn.functional.interpolate(t, size=(h, w), mode="bilinear", align_corners=bool(align))
    return y.permute(0, 2, 3, 1).numpy()


def _max_pool(m, node, x):
    torch = m._torch
    k = _attr(node, "ksize")[1:3]
    s = _attr(node, "strides")[1:3]
    t = torch.from_numpy(np.ascontiguousarray(x, np.float32)).permute(0, 3, 1, 2)
    if _attr(node, "padding") == "SAME":
        ph, pw = _same_pads(t.shape[2], k[0], s[0], 1), _same_pads(t.shape[3], k[1], s[1], 1)
        t = torch.nn.functional.pad(t, (pw[0], pw[1], ph[0], ph[1]), value=-math.inf)
    with torch.no_grad():
        y = torch.nn.functional.max_pool2d(t, tuple(k), tuple(s))
    return y.permute(0, 2, 3, 1).numpy()


def _gather_nd(m, node, params, indices):
    indices = np.asarray(indices)
    return np.asarray(params)[tuple(np.moveaxis(indices, -1, 0))]


def _top_k(m, node, x, k):
    x = np.asarray(x)
    k = int(k)
    order = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    return np.take_along_axis(x, order, -1), order.astype(np.int32)


def _reduce(fn):
    def op(m, node, x, axes):
        return fn(np.asarray(x), axis=tuple(np.atleast_1d(axes).tolist()), keepdims=bool(_attr(node, "keep_dims", False)))
    return op


def _floor_div(m, node, a, b):
    a, b = np.asarray(a), np.asarray(b)
    if np.issubdtype(a.dtype, np.integer):
        return np.floor_divide(a, b)
    return np.floor(a / b)


def _binary(fn):
    return lambda m, node, a, b: fn(np.asarray(a), np.asarray(b))


def _unary(fn):
    return lambda m, node, a: fn(np.asarray(a))


_OPS = {
    "Identity": lambda m, node, x: x,
    "Cast": lambda m, node, x: np.asarray(x).astype(_DTYPES[_attr(node, "DstT")]),
    "Sub": _binary(np.subtract), "Mul": _binary(np.multiply), "AddV2": _binary(np.add), "Add": _binary(np.add),
    "RealDiv": _binary(np.divide), "FloorDiv": _floor_div,
    "Maximum": _binary(np.maximum), "Minimum": _binary(np.minimum),
    "SquaredDifference": _binary(lambda a, b: np.square(a - b)),
    "Less": _binary(np.less), "Greater": _binary(np.greater), "GreaterEqual": _binary(np.greater_equal),
    "Equal": _binary(np.equal), "LogicalAnd": _binary(np.logical_and),
    "Abs": _unary(np.abs), "Exp": _unary(np.exp), "Reciprocal": _unary(lambda a: 1.0 / a),
    "Sigmoid": _unary(lambda a: (1.0 / (1.0 + np.exp(-a))).astype(a.dtype)),
    "Relu": _unary(lambda a: np.maximum(a, 0)), "Relu6": _unary(lambda a: np.clip(a, 0, 6)),
    "AddN": lambda m, node, *xs: sum(np.asarray(x) for x in xs),
    "Select": _select, "SelectV2": _select,
    "_FusedConv2D": lambda m, node, *a: _fused(m, node, *a, depthwise=False),
    "FusedDepthwiseConv2dNative": lambda m, node, *a: _fused(m, node, *a, depthwise=True),
    "Conv2D": lambda m, node, x, w: m.conv(node, x, w, False),
    "DepthwiseConv2dNative": lambda m, node, x, w: m.conv(node, x, w, True),
    "ResizeBilinear": _resize_bilinear, "MaxPool": _max_pool,
    "Shape": lambda m, node, x: np.array(np.shape(x), np.int32),
    "Size": lambda m, node, x: np.int32(np.size(x)),
    "StridedSlice": _strided_slice,
    "Pack": lambda m, node, *xs: np.stack([np.asarray(x) for x in xs], axis=_attr(node, "axis", 0)),
    "Unpack": lambda m, node, x: tuple(np.moveaxis(np.asarray(x), _attr(node, "axis", 0), 0)),
    "Squeeze": lambda m, node, x: np.squeeze(x, axis=tuple(_attr(node, "squeeze_dims", [])) or None),
    "ExpandDims": lambda m, node, x, ax: np.expand_dims(x, int(ax)),
    "Reshape": lambda m, node, x, shape: np.reshape(x, np.asarray(shape).tolist()),
    "Tile": lambda m, node, x, reps: np.tile(x, np.asarray(reps).tolist()),
    "Fill": lambda m, node, shape, v: np.full(np.asarray(shape).tolist(), v, np.asarray(v).dtype),
    "Range": lambda m, node, a, b, d: np.arange(a, b, d, dtype=_DTYPES[_attr(node, "Tidx", "DT_INT32")]),
    "ConcatV2": lambda m, node, *xs: np.concatenate([np.asarray(x) for x in xs[:-1]], axis=int(xs[-1])),
    "Split": lambda m, node, ax, x: tuple(np.split(np.asarray(x), _attr(node, "num_split"), axis=int(ax))),
    "TopKV2": _top_k, "GatherNd": _gather_nd,
    "Max": _reduce(np.max), "Sum": _reduce(np.sum),
    "ArgMax": lambda m, node, x, ax: np.argmax(x, axis=int(ax)).astype(_DTYPES[_attr(node, "output_type", "DT_INT64")]),
}
