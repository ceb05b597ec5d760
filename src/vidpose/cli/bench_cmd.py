from __future__ import annotations

import argparse
import json


def add_arguments(p: argparse.ArgumentParser) -> None:
    from vidpose.bench import SUITES

    p.add_argument("suite", choices=sorted(SUITES), help="benchmark suite")
    p.add_argument("--quick", action="store_true",
                   help="the same rows on less data where that keeps the figures meaningful: a few minutes "
                        "on 2 cores (dgnet and synth score their whole test sets either way; docs/benchmarks.md)")
    p.add_argument("--json", metavar="FILE", help="also write the result as JSON")


def main(args: argparse.Namespace) -> int:
    from vidpose.bench import format_table, run_suite
    from vidpose.io.atomic import atomic_write_text

    result = run_suite(args.suite, quick=args.quick)
    print(format_table(result))
    if args.json:
        atomic_write_text(args.json, json.dumps(result, indent=2) + "\n")
    return 0
