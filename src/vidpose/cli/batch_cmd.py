"""``vidpose batch INPUTS... --out DIR``: ``vidpose run`` over many videos with Ray (the ``batch`` extra)."""

from __future__ import annotations

import argparse
import dataclasses
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    from vidpose.cli.run_cmd import add_run_flags

    p.add_argument("inputs", nargs="+", metavar="INPUT", help="video files, or folders (their video files)")
    p.add_argument("--out", required=True, help="output folder: one sub-folder per video, and batch.csv")
    p.add_argument("--address", default=None,
                   help="a running Ray cluster to use (e.g. HEAD:6379 or 'auto'); default: a local Ray on this machine")
    p.add_argument("--workers", type=int, default=None,
                   help="videos run at once (default: every core here, or every CPU of the cluster)")
    p.epilog = ("Every `vidpose run` option below applies to each video (--threads defaults to 1 here: "
                "one core per video). Finished videos (a valid run.json in their folder) are skipped.")
    add_run_flags(p)
    p.set_defaults(threads=1)


def main(args: argparse.Namespace) -> int:
    from vidpose.batch import run_batch
    from vidpose.pipeline import RunConfig

    options = {f.name: getattr(args, f.name) for f in dataclasses.fields(RunConfig)}
    rows = run_batch(args.inputs, args.out, options, address=args.address, workers=args.workers, quiet=args.quiet)
    counts = {s: sum(r["status"] == s for r in rows) for s in ("done", "skipped", "failed")}
    for r in rows:  # each failure with its reason, not only in batch.csv
        if r["status"] == "failed":
            print(f"vidpose: failed: {r['video']}: {r['error']}", file=sys.stderr)
    print(f"vidpose: {len(rows)} videos: {counts['done']} done, {counts['skipped']} skipped, "
          f"{counts['failed']} failed -> {args.out}/batch.csv", file=sys.stderr)
    return 1 if counts["failed"] else 0
