"""A small runner for TensorFlow.js graph models (``model.json`` + ``.bin`` weights).

No TensorFlow is needed. The convolutional part of the graph is lowered, once per
input shape, to a TFLite flatbuffer (built with the schema that ships with LiteRT)
and run by LiteRT like the BlazePose models; the remaining nodes (a model's
decoding) are evaluated in order with numpy. Only the ops that the models vidpose
ships use are implemented (MoveNet MultiPose: 45 op types); any other op fails
with an error naming it, the node and the file. TF semantics kept where they differ
from numpy: integer ``FloorDiv``, ``Select`` with a vector condition,
``StridedSlice`` masks.
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
    """A node attribute decoded from TF.js JSON (ints arrive as strings, strings as base64);
    decoded once per node and kept in the node (``_decoded``)."""
    cache = node.setdefault("_decoded", {})
    if key not in cache:
        cache[key] = _decode_attr(node.get("attr", {}).get(key))
    v = cache[key]
    return default if v is None else v


def _decode_attr(a):
    if a is None:
        return None
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
    return None


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
                dtype = {"float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}.get(q["dtype"])
                if dtype is None:
                    raise ModelStoreError(f"{where}: weight {w['name']} uses unsupported quantisation {q['dtype']}")
            else:
                dtype = _MANIFEST_DTYPES.get(w["dtype"])
                if dtype is None:
                    raise ModelStoreError(f"{where}: weight {w['name']} has unsupported dtype {w['dtype']}")
            if pos + n * np.dtype(dtype).itemsize > len(data):
                raise ModelStoreError(f"{where}: the weights file ends inside weight {w['name']} (truncated?)")
            arr = np.frombuffer(data, dtype, n, pos).copy()
            pos += arr.nbytes
            if q:
                arr = arr.astype(np.float32)
                if q["dtype"] != "float16":
                    arr = arr * np.float32(q["scale"]) + np.float32(q["min"])
                arr = arr.astype(_MANIFEST_DTYPES[q.get("original_dtype", "float32")])
            out[w["name"]] = arr.reshape(shape)
    if pos != len(data):
        raise ModelStoreError(f"{where}: the manifest accounts for {pos} bytes of weights, the file has {len(data)}")
    return out


def _same_pads(size: int, k: int, s: int, d: int) -> tuple[int, int]:
    eff = (k - 1) * d + 1
    total = max((math.ceil(size / s) - 1) * s + eff - size, 0)
    return total // 2, total - total // 2


class GraphModel:
    """A TF.js graph model. ``model(x)`` -> the signature's outputs (numpy arrays).

    The dense part (convolutions, their additions and resizings, and the input's
    normalisation) is lowered to a TFLite flatbuffer per input shape and run with
    LiteRT (XNNPACK), as BlazePose's models are; the rest (a model's decoding:
    slicing, gathering, top-k ...) runs node by node in numpy.
    """

    def __init__(self, model_json: str | Path, weight_files: list[str | Path], threads: int = 1):
        self.path = Path(model_json)
        self.threads = threads
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
            if n["op"] not in _OPS and n["op"] not in _DENSE and n["op"] not in ("Const", "Placeholder"):
                raise ModelStoreError(f"{model_json}: node {n['name']} uses op {n['op']}, which vidpose's "
                                      "TF.js runner does not implement")
        self.order = self._order(self.outputs)
        self.dense = self._dense_nodes()
        skip = set(self.dense) | set(self.inputs)
        self._numpy_order = [n for n in self.order if n not in skip and self.nodes[n]["op"] != "Const"]
        for name in set(self.order) - set(self.dense):
            if self.nodes[name]["op"] in _CONV_OPS + ("ResizeBilinear",):
                raise ModelStoreError(f"{model_json}: node {name} ({self.nodes[name]['op']}) does not follow from "
                                      "the input through dense ops; vidpose's TF.js runner cannot lower it")
        self._lite: dict[tuple, tuple] = {}  # input shape -> (interpreter, input index, {node: output index})

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
                for i in self._inputs(name):
                    stack.append((i.split(":")[0], False))
        return order

    def _inputs(self, name: str) -> list[str]:
        return [i for i in self.nodes[name].get("input", []) if not i.startswith("^")]

    def _is_const(self, name: str) -> bool:
        return self.nodes[name.split(":")[0]]["op"] == "Const"

    def _dense_nodes(self) -> list[str]:
        """Nodes lowered to TFLite: dense ops whose data inputs are the model input or dense nodes
        (a resize's target size may come from anywhere: it is evaluated when lowering)."""
        dense: set[str] = set(self.inputs)
        out = []
        for name in self.order:
            node = self.nodes[name]
            if node["op"] not in _DENSE:
                continue
            data = self._inputs(name)[:1] if node["op"] in _CONV_OPS + ("ResizeBilinear",) else self._inputs(name)
            if all(i in dense or self._is_const(i) for i in data) and any(i in dense for i in data):
                dense.add(name)
                out.append(name)
        return out

    def _run(self, env: dict[str, list], names: list[str]) -> None:
        for name in names:
            if name in env:
                continue
            node = self.nodes[name]
            if node["op"] == "Const":
                env[name] = [self.values[name]]
                continue
            args = []
            for i in self._inputs(name):
                base, _, idx = i.partition(":")
                args.append(env[base][int(idx) if idx else 0])
            try:
                res = _OPS[node["op"]](self, node, *args)
            except (ValueError, IndexError, RuntimeError, TypeError, KeyError) as e:
                raise RuntimeError(f"{self.path}: node {name} ({node['op']}) failed: {e}") from e
            env[name] = list(res) if isinstance(res, tuple) else [res]

    def prepare(self, x: np.ndarray) -> tuple:
        """The TFLite part for ``x``'s shape and dtype, lowered on first use (a fraction of a second)."""
        key = (x.shape, x.dtype.str)
        if key not in self._lite:
            self._lite[key] = self._lower(x)
        return self._lite[key]

    def __call__(self, *inputs: np.ndarray) -> list[np.ndarray]:
        x = np.asarray(inputs[0])
        it, index, outs, fixed = self.prepare(x)
        it.set_tensor(index, x)
        it.invoke()
        env = dict(fixed)  # constants, and stand-ins for the dense tensors read only for their shape
        env.update({n: [it.get_tensor(i)] for n, i in outs.items()})
        env.update({n: [v] for n, v in zip(self.inputs, inputs)})
        self._run(env, self._numpy_order)
        return [env[o.split(":")[0]][int(o.split(":")[1]) if ":" in o else 0] for o in self.outputs]

    def _lower(self, x: np.ndarray):
        from ai_edge_litert.interpreter import Interpreter

        from vidpose.backends.blazepose import _quiet_stderr

        model, outs, shapes = lower_to_tflite(self, x)
        with _quiet_stderr():  # LiteRT announces its XNNPACK delegate on fd 2
            it = Interpreter(model_content=model, num_threads=self.threads)
            it.allocate_tensors()
        by_name = {d["name"]: d["index"] for d in it.get_output_details()}
        fixed = {n: [self.values[n]] for n in self.order if self.nodes[n]["op"] == "Const"}
        fixed.update({n: [np.broadcast_to(np.float32(0), shape)] for n, shape in shapes.items() if n not in outs})
        return it, it.get_input_details()[0]["index"], {n: by_name[n] for n in outs}, fixed


_CONV_OPS = ("_FusedConv2D", "FusedDepthwiseConv2dNative", "DepthwiseConv2dNative", "Conv2D")
_DENSE = _CONV_OPS + ("ResizeBilinear", "AddV2", "Add", "Sub", "Mul", "Cast")


def _conv_shape(shape, node: dict, kernel: tuple[int, int], out_channels: int) -> list[int]:
    s = _attr(node, "strides", [1, 1, 1, 1])[1:3]
    d = (_attr(node, "dilations", [1, 1, 1, 1]) or [1, 1, 1, 1])[1:3]
    pad = _attr(node, "padding", "VALID")
    if pad == "SAME":
        hw = [math.ceil(shape[1 + i] / s[i]) for i in range(2)]
    elif pad == "VALID":
        hw = [(shape[1 + i] - (kernel[i] - 1) * d[i] - 1) // s[i] + 1 for i in range(2)]
    else:
        raise ValueError(f"node {node['name']}: padding {pad} is not supported")
    return [shape[0], hw[0], hw[1], out_channels]


def lower_to_tflite(model: GraphModel, x: np.ndarray) -> tuple[bytes, list[str], dict[str, tuple]]:
    """The dense part of ``model`` for input ``x``'s shape as a TFLite flatbuffer.

    Returns (flatbuffer, names of the dense nodes the numpy part reads, {dense node: shape}).
    TF's NHWC layout is TFLite's, so filters are only reordered (HWIO -> OHWI, depthwise
    HWCM -> 1HW(C*M)); SAME padding and half-pixel resizing mean the same in both.
    """
    import flatbuffers
    from ai_edge_litert import schema_py_generated as tfl

    sub = tfl.SubGraphT()
    sub.tensors, sub.operators = [], []
    m = tfl.ModelT()
    m.version, m.description = 3, b"vidpose TF.js lowering"
    m.buffers = [tfl.BufferT()]  # buffer 0: empty, as the format wants
    m.operatorCodes = []
    codes: dict[int, int] = {}
    index: dict[str, int] = {}
    shapes: dict[str, tuple] = {}
    types = {np.dtype(np.float32): tfl.TensorType.FLOAT32, np.dtype(np.int32): tfl.TensorType.INT32}

    def tensor(name: str, shape, dtype, data: np.ndarray | None = None) -> int:
        t = tfl.TensorT()
        t.name, t.shape, t.type = name.encode(), np.array(shape, np.int32), types[np.dtype(dtype)]
        t.buffer = 0
        if data is not None:
            b = tfl.BufferT()
            b.data = np.frombuffer(np.ascontiguousarray(data, dtype).tobytes(), np.uint8)
            m.buffers.append(b)
            t.buffer = len(m.buffers) - 1
        sub.tensors.append(t)
        return len(sub.tensors) - 1

    def op(code: int, inputs: list[int], outputs: list[int], opt_type=0, opt=None) -> None:
        if code not in codes:
            oc = tfl.OperatorCodeT()
            oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = code, min(code, 127), 1
            m.operatorCodes.append(oc)
            codes[code] = len(m.operatorCodes) - 1
        o = tfl.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = codes[code], inputs, outputs
        o.builtinOptionsType, o.builtinOptions = opt_type, opt
        sub.operators.append(o)

    def operand(name: str) -> int:
        base = name.split(":")[0]
        if base in index:
            return index[base]
        v = np.asarray(model.values[base])
        v = v.astype(np.float32) if v.dtype.kind == "f" else v.astype(np.int32)
        index[base] = tensor(base, v.shape, v.dtype, v)
        return index[base]

    act = {None: tfl.ActivationFunctionType.NONE, "Relu": tfl.ActivationFunctionType.RELU,
           "Relu6": tfl.ActivationFunctionType.RELU6}
    (inp,) = model.inputs
    index[inp] = sub.inputs = tensor(inp, x.shape, x.dtype)
    sub.inputs = [index[inp]]
    shapes[inp] = x.shape
    dtypes: dict[str, np.dtype] = {inp: x.dtype}
    env: dict[str, list] = {}  # for evaluating resize sizes (shape arithmetic) in numpy
    for name in model.dense:
        node, ins = model.nodes[name], model._inputs(name)
        kind = node["op"]
        if kind in _CONV_OPS:
            w = np.asarray(model.values[ins[1].split(":")[0]], np.float32)
            fused = _attr(node, "fused_ops", []) if kind.startswith(("_Fused", "Fused")) else []
            if fused[:1] not in ([], ["BiasAdd"]) or len(fused) > 2 or (fused[1:] and fused[1] not in act):
                raise ValueError(f"{model.path}: node {name}: fused ops {fused} are not supported")
            depthwise = "Depthwise" in kind
            bias = (np.asarray(model.values[ins[2].split(":")[0]], np.float32) if fused[:1] == ["BiasAdd"]
                    else np.zeros(w.shape[2] * w.shape[3] if depthwise else w.shape[3], np.float32))
            s = _attr(node, "strides", [1, 1, 1, 1])[1:3]
            d = (_attr(node, "dilations", [1, 1, 1, 1]) or [1, 1, 1, 1])[1:3]
            pad = tfl.Padding.SAME if _attr(node, "padding") == "SAME" else tfl.Padding.VALID
            shape = _conv_shape(shapes[ins[0].split(":")[0]], node, w.shape[:2], bias.shape[0])
            if depthwise:
                filt = w.reshape(1, w.shape[0], w.shape[1], -1)
                opt = tfl.DepthwiseConv2DOptionsT()
                opt.depthMultiplier = w.shape[3]
                code, opt_type = tfl.BuiltinOperator.DEPTHWISE_CONV_2D, tfl.BuiltinOptions.DepthwiseConv2DOptions
            else:
                filt = w.transpose(3, 0, 1, 2)
                opt = tfl.Conv2DOptionsT()
                code, opt_type = tfl.BuiltinOperator.CONV_2D, tfl.BuiltinOptions.Conv2DOptions
            opt.padding, opt.strideH, opt.strideW = pad, s[0], s[1]
            opt.dilationHFactor, opt.dilationWFactor = d[0], d[1]
            opt.fusedActivationFunction = act[fused[1] if len(fused) > 1 else None]
            f_i = tensor(name + "/filter", filt.shape, np.float32, filt)
            b_i = tensor(name + "/bias", bias.shape, np.float32, bias)
            out = tensor(name, shape, np.float32)
            op(code, [index[ins[0].split(":")[0]], f_i, b_i], [out], opt_type, opt)
            dtypes[name] = np.dtype(np.float32)
        elif kind == "ResizeBilinear":
            src = shapes[ins[0].split(":")[0]]
            for n, sh in shapes.items():
                env.setdefault(n, [np.broadcast_to(np.float32(0), sh)])
            model._run(env, model._order([ins[1]]))
            size = np.asarray(env[ins[1].split(":")[0]][0], np.int32).reshape(2)
            opt = tfl.ResizeBilinearOptionsT()
            opt.alignCorners = bool(_attr(node, "align_corners", False))
            opt.halfPixelCenters = bool(_attr(node, "half_pixel_centers", False))
            shape = [src[0], int(size[0]), int(size[1]), src[3]]
            out = tensor(name, shape, np.float32)
            s_i = tensor(name + "/size", (2,), np.int32, size)
            op(tfl.BuiltinOperator.RESIZE_BILINEAR, [index[ins[0].split(":")[0]], s_i], [out],
               tfl.BuiltinOptions.ResizeBilinearOptions, opt)
            dtypes[name] = np.dtype(np.float32)
        elif kind == "Cast":
            dst = np.dtype(_DTYPES[_attr(node, "DstT")])
            shape = shapes[ins[0].split(":")[0]]
            out = tensor(name, shape, dst)
            opt = tfl.CastOptionsT()
            opt.inDataType, opt.outDataType = types[dtypes[ins[0].split(":")[0]]], types[dst]
            op(tfl.BuiltinOperator.CAST, [index[ins[0].split(":")[0]]], [out], tfl.BuiltinOptions.CastOptions, opt)
            dtypes[name] = dst
        else:  # AddV2 / Add / Sub / Mul: broadcasting binary ops
            a, b = (operand(i) for i in ins)
            sa = shapes.get(ins[0].split(":")[0], np.shape(model.values.get(ins[0].split(":")[0])))
            sb = shapes.get(ins[1].split(":")[0], np.shape(model.values.get(ins[1].split(":")[0])))
            shape = np.broadcast_shapes(tuple(sa), tuple(sb))
            out = tensor(name, shape, np.float32)
            code, opt_type, opt = {
                "Sub": (tfl.BuiltinOperator.SUB, tfl.BuiltinOptions.SubOptions, tfl.SubOptionsT()),
                "Mul": (tfl.BuiltinOperator.MUL, tfl.BuiltinOptions.MulOptions, tfl.MulOptionsT()),
            }.get(kind, (tfl.BuiltinOperator.ADD, tfl.BuiltinOptions.AddOptions, tfl.AddOptionsT()))
            op(code, [a, b], [out], opt_type, opt)
            dtypes[name] = np.dtype(np.float32)
        index[name] = out
        shapes[name] = tuple(int(v) for v in shape)
    dense = set(model.dense)
    read = [n for n in model.dense if any(
        n in {i.split(":")[0] for i in model._inputs(c)} and model.nodes[c]["op"] != "Shape"
        for c in model.order if c not in dense)]
    read += [o.split(":")[0] for o in model.outputs if o.split(":")[0] in dense and o.split(":")[0] not in read]
    sub.outputs = [index[n] for n in read]
    m.subgraphs = [sub]
    b = flatbuffers.Builder(1 << 20)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output()), read, {n: shapes[n] for n in model.dense}


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


def _max_pool(m, node, x):
    """NHWC max pooling, SAME (padding never wins) or VALID."""
    kh, kw = _attr(node, "ksize")[1:3]
    sh, sw = _attr(node, "strides")[1:3]
    x = np.asarray(x)
    h, w = x.shape[1:3]
    if _attr(node, "padding") == "SAME":
        ph, pw = _same_pads(h, kh, sh, 1), _same_pads(w, kw, sw, 1)
        x = np.pad(x, ((0, 0), ph, pw, (0, 0)), constant_values=-np.inf)
    oh, ow = (x.shape[1] - kh) // sh + 1, (x.shape[2] - kw) // sw + 1
    out = np.full((x.shape[0], oh, ow, x.shape[3]), -np.inf, x.dtype)
    for i in range(kh):
        for j in range(kw):
            np.maximum(out, x[:, i:i + (oh - 1) * sh + 1:sh, j:j + (ow - 1) * sw + 1:sw], out=out)
    return out


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
    "MaxPool": _max_pool,
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
    "ArgMax": lambda m, node, x, ax: np.ascontiguousarray(np.moveaxis(np.asarray(x), int(ax), -1)).argmax(-1).astype(
        _DTYPES[_attr(node, "output_type", "DT_INT64")]),  # along a contiguous axis: 10x faster than axis=0
}
