"""``ganforge train``: options -> TrainConfig + ModelConfig -> ganforge.train.train().

Priority of settings: flags given on this command line, then (with --resume) the
run's saved config.json, then the defaults in ganforge.config.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import fields

from ganforge.commands import add_command
from ganforge.config import ModelConfig, TrainConfig
from ganforge.errors import ConfigError

# flag dest -> TrainConfig field (flags default to None so "not given" is visible)
TRAIN_FLAGS = {f.name: f.name for f in fields(TrainConfig)}
MODEL_FLAGS = {"model": "family", "resolution": "resolution", "channels": "channels",
               "latent_dim": "latent_dim", "width": "width"}
MODEL_OPTION_FLAGS = ("g_activation", "max_width")


def register(sub) -> None:
    p = add_command(sub, "train", run, help="train a GAN on a prepared data set",
                    description="Train a GAN on a data set made by 'ganforge data prepare'. Writes samples, a loss "
                                "log and plot, and checkpoints into --out. Ctrl-C saves a checkpoint; --resume continues.")
    p.add_argument("--data", help="data-set file (.zip from 'ganforge data prepare')")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its latest checkpoint")
    p.add_argument("--dry-run", action="store_true", help="print the resolved configuration and exit")
    m = p.add_argument_group("model")
    m.add_argument("--model", help="model family: mlp, dcgan (default: dcgan)")
    m.add_argument("--resolution", type=int, help="image side in pixels (default: the data set's)")
    m.add_argument("--channels", type=int, choices=(1, 3), help="image channels (default: the data set's)")
    m.add_argument("--latent-dim", type=int, help="size of the latent vector z (default: 100)")
    m.add_argument("--width", type=int, help="base width of the networks (default: 64)")
    m.add_argument("--g-activation", choices=("relu", "leaky_relu"), help="dcgan generator activation (default: relu)")
    m.add_argument("--max-width", type=int, help="dcgan: cap on channels per layer (default: 512)")
    add_training_options(p)


def add_training_options(p: argparse.ArgumentParser) -> None:
    """Budget, optimisation, runtime and output options (shared by train and compose)."""
    b = p.add_argument_group("budget (the first reached stops training; totals across resumes)")
    b.add_argument("--steps", type=int, help="generator updates (default if no budget given: 10000)")
    b.add_argument("--epochs", type=float, help="passes over the data set")
    b.add_argument("--minutes", type=float, help="minutes of training")
    o = p.add_argument_group("optimisation")
    o.add_argument("--loss", help="loss: bce (default: bce)")
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
                   help="auto: bf16 autocast on CPU, bf16/fp16 autocast on CUDA (default: auto)")
    r.add_argument("--channels-last", choices=("auto", "on", "off"), help="memory format for conv models (default: auto)")
    r.add_argument("--sample-every", type=int, help="steps between sample grids (default: 500)")
    r.add_argument("--checkpoint-every", type=int, help="steps between kept checkpoints (default: 1000)")
    r.add_argument("--log-every", type=int, help="steps between loss records (default: 1)")
    r.add_argument("--n-samples", type=int, help="images per sample grid (default: 64)")
    e = p.add_argument_group("evaluation during training")
    e.add_argument("--eval-every", type=int, help="steps between evaluations into RUN/metrics.jsonl (default: 0, none)")
    e.add_argument("--eval-metric", help="fid, kid, pr, is or c2st; NAME[EXTRACTOR] picks the features, e.g. "
                                         "fid[fashion-mnist-cnn]; also picks checkpoints/best.pt (default: fid)")
    e.add_argument("--eval-n", type=int, help="generated images per evaluation (default: 2000)")


def resolve_configs(args: argparse.Namespace) -> tuple[TrainConfig, ModelConfig]:
    """Flags, then the saved run config (with --resume), then defaults."""
    from ganforge.runs import RunDir

    train_values: dict = {}
    model_values: dict = {}
    if args.resume:
        run = RunDir(args.out)
        if not run.exists():
            raise ConfigError(f"nothing to resume: {run.config} does not exist")
        try:
            saved = run.read_config()
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"cannot read {run.config}: {e}") from None
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

    cfg, model_cfg = resolve_configs(args)
    if args.dry_run:
        print(json.dumps({"train": cfg.to_dict(), "model": model_cfg.to_dict()}, indent=2))
        return 0
    result = train(cfg, model_cfg, resume=args.resume)
    run_dir = result.run_dir
    print(f"step {result.step}: samples {run_dir / 'samples' / 'latest.png'}, loss plot {run_dir / 'loss.png'}, "
          f"checkpoint {run_dir / 'checkpoints' / 'latest.pt'}")
    if result.stopped_by != "budget":
        print(f"stopped by {result.stopped_by}; continue with: ganforge train --out {run_dir} --resume")
        return 130 if result.stopped_by == "SIGINT" else 143
    print(f"look at it in a browser: ganforge serve {run_dir}")
    return 0
