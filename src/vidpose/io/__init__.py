"""Reading and writing vidpose's inputs and outputs.

Video and image sources live in :mod:`vidpose.io.video` (imported on use, so
``import vidpose.io`` stays light); pose files in :mod:`vidpose.io.poses`.
"""

from __future__ import annotations


def load_poses(path):
    """Read a poses.json file; see :func:`vidpose.io.poses.load_poses`."""
    from vidpose.io.poses import load_poses as f

    return f(path)


__all__ = ["load_poses"]
