"""The one trainer: configs (TOML dataclasses) and the loop; methods supply model and objective.

``vidpose train CONFIG.toml`` is the command line; :func:`train` is the API.
"""

from vidpose.data.loaders import DataConfig
from vidpose.training.config import OptimConfig, TrainConfig, TrainRunConfig, load_config

__all__ = ["DataConfig", "OptimConfig", "TrainRunConfig", "TrainConfig", "load_config", "train"]


def train(cfg: TrainConfig, resume: bool = False, quiet: bool = False) -> dict[str, float]:
    """Train per ``cfg`` and return the final metrics (see :mod:`vidpose.training.trainer`)."""
    from vidpose.training.trainer import train as _train

    return _train(cfg, resume=resume, quiet=quiet)
