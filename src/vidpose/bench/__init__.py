"""Benchmark suites behind ``vidpose bench SUITE``.

A suite is a module of this package with ``run(quick: bool) -> dict`` returning
``{"suite": NAME, "rows": [{"name": ..., metric: value, ...}], ...}``. Rows in
one result are measured in the same process run, so ratios between them are
meaningful. A new suite is one module plus one line in ``SUITES``.
"""

from __future__ import annotations

import importlib

SUITES: dict[str, str] = {
    "pipeline": "vidpose.bench.pipeline",
    "synth": "vidpose.bench.synth",
    "clnet": "vidpose.bench.clnet",
    "dgnet": "vidpose.bench.dgnet",
    "flowing": "vidpose.bench.flowing",
    "dkd": "vidpose.bench.dkd",
    "css": "vidpose.bench.css",
    "batch": "vidpose.bench.batch",
    "bodydet": "vidpose.bench.bodydet",
    "crowd": "vidpose.bench.crowd",
}


def run_suite(name: str, quick: bool = False) -> dict:
    from vidpose.errors import InputError

    if name not in SUITES:
        raise InputError(f"unknown bench suite {name!r}; known: {', '.join(SUITES)}")
    result = importlib.import_module(SUITES[name]).run(quick=quick)
    if result.get("suite") != name or not isinstance(result.get("rows"), list):
        raise RuntimeError(f"bench suite {name} returned a malformed result")
    return result


def format_table(result: dict) -> str:
    rows = result["rows"]
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return "" if v is None else str(v)
    cells = [keys] + [[fmt(r.get(k)) for k in keys] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(keys))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(keys))) for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    extra = {k: v for k, v in result.items() if k not in ("suite", "rows")}
    out = f"suite: {result['suite']}\n" + "\n".join(lines)
    for k, v in extra.items():
        out += f"\n{k}: {fmt(v)}"
    return out
