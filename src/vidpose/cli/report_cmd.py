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
    from vidpose.report import write_report

    path = write_report(args.out_dir, dest=args.output)
    print(f"vidpose: wrote {path} ({path.stat().st_size / 1024:.0f} KB)", file=sys.stderr)
    return 0
