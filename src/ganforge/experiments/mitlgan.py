"""The MITLGAN thesis's experiment, end to end: baseline vs composed generator on a combined data set.

Protocol (``run_experiment``), every stage an ordinary run directory under ``out``::

    baseline/        the generator family trained on COMBINED for B minutes
    foreground/      the same family trained on FG for B minutes        (part 1)
    background/      the same family trained on BG for B minutes        (part 2)
    mitlgan/         parts frozen, merge + refiner trained on COMBINED for B minutes
    baseline-total/  the baseline continued to 3B minutes: the compute of parts + MITLGAN
    separation.png   part outputs, (mask, composite) and MITLGAN output for the same seeds
    results.json, report.md   (and compare/ with the evaluation report when available)

All stages use the same loss, the same critic architecture (the family's discriminator at
the same width), batch size, optimiser settings and seed. B is training time as the
Trainer counts it (``elapsed``: time in training steps, not sampling or checkpointing).
Budget accounting is reported both ways: MITLGAN's own B minutes against the baseline's
B (parts' pre-training not counted), and MITLGAN's 3B including the parts against
``baseline-total``'s 3B.

Running it again continues: a finished stage is kept, an interrupted one resumes.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

from ganforge.artifacts import load_generator
from ganforge.checkpoint import load_checkpoint
from ganforge.compose import compose, compose_model_config, critic_options, default_loss, separation_view
from ganforge.config import ModelConfig, TrainConfig
from ganforge.data.dataset import read_info
from ganforge.errors import ConfigError, GanforgeError
from ganforge.experiments.mitlgan_options import ExperimentOptions
from ganforge.losses import LOSSES
from ganforge.metrics.report import compare_runs
from ganforge.progress import Task
from ganforge.runs import RunDir
from ganforge.train import train
from ganforge.utils import STDERR, atomic_path, write_json_atomic


class Interrupted(GanforgeError):
    """A stage was stopped by a signal; running the same command again continues."""


def validate(o: ExperimentOptions) -> ExperimentOptions:
    """Check the options against the data sets and fill in the default loss; returns ``o``."""
    if o.budget <= 0:
        raise ConfigError("--budget must be a positive number of minutes")
    infos = {name: read_info(getattr(o, name)) for name in ("foreground", "background", "combined")}
    sizes = {(int(i["resolution"]), int(i["channels"])) for i in infos.values()}
    if len(sizes) > 1:
        raise ConfigError("foreground, background and combined sets must have one size and channel count, but are "
                          + ", ".join(f"{n}: {i['resolution']} px/{i['channels']} ch" for n, i in infos.items()))
    if not o.loss:
        o.loss = default_loss()
    return o




def _train_cfg(o: ExperimentOptions, data: str, out: Path, minutes: float) -> TrainConfig:
    extra = dict(LOSSES[o.loss].paper_optimiser)  # the loss's own paper's Adam settings, if it names them
    extra.update({k: getattr(o, k) for k in ("lr_g", "lr_d", "beta1", "beta2") if getattr(o, k) is not None})
    return TrainConfig(data=data, out=str(out), loss=o.loss, batch_size=o.batch_size, minutes=minutes, seed=o.seed,
                       device=o.device, precision=o.precision, sample_every=o.sample_every, vflip=o.vflip,
                       checkpoint_every=10 * o.sample_every, **extra).validate()


def train_stage(name: str, cfg: TrainConfig, model_cfg: ModelConfig | None, log, runner=train) -> Path:
    run = RunDir(cfg.out)
    resume = run.latest_checkpoint.exists()
    print(f"== {name}: {'continuing' if resume else 'training'} {cfg.out} for {cfg.minutes:g} min on {cfg.data}",
          file=log, flush=True)
    if resume:
        model_cfg = ModelConfig.from_dict(load_checkpoint(run.latest_checkpoint)["model_config"])
    result = runner(cfg, model_cfg, resume=resume, out=log)
    if result.stopped_by != "budget":
        raise Interrupted(f"stopped by {result.stopped_by} during {name}; run the same command again to continue")
    return run.root


def run_stats(run_dir: Path) -> dict:
    """Steps, training minutes and images seen, from a run's latest checkpoint."""
    state = load_checkpoint(RunDir(run_dir).latest_checkpoint)
    tc = state["train_config"]
    return {"steps": int(state["step"]), "minutes": round(float(state["elapsed"]) / 60, 2),
            "batch_size": tc["batch_size"], "loss": tc["loss"], "family": state["model_config"]["family"]}


def run_experiment(o: ExperimentOptions, log=STDERR) -> dict:
    """Run (or continue) the whole protocol; returns the results written to ``results.json``."""
    validate(o)
    out = Path(o.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "experiment.json", asdict(o))
    B = o.budget
    opts = critic_options(o.family, o.loss)

    def gen() -> ModelConfig:
        return ModelConfig(family=o.family, width=o.width, latent_dim=o.latent_dim, options=dict(opts))

    # the stages: baseline, two parts, MITLGAN, [baseline to the total], the report; each trains with its own line
    stages = Task("experiment", 5 + o.equal_total, "stages", stream=log, interval=0, redraw=False)
    baseline = train_stage("baseline", _train_cfg(o, o.combined, out / "baseline", B), gen(), log)
    stages.advance()
    fg = train_stage("foreground part", _train_cfg(o, o.foreground, out / "foreground", B), gen(), log)
    stages.advance()
    bg = train_stage("background part", _train_cfg(o, o.background, out / "background", B), gen(), log)
    stages.advance()
    mitl_dir = out / "mitlgan"
    mitl_cfg = None
    if not RunDir(mitl_dir).latest_checkpoint.exists():
        mitl_cfg = compose_model_config([fg, bg], o.combined, merge=o.merge, width=o.refiner_width, blocks=o.blocks,
                                        critic={"family": o.family, "width": o.width, "options": dict(opts)})
    mitl = train_stage("MITLGAN", _train_cfg(o, o.combined, mitl_dir, B), mitl_cfg, log, runner=compose)
    stages.advance()
    runs = {"baseline": baseline, "mitlgan": mitl}
    if o.equal_total:
        total_dir = out / "baseline-total"
        if not RunDir(total_dir).exists():  # continue a copy of the baseline, so both budgets stay available
            shutil.copytree(baseline, total_dir)
        runs["baseline-total"] = train_stage("baseline to the total budget",
                                             _train_cfg(o, o.combined, total_dir, 3 * B), None, log)
        stages.advance()

    G, _, _ = load_generator(mitl)
    with atomic_path(out / "separation.png") as tmp:
        separation_view(G, range(o.n_separation)).save(tmp, format="PNG")

    stats = {name: run_stats(path) for name, path in {**runs, "foreground": fg, "background": bg}.items()}
    pretrain = stats["foreground"]["minutes"] + stats["background"]["minutes"]
    stats["mitlgan"]["minutes_with_parts"] = round(stats["mitlgan"]["minutes"] + pretrain, 2)
    metrics = compare(runs, o, out / "compare", log)
    results = {"options": asdict(o), "runs": {k: str(v) for k, v in runs.items()}, "stats": stats, "metrics": metrics}
    write_json_atomic(out / "results.json", results)
    write_report(out, results)
    stages.advance()
    stages.close()
    return results


def compare(runs: dict[str, Path], o: ExperimentOptions, out: Path, log) -> dict:
    """The evaluation comparison report (``out``/report.md and .html) of the runs, every run evaluated the
    same way on COMBINED; returns {run name: {metric key: value}} (empty when ``o.metrics`` is "")."""
    names = list(runs)
    ordered = [runs[n] for n in names]
    evaluate = None
    if o.metrics:
        evaluate = {"metrics": o.metrics, "features": o.features, "n": o.eval_n, "data": o.combined,
                    "device": o.device}
    print(f"== comparison report -> {out}", file=log, flush=True)
    compare_runs(ordered, out, evaluate=evaluate, log=log)
    if not o.metrics:
        return {}
    return {n: json.loads(RunDir(p).evaluation.read_text())["metrics"] for n, p in zip(names, ordered)}


def write_report(out: Path, results: dict) -> None:
    """``report.md``: the budget table both ways, metrics, and links to grids, curves and the separation view."""
    o, s, m = results["options"], results["stats"], results["metrics"]
    grid = {name: RunDir(name).latest_samples.as_posix() for name in ("baseline", "baseline-total", "mitlgan")}
    losses = {name: RunDir(name).loss_plot.as_posix() for name in ("baseline", "mitlgan", "foreground", "background")}
    metric_names = sorted({k for v in m.values() for k in v})
    lines = [
        "# MITLGAN experiment",
        "",
        f"Combined set `{o['combined']}`; parts trained on `{o['foreground']}` and `{o['background']}`. "
        f"Generator family `{o['family']}` (width {o['width']}, z {o['latent_dim']} per model), loss `{o['loss']}`, "
        f"critic: `{o['family']}` discriminator at width {o['width']} for every model; MITLGAN merge `{o['merge']}`, "
        f"refiner width {o['refiner_width']}, {o['blocks']} dense blocks. Budget B = {o['budget']:g} training minutes "
        f"per model (time in training steps as the trainer counts it).",
        "",
        "| run | steps | own training min | min incl. parts' pre-training | " + " | ".join(metric_names) + " |",
        "|---|---|---|---|" + "---|" * len(metric_names),
    ]
    for name in ("baseline", "baseline-total", "mitlgan", "foreground", "background"):
        if name not in s:
            continue
        st = s[name]
        with_parts = st.get("minutes_with_parts", st["minutes"] if name.startswith("baseline") else "—")
        vals = [_fmt(m.get(name, {}).get(k)) for k in metric_names]
        lines.append(f"| {name} | {st['steps']} | {st['minutes']} | {with_parts} | " + " | ".join(vals) + " |")
    lines += [
        "",
        "Two comparisons: **parts' pre-training not counted**: `mitlgan` vs `baseline` (both B minutes of own "
        "training); **counted**: `mitlgan` (B + the parts' 2B) vs `baseline-total` (3B).",
        "",
        "| baseline | baseline-total | MITLGAN |",
        "|---|---|---|",
        "| " + " | ".join(f"![]({path})" for path in grid.values()) + " |",
        "",
        "Foreground–background separation (same seeds in every row): ![](separation.png)",
        "",
        f"Loss curves: [baseline]({losses['baseline']}), [MITLGAN]({losses['mitlgan']}), "
        f"[foreground part]({losses['foreground']}), [background part]({losses['background']}). The evaluation "
        "comparison (metric table, curves on shared axes, grids side by side): [compare/report.html]"
        "(compare/report.html), [compare/report.md](compare/report.md).",
        "",
    ]
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text("\n".join(lines))


def _fmt(v) -> str:
    if v is None:
        return "—"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def results_summary(results: dict) -> str:
    return json.dumps({k: v for k, v in results.items() if k != "options"}, indent=2)
