"""The stage shape every part of the run pipeline has, and the registry entry of a selectable stage."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from vidpose.types import FramePoses

# What an estimator can hand to later stages, with the words an error message uses.
OUTPUTS: dict[str, str] = {
    "heatmaps": "per-person heatmaps",
    "blazepose_heatmaps": "BlazePose's 39-channel 64x64 heatmaps",
    "world_landmarks": "BlazePose's world landmarks (3D, metres)",
}


class Stage:
    """Base class: a per-frame stage overrides ``__call__``; a buffering one overrides process/finish.

    ``process(frame)`` returns the frames ready to pass on (none while it buffers,
    several when it catches up); ``finish()`` flushes what it still holds at the
    end of the video. ``name`` keys the stage's seconds in run.json.
    """

    name = "stage"

    def __call__(self, frame: FramePoses) -> None:
        raise NotImplementedError

    def process(self, frame: FramePoses) -> list[FramePoses]:
        self(frame)
        return [frame]

    def finish(self) -> list[FramePoses]:
        return []


@dataclass(frozen=True)
class StageChoice:
    """One entry of a stage registry (``REFINERS``, ``LIFTERS``): what ``--refine``/``--lift NAME`` picks.

    ``build`` makes the stage (None: the choice adds no stage, as ``none`` does);
    ``needs`` names the estimator outputs (keys of :data:`OUTPUTS`) it reads.
    """

    name: str
    description: str
    build: Callable[..., Stage] | None = None
    needs: frozenset[str] = field(default_factory=frozenset)
    auto: bool = True  # whether ``auto`` may pick it (False: only when named)


def missing_outputs(choice: StageChoice, provides: frozenset[str]) -> list[str]:
    """The descriptions of what ``choice`` needs and the estimator does not give."""
    return [OUTPUTS[n] for n in sorted(choice.needs - provides)]
