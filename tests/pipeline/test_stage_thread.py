"""The stage thread of PoseRun: the stages after tracking run on their own thread for files, with the
same output as on the calling thread; errors reach the caller and no thread is left behind."""

import threading

import pytest

from vidpose.pipeline import PoseRun, RunConfig, frame_dict
from vidpose.stages import REFINERS, RefineStage, StageChoice

pytestmark = pytest.mark.slow


class ThreadProbe(RefineStage):
    threads: list = []

    def __call__(self, frame):
        ThreadProbe.threads.append(threading.current_thread().name)


class FailsAt(RefineStage):
    at = 0

    def __call__(self, frame):
        if frame.index == FailsAt.at:
            raise ValueError(f"probe failure at frame {frame.index}")


def _stage_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "vidpose-stages"]


def test_same_output_with_and_without_the_stage_thread(clip):
    cfg = RunConfig(max_frames=40, overlay=False, quiet=True)  # the default refinement (flow-offline)
    on, off = PoseRun(clip, cfg), PoseRun(clip, cfg, stage_thread=False)
    assert on._split() is not None and off._split() is None
    a, b = [frame_dict(f) for f in on], [frame_dict(f) for f in off]
    assert len(a) == len(b) == 40 == on.frames == off.frames
    assert [f["index"] for f in a] == list(range(40))
    assert any(f["persons"] for f in a)
    assert a == b
    assert on.timings.seconds.keys() == off.timings.seconds.keys()
    assert on.model_info["stages"]["ran"][2] == {"stage": "refine", "choice": "flow-offline"}


def test_stages_after_tracking_run_on_the_stage_thread_for_files_only(monkeypatch, clip):
    monkeypatch.setitem(REFINERS, "thread-probe", StageChoice("thread-probe", "test probe", ThreadProbe))
    cfg = RunConfig(refine="thread-probe", max_frames=5, overlay=False, quiet=True)
    ThreadProbe.threads = []
    assert len(list(PoseRun(clip, cfg))) == 5
    assert ThreadProbe.threads == ["vidpose-stages"] * 5
    ThreadProbe.threads = []
    assert len(list(PoseRun(clip, cfg, live=True))) == 5  # live: each result as its frame comes in
    assert ThreadProbe.threads == [threading.current_thread().name] * 5
    assert not _stage_threads()


@pytest.mark.parametrize("at", [0, 7])
def test_an_error_on_the_stage_thread_reaches_the_caller(monkeypatch, clip, at):
    # at 0: the stage thread dies while the calling thread still hands frames over (a full queue)
    monkeypatch.setitem(REFINERS, "fails", StageChoice("fails", "test probe", FailsAt))
    FailsAt.at = at
    run = PoseRun(clip, RunConfig(refine="fails", max_frames=30, overlay=False, quiet=True))
    with pytest.raises(ValueError, match=f"probe failure at frame {at}"):
        list(run)
    assert not _stage_threads()


def test_stopping_early_ends_the_stage_thread(clip):
    run = iter(PoseRun(clip, RunConfig(max_frames=60, overlay=False, quiet=True)))
    got = [next(run) for _ in range(3)]
    assert [f.index for f in got] == [0, 1, 2]
    run.close()
    assert not _stage_threads()
