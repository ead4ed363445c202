"""``ganforge reproduce THESIS``: each thesis behind ganforge, re-run as it was built, beside today's recipe.

For a thesis (``THESES``): find its data among what is here (a built-in source, the shared
zips, or what the user names), prepare it, train the thesis's set-up(s) (its presets) and
today's best ganforge recipe for the same budget each, evaluate them alike
(``metrics.report.compare_runs``), and write ``report.md`` + ``report.html`` putting the
thesis's own figures beside ganforge's, with what makes them comparable or not.

The theses' own texts and tables are not in anything ganforge holds (issue 17 summarises
their architectures, not their figures), so their reported figures are listed by name
and marked "not available here" rather than invented; fill them in ``THESES`` when the
texts are at hand. The MITLGAN thesis runs its whole protocol
(``ganforge.experiments.mitlgan``) with the thesis's own baseline, merge and refiner.

Running the same command again continues every run where it stopped.
"""

from __future__ import annotations

import html
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ganforge.config import ModelConfig, TrainConfig
from ganforge.data.dataset import read_info
from ganforge.data.prepare import PrepareOptions, prepare
from ganforge.errors import ConfigError, DataError
from ganforge.experiments.mitlgan import run_stats, train_stage
from ganforge.presets import get_preset
from ganforge.utils import STDERR, atomic_path, write_json_atomic

SHARED_DATA = [Path("../shared/data"), Path("shared/data"), Path("/work/shared/data")]  # searched for the zips
NOT_AVAILABLE = "not available here (the thesis's text is not in anything ganforge holds)"
DOMAIN_FID = ("ganforge's FID uses the features named in its key: `fid[inception]` is the standard one (needs the "
              "Inception weights), `fid[NAME]` a domain classifier's (comparable only between runs of this report); "
              "without --features only the pixel two-sample test (c2st, 50 % = indistinguishable) is computed.")

# Today's best ganforge recipe for a few thousand images (the small-data preset), and its 28 px form:
# resnet needs a power of two, so at 28 px the same ideas (hinge, spectral norm, DiffAugment, EMA) on dcgan nets.
TODAY_28 = {"model": {"family": "dcgan", "width": 64, "latent_dim": 128,
                      "options": {"g_input": "dense", "spectral_norm": True, "d_norm": "none"}},
            "train": {"loss": "hinge", "augment": "translation,cutout", "ema": 0.999, "batch_size": 64,
                      "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.0, "beta2": 0.9}}


@dataclass(frozen=True)
class Thesis:
    name: str
    title: str
    summary: str                       # what it built and found, as far as ganforge knows
    presets: tuple[tuple[str, str], ...]  # (label in the report, preset name)
    default_data: str                  # a built-in source or a file name under ../shared/data ("" when none)
    size: int                          # the size its images are prepared at
    data_note: str                     # what the thesis trained on and what stands in for it here
    reported: tuple[str, ...]          # the figures the thesis reported (values unknown here)
    caveats: tuple[str, ...] = ()
    subfolder: str = ""                # only images under this folder of the zip (dogs of cats-dogs)
    channels: int | None = None


THESES: dict[str, Thesis] = {t.name: t for t in [
    Thesis("faces", "Image Generating Encapsulated Environment (Bielko): faces and avatars in a web app",
           "A DCGAN-style GAN (dense -> 4x4, 4x4 transposed convs, LeakyReLU G, 3x3 stride-2 D) up to 128 px, "
           "served in a web app; proposed an inpainting model as its next step.",
           (("thesis: faces DCGAN", "faces-dcgan-128"),), "anime-faces-64.zip", 64,
           "The thesis's face and avatar photos are not here; the shared anime faces (64 px avatars) stand in "
           "(../shared/data/olivetti-faces.zip is the other offline choice: --data).",
           ("sample grids at 32-128 px", "training losses"),
           ("The thesis trained up to 128 px; the offline avatars are 64 px.",)),
    Thesis("mitlgan", "MITLGAN: Multiple Input Transfer Learning GAN",
           "Two generators pretrained on foregrounds and backgrounds, frozen, joined by a 1x1 conv to 3 channels + "
           "ReLU and a dense-block refiner (7x7 stem, growth 4 x width), trained under a WGAN critic, against a "
           "WGAN baseline (z 1536 -> 4x4x96, upsample + 3x3 convs; 5x5 critic 48-384 with dropout 0.3).",
           (), "", 64,
           "The thesis's foreground/background photos are not here; experiments/mitlgan_pokemon.py makes the "
           "stand-in (Pokémon over blurred cats-and-dogs photos) into data/mitlgan-pokemon/.",
           ("FID of the baseline and of MITLGAN (its table)", "sample grids", "discriminator accuracy"),
           ("The thesis's FIDs use Inception features at its resolution on its data; ganforge's here are on the "
            "stand-in set, at 64 px unless the sets are made at 128.",
            "The thesis's baseline was a WGAN; ganforge trains it with the gradient penalty (WGAN-GP).")),
    Thesis("dogs", "Dogs from Open Images with a human real-or-fake test (Bordák, Pelle, Németh)",
           "A DCGAN with Glorot initialisation on about a thousand hand-filtered Open Images dog photos, judged by "
           "people in a real-or-fake game; named spectral normalisation in D as the next step.",
           (("thesis: DCGAN, Glorot init", "dogs-dcgan-64"),), "cats-dogs-160.zip", 64,
           "Open Images needs a network; the 2,000 dogs of the shared cats-and-dogs zip stand in (or "
           "--data openimages:Dog where there is one).",
           ("realness percentages of the human test", "sample grids"),
           ("A human test's realness percentage and a c2st/FID measure different things; ganforge's game "
            "(ganforge serve) gives the human figure.",),
           subfolder="dogs", channels=3),
    Thesis("cats", "Cats and MNIST: dense versus convolutional GANs",
           "A dense GAN (G 256-512-1024-784 with batch norm, D 512-256 with dropout) against a convolutional one "
           "(7x7x128 -> two transposed convs -> 28x28) on MNIST.",
           (("thesis: dense GAN", "mnist-dense"), ("thesis: convolutional GAN", "mnist-conv")), "mnist:train", 28,
           "MNIST is a built-in source (Debian/cache copy, else the official files); the thesis's cat photos are "
           "not part of this comparison.",
           ("the dense-vs-convolutional comparison (sample grids, losses)",), channels=1),
    Thesis("spiders", "Spiders with a 64 px DCGAN",
           "The DCGAN of Radford et al. at 64 px, batch 32, Adam 2e-4 / 0.5, BCE, on spider photos.",
           (("thesis: DCGAN 64", "spiders-dcgan-64"),), "", 64,
           "No spider photos are here: give --data FOLDER_OR_ZIP (or openimages:Spider where there is a network).",
           ("sample grids",), channels=3),
]}


@dataclass
class ReproduceOptions:
    thesis: str
    out: str
    budget: float = 2.0               # training minutes per run
    data: str = ""                    # a prepared set, a folder/zip of images, or a source; "" = the thesis's default
    size: int = 0                     # 0: the thesis's size
    limit: int | None = None          # take only the first N images when preparing
    device: str = "auto"
    metrics: str = "c2st"             # evaluation of every run ("" for none)
    features: str = ""                # extractor for fid/kid/pr (inception or a 'ganforge features fit' name)
    eval_n: int = 500
    batch_size: int | None = None     # overrides the set-ups' batch size (tiny data sets)
    width: int | None = None          # overrides the set-ups' width (quick runs)
    seed: int = 0
    extra: dict = field(default_factory=dict)


def thesis(name: str) -> Thesis:
    if name not in THESES:
        raise ConfigError(f"unknown thesis {name!r}; choose one of: {', '.join(THESES)} (or --list)")
    return THESES[name]


def describe() -> str:
    """The --list text: each thesis, what it built, the data it uses here."""
    lines = []
    for t in THESES.values():
        lines += [f"{t.name}: {t.title}", f"  built: {t.summary}",
                  f"  set-ups: {', '.join(p for _, p in t.presets) or 'ganforge experiment mitlgan, thesis merge'}"
                  " + today's ganforge recipe", f"  data: {t.data_note}", ""]
    return "\n".join(lines).rstrip()


# ---- data ---------------------------------------------------------------------------------------
def find_shared(name: str) -> Path | None:
    for folder in SHARED_DATA:
        if (folder / name).is_file():
            return folder / name
    return None


def is_prepared(path: str) -> bool:
    try:
        read_info(path)
    except DataError:
        return False
    return True


def prepare_data(t: Thesis, o: ReproduceOptions, work: Path, log=STDERR) -> Path:
    """A prepared data set for the thesis: ``o.data`` if it is one, else prepared from it or the thesis's default."""
    if o.data and is_prepared(o.data):
        return Path(o.data)
    src = o.data or t.default_data
    if not src:
        raise DataError(f"the {t.name} thesis's data is not here: {t.data_note}")
    if not o.data and src.endswith(".zip"):
        found = find_shared(src)
        if found is None:
            raise DataError(f"{src} not found in {', '.join(map(str, SHARED_DATA))}; give --data FOLDER_OR_ZIP "
                            f"({t.data_note})")
        src = str(found)
    if t.subfolder and Path(src).suffix == ".zip" and Path(src).is_file():
        src = str(_extract_subfolder(Path(src), t.subfolder, work / f"{t.subfolder}-source"))
    size = o.size or t.size
    out = work / f"{t.name}-{size}.zip"
    if out.is_file():
        return out
    print(f"== data: preparing {src} at {size} px -> {out}", file=log, flush=True)
    prepare(src, out, PrepareOptions(resolution=size, channels=t.channels, limit=o.limit, workers=1), progress=False)
    return out


def _extract_subfolder(zip_path: Path, subfolder: str, dest: Path) -> Path:
    """The images of ``zip_path`` whose path has a folder named ``subfolder``, copied into ``dest``."""
    if dest.is_dir() and any(dest.iterdir()):
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path) as zf:
        names = [n for n in zf.namelist() if subfolder in Path(n).parts[:-1] and not n.endswith("/")]
        if not names:
            raise DataError(f"{zip_path} has no folder named {subfolder!r}")
        for n in names:
            (dest / Path(n).name).write_bytes(zf.read(n))
    return dest


# ---- runs ---------------------------------------------------------------------------------------
def setup_configs(recipe: dict, o: ReproduceOptions, data: Path, out: Path) -> tuple[TrainConfig, ModelConfig]:
    """The TrainConfig and ModelConfig of one set-up (a preset dict) at the budget, on ``data``."""
    model = dict(recipe["model"])
    model["options"] = dict(model.get("options") or {})
    info = read_info(data)
    model.update(resolution=int(info["resolution"]), channels=int(info["channels"]))
    if o.width:
        model["width"] = o.width
    train = {**recipe["train"], **o.extra}
    if o.batch_size:
        train["batch_size"] = o.batch_size
    sample_every = 100
    cfg = TrainConfig(data=str(data), out=str(out), minutes=o.budget, seed=o.seed, device=o.device,
                      sample_every=sample_every, checkpoint_every=10 * sample_every, n_samples=36, **train)
    return cfg.validate(), ModelConfig.from_dict(model)


def today_recipe(resolution: int) -> tuple[str, dict]:
    if resolution & (resolution - 1):  # not a power of two: 28 px
        return "ganforge today: dcgan nets, hinge, spectral norm, DiffAugment, EMA", TODAY_28
    return "ganforge today: small-data preset (SNGAN nets, hinge, DiffAugment, EMA)", get_preset("small-data")


def run_setups(t: Thesis, o: ReproduceOptions, data: Path, out: Path, log=STDERR) -> dict[str, Path]:
    """Train every set-up of the thesis and today's recipe on ``data`` for the budget; {label: run dir}."""
    resolution = int(read_info(data)["resolution"])
    recipes = [(label, name, get_preset(name)) for label, name in t.presets]
    label, today = today_recipe(resolution)
    recipes.append((label, "today", today))
    runs = {}
    for label, name, recipe in recipes:
        cfg, model_cfg = setup_configs(recipe, o, data, out / "runs" / name)
        runs[label] = train_stage(label, cfg, model_cfg, log)
    return runs


def run_mitlgan(t: Thesis, o: ReproduceOptions, out: Path, log=STDERR) -> tuple[dict[str, Path], dict]:
    """The MITLGAN protocol with the thesis's baseline (upconv), merge and refiner, then today's recipe."""
    from ganforge.experiments.mitlgan import run_experiment
    from ganforge.experiments.mitlgan_options import ExperimentOptions

    folder = Path(o.data) if o.data else Path("data/mitlgan-pokemon")
    sets = {}
    for kind in ("foreground", "background", "combined"):
        found = sorted(folder.glob(f"{kind}-*.zip")) if folder.is_dir() else []
        if not found:
            raise DataError(f"no {kind}-SIZE.zip in {folder}: give --data DIR holding foreground-, background- and "
                            f"combined-SIZE.zip ({t.data_note})")
        sets[kind] = str(found[0])
    baseline = get_preset("mitlgan-wgan-gp-128")
    bm, bt = baseline["model"], baseline["train"]
    eo = ExperimentOptions(
        foreground=sets["foreground"], background=sets["background"], combined=sets["combined"],
        out=str(out / "experiment"), budget=o.budget, family=bm["family"], width=o.width or bm["width"],
        latent_dim=bm["latent_dim"], merge="thesis", refiner_width=o.width or 32,
        batch_size=o.batch_size or bt["batch_size"], vflip=bt.get("vflip", False), seed=o.seed, device=o.device,
        metrics=o.metrics, features=o.features or "inception", eval_n=o.eval_n, sample_every=100)
    results = run_experiment(eo, log=log)
    runs = {f"thesis: {k}": Path(v) for k, v in results["runs"].items()}
    label, today = today_recipe(int(read_info(sets["combined"])["resolution"]))
    cfg, model_cfg = setup_configs(today, o, Path(sets["combined"]), out / "runs" / "today")
    runs[label] = train_stage(label, cfg, model_cfg, log)
    return runs, {"data": sets, "protocol": str(out / "experiment" / "report.md")}


# ---- report -------------------------------------------------------------------------------------
def reproduce(o: ReproduceOptions, log=STDERR) -> dict:
    """Prepare, train, evaluate and report one thesis; returns what ``results.json`` holds."""
    from ganforge.metrics.report import compare_runs

    t = thesis(o.thesis)
    if o.budget <= 0:
        raise ConfigError("--budget must be a positive number of minutes")
    out = Path(o.out)
    out.mkdir(parents=True, exist_ok=True)
    extra: dict = {}
    if t.name == "mitlgan":
        runs, extra = run_mitlgan(t, o, out, log)
    else:
        data = prepare_data(t, o, out / "data", log)
        extra["data"] = str(data)
        runs = run_setups(t, o, data, out, log)
    evaluate = None
    if o.metrics:
        evaluate = {"metrics": o.metrics, "features": o.features or None, "n": o.eval_n}
    compare_runs(list(runs.values()), out / "compare", evaluate=evaluate, log=log)
    comparison = json.loads((out / "compare" / "comparison.json").read_text())
    by_path = {str(p): label for label, p in runs.items()}
    table = {by_path.get(path, name): comparison["table"].get(name, {})
             for name, path in comparison["runs"].items()}
    stats = {label: run_stats(p) for label, p in runs.items()}
    results = {"thesis": t.name, "budget_minutes": o.budget, "runs": {k: str(v) for k, v in runs.items()},
               "stats": stats, "metrics": table, **extra}
    write_json_atomic(out / "results.json", results)
    write_report(t, o, results, out)
    return results


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "—" if v is None else str(v)


def report_markdown(t: Thesis, o: ReproduceOptions, results: dict) -> str:
    keys: list[str] = []
    for row in results["metrics"].values():
        # metric keys name what they measure (fid[inception], c2st_acc[pixels]); steps and minutes have columns
        keys += [k for k, v in row.items() if k not in keys and "[" in k and isinstance(v, (int, float))]
    md = [f"# Reproducing the {t.name} thesis", "", f"**{t.title}**", "", t.summary, "",
          f"Budget: {o.budget:g} training minutes per run (the trainer's count: time inside training steps). "
          "Data: " + t.data_note, "",
          "## The thesis's reported figures", "", "| figure | thesis | ganforge (this report) |", "|---|---|---|"]
    md += [f"| {fig} | {NOT_AVAILABLE} | see below |" for fig in t.reported]
    md += ["", "## ganforge's runs", "",
           "| set-up | family | steps | training min | " + " | ".join(keys) + " |",
           "|---" * (4 + len(keys)) + "|"]
    for label, st in results["stats"].items():
        row = results["metrics"].get(label, {})
        md.append(f"| {label} | {st['family']} | {st['steps']} | {st['minutes']} | "
                  + " | ".join(_fmt(row.get(k)) for k in keys) + " |")
    md += ["", "The last row is what the thesis would have got with today's ganforge at the same budget.", "",
           "## Caveats", ""]
    md += [f"- {c}" for c in (*t.caveats, DOMAIN_FID,
                              "Every run here is short (the budget above); numbers compare the set-ups at equal "
                              "compute on this machine, not the theses' converged results.")]
    md += ["", "Full comparison (curves, grids side by side): [compare/report.html](compare/report.html)", ""]
    if "protocol" in results:
        md += [f"The MITLGAN protocol's own report: `{results['protocol']}`", ""]
    samples = sorted((Path(o.out) / "compare").glob("samples-*.png"))
    if samples:
        md += ["## Samples (latest grid of each run, in the order of the table)", ""]
        md += [f"![{label}](compare/{p.name})" for label, p in zip(results["stats"], samples)]
    return "\n".join(md) + "\n"


def write_report(t: Thesis, o: ReproduceOptions, results: dict, out: Path) -> None:
    md = report_markdown(t, o, results)
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(md)
    with atomic_path(out / "report.html") as tmp:
        tmp.write_text(markdown_to_html(md, f"ganforge reproduce {t.name}", out))


def markdown_to_html(md: str, title: str, root: Path) -> str:
    """The few Markdown forms report_markdown writes (headings, tables, lists, images, links) as one HTML page,
    images inlined so the page stands alone."""
    from ganforge.metrics.report import _data_uri

    body: list[str] = []
    table: list[str] = []

    def flush_table():
        if table:
            rows = [r for r in table if not set(r.replace("|", "").strip()) <= {"-"}]
            cells = [[html.escape(c.strip()) for c in r.strip().strip("|").split("|")] for r in rows]
            head = "".join(f"<th>{c}</th>" for c in cells[0])
            rest = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in cells[1:])
            body.append(f"<table><tr>{head}</tr>{rest}</table>")
            table.clear()

    for line in md.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush_table()
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{html.escape(line[level:].strip())}</h{level}>")
        elif line.startswith("!["):
            alt, src = line[2:].split("](", 1)
            path = root / src.rstrip(")")
            if path.is_file():
                body.append(f"<figure><img src='{_data_uri(path)}' alt='{html.escape(alt)}'>"
                            f"<figcaption>{html.escape(alt)}</figcaption></figure>")
        elif line.startswith("- "):
            body.append(f"<li>{html.escape(line[2:])}</li>")
        elif line.strip():
            body.append(f"<p>{html.escape(line)}</p>")
    flush_table()
    style = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:4px 8px}figure{display:inline-block;margin:8px}"
             "img{image-rendering:pixelated;max-width:380px}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>")

