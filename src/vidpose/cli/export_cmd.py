"""``vidpose export CHECKPOINT --onnx FILE``: export a trained model's raw outputs to ONNX (a 2D model's
heatmaps/offsets, or a 2D->3D lifter's 3D: :func:`vidpose.models.export.export_lifter_onnx`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="a vidpose checkpoint (.safetensors) written by 'vidpose train', or a shipped model name")
    p.add_argument("--onnx", required=True, metavar="FILE", help="where to write the ONNX model")
    p.add_argument("--opset", type=int, default=17, metavar="N", help="ONNX opset version (default 17)")
    p.add_argument(
        "--check", action="store_true",
        help="run the exported file with onnxruntime and compare it to PyTorch on a random batch",
    )


def main(args: argparse.Namespace) -> int:
    from vidpose.methods import load
    from vidpose.models.export import compare_onnx, export_onnx

    from vidpose.errors import InputError

    if Path(args.onnx).is_dir():  # checked before the export, not when moving the finished file in
        raise InputError(f"--onnx {args.onnx}: is a folder, expected the .onnx file to write")
    model = load(args.checkpoint)
    if hasattr(model, "predict_views"):  # a 2D->3D lifter (dgnet, gcn-fixed, tcn)
        return _export_lifter(model, args)
    path = export_onnx(model, args.onnx, opset=args.opset)
    cfg = model.cfg
    h, w = cfg.heatmap_size
    print(f"wrote {path}: {model.method} input images (B, 3, {cfg.input_size[0]}, {cfg.input_size[1]})")
    for key, c in model.codec.output_channels.items():
        print(f"  output {key} (B, {c}, {h}, {w}), stride {cfg.heatmap_stride}")
    if args.check:
        diffs = compare_onnx(model, path)
        print("  onnxruntime vs PyTorch, max abs difference / output scale: "
              + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items()))
        _keep_or_remove(path, max(diffs.values()), CHECK_TOLERANCE, " of their scale")
    return 0


# Largest accepted onnxruntime-vs-PyTorch difference, relative to each output's scale.
CHECK_TOLERANCE = 1e-3
# ... and for a lifter's 3D, in metres.
LIFTER_CHECK_TOLERANCE = 1e-4  # 0.1 mm: float32 sums in another order differ by ~1e-5 m on some checkpoints


def _export_lifter(model, args: argparse.Namespace) -> int:
    from vidpose.methods import resolve
    from vidpose.models.export import compare_lifter_onnx, export_lifter_onnx

    path = export_lifter_onnx(model, args.onnx, opset=args.opset, source=resolve(args.checkpoint))
    cfg = model.cfg
    print(f"wrote {path}: {model.method} lifter, input keypoints_2d (B, T >= {cfg.receptive_field}, "
          f"{cfg.num_joints}, {cfg.in_channels}), outputs lifted and lifted_mirrored (B, T - {cfg.receptive_field - 1}, "
          f"{cfg.num_joints}, 3) metres")
    if args.check:
        diff = compare_lifter_onnx(model, path)
        print(f"  onnxruntime vs PyTorch, max abs difference: {diff:.2e} m")
        _keep_or_remove(path, diff, LIFTER_CHECK_TOLERANCE, " m")
    return 0


def _keep_or_remove(path, worst: float, tolerance: float, unit: str) -> None:
    """--check: a file whose outputs differ from PyTorch's by more than ``tolerance`` must not be left
    for use: remove it and say so."""
    from vidpose.errors import InputError

    if worst > tolerance:
        path.unlink(missing_ok=True)
        raise InputError(f"{path}: onnxruntime outputs differ from PyTorch by up to {worst:.3g}{unit} "
                         f"(tolerance {tolerance}); the file was removed")
