"""DTN, the Domain Transfer Network (Taigman, Polyak & Wolf 2017, "Unsupervised Cross-Domain Image
Generation"): a one-way translator G = g o f from a source domain (A, e.g. face photos) to a target
domain (B, e.g. emoji), where f is a fixed encoder and g a decoder trained so that

- f is constant under G on source images: f(G(x)) ~ f(x) (L_CONST),
- G is the identity on target images: G(y) ~ y (L_TID),
- a three-way D cannot tell G(source), G(target) and real target images apart (L_GAN),
- G(x) is smooth (total variation, L_TV).

f here: the paper used a face-recognition network (DeepFace) trained on millions of labelled faces.
ganforge downloads no weights: f is a convolutional encoder ganforge fits itself, on the source
domain, during the run's first ``--encoder-steps`` iterations, in one of two ways (``--encoder``):

- ``classifier`` (the paper's kind of f): f is the trunk of a classifier of the source domain's own
  classes. A head (LeakyReLU, then a linear layer to the data set's classes) on f's features is fitted
  with cross-entropy on the labelled source images of each batch; f's features are then the
  classifier's penultimate layer, as DeepFace's were. At the same time g is fitted to decode f's
  features back to the source image (mean squared error, with f's features detached, so the
  reconstruction does not shape f): g starts the GAN phase as a decoder of f, as in the auto-encoder
  mode, instead of from noise.
- ``autoencoder``: f is the encoder of an auto-encoder g(f(a)) ~ a fitted on the source domain (the
  way when the source has no labels); g starts from its decoder.
- ``auto`` (the default): ``classifier`` when the source domain's images carry at least two classes,
  else ``autoencoder``; resolved once the data set is known (``for_data``), and the head's size is
  kept in the model config (``source_classes``), so a checkpoint rebuilds the same networks.

We fit the classifier inside the run (its encoder phase) rather than reusing ``ganforge features
fit``'s extractor file: f must have DTN's shape (its features are g's input, ``--latent-dim`` of them,
at the run's resolution), it then lives in the run's checkpoint and resumes exactly with it, and no
second file has to travel with the run. The fitting code is the trainer's own (one phase of the loss).

After the encoder phase f (and the head) are frozen: they are never updated again, and L_CONST's
gradient reaches g through f's input only.

Networks: f is DCGAN's discriminator body without normalisation (strided 4x4 convs, LeakyReLU 0.2)
and a 4x4 conv to ``--latent-dim`` features; g is DCGAN's generator from those features (batch
norm, ReLU, tanh); D is DCGAN's discriminator with three logits. ``G(real, mode)`` runs one forward
of what the phase needs (DDP sees one per update). The losses are ``ganforge.losses.dtn``.

Where we differ: f is fitted on the source domain of the run's data set (a classifier of its few
labelled classes, or an auto-encoder), not a pretrained network of identities, so "constant under f"
means "keeps what that classifier tells apart" or "keeps what f's reconstruction keeps" (pose,
shading, hair outline) rather than identity; the paper's weights alpha = 100 (L_CONST), beta = 1
(L_TID), gamma = 0.05 (L_TV) are the defaults and configurable; f's features are compared with the
mean squared error, as the paper's face experiment did.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch.func import functional_call

from ganforge.config import ModelConfig, Option
from ganforge.errors import ConfigError
from ganforge.models.dcgan import _widths, init_weights  # noqa: F401 - DCGAN's widths and initialisation

ENCODER_STEPS = Option("encoder_steps", 500, "dtn: first iterations spent fitting the encoder f on the source domain "
                                              "A (see --encoder); f is frozen after them")
ENCODER = Option("encoder", "auto", "dtn: what fits f: 'classifier' (the trunk of a classifier of the source domain's "
                                    "classes), 'autoencoder' (an auto-encoder's encoder), 'auto' (classifier when the "
                                    "source images carry classes)", choices=("auto", "classifier", "autoencoder"))
SOURCE_CLASSES = Option("source_classes", 0, "dtn: size of f's classification head (the data set's classes; set from "
                                             "the data set when --encoder resolves to classifier)", cli=False)
CONST_WEIGHT = Option("const_weight", 100.0, "dtn: alpha, weight of L_CONST (f(G(x)) ~ f(x) on source images)")
TID_WEIGHT = Option("tid_weight", 1.0, "dtn: beta, weight of L_TID (G(y) ~ y on target images)")
TV_WEIGHT = Option("tv_weight", 0.05, "dtn: gamma, weight of the total variation of G(x)")
OPTIONS = (ENCODER_STEPS, CONST_WEIGHT, TID_WEIGHT, TV_WEIGHT, ENCODER, SOURCE_CLASSES)
WEIGHTS = (CONST_WEIGHT, TID_WEIGHT, TV_WEIGHT)
TWO_DOMAIN = True
TRANSLATOR = True
DIRECTIONS = ("a2b",)
LOSS = "dtn"
DDP_UNUSED_PARAMETERS = True  # the frozen f gets no gradient after its fitting


def check(cfg: ModelConfig) -> None:
    if not 16 <= cfg.resolution <= 128:
        raise ConfigError(f"dtn translates 16 to 128 px images, not {cfg.resolution}")
    if int(ENCODER_STEPS.value(cfg)) < 0 or min(float(o.value(cfg)) for o in WEIGHTS) < 0:
        raise ConfigError("dtn: --encoder-steps and the loss weights must not be negative")
    classes, mode = int(SOURCE_CLASSES.value(cfg)), ENCODER.value(cfg)
    if classes < 0 or classes == 1 or (classes and mode == "autoencoder"):
        raise ConfigError(f"dtn: a classification head of {classes} classes does not fit --encoder {mode}")


def source_classes(data) -> int:
    """How many classes the source domain A's images carry (labels >= 0 among them) in data set ``data``."""
    if data.labels is None:
        return 0
    labels = data.labels[data.domain_indices(0)]
    return len(set(labels[labels >= 0].tolist()))


def for_data(cfg: ModelConfig, data) -> None:
    """Resolve ``--encoder auto`` on data set ``data``: a classifier when its source domain carries classes.
    A classifier's head gets one logit per class of the data set (its label ids span both domains)."""
    mode, found = ENCODER.value(cfg), source_classes(data)
    if mode == "classifier" and found < 2:
        raise ConfigError(f"dtn --encoder classifier needs class labels on the source domain A ({found} class(es) in "
                          f"{data.path.name}); prepare it with labels, or use --encoder autoencoder")
    if mode != "autoencoder" and found >= 2:
        cfg.options["source_classes"] = len(data.classes)


def encoder(cfg: ModelConfig) -> nn.Sequential:
    """f: image (N, C, R, R) -> features (N, latent_dim, 1, 1)."""
    widths = list(reversed(_widths(cfg)))
    layers: list[nn.Module] = [nn.Conv2d(cfg.channels, widths[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
    for w_in, w_out in zip(widths[:-1], widths[1:]):
        layers += [nn.Conv2d(w_in, w_out, 4, 2, 1), nn.LeakyReLU(0.2, True)]
    layers += [nn.Conv2d(widths[-1], cfg.latent_dim, 4, 1, 0)]
    return nn.Sequential(*layers)


def decoder(cfg: ModelConfig) -> nn.Sequential:
    """g: features (N, latent_dim, 1, 1) -> image (N, C, R, R) in [-1, 1] (DCGAN's generator)."""
    widths = _widths(cfg)
    layers: list[nn.Module] = [nn.ConvTranspose2d(cfg.latent_dim, widths[0], 4, 1, 0, bias=False),
                               nn.BatchNorm2d(widths[0]), nn.ReLU(True)]
    for w_in, w_out in zip(widths[:-1], widths[1:]):
        layers += [nn.ConvTranspose2d(w_in, w_out, 4, 2, 1, bias=False), nn.BatchNorm2d(w_out), nn.ReLU(True)]
    layers += [nn.ConvTranspose2d(widths[-1], cfg.channels, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


class Generator(nn.Module):
    """G = g o f; f is fitted during the first ``--encoder-steps`` iterations, then used frozen. ``head``
    (classifier mode only): f's features -> logits of the data set's classes."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.f = encoder(cfg)
        self.g = decoder(cfg)
        classes = int(SOURCE_CLASSES.value(cfg))
        self.head = nn.Sequential(nn.LeakyReLU(0.2), nn.Linear(cfg.latent_dim, classes)) if classes else None

    def frozen_f(self, x: torch.Tensor) -> torch.Tensor:
        """f(x) with f's weights held fixed: gradients reach x only. (N, C, R, R) -> (N, latent_dim)."""
        params = {name: p.detach() for name, p in self.f.named_parameters()}
        return functional_call(self.f, params, (x,)).flatten(1)

    def forward(self, real: torch.Tensor, z: torch.Tensor | None = None, labels=None,
                mode: str = "translate") -> dict[str, torch.Tensor]:
        """real (N, 2, C, H, W); ``mode`` "encoder": fitting f and g on A, {"rec_a": g(f(a))} (auto-encoder)
        or {"rec_a": g(f(a) detached), "logits_a": head(f(a))} (classifier); "translate": {"g_src": G(a),
        "g_tgt": G(b), "f_src": f(a), "f_g_src": f(G(a))}."""
        a, b = real[:, 0], real[:, 1]
        if mode == "encoder":
            features = self.f(a)
            if self.head is None:
                return {"rec_a": self.g(features)}
            return {"rec_a": self.g(features.detach()), "logits_a": self.head(features.flatten(1))}
        f_a, f_b = self.frozen_f(a), self.frozen_f(b)
        # one pass over both domains' features: g's batch norm then normalises with statistics of the mixture,
        # which is what its running statistics (eval mode: translate, samples) average; two passes would
        # train it on per-domain statistics that eval mode never sees
        both = self.g(torch.cat([f_a, f_b])[:, :, None, None])
        g_src, g_tgt = both[: len(a)], both[len(a) :]
        return {"g_src": g_src, "g_tgt": g_tgt, "f_src": f_a, "f_g_src": self.frozen_f(g_src)}


class Discriminator(nn.Module):
    """Three-way: logits (N, 3) for "G of a source image", "G of a target image", "a real target image"."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        widths = list(reversed(_widths(cfg)))
        layers: list[nn.Module] = [nn.Conv2d(cfg.channels, widths[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(w_in, w_out, 4, 2, 1, bias=False), nn.BatchNorm2d(w_out), nn.LeakyReLU(0.2, True)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(widths[-1], 3, 4, 1, 0)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).flatten(1)

    def forward(self, x: torch.Tensor, labels=None) -> torch.Tensor:
        return self.head(self.body(x)).flatten(1)  # (N, 3)


def translate(G: Generator, x: torch.Tensor, direction: str) -> torch.Tensor:
    """Source images (N, C, R, R) -> target-domain images; DTN translates A to B only."""
    if direction != "a2b":
        raise ConfigError("a DTN translates one way only, from its source domain A to its target B (--direction a2b)")
    return G.g(G.f(x))


def f_constancy(G: Generator, x: torch.Tensor, translated: torch.Tensor) -> torch.Tensor:
    """How far f moves under G on sources x: mean ||f(G(x)) - f(x)||^2 / mean ||f(x)||^2 (0: f is constant)."""
    with torch.no_grad():
        fx, fgx = G.frozen_f(x), G.frozen_f(translated)
    return (fgx - fx).square().sum(1).mean() / fx.square().sum(1).mean().clamp_min(1e-12)


def preview(G: Generator, z: torch.Tensor, real: torch.Tensor) -> list[torch.Tensor]:
    """Sample-grid rows: source A, G(A), then target B, G(B) (which L_TID keeps close to B)."""
    a, b = real[:, 0], real[:, 1]
    return [a, G.g(G.f(a)), b, G.g(G.f(b))]
