"""CycleGAN's objective (Zhu et al. 2017, section 3 and 4): least-squares adversarial terms for both
directions, the cycle-consistency L1 loss (weight lambda, ``--cycle-weight``, 10), the identity
L1 loss (``--identity-weight`` x lambda, 0.5 lambda) and a history buffer of 50 generated images
per domain that the discriminators are shown instead of the newest ones half of the time
(Shrivastava et al. 2017), which the checkpoint keeps (``state_dict``) so resume is exact.

Order of one iteration, as the authors' code: the generators' update first (``new_batch``), then
the discriminators' on the same real batch, with the translations that update made (kept
detached per micro-batch, not recomputed) passed through the history buffer. D's objective is
halved, as in the paper ("we divide the objective by 2 while optimizing D").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganforge.losses.base import GANLoss, Phase, d_accuracy
from ganforge.losses.lsgan import lsgan_fake, lsgan_real


class HistoryBuffer:
    """Up to ``size`` past generated images; ``query(new)`` returns, per image, the new one or (half
    the time, once full) a stored one that the new one then replaces. Its random draws have their own
    generator, saved with the buffer."""

    def __init__(self, size: int, seed: int = 0):
        self.size = size
        self.images: list[torch.Tensor] = []
        self.gen = torch.Generator().manual_seed(seed)

    def query(self, new: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return new
        out = []
        for image in new.detach():
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand((), generator=self.gen) < 0.5:
                k = int(torch.randint(len(self.images), (), generator=self.gen))
                out.append(self.images[k].to(image.device))  # a resumed buffer is loaded on the CPU
                self.images[k] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)

    def state_dict(self) -> dict:
        return {"images": torch.stack([x.cpu() for x in self.images]) if self.images else None,
                "rng": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        stored = state.get("images")
        self.images = [] if stored is None else list(stored)
        self.gen.set_state(state["rng"])


class CycleGANLoss(GANLoss):
    name = "cyclegan"
    paper_optimiser = {"lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999}

    def __init__(self, augment=None, **kwargs):
        super().__init__(augment, **kwargs)
        o = self.family_options  # the cyclegan family's options (models/cyclegan.py: defaults and help)
        self.cycle_weight = float(o["cycle_weight"])
        self.identity_weight = float(o["identity_weight"])
        size = int(o["pool_size"])
        self.pools = [HistoryBuffer(size, seed=1), HistoryBuffer(size, seed=2)]  # fake A, fake B
        self._fakes: list[tuple[torch.Tensor, torch.Tensor]] = []  # G's translations, per micro-batch, for D

    def phases(self) -> list[Phase]:
        return [Phase("g_loss", "G", self.g_step), Phase("d_loss", "D", self.d_step, new_batch=False)]

    def _judge(self, D, a: torch.Tensor, b: torch.Tensor):
        if self.augment is not None:
            a, b = self.augment(a), self.augment(b)
        return D(a, b)

    def g_step(self, G, D, real, z, labels) -> tuple[torch.Tensor, dict]:
        a, b = real[:, 0], real[:, 1]
        out = G(real)
        logits_a, logits_b = self._judge(D, out["fake_a"], out["fake_b"])
        adv = lsgan_real(logits_a) + lsgan_real(logits_b)
        cycle = F.l1_loss(out["rec_a"], a) + F.l1_loss(out["rec_b"], b)
        loss = adv + self.cycle_weight * cycle
        stats = {"g_adv": adv.detach(), "cycle": cycle.detach()}
        if "idt_a" in out:
            identity = F.l1_loss(out["idt_a"], a) + F.l1_loss(out["idt_b"], b)
            loss = loss + self.cycle_weight * self.identity_weight * identity
            stats["identity"] = identity.detach()
        self._fakes.append((out["fake_a"].detach(), out["fake_b"].detach()))
        stats["g_loss"] = loss.detach()
        return loss, stats

    def d_step(self, G, D, real, z, labels) -> tuple[torch.Tensor, dict]:
        a, b = real[:, 0], real[:, 1]
        if self._fakes and len(self._fakes[0][0]) == len(a):
            fake_a, fake_b = self._fakes.pop(0)
        else:  # no G step before this one (another loss order): translate here
            self._fakes.clear()
            with torch.no_grad():
                out = G(real)
            fake_a, fake_b = out["fake_a"], out["fake_b"]
        fake_a, fake_b = self.pools[0].query(fake_a), self.pools[1].query(fake_b)
        n = len(a)
        logits_a, logits_b = self._judge(D, torch.cat([a, fake_a]), torch.cat([b, fake_b]))  # one pass per D
        d_a = 0.5 * (lsgan_real(logits_a[:n]) + lsgan_fake(logits_a[n:]))
        d_b = 0.5 * (lsgan_real(logits_b[:n]) + lsgan_fake(logits_b[n:]))
        loss = d_a + d_b
        real_logits = torch.cat([logits_a[:n], logits_b[:n]]).float()
        fake_logits = torch.cat([logits_a[n:], logits_b[n:]]).float()
        return loss, {"d_a": d_a.detach(), "d_b": d_b.detach(), "d_real": real_logits.mean().detach(),
                      "d_fake": fake_logits.mean().detach(), "d_acc": d_accuracy(real_logits, fake_logits, 0.5),
                      "d_loss": loss.detach()}

    def state_dict(self) -> dict:
        return {"pools": [p.state_dict() for p in self.pools]}

    def load_state_dict(self, state: dict) -> None:
        self._fakes.clear()
        for pool, saved in zip(self.pools, state.get("pools") or ()):
            pool.load_state_dict(saved)
