"""vidpose.cli.signals_raise: how SIGINT/SIGTERM become an exception that unwinds cleanly (in-process)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from vidpose.cli import signals_raise
from vidpose.errors import Interrupted


def _wait_for_handler():
    time.sleep(2)  # Python runs the handler at the next bytecode; the sleep is cut short by it


def test_first_signal_raises_second_is_ignored_while_cleaning_up(capsys):
    before = signal.getsignal(signal.SIGTERM)
    steps = []
    with pytest.raises(Interrupted) as e:
        with signals_raise():
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                _wait_for_handler()
                steps.append("not reached")
            finally:
                os.kill(os.getpid(), signal.SIGTERM)  # a second signal during the clean-up
                _wait_for_handler()
                steps.append("cleaned up")
    assert steps == ["cleaned up"]
    assert isinstance(e.value, KeyboardInterrupt) and e.value.signum == signal.SIGTERM
    assert e.value.exit_code == 143
    assert "still cleaning up" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is before  # handlers restored on the way out


def test_sigint_is_130():
    # a test runner started in the background ignores SIGINT, which signals_raise keeps ignored (tested
    # below): start from Python's own handler, as in a foreground run
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(Interrupted) as e:
            with signals_raise():
                os.kill(os.getpid(), signal.SIGINT)
                _wait_for_handler()
    finally:
        signal.signal(signal.SIGINT, old)
    assert e.value.exit_code == 130 and str(e.value) == "interrupted by SIGINT"


def test_an_ignored_signal_stays_ignored():
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as under nohup / a background job
    try:
        with signals_raise():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, old)
