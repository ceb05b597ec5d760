"""The one exception type vidpose raises for bad input.

Every message names the input (file, key, argument) and the fault. The CLI
prints it as ``vidpose: error: ...`` and exits non-zero, without a traceback.
"""


class VidposeError(Exception):
    """Bad input or an unrecoverable condition, described for the user."""


class InputError(VidposeError, ValueError):
    """An input (video, annotation, config, checkpoint) is missing or malformed."""


class ModelStoreError(VidposeError):
    """A model or data file could not be obtained or failed verification."""
