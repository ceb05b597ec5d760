"""DKD: Dynamic Kernel Distillation (Nie, Li, Luo, Zhang, Feng, "Dynamic Kernel Distillation for
Efficient Pose Estimation in Videos", ICCV 2019).

A large *pose initializer* estimates a person's first frame; afterwards a small *frame encoder*
computes features ``F_t`` of each frame and a light *pose-kernel distillator* turns the previous
frame's features and heatmaps ``(F_{t-1}, H_{t-1})`` into K per-joint *pose kernels* (C x s x s);
joints in frame t are localised by convolving the kernels with ``F_t`` (*matching*, one grouped
convolution for the whole batch). A *temporal discriminator* over short heatmap sequences adds an
adversarial term for temporally coherent poses. A *re-initialisation policy* runs the initializer
again every ``reinit_every`` frames and whenever the mean joint confidence falls below
``reinit_confidence``.

Ours (documented in docs/dkd.md):

* the initializer is a trained, frozen model named by ``initializer`` (a shipped name such as
  ``simplebaseline``, a checkpoint path, or ``blazepose-heavy`` / ``blazepose-full``: the
  BlazePose landmark model on the crop, its keypoints encoded as this model's heatmaps). It is
  *not* stored in DKD's checkpoints (only the small network is), and is rebuilt from its name;
* distillator: concat(F, H) -> 2x average pool -> 3x3 conv -> adaptive pool to s x s -> 1x1 conv
  to K*C -> K kernels, added to each joint's heatmap-weighted mean feature patch
  (``attention_kernels``; the conv path starts at zero); matching output = per-joint scale *
  correlation + per-joint bias, plus the previous frame's heatmaps times a per-joint gain
  (``heatmap_prior``: a location prior; without it the small network, trained for a few CPU
  minutes, did not learn to localise: docs/dkd.md);
* discriminator loss: least squares (LSGAN) instead of BEGAN; trained in the same optimiser step
  as the generator (the generator's term sees the discriminator's weights detached);
* training: clips of T frames, frame 0 from the initializer; ``free_running = false`` (teacher
  forcing) takes every previous frame's heatmaps from the initializer, ``true`` the model's own.

Ablations in the same code: ``distillator = false`` (the small network alone, a 3x3 heatmap head
on the encoder, every frame), ``adversarial_weight = 0``, and ``reinit_every = 0`` with
``reinit_confidence = 0`` (the initializer on a track's first frame only; an inference setting).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vidpose.errors import InputError
from vidpose.methods.base import Method, topdown_objective
from vidpose.models.config import TopDownConfig, bad, check_positive


@dataclass
class Config(TopDownConfig):
    method: ClassVar[str] = "dkd"
    input_size: tuple[int, int] = (128, 96)  # (H, W): the shipped simplebaseline's
    initializer: str = "simplebaseline"  # the large network: shipped name, checkpoint path or blazepose-heavy/full/lite
    sigma: float = 2.0  # Gaussian heatmap sigma (heatmap pixels)
    encoder_channels: int = 16  # C: channels of the small frame encoder's features (times width)
    kernel_size: int = 3  # s: pose kernels are C x s x s
    attention_kernels: bool = True  # kernels start from each joint's heatmap-weighted feature patch (ours)
    heatmap_prior: bool = True  # add the previous frame's heatmaps (per-joint gain) to the matching (ours)
    distillator: bool = True  # false: the small network alone (heatmap head on the encoder)
    adversarial_weight: float = 1.0  # weight of the temporal discriminator's term (0 = off)
    adversarial_length: int = 4  # frames per heatmap sequence the discriminator judges
    free_running: bool = False  # training: previous heatmaps are the model's own (true) or the initializer's
    reinit_every: int = 16  # run the initializer every N frames of a track (0 = never periodically)
    reinit_confidence: float = 0.3  # ... and when the mean joint confidence falls below this (0 = never)

    def validate(self) -> None:
        super().validate()
        if self.heatmap_stride != 4:
            raise bad("heatmap_stride", f"is fixed at 4 for dkd (the encoder's stride), got {self.heatmap_stride}")
        self.check_grid(8, "dkd, multiples of 8")
        check_positive(self.sigma, "sigma")
        for key in ("encoder_channels", "kernel_size", "adversarial_length"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise bad(key, f"must be a positive integer, got {v!r}")
        if self.kernel_size % 2 == 0:
            raise bad("kernel_size", f"must be odd (same-size matching), got {self.kernel_size}")
        if isinstance(self.reinit_every, bool) or not isinstance(self.reinit_every, int) or self.reinit_every < 0:
            raise bad("reinit_every", f"must be an integer >= 0, got {self.reinit_every!r}")
        for key in ("adversarial_weight", "reinit_confidence"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise bad(key, f"must be >= 0, got {v!r}")
        if not isinstance(self.initializer, str) or not self.initializer:
            raise bad("initializer", f"must name a model, got {self.initializer!r}")


def needs_reinit(frames_since_init: int, confidence: float, cfg: Config) -> bool:
    """The re-initialisation policy: True when the initializer should run on this frame of a track
    that was last initialised ``frames_since_init`` frames ago and whose previous frame had mean
    joint confidence ``confidence``."""
    if cfg.reinit_every and frames_since_init >= cfg.reinit_every:
        return True
    return bool(cfg.reinit_confidence and confidence < cfg.reinit_confidence)


def match_kernels(features: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """Matching: features (B, C, h, w) correlated with each sample's kernels (B, K, C, s, s) ->
    (B, K, h, w), one grouped convolution (the batch folded into the groups), zero padding."""
    b, c, h, w = features.shape
    k, s = kernels.shape[1], kernels.shape[-1]
    if kernels.shape[0] != b or kernels.shape[2] != c:
        raise InputError(f"kernels {tuple(kernels.shape)} do not fit features {tuple(features.shape)}")
    out = F.conv2d(features.reshape(1, b * c, h, w), kernels.reshape(b * k, c, s, s), padding=s // 2, groups=b)
    return out.reshape(b, k, h, w)


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _separable(c: int, relu: bool = True) -> nn.Sequential:
    """Depthwise 3x3 + pointwise 1x1 (what keeps the encoder a small fraction of the initializer)."""
    layers = [nn.Conv2d(c, c, 3, 1, 1, groups=c, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
              nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c)]
    return nn.Sequential(*layers, *([nn.ReLU(inplace=True)] if relu else []))


class FrameEncoder(nn.Module):
    """image (B, 3, H, W) -> features (B, C, H/4, W/4)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.net = nn.Sequential(_conv(3, max(4, (3 * c) // 4), 2), _conv(max(4, (3 * c) // 4), c, 2),
                                 _separable(c), _separable(c, relu=False))  # signed features for matching

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class KernelDistillator(nn.Module):
    """(features (B, C, h, w), heatmaps (B, K, h, w)) -> pose kernels (B, K, C, s, s).

    The paper's path: concat(F, H) -> convs -> adaptive pool to s x s -> 1x1 conv to K*C. With
    ``attention`` (ours) the kernels are that path's output added to each joint's heatmap-weighted
    mean of the s x s feature patches (what the joint looked like in the previous frame); the conv
    path starts at zero, so training starts from kernels that already match the joint's appearance."""

    def __init__(self, c: int, k: int, s: int, attention: bool = True) -> None:
        super().__init__()
        self.c, self.k, self.s, self.attention = c, k, s, attention
        hidden = 2 * c
        self.body = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(c + k, hidden, 3, padding=1), nn.ReLU(inplace=True),
                                  nn.AdaptiveAvgPool2d(s))
        self.to_kernels = nn.Conv2d(hidden, k * c, 1)
        if attention:
            nn.init.zeros_(self.to_kernels.weight)
            nn.init.zeros_(self.to_kernels.bias)

    def forward(self, features: torch.Tensor, heatmaps: torch.Tensor) -> torch.Tensor:
        b = features.shape[0]
        z = self.to_kernels(self.body(torch.cat([features, heatmaps], dim=1)))  # (B, K*C, s, s)
        z = z.reshape(b, self.k, self.c, self.s, self.s)
        if self.attention:
            w = heatmaps.clamp(min=0.0).flatten(2)  # (B, K, h*w)
            w = w / w.sum(dim=2, keepdim=True).clamp(min=1e-6)
            patches = F.unfold(features, self.s, padding=self.s // 2)  # (B, C*s*s, h*w)
            z = z + torch.bmm(w, patches.transpose(1, 2)).reshape(b, self.k, self.c, self.s, self.s)
        return z


class TemporalDiscriminator(nn.Module):
    """Heatmap sequences (B, L, K, h, w) -> realness score (B,)."""

    def __init__(self, k: int, length: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(k * length, 32, 3, 2, 1), nn.LeakyReLU(0.2, inplace=True),
                                 nn.Conv2d(32, 32, 3, 2, 1), nn.LeakyReLU(0.2, inplace=True),
                                 nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 1))

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        return self.net(seq.flatten(1, 2)).squeeze(1)


class BlazePoseInitializer:
    """A BlazePose landmark model as the initializer: crops (B, 3, H, W) normalised -> heatmaps
    (B, K, h, w) of its keypoints (BlazePose-33 converted to COCO-17) encoded with ``codec``."""

    def __init__(self, spec: str, codec) -> None:
        from vidpose.methods.base import BLAZEPOSE_TEACHERS, BlazePoseTeacher

        self.teacher = BlazePoseTeacher(BLAZEPOSE_TEACHERS[spec])
        self.codec = codec

    def __call__(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        kp = self.teacher(images).numpy()
        kp[:, :, 2] = 1.0
        hm = np.stack([self.codec.encode(k)["heatmaps"] for k in kp])
        return {"heatmaps": torch.from_numpy(hm).to(images.dtype)}


def load_initializer(cfg: Config, codec):
    """The frozen large network ``cfg.initializer`` (InputError when its geometry does not fit)."""
    from vidpose.methods import load
    from vidpose.methods.base import BLAZEPOSE_TEACHERS

    if cfg.initializer in BLAZEPOSE_TEACHERS:
        if cfg.num_keypoints != 17:
            raise InputError(f"model.initializer {cfg.initializer!r} gives COCO-17 keypoints; num_keypoints is "
                             f"{cfg.num_keypoints}")
        return BlazePoseInitializer(cfg.initializer, codec)

    net = load(cfg.initializer)
    got = (tuple(net.cfg.input_size), int(net.cfg.num_keypoints), int(getattr(net.cfg, "heatmap_stride", 0)))
    want = (tuple(cfg.input_size), cfg.num_keypoints, cfg.heatmap_stride)
    if got != want or "heatmaps" not in net.output_keys:
        raise InputError(f"model.initializer {cfg.initializer!r}: a {net.method} model with input {got[0]}, "
                         f"{got[1]} keypoints, heatmap stride {got[2]}; dkd needs heatmaps at input {want[0]}, "
                         f"{want[1]} keypoints, stride {want[2]}")
    for p in net.parameters():
        p.requires_grad_(False)
    return net.float().eval()


class DKD(nn.Module):
    """Clips (B, T, 3, H, W) -> per-frame heatmaps; tracks frame by frame with :meth:`track_step`."""

    stateful = True  # the top-down backend keeps one state per track (see track_step)

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        from vidpose.models.codecs import GaussianHeatmapCodec

        self.method, self.cfg = METHOD.name, cfg
        self.extra: dict = {}
        k, c, s = cfg.num_keypoints, cfg.channels(cfg.encoder_channels), cfg.kernel_size
        self.codec = GaussianHeatmapCodec(cfg.input_size, 4, k, sigma=cfg.sigma)
        self.encoder = FrameEncoder(c)
        if cfg.distillator:
            self.distill = KernelDistillator(c, k, s, cfg.attention_kernels)
            self.match_scale = nn.Parameter(torch.full((k,), 1e-3))  # starts near the flat map; learns its gain
            self.match_bias = nn.Parameter(torch.zeros(k))
            self.prior_gain = nn.Parameter(torch.ones(k)) if cfg.heatmap_prior else None
            self.head = None
        else:
            self.distill = None
            self.prior_gain = None
            self.head = nn.Conv2d(c, k, 3, padding=1)
        self.discriminator = TemporalDiscriminator(k, cfg.adversarial_length) if cfg.adversarial_weight > 0 else None
        # The frozen initializer is kept outside the module tree: not trained, not in the checkpoint.
        object.__setattr__(self, "initializer", load_initializer(cfg, self.codec) if cfg.distillator else None)
        self.counts = {"initializer": 0, "small": 0}

    @property
    def output_keys(self) -> tuple[str, ...]:
        return self.codec.output_keys

    # -- parts --

    def _initial(self, images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            self.counts["initializer"] += len(images)
            return self.initializer(images)["heatmaps"].to(images.dtype)

    def _small(self, features: torch.Tensor, kernels: torch.Tensor | None, prev: torch.Tensor | None = None) -> torch.Tensor:
        if self.head is not None:
            return self.head(features)
        hm = match_kernels(features, kernels)
        hm = hm * self.match_scale[None, :, None, None] + self.match_bias[None, :, None, None]
        if self.prior_gain is not None and prev is not None:
            hm = hm + self.prior_gain[None, :, None, None] * prev
        return hm

    # -- training --

    def forward(self, clips: torch.Tensor) -> dict[str, Any]:
        """clips (B, T, 3, H, W) (or crops (B, 3, H, W), one frame) -> {"heatmaps": the last frame's
        (B, K, h, w), "sequence": every frame's (B, T, K, h, w), "initial": frame 0 from the initializer}."""
        if clips.dim() == 4:
            clips = clips[:, None]
        if clips.dim() != 5 or clips.shape[2] != 3:
            raise InputError(f"clips: expected (B, T, 3, H, W), got {tuple(clips.shape)}")
        b, t = clips.shape[:2]
        feats = self.encoder(clips.flatten(0, 1)).unflatten(0, (b, t))
        if self.distill is None:
            seq = self.head(feats.flatten(0, 1)).unflatten(0, (b, t))
            return {"heatmaps": seq[:, -1], "sequence": seq, "initial": None}
        guides = None
        if not self.cfg.free_running and t > 1:  # teacher forcing: every previous frame from the initializer
            guides = self._initial(clips[:, :-1].flatten(0, 1)).unflatten(0, (b, t - 1))
            prev = guides[:, 0]
        else:
            prev = self._initial(clips[:, 0])
        frames = [prev]
        for i in range(1, t):
            kernels = self.distill(feats[:, i - 1], prev)
            hm = self._small(feats[:, i], kernels, prev)
            frames.append(hm)
            prev = guides[:, i] if guides is not None and i < t - 1 else hm
        seq = torch.stack(frames, dim=1)
        return {"heatmaps": seq[:, -1], "sequence": seq, "initial": frames[0]}

    def loss(self, outputs: dict[str, Any], targets: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        """Heatmap loss on every frame the small network predicted (all frames without the
        distillator, frames 1.. with it) + the adversarial terms over the last L frames."""
        seq = outputs["sequence"]
        hm_t = targets["heatmaps"].to(seq.dtype)
        w_t = targets["weights"].to(seq.dtype)
        first = 0 if self.distill is None else 1
        if seq.shape[1] <= first:
            raise InputError("dkd trains on clips of at least 2 frames (data.clip_length >= 3)")
        pred = seq[:, first:].flatten(0, 1)
        total, _ = self.codec.loss({"heatmaps": pred}, {"heatmaps": hm_t[:, first:].flatten(0, 1),
                                                         "weights": w_t[:, first:].flatten(0, 1)})
        parts = {"loss_heatmap": float(total.detach())}
        if self.discriminator is not None:
            L = self.cfg.adversarial_length
            if seq.shape[1] < L:
                raise InputError(f"model.adversarial_length {L} is longer than the clips ({seq.shape[1]} frames)")
            real = hm_t[:, -L:] * w_t[:, -L:, :, None, None]
            fake = seq[:, -L:] * w_t[:, -L:, :, None, None]
            d_loss = 0.5 * ((self.discriminator(real) - 1) ** 2).mean() + 0.5 * (self.discriminator(fake.detach()) ** 2).mean()
            frozen = {n: p.detach() for n, p in self.discriminator.named_parameters()}
            g_loss = 0.5 * ((torch.func.functional_call(self.discriminator, frozen, (fake,)) - 1) ** 2).mean()
            total = total + self.cfg.adversarial_weight * g_loss + d_loss
            parts.update(loss_adversarial=float(g_loss.detach()), loss_discriminator=float(d_loss.detach()))
        return total, {"loss": float(total.detach()), **parts}

    # -- inference --

    @torch.no_grad()
    def track_step(self, images: torch.Tensor, states: list[dict | None],
                   affines: np.ndarray | None = None, reinit: bool = True) -> tuple[torch.Tensor, list[dict]]:
        """One frame of B tracks: crops (B, 3, H, W) and each track's state (None for a new track) ->
        heatmaps (B, K, h, w) and the new states ({"kernels": (K, C, s, s), "heatmaps", "affine",
        "since": frames since the initializer ran, "confidence": mean joint score}).

        ``affines`` (B, 2, 3), image <- crop of each crop: when a track's crop moved since its
        previous frame, its previous heatmaps (the location prior) are moved into the new crop.
        ``reinit = False``: the initializer runs on a new track's first frame only (no re-init policy)."""
        if len(states) != len(images):
            raise InputError(f"track_step: {len(images)} crops but {len(states)} states")
        was = self.training
        self.eval()
        try:
            feats = self.encoder(images)
            self.counts["small"] += len(images)
            if self.distill is None:
                hm = self.head(feats)
                return hm, [{} for _ in states]
            init = [st is None or (reinit and needs_reinit(st["since"], st["confidence"], self.cfg)) for st in states]
            hm = torch.empty(len(images), self.cfg.num_keypoints, *feats.shape[-2:], dtype=feats.dtype)
            idx_init = [i for i, v in enumerate(init) if v]
            idx_small = [i for i, v in enumerate(init) if not v]
            if idx_init:
                hm[idx_init] = self._initial(images[idx_init])
            if idx_small:
                kernels = torch.stack([states[i]["kernels"] for i in idx_small])
                prev = None
                if self.prior_gain is not None:
                    prev = torch.stack([self._prior(states[i], None if affines is None else affines[i])
                                        for i in idx_small])
                hm[idx_small] = self._small(feats[idx_small], kernels, prev)
            new_kernels = self.distill(feats, hm)
            conf = hm.flatten(2).amax(dim=2).clamp(0.0, 1.0).mean(dim=1)  # the codec's peak scores, undecoded
            new = [{"kernels": new_kernels[i], "heatmaps": hm[i] if self.prior_gain is not None else None,
                    "affine": None if affines is None else np.asarray(affines[i], np.float64),
                    "since": 1 if init[i] else states[i]["since"] + 1,
                    "confidence": float(conf[i]), "initialised": bool(init[i])} for i in range(len(images))]
            return hm, new
        finally:
            self.train(was)

    def _prior(self, state: dict, affine: np.ndarray | None) -> torch.Tensor:
        """The track's previous heatmaps (K, h, w), moved into this frame's crop when both crops' affines are known."""
        hm = state["heatmaps"]
        old = state.get("affine")
        if affine is None or old is None or np.allclose(old, affine):
            return hm
        import cv2

        from vidpose.geometry import invert_affine

        st = self.codec.stride  # heatmap cell (u, v) <-> crop pixel (st * u, st * v)
        to_px = np.array([[st, 0.0, 0.0], [0.0, st, 0.0], [0.0, 0.0, 1.0]])
        to_cell = np.array([[1.0 / st, 0.0, 0.0], [0.0, 1.0 / st, 0.0], [0.0, 0.0, 1.0]])
        full = lambda m: np.vstack([np.asarray(m, np.float64), [0.0, 0.0, 1.0]])  # noqa: E731
        m = (to_cell @ full(invert_affine(affine)) @ full(old) @ to_px)[:2]  # old cells -> new cells
        h, w = hm.shape[-2:]
        maps = hm.float().numpy()
        moved = np.stack([cv2.warpAffine(c, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0.0) for c in maps])
        return torch.from_numpy(moved).to(hm.dtype)

    def predict(self, clips: torch.Tensor) -> torch.Tensor:
        """clips (B, T, 3, H, W) -> the centre frame's keypoints (B, K, 3), tracked from frame 0
        without re-initialisation (so validation scores what the small network tracked; a single
        crop (B, 3, H, W) is one frame: the initializer's estimate)."""
        if clips.dim() == 4:
            clips = clips[:, None]
        c = clips.shape[1] // 2
        states: list = [None] * len(clips)
        for i in range(c + 1):
            hm, states = self.track_step(clips[:, i], states, reinit=False)
        return torch.from_numpy(self.codec.decode({"heatmaps": hm.float().numpy()}))

    def raw_outputs(self, images) -> dict[str, np.ndarray]:
        """Runner interface without track state: every crop is a track's first frame."""
        hm, _ = self.track_step(torch.as_tensor(np.asarray(images, np.float32)), [None] * len(images))
        return {"heatmaps": hm.float().numpy()}

    def raw_outputs_tracked(self, images, states: list, affines=None) -> tuple[dict[str, np.ndarray], list]:
        """Runner interface with per-track state (what the top-down backend calls for a stateful model);
        ``affines`` (B, 2, 3) image <- crop."""
        hm, new = self.track_step(torch.as_tensor(np.asarray(images, np.float32)), list(states), affines)
        return {"heatmaps": hm.float().numpy()}, new

    def small_flops_model(self) -> nn.Module:
        """The per-frame work of a tracked (not re-initialised) frame, for FLOP counting:
        encoder + matching + next kernels."""
        return _SmallStep(self)


class _SmallStep(nn.Module):
    def __init__(self, dkd: DKD) -> None:
        super().__init__()
        self.dkd = dkd
        self.cfg = dkd.cfg

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.dkd
        f = d.encoder(x)
        if d.distill is None:
            return d.head(f)
        k = d.cfg.num_keypoints
        kernels = torch.zeros(len(x), k, f.shape[1], d.cfg.kernel_size, d.cfg.kernel_size)
        prev = torch.zeros(len(x), k, *f.shape[-2:]) if d.prior_gain is not None else None
        hm = d._small(f, kernels, prev)
        return d.distill(f, hm)


def build(cfg: Config) -> DKD:
    return DKD(cfg)


def objective(train_cfg, model):
    """Labelled clips (the clip objective), or with ``data.teacher`` clips whose targets are the
    teacher's keypoints (the distillation objective on clips; no labels read)."""
    if train_cfg.data.clip_length < 3:
        raise InputError(f"config: data.clip_length is {train_cfg.data.clip_length}; dkd trains on clips of at "
                         "least 3 frames")
    if train_cfg.data.teacher:  # the top-down methods' distillation (clip-aware)
        return topdown_objective(train_cfg, model)
    from vidpose.objectives.clips import ClipObjective

    return ClipObjective(train_cfg, model)


METHOD = Method("dkd", Config, build, objective,
                "DKD: large initializer + small encoder with pose kernels distilled from the previous frame")
