"""DG-Net (Zhang et al., "Dynamical Graph Network for 3D human pose estimation", arXiv 2109.07353)
and its fixed-graph baseline ``gcn-fixed``: 2D keypoint sequences -> root-relative 3D.

A window of R = 3**n frames of 2D joints (H36M-17, or the ``skeleton`` of the config: HumanEva-I's 15,
MPI-INF-3DHP's 17) (normalised screen coordinates,
plus a confidence channel with ``in_channels = 3``) is embedded per joint (C
channels, plus a learned per-joint embedding), then n blocks, block i:

* spatial: ``x + Dropout(ReLU(LN((A_fixed + A_t) x W)))`` per frame
  (:class:`vidpose.models.graph.SpatialGraphConv`; ``A_t`` the DSG affinity,
  top-k neighbours, temperature ``tau_spatial``);
* temporal: ``centre(x) + Dropout(ReLU(LN(TCN(x) + DTG(x))))`` over 3 taps at
  dilation 3**i, no padding (:class:`vidpose.models.graph.TemporalGraphConv`;
  DTG weights joint j at each tap by the cosine similarity of its velocity to
  joint i's, temperature ``tau_temporal``);

then a last spatial layer and a linear head give the centre frame's 3D (metres,
camera axes, relative to the pelvis). :meth:`SequenceLifter.lift` runs the same
network densely over a whole track (edge-padded). ``gcn-fixed`` is the same
network with ``A_t`` and DTG removed (the learnable skeleton graph and the plain
temporal convolution only).

Trains through :class:`vidpose.objectives.sequences.SequenceObjective`; the
2D corruption (``noise``, ``drop``, ``swap``, ``noise_time``, ``outlier``) and the motion
augmentation of world-frame windows (``tilt``, ``speed``) are part of the config
(:class:`~vidpose.objectives.sequences.LiftAugment`); a detector's own 2D trains through the
``lift-pairs`` sequence loaders. See docs/lifting.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from vidpose.methods.base import Method
from vidpose.models.config import bad
from vidpose.objectives.sequences import LiftAugment
from vidpose.skeletons import get_skeleton


INPUT_NORMS = ("screen", "person")
# The joint layouts a lifter can be built for: H36M-17 (the shipped lifters, vidpose run --lift) and
# the 3D datasets' own (HumanEva-I, MPI-INF-3DHP's test joints), scored in their protocols.
LIFT_SKELETONS = ("h36m17", "humaneva15", "mpi_inf_3dhp17")
# The shipped lifter (vidpose run --lift dgnet; its name is vidpose.methods.SHIPPED_LIFTER):
# vidpose/weights/dgnet_synth3_pairs.safetensors, configs/dgnet_synth3_pairs.toml: dgnet_synth3 (configs/dgnet_synth3.toml, renderer-3 synth-3d: Anny bodies,
# the joints of the synthetic ground truth; kept as its starting point) fine-tuned with BlazePose's own 2D
# of rendered videos (lift pairs). The bench's family comparison (dgnet / gcn-fixed / tcn at 9, 27, 81
# frames) keeps its own *_mocap* files.


def shipped_path():
    """The shipped DG-Net lifter's checkpoint (``vidpose.methods.load`` reads it)."""
    from vidpose.methods import shipped_lifter_path

    return shipped_lifter_path()


def load_lifter(spec: str = "dgnet", skeleton: str | None = "h36m17"):
    """A 2D->3D lifter in eval mode: ``"dgnet"`` (the shipped one) or a checkpoint path; InputError
    naming ``spec`` when it is not a lifter, or (``skeleton`` not None) not one for the caller's joint
    layout (``vidpose run --lift`` feeds H36M-17; None: any, e.g. a dataset's own)."""
    from vidpose.errors import InputError
    from vidpose.methods import load

    model = load(shipped_path() if spec == "dgnet" else spec)
    if not hasattr(model, "forward_valid"):
        raise InputError(f"lifter {spec!r} is a {getattr(model, 'method', '?')} model, not a 2D->3D lifter")
    built = getattr(model.cfg, "skeleton", "h36m17")
    if skeleton is not None and built != skeleton:
        raise InputError(f"lifter {spec!r} is built for the {built} joints ({model.cfg.num_joints}), "
                         f"this needs a {skeleton} lifter")
    return model


def check_receptive_field(r) -> int:
    """The number of blocks (n) of a receptive field 3**n; InputError naming the field otherwise."""
    if isinstance(r, bool) or not isinstance(r, int) or r < 3:
        raise bad("receptive_field", f"must be a power of 3 (3, 9, 27, 81, 243), got {r!r}")
    n = round(math.log(r, 3))
    if 3 ** n != r:
        raise bad("receptive_field", f"must be a power of 3 (3, 9, 27, 81, 243), got {r!r}")
    return n


def check_int(value, key: str, lo: int, hi: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo or (hi is not None and value > hi):
        raise bad(key, f"must be an integer in [{lo}, {hi if hi is not None else 'inf'}], got {value!r}")


def check_float(value, key: str, lo: float, hi: float, open_lo: bool = False) -> None:
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and \
        (value > lo if open_lo else value >= lo) and value <= hi
    if not ok:
        raise bad(key, f"must be in {'(' if open_lo else '['}{lo}, {hi}], got {value!r}")


@dataclass
class LifterConfig(LiftAugment):
    """The fields every vidpose 2D->3D lifter shares (the ``[model]`` section)."""

    receptive_field: int = 27  # frames per window: 3**blocks
    skeleton: str = "h36m17"  # the 2D and 3D joint layout: h36m17, humaneva15 or mpi_inf_3dhp17 (LIFT_SKELETONS)
    num_joints: int = 0  # the skeleton's joint count (0: taken from it)
    in_channels: int = 3  # 2: x, y; 3: x, y, confidence
    channels: int = 64
    dropout: float = 0.1
    train_chunk: int = 1  # training: centre frames per sample (windows of receptive_field + train_chunk - 1)
    input_norm: str = "screen"  # "screen": the 2D as given; "person": per frame centred and scaled (graph.person_normalize)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        check_receptive_field(self.receptive_field)
        if self.skeleton not in LIFT_SKELETONS:
            raise bad("skeleton", f"must be one of {', '.join(LIFT_SKELETONS)}, got {self.skeleton!r}")
        count = get_skeleton(self.skeleton).num_keypoints
        if self.num_joints == 0:
            self.num_joints = count
        if self.num_joints != count:
            raise bad("num_joints", f"must be {count} (the joints of skeleton {self.skeleton}), got {self.num_joints!r}")
        if self.in_channels not in (2, 3) or isinstance(self.in_channels, bool):
            raise bad("in_channels", f"must be 2 (x, y) or 3 (x, y, confidence), got {self.in_channels!r}")
        check_int(self.channels, "channels", 4, 4096)
        check_float(self.dropout, "dropout", 0.0, 0.9)
        check_int(self.train_chunk, "train_chunk", 1, 100000)
        if self.input_norm not in INPUT_NORMS:
            raise bad("input_norm", f"must be one of {', '.join(INPUT_NORMS)}, got {self.input_norm!r}")
        self.check()

    @property
    def blocks(self) -> int:
        return check_receptive_field(self.receptive_field)


@dataclass
class Config(LifterConfig):
    method: ClassVar[str] = "dgnet"
    dynamic: ClassVar[bool] = True
    embed: int = 16  # channels of the DSG/DTG affinity embeddings
    top_k: int = 8  # DSG: neighbours per joint (0 = all joints)
    tau_spatial: float = 1.0  # DSG softmax temperature
    tau_temporal: float = 0.2  # DTG softmax temperature (on cosine similarities)

    def validate(self) -> None:
        super().validate()
        check_int(self.embed, "embed", 1, 1024)
        check_int(self.top_k, "top_k", 0, self.num_joints)
        check_float(self.tau_spatial, "tau_spatial", 0.0, 1e6, open_lo=True)
        check_float(self.tau_temporal, "tau_temporal", 0.0, 1e6, open_lo=True)


@dataclass
class FixedConfig(Config):
    """``gcn-fixed``: DG-Net's network with the fixed (learnable, skeleton-initialised) graph only."""

    method: ClassVar[str] = "gcn-fixed"
    dynamic: ClassVar[bool] = False


def _net_class():
    import torch
    from torch import nn

    from vidpose.models.graph import SequenceLifter, SpatialGraphConv, TemporalGraphConv, skeleton_adjacency

    class GraphLifter(SequenceLifter):
        def __init__(self, cfg: Config) -> None:
            super().__init__()
            self.method, self.cfg = cfg.method, cfg
            c, dyn = cfg.channels, type(cfg).dynamic
            adj = skeleton_adjacency(get_skeleton(cfg.skeleton).links, cfg.num_joints)
            self.embed = nn.Linear(cfg.in_channels, c)
            self.joint_embed = nn.Parameter(0.1 * torch.randn(cfg.num_joints, c))

            def spatial():
                return SpatialGraphConv(c, c, adj, dyn, cfg.tau_spatial, cfg.top_k, cfg.embed)

            self.spatial = nn.ModuleList([spatial() for _ in range(cfg.blocks + 1)])
            self.spatial_norm = nn.ModuleList([nn.LayerNorm(c) for _ in range(cfg.blocks + 1)])
            self.temporal = nn.ModuleList([TemporalGraphConv(c, c, 3, 3 ** i, dyn, cfg.tau_temporal, cfg.embed)
                                           for i in range(cfg.blocks)])
            self.temporal_norm = nn.ModuleList([nn.LayerNorm(c) for _ in range(cfg.blocks)])
            self.drop = nn.Dropout(cfg.dropout)
            self.head = nn.Linear(c, 3)
            nn.init.zeros_(self.head.weight)  # start from "every joint at the root", not a random pose
            nn.init.zeros_(self.head.bias)

        def _spatial(self, i: int, h):
            return h + self.drop(torch.relu(self.spatial_norm[i](self.spatial[i](h))))

        def forward_valid(self, x):
            h = self.embed(x) + self.joint_embed
            for i in range(self.cfg.blocks):
                h = self._spatial(i, h)
                d = 3 ** i
                h = h[:, d:h.shape[1] - d] + self.drop(torch.relu(self.temporal_norm[i](self.temporal[i](h))))
            return self.head(self._spatial(self.cfg.blocks, h))

    return GraphLifter


def build(cfg: Config):
    return _net_class()(cfg)


def objective(train_cfg, model):
    from vidpose.objectives.sequences import SequenceObjective

    return SequenceObjective(train_cfg, model)


METHOD = Method("dgnet", Config, build, objective,
                "2D->3D lifting with dynamical spatial (DSG) and temporal (DTG) graphs (Zhang et al. 2021)")
FIXED_METHOD = Method("gcn-fixed", FixedConfig, build, objective,
                      "DG-Net's network with the fixed skeleton graph only (the DSG/DTG ablation baseline)")
