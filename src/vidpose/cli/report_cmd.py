"""``vidpose report OUT_DIR``: write report.html for an existing output folder of ``vidpose run``."""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("out_dir", metavar="OUT_DIR", help="output folder of vidpose run (with poses.json; run.json and "
                   "overlay.mp4 are used when present)")
    p.add_argument("--output", default=None, help="where to write the page (default: OUT_DIR/report.html; "
                   "elsewhere the overlay video link will not resolve)")


def main(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from vidpose.errors import InputError
    from vidpose.io.atomic import atomic_write_text
    from vidpose.report import write_report

    if args.output is not None and Path(args.output).is_dir():
        raise InputError(f"--output {args.output}: is a folder, expected the .html file to write")
    path = write_report(args.out_dir, dest=args.output)
    # The page joins the folder's outputs, so that a later `vidpose run` into the folder replaces or
    # removes it with the rest (it lists run.json's outputs) instead of leaving an old run's page.
    run_json = Path(args.out_dir) / "run.json"
    if path.parent.resolve() == Path(args.out_dir).resolve() and run_json.is_file():
        try:
            run = json.loads(run_json.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            run = None
        if isinstance(run, dict) and isinstance(run.get("outputs"), list) and path.name not in run["outputs"]:
            run["outputs"] = sorted([*run["outputs"], path.name])
            atomic_write_text(run_json, json.dumps(run, indent=2) + "\n")
    print(f"vidpose: wrote {path} ({path.stat().st_size / 1024:.0f} KB)", file=sys.stderr)
    return 0
