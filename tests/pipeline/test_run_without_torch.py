"""The default ``vidpose run`` path (BlazePose, flow refinement, BlazePose lift) never imports
PyTorch: importing it costs ~1.5 s of start-up that the default run does not need. Stages that
use torch (``--lift dgnet``, trained ``--model`` checkpoints) import it when they run."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_run_path_does_not_import_torch():
    code = ("import sys, vidpose, vidpose.pipeline, vidpose.cli, vidpose.stages, vidpose.api\n"
            "from vidpose.stages import LIFTERS, REFINERS\n"
            "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
            "print(len(bad)); assert not bad, bad[:5]\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "0"
