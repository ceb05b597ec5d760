"""Training of the 2D top-down pose models: configs, the loop, dataset loaders.

``vidpose train CONFIG.toml`` is the command line; :func:`train` is the API.
"""

from vidpose.training.config import DataConfig, OptimConfig, RunConfig, TrainConfig, load_config

__all__ = ["DataConfig", "OptimConfig", "RunConfig", "TrainConfig", "load_config", "train"]


def train(cfg: TrainConfig, resume: bool = False, quiet: bool = False) -> dict[str, float]:
    """Train per ``cfg`` and return the final metrics (see :mod:`vidpose.training.trainer`)."""
    from vidpose.training.trainer import train as _train

    return _train(cfg, resume=resume, quiet=quiet)
