"""Share runs on the Hugging Face Hub: push a run as a safetensors export with a model card, pull it back.

A pushed repository holds::

    README.md              the model card: data set, model, training, metrics (with extractor names), samples
    ganforge-export.json   the export description (model config, inputs, outputs)
    generator.safetensors  the generator's weights (EMA weights when the run has them)
    samples.png            a grid of seeds 0..15 from the exported weights (a CoGAN's: pairs A | B); for a
                           translator (cyclegan, dtn), its sample rows on the first images of each domain
                           (input, translation[, reconstruction]) when the run's data set is at hand
    loss.png               the run's loss plot, when there is one
    metrics.jsonl          the run's metric records, when there are any
    training.json          the resolved options, with local paths reduced to file names

``pull`` downloads it into a folder that ``ganforge generate`` and ``load_generator`` take as it is.
Nothing is unpickled on either side. The server is ``endpoint`` (default: ``HF_ENDPOINT`` or the
public Hub); tests use a fake one on 127.0.0.1.
"""

from __future__ import annotations

import functools
import json
import math
import shutil
import tempfile
from pathlib import Path

import torch

from ganforge import __version__, models
from ganforge.artifacts import export_generator
from ganforge.checkpoint import find_checkpoint, load_checkpoint
from ganforge.data.dataset import load_dataset
from ganforge.download import hub_call
from ganforge.errors import GanforgeError
from ganforge.export import CONFIG_NAME, load_exported, read_export_config
from ganforge.progress import Task
from ganforge.runs import RunDir, read_jsonl
from ganforge.sampling import domain_examples, image_grid, images_for_seeds, to_uint8

SAMPLE_SEEDS = range(16)
_NOT_METRICS = {"step", "time", "epoch", "elapsed", "kimg", "images", "n", "seconds", "wall_time", "timestamp"}


class HubError(GanforgeError):
    """The Hub refused or could not be reached."""


def _hub():
    try:
        import huggingface_hub
    except ImportError:
        raise GanforgeError("sharing needs huggingface_hub: pip install 'ganforge[hub]'") from None
    return huggingface_hub


_HINTS = {401: "; give --token or set HF_TOKEN", 403: "; the token may lack write access",
          404: " (or it is private: give --token)"}
_call = functools.partial(hub_call, error=HubError, hints=_HINTS)  # Hub errors as one line, with our advice


# ---------------------------------------------------------------- metrics and the model card


def latest_metrics(records: list[dict]) -> list[dict]:
    """The last value of each metric in metrics.jsonl records: [{"metric", "extractor", "value", "std", "step"}].

    Reads the records ``ganforge evaluate`` and ``--eval-every`` write, ``{"step": 500, "time": 61.2,
    "n": 2000, "fid[inception]": 41.3, "kid[inception]": 0.02, "kid_std[inception]": 0.001}``, and the
    long form ``{"step": 500, "metric": "fid", "extractor": "inception", "value": 41.3}``.
    """
    latest: dict[tuple[str, str | None], dict] = {}
    for r in records:
        step = r.get("step")
        if "metric" in r and isinstance(r.get("value"), (int, float)):
            items = [(str(r["metric"]), r.get("extractor") or r.get("features"), r["value"])]
        else:
            items = [(k, None, v) for k, v in r.items()
                     if k not in _NOT_METRICS and isinstance(v, (int, float)) and not isinstance(v, bool)]
        parsed = []
        for name, extractor, value in items:
            if "[" in name and name.endswith("]") and extractor is None:
                name, extractor = name[:-1].split("[", 1)
            parsed.append((name, extractor, value))
        stds = {(n[: -len("_std")], e): v for n, e, v in parsed if n.endswith("_std")}
        for name, extractor, value in parsed:
            if not name.endswith("_std"):
                latest[(name, extractor)] = {"metric": name, "extractor": extractor, "value": value,
                                             "std": stds.get((name, extractor)), "step": step}
    return list(latest.values())


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else str(v)
    return str(v)


def _duration(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min {s:02d} s"


def model_card(repo_id: str, export_meta: dict, run_config: dict | None, metrics: list[dict],
               n_params: int, files: list[str]) -> str:
    """The README.md of a pushed run: YAML front matter for the Hub, then what a reader needs."""
    m = export_meta["model_config"]
    data = export_meta.get("dataset") or (run_config or {}).get("data") or {}
    train = (run_config or {}).get("train", {})
    colour = "greyscale" if m["channels"] == 1 else "RGB"
    source = data.get("source") or data.get("path") or "unknown"
    domains = data.get("domains") or []
    ways = export_meta.get("directions") or []  # a translator's: "a2b"[, "b2a"]
    names = [d.get("name", d.get("key", "?")) for d in domains] or ["A", "B"]
    if ways:
        what = (f"A {m['family']} translator of {m['resolution']}×{m['resolution']} {colour} images, "
                + " and ".join(f"{names['ab'.index(w[0])]} → {names['ab'.index(w[-1])]} ({w})" for w in ways))
        task = "image-to-image"
    elif domains:
        what = (f"A {m['family']} generator of pairs of {m['resolution']}×{m['resolution']} {colour} images, "
                f"{names[0]} | {names[1]} side by side from one latent")
        task = "unconditional-image-generation"
    else:
        what = f"A {m['family']} generator of {m['resolution']}×{m['resolution']} {colour} images"
        task = "image-generation" if m.get("num_classes") else "unconditional-image-generation"
    tags = ["ganforge", "gan", m["family"], task, "pytorch", "safetensors"]
    lines = [
        "---",
        "library_name: ganforge",
        "pipeline_tag: " + task,
        "tags:",
        *[f"- {t}" for t in dict.fromkeys(tags)],
        "---",
        "",
        f"# {repo_id.split('/')[-1]}",
        "",
        f"{what}, trained with "
        f"ganforge {export_meta.get('ganforge_version', __version__)} for "
        f"{export_meta.get('step', '?')} steps on `{source}`"
        + (f" ({_duration(run_config['elapsed'])} of training)" if run_config and run_config.get("elapsed") else "")
        + ".",
        "",
    ]
    if "samples.png" in files and ways:
        rows = " / ".join(r for w in ways for r in (names['ab'.index(w[0])], f"{w}",
                                                    *([f"{w} and back"] if m["family"] == "cyclegan" else [])))
        if m["family"] == "dtn":
            rows = f"{names[0]} / a2b / {names[1]} / a2b of {names[1]} (kept close to its input)"
        lines += ["![Translations](samples.png)", "",
                  f"*Rows: {rows}; the first images of each domain of the training set, translated by the "
                  "weights in this repository.*", ""]
    elif "samples.png" in files:
        lines += ["![Samples: seeds 0 to 15](samples.png)", "", "*Seeds 0–15, from the weights in this repository"
                  + (f"; each {names[0]} | {names[1]}" if domains else "") + ".*", ""]
    lines += ["## Data set", "", "| source | images | resolution | channels | classes | SHA-256 |",
              "| --- | --- | --- | --- | --- | --- |",
              f"| `{source}` | {data.get('count', '?')} | {data.get('resolution', m['resolution'])} px | "
              f"{data.get('channels', m['channels'])} | {len(data['classes']) if data.get('classes') else 'none'} | "
              f"`{data.get('sha256', '?')}` |", ""]
    if domains:
        lines += ["| domain | name | images | source |", "| --- | --- | --- | --- |",
                  *[f"| {d.get('key', '?')} | {d.get('name', '?')} | {d.get('count', '?')} | `{d.get('source', '?')}` |"
                    for d in domains], ""]
    options = ", ".join(f"{k}={v}" for k, v in sorted(m.get("options", {}).items())) or "none"
    lines += ["## Model", "", "| family | latent size | width | classes | options | generator parameters | weights |",
              "| --- | --- | --- | --- | --- | --- | --- |",
              f"| {m['family']} | {m['latent_dim']} | {m['width']} | {m.get('num_classes') or 'unconditional'} | "
              f"{options} | {n_params:,} | {'EMA' if export_meta.get('ema') else 'raw'} |", ""]
    if train:
        lines += ["## Training", "", "| steps | batch | loss | lr G / D | Adam betas | precision | seed |",
                  "| --- | --- | --- | --- | --- | --- | --- |",
                  f"| {export_meta.get('step', '?')} | {train.get('batch_size', '?')} | {train.get('loss', '?')} | "
                  f"{_fmt(train.get('lr_g'))} / {_fmt(train.get('lr_d'))} | "
                  f"{train.get('beta1')}, {train.get('beta2')} | "
                  f"{(run_config or {}).get('runtime', train.get('precision', '?'))} | {train.get('seed', '?')} |", ""]
    lines += ["## Metrics", ""]
    if metrics:
        lines += ["| metric | feature extractor | value | at step |", "| --- | --- | --- | --- |"]
        lines += [f"| {r['metric']} | {r['extractor'] or '—'} | {_fmt(r['value'])}"
                  f"{' ± ' + _fmt(r['std']) if r.get('std') is not None else ''} | "
                  f"{r['step'] if r['step'] is not None else '?'} |" for r in metrics]
        lines += ["", "Values are the last recorded in `metrics.jsonl`; a metric is comparable only with the same "
                      "feature extractor and protocol."]
    else:
        lines += ["No metrics were recorded for this run (`ganforge evaluate` measures them)."]
    lines += [""]
    if "loss.png" in files:
        lines += ["![Losses](loss.png)", "",
                  "*Loss curves and D's outputs: a training diagnostic, not a quality measure.*", ""]
    if ways:
        lines += ["## Use", "", "```sh", "pip install ganforge", f"ganforge hub pull {repo_id} --out model",
                  f"ganforge translate model photo.jpg more-photos/ --direction {ways[0]} --out translated/",
                  "```", "", "```python", "from ganforge.translate import translate_images, write_translations",
                  "", f"write_translations(translate_images(\"model\", [\"photo.jpg\"], \"{ways[0]}\"), "
                  "\"translated/\")", "```", "",
                  "Each image is cropped and resized as the training set was; the weights are plain safetensors, "
                  "so nothing is unpickled.", ""]
    else:
        lines += ["## Use", "", "```sh", "pip install ganforge", f"ganforge hub pull {repo_id} --out model",
                  "ganforge generate model --seed 0 --n 16 --out grid.png", "```", "", "```python",
                  "from ganforge.artifacts import load_generator",
                  "from ganforge.sampling import domain_examples, image_grid, images_for_seeds, to_uint8",
                  "", "G, cfg, _ = load_generator(\"model\")",
                  "image_grid(images_for_seeds(G, range(16))).save(\"grid.png\")", "```", "",
                  "Seed *s* is the latent `torch.randn(latent_dim, generator=torch.Generator().manual_seed(s))`; "
                  "the weights are plain safetensors, so nothing is unpickled.", ""]
    lines += ["## Files", "", *[f"- `{f}`" for f in files], ""]
    return "\n".join(lines)


def _portable_config(run_config: dict) -> dict:
    """The run's config.json without local paths: data and output paths become file names."""
    cfg = json.loads(json.dumps(run_config))
    for section, key in (("train", "data"), ("train", "out"), ("data", "path")):
        if isinstance(cfg.get(section), dict) and cfg[section].get(key):
            cfg[section][key] = Path(str(cfg[section][key])).name
    data = cfg.get("data") or {}
    for entry in [data, *(d for d in data.get("domains") or [] if isinstance(d, dict))]:  # two domains: each source
        if isinstance(entry.get("source"), str):  # a two-domain set's is "A=SRC + B=SRC"
            entry["source"] = " + ".join(map(_portable_source, entry["source"].split(" + ")))
    return cfg


def _portable_source(src: str) -> str:
    """folder:/home/me/pictures -> folder:pictures, /home/me/b.zip -> b.zip, cats=folder:/x/cats -> cats=folder:cats."""
    head = src.split("/")[0].split(":")[0]
    name, eq, src = src.partition("=") if "=" in head else ("", "", src)
    if "/" in src:
        kind, sep, where = src.partition(":") if ":" in src else ("", "", src)
        src = f"{kind}{sep}{Path(where).name}"
    return f"{name}{eq}{src}"


# ---------------------------------------------------------------- push and pull


def stage_run(run_dir: str | Path, repo_id: str, folder: str | Path) -> list[str]:
    """Write everything ``push`` uploads for run ``run_dir`` into ``folder``; returns the file names."""
    run, folder = RunDir(run_dir), Path(folder)
    find_checkpoint(run.root)  # a clear error before anything is written
    result = export_generator(run.root, "safetensors", folder)
    meta = json.loads(result.config_path.read_text())
    run_config = _portable_config(run.read_config()) if run.exists() else None
    if run_config is not None:
        run_config["elapsed"] = float(load_checkpoint(run.latest_checkpoint).get("elapsed", 0.0))
        (folder / "training.json").write_text(json.dumps(run_config, indent=2) + "\n")
    meta["dataset"] = (run_config or {}).get("data") or _portable_config({"data": meta.get("dataset") or {}})["data"]
    result.config_path.write_text(json.dumps(meta, indent=2) + "\n")  # without local paths either
    G, cfg, _ = load_exported(folder)
    grid = _sample_grid(G, cfg, run)
    if grid is not None:
        grid.save(folder / "samples.png")
    if run.loss_plot.is_file():
        shutil.copy(run.loss_plot, folder / "loss.png")
    records = read_jsonl(run.metrics)
    if records:
        shutil.copy(run.metrics, folder / "metrics.jsonl")
    files = sorted(p.name for p in folder.iterdir()) + ["README.md"]
    n_params = sum(p.numel() for p in G.parameters())
    (folder / "README.md").write_text(model_card(repo_id, meta, run_config, latest_metrics(records), n_params,
                                                 sorted(files)))
    return sorted(files)


def _sample_grid(G, cfg, run: RunDir):
    """Seeds 0..15 (a CoGAN's pairs too); a translator's sample rows (its family's ``preview``) on the first 8
    images of each domain of the run's data set, or None when that data set is not at hand."""
    if not models.is_translator(cfg.family):
        return image_grid(images_for_seeds(G, list(SAMPLE_SEEDS)), ncols=8)
    path = ((run.read_config() if run.exists() else {}).get("data") or {}).get("path")
    try:
        data = load_dataset(path) if path else None
    except GanforgeError:
        data = None
    if data is None or not data.domains:
        return None
    n = min(8, *(d["count"] for d in data.domains))
    with torch.no_grad():
        rows = models.family(cfg.family).preview(G, None, domain_examples(data, n))
    return image_grid(to_uint8(torch.cat(rows)), ncols=n)


def push(run_dir: str | Path, repo_id: str, *, token: str | None = None, endpoint: str | None = None,
         private: bool = False, message: str | None = None) -> str:
    """Create (if needed) model repository ``repo_id`` and upload run ``run_dir`` to it; returns its URL."""
    hf = _hub()
    api = hf.HfApi(endpoint=endpoint, token=token)
    shown = Task("hub push", 3, "steps", interval=0, redraw=False, delay=2.0)
    with tempfile.TemporaryDirectory(prefix="ganforge-push-") as tmp, shown:
        files = stage_run(run_dir, repo_id, tmp)
        shown.advance(note=f"exported and described {len(files)} files")
        url = _call(f"creating {repo_id}", endpoint, api.create_repo, repo_id, repo_type="model", private=private,
                        exist_ok=True)
        shown.advance(note=f"repository {repo_id} ready")
        _call(f"uploading to {repo_id}", endpoint, api.upload_folder, repo_id=repo_id, repo_type="model",
              folder_path=tmp,
              commit_message=message or f"ganforge {__version__}: {Path(run_dir).name}, {len(files)} files")
        shown.advance(note="uploaded")
    return str(url)


def pull(repo_id: str, out: str | Path, *, revision: str | None = None, token: str | None = None,
         endpoint: str | None = None) -> Path:
    """Download repository ``repo_id`` into folder ``out`` and check that it is a ganforge export."""
    hf = _hub()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise GanforgeError(f"--out {out} is a file; give a folder")
    with Task("hub pull", 2, "steps", interval=0, redraw=False, delay=2.0) as shown:
        _call(f"downloading {repo_id}", endpoint, hf.snapshot_download, repo_id=repo_id, repo_type="model",
              revision=revision, local_dir=str(out), token=token, endpoint=endpoint)
        shown.advance(note=f"downloaded to {out}")
        if not (out / CONFIG_NAME).is_file():
            raise HubError(f"{repo_id} is not a ganforge model: it has no {CONFIG_NAME} (downloaded to {out})")
        read_export_config(out)  # a one-line error if the description is broken
        shown.advance(note="checked: a ganforge export")
    return out
