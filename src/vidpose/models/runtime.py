"""Run a trained 2D model behind one small interface, from PyTorch or from its ONNX export.

Both runners have what the top-down backend and the benches use: ``cfg``
(``input_size`` (H, W), ``num_keypoints``), ``codec`` (``decode(outputs) -> (B, K, 3)``
in input pixels), ``output_keys``, ``method``, ``extra``,
``raw_outputs(images) -> {key: numpy array}`` and ``predict(images) -> (B, K, 3)``.
Images are ``(B, 3, H, W)`` float32, RGB in [0, 1] normalised with ImageNet
mean/std. ``predict`` returns a torch tensor for a torch input and a numpy array
for a numpy input.

* :func:`load_onnx` runs an ONNX file (e.g. written by ``vidpose export``) with
  onnxruntime, decoded with the codec the caller gives (:func:`vidpose.methods.load`
  builds it from the file's metadata); running it does not need torch.
* :class:`TorchRunner` wraps a loaded PyTorch model (eval mode, no gradients).

2D->3D lifters have runners of their own with ``receptive_field``, ``in_channels``,
``num_joints``, ``skeleton``, ``method``, ``extra`` and ``lift_valid(x, flip) -> (B, T - R + 1, J, 3)``
for screen-normalised 2D ``x`` (B, T, J, C) (numpy in, numpy out): :class:`OnnxLifter` runs an export
of :func:`vidpose.models.export.export_lifter_onnx` with onnxruntime (no torch: what ``vidpose run
--lift dgnet`` uses for the shipped lifter), :class:`TorchLifter` a loaded PyTorch lifter.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from vidpose.errors import InputError


def _check_images(images: np.ndarray, input_size: tuple[int, int] | None, where: str) -> np.ndarray:
    x = np.ascontiguousarray(images, dtype=np.float32)
    if x.ndim != 4 or x.shape[1] != 3:
        raise InputError(f"{where}: images must be (B, 3, H, W), got {x.shape}")
    if input_size is not None and tuple(x.shape[2:]) != tuple(input_size):
        raise InputError(f"{where}: images are {tuple(x.shape[2:])}, the model takes {tuple(input_size)} (H, W)")
    return x


class OnnxPoseModel:
    """An ONNX pose model run with onnxruntime (CPU), decoded with ``codec``."""

    def __init__(self, path: str | os.PathLike, session, codec, cfg, extra: dict[str, Any] | None = None):
        self.path = Path(path)
        self.session, self.codec, self.cfg = session, codec, cfg
        names = [o.name for o in session.get_outputs()]
        keys = tuple(getattr(codec, "output_keys", names))
        missing = [k for k in keys if k not in names]
        if missing:
            raise InputError(
                f"{self.path}: the ONNX model has outputs {', '.join(names)}; its decoder needs {', '.join(missing)}"
            )
        self.output_keys = keys
        self.input_name = session.get_inputs()[0].name
        self.method = getattr(type(cfg), "method", "onnx")
        self.extra = dict(extra or {})

    def raw_outputs(self, images) -> dict[str, np.ndarray]:
        x = _check_images(images, getattr(self.cfg, "input_size", None), str(self.path))
        out = self.session.run(list(self.output_keys), {self.input_name: x})
        return dict(zip(self.output_keys, out))

    __call__ = raw_outputs

    def predict(self, images):
        if isinstance(images, np.ndarray):
            return self.codec.decode(self.raw_outputs(images))
        import torch

        kp = self.codec.decode(self.raw_outputs(images.detach().cpu().numpy()))
        return torch.from_numpy(np.asarray(kp))


def load_onnx(path: str | os.PathLike, codec, cfg, threads: int | None = None) -> OnnxPoseModel:
    """Load an ONNX pose model to run with onnxruntime (CPU), decoded with ``codec``.

    ``cfg`` is the model's method config (``input_size`` (H, W), ``num_keypoints``);
    :func:`vidpose.methods.load` passes the ones a ``vidpose export`` file's metadata
    describes. Bad files raise InputError naming ``path``.
    """
    path = Path(path)
    session = _session(path, threads, "ONNX model")
    meta = dict(session.get_modelmeta().custom_metadata_map)
    size = getattr(cfg, "input_size", None)
    declared = session.get_inputs()[0].shape  # (B, 3, H, W); symbolic dimensions are names, not ints
    if size is not None and len(declared) == 4:
        fixed = [(d, want) for d, want in zip(declared[2:], size) if isinstance(d, int)]
        if any(d != want for d, want in fixed):
            raise InputError(f"{path}: the graph's input is {tuple(declared)}, but its metadata says input_size "
                             f"{tuple(size)} (H, W); the file was altered or not made by `vidpose export`")
    return OnnxPoseModel(path, session, codec, cfg, extra={"onnx_metadata": meta})


class TorchRunner:
    """A loaded PyTorch pose model behind the runner interface (eval mode, no gradients).

    With ``threads``, PyTorch's intra-op thread count is set to it for each call and
    restored after (a global setting of the process). A model with its own ``raw_outputs``
    (DKD) is called through it, and a stateful one's ``raw_outputs_tracked`` too, under the
    same thread setting.
    """

    def __init__(self, model, threads: int | None = None):
        self.model = model.eval()
        self.threads = threads
        self.cfg, self.codec = model.cfg, model.codec
        self.output_keys = tuple(model.output_keys)
        self.method = getattr(model, "method", getattr(model.cfg, "arch", "torch"))
        self.extra = dict(getattr(model, "extra", {}) or {})
        self.stateful = bool(getattr(model, "stateful", False))

    def _call(self, fn, *args):
        import torch

        before = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            with torch.no_grad():
                return fn(*args)
        finally:
            if self.threads:
                torch.set_num_threads(before)

    def raw_outputs(self, images) -> dict[str, np.ndarray]:
        import torch

        if hasattr(self.model, "raw_outputs"):
            return self._call(self.model.raw_outputs, images)
        x = torch.from_numpy(_check_images(images, None, f"{self.method} model"))
        out = self._call(self.model, x)
        return {k: out[k].detach().float().numpy() for k in self.output_keys}

    __call__ = raw_outputs

    def raw_outputs_tracked(self, images, states: list, affines=None):
        return self._call(self.model.raw_outputs_tracked, images, states, affines)

    def predict(self, images):
        return self.model.predict(images)


def as_runner(model, threads: int | None = None):
    """``model`` itself when it is a runner already (an ONNX model: ``raw_outputs`` and no PyTorch
    parameters), else a :class:`TorchRunner` (also for a PyTorch model with its own ``raw_outputs``)."""
    is_runner = hasattr(model, "raw_outputs") and not hasattr(model, "parameters")
    return model if is_runner else TorchRunner(model, threads)


def _session(path: Path, threads: int | None, what: str):
    try:
        import onnxruntime as ort
    except ImportError:
        raise InputError(f"{path}: running an ONNX model needs the onnxruntime package, a dependency of "
                         "vidpose that is missing here (pip install 'onnxruntime>=1.17')") from None
    if not path.is_file():
        raise InputError(f"{path}: {what} not found" if not path.exists() else f"{path}: {what} is not a file")
    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # errors only
    if threads:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types for unreadable models
        raise InputError(f"{path}: not a readable ONNX model: {str(e).splitlines()[0][:300]}") from None


def _check_lifter_input(x, receptive_field: int, num_joints: int, in_channels: int, where: str) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 4 or x.shape[2] != num_joints or x.shape[3] != in_channels:
        raise InputError(f"{where}: expected (B, T, {num_joints}, {in_channels}) screen-normalised 2D joints, "
                         f"got {x.shape}")
    if x.shape[1] < receptive_field:
        raise InputError(f"{where}: {x.shape[1]} frames, the lifter needs at least its receptive field "
                         f"({receptive_field})")
    if not np.isfinite(x).all():
        raise InputError(f"{where}: the 2D input has non-finite values")
    return x


class OnnxLifter:
    """A 2D->3D lifter exported by :func:`vidpose.models.export.export_lifter_onnx`, run with
    onnxruntime (CPU, ``threads`` intra-op threads; the network is small, one is plenty)."""

    def __init__(self, path: str | os.PathLike, threads: int | None = 1) -> None:
        from vidpose.io.jsonfile import parse_json

        self.path = Path(path)
        self.session = _session(self.path, threads, "ONNX lifter")
        meta = dict(self.session.get_modelmeta().custom_metadata_map)
        names = [o.name for o in self.session.get_outputs()]
        if meta.get("vidpose_lifter") != "1" or "vidpose_config" not in meta or names != ["lifted", "lifted_mirrored"]:
            raise InputError(f"{self.path}: not a vidpose lifter export (no vidpose_lifter metadata or outputs "
                             f"{names}, not lifted, lifted_mirrored); export a lifter checkpoint with 'vidpose export'")
        cfg = parse_json(meta["vidpose_config"], f"{self.path}: metadata 'vidpose_config'")
        try:
            self.receptive_field = int(cfg["receptive_field"])
            self.in_channels = int(cfg["in_channels"])
            self.num_joints = int(cfg["num_joints"])
            self.skeleton = str(cfg["skeleton"])
        except (KeyError, TypeError, ValueError) as e:
            raise InputError(f"{self.path}: metadata 'vidpose_config' lacks a lifter field ({e})") from None
        self.method = meta.get("vidpose_method", "onnx")
        self.extra = {"onnx_metadata": meta}
        self.input_name = self.session.get_inputs()[0].name

    def lift_valid(self, x, flip: bool = False) -> np.ndarray:
        x = _check_lifter_input(x, self.receptive_field, self.num_joints, self.in_channels, str(self.path))
        plain, mirrored = self.session.run(["lifted", "lifted_mirrored"], {self.input_name: x})
        return (plain + mirrored) / 2 if flip else plain


class TorchLifter:
    """A loaded PyTorch lifter (``vidpose.methods.dgnet.load_lifter``) behind the lifter runner interface."""

    def __init__(self, model) -> None:
        self.model = model.eval()
        cfg = model.cfg
        self.receptive_field, self.in_channels = int(cfg.receptive_field), int(cfg.in_channels)
        self.num_joints, self.skeleton = int(cfg.num_joints), str(getattr(cfg, "skeleton", "h36m17"))
        self.method = getattr(model, "method", "torch")
        self.extra = dict(getattr(model, "extra", {}) or {})

    def lift_valid(self, x, flip: bool = False) -> np.ndarray:
        import torch

        m = self.model
        x = _check_lifter_input(x, self.receptive_field, self.num_joints, self.in_channels, f"{self.method} lifter")
        with torch.no_grad():
            return m.predict_valid(m.normalize(m.check_input(torch.from_numpy(x))), flip).float().numpy()


__all__ = ["OnnxPoseModel", "TorchRunner", "as_runner", "load_onnx", "OnnxLifter", "TorchLifter"]
