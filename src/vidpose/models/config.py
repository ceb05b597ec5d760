"""The shared part of the top-down 2D methods' configs: input, keypoints, output stride, width.

Each method (``vidpose.methods.simplebaseline``, ``hourglass``, ``clnet``)
extends :class:`TopDownConfig` with its own fields and checks; a checkpoint
stores the method's name and its config, so a model can be rebuilt from the
file alone. Validation raises :class:`vidpose.errors.InputError` naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass

from vidpose.errors import InputError

BACKBONES = ("resnet18", "resnet34", "resnet50")
COMPOSITE_TARGETS = ("gaussian", "onehot")


def bad(key: str, msg: str) -> InputError:
    return InputError(f"model.{key} {msg}")


def check_positive(value, key: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise bad(key, f"must be positive, got {value!r}")


@dataclass
class TopDownConfig:
    """Input and output geometry of a top-down 2D model. ``input_size`` is (H, W)."""

    num_keypoints: int = 17
    input_size: tuple[int, int] = (256, 192)  # (H, W)
    heatmap_stride: int = 4
    width: float = 1.0  # channel multiplier for CPU-sized runs

    def __post_init__(self) -> None:
        # JSON and TOML give lists; keep the documented tuple type.
        if isinstance(self.input_size, list):
            self.input_size = tuple(self.input_size)  # type: ignore[assignment]
        self.validate()

    @property
    def heatmap_size(self) -> tuple[int, int]:
        """(h, w) of the output maps."""
        return self.input_size[0] // self.heatmap_stride, self.input_size[1] // self.heatmap_stride

    def channels(self, base: int) -> int:
        """``base`` channels scaled by ``width`` (at least 4, so tiny widths still work)."""
        return max(4, int(round(base * self.width)))

    def validate(self) -> None:
        if isinstance(self.width, bool) or not isinstance(self.width, (int, float)) or not (0.0 < self.width <= 4.0):
            raise bad("width", f"must be in (0, 4], got {self.width!r}")
        if isinstance(self.num_keypoints, bool) or not isinstance(self.num_keypoints, int) or self.num_keypoints < 1:
            raise bad("num_keypoints", f"must be a positive integer, got {self.num_keypoints!r}")
        if (
            not isinstance(self.input_size, tuple)
            or len(self.input_size) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in self.input_size)
        ):
            raise bad("input_size", f"must be (H, W) positive integers, got {self.input_size!r}")
        s = self.heatmap_stride
        if isinstance(s, bool) or not isinstance(s, int) or s < 1 or (s & (s - 1)) != 0 or s > 32:
            raise bad("heatmap_stride", f"must be a power of two in 1..32, got {s!r}")

    def check_grid(self, div: int, why: str) -> None:
        """The input size must be divisible by ``div`` (the backbone's grid)."""
        h, w = self.input_size
        if h % div or w % div:
            raise bad("input_size", f"{self.input_size} is not divisible by {div} ({why})")
