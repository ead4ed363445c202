"""Latents and classes from seeds, images from a generator, and grids of images.

Seed ``s`` always maps to the same latent on any device: each latent is drawn from
its own CPU generator seeded with ``s`` and only then moved to the device. A grid
for ``--seed s --n k`` shows the images of seeds s, s+1, ..., s+k-1.

For a conditional model seed ``s`` also fixes the class: ``s mod K`` of its K classes
(``labels_for_seeds``, the one place this is decided). ``generate``, every latent command,
the web app, training's sample grids, evaluation and exports' examples all ask it, so
the same seed gives the same image everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from ganforge.config import model_config
from ganforge.errors import GanforgeError


def latents_for_seeds(seeds: Sequence[int], latent_dim: int) -> torch.Tensor:
    """(len(seeds), latent_dim) float32 standard-normal latents, one per seed, on CPU."""
    return torch.stack([torch.randn(latent_dim, generator=torch.Generator().manual_seed(int(s))) for s in seeds])


def labels_for_seeds(seeds: Sequence[int], num_classes: int, class_: int | None = None) -> torch.Tensor | None:
    """Class ids (N,) for a conditional model, None for an unconditional one (``num_classes`` 0).

    ``class_`` picks one class for all seeds; otherwise seed ``s`` draws class ``s mod num_classes``.
    """
    if num_classes <= 0:
        if class_ is not None:
            raise GanforgeError("this model is unconditional; it takes no class")
        return None
    if class_ is not None:
        if not 0 <= int(class_) < num_classes:
            raise GanforgeError(f"class must be in 0..{num_classes - 1}, not {class_}")
        return torch.full((len(seeds),), int(class_), dtype=torch.long)
    return torch.tensor([int(s) % num_classes for s in seeds], dtype=torch.long)


def resolve_class(class_: str | int | None, classes: Sequence[str] | None, num_classes: int) -> int | None:
    """A class given by id or by name (from the run's data set) -> its id; None stays None."""
    if class_ is None or class_ == "":
        return None
    if num_classes <= 0:
        raise GanforgeError("--class needs a conditional model; this run is unconditional")
    if isinstance(class_, int) or str(class_).lstrip("-").isdigit():
        if not 0 <= int(class_) < num_classes:
            raise GanforgeError(f"class must be in 0..{num_classes - 1}, not {class_}")
        return int(class_)
    if classes and class_ in classes:
        return list(classes).index(class_)
    known = ", ".join(classes) if classes else f"ids 0..{num_classes - 1}"
    raise GanforgeError(f"unknown class {class_!r}; this model knows: {known}")


def images_for_seeds(G: torch.nn.Module, seeds: Sequence[int], *, class_: int | None = None,
                     batch_size: int = 64, psi: float = 1.0) -> np.ndarray:
    """uint8 (N, H, W, C): the image of each seed (its latent and, if conditional, its class or ``class_``).

    ``psi`` != 1 truncates in W (style-based generators; for the others ``ganforge.latent.sample_latents``
    truncates z)."""
    z = latents_for_seeds(seeds, model_config(G).latent_dim)
    return generate(G, z, labels_for_seeds(seeds, num_classes_of(G), class_), batch_size=batch_size, psi=psi)


def truncates_in_w(G: torch.nn.Module) -> bool:
    """Whether G (a style-based generator, or an export of one) truncates in W: ``G(z, labels, psi=...)``."""
    return bool(getattr(G, "truncates_in_w", False))


def num_classes_of(G: torch.nn.Module) -> int:
    """K of a conditional generator, 0 for an unconditional one (ONNX/TorchScript wrappers included)."""
    return int(getattr(getattr(G, "cfg", None), "num_classes", 0) or 0)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """Images (N, C, H, W) in [-1, 1] -> uint8 array (N, H, W, C)."""
    x = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def writable_tensor(array: np.ndarray) -> torch.Tensor:
    """``torch.from_numpy`` for any array, a read-only one included.

    A data set's images are a read-only memory map, and so is every slice of it. torch cannot mark a
    tensor read-only: ``from_numpy`` on one warns (once per process, so the first user of a data set saw
    a warning about PyTorch internals) and a write through the tensor would crash. Such an array is
    copied (a batch's worth: cheap); a writable C-contiguous one is shared, as ``from_numpy`` shares it.
    """
    if not array.flags.writeable or not array.flags.c_contiguous:
        array = np.array(array, order="C")
    return torch.from_numpy(array)


def from_uint8(images: np.ndarray, device: torch.device | str | None = None) -> torch.Tensor:
    """uint8 array (N, H, W, C) -> images (N, C, H, W) in [-1, 1] on ``device``: to_uint8's inverse.

    The division runs on ``device``, as the training loader's does: on CUDA (which divides by a multiply
    with the reciprocal) a value may differ from the CPU's in its last bit."""
    x = writable_tensor(images)
    x = x if device is None else x.to(device)  # move the bytes, not four times as many floats
    return x.permute(0, 3, 1, 2).float().div(127.5).sub(1)


@torch.no_grad()
def generate(G: torch.nn.Module, z: torch.Tensor, labels: torch.Tensor | None = None,
             batch_size: int = 64, psi: float = 1.0, progress=None) -> np.ndarray:
    """Run G (in eval mode) on latents ``z`` in batches; uint8 images (N, H, W, C).

    A conditional generator needs ``labels`` (N,): for seeds, ``labels_for_seeds`` gives them.
    ``psi`` != 1 (style-based generators only) truncates in W.
    ``progress``: a ``ganforge.progress.Task`` advanced by each batch's images.
    """
    if psi != 1 and not truncates_in_w(G):
        raise ValueError("only a style-based generator truncates in W; truncate z before (latent.sample_latents)")
    device = next(G.parameters(), torch.empty(0)).device  # an ONNX export has no parameters: CPU
    if labels is None and num_classes_of(G):
        raise ValueError("a conditional generator needs labels (see labels_for_seeds)")
    was_training = G.training
    G.eval()
    out = []
    for i in range(0, len(z), batch_size):
        zb = z[i : i + batch_size].to(device)
        lb = labels[i : i + batch_size].to(device) if labels is not None else None
        out.append(to_uint8(G(zb, lb, psi=psi) if psi != 1 else G(zb, lb)))
        if progress is not None:
            progress.advance(len(zb))
    G.train(was_training)
    return np.concatenate(out)


def side_by_side(real: torch.Tensor) -> torch.Tensor:
    """A two-domain batch (N, 2, C, R, R) -> pairs (N, C, R, 2R), domain A on the left (how a CoGAN holds a pair)."""
    return torch.cat([real[:, 0], real[:, 1]], dim=-1)


def domain_examples(dataset, n: int) -> torch.Tensor:
    """The first ``n`` images of each domain of a two-domain data set: (n, 2, C, H, W) in [-1, 1]."""
    return torch.stack([from_uint8(dataset.images[dataset.domain_indices(d)[:n]]) for d in range(2)], 1)


def first_examples(dataset, n: int) -> torch.Tensor:
    """The first ``n`` images of a data set: (n, C, H, W) in [-1, 1]."""
    return from_uint8(dataset.images[:n])


def image_grid(images: np.ndarray, ncols: int | None = None, padding: int = 2, pad_value: int = 0) -> Image.Image:
    """uint8 (N, H, W, C) -> one PIL image, rows of ``ncols`` (default: a near-square grid)."""
    n, h, w, c = images.shape
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    grid = np.full((padding + nrows * (h + padding), padding + ncols * (w + padding), c), pad_value, np.uint8)
    for i, img in enumerate(images):
        r, col = divmod(i, ncols)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        grid[y : y + h, x : x + w] = img
    return to_pil(grid)


def to_pil(image: np.ndarray) -> Image.Image:
    """uint8 (H, W, C) with C = 1 or 3 -> PIL image (L or RGB)."""
    return Image.fromarray(image[..., 0], "L") if image.shape[-1] == 1 else Image.fromarray(image, "RGB")
