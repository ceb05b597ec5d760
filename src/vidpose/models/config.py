"""The model configuration: one dataclass that fully describes a trainable 2D model.

A checkpoint stores this config as JSON, so a model can be rebuilt from the
file alone. Validation raises :class:`vidpose.errors.InputError` naming the field.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any

from vidpose.errors import InputError

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # RGB in [0, 1]
IMAGENET_STD = (0.229, 0.224, 0.225)

ARCHS = ("simplebaseline", "clnet", "hourglass", "clnet-hourglass")
BACKBONES = ("resnet18", "resnet34", "resnet50")
COMPOSITE_TARGETS = ("gaussian", "onehot")
RESNET_STRIDE = 32


@dataclass
class ModelConfig:
    """Architecture and target-coding parameters of a 2D pose model.

    ``input_size`` is (H, W). ``heatmap_stride`` is the output stride: 4 for the
    heatmap baselines, coarser (8 or 16) for the CLNet composite head.
    """

    arch: str = "simplebaseline"   # simplebaseline | clnet | hourglass | clnet-hourglass
    backbone: str = "resnet18"     # resnet18 | resnet34 | resnet50 (hourglass archs ignore it)
    width: float = 1.0             # channel multiplier for CPU-sized runs
    num_keypoints: int = 17
    input_size: tuple[int, int] = (256, 192)  # (H, W)
    heatmap_stride: int = 4
    sigma: float = 2.0             # Gaussian sigma in heatmap pixels (heatmap archs)
    num_stacks: int = 1            # hourglass stacks 1..8
    num_deconv: int = 3            # simplebaseline deconvs; must give heatmap_stride = 32 / 2**num_deconv
    deconv_channels: int = 256     # head channels before the width multiplier
    offset_weight: float = 1.0     # CLNet lambda: weight of the offset L1 term
    # CLNet coarse "cell" heatmap target: a tiny Gaussian centred on the keypoint's
    # cell (trained with MSE) or a one-hot cell (trained with a spatial softmax
    # cross-entropy). cell_sigma is in coarse-heatmap cells.
    composite_target: str = "gaussian"
    cell_sigma: float = 1.0

    def __post_init__(self) -> None:
        # JSON and TOML give lists; keep the documented tuple type.
        if isinstance(self.input_size, list):
            self.input_size = tuple(self.input_size)  # type: ignore[assignment]
        self.validate()

    @property
    def is_composite(self) -> bool:
        """True for the CLNet archs (heatmap + offset outputs)."""
        return self.arch in ("clnet", "clnet-hourglass")

    @property
    def is_hourglass(self) -> bool:
        return self.arch in ("hourglass", "clnet-hourglass")

    @property
    def heatmap_size(self) -> tuple[int, int]:
        """(h, w) of the output maps."""
        return self.input_size[0] // self.heatmap_stride, self.input_size[1] // self.heatmap_stride

    def channels(self, base: int) -> int:
        """``base`` channels scaled by ``width`` (at least 4, so tiny widths still work)."""
        return max(4, int(round(base * self.width)))

    def validate(self) -> None:
        def bad(key: str, msg: str) -> InputError:
            return InputError(f"model config: {key} {msg}")

        if self.arch not in ARCHS:
            raise bad("arch", f"is {self.arch!r}; known: {', '.join(ARCHS)}")
        if not self.is_hourglass and self.backbone not in BACKBONES:
            raise bad("backbone", f"is {self.backbone!r}; known: {', '.join(BACKBONES)}")
        if not isinstance(self.width, (int, float)) or not (0.0 < self.width <= 4.0):
            raise bad("width", f"must be in (0, 4], got {self.width!r}")
        if not isinstance(self.num_keypoints, int) or self.num_keypoints < 1:
            raise bad("num_keypoints", f"must be a positive integer, got {self.num_keypoints!r}")
        if (
            not isinstance(self.input_size, tuple)
            or len(self.input_size) != 2
            or not all(isinstance(v, int) and v > 0 for v in self.input_size)
        ):
            raise bad("input_size", f"must be (H, W) positive integers, got {self.input_size!r}")
        s = self.heatmap_stride
        if not isinstance(s, int) or s < 1 or (s & (s - 1)) != 0 or s > RESNET_STRIDE:
            raise bad("heatmap_stride", f"must be a power of two in 1..32, got {s!r}")
        if self.is_hourglass and s < 4:
            raise bad("heatmap_stride", f"must be at least 4 for {self.arch} (the stem downsamples by 4), got {s}")
        if not self.is_hourglass and s < 2:
            raise bad("heatmap_stride", f"must be at least 2 for {self.arch}, got {s}")
        # The ResNet needs H, W divisible by 32 for its feature grid to align with
        # the heatmap grid; the hourglass only by the heatmap stride.
        div = s if self.is_hourglass else RESNET_STRIDE
        h, w = self.input_size
        if h % div or w % div:
            raise bad("input_size", f"{self.input_size} is not divisible by {div} ({self.arch}, stride {s})")
        if self.arch == "simplebaseline":
            if not isinstance(self.num_deconv, int) or not (0 <= self.num_deconv <= 4):
                raise bad("num_deconv", f"must be 0..4, got {self.num_deconv!r}")
            if RESNET_STRIDE >> self.num_deconv != s:
                need = int(math.log2(RESNET_STRIDE // s))
                raise bad(
                    "heatmap_stride",
                    f"{s} does not match num_deconv {self.num_deconv} "
                    f"(simplebaseline stride is 32 / 2**num_deconv; stride {s} needs num_deconv {need})",
                )
        if not isinstance(self.sigma, (int, float)) or self.sigma <= 0:
            raise bad("sigma", f"must be positive, got {self.sigma!r}")
        if not isinstance(self.num_stacks, int) or not (1 <= self.num_stacks <= 8):
            raise bad("num_stacks", f"must be 1..8, got {self.num_stacks!r}")
        if not isinstance(self.deconv_channels, int) or self.deconv_channels < 1:
            raise bad("deconv_channels", f"must be a positive integer, got {self.deconv_channels!r}")
        if not isinstance(self.offset_weight, (int, float)) or self.offset_weight < 0:
            raise bad("offset_weight", f"must be >= 0, got {self.offset_weight!r}")
        if self.composite_target not in COMPOSITE_TARGETS:
            raise bad("composite_target", f"is {self.composite_target!r}; known: {', '.join(COMPOSITE_TARGETS)}")
        if not isinstance(self.cell_sigma, (int, float)) or self.cell_sigma <= 0:
            raise bad("cell_sigma", f"must be positive, got {self.cell_sigma!r}")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["input_size"] = list(self.input_size)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "model config") -> "ModelConfig":
        """Build from a dict (JSON, TOML); unknown keys raise InputError naming ``source``."""
        if not isinstance(d, dict):
            raise InputError(f"{source}: expected a table of model settings, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InputError(f"{source}: unknown model setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        try:
            return cls(**d)
        except InputError as e:
            raise InputError(f"{source}: {e}") from None
        except TypeError as e:
            raise InputError(f"{source}: {e}") from None


def default_config(arch: str, **overrides: Any) -> ModelConfig:
    """The recommended config of ``arch`` (CLNet archs default to stride 8), with overrides."""
    base: dict[str, Any] = {"arch": arch}
    if arch in ("clnet", "clnet-hourglass"):
        base["heatmap_stride"] = 8
    base.update(overrides)
    return ModelConfig(**base)

