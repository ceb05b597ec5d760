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


class OutputError(VidposeError, OSError):
    """An output file could not be written (disk full, file too large, permissions).

    The message names the file and the operating system's reason; it is still an
    :class:`OSError`, so code that handles those keeps working.
    """


def output_error(path, e: OSError) -> OutputError:
    """An :class:`OutputError` naming ``path`` for an ``OSError`` raised while writing it (one that
    already is an :class:`OutputError`, naming its file, is passed on as it is)."""
    if isinstance(e, OutputError):
        return e
    return OutputError(f"{path}: cannot write ({e.strerror or e})")


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived while a command ran (raised by the CLI's signal handlers).

    A subclass of :class:`KeyboardInterrupt`, so it unwinds through every
    ``finally`` and ``except BaseException`` (which delete partial outputs) and is
    not swallowed by ``except Exception``. Code that must save state when stopped
    (the trainer's resumable checkpoint) catches ``KeyboardInterrupt``, saves and
    re-raises. ``exit_code`` is the shell's convention: 128 + the signal number
    (130 for SIGINT, 143 for SIGTERM).
    """

    def __init__(self, signum: int):
        import signal

        self.signum = int(signum)
        super().__init__(f"interrupted by {signal.Signals(self.signum).name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum
