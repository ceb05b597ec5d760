"""One estimator pass, several later stages: the benches' way to compare stages on the very same input.

:class:`Tee` sits in a run's stage list (``vidpose.pipeline.PoseRun(..., stages=...)``). It passes
every frame on unchanged and feeds a copy of it through each of its branches (lists of stages, e.g.
a refine stage and the convert stage after it). So the refine rows of ``bench flowing`` and the lift
rows of ``bench dgnet`` see the same people from one BlazePose pass, and each branch's own time is
measured apart from the shared decode/estimate/track time.
"""

from __future__ import annotations

import copy
import time


class Tee:
    """``outputs[i]``: branch i's frames, in order; ``seconds[i]``: the time spent in branch i;
    ``copy_seconds``: the time spent copying frames for the branches (no row's own cost)."""

    name = "tee"

    def __init__(self, branches: list[list]) -> None:
        self.branches = branches
        self.outputs: list[list] = [[] for _ in branches]
        self.seconds: list[float] = [0.0 for _ in branches]
        self.copy_seconds = 0.0

    def _through(self, i: int, frames: list, finish: bool = False) -> None:
        t0 = time.perf_counter()
        for stage in self.branches[i]:
            out = []
            for f in frames:
                out += stage.process(f)
            if finish:
                out += stage.finish()
            frames = out
        self.outputs[i] += frames
        self.seconds[i] += time.perf_counter() - t0

    def process(self, frame) -> list:
        for i in range(len(self.branches)):
            t0 = time.perf_counter()
            twin = copy.copy(frame)  # the image is only read; the people are changed by the branch
            twin.persons = copy.deepcopy(frame.persons)
            self.copy_seconds += time.perf_counter() - t0
            self._through(i, [twin])
        return [frame]

    def finish(self) -> list:
        for i in range(len(self.branches)):
            self._through(i, [], finish=True)
        return []
