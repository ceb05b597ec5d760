"""Turning a finished training run into a shipped weight file (``vidpose/weights``).

One mechanism for every method's bench (``python -m vidpose.bench.<suite> ship ...``): the run's
``last.safetensors`` is saved again (float16 by default) with the training command, what it was
trained on, the run's provenance (config sha256, data identity), the last validation row of the
metric that picked checkpoints (``select`` in ``train_state.pt``) and the ship step itself.
"""

from __future__ import annotations

import csv
from pathlib import Path

from vidpose.errors import InputError


def ship(run_dir: str | Path, dest: str | Path, command: str, trained_on: str, half: bool = True,
         ship_command: str | None = None) -> Path:
    """Save ``run_dir/last.safetensors`` as ``dest`` with its provenance; return ``dest``.

    ``ship_command`` is the command that did this step (recorded beside the training command)."""
    import torch

    from vidpose.methods import load
    from vidpose.models.checkpoint import save_checkpoint

    run_dir = Path(run_dir)
    model = load(run_dir / "last.safetensors")
    state_path = run_dir / "train_state.pt"
    try:
        select = str(torch.load(state_path, map_location="cpu", weights_only=True).get("select", "val_pck"))
    except Exception as e:  # torch raises several types for a bad file
        raise InputError(f"{state_path}: cannot read the training state ({type(e).__name__}: {e})") from None
    with open(run_dir / "metrics.csv", newline="") as f:
        val_rows = [r for r in csv.DictReader(f) if r.get(select)]
    if not val_rows:
        raise InputError(f"{run_dir / 'metrics.csv'}: no {select} row; shipping needs a run with validation")
    last = val_rows[-1]
    train_extra = dict(getattr(model, "extra", {}))
    extra = {
        "command": command,
        "ship_command": ship_command,
        "trained_on": trained_on,
        "config_sha256": train_extra.get("config_sha256"),
        "data": train_extra.get("data"),
        "epochs": int(last["epoch"]),
        **{k: float(v) for k, v in last.items() if k.startswith("val_") and v},
        "train_seconds": float(last["elapsed_s"]),
        "dtype": "float16" if half else "float32",
        "train_extra": train_extra,
    }
    if half:
        model = model.half()
    return save_checkpoint(dest, model, extra=extra)


def restamp(path: str | Path, updates: dict) -> Path:
    """Rewrite a shipped file's ``extra`` metadata with ``updates``, keeping its weights bit for bit
    (float16 files load as float32 and go back exactly; anything else is refused)."""
    import torch

    from vidpose.methods import load
    from vidpose.models.checkpoint import read_checkpoint, save_checkpoint

    path = Path(path)
    ck = read_checkpoint(path)
    model = load(path)
    if all(v.dtype == torch.float16 for v in ck.state.values() if v.is_floating_point()):
        model = model.half()
    if not all(torch.equal(ck.state[k], v) for k, v in model.state_dict().items()):
        raise InputError(f"{path}: the weights would change; not restamped")
    return save_checkpoint(path, model, extra={**ck.extra, **updates})
