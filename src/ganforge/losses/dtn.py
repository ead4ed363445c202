"""The Domain Transfer Network's objective (Taigman, Polyak & Wolf 2017, section 3), with f fitted
first (``ganforge.models.dtn``).

For the first ``--encoder-steps`` iterations the only phase fits f on source images: the auto-encoder
g(f(a)) ~ a (mean squared error), or with ``--encoder classifier`` the cross-entropy of f's
classification head on the batch's labelled source images plus g's decoding of f's (detached)
features (mean squared error). Then each iteration is one D and one G update:

- D (three-way, cross-entropy): G(x) of a source x is class 0, G(y) of a target y class 1, a real
  target y class 2;
- G: L_GANG (both kinds of G(.) classified as real targets, class 2) + alpha L_CONST (mean squared
  distance between f(x) and f(G(x)) on sources, relative to the mean square of f(x): see relative_mse)
  + beta L_TID (mean squared distance between G(y) and y on targets) + gamma L_TV (total variation
  of G(x), the paper's B = 1: the mean over pixels of sqrt(dx^2 + dy^2)).

The iteration count that switches from fitting f to the GAN is the loss's state (checkpointed).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganforge.errors import ConfigError
from ganforge.losses.base import GANLoss, Phase


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean over pixels of the gradient magnitude of images (N, C, H, W)."""
    dx = x[..., :-1, 1:] - x[..., :-1, :-1]
    dy = x[..., 1:, :-1] - x[..., :-1, :-1]
    return (dx.float().square() + dy.float().square() + 1e-8).sqrt().mean()


def relative_mse(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared distance of ``x`` from ``target`` over the mean square of ``target`` (held fixed).

    L_CONST compares f's features, and the scale of our f is arbitrary: g begins with batch norm,
    which divides any scale away, so fitting the auto-encoder lets f's outputs shrink (to a standard
    deviation of about 0.01 in a 300-step fit) and the plain mean squared error, times alpha = 100,
    came to about 0.04 beside a GAN term of about 5: L_CONST was off. Relative to f(x)'s own size,
    alpha weighs the same whatever f's scale (a pretrained f, as in the paper, has a fixed one).
    """
    target = target.float()
    return F.mse_loss(x.float(), target) / target.square().mean().detach().clamp_min(1e-12)


class DTNLoss(GANLoss):
    name = "dtn"
    paper_optimiser = {"lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999}

    def __init__(self, augment=None, **kwargs):
        super().__init__(augment, **kwargs)
        o = self.family_options  # the dtn family's options (models/dtn.py: defaults and help)
        self.encoder_steps = int(o["encoder_steps"])
        self.alpha, self.beta, self.gamma = (float(o[k]) for k in ("const_weight", "tid_weight", "tv_weight"))
        self.iterations = 0  # iterations begun (phases() is asked once per iteration)

    def phases(self) -> list[Phase]:
        fitting = self.iterations < self.encoder_steps
        self.iterations += 1
        if fitting:
            return [Phase("f_loss", "G", self.encoder_step)]
        return [Phase("d_loss", "D", self.d_step), Phase("g_loss", "G", self.g_step, new_batch=False)]

    def encoder_step(self, G, D, real, z, labels):
        out = G(real, mode="encoder")
        rec = F.mse_loss(out["rec_a"].float(), real[:, 0].float())
        if "logits_a" not in out:
            return rec, {"f_loss": rec.detach()}
        if labels is None:
            raise ConfigError("dtn --encoder classifier: the batches carry no class labels")
        logits, y = out["logits_a"].float(), labels[:, 0]
        known = y >= 0  # unlabelled source images (label -1) only train g's decoding
        # mean over the labelled images; a sum over none is 0 and still reaches the head (DDP sees every parameter)
        ce = F.cross_entropy(logits, y.clamp_min(0), reduction="none").mul(known).sum() / known.sum().clamp_min(1)
        acc = ((logits.argmax(1) == y) & known).sum() / known.sum().clamp_min(1)
        loss = ce + rec
        return loss, {"f_loss": loss.detach(), "f_class": ce.detach(), "f_acc": acc.detach().float(),
                      "f_rec": rec.detach()}

    def _judge(self, D, x):
        return D(self.augment(x) if self.augment is not None else x).float()

    def d_step(self, G, D, real, z, labels):
        with torch.no_grad():
            out = G(real)
        n = len(real)
        logits = self._judge(D, torch.cat([out["g_src"], out["g_tgt"], real[:, 1]]))
        target = torch.arange(3, device=logits.device).repeat_interleave(n)
        loss = F.cross_entropy(logits, target)
        return loss, {"d_loss": loss.detach(), "d_acc": (logits.argmax(1) == target).float().mean().detach()}

    def g_step(self, G, D, real, z, labels):
        out = G(real)
        # D sees the same mixture as in its own step (batch norm's statistics depend on it: with translations
        # alone in the batch, D judges them by other statistics and G "fools" a D that wins its own step)
        n = len(real)
        logits = self._judge(D, torch.cat([out["g_src"], out["g_tgt"], real[:, 1]]))[: 2 * n]
        gan = F.cross_entropy(logits, torch.full((2 * n,), 2, device=logits.device))
        const = relative_mse(out["f_g_src"], out["f_src"])
        tid = F.mse_loss(out["g_tgt"].float(), real[:, 1].float())
        tv = total_variation(out["g_src"])
        loss = gan + self.alpha * const + self.beta * tid + self.gamma * tv
        return loss, {"g_gan": gan.detach(), "l_const": const.detach(), "l_tid": tid.detach(), "l_tv": tv.detach(),
                      "g_loss": loss.detach()}

    def state_dict(self) -> dict:
        return {"iterations": self.iterations}

    def load_state_dict(self, state: dict) -> None:
        self.iterations = int(state.get("iterations", 0))
