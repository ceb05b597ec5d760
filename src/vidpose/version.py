"""The installed vidpose version, in the lowest layer so every module can name it.

The package ``__init__`` re-exports it; modules inside the package import it
from here, never from the package root (which sits above everything).
"""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("vidpose")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"
