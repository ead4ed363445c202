"""Each loss on hand-computed cases: a generator that returns its latent as an image, and
discriminators whose outputs (and input gradients) are known in closed form."""

import math

import pytest
import torch
import torch.nn as nn

from ganforge.losses import LOSSES, gradient_penalty, r1_penalty


class IdentityG(nn.Module):
    """z (N, 4) -> image (N, 1, 2, 2): the fake images are the latents."""

    def forward(self, z, labels=None):
        return z.view(-1, 1, 2, 2)


class PixelD(nn.Module):
    """D(x) = x[:, 0, 0, 0]: a logit we choose by writing it into the first pixel."""

    def forward(self, x, labels=None):
        return x[:, 0, 0, 0]


class LinearD(nn.Module):
    """D(x) = <a, x>: input gradient a for every x, so |grad| = |a|."""

    def __init__(self, a):
        super().__init__()
        self.a = nn.Parameter(a)

    def forward(self, x, labels=None):
        return (x.flatten(1) * self.a).sum(1)


def images(first_pixels):
    x = torch.zeros(len(first_pixels), 1, 2, 2)
    x[:, 0, 0, 0] = torch.tensor(first_pixels)
    return x


REAL, FAKE = [2.0, 0.5], [-3.0, 0.25]  # D's logits on real and fake images


def _losses(name, **kw):
    loss = LOSSES[name](**kw)
    d, d_stats = loss.d_loss(IdentityG(), PixelD(), images(REAL), images(FAKE).flatten(1), None)
    g, g_stats = loss.g_loss(IdentityG(), PixelD(), images(FAKE).flatten(1), None)
    return d.item(), g.item(), d_stats, g_stats


def sp(x):
    return math.log1p(math.exp(x))


@pytest.mark.parametrize("name,d_expected,g_expected", [
    # D: softplus(-r) + softplus(f), means; G: softplus(-f)
    ("bce", (sp(-2) + sp(-0.5)) / 2 + (sp(-3) + sp(0.25)) / 2, (sp(3) + sp(-0.25)) / 2),
    # D: relu(1 - r) = [0, 0.5], relu(1 + f) = [0, 1.25]; G: -mean(f)
    ("hinge", 0.25 + 0.625, 1.375),
    # D: 0.5 (r - 1)^2 = [0.5, 0.125], 0.5 f^2 = [4.5, 0.03125]; G: 0.5 (f - 1)^2 = [8, 0.28125]
    ("lsgan", 0.3125 + 2.265625, 4.140625),
    # D: mean(f) - mean(r) (penalty off here); G: -mean(f)
    ("wgan-gp", -1.375 - 1.25, 1.375),
])
def test_loss_values(name, d_expected, g_expected):
    d, g, d_stats, g_stats = _losses(name, gp_weight=0.0)
    assert d == pytest.approx(d_expected, rel=1e-6)
    assert g == pytest.approx(g_expected, rel=1e-6)
    assert d_stats["d_loss"].item() == pytest.approx(d_expected, rel=1e-6)
    assert g_stats["g_loss"].item() == pytest.approx(g_expected, rel=1e-6)
    # both real logits and one fake (-3) are on the right side of 0 (of the midpoint -1/16 for
    # wgan-gp, of 0.5 for lsgan where the real 0.5 is not above it but the fake 0.25 is below)
    assert d_stats["d_acc"].item() == 0.75


def test_lsgan_accuracy_uses_its_own_boundary():
    real, fake = images([0.4, 0.6]), images([0.45, 0.1]).flatten(1)
    _, lsgan = LOSSES["lsgan"]().d_loss(IdentityG(), PixelD(), real, fake, None)
    _, bce = LOSSES["bce"]().d_loss(IdentityG(), PixelD(), real, fake, None)
    assert lsgan["d_acc"].item() == 0.75  # boundary 0.5: real 0.6 above, both fakes below
    assert bce["d_acc"].item() == 0.5     # boundary 0: both reals above, no fake below


def test_n_critic_defaults_and_override():
    assert LOSSES["wgan-gp"]().n_critic == 5
    assert LOSSES["bce"]().n_critic == 1 and LOSSES["hinge"]().n_critic == 1
    assert LOSSES["wgan-gp"](n_critic=2).n_critic == 2


def test_gradient_penalty_of_a_quadratic_critic():
    """critic(x) = |x|^2 / 2 has gradient x: GP = mean((|x_hat| - 1)^2) at x_hat = eps real + (1 - eps) fake."""
    real = torch.tensor([[3.0, 0.0], [0.0, 1.0]]).view(2, 1, 1, 2)
    fake = torch.tensor([[0.0, 4.0], [0.0, -1.0]]).view(2, 1, 1, 2)
    eps = torch.tensor([0.5, 0.25]).view(2, 1, 1, 1)
    # x_hat: [1.5, 2.0] (norm 2.5) and [0, -0.5] (norm 0.5): ((1.5)^2 + (-0.5)^2) / 2 = 1.25
    gp = gradient_penalty(lambda x: 0.5 * x.flatten(1).square().sum(1), real, fake, eps)
    assert gp.item() == pytest.approx(1.25)


def test_wgan_gp_loss_adds_the_penalty_of_a_linear_critic():
    """D(x) = <a, x> with |a| = 3: GP = (3 - 1)^2 = 4 whatever the interpolation."""
    a = torch.tensor([2.0, 1.0, 2.0, 0.0])
    D = LinearD(a)
    real, z = torch.randn(5, 1, 2, 2), torch.randn(5, 4)
    loss = LOSSES["wgan-gp"](gp_weight=10.0)
    d, stats = loss.d_loss(IdentityG(), D, real, z, None)
    adv = (z @ a).mean() - (real.flatten(1) @ a).mean()
    assert stats["gp"].item() == pytest.approx(4.0, rel=1e-5)
    assert d.item() == pytest.approx(adv.item() + 40.0, rel=1e-5)
    d.backward()  # the penalty is differentiable w.r.t. D's weights: d/da 10 (|a| - 1)^2 = 20 (|a| - 1) a / |a|
    expected = (z.mean(0) - real.flatten(1).mean(0)) + 20 * (3 - 1) * a / 3
    assert torch.allclose(D.a.grad, expected, atol=1e-4)


def test_r1_penalty_of_a_linear_d():
    a = torch.tensor([1.0, 2.0, 0.0, 2.0])
    real = torch.randn(3, 1, 2, 2, requires_grad=True)
    assert r1_penalty(LinearD(a)(real), real).item() == pytest.approx(9.0)
    loss = LOSSES["hinge"](r1_gamma=2.0)
    d, stats = loss.d_loss(IdentityG(), LinearD(a), torch.randn(3, 1, 2, 2), torch.randn(3, 4), None)
    assert stats["r1"].item() == pytest.approx(9.0)
    assert d.item() == pytest.approx(stats["d_adv"].item() + 9.0, rel=1e-5)  # gamma / 2 * 9


class AuxD(nn.Module):
    """Logits from the first pixel; class logits [0, log 3] for every image."""

    def forward(self, x, labels=None, with_classes=False):
        logits = x[:, 0, 0, 0]
        if with_classes:
            return logits, torch.tensor([[0.0, math.log(3.0)]]).expand(len(x), 2)
        return logits


def test_auxiliary_classifier_term():
    """Class probabilities (1/4, 3/4): cross-entropy log 4 for class 0, log 4/3 for class 1."""
    loss = LOSSES["hinge"](auxiliary_weight=0.5)
    labels = torch.tensor([0, 1])
    d, stats = loss.d_loss(IdentityG(), AuxD(), images(REAL), images(FAKE).flatten(1), labels)
    ce = (math.log(4) + math.log(4 / 3)) / 2
    assert stats["d_ac"].item() == pytest.approx(2 * ce)  # real and fake images
    assert d.item() == pytest.approx(0.875 + 0.5 * 2 * ce)
    g, g_stats = loss.g_loss(IdentityG(), AuxD(), images(FAKE).flatten(1), labels)
    assert g.item() == pytest.approx(1.375 + 0.5 * ce)


def test_augmentation_is_applied_to_real_and_fake_before_d():
    seen = []
    loss = LOSSES["bce"](augment=lambda x: seen.append(x.shape) or x * 0)
    d, stats = loss.d_loss(IdentityG(), PixelD(), images(REAL), images(FAKE).flatten(1), None)
    assert len(seen) == 2  # real and fake
    assert d.item() == pytest.approx(2 * math.log(2))  # every logit is 0 after the augmentation


# ---- RpGAN (R3GAN, Huang et al. 2024) with R1 and R2 ----------------------------------------------
class ShiftG(nn.Module):
    """z (N, 4) -> z + b as (N, 1, 2, 2): a generator with a weight, to see what reaches it."""

    def __init__(self):
        super().__init__()
        self.b = nn.Parameter(torch.tensor([0.5, -1.0, 0.0, 2.0]))

    def forward(self, z, labels=None):
        return (z + self.b).view(-1, 1, 2, 2)


class QuadraticD(nn.Module):
    """D(x) = <a, x> + c |x|^2 / 2: input gradient a + c x, different on real and fake images."""

    def __init__(self, a, c):
        super().__init__()
        self.a, self.c = nn.Parameter(a), nn.Parameter(torch.tensor(c))

    def forward(self, x, labels=None):
        x = x.flatten(1)
        return x @ self.a + 0.5 * self.c * x.square().sum(1)


def test_rpgan_loss_and_gradients_on_a_linear_d_match_closed_forms():
    """D(x) = <a, x>: D minimises mean softplus(<a, y - x>) + (g1 + g2) / 2 |a|^2 (R1 = R2 = |a|^2),
    so dL/da = mean sigmoid(<a, y - x>) (y - x) + (g1 + g2) a; G minimises mean softplus(<a, x - y>)."""
    torch.manual_seed(0)
    a = torch.tensor([1.0, -2.0, 0.5, 2.0])  # |a|^2 = 9.25
    real, z = torch.randn(5, 1, 2, 2), torch.randn(5, 4)
    D, G = LinearD(a.clone()), ShiftG()
    loss = LOSSES["rpgan"](r1_gamma=0.4, r2_gamma=1.0)
    d, stats = loss.d_loss(G, D, real, z, None)
    x, y = real.flatten(1), (z + G.b).detach()
    t = (y - x) @ a
    assert stats["r1"].item() == pytest.approx(9.25, rel=1e-5) and stats["r2"].item() == pytest.approx(9.25, rel=1e-5)
    assert stats["d_adv"].item() == pytest.approx(torch.nn.functional.softplus(t).mean().item(), rel=1e-5)
    assert d.item() == pytest.approx(stats["d_adv"].item() + 0.7 * 9.25, rel=1e-5)
    assert stats["d_acc"].item() == pytest.approx((t < 0).float().mean().item())  # pairs with real above fake
    d.backward()
    expected = (torch.sigmoid(t)[:, None] * (y - x)).mean(0) + 1.4 * a
    assert torch.allclose(D.a.grad, expected, atol=1e-5)
    assert G.b.grad is None  # neither the adversarial term nor R2 reaches G in D's step

    (phase_d, phase_g) = loss.phases()
    assert (phase_d.side, phase_g.side, phase_g.new_batch) == ("D", "G", False)  # G pairs with D's last batch
    D.a.grad = None
    D.requires_grad_(False)
    g, _ = phase_g.compute(G, D, real, z, None)
    assert g.item() == pytest.approx(torch.nn.functional.softplus(-t).mean().item(), rel=1e-5)
    g.backward()  # d/db mean softplus(<a, x - z - b>) = -mean sigmoid(<a, x - y>) a
    assert torch.allclose(G.b.grad, -torch.sigmoid(-t).mean() * a, atol=1e-5)


def test_r1_is_taken_on_real_images_and_r2_on_generated_ones():
    """D(x) = <a, x> + c |x|^2 / 2 has gradient a + c x: R1 = mean |a + c x|^2 over real x, R2 over fakes."""
    a, c = torch.tensor([1.0, 0.0, -1.0, 2.0]), 0.5
    real, z = torch.randn(4, 1, 2, 2), torch.randn(4, 4)
    G = ShiftG()
    fake = (z + G.b).detach()
    loss = LOSSES["rpgan"](r1_gamma=1.0, r2_gamma=1.0)
    d, stats = loss.d_loss(G, QuadraticD(a, c), real, z, None)
    r1 = (a + c * real.flatten(1)).square().sum(1).mean()
    r2 = (a + c * fake).square().sum(1).mean()
    assert stats["r1"].item() == pytest.approx(r1.item(), rel=1e-5)
    assert stats["r2"].item() == pytest.approx(r2.item(), rel=1e-5)
    d.backward()
    assert G.b.grad is None
    assert "r2" not in LOSSES["hinge"](r1_gamma=1.0).d_loss(G, QuadraticD(a, c), real, z, None)[1]  # off at 0
    _, hinge = LOSSES["hinge"](r2_gamma=1.0).d_loss(G, QuadraticD(a, c), real, z, None)
    assert hinge["r2"].item() == pytest.approx(r2.item(), rel=1e-5) and "r1" not in hinge  # R2 for any loss
