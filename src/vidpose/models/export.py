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
from vidpose.store import sha256_file

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


def _export(model: nn.Module, wrapper: nn.Module, x: Tensor, inputs: dict[str, dict], outputs: dict[str, dict],
            opset: int, meta: dict[str, str], path: str | os.PathLike) -> Path:
    """Trace ``wrapper`` (around ``model``, in eval mode for the trace) on ``x`` with the TorchScript
    exporter (``inputs``/``outputs``: name -> dynamic axes), store ``meta`` as the file's metadata,
    check the model and write it to ``path`` atomically."""
    import onnx

    if not isinstance(opset, int) or not (11 <= opset <= 21):
        raise InputError(f"--opset: must be an integer in 11..21, got {opset!r}")
    was_training = model.training
    model.eval()
    buf = io.BytesIO()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # the TorchScript exporter is deprecated upstream but is the one that works without
            # onnxscript; its deprecation notice and the tracer's notes are not for our users
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            torch.onnx.export(wrapper.eval(), (x,), buf, dynamo=False, opset_version=opset,
                              input_names=list(inputs), output_names=list(outputs),
                              dynamic_axes={**inputs, **outputs})
    finally:
        model.train(was_training)
    proto = onnx.load_from_string(buf.getvalue())
    for k, v in meta.items():
        p = proto.metadata_props.add()
        p.key, p.value = k, v
    onnx.checker.check_model(proto)
    path = Path(path)
    atomic_write_bytes(path, proto.SerializeToString())
    return path


def export_onnx(model: nn.Module, path: str | os.PathLike, opset: int = DEFAULT_OPSET) -> Path:
    """Export ``model`` (a PoseModel) to ONNX at ``path`` atomically; return the path."""
    from vidpose.models.model import PoseModel

    if not isinstance(model, PoseModel):
        raise InputError(f"vidpose export: method {getattr(model, 'method', type(model).__name__)!r} is not a "
                         "top-down 2D model; export covers simplebaseline, hourglass, clnet and clnet-hourglass")
    cfg = model.cfg
    wrapper = _RawOutputs(model)
    names = list(wrapper.keys)
    meta = {
        "vidpose_method": model.method,
        "vidpose_config": json.dumps(to_dict(cfg), sort_keys=True),
        "vidpose_outputs": ",".join(names),
        "vidpose_heatmap_stride": str(cfg.heatmap_stride),
        "vidpose_input": "images (B,3,H,W) RGB in [0,1] normalised with ImageNet mean/std",
    }
    return _export(model, wrapper, torch.zeros(1, 3, *cfg.input_size), {"images": {0: "batch"}},
                   {n: {0: "batch"} for n in names}, opset, meta, path)


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


# --- 2D -> 3D lifters ------------------------------------------------------------------------------

LIFTER_OUTPUTS = ("lifted", "lifted_mirrored")


class _LifterViews(nn.Module):
    """Wraps a SequenceLifter: screen-normalised 2D (B, T, J, C) -> the plain and the mirrored-back
    3D (B, T - R + 1, J, 3) (:meth:`SequenceLifter.predict_views`, after the model's own input
    normalisation), so that flip augmentation is a mean of the two outputs."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.model.predict_views(self.model.normalize(x))


def export_lifter_onnx(model: nn.Module, path: str | os.PathLike, opset: int = DEFAULT_OPSET,
                       source: str | os.PathLike | None = None) -> Path:
    """Export a 2D->3D lifter (a ``SequenceLifter``: DG-Net, gcn-fixed, tcn) to ONNX at ``path``,
    atomically; return the path. The graph takes ``keypoints_2d`` (B, T, J, C), screen-normalised
    (``vidpose.geometry.normalize_screen``) with the confidence channel when the model has one, B and T
    dynamic (T >= the receptive field R), and returns ``lifted`` and ``lifted_mirrored`` (B, T - R + 1,
    J, 3): the 3D of the centre frames and that of the mirrored input mirrored back (their mean is the
    test-time flip augmentation). Metadata: ``vidpose_method``, ``vidpose_config``,
    ``vidpose_lifter`` = ``"1"``, and with ``source`` (the checkpoint it came from) its name and sha256."""
    if not hasattr(model, "predict_views"):
        raise InputError(f"export_lifter_onnx: {getattr(model, 'method', type(model).__name__)!r} is not a "
                         "2D->3D lifter")
    cfg = model.cfg
    model = model.float()
    x = torch.zeros(1, cfg.receptive_field + 8, cfg.num_joints, cfg.in_channels)
    x[..., 2:] = 1.0
    meta = {
        "vidpose_method": model.method,
        "vidpose_config": json.dumps(to_dict(cfg), sort_keys=True),
        "vidpose_lifter": "1",
        "vidpose_outputs": ",".join(LIFTER_OUTPUTS),
        "vidpose_input": "keypoints_2d (B,T,J,C): x, y normalised to the image width "
                         "(vidpose.geometry.normalize_screen), then the confidence in [0, 1]",
    }
    if source is not None:
        meta["vidpose_source"] = Path(source).name
        meta["vidpose_source_sha256"] = sha256_file(source)
    return _export(model, _LifterViews(model), x, {"keypoints_2d": {0: "batch", 1: "frames"}},
                   {n: {0: "batch", 1: "centre_frames"} for n in LIFTER_OUTPUTS}, opset, meta, path)


def compare_lifter_onnx(model: nn.Module, path: str | os.PathLike, frames: tuple[int, ...] = (0, 1, 40),
                        seed: int = 0) -> float:
    """The largest difference (metres) between ``path`` run with onnxruntime and ``model``'s
    :meth:`predict_views` on random 2D of R + f frames for each f of ``frames`` (batch 2)."""
    import onnxruntime as ort

    g = torch.Generator().manual_seed(seed)
    cfg = model.cfg
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    model = model.float().eval()
    worst = 0.0
    for f in frames:
        x = torch.rand(2, cfg.receptive_field + f, cfg.num_joints, cfg.in_channels, generator=g) * 2 - 1
        if cfg.in_channels > 2:
            x[..., 2:] = x[..., 2:].abs()
        with torch.no_grad():
            ref = model.predict_views(model.normalize(x))
        got = sess.run(list(LIFTER_OUTPUTS), {"keypoints_2d": x.numpy()})
        worst = max(worst, *(float(np.abs(r.numpy() - o).max()) for r, o in zip(ref, got)))
    return worst
