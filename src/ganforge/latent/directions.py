"""Editing directions in latent space, and rendering edits along them.

- ``find_directions``: GANSpace (Härkönen et al. 2020). ``pca-activations``: PCA of a
  early layer's activations over sampled latents, carried back to latent space by
  linear regression (their recipe for networks without a learned latent space);
  ``pca-latent``: PCA of the latents themselves, which is meaningful for families with
  a learned latent distribution (``G.map(z)``-style) and isotropic for plain N(0, I).
- ``class_directions``: InterFaceGAN-style (Shen et al. 2020): sample latents, classify
  their images, fit a linear classifier in latent space; its unit normal moves an
  image toward a class.

A direction file is ``.npz``: ``vectors`` (k, D), ``explained_variance`` (k,),
``names`` (k,) str, ``method`` str.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from ganforge.config import model_config
from ganforge.errors import GanforgeError
from ganforge.latent.optimise import frozen, image_to_tensor, module_device, render
from ganforge.sampling import latents_for_seeds
from ganforge.utils import atomic_path

METHODS = ("pca-activations", "pca-latent")
_ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.GELU, nn.SiLU, nn.ELU, nn.PReLU, nn.Softplus, nn.Mish)


@dataclass
class Directions:
    vectors: torch.Tensor              # (k, D), unit rows (orthonormal for the PCA methods)
    explained_variance: torch.Tensor   # (k,) fraction of variance per direction (PCA), or classifier accuracy
    method: str = "pca-activations"
    names: list[str] | None = None
    scales: torch.Tensor | None = None  # (k,) standard deviation of latents along each (W directions); None: 1

    def __len__(self) -> int:
        return len(self.vectors)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if path.suffix != ".npz":
            raise GanforgeError(f"direction files end in .npz, not {path.name!r}")
        names = self.names or [f"{self.method} {i}" for i in range(len(self))]
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, vectors=self.vectors.cpu().numpy().astype(np.float32),
                         explained_variance=self.explained_variance.cpu().numpy().astype(np.float64),
                         names=np.array(names, dtype=str), method=np.array(self.method),
                         # numpy's stubs match the ** arrays against savez's allow_pickle: bool
                         **({} if self.scales is None  # type: ignore[arg-type]
                            else {"scales": self.scales.cpu().numpy().astype(np.float32)}))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Directions:
        path = Path(path)
        if not path.is_file():
            raise GanforgeError(f"no direction file at {path}; make one with 'ganforge directions'")
        try:
            with np.load(path, allow_pickle=False) as f:
                return cls(torch.from_numpy(f["vectors"].astype(np.float32)),
                           torch.from_numpy(f["explained_variance"]), str(f["method"]), [str(n) for n in f["names"]],
                           torch.from_numpy(f["scales"].astype(np.float32)) if "scales" in f.files else None)
        except (KeyError, ValueError, OSError) as e:
            raise GanforgeError(f"{path} is not a ganforge direction file ({str(e).splitlines()[0][:120]})") from None


def feature_layer(G: nn.Module, name: str | None = None) -> nn.Module:
    """The module whose output ``pca-activations`` uses: ``name`` from ``G.named_modules()``,
    else the first activation function (the first layer's output after its nonlinearity),
    else the first module with weights."""
    modules = dict(G.named_modules())
    if name is not None:
        if name not in modules:
            raise GanforgeError(f"the generator has no layer {name!r}")
        return modules[name]
    for m in G.modules():
        if isinstance(m, _ACTIVATIONS):
            return m
    for m in G.modules():
        if not list(m.children()) and any(True for _ in m.parameters(recurse=False)):
            return m
    raise GanforgeError("cannot find a layer to take activations from; name one")


def _pca(x: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """x (N, F) -> (components (k, F), explained-variance fractions (k,), mean (F,)) in float64."""
    x = x.double()
    mean = x.mean(0)
    xc = x - mean
    # Economy SVD of the centred data: rows of vh are the principal axes, s^2 their variances.
    _, s, vh = torch.linalg.svd(xc, full_matrices=False)
    var = s.pow(2)
    return vh[:k], (var[:k] / var.sum().clamp_min(1e-30)), mean


def _orthonormalise(v: torch.Tensor) -> torch.Tensor:
    """Rows of v (k, D) -> orthonormal rows spanning the same nested subspaces (Gram-Schmidt via QR),
    each with the sign of the original row so "+" keeps its meaning."""
    q, r = torch.linalg.qr(v.double().T)  # v^T (D, k) = q (D, k) @ r (k, k), r upper triangular
    signs = torch.sign(torch.diagonal(r))
    signs[signs == 0] = 1
    return q.T * signs[:, None]


@torch.no_grad()
def find_directions(G: nn.Module, k: int = 10, n_samples: int = 5000, method: str = "pca-activations", *,
                    layer: str | None = None, labels: int | None = None, seed: int = 0,
                    batch_size: int = 256) -> Directions:
    """The ``k`` principal editing directions of ``G``'s latent space (GANSpace).

    Returns ``Directions`` with orthonormal ``vectors`` (k, D) ordered by explained
    variance. ``labels``: the class to condition on (conditional models; default: random
    classes). Deterministic for a given ``seed``.
    """
    if method not in METHODS:
        raise GanforgeError(f"unknown direction method {method!r}; choose one of: {', '.join(METHODS)}")
    latent_dim = int(model_config(G).latent_dim)
    if not 1 <= k <= latent_dim:
        raise GanforgeError(f"k must be in 1..{latent_dim} (the latent size), not {k}")
    if n_samples < max(2 * k, 16):
        raise GanforgeError(f"n_samples must be at least {max(2 * k, 16)} for k={k}")
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n_samples, latent_dim, generator=gen)
    if method == "pca-latent":
        # Families with a learned latent space map z before use; PCA happens there.
        w = G.map(z.to(module_device(G))).cpu() if hasattr(G, "map") else z  # type: ignore[operator]
        comps, frac, _ = _pca(w, k)
        if hasattr(G, "map"):  # regress back to z like the activation method
            comps = _regress_back(z, w, comps)
        return Directions(_orthonormalise(comps).float(), frac.float(), method)

    num_classes = int(getattr(G.cfg, "num_classes", 0) or 0)
    lab = None
    if num_classes:
        lab = (torch.full((n_samples,), int(labels)) if labels is not None
               else torch.randint(num_classes, (n_samples,), generator=gen))
    target = feature_layer(G, layer)
    feats: list[torch.Tensor] = []
    handle = target.register_forward_hook(lambda m, i, o: feats.append(o.detach().flatten(1).float().cpu()))
    device = module_device(G)
    try:
        with frozen(G):
            for i in range(0, n_samples, batch_size):
                G(z[i:i + batch_size].to(device), None if lab is None else lab[i:i + batch_size].to(device))
    finally:
        handle.remove()
    acts = torch.cat(feats)  # (N, F)
    comps, frac, _ = _pca(acts, k)
    return Directions(_orthonormalise(_regress_back(z, acts, comps)).float(), frac.float(), method)


def _regress_back(z: torch.Tensor, acts: torch.Tensor, comps: torch.Tensor) -> torch.Tensor:
    """GANSpace's transfer to latent space: coordinates x = (acts - mean) @ comps^T (N, k);
    solve z ≈ x @ V by least squares; the rows of V (k, D) are the latent directions."""
    a = acts.double()
    x = (a - a.mean(0)) @ comps.T
    x = x / x.std(0).clamp_min(1e-12)  # unit-variance coordinates: V's rows share one scale
    v = torch.linalg.lstsq(x, z.double() - z.double().mean(0)).solution  # (k, D)
    return v


def feature_classifier(D: nn.Module, images: np.ndarray, labels: np.ndarray, *, steps: int = 300,
                       weight_decay: float = 1e-3) -> Callable[[torch.Tensor], torch.Tensor]:
    """A multinomial logistic regression on ``D.features`` of labelled real images.

    ``images`` uint8 (N, H, W, C), ``labels`` (N,) class ids. Returns ``classify(x)``:
    images (M, C, H, W) in [-1, 1] -> class ids (M,). It stands in for the attribute
    classifier InterFaceGAN uses, learnt from the run's own labelled data.
    """
    device = module_device(D)
    labels_t = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    n_classes = int(labels_t.max()) + 1
    with torch.no_grad(), frozen(D):
        batches = (torch.cat([image_to_tensor(im, device) for im in images[i:i + 256]])
                   for i in range(0, len(images), 256))
        feats = torch.cat([D.features(x).flatten(1).cpu() for x in batches]).double()  # type: ignore[operator]
    mu, sd = feats.mean(0), feats.std(0).clamp_min(1e-6)
    f = (feats - mu) / sd
    lin = nn.Linear(f.shape[1], n_classes).double()
    opt = torch.optim.LBFGS(lin.parameters(), max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(lin(f), labels_t) + weight_decay * lin.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    lin.requires_grad_(False)

    @torch.no_grad()
    def classify(x: torch.Tensor) -> torch.Tensor:
        with frozen(D):
            fx = (D.features(x.to(device)).flatten(1).cpu().double() - mu) / sd  # type: ignore[operator]
        return lin(fx).argmax(1)

    return classify


@torch.no_grad()
def class_directions(G: nn.Module, classify: Callable[[torch.Tensor], torch.Tensor], classes: Sequence[str] | int, *,
                     n_samples: int = 2000, seed: int = 0, batch_size: int = 256, steps: int = 200) -> Directions:
    """One unit direction per class: the normal of a linear classifier (logistic regression,
    one class against the rest) fitted in latent space to ``classify(G(z))``.

    ``classify``: images (N, C, H, W) in [-1, 1] -> class ids (N,), e.g. ``feature_classifier``.
    ``explained_variance`` holds each classifier's training accuracy. Classes that no
    sampled image falls into get a zero vector and accuracy 0.
    """
    names = [str(c) for c in classes] if not isinstance(classes, int) else [str(i) for i in range(classes)]
    z = latents_for_seeds(range(seed * 1_000_003, seed * 1_000_003 + n_samples), int(model_config(G).latent_dim))
    device = module_device(G)
    with frozen(G):
        pred = torch.cat([classify(G(z[i:i + batch_size].to(device))).cpu() for i in range(0, n_samples, batch_size)])
    vectors, accuracy = [], []
    for c in range(len(names)):
        y = (pred == c).double()
        if y.sum() == 0 or y.sum() == len(y):
            vectors.append(torch.zeros(z.shape[1], dtype=torch.float64))
            accuracy.append(0.0)
            continue
        w, acc = _logistic_direction(z.double(), y, steps)
        vectors.append(w)
        accuracy.append(acc)
    return Directions(torch.stack(vectors).float(), torch.tensor(accuracy), "class", names)


def _logistic_direction(z: torch.Tensor, y: torch.Tensor, steps: int) -> tuple[torch.Tensor, float]:
    """Unit normal (D,) of a class-balanced logistic regression y ~ z, and its accuracy."""
    w = torch.zeros(z.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    pos = y.mean()
    weights = torch.where(y > 0, 0.5 / pos, 0.5 / (1 - pos))  # balance rare classes
    opt = torch.optim.LBFGS([w, b], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        logits = z @ w + b
        loss = (weights * nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none")).mean()
        loss = loss + 1e-3 * w.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    with torch.no_grad():
        acc = float(((z @ w + b > 0).double() == y).double().mean())
        return (w / w.norm().clamp_min(1e-12)).detach(), acc


@torch.no_grad()
def edit(G: nn.Module, latent: torch.Tensor, direction: torch.Tensor, amounts: Sequence[float] | torch.Tensor,
         labels: torch.Tensor | int | None = None) -> np.ndarray:
    """Images of ``latent + a * direction`` for each amount ``a``: uint8 (len(amounts), H, W, C).

    ``latent`` (D,) or (1, D); ``direction`` (D,), used at unit length, so an amount is
    in standard deviations of the N(0, I) prior along that direction.
    """
    z = latent.reshape(1, -1).float().cpu()
    d = direction.reshape(1, -1).float().cpu()
    if d.shape != z.shape:
        raise GanforgeError(f"direction of size {d.shape[1]} does not fit a latent of size {z.shape[1]}")
    d = d / d.norm().clamp_min(1e-12)
    a = torch.as_tensor(amounts, dtype=torch.float32).reshape(-1, 1)
    zs = z + a * d
    lab = None
    if labels is not None:
        lab = torch.as_tensor(labels, dtype=torch.long).reshape(-1)[:1].expand(len(zs))
    return render(G, zs, lab)
