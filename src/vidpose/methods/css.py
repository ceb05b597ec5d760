"""Disentangled contrastive self-supervision from monocular video (Honari, Constantin, Rhodin,
Salzmann, Fua; TPAMI 2023, arXiv 2012.01511) — a clean-room implementation at CPU scale.

``css`` (pretraining, unlabelled clips): a convolutional encoder maps each person crop to a latent
``z = [z_pose, z_app]`` (time-variant ``pose_dim`` + time-invariant ``appearance_dim``). The loss is
a sum of switchable terms (each one absent from the loss and its log when switched off):

* ``contrast_on = "pose"``: InfoNCE on ``z_pose`` with temporal positives (frames of the same clip
  at most ``positive_window`` frames apart); all other frames of the batch are negatives
  (:func:`vidpose.objectives.unlabelled.info_nce`). ``"full"`` applies it to the whole latent
  (the standard-contrastive baseline), ``"none"`` not at all;
* ``reconstruction``: a decoder rebuilds frame t from ``(z_pose(t), z_app(t'))``, t' another frame
  of the same clip when ``swap_appearance`` (so the invariant part must carry what all frames of a
  clip share: the person's appearance and the background), MSE on the normalised crop;
* ``gradual``: a margin ranking term on the contrasted latent's cosine similarities, so they fall
  monotonically with the temporal distance (:func:`vidpose.objectives.unlabelled.gradual_ranking`).

Trained through :class:`vidpose.objectives.unlabelled.ContrastiveClipObjective` (clips of
``data.clip_length`` frames, ``frame_stride`` apart).

``css-probe``: the same encoder plus a small MLP regressing 2D keypoints (crop coordinates in
[-1, 1]) and root-relative 3D joints (metres) from ``z_pose`` (``latent = "pose"``) or the whole
latent (``"full"``). With ``freeze_encoder`` the encoder is the pretrained one (``run.init_from`` a
``css`` checkpoint: the tensor names match) and only the head learns — the probe of the paper;
without it and without ``init_from`` it is the from-scratch baseline. Trained through
:class:`vidpose.objectives.probe.ProbeObjective` on ``label_fraction`` of the labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from vidpose.methods.base import Method
from vidpose.models.config import bad, check_positive

CONTRAST_ON = ("pose", "full", "none")
LATENTS = ("pose", "full")
NEGATIVES = ("batch", "clip")


@dataclass
class EncoderConfig:
    """The encoder's shape: shared by ``css`` and ``css-probe`` (so a probe loads a pretrained encoder)."""

    input_size: tuple[int, int] = (64, 64)  # (H, W), multiples of 16
    num_keypoints: int = 17
    channels: int = 16  # first stage; doubled at each of the 4 stride-2 stages
    pose_dim: int = 32  # time-variant part of the latent
    appearance_dim: int = 32  # time-invariant part

    def __post_init__(self) -> None:
        if isinstance(self.input_size, list):
            self.input_size = tuple(self.input_size)  # type: ignore[assignment]
        self.validate()

    def validate(self) -> None:
        if not (isinstance(self.input_size, tuple) and len(self.input_size) == 2
                and all(isinstance(v, int) and v > 0 and v % 16 == 0 for v in self.input_size)):
            raise bad("input_size", f"must be (H, W), multiples of 16, got {self.input_size!r}")
        for key in ("num_keypoints", "channels", "pose_dim", "appearance_dim"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise bad(key, f"must be a positive integer, got {v!r}")


@dataclass
class Config(EncoderConfig):
    method: ClassVar[str] = "css"
    contrast_on: str = "pose"  # pose | full | none
    reconstruction: bool = True
    swap_appearance: bool = True  # decode frame t with the appearance part of another frame of its clip
    gradual: bool = True
    temperature: float = 0.1
    negatives: str = "batch"  # batch: other clips' frames are negatives too | clip: only the own clip's distant frames
    positive_window: int = 2  # frames; |dt| <= this are positives
    frame_stride: int = 2  # frames between the clip's samples
    gradual_margin: float = 0.2
    w_contrastive: float = 1.0
    w_reconstruction: float = 1.0
    w_gradual: float = 1.0

    def validate(self) -> None:
        super().validate()
        if self.contrast_on not in CONTRAST_ON:
            raise bad("contrast_on", f"is {self.contrast_on!r}; known: {', '.join(CONTRAST_ON)}")
        if self.negatives not in NEGATIVES:
            raise bad("negatives", f"is {self.negatives!r}; known: {', '.join(NEGATIVES)}")
        if self.gradual and self.contrast_on == "none":
            raise bad("gradual", "needs a contrasted latent (contrast_on pose or full)")
        for key in ("temperature", "positive_window", "frame_stride", "w_contrastive", "w_reconstruction",
                    "w_gradual"):
            check_positive(getattr(self, key), key)
        if not self.gradual_margin >= 0:
            raise bad("gradual_margin", f"must be >= 0, got {self.gradual_margin!r}")


@dataclass
class ProbeConfig(EncoderConfig):
    method: ClassVar[str] = "css-probe"
    latent: str = "pose"  # pose | full: what the regressor sees
    freeze_encoder: bool = True
    hidden: int = 256
    label_fraction: float = 1.0  # of the training subset's labelled crops
    epoch_samples: int = 4096  # samples per epoch (the labelled ones repeated): equal steps for every fraction
    root_joints: tuple[int, ...] = (11, 12)  # 3D root: their mean (COCO-17 hips)
    w_3d: float = 4.0  # weight of the 3D term (metres) against the 2D one ([-1, 1] crop coordinates)

    def validate(self) -> None:
        super().validate()
        if isinstance(self.root_joints, list):
            self.root_joints = tuple(self.root_joints)
        if self.latent not in LATENTS:
            raise bad("latent", f"is {self.latent!r}; known: {', '.join(LATENTS)}")
        check_positive(self.hidden, "hidden")
        if not 0.0 < self.label_fraction <= 1.0:
            raise bad("label_fraction", f"must be in (0, 1], got {self.label_fraction!r}")
        if self.epoch_samples < 0:
            raise bad("epoch_samples", f"must be >= 0, got {self.epoch_samples!r}")
        if not self.root_joints or not all(0 <= j < self.num_keypoints for j in self.root_joints):
            raise bad("root_joints", f"must be keypoint indices below {self.num_keypoints}, got {self.root_joints!r}")
        if not self.w_3d >= 0:
            raise bad("w_3d", f"must be >= 0, got {self.w_3d!r}")


def _block(cin: int, cout: int, up: bool = False) -> nn.Sequential:
    conv = (nn.ConvTranspose2d if up else nn.Conv2d)(cin, cout, 4, 2, 1)
    # No normalisation layer: BatchNorm's running statistics would change a frozen encoder in train
    # mode, and per-channel Group/InstanceNorm subtracts each crop's mean colour, i.e. the appearance.
    return nn.Sequential(conv, nn.LeakyReLU(0.1, inplace=True))


class Encoder(nn.Module):
    """(N, 3, H, W) -> (N, pose_dim + appearance_dim): four stride-2 conv stages and a linear map."""

    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__()
        c = cfg.channels
        self.convs = nn.Sequential(_block(3, c), _block(c, 2 * c), _block(2 * c, 4 * c), _block(4 * c, 8 * c))
        h, w = cfg.input_size
        self.fc = nn.Linear(8 * c * (h // 16) * (w // 16), cfg.pose_dim + cfg.appearance_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.convs(x).flatten(1))


class Decoder(nn.Module):
    """(N, D) -> (N, 3, H, W): the encoder mirrored."""

    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__()
        c, (h, w) = cfg.channels, cfg.input_size
        self.grid = (8 * c, h // 16, w // 16)
        self.fc = nn.Linear(cfg.pose_dim + cfg.appearance_dim, 8 * c * (h // 16) * (w // 16))
        self.deconvs = nn.Sequential(_block(8 * c, 4 * c, True), _block(4 * c, 2 * c, True), _block(2 * c, c, True),
                                     nn.ConvTranspose2d(c, 3, 4, 2, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconvs(torch.relu(self.fc(z)).unflatten(1, self.grid))


class CSSModel(nn.Module):
    """The self-supervised model: ``forward(clips (B, T, 3, H, W))`` -> dict ``z`` (B, T, D),
    ``recon`` (B, T, 3, H, W) or None, ``images`` (the input, the reconstruction target)."""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.method, self.cfg = "css", cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg) if cfg.reconstruction else None

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> (N, D) latent; ``[:, :pose_dim]`` is the pose part."""
        return self.encoder(images)

    def split(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(..., D) -> pose part (..., pose_dim), appearance part (..., appearance_dim)."""
        return z[..., : self.cfg.pose_dim], z[..., self.cfg.pose_dim:]

    def decode(self, z_pose: torch.Tensor, z_app: torch.Tensor) -> torch.Tensor:
        return self.decoder(torch.cat([z_pose, z_app], dim=-1))

    def appearance_partner(self, b: int, t: int, device) -> torch.Tensor:
        """(B, T) index of the frame whose appearance part rebuilds each frame: another frame of the
        same clip (a random shift while training, half the clip in eval), or itself without swapping."""
        frames = torch.arange(t, device=device).expand(b, t)
        if not self.cfg.swap_appearance or t < 2:
            return frames
        if self.training:
            shift = torch.randint(1, t, (b, 1), device=device)
        else:
            shift = torch.full((b, 1), max(t // 2, 1), device=device)
        return (frames + shift) % t

    def forward(self, clips: torch.Tensor) -> dict:
        b, t = clips.shape[:2]
        z = self.encode(clips.flatten(0, 1)).unflatten(0, (b, t))
        recon = None
        if self.decoder is not None:
            z_pose, z_app = self.split(z)
            partner = self.appearance_partner(b, t, z.device)
            z_app = torch.gather(z_app, 1, partner[..., None].expand(-1, -1, z_app.shape[-1]))
            recon = self.decode(z_pose.flatten(0, 1), z_app.flatten(0, 1)).unflatten(0, (b, t))
        return {"z": z, "recon": recon, "images": clips}

    def loss(self, outputs: dict, times: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """The switched-on terms, weighted and summed; the log has each term and ``loss``."""
        from vidpose.objectives.unlabelled import gradual_ranking, info_nce

        c = self.cfg
        z = outputs["z"]
        contrasted = self.split(z)[0] if c.contrast_on == "pose" else z
        terms: dict[str, tuple[float, torch.Tensor]] = {}
        if c.contrast_on != "none":
            terms["contrastive"] = (c.w_contrastive, info_nce(contrasted, times, c.positive_window, c.temperature,
                                                                c.negatives))
        if c.reconstruction:
            terms["reconstruction"] = (c.w_reconstruction, ((outputs["recon"] - outputs["images"]) ** 2).mean())
        if c.gradual:
            terms["gradual"] = (c.w_gradual, gradual_ranking(contrasted, times, c.gradual_margin))
        total = sum(w * v for w, v in terms.values()) if terms else z.sum() * 0.0
        return total, {"loss": float(total.detach()), **{k: float(v.detach()) for k, (_, v) in terms.items()}}


class ProbeModel(nn.Module):
    """Encoder + MLP head: ``forward(images (B, 3, H, W))`` -> dict ``keypoints`` (B, J, 2) crop
    coordinates in [-1, 1], ``joints_3d`` (B, J, 3) root-relative metres."""

    def __init__(self, cfg: ProbeConfig) -> None:
        super().__init__()
        self.method, self.cfg = "css-probe", cfg
        self.encoder = Encoder(cfg)
        if cfg.freeze_encoder:
            self.encoder.requires_grad_(False)
        d = cfg.pose_dim if cfg.latent == "pose" else cfg.pose_dim + cfg.appearance_dim
        j = cfg.num_keypoints
        self.head = nn.Sequential(nn.Linear(d, cfg.hidden), nn.ReLU(inplace=True), nn.Linear(cfg.hidden, cfg.hidden),
                                  nn.ReLU(inplace=True), nn.Linear(cfg.hidden, 5 * j))

    def features(self, images: torch.Tensor) -> torch.Tensor:
        if self.cfg.freeze_encoder:
            with torch.no_grad():
                z = self.encoder(images)
        else:
            z = self.encoder(images)
        return z[:, : self.cfg.pose_dim] if self.cfg.latent == "pose" else z

    def forward(self, images: torch.Tensor) -> dict:
        out = self.head(self.features(images)).unflatten(1, (self.cfg.num_keypoints, 5))
        return {"keypoints": out[..., :2], "joints_3d": out[..., 2:]}

    def to_crop_pixels(self, keypoints: torch.Tensor) -> torch.Tensor:
        """[-1, 1] crop coordinates (..., 2) -> crop pixels."""
        h, w = self.cfg.input_size
        return (keypoints + 1.0) * torch.tensor([(w - 1) / 2, (h - 1) / 2], dtype=keypoints.dtype)

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, J, 3) keypoints in crop pixels with score 1."""
        with torch.no_grad():
            xy = self.to_crop_pixels(self(images)["keypoints"])
        return torch.cat([xy, torch.ones_like(xy[..., :1])], dim=-1)

    def loss(self, outputs: dict, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        vis = batch["visible"].to(outputs["keypoints"].dtype)[..., None]
        l2d = (((outputs["keypoints"] - batch["keypoints"]) ** 2) * vis).sum() / vis.sum().clamp(min=1.0) / 2
        has = batch["has_3d"].to(outputs["joints_3d"].dtype)[:, None, None]
        per_pose = 3 * outputs["joints_3d"].shape[1]
        l3d = (((outputs["joints_3d"] - batch["joints_3d"]) ** 2) * has).sum() / (has.sum() * per_pose).clamp(min=1.0)
        total = l2d + self.cfg.w_3d * l3d
        return total, {"loss": float(total.detach()), "loss_2d": float(l2d.detach()), "loss_3d": float(l3d.detach())}


def build(cfg: Config) -> CSSModel:
    return CSSModel(cfg)


def build_probe(cfg: ProbeConfig) -> ProbeModel:
    return ProbeModel(cfg)


def objective(train_cfg, model):
    from vidpose.objectives.unlabelled import ContrastiveClipObjective

    return ContrastiveClipObjective(train_cfg, model)


def probe_objective(train_cfg, model):
    from vidpose.objectives.probe import ProbeObjective

    return ProbeObjective(train_cfg, model)


METHOD = Method("css", Config, build, objective,
                "disentangled contrastive self-supervision from video (Honari et al. 2023): encoder pretraining")
PROBE_METHOD = Method("css-probe", ProbeConfig, build_probe, probe_objective,
                      "a pose regressor (2D + 3D) on a css encoder's latent, frozen or trained from scratch")
