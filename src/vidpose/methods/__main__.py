"""``python -m vidpose.methods``: FLOPs and parameters of the 2D methods at their default sizes."""

from __future__ import annotations

# (method, settings) reported in docs/models.md: 256x192 input, width 1.0.
TABLE: tuple[tuple[str, dict], ...] = (
    ("simplebaseline", {"backbone": "resnet18"}),
    ("simplebaseline", {"backbone": "resnet50"}),
    ("clnet", {"backbone": "resnet18", "heatmap_stride": 4}),
    ("clnet", {"backbone": "resnet18"}),
    ("clnet", {"backbone": "resnet50", "heatmap_stride": 4}),
    ("clnet", {"backbone": "resnet50"}),
    ("clnet", {"backbone": "resnet50", "heatmap_stride": 16}),
    ("hourglass", {"num_stacks": 1}),
    ("hourglass", {"num_stacks": 2}),
    ("hourglass", {"num_stacks": 8}),
    ("clnet-hourglass", {"num_stacks": 1, "heatmap_stride": 4}),
    ("clnet-hourglass", {"num_stacks": 1}),
    ("clnet-hourglass", {"num_stacks": 2}),
)


def main() -> None:
    from vidpose.methods import build
    from vidpose.models.flops import count_flops

    print("| method | backbone | stride | stacks | GFLOPs | GMACs | params (M) |")
    print("|---|---|---|---|---|---|---|")
    for name, kw in TABLE:
        model = build(name, **kw)
        cfg = model.cfg
        r = count_flops(model)
        print(f"| {name} | {getattr(cfg, 'backbone', '-')} | {cfg.heatmap_stride} | {getattr(cfg, 'num_stacks', '-')} "
              f"| {r['gflops']:.2f} | {r['gflops'] / 2:.2f} | {r['params_m']:.2f} |")


if __name__ == "__main__":
    import torch

    torch.set_num_threads(1)  # the numbers do not depend on threads; keep the machine free
    main()
