"""ONNX export of the raw network outputs (heatmaps, or heatmaps + offsets).

The graph takes ``images`` (B, 3, H, W), normalised with IMAGENET_MEAN/STD, with
a dynamic batch axis, and returns the codec's raw outputs by name
(``heatmaps`` (B, K, h, w); CLNet adds ``offsets`` (B, 2K, h, w)). The method's
name and config are stored in the model's metadata (``vidpose_method``,
``vidpose_config``), so :func:`vidpose.methods.load` rebuilds the same codec and
decodes the outputs exactly as for the PyTorch model.

The exporter is TorchScript-based (``torch.onnx.export(..., dynamo=False)``):
the dynamo exporter needs the onnxscript package, which vidpose does not depend on.
"""

from __future__ import annotations

import io
import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from vidpose.errors import InputError
from vidpose.io.atomic import atomic_write_bytes
from vidpose.settings import to_dict

DEFAULT_OPSET = 17


class _RawOutputs(nn.Module):
    """Wraps a PoseModel so the traced graph returns a tuple of the decodable outputs only."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.keys = tuple(model.output_keys)

    def forward(self, images: Tensor) -> tuple[Tensor, ...]:
        out = self.model(images)
        return tuple(out[k] for k in self.keys)


def export_onnx(model: nn.Module, path: str | os.PathLike, opset: int = DEFAULT_OPSET) -> Path:
    """Export ``model`` (a PoseModel) to ONNX at ``path`` atomically; return the path."""
    import onnx

    from vidpose.models.model import PoseModel

    if not isinstance(model, PoseModel):
        raise InputError(f"vidpose export: method {getattr(model, 'method', type(model).__name__)!r} is not a "
                         "top-down 2D model; export covers simplebaseline, hourglass, clnet and clnet-hourglass")
    if not isinstance(opset, int) or not (11 <= opset <= 21):
        raise InputError(f"--opset: must be an integer in 11..21, got {opset!r}")
    cfg = model.cfg
    wrapper = _RawOutputs(model).eval()
    was_training = model.training
    model.eval()
    x = torch.zeros(1, 3, *cfg.input_size)
    names = list(wrapper.keys)
    buf = io.BytesIO()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # the TorchScript exporter is deprecated upstream but is the one that
            # works without onnxscript; its deprecation notice is not for our users
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                wrapper, (x,), buf, dynamo=False, opset_version=opset,
                input_names=["images"], output_names=names,
                dynamic_axes={"images": {0: "batch"}, **{n: {0: "batch"} for n in names}},
            )
    finally:
        model.train(was_training)
    proto = onnx.load_from_string(buf.getvalue())
    meta = {
        "vidpose_method": model.method,
        "vidpose_config": json.dumps(to_dict(cfg), sort_keys=True),
        "vidpose_outputs": ",".join(names),
        "vidpose_heatmap_stride": str(cfg.heatmap_stride),
        "vidpose_input": "images (B,3,H,W) RGB in [0,1] normalised with ImageNet mean/std",
    }
    for k, v in meta.items():
        p = proto.metadata_props.add()
        p.key, p.value = k, v
    onnx.checker.check_model(proto)
    path = Path(path)
    atomic_write_bytes(path, proto.SerializeToString())
    return path


def compare_onnx(model: nn.Module, path: str | os.PathLike, batch_size: int = 2, seed: int = 0,
                 images: Tensor | None = None) -> dict[str, float]:
    """Run ``path`` with onnxruntime and ``model`` with torch on the same batch (``images``, or a random one).

    Returns, per output name, the max absolute difference divided by the
    output's scale (its range, max - min, in the PyTorch result): an absolute
    tolerance would pass an all-zero output of a model whose heatmaps peak at
    1e-6. An output with zero range counts any difference as infinite.
    """
    import onnxruntime as ort

    g = torch.Generator().manual_seed(seed)
    x = images if images is not None else torch.randn(batch_size, 3, *model.cfg.input_size, generator=g)
    model.eval()
    with torch.no_grad():
        ref = model(x)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    got = sess.run(names, {"images": x.numpy()})
    out = {}
    for n, g_ in zip(names, got):
        r = ref[n].numpy()
        diff = float(np.abs(r - g_).max())
        scale = float(r.max() - r.min())
        out[n] = diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))
    return out
