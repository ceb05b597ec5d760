"""``vidpose demo --out DIR``: the full pipeline on the sample clip from the model store."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    from vidpose.cli.run_cmd import add_run_flags

    p.add_argument("--out", default="demo_out", help="output folder (default: demo_out)")
    add_run_flags(p)


def main(args: argparse.Namespace) -> int:
    from vidpose import store
    from vidpose.cli.run_cmd import config_from_args, report_summary
    from vidpose.pipeline import run

    # Warnings are shown (one line each, by vidpose.cli.main): a slower codec or a
    # damaged download is worth knowing about in a demo too.
    clip = store.path("sample-sports2d", quiet=args.quiet)
    report = run(clip, args.out, config_from_args(args))
    report_summary(report, args.out)
    return 0
