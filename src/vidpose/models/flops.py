"""FLOPs and parameter counts of a model, measured with torch's own FLOP counter.

``gflops`` are FLOPs (torch counts 2 per multiply-accumulate), not MACs; papers
often quote MACs as "FLOPs", so divide ours by 2 to compare with them. Only
convolutions, transposed convolutions and matrix products are counted;
BatchNorm, activations, pooling and interpolation are not.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from vidpose.errors import InputError


def count_flops(model: nn.Module, input_size: tuple[int, int] | None = None) -> dict[str, float]:
    """FLOPs of one forward pass at batch 1 and the parameter count.

    ``input_size`` (H, W) defaults to ``model.cfg.input_size``. Returns
    ``{"gflops": FLOPs / 1e9, "params_m": parameters / 1e6}``.
    """
    if input_size is None:
        cfg = getattr(model, "cfg", None)
        if cfg is None:
            raise InputError("count_flops: input_size is required for a model without a cfg")
        input_size = tuple(cfg.input_size)
    if len(input_size) != 2 or not all(int(v) > 0 for v in input_size):
        raise InputError(f"count_flops: input_size must be (H, W) positive integers, got {input_size!r}")
    h, w = (int(v) for v in input_size)
    param = next(model.parameters(), None)
    x = torch.zeros(1, 3, h, w, device=param.device if param is not None else "cpu")
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    try:
        with torch.no_grad(), counter:
            model(x)
    finally:
        model.train(was_training)
    params = sum(p.numel() for p in model.parameters())
    return {"gflops": counter.get_total_flops() / 1e9, "params_m": params / 1e6}
