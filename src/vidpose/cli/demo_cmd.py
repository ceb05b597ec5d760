"""``vidpose demo --out DIR``: the full pipeline on the sample clip from the model store."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    from vidpose.cli.run_cmd import add_run_flags

    p.add_argument("--out", default="demo_out", help="output folder (default: demo_out)")
    add_run_flags(p)


def main(args: argparse.Namespace) -> int:
    from vidpose import store
    from vidpose.cli.run_cmd import config_from_args, report_summary, third_party_noise_filtered
    from vidpose.pipeline import run

    # The same warning policy as `vidpose run`: vidpose's own warnings are shown (one line
    # each, by vidpose.cli.main); only known third-party noise is filtered.
    clip = store.path("sample-sports2d", quiet=args.quiet)
    with third_party_noise_filtered():
        report = run(clip, args.out, config_from_args(args))
    report_summary(report, args.out)
    return 0
