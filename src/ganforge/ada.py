"""Adaptive discriminator augmentation (ADA; Karras et al. 2020, "Training Generative Adversarial
Networks with Limited Data", NeurIPS, arXiv:2006.06676).

Like DiffAugment (``ganforge.diffaugment``), the augmentation is applied inside the loss to real
*and* generated images right before D, in D's and G's steps, and every operation is
differentiable w.r.t. the image, so G's gradient flows through it. Unlike DiffAugment, how often
it augments is one probability p, and p is adapted during training: D overfitting a small data
set makes its real scores confidently positive, so every ``interval`` steps p moves up or down by
a fixed amount according to the sign of r_t - target, where r_t = E[sign(D(real))] over the
interval (the paper's heuristic, target 0.6). The step is sized so that p can go 0 -> 1 in
``speed_kimg`` thousand real images (500 in the paper).

The pipeline is the paper's "bgc" one, in its order (Appendix B), each operation applied to each
image independently with probability p (the two rotations with 1 - sqrt(1 - p), so that *some*
rotation happens with probability p):

- blit: x-flip, rotation by a multiple of 90 degrees, integer translation up to 1/8 of the side;
- geometric: isotropic scaling 2^N(0, 0.2), rotation U(-180, 180) degrees, anisotropic scaling
  2^N(0, 0.2), rotation again, fractional translation N(0, 1/8 of the side);
- colour: brightness + N(0, 0.2), contrast x 2^N(0, 0.5), luma flip (reflection through the
  grey axis), hue rotation U(-180, 180) degrees about the grey axis, saturation x 2^N(0, 1);
- optional cutout (``cutout=True``): a rectangle of half the side, centre uniform, set to 0.

The blit and geometric operations are composed into one 3x3 matrix per image and applied in one
``grid_sample`` with reflection padding; the colour operations into one 4x4 matrix per image,
applied as one matrix product over channels. A grey (1-channel) image is treated as the RGB
image (g, g, g), whose colour result is averaged back to one channel: hue and saturation then
do nothing to it, as in the authors' code. Where we differ from the paper and why:

- resampling is bilinear ``grid_sample`` at the image's own resolution; the paper upsamples 2x
  with a wavelet low-pass filter before sampling and filters again after, to limit aliasing.
  That needs a separable FIR filter per resolution; bilinear is what plain PyTorch offers and
  keeps this file short. Blit operations stay exact either way (pixel centres land on pixel
  centres);
- ``grid_sample``'s reflection mirrors about the image's edge (the edge pixel repeats once),
  the paper's padding mirrors about the edge pixel; both keep borders free of black;
- colour operations are not clamped: as in the paper, values may leave [-1, 1] (clamping
  would cut G's gradient there);
- the paper's additional filtering and noise groups are not implemented (its "bgc" pipeline,
  the one recommended for most data sets, does not use them).

Random numbers come from a CPU ``torch.Generator`` (the trainer's augmentation stream, saved in
checkpoints), so training with ADA resumes exactly. Under DDP, p is adjusted from statistics
already averaged over processes, so every rank keeps the same p.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# the operations in the order the pipeline applies them; "cutout" only when asked for
OPS = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac",
       "brightness", "contrast", "lumaflip", "hue", "saturation", "cutout")
GEOMETRIC_OPS = OPS[:7]
COLOUR_OPS = OPS[7:12]
DEFAULT_OPS = OPS[:12]  # the paper's "bgc"

# the paper's magnitudes (Appendix B): standard deviations in log2 units or image sides
XINT_MAX = 0.125        # integer translation: uniform, fraction of the side
SCALE_STD = 0.2         # isotropic and anisotropic scaling: 2^N(0, std)
XFRAC_STD = 0.125       # fractional translation: normal, fraction of the side
BRIGHTNESS_STD = 0.2
CONTRAST_STD = 0.5
SATURATION_STD = 1.0
CUTOUT_SIZE = 0.5       # fraction of the side

_LUMA = torch.tensor([1.0, 1.0, 1.0]) / math.sqrt(3)  # the grey axis of RGB colour space


def _gate(values: torch.Tensor, p: float, identity: float, generator: torch.Generator) -> torch.Tensor:
    """``values`` (N, ...) where a U(0, 1) draw per image is below p, else ``identity``."""
    on = torch.rand(values.shape[0], generator=generator) < p
    return torch.where(on.view(-1, *[1] * (values.dim() - 1)), values, torch.full_like(values, identity))


def _matrices(n: int, rows: list[list]) -> torch.Tensor:
    """(n, k, k) matrices from rows of scalars or (n,) tensors."""
    return torch.stack([torch.stack([torch.as_tensor(v, dtype=torch.float32).expand(n) for v in row], -1)
                        for row in rows], -2)


def _scale2d(sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    return _matrices(len(sx), [[sx, 0, 0], [0, sy, 0], [0, 0, 1]])


def _rotate2d(cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    return _matrices(len(cos), [[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]])


def _translate2d(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    return _matrices(len(tx), [[1, 0, tx], [0, 1, ty], [0, 0, 1]])


def geometric_matrix(n: int, height: int, width: int, p: float, generator: torch.Generator,
                     ops: tuple[str, ...] = DEFAULT_OPS) -> torch.Tensor:
    """(n, 3, 3) maps from output to input pixel coordinates (origin at the image centre).

    Built as the product of each operation's inverse in pipeline order, so the first operation
    is the first applied to the image. Every operation draws its numbers whether it is in
    ``ops`` or not, so one operation's draws never depend on which others are on.
    """
    g = generator
    m = torch.eye(3).repeat(n, 1, 1)
    on = set(ops)
    p_rot = 1 - math.sqrt(max(1 - p, 0.0))  # two rotations: some rotation with probability p

    flip = _gate(torch.randint(0, 2, (n,), generator=g).float(), p, 0, g)
    if "xflip" in on:
        m = m @ _scale2d(1 - 2 * flip, torch.ones(n))
    quarter = _gate(torch.randint(0, 4, (n,), generator=g).float(), p, 0, g).long()
    if "rotate90" in on:  # exact cosines and sines, so the blit stays pixel-exact
        cos, sin = torch.tensor([1.0, 0, -1, 0])[quarter], torch.tensor([0.0, 1, 0, -1])[quarter]
        m = m @ _rotate2d(cos, -sin)
    shift = _gate((torch.rand(n, 2, generator=g) * 2 - 1) * XINT_MAX, p, 0, g)
    if "xint" in on:
        m = m @ _translate2d(-torch.round(shift[:, 0] * width), -torch.round(shift[:, 1] * height))
    scale = _gate(torch.exp2(torch.randn(n, generator=g) * SCALE_STD), p, 1, g)
    if "scale" in on:
        m = m @ _scale2d(1 / scale, 1 / scale)
    angle = _gate((torch.rand(n, generator=g) * 2 - 1) * math.pi, p_rot, 0, g)
    if "rotate" in on:
        m = m @ _rotate2d(torch.cos(angle), -torch.sin(angle))
    aniso = _gate(torch.exp2(torch.randn(n, generator=g) * SCALE_STD), p, 1, g)
    if "aniso" in on:
        m = m @ _scale2d(1 / aniso, aniso)
    angle = _gate((torch.rand(n, generator=g) * 2 - 1) * math.pi, p_rot, 0, g)
    if "rotate" in on:
        m = m @ _rotate2d(torch.cos(angle), -torch.sin(angle))
    shift = _gate(torch.randn(n, 2, generator=g) * XFRAC_STD, p, 0, g)
    if "xfrac" in on:
        m = m @ _translate2d(-shift[:, 0] * width, -shift[:, 1] * height)
    return m


def colour_matrix(n: int, p: float, generator: torch.Generator, ops: tuple[str, ...] = DEFAULT_OPS) -> torch.Tensor:
    """(n, 4, 4) affine maps of RGB values in [-1, 1] (homogeneous coordinates), applied in pipeline order."""
    g = generator
    c = torch.eye(4).repeat(n, 1, 1)
    on = set(ops)
    v = _LUMA
    vv = torch.outer(v, v)  # projection onto the grey axis

    def linear(a: torch.Tensor) -> torch.Tensor:  # (n, 3, 3) -> (n, 4, 4)
        out = torch.eye(4).repeat(n, 1, 1)
        out[:, :3, :3] = a
        return out

    b = _gate(torch.randn(n, generator=g) * BRIGHTNESS_STD, p, 0, g)
    if "brightness" in on:
        shift = torch.eye(4).repeat(n, 1, 1)
        shift[:, :3, 3] = b[:, None]
        c = shift @ c
    k = _gate(torch.exp2(torch.randn(n, generator=g) * CONTRAST_STD), p, 1, g)
    if "contrast" in on:
        c = linear(k.view(n, 1, 1) * torch.eye(3)) @ c
    flip = _gate(torch.randint(0, 2, (n,), generator=g).float(), p, 0, g)
    if "lumaflip" in on:  # reflect through the plane orthogonal to the grey axis: light <-> dark
        c = linear(torch.eye(3) - 2 * flip.view(n, 1, 1) * vv) @ c
    theta = _gate((torch.rand(n, generator=g) * 2 - 1) * math.pi, p, 0, g)
    if "hue" in on:  # Rodrigues' rotation about the grey axis
        cross = torch.tensor([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
        cos, sin = torch.cos(theta).view(n, 1, 1), torch.sin(theta).view(n, 1, 1)
        c = linear(cos * torch.eye(3) + sin * cross + (1 - cos) * vv) @ c
    s = _gate(torch.exp2(torch.randn(n, generator=g) * SATURATION_STD), p, 1, g)
    if "saturation" in on:  # keep the grey component, scale the colour around it
        c = linear(vv + s.view(n, 1, 1) * (torch.eye(3) - vv)) @ c
    return c


def apply_geometric(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Resample x (N, C, H, W) at ``m`` (N, 3, 3, output -> input pixel coordinates), reflecting at the edges."""
    h, w = x.shape[-2:]
    to_unit = torch.diag(torch.tensor([2 / w, 2 / h, 1.0]))  # centred pixels -> grid_sample's [-1, 1]
    from_unit = torch.diag(torch.tensor([w / 2, h / 2, 1.0]))
    theta = (to_unit @ m @ from_unit)[:, :2, :].to(x.device, x.dtype)
    # pixel centres in [-1, 1], built exactly (affine_grid's linspace is off by rounding, which would
    # make the blit operations interpolate by 1e-7 of a pixel)
    ys = (torch.arange(h, device=x.device, dtype=x.dtype) * 2 + 1) / h - 1
    xs = (torch.arange(w, device=x.device, dtype=x.dtype) * 2 + 1) / w - 1
    ones = torch.ones(h, w, device=x.device, dtype=x.dtype)
    base = torch.stack([xs.expand(h, w), ys.view(h, 1).expand(h, w), ones], -1)  # (H, W, 3): x, y, 1
    grid = torch.einsum("nij,hwj->nhwi", theta, base)  # (N, H, W, 2): where each output pixel reads
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def apply_colour(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """x (N, 1 or 3, H, W) through the colour maps ``c`` (N, 4, 4); a grey image as (g, g, g)."""
    c = c.to(x.device, x.dtype)
    linear, offset = c[:, :3, :3], c[:, :3, 3]
    if x.shape[1] == 1:  # (g, g, g) through the map, averaged back to one channel
        gain = linear.sum(2).mean(1)                           # (N,)
        return x * gain.view(-1, 1, 1, 1) + offset.mean(1).view(-1, 1, 1, 1)
    return torch.einsum("nij,njhw->nihw", linear, x) + offset.view(-1, 3, 1, 1)


def apply_cutout(x: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    """Zero a rectangle of CUTOUT_SIZE of each side, centred uniformly, in images drawn with probability p."""
    n, _, h, w = x.shape
    size = _gate(torch.full((n,), CUTOUT_SIZE), p, 0, generator).to(x.device)
    centre = torch.rand(n, 2, generator=generator).to(x.device)
    ys = ((torch.arange(h, device=x.device) + 0.5) / h).view(1, h, 1)
    xs = ((torch.arange(w, device=x.device) + 0.5) / w).view(1, 1, w)
    inside = (((ys - centre[:, 1].view(n, 1, 1)).abs() < size.view(n, 1, 1) / 2)
              & ((xs - centre[:, 0].view(n, 1, 1)).abs() < size.view(n, 1, 1) / 2))
    return x * (~inside).unsqueeze(1).to(x.dtype)


def augment(x: torch.Tensor, p: float, generator: torch.Generator, ops: tuple[str, ...] = DEFAULT_OPS
            ) -> torch.Tensor:
    """The ADA pipeline on x (N, 1 or 3, H, W) in [-1, 1]: each of ``ops`` per image with probability p.

    p = 0 returns x itself. Computed in float32 with autocast off (in half precision the sampling
    grid would be off by up to a tenth of a pixel), returned in x's dtype.
    """
    if p <= 0 or not ops:
        return x
    dtype, y = x.dtype, x.float()
    n, _, h, w = x.shape
    with torch.autocast(x.device.type, enabled=False):
        if any(op in GEOMETRIC_OPS for op in ops):
            y = apply_geometric(y, geometric_matrix(n, h, w, p, generator, ops))
        if any(op in COLOUR_OPS for op in ops):
            y = apply_colour(y, colour_matrix(n, p, generator, ops))
        if "cutout" in ops:
            y = apply_cutout(y, p, generator)
    return y.to(dtype)


def adjusted_p(p: float, r_t: float, target: float, images: int, speed_kimg: float) -> float:
    """p after one adjustment: up if r_t > target (D overfits), down if below, by ``images`` / (speed_kimg * 1000)."""
    step = images / (speed_kimg * 1000)
    return min(max(p + math.copysign(step, r_t - target) if r_t != target else p, 0.0), 1.0)


class AdaptiveAugment:
    """The ADA pipeline as the loss's ``augment`` callable, with its probability p and p's controller.

    The loss reports E[sign(D(real))] of each step as the statistic ``ada_rt`` (with ``ada_p``;
    with several D updates per step, ``--n-critic``, the last one's, as for every D statistic);
    the trainer passes each step's statistics, averaged over processes, to ``update``, which
    averages ``ada_rt`` over ``interval`` steps and moves p toward ``target``. ``target=None``
    keeps p fixed (``--augment-p``). ``state_dict`` holds p and the partial interval, so a resumed
    run adjusts on the same steps with the same values.
    """

    def __init__(self, generator: torch.Generator, *, p: float = 0.0, target: float | None = 0.6,
                 interval: int = 4, speed_kimg: float = 500.0, batch_size: int = 64, cutout: bool = False):
        self.generator = generator
        self.p = float(p)
        self.target = target
        self.interval = interval
        self.speed_kimg = speed_kimg
        self.batch_size = batch_size
        self.ops = OPS if cutout else DEFAULT_OPS
        self.rt_sum = 0.0       # sum of the steps' r_t in the current interval
        self.rt_steps = 0       # steps counted in it

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return augment(x, self.p, self.generator, self.ops)

    def stats(self, real_signs: torch.Tensor) -> dict[str, torch.Tensor]:
        """The step's statistics from sign(D(real) - D's decision threshold) (N,)."""
        return {"ada_p": torch.tensor(self.p), "ada_rt": real_signs.float().mean().detach()}

    def update(self, stats: dict) -> None:
        """After a step: count its ``ada_rt``; at the end of an interval, adjust p (a no-op with p fixed)."""
        rt = stats.get("ada_rt")
        if self.target is None or rt is None:
            return
        rt = float(rt)  # one device sync per step, on values the trainer copies to the host anyway
        if not math.isfinite(rt):
            return  # a skipped, non-finite D update says nothing about overfitting
        self.rt_sum += rt
        self.rt_steps += 1
        if self.rt_steps == self.interval:
            self.p = adjusted_p(self.p, self.rt_sum / self.rt_steps, self.target,
                                self.batch_size * self.interval, self.speed_kimg)
            self.rt_sum, self.rt_steps = 0.0, 0

    def state_dict(self) -> dict:
        return {"p": self.p, "rt_sum": self.rt_sum, "rt_steps": self.rt_steps}

    def load_state_dict(self, state: dict) -> None:
        self.p = float(state["p"])
        self.rt_sum = float(state["rt_sum"])
        self.rt_steps = int(state["rt_steps"])
