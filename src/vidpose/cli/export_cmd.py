from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    pass


def main(args: argparse.Namespace) -> int:
    from vidpose.errors import VidposeError

    raise VidposeError("'vidpose export' is not implemented yet")
