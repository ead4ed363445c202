"""``ganforge train``: options -> TrainConfig + ModelConfig -> ganforge.train.train().

Priority of settings: flags given on this command line, then (with --resume) the
run's saved config.json, then the --preset, then the defaults in ganforge.config.

Under ``torchrun --nproc-per-node N -m ganforge train ...`` every process runs this
command; ganforge.train joins them into one data-parallel job and rank 0 alone writes.
"""

from __future__ import annotations

import argparse
import json
import textwrap
from dataclasses import fields

from ganforge.commands import add_command
from ganforge.config import RESUME_MAY_CHANGE, ModelConfig, TrainConfig
from ganforge.errors import ConfigError

# flag dest -> TrainConfig field (flags default to None so "not given" is visible)
TRAIN_FLAGS = {f.name: f.name for f in fields(TrainConfig)}
MODEL_FLAGS = {"model": "family", "resolution": "resolution", "channels": "channels",
               "latent_dim": "latent_dim", "width": "width"}
MODEL_OPTION_FLAGS = ("g_activation", "max_width", "d_norm", "spectral_norm", "g_spectral_norm", "dropout")


def _on_off(text: str) -> bool:
    if text not in ("on", "off"):
        raise argparse.ArgumentTypeError("use on or off")
    return text == "on"


def register(sub) -> None:
    p = add_command(sub, "train", run, help="train a GAN on a prepared data set",
                    description="Train a GAN on a data set made by 'ganforge data prepare'. Writes samples, a loss "
                                "log and plot, and checkpoints into --out. Ctrl-C saves a checkpoint; --resume continues.")
    p.epilog = resume_rules()
    p.add_argument("--data", help="data-set file (.zip from 'ganforge data prepare')")
    p.add_argument("--out", help="run directory (required)")
    p.add_argument("--preset", help="a named set-up (model and training options; flags override it); "
                                    "'--preset list' shows them")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its latest checkpoint "
                                                           "(what may change then: see the end of this help)")
    p.add_argument("--dry-run", action="store_true", help="print the resolved configuration and exit")
    m = p.add_argument_group("model")
    m.add_argument("--model", help="model family: mlp, dcgan, resnet, cgan, acgan (default: dcgan)")
    m.add_argument("--resolution", type=int, help="image side in pixels (default: the data set's)")
    m.add_argument("--channels", type=int, choices=(1, 3), help="image channels (default: the data set's)")
    m.add_argument("--latent-dim", type=int, help="size of the latent vector z (default: 100)")
    m.add_argument("--width", type=int, help="base width of the networks (default: 64)")
    m.add_argument("--g-activation", choices=("relu", "leaky_relu"), help="dcgan generator activation (default: relu)")
    m.add_argument("--max-width", type=int, help="dcgan, resnet, cgan, acgan: cap on channels per layer (default: 512)")
    m.add_argument("--d-norm", choices=("batch", "layer", "none"),
                   help="dcgan/acgan discriminator normalisation; layer for WGAN-GP critics (default: batch)")
    m.add_argument("--spectral-norm", type=_on_off, metavar="on|off",
                   help="resnet/cgan: spectral normalisation in D (default: on)")
    m.add_argument("--g-spectral-norm", type=_on_off, metavar="on|off",
                   help="resnet/cgan: spectral normalisation in G too (default: off)")
    m.add_argument("--dropout", type=float, help="mlp: dropout in D (default: 0.3)")
    add_training_options(p)


def resume_rules() -> str:
    """Which options may change on --resume and which are fixed for the run (from config.RESUME_MAY_CHANGE)."""
    may = [f"--{name.replace('_', '-')}" for name in RESUME_MAY_CHANGE if name not in ("out", "data")]
    fixed = [f"--{name.replace('_', '-')}" for name in TRAIN_FLAGS if name not in RESUME_MAY_CHANGE]
    fixed += [f"--{name.replace('_', '-')}" for name in (*MODEL_FLAGS, *MODEL_OPTION_FLAGS)]
    text = (f"With --resume, these options may change on resume: {', '.join(may)}, and --data when it is the same "
            f"data set moved or copied (same sha256). These are fixed for the run: {', '.join(fixed)}, and the "
            "data set's content; a resume that changes one is refused, naming it.")
    return textwrap.fill(text, width=100, break_on_hyphens=False)


def add_training_options(p: argparse.ArgumentParser) -> None:
    """Budget, optimisation, runtime and output options (shared by train and compose)."""
    b = p.add_argument_group("budget (the first reached stops training; totals across resumes)")
    b.add_argument("--steps", type=int, help="generator updates (default if no budget given: 10000)")
    b.add_argument("--epochs", type=float, help="passes over the data set")
    b.add_argument("--minutes", type=float, help="minutes of training")
    o = p.add_argument_group("optimisation")
    o.add_argument("--loss", choices=("bce", "wgan-gp", "hinge", "lsgan"), help="loss (default: bce)")
    o.add_argument("--n-critic", type=int, help="D steps per G step (default: 5 for wgan-gp, else 1)")
    o.add_argument("--gp-weight", type=float, help="wgan-gp gradient-penalty weight (default: 10)")
    o.add_argument("--r1-gamma", type=float, help="R1 penalty on real images, gamma (default: 0, off)")
    o.add_argument("--ac-weight", type=float, help="acgan: weight of the classification term (default: 1)")
    o.add_argument("--augment", help="DiffAugment policy before D, e.g. color,translation,cutout (default: off)")
    o.add_argument("--augment-strength", type=float, help="scales the augmentations' magnitudes (default: 1)")
    o.add_argument("--ema", type=float, help="decay of G's weight average used for samples, e.g. 0.999 (default: 0, off)")
    o.add_argument("--ema-start", type=int, help="steps before the average starts (default: 0)")
    o.add_argument("--grad-accum", type=int, help="micro-batches per update (default: 1)")
    o.add_argument("--sync-bn", action="store_const", const=True,
                   help="under torchrun: batch-norm statistics over the global batch")
    o.add_argument("--batch-size", type=int, help="global batch size (default: 64)")
    o.add_argument("--lr-g", type=float, help="generator learning rate (default: 2e-4)")
    o.add_argument("--lr-d", type=float, help="discriminator learning rate (default: 2e-4)")
    o.add_argument("--beta1", type=float, help="Adam beta1 (default: 0.5)")
    o.add_argument("--beta2", type=float, help="Adam beta2 (default: 0.999)")
    o.add_argument("--seed", type=int, help="random seed (default: 0)")
    o.add_argument("--flip", action="store_const", const=True, help="random horizontal flips of real images")
    r = p.add_argument_group("runtime and outputs")
    r.add_argument("--device", help="auto, cpu, cuda or cuda:N (default: auto)")
    r.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"),
                   help="auto: float32 on CPU (bf16 autocast where the CPU has AMX), bf16/fp16 autocast on CUDA (default: auto)")
    r.add_argument("--channels-last", choices=("auto", "on", "off"), help="memory format for conv models (default: auto)")
    r.add_argument("--fused-adam", choices=("auto", "on", "off"),
                   help="Adam as one fused kernel per step (auto: where this torch has it for the device) (default: auto)")
    r.add_argument("--sample-every", type=int, help="steps between sample grids (default: 500)")
    r.add_argument("--checkpoint-every", type=int, help="steps between kept checkpoints (default: 1000)")
    r.add_argument("--log-every", type=int, help="steps between loss records (default: 1)")
    r.add_argument("--n-samples", type=int, help="images per sample grid (default: 64)")
    r.add_argument("--max-bad-steps", type=int, help="NaN/inf steps in a row before rolling back (default: 3)")
    r.add_argument("--max-rollbacks", type=int, help="rollbacks before giving up (default: 3)")
    r.add_argument("--diverge-steps", type=int, help="steps of 100%% D accuracy before a warning (default: 1000)")
    e = p.add_argument_group("evaluation during training")
    e.add_argument("--eval-every", type=int, help="steps between evaluations into RUN/metrics.jsonl (default: 0, none)")
    e.add_argument("--eval-metric", help="fid, kid, pr, is or c2st; NAME[EXTRACTOR] picks the features, e.g. "
                                         "fid[fashion-mnist-cnn]; also picks checkpoints/best.pt (default: fid)")
    e.add_argument("--eval-n", type=int, help="generated images per evaluation (default: 2000)")


def resolve_configs(args: argparse.Namespace) -> tuple[TrainConfig, ModelConfig]:
    """Flags, then the saved run config (with --resume), then the preset, then defaults."""
    from ganforge.presets import get_preset
    from ganforge.runs import RunDir

    if not args.out:
        raise ConfigError("--out is required (the run directory)")
    train_values: dict = {"out": args.out}
    model_values: dict = {}
    if getattr(args, "preset", None):
        preset = get_preset(args.preset)
        train_values.update(preset.get("train", {}))
        model_values.update({k: (dict(v) if isinstance(v, dict) else v) for k, v in preset.get("model", {}).items()})
    if args.resume:
        run = RunDir(args.out)
        if not run.exists():
            raise ConfigError(f"nothing to resume: {run.config} does not exist")
        saved = run.read_config()
        train_values.update(saved["train"])
        model_values.update(saved["model"])
    for dest, field in TRAIN_FLAGS.items():
        value = getattr(args, dest, None)
        if value is not None:
            train_values[field] = value
    for dest, field in MODEL_FLAGS.items():
        value = getattr(args, dest, None)
        if value is not None:
            model_values[field] = value
    options = dict(model_values.get("options") or {})
    for dest in MODEL_OPTION_FLAGS:
        value = getattr(args, dest, None)
        if value is not None:
            options[dest] = value
    model_values["options"] = options
    if not train_values.get("data"):
        raise ConfigError("--data is required (a data set made by 'ganforge data prepare')")
    return TrainConfig.from_dict(train_values).validate(), ModelConfig.from_dict(model_values)


def run(args: argparse.Namespace) -> int:
    from ganforge.train import train

    if args.preset == "list":
        from ganforge.presets import describe_presets

        print(describe_presets())
        return 0
    cfg, model_cfg = resolve_configs(args)
    if args.dry_run:
        print(json.dumps({"train": cfg.to_dict(), "model": model_cfg.to_dict()}, indent=2))
        return 0
    return report_result(train(cfg, model_cfg, resume=args.resume), "train")


def report_result(result, command: str) -> int:
    """Say where a finished (or interrupted) run's outputs are; the exit code for its stop reason."""
    from ganforge.distributed import env_info

    if env_info().rank != 0:  # under torchrun, rank 0 speaks for the job
        return 0 if result.stopped_by == "budget" else 130 if result.stopped_by == "SIGINT" else 143
    run_dir = result.run_dir
    print(f"step {result.step}: samples {run_dir / 'samples' / 'latest.png'}, loss plot {run_dir / 'loss.png'}, "
          f"checkpoint {run_dir / 'checkpoints' / 'latest.pt'}")
    if result.stopped_by != "budget":
        print(f"stopped by {result.stopped_by}; continue with: ganforge {command} --out {run_dir} --resume")
        return 130 if result.stopped_by == "SIGINT" else 143
    print(f"look at it in a browser: ganforge serve {run_dir}")
    return 0
