"""``vidpose eval``: score predictions against ground truth (see docs/metrics.md)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gt", required=True, help="ground truth: COCO keypoints JSON, synth annotations.json or .npz")
    p.add_argument("--pred", default=None,
                   help="predictions: COCO results JSON, poses.json or .npz (omit for one .npz with 'pred' and 'gt')")
    p.add_argument("--metric", required=True,
                   help="comma-separated metrics, e.g. oks_ap | pck@0.2,jitter,accel,mota,idf1,idsw | mpjpe,p_mpjpe")
    p.add_argument("--json", default=None, metavar="FILE", help="also write the scores to FILE as JSON")
    p.add_argument("--root-joint", default="auto", metavar="auto|none|N",
                   help="3D only: joint subtracted from every pose before scoring. auto (default): the "
                        "skeleton's root (pelvis), MPJPE protocol #1; none: score the poses as given; N: joint N")
    p.add_argument("--skeleton", default=None,
                   help="COCO files only: skeleton whose OKS sigmas to use (coco17, hie14, h36m17, blazepose33)")


def format_table(metrics: dict) -> str:
    """Two-column text table of metric name and value."""
    width = max([len("metric")] + [len(k) for k in metrics])
    lines = [f"{'metric':<{width}}  value", f"{'-' * width}  ----------"]
    for k, v in metrics.items():
        val = str(v) if isinstance(v, int) else f"{v:.4f}"
        lines.append(f"{k:<{width}}  {val}")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    import json
    import os

    from vidpose.errors import InputError
    from vidpose.io.atomic import atomic_write_text
    from vidpose.metrics.evaluate import evaluate

    metrics = [m.strip() for m in args.metric.split(",") if m.strip()]
    if not metrics:
        raise InputError("--metric: no metric named")
    if args.json and os.path.isdir(args.json):
        raise InputError(f"--json {args.json}: is a folder, expected the file to write the scores to")
    notes: list[str] = []
    scores = evaluate(args.gt, args.pred, metrics, root_joint=args.root_joint, skeleton=args.skeleton, notes=notes)
    for note in notes:
        print(note)
    print(format_table(scores))
    if args.json:
        doc = {"metrics": scores, "gt": str(args.gt), "pred": str(args.pred if args.pred else args.gt)}
        if notes:
            doc["notes"] = notes
        atomic_write_text(args.json, json.dumps(doc, indent=2) + "\n")
    return 0
