from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="models_action", metavar="ACTION", required=True)
    sub.add_parser("list", help="list known model and data files and whether they are cached, and the shipped trained models")
    f = sub.add_parser("fetch", help="download and verify a file (or 'all')")
    f.add_argument("name")


def list_trained() -> None:
    """The trained 2D models shipped with vidpose (``vidpose run --model NAME``) and their data."""
    from vidpose.methods import describe_pretrained

    rows = describe_pretrained()
    print()
    print("trained 2D models shipped with vidpose (vidpose run VIDEO --model NAME; also a .safetensors or .onnx path):")
    for r in rows:
        state = "shipped" if r["method"] else "missing"
        print(f"{r['name']:20s} {state:7s} {(r['method'] or '-'):16s} trained on: {r['trained_on'] or 'unknown'}")
    notes = sorted({r["note"] for r in rows if r.get("note")})
    for n in notes:
        print(f"note: {n}")
    list_lifters()


def list_lifters() -> None:
    """The shipped 2D->3D lifter (``vidpose run VIDEO --lift dgnet --skeleton h36m17``) and its data."""
    from vidpose.methods.dgnet import shipped_path
    from vidpose.models.checkpoint import read_checkpoint

    print()
    print("2D->3D lifter shipped with vidpose (vidpose run VIDEO --lift dgnet --skeleton h36m17):")
    path = shipped_path()
    if not path.is_file():
        print(f"{'dgnet':20s} missing {path}")
        return
    ck = read_checkpoint(path, weights=False)
    print(f"{'dgnet':20s} shipped {ck.method:16s} trained on: {ck.extra.get('trained_on', 'unknown')}")


def main(args: argparse.Namespace) -> int:
    from vidpose import store

    if args.models_action == "list":
        print(f"cache: {store.home()}")
        for e in store.CATALOG.values():
            state = "cached" if store.is_cached(e.name) else "-"
            print(f"{e.name:20s} {state:7s} {e.registry}:{e.spec:32s} {e.licence:13s} {e.description}")
        list_trained()
        return 0
    names = list(store.CATALOG) if args.name == "all" else [args.name]
    if args.name not in store.CATALOG and args.name != "all":
        from vidpose.methods import PRETRAINED, weights_dir

        if args.name in PRETRAINED or args.name == "dgnet":
            print(f"{args.name}: ships with vidpose ({weights_dir()}); nothing to fetch")
            return 0
    for n in names:
        print(f"{n}: {store.fetch(n)}")
    return 0
