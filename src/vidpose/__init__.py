"""vidpose: human pose estimation in video, 2D and 3D, on an ordinary CPU."""

from vidpose.version import __version__
from vidpose.errors import InputError, ModelStoreError, VidposeError


def estimate(source, **options):
    """Run the pipeline on ``source`` and return the content of ``poses.json`` as a dict.

    Plus ``decode_error``: None, or where and why decoding stopped early.
    Options are the ``vidpose run`` flags (``skeleton``, ``max_people``, ``model`` ...).
    """
    from vidpose.api import estimate as _estimate

    return _estimate(source, **options)


def stream(source, **options):
    """Yield per-frame results (``dict`` like one entry of ``poses.json["frames"]``).

    The returned :class:`vidpose.api.PoseStream` has ``decode_error`` (None, or
    where decoding stopped early) once the last frame has come.
    """
    from vidpose.api import stream as _stream

    return _stream(source, **options)


__all__ = ["__version__", "estimate", "stream", "VidposeError", "InputError", "ModelStoreError"]
