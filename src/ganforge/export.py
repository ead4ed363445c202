"""Export a run's generator without pickles, and load exports back.

An export is a folder::

    OUT/
      ganforge-export.json     what it is: format, model config, inputs/outputs, the run it came from
      generator.safetensors    --format safetensors: the weights (config also in the file's metadata)
      generator.onnx           --format onnx: latent (N, latent_dim) [+ labels (N,)] [+ psi (1,)] -> images (N, C, R, R)
      generator.torchscript.pt --format torchscript: a traced module with the same signature

A two-domain translator (cyclegan, dtn) takes images instead of latents. Its safetensors export is the
family's whole ``Generator`` (both directions); ONNX and TorchScript write one model file per direction
it translates, each images (N, C, R, R) -> images (N, C, R, R) in [-1, 1]::

      generator.a2b.onnx, generator.b2a.onnx                     (dtn: a2b only)
      generator.a2b.torchscript.pt, generator.b2a.torchscript.pt

``ganforge-export.json`` then lists them under ``"files"`` ({direction: file}) and ``"directions"``;
``"file"`` is the first. Loaded, they are a ``TranslatorExport`` whose ``translate(x, direction)``
``ganforge translate`` calls (``ganforge.translate.translate_batch``).

Images are float32 in [-1, 1]; a seed's latent is ``torch.randn(latent_dim,
generator=torch.Generator().manual_seed(seed))`` (``ganforge.sampling.latents_for_seeds``), so a
loaded export generates the same images for the same seed as the run. ONNX and TorchScript
exports of a style-based family (stylegan2) hold the mapping network and take the truncation ``psi`` (1,)
as a second input (1: none; toward the mean w). ONNX and TorchScript exports are run once after writing, on two
batch sizes, and compared with the PyTorch generator; the largest absolute difference is recorded in the JSON file.

ONNX uses PyTorch's torch.export-based exporter (``dynamo=True``, which needs ``onnxscript``);
checking uses ``onnxruntime``. Both come with the ``export`` extra: ``pip install ganforge[export]``.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from ganforge import __version__, models
from ganforge.config import ModelConfig
from ganforge.errors import CheckpointError, GanforgeError
from ganforge.models import build_generator, is_style_based
from ganforge.progress import Task
from ganforge.utils import atomic_path, write_json_atomic

EXPORT_FORMAT = "ganforge-export"
EXPORT_VERSION = 1
CONFIG_NAME = "ganforge-export.json"
FILES = {
    "safetensors": "generator.safetensors",
    "onnx": "generator.onnx",
    "torchscript": "generator.torchscript.pt",
}
CHECK_BATCHES = (1, 3)  # batch sizes the ONNX/TorchScript check runs: proves the batch axis is dynamic
TOLERANCE = 1e-4        # largest |export - PyTorch| accepted on images in [-1, 1]


@dataclass
class ExportResult:
    path: Path                    # the written model file
    config_path: Path             # its ganforge-export.json
    max_abs_error: float | None   # ONNX/TorchScript vs PyTorch on CHECK_BATCHES (None for safetensors)


class _Signature(nn.Module):
    """G with explicit inputs: (z) for unconditional models, (z, labels) for conditional ones."""

    def __init__(self, G: nn.Module, conditional: bool):
        super().__init__()
        self.G, self.conditional = G, conditional

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.G(z, labels if self.conditional else None)


class _StyleSignature(nn.Module):
    """A style-based G with explicit inputs (z, psi (1,)): the mapping network and truncation inside."""

    def __init__(self, G: nn.Module):
        super().__init__()
        self.G = G

    def forward(self, z: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
        return self.G(z, None, psi=psi)


class _TranslatorSignature(nn.Module):
    """One direction of a translator: images (N, C, R, R) -> the other domain's, through the family's translate()."""

    def __init__(self, G: nn.Module, cfg: ModelConfig, direction: str):
        super().__init__()
        self.G, self.direction = G, direction
        self.translate = models.family(cfg.family).translate

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.translate(self.G, images, self.direction)


def directions(cfg: ModelConfig) -> tuple[str, ...]:
    """The directions a translator family translates ("a2b", "b2a"); () for one that takes latents."""
    if not models.is_translator(cfg.family):
        return ()
    return tuple(getattr(models.family(cfg.family), "DIRECTIONS", ("a2b", "b2a")))


def translator_file(fmt: str, direction: str) -> str:
    """generator.a2b.onnx, generator.b2a.torchscript.pt, ...: one file per direction."""
    return FILES[fmt].replace("generator.", f"generator.{direction}.", 1)


def _signature(G: nn.Module, cfg: ModelConfig) -> nn.Module:
    return (_StyleSignature(G) if is_style_based(cfg.family) else _Signature(G, cfg.num_classes > 0)).eval()


def _example_inputs(cfg: ModelConfig, n: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    if models.is_translator(cfg.family):  # images in [-1, 1]
        return (torch.rand(n, cfg.channels, cfg.resolution, cfg.resolution, generator=g) * 2 - 1,)
    z = torch.randn(n, cfg.latent_dim, generator=g)
    if is_style_based(cfg.family):
        return z, torch.tensor([0.7])  # a truncation that moves w: the check covers the mapping and w_avg
    if cfg.num_classes > 0:
        return z, torch.randint(0, cfg.num_classes, (n,), generator=g)
    return (z,)


def _reference(G: nn.Module, cfg: ModelConfig, inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """What the PyTorch generator makes of an export's inputs."""
    if is_style_based(cfg.family):
        return G(inputs[0], None, psi=float(inputs[1]))
    return G(inputs[0], inputs[1] if len(inputs) > 1 else None)


def _describe(cfg: ModelConfig) -> dict:
    r = cfg.resolution
    if models.is_translator(cfg.family):  # images of one domain -> the other's, through the family's translate()
        image = {"shape": ["batch", cfg.channels, r, r], "dtype": "float32", "range": [-1.0, 1.0], "layout": "NCHW"}
        ways = directions(cfg)
        return {"inputs": [{"name": "images", **image}], "output": {"name": "translated", **image},
                "directions": list(ways),
                "use": f"ganforge translate EXPORT IMAGES --direction {'|'.join(ways)} (safetensors: the family's "
                       "Generator, every direction; ONNX/TorchScript: one model file per direction, under 'files')"}
    inputs = [{"name": "z", "shape": ["batch", cfg.latent_dim], "dtype": "float32",
               "distribution": "standard normal; seed s: torch.randn(latent_dim, "
                               "generator=torch.Generator().manual_seed(s))"}]
    if cfg.num_classes > 0:
        inputs.append({"name": "labels", "shape": ["batch"], "dtype": "int64", "range": [0, cfg.num_classes - 1]})
    if is_style_based(cfg.family):
        inputs.append({"name": "psi", "shape": [1], "dtype": "float32", "range": [0.0, 2.0],
                       "meaning": "truncation toward the mean w (1: none); safetensors: G(z, psi=...)"})
    width = 2 * r if models.is_two_domain(cfg.family) else r  # a CoGAN's pair: domain A left, B right
    output = {"name": "images", "shape": ["batch", cfg.channels, r, width], "dtype": "float32", "range": [-1.0, 1.0],
              "layout": "NCHW" + (", A | B side by side" if width > r else "")}
    return {"inputs": inputs, "output": output}


def write_export(G: nn.Module, cfg: ModelConfig, info: dict, fmt: str, out: str | Path, *, ema: bool) -> ExportResult:
    """Write generator ``G`` (built from ``cfg``; ``info`` its checkpoint or export description, for the
    step and data set) in ``fmt`` into folder ``out``; ``ema``: whether G holds EMA weights.

    ``ganforge.artifacts.export_generator`` loads G from a run, checkpoint or export and calls this.
    """
    if fmt not in FILES:
        raise GanforgeError(f"unknown export format {fmt!r}; choose one of: {', '.join(FILES)}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise GanforgeError(f"--out {out} is a file; give a folder for the export")
    if models.is_inpainter(cfg.family):
        raise GanforgeError(f"an {cfg.family} run is not exported (its G takes images and masks, not latents); "
                            "use the run itself: 'ganforge inpaint RUN PHOTO --mask MASK'")
    ways = directions(cfg) if fmt != "safetensors" else ()
    # (direction or None, the module the file holds): a translator's ONNX/TorchScript has one file per direction
    parts: list[tuple[str | None, nn.Module]] = [(d, _TranslatorSignature(G, cfg, d).eval()) for d in ways]
    parts = parts or [(None, _signature(G, cfg))]
    files = {d: translator_file(fmt, d) if d else FILES[fmt] for d, _ in parts}
    path = out / files[parts[0][0]]
    errors: list[float] = []
    with Task("export", len(parts), "steps", interval=0, redraw=False, delay=2.0) as shown:
        for direction, module in parts:
            file = out / files[direction]
            if fmt == "safetensors":
                _write_safetensors(G, cfg, file)
            elif fmt == "onnx":
                errors.append(_write_onnx(module, G, cfg, file))
            else:
                errors.append(_write_torchscript(module, G, cfg, file))
            shown.advance(note=f"wrote {file.name}" + ("" if not errors else f", checked against PyTorch "
                                                                             f"(max |difference| {errors[-1]:.2e})"))
    error = max(errors) if errors else None
    meta = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "weights_format": fmt,
        "file": path.name,
        "ganforge_version": __version__,
        "model_config": cfg.to_dict(),
        "step": int(info.get("step") or 0),
        "ema": ema,
        "dataset": info.get("dataset"),
        **_describe(cfg),
    }
    if ways:
        meta["files"] = {d: files[d] for d in ways}
    if error is not None:
        meta["check"] = {"batch_sizes": list(CHECK_BATCHES), "max_abs_error": error, "tolerance": TOLERANCE}
    write_json_atomic(out / CONFIG_NAME, meta)
    return ExportResult(path, out / CONFIG_NAME, error)


def _write_safetensors(G: nn.Module, cfg: ModelConfig, path: Path) -> None:
    from safetensors.torch import save

    # contiguous copies: safetensors refuses views that share storage
    tensors = {k: v.detach().contiguous().clone() for k, v in G.state_dict().items()}
    data = save(tensors, metadata={"format": EXPORT_FORMAT, "model_config": json.dumps(cfg.to_dict())})
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def _compare(run_export, module: nn.Module, G: nn.Module, cfg: ModelConfig) -> float:
    """Largest |export(inputs) - G(inputs)| over CHECK_BATCHES; raise if above TOLERANCE. ``module``: what was
    exported (a translator's direction is compared through it, a generator through ``_reference``)."""
    worst = 0.0
    with torch.no_grad():
        for i, n in enumerate(CHECK_BATCHES):
            inputs = _example_inputs(cfg, n, seed=1000 + i)
            ref = module(*inputs) if models.is_translator(cfg.family) else _reference(G, cfg, inputs)
            got = run_export(*inputs)
            if tuple(got.shape) != tuple(ref.shape):
                raise GanforgeError(f"export check failed: batch {n} gave shape {tuple(got.shape)}, expected "
                                    f"{tuple(ref.shape)}")
            worst = max(worst, float((got - ref).abs().max()))
    if not worst <= TOLERANCE:
        raise GanforgeError(f"export check failed: outputs differ from PyTorch by up to {worst:.3g} "
                            f"(tolerance {TOLERANCE})")
    return worst


def _write_onnx(module: nn.Module, G: nn.Module, cfg: ModelConfig, path: Path) -> float:
    try:
        import onnxruntime  # noqa: F401  (checked before the slow export)
        import onnxscript  # noqa: F401
    except ImportError as e:
        raise GanforgeError(f"ONNX export needs onnxscript and onnxruntime ({e.name} is missing): "
                            "pip install 'ganforge[export]'") from None
    inputs = _example_inputs(cfg, 2)
    first = "images" if models.is_translator(cfg.family) else "z"
    output = "translated" if models.is_translator(cfg.family) else "images"  # ONNX names must differ
    names = [first, "psi" if is_style_based(cfg.family) else "labels"][: len(inputs)]
    batch = torch.export.Dim("batch", min=1)
    dynamic = {first: {0: batch}}
    if len(inputs) > 1:
        dynamic[names[1]] = {} if names[1] == "psi" else {0: batch}
    big = sum(p.numel() * p.element_size() for p in G.state_dict().values()) > 1.5 * 2**30
    # the exporter logs a warning per missing torchvision op and prints its progress; neither concerns us
    quiet = logging.getLogger("torch.onnx")
    level, quiet.level = quiet.level, logging.ERROR
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(module, inputs, input_names=names, output_names=[output],
                                        dynamo=True, dynamic_shapes=dynamic, verbose=False)
        assert program is not None  # dynamo=True always returns the ONNXProgram
    except Exception as e:  # the exporter raises many types; the message is what helps
        raise GanforgeError(f"ONNX export of the {cfg.family} generator failed: "
                            f"{str(e).strip().splitlines()[0][:200]}") from None
    finally:
        quiet.level = level
    if big:  # ONNX protobufs stop at 2 GiB: weights go to generator.onnx.data beside it
        program.save(str(path), external_data=True)
    else:
        with atomic_path(path) as tmp:
            program.save(str(tmp), external_data=False)
    session = _onnx_session(path)
    return _compare(lambda *x: _run_onnx(session, *x), module, G, cfg)


def _onnx_session(path: Path, device: str = "cpu"):
    import onnxruntime as ort

    providers = ["CPUExecutionProvider"]
    if device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(str(path), options, providers=providers)


def _run_onnx(session, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """``z``: latents, or a translator's images; ``labels``: class ids (N,), or for a style-based export the
    truncation psi (1,)."""
    feed = {session.get_inputs()[0].name: z.detach().cpu().float().numpy()}
    second = [i.name for i in session.get_inputs()[1:]]
    if second == ["psi"]:
        feed["psi"] = (torch.ones(1) if labels is None else labels.detach().cpu().float().reshape(1)).numpy()
    elif labels is not None and second:
        feed["labels"] = labels.detach().cpu().long().numpy()
    return torch.from_numpy(session.run([session.get_outputs()[0].name], feed)[0])


def _write_torchscript(module: nn.Module, G: nn.Module, cfg: ModelConfig, path: Path) -> float:
    inputs = _example_inputs(cfg, 2)
    with warnings.catch_warnings():  # torch.jit is deprecated in favour of torch.export; traced modules still load
        warnings.simplefilter("ignore")
        try:
            traced = torch.jit.trace(module, inputs, check_trace=False)
        except Exception as e:
            raise GanforgeError(f"TorchScript export of the {cfg.family} generator failed: "
                                f"{str(e).strip().splitlines()[0][:200]}") from None
        with atomic_path(path) as tmp:
            torch.jit.save(traced, str(tmp))
        loaded = torch.jit.load(str(path), map_location="cpu")
    return _compare(lambda *x: loaded(*x), module, G, cfg)


# ---------------------------------------------------------------- loading


class OnnxGenerator(nn.Module):
    """An ONNX export behind the generator interface: (z (N, latent_dim), labels (N,)?) -> (N, C, R, R)."""

    def __init__(self, path: Path, cfg: ModelConfig, device: str = "cpu"):
        super().__init__()
        self.cfg, self.session = cfg, _onnx_session(path, device)
        self.truncates_in_w = is_style_based(cfg.family)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None, psi: float = 1.0) -> torch.Tensor:
        second = torch.tensor([float(psi)]) if self.truncates_in_w else labels
        return _run_onnx(self.session, z, second).to(z.device)


class TorchScriptGenerator(nn.Module):
    """A traced TorchScript export behind the generator interface (labels passed only when conditional)."""

    def __init__(self, module, cfg: ModelConfig):
        super().__init__()
        self.module, self.cfg = module, cfg
        self.truncates_in_w = is_style_based(cfg.family)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None, psi: float = 1.0) -> torch.Tensor:
        if self.truncates_in_w:
            return self.module(z, torch.tensor([float(psi)], device=z.device))
        if self.cfg.num_classes > 0:
            if labels is None:
                raise GanforgeError("this generator is conditional: give class labels")
            return self.module(z, labels)
        return self.module(z)


class TranslatorExport(nn.Module):
    """A translator's ONNX or TorchScript export: one loaded model per direction, ``translate(x, direction)``
    maps images (N, C, R, R) in [-1, 1] to the other domain's."""

    def __init__(self, cfg: ModelConfig, ways: dict[str, object]):
        super().__init__()
        self.cfg, self.ways = cfg, ways

    def translate(self, x: torch.Tensor, direction: str) -> torch.Tensor:
        if direction not in self.ways:
            raise GanforgeError(f"this {self.cfg.family} export translates {', '.join(self.ways)} only, "
                                f"not {direction}")
        way = self.ways[direction]
        if isinstance(way, nn.Module):  # TorchScript
            return way(x)
        return _run_onnx(way, x).to(x.device)  # an onnxruntime session

    def forward(self, *args, **kwargs):
        raise GanforgeError(f"a {self.cfg.family} export translates images (translate(x, direction)); "
                            "it draws nothing from latents")


def is_export(path: str | Path) -> bool:
    """True for an export folder, its ganforge-export.json, or a ganforge .safetensors file."""
    p = Path(path)
    return (p.is_dir() and (p / CONFIG_NAME).is_file()) or (p.is_file() and p.name == CONFIG_NAME) \
        or (p.is_file() and p.suffix == ".safetensors")


def read_export_config(path: str | Path) -> tuple[dict, Path]:
    """(ganforge-export.json as a dict, the model file it names) for an export folder or file."""
    p = Path(path)
    if p.is_file() and p.suffix == ".safetensors" and not (p.parent / CONFIG_NAME).is_file():
        return _safetensors_meta(p), p
    folder = p if p.is_dir() else p.parent
    try:
        meta = json.loads((folder / CONFIG_NAME).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{folder / CONFIG_NAME} is not readable JSON ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != EXPORT_FORMAT or "model_config" not in meta:
        raise CheckpointError(f"{folder / CONFIG_NAME} is not a ganforge export description")
    if int(meta.get("version", 0)) > EXPORT_VERSION:
        raise CheckpointError(f"{folder} is export format version {meta['version']}, newer than this ganforge reads "
                              f"({EXPORT_VERSION}); upgrade ganforge")
    file = folder / str(meta.get("file", ""))
    if p.is_file() and p.name != CONFIG_NAME:
        file = p
    named = [str(meta.get("file", ""))] + [str(f) for f in (meta.get("files") or {}).values()]
    for name, f in zip(named, [file] + [folder / n for n in named[1:]]):
        if not f.is_file() or f.parent.resolve() != folder.resolve():
            raise CheckpointError(f"the export in {folder} names a model file {name!r} that is not there")
    return meta, file


def _safetensors_meta(path: Path) -> dict:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"{path} is not a readable safetensors file ({str(e)[:160]})") from None
    if header.get("format") != EXPORT_FORMAT or "model_config" not in header:
        raise CheckpointError(f"{path} is a safetensors file without a ganforge model config; "
                              f"put its {CONFIG_NAME} beside it")
    return {"format": EXPORT_FORMAT, "weights_format": "safetensors", "file": path.name,
            "model_config": json.loads(header["model_config"]), "step": None, "dataset": None}


def load_exported(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, ModelConfig, dict]:
    """Load an export (folder, its JSON or model file) as (G in eval mode, model config, export description).

    safetensors gives the family's own ``Generator`` (usable for everything a run's generator is
    used for: projection, editing, fine-tuning); ONNX and TorchScript give modules with the same
    call signature for sampling only.
    """
    meta, file = read_export_config(path)
    cfg = ModelConfig.from_dict(meta["model_config"])
    fmt = meta.get("weights_format") or {v: k for k, v in FILES.items()}.get(file.name)
    device = torch.device(device)
    G: nn.Module
    if fmt in ("onnx", "torchscript") and meta.get("files"):  # a translator: one file per direction
        G = TranslatorExport(cfg, {d: _load_file(fmt, file.parent / name, cfg, device, raw=True)
                                   for d, name in meta["files"].items()})
    elif fmt == "safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            weights = load_file(str(file), device="cpu")
        except (SafetensorError, OSError) as e:
            raise CheckpointError(f"{file} is not a readable safetensors file ({str(e)[:160]})") from None
        G = build_generator(cfg)
        try:
            G.load_state_dict(weights)
        except RuntimeError as e:
            raise CheckpointError(f"{file} does not fit a {cfg.family} generator: {str(e).splitlines()[0]}") from None
        G.to(device)
    elif fmt in ("onnx", "torchscript"):
        G = _load_file(fmt, file, cfg, device)
    else:
        raise CheckpointError(f"{file}: unknown export format {fmt!r}")
    G.eval().requires_grad_(False)
    return G, cfg, meta


def _load_file(fmt: str, file: Path, cfg: ModelConfig, device: torch.device, raw: bool = False):
    """An ONNX or TorchScript model file behind the generator interface; ``raw``: the ONNX session or the
    TorchScript module itself (a translator's direction)."""
    if fmt == "onnx":
        try:
            return _onnx_session(file, str(device)) if raw else OnnxGenerator(file, cfg, str(device))
        except ImportError:
            raise GanforgeError("running an ONNX export needs onnxruntime: pip install 'ganforge[export]'") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            module = torch.jit.load(str(file), map_location=device)
        except RuntimeError as e:
            raise CheckpointError(f"{file} is not a readable TorchScript file "
                                  f"({str(e).strip().splitlines()[0][:160]})") from None
    return module.eval() if raw else TorchScriptGenerator(module, cfg)
