"""Translate images with a two-domain translator run (CycleGAN, DTN): each input is prepared exactly as
the run's data set was (crop, crop fraction, background, size, channels: ``latent.loading.load_photo``),
passed through the run's generator in the chosen direction, and written as a PNG of the run's size.

Inputs are image files, folders (searched recursively) or zip archives of images.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganforge import models
from ganforge.config import ModelConfig
from ganforge.errors import GanforgeError
from ganforge.export import TranslatorExport
from ganforge.sampling import from_uint8, to_pil, to_uint8

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
DIRECTIONS = ("a2b", "b2a")


@dataclass
class Translated:
    name: str            # output file name (the input's stem + .png)
    source: str          # the input it came from
    image: np.ndarray    # uint8 (R, R, C)


def list_inputs(paths: list[str | Path]) -> list[tuple[str, object]]:
    """(name, file path or (zip path, member)) of every image among ``paths``, in a stable order."""
    items: list[tuple[str, object]] = []
    for p in map(Path, paths):
        if p.is_dir():
            items += [(f.name, f) for f in sorted(p.rglob("*")) if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES]
        elif p.is_file() and p.suffix.lower() == ".zip":
            try:
                with zipfile.ZipFile(p) as zf:
                    members = sorted(n for n in zf.namelist() if Path(n).suffix.lower() in IMAGE_SUFFIXES)
            except zipfile.BadZipFile:
                raise GanforgeError(f"{p} is not a readable zip archive") from None
            items += [(Path(m).name, (p, m)) for m in members]
        elif p.is_file():
            items.append((p.name, p))
        else:
            raise GanforgeError(f"no image, folder or zip at {p}")
    if not items:
        raise GanforgeError("no images among the inputs")
    return items


def _open_input(where) -> Image.Image | Path:
    if isinstance(where, tuple):
        from ganforge.data.decode import UnusableImage, decode_image

        archive, member = where
        with zipfile.ZipFile(archive) as zf:
            data = zf.read(member)
        try:
            return decode_image(data)
        except UnusableImage as e:
            raise GanforgeError(f"cannot read {archive}:{member}: {e}") from None
    return where


def translate_batch(G: torch.nn.Module, cfg: ModelConfig, x: torch.Tensor, direction: str) -> torch.Tensor:
    """Images (N, C, R, R) in [-1, 1] translated in ``direction`` by a translator's generator: a run's or a
    safetensors export's (the family's ``translate``), or an ONNX/TorchScript export's (``TranslatorExport``)."""
    if isinstance(G, TranslatorExport):
        return G.translate(x, direction)
    return models.family(cfg.family).translate(G, x, direction)


@dataclass
class Translator:
    """A translator run's generator and how its inputs are prepared (the run's data-set parameters)."""
    G: torch.nn.Module
    cfg: ModelConfig
    params: dict         # crop, crop fraction, background... as ``ganforge data prepare`` used them
    device: str | torch.device = "cpu"

    @property
    def directions(self) -> tuple[str, ...]:
        """The directions this family translates in (CycleGAN: a2b and b2a; DTN: a2b)."""
        return tuple(getattr(models.family(self.cfg.family), "DIRECTIONS", DIRECTIONS))

    def prepare(self, image: Path | Image.Image) -> np.ndarray:
        """An image file or decoded image -> uint8 (R, R, C), cropped and resized as the run's data set was."""
        from ganforge.latent.loading import load_photo

        return load_photo(image, self.cfg.resolution, self.cfg.channels, self.params)

    def __call__(self, images: np.ndarray, direction: str, batch_size: int = 16) -> np.ndarray:
        """Prepared images, uint8 (N, R, R, C) -> their translations in ``direction``, uint8 (N, R, R, C)."""
        x = from_uint8(np.asarray(images))
        out = []
        with torch.no_grad():
            for i in range(0, len(x), batch_size):
                batch = x[i : i + batch_size].to(self.device)
                out.append(to_uint8(translate_batch(self.G, self.cfg, batch, direction)))
        return np.concatenate(out)


def load_translator(run: str | Path, *, device: str | torch.device = "cpu", ema: bool = True) -> Translator:
    """The translator of run, checkpoint or export ``run``; a one-line error when it is not one."""
    from ganforge.artifacts import load_generator
    from ganforge.latent.loading import data_params

    G, cfg, info = load_generator(run, device=device, ema=ema)
    if cfg.family not in models.MODELS or not models.is_translator(cfg.family):
        raise GanforgeError(f"{run} is a {cfg.family} run, not a translator; translate needs a cyclegan or dtn run")
    params = (info.get("dataset") or {}).get("params") or (data_params(run) if Path(run).is_dir() else {})
    return Translator(G, cfg, params, device)


def translate_images(run: str | Path, inputs: list[str | Path], direction: str = "a2b", *,
                     device: str | torch.device = "cpu", ema: bool = True, batch_size: int = 16) -> list[Translated]:
    """Every image among ``inputs`` translated by ``run``'s generator in ``direction``."""
    if direction not in DIRECTIONS:
        raise GanforgeError(f"--direction must be a2b or b2a, not {direction!r}")
    translator = load_translator(run, device=device, ema=ema)
    items = list_inputs(inputs)
    images = translator(np.stack([translator.prepare(_open_input(where)) for _, where in items]), direction,
                        batch_size)
    return [Translated(Path(name).stem + ".png",
                       str(where if not isinstance(where, tuple) else f"{where[0]}:{where[1]}"), image)
            for (name, where), image in zip(items, images)]


def write_translations(results: list[Translated], out: str | Path) -> list[Path]:
    """One PNG per result in folder ``out`` (names made unique when two inputs share one)."""
    from ganforge.utils import atomic_path

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise GanforgeError(f"--out {out} is a file; give a folder")
    out.mkdir(parents=True, exist_ok=True)
    written, taken = [], set()
    for r in results:
        name, k = r.name, 1
        while name in taken:
            name = f"{Path(r.name).stem}-{k}.png"
            k += 1
        taken.add(name)
        with atomic_path(out / name) as tmp:
            to_pil(r.image).save(tmp, format="PNG")
        written.append(out / name)
    return written
