"""A minimal progress bar on stderr (no third-party dependency).

It draws only when the stream is a terminal and ``enabled`` is true, and
redraws at most ten times a second, so logs and pipes stay clean.
"""

from __future__ import annotations

import sys
import time
from typing import IO


class Progress:
    """``with Progress(total, "epoch 1/10") as bar: bar.update(1, loss=0.3)``."""

    def __init__(self, total: int | None, desc: str = "", enabled: bool = True, stream: IO[str] | None = None,
                 width: int = 24) -> None:
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(enabled and isatty is not None and isatty())
        self.total = max(int(total or 0), 0)
        self.desc = desc
        self.width = width
        self.n = 0
        self.postfix: dict[str, float] = {}
        self._start = time.monotonic()
        self._last_draw = 0.0

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def update(self, n: int = 1, **postfix: float) -> None:
        self.n += n
        self.postfix.update(postfix)
        now = time.monotonic()
        if self.enabled and (now - self._last_draw >= 0.1 or (self.total and self.n >= self.total)):
            self._last_draw = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        if not self.total:  # unknown length (a webcam, a stream): count and rate only
            elapsed = now - self._start
            rate = self.n / elapsed if elapsed > 0 else 0.0
            self.stream.write(f"\r{self.desc} {self.n} {rate:.2f}it/s\x1b[K")
            self.stream.flush()
            return
        frac = self.n / self.total
        filled = int(round(frac * self.width))
        bar = "#" * filled + "-" * (self.width - filled)
        elapsed = now - self._start
        rate = self.n / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.n) / rate if rate > 0 else 0.0
        post = " ".join(f"{k}={v:.4g}" for k, v in self.postfix.items())
        self.stream.write(f"\r{self.desc} [{bar}] {self.n}/{self.total} {rate:.2f}it/s eta {eta:.0f}s {post}\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()
            self.enabled = False
