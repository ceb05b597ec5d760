"""The :class:`Objective` interface between a method and the trainer."""

from __future__ import annotations

from typing import Any


class Objective:
    """What the trainer asks of a method's training task.

    Datasets are torch ``Dataset`` objects whose samples are dicts of tensors
    (the default collate stacks them); a dataset may have ``set_epoch(epoch)``
    (per-epoch augmentation draws) and ``summary()`` (one line for the log).
    """

    #: key of :meth:`validate`'s result that picks ``best.safetensors``
    select: str = "val_loss"
    #: whether a larger ``select`` value is better
    higher_is_better: bool = False
    #: validation keys written to metrics.csv, in order (``select`` among them)
    metric_keys: tuple[str, ...] = ("val_loss",)

    def __init__(self, train_cfg: Any, model: Any) -> None:
        self.cfg, self.model = train_cfg, model

    def dataset(self, subset: str, train: bool) -> Any:
        """The dataset of ``subset`` (augmented when ``train``)."""
        raise NotImplementedError

    def train_set(self) -> Any:
        self.train_data = self.dataset(self.cfg.data.train_subset, True)
        return self.train_data

    def val_set(self) -> Any | None:
        """The validation subset, or None when ``data.val_subset`` is empty."""
        return self.dataset(self.cfg.data.val_subset, False) if self.cfg.data.val_subset else None

    def loss(self, net: Any, batch: dict[str, Any]) -> tuple[Any, dict[str, float]]:
        """(scalar loss tensor, {name: float}) of one batch; ``net`` may be DDP-wrapped, call it for the forward."""
        raise NotImplementedError

    def validate(self, model: Any, loader: Any) -> dict[str, float]:
        """Metrics over the validation loader (keys ``metric_keys``); the model is in eval mode."""
        raise NotImplementedError

    def data_identity(self) -> dict[str, Any]:
        """What the checkpoint records about the training data (dataset, split, seed, generator version)."""
        return {}

    def source_identity(self) -> dict[str, Any]:
        """The part of :meth:`data_identity` every crop-based objective shares: the dataset, the
        training subset and, for generated data, what made it (``describe_data``: the generator's
        format, renderer and split)."""
        from vidpose.data.loaders import describe_data

        return {"dataset": self.cfg.data.dataset, "subset": self.cfg.data.train_subset,
                **describe_data(self.cfg.data, self.cfg.data.train_subset)}

    def better(self, value: float, best: float | None) -> bool:
        """Is ``value`` of ``select`` an improvement over ``best`` (None: nothing yet)?"""
        import math

        if value is None or math.isnan(value):
            return False
        if best is None:
            return True
        return value > best if self.higher_is_better else value < best


def mean_loss(objective: Objective, model: Any, loader: Any) -> float:
    """Mean of ``objective.loss`` over a loader, without gradients (``val_loss`` of the label-free objectives)."""
    import torch

    total, n = 0.0, 0
    with torch.no_grad():
        for batch in loader:
            loss, _ = objective.loss(model, batch)
            total += float(loss) * _batch_len(batch)
            n += _batch_len(batch)
    return total / max(n, 1)


def _batch_len(batch: dict[str, Any]) -> int:
    for v in batch.values():
        if hasattr(v, "shape"):
            return int(v.shape[0])
    return 1
