"""``ganforge train``: options -> TrainConfig + ModelConfig -> ganforge.train.train().

Priority of settings: flags given on this command line, then (with --resume) the
run's saved config.json, then the --preset, then the family's ``TRAIN_DEFAULTS`` (e.g.
FastGAN's hinge loss and DiffAugment), then the defaults in ganforge.config.

With --minutes and no --model or --preset (or with --preset auto), the budget plan
(ganforge.plan) measures candidate set-ups and its choice stands in for the preset.

Under ``torchrun --nproc-per-node N -m ganforge train ...`` every process runs this
command; ganforge.train joins them into one data-parallel job and rank 0 alone writes.
"""

from __future__ import annotations

import argparse
import json
import textwrap

from ganforge import runconfig
from ganforge.commands import add_command, trains
from ganforge.config import RESUME_MAY_CHANGE, ModelConfig, Option, TrainConfig
from ganforge.errors import ConfigError
from ganforge.presets import describe_presets
from ganforge.runconfig import MODEL_FLAGS, TRAIN_FLAGS, family_options, option_names
from ganforge.runs import RunDir

# The model, loss and augmentation registries (and the trainer) are imported inside the functions
# that need them: they import torch, and `ganforge --help` should not wait for it.

_TRAIN_DEFAULTS = TrainConfig()
_MODEL_DEFAULTS = ModelConfig()


def _on_off(text: str) -> bool:
    if text not in ("on", "off"):
        raise argparse.ArgumentTypeError("use on or off")
    return text == "on"


def default(name: str) -> str:
    """A TrainConfig (or ModelConfig) field's default as the help text shows it."""
    obj = _TRAIN_DEFAULTS if hasattr(_TRAIN_DEFAULTS, name) else _MODEL_DEFAULTS
    return _show(getattr(obj, name))


def _show(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return "none" if value in ("", None) else str(value)


def _add_family_option(group, users: list[tuple[str, Option]]) -> None:
    """One flag for an option several families may share; the help names them and their defaults."""
    o = users[0][1]
    families = ", ".join(name for name, _ in users)
    defaults = {_show(opt.default) for _, opt in users}
    shown = defaults.pop() if len(defaults) == 1 else ", ".join(f"{n} {_show(opt.default)}" for n, opt in users)
    kwargs: dict = {"help": f"{families}: {o.help} (default: {shown})"}
    if isinstance(o.default, bool):
        kwargs.update(type=_on_off, metavar="on|off")
    elif o.choices:
        kwargs["choices"] = o.choices
    elif o.default is not None:
        kwargs["type"] = type(o.default)
    group.add_argument(o.flag, dest=o.name, **kwargs)


def register(sub) -> None:
    add_command(sub, "train", run, help="train a GAN on a prepared data set",
                description="Train a GAN on a data set made by 'ganforge data prepare'. Writes samples, a loss "
                            "log and plot, and checkpoints into --out. Ctrl-C saves a checkpoint; --resume continues.",
                options=add_options)


def add_options(p: argparse.ArgumentParser) -> None:
    p.epilog = resume_rules()
    p.add_argument("--data", help="data-set file (.zip from 'ganforge data prepare')")
    p.add_argument("--out", help="run directory (required)")
    p.add_argument("--preset", help="a named set-up (model and training options; flags override it); "
                                    "'--preset list' shows them; 'auto' (the default with --minutes and no "
                                    "--model): the budget plan measures set-ups here and picks one for the budget")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its latest checkpoint "
                                                           "(what may change then: see the end of this help)")
    p.add_argument("--dry-run", action="store_true", help="print the resolved configuration and exit")
    m = p.add_argument_group("model")
    m.add_argument("--model", choices=trainable_families(), metavar="FAMILY",
                   help=f"model family: {', '.join(trainable_families())} (default: {default('family')}). "
                        f"Some train with their paper's settings unless a preset or a flag says otherwise: "
                        f"{family_train_defaults()}")
    m.add_argument("--resolution", type=int, help="image side in pixels (default: the data set's)")
    m.add_argument("--channels", type=int, choices=(1, 3), help="image channels (default: the data set's)")
    m.add_argument("--latent-dim", type=int, help=f"size of the latent vector z (default: {default('latent_dim')})")
    m.add_argument("--width", type=int, help=f"base width of the networks (default: {default('width')})")
    f = p.add_argument_group("family options (each used by the families it names; any other family refuses it)")
    for users in family_options().values():
        _add_family_option(f, users)
    add_training_options(p)


def trainable_families() -> list[str]:
    """Families ``train`` builds from scratch (a composite one is made by ``ganforge compose``)."""
    from ganforge import models

    return [name for name in models.MODELS if not models.is_composite(name)]


def family_train_defaults() -> str:
    """"fastgan: loss=hinge, ...; r3gan: ..." from the families' TRAIN_DEFAULTS, for --model's help."""
    from ganforge import models

    return "; ".join(f"{name}: " + ", ".join(f"{k}={v}" for k, v in models.train_defaults(name).items())
                     for name in trainable_families() if models.train_defaults(name))


def resume_rules() -> str:
    """Which options may change on --resume and which are fixed for the run (from config.RESUME_MAY_CHANGE)."""
    may = [f"--{name.replace('_', '-')}" for name in RESUME_MAY_CHANGE if name not in ("out", "data")]
    fixed = [f"--{name.replace('_', '-')}" for name in TRAIN_FLAGS if name not in RESUME_MAY_CHANGE]
    fixed += [f"--{name.replace('_', '-')}" for name in (*MODEL_FLAGS, *family_options())]
    text = (f"With --resume, these options may change on resume: {', '.join(may)}, and --data when it is the same "
            f"data set moved or copied (same sha256). These are fixed for the run: {', '.join(fixed)}, and the "
            "data set's content; a resume that changes one is refused, naming it.")
    return textwrap.fill(text, width=100, break_on_hyphens=False)


def add_training_options(p: argparse.ArgumentParser) -> None:
    """Budget, optimisation, runtime and output options (shared by train and compose)."""
    from ganforge.diffaugment import AUGMENTATIONS
    from ganforge.loggers import LOGGERS
    from ganforge.losses import LOSSES
    from ganforge.metrics import METRICS

    d = default
    b = p.add_argument_group("budget (the first reached stops training; totals across resumes)")
    b.add_argument("--steps", type=int, help="generator updates (default if no budget given: 10000)")
    b.add_argument("--epochs", type=float, help="passes over the data set")
    b.add_argument("--minutes", type=float, help="minutes of training")
    o = p.add_argument_group("optimisation")
    o.add_argument("--loss", choices=sorted(LOSSES), help=f"loss (default: {d('loss')})")
    o.add_argument("--n-critic", type=int, help="D steps per G step (default: the loss's own: "
                   + ", ".join(f"{n} {cls.n_critic}" for n, cls in LOSSES.items()) + ")")
    o.add_argument("--gp-weight", type=float,
                   help=f"gradient-penalty weight of losses with one (default: {d('gp_weight')})")
    o.add_argument("--r1-gamma", type=float,
                   help=f"R1 penalty on real images, gamma (default: {d('r1_gamma')}, 0 is off)")
    o.add_argument("--pl-weight", type=float,
                   help="loss stylegan2: path-length regularisation weight, the paper's 2 "
                        f"(default: {d('pl_weight')}, off)")
    o.add_argument("--r2-gamma", type=float,
                   help=f"R2 penalty on generated images, gamma (default: {d('r2_gamma')}, 0 is off; rpgan wants both)")
    o.add_argument("--ac-weight", type=float,
                   help="families with an auxiliary classifier: weight of the classification term "
                        f"(default: {d('ac_weight')})")
    o.add_argument("--augment", help=f"augmentation before D: a DiffAugment policy, a comma list of "
                                     f"{', '.join(AUGMENTATIONS)}; or 'ada', adaptive augmentation with a probability "
                                     f"p adjusted during training (default: {d('augment')})")
    o.add_argument("--augment-strength", type=float,
                   help=f"scales the DiffAugment magnitudes (default: {d('augment_strength')})")
    o.add_argument("--augment-p", type=float, help="--augment ada: fix p at this probability instead of adapting it")
    o.add_argument("--ada-target", type=float,
                   help=f"--augment ada: the E[sign(D(real))] p is adjusted toward (default: {d('ada_target')})")
    o.add_argument("--ada-kimg", type=float,
                   help=f"--augment ada: thousands of real images for p to go from 0 to 1 (default: {d('ada_kimg')})")
    o.add_argument("--ada-interval", type=int,
                   help=f"--augment ada: steps between adjustments (default: {d('ada_interval')})")
    o.add_argument("--ada-cutout", action="store_const", const=True, help="--augment ada: add cutout to the pipeline")
    o.add_argument("--ema", type=float,
                   help=f"decay of G's weight average used for samples, e.g. 0.999; replaces a family's or "
                        f"preset's --ema-kimg (default: {d('ema')}, off)")
    o.add_argument("--ema-start", type=int, help=f"steps before the average starts (default: {d('ema_start')})")
    o.add_argument("--ema-kimg", type=float, help="instead of --ema (it replaces a family's or preset's): the "
                                                  "average's half-life in thousands of images, ramped up over the "
                                                  f"first images (default: {d('ema_kimg')}, off)")
    o.add_argument("--grad-accum", type=int, help=f"micro-batches per update (default: {d('grad_accum')})")
    o.add_argument("--sync-bn", action="store_const", const=True,
                   help="under torchrun: batch-norm statistics over the global batch")
    o.add_argument("--batch-size", type=int, help=f"global batch size (default: {d('batch_size')})")
    o.add_argument("--lr-g", type=float, help=f"generator learning rate (default: {d('lr_g')})")
    o.add_argument("--lr-d", type=float, help=f"discriminator learning rate (default: {d('lr_d')})")
    o.add_argument("--beta1", type=float, help=f"Adam beta1 (default: {d('beta1')})")
    o.add_argument("--beta2", type=float, help=f"Adam beta2 (default: {d('beta2')})")
    o.add_argument("--seed", type=int, help=f"random seed (default: {d('seed')})")
    o.add_argument("--flip", action="store_const", const=True, help="random horizontal flips of real images")
    o.add_argument("--vflip", action="store_const", const=True,
                   help="random vertical flips of real images (the MITLGAN thesis's augmentation)")
    r = p.add_argument_group("runtime and outputs")
    r.add_argument("--device", help=f"auto, cpu, cuda or cuda:N (default: {d('device')})")
    r.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"),
                   help="auto: float32 on CPU (bf16 autocast where the CPU has AMX), bf16/fp16 autocast on CUDA "
                        f"(default: {d('precision')})")
    r.add_argument("--channels-last", choices=("auto", "on", "off"),
                   help=f"memory format for conv models (default: {d('channels_last')})")
    r.add_argument("--fused-adam", choices=("auto", "on", "off"),
                   help=f"Adam as one fused kernel per step (auto: where this torch has it for the device) "
                        f"(default: {d('fused_adam')})")
    r.add_argument("--sample-every", type=int, help=f"steps between sample grids (default: {d('sample_every')})")
    r.add_argument("--checkpoint-every", type=int,
                   help=f"steps between kept checkpoints (default: {d('checkpoint_every')})")
    r.add_argument("--log-every", type=int, help=f"steps between loss records (default: {d('log_every')})")
    r.add_argument("--n-samples", type=int, help=f"images per sample grid (default: {d('n_samples')})")
    r.add_argument("--max-bad-steps", type=int,
                   help=f"NaN/inf steps in a row before rolling back (default: {d('max_bad_steps')})")
    r.add_argument("--max-rollbacks", type=int, help=f"rollbacks before giving up (default: {d('max_rollbacks')})")
    r.add_argument("--logger", choices=LOGGERS,
                   help="where training reports besides the run's own files (always written): TensorBoard event "
                        "files in RUN/tensorboard (pip install 'ganforge[tensorboard]'), or a W&B run, offline unless "
                        f"WANDB_MODE says otherwise (default: {d('logger')})")
    r.add_argument("--diverge-steps", type=int,
                   help=f"steps of 100%% D accuracy before a warning (default: {d('diverge_steps')})")
    r.add_argument("--holdout", type=int,
                   help="real images kept out of training, to warn when D overfits (its scores on them fall "
                        f"towards the fakes'); a few dozen suffice (default: {d('holdout')}, none)")
    e = p.add_argument_group("evaluation during training")
    e.add_argument("--eval-every", type=int,
                   help=f"steps between evaluations into RUN/metrics.jsonl (default: {d('eval_every')}, none)")
    rankable = [name for name, m in METRICS.items() if m.score is not None]
    e.add_argument("--eval-metric", help=f"{', '.join(rankable)}; NAME[EXTRACTOR] picks the features, e.g. "
                                         "fid[fashion-mnist-cnn]; also picks checkpoints/best.pt (default: "
                                         f"{d('eval_metric')})")
    e.add_argument("--eval-n", type=int, help=f"generated images per evaluation (default: {d('eval_n')})")


def cli_options(args: argparse.Namespace, exclude: tuple[str, ...] = ()) -> dict:
    """The training options given on the command line (runconfig's names; None: not given), but not
    ``exclude``: a command's own flags that share a family option's name (compose's --blocks)."""
    return {name: getattr(args, name)
            for name in option_names() - set(exclude) if getattr(args, name, None) is not None}


def resolve_configs(args: argparse.Namespace, preset: str | dict | None = None,
                    exclude: tuple[str, ...] = ()) -> tuple[TrainConfig, ModelConfig]:
    """Flags, then the saved run config (with --resume), then the preset (``preset`` overrides --preset:
    the budget plan's choice), then the family's defaults, then the config defaults (ganforge.runconfig)."""
    return runconfig.resolve_configs(args.out, preset=preset or getattr(args, "preset", None), resume=args.resume,
                                     command=getattr(args, "command", "train"), options=cli_options(args, exclude))


def uses_plan(args: argparse.Namespace) -> bool:
    """--preset auto, or a --minutes budget with neither --model nor --preset (and not a resume)."""
    if args.preset == "auto":
        return True
    return bool(args.minutes) and args.model is None and args.preset is None and not args.resume


@trains
def run(args: argparse.Namespace) -> int:
    from ganforge import api  # noqa: I001
    from ganforge.health import BudgetCheck

    if args.preset == "list":
        print(describe_presets())
        return 0
    hooks = []
    preset = args.preset
    if uses_plan(args):
        from ganforge.distributed import env_info
        from ganforge.plan import make_plan

        if args.resume:
            raise ConfigError("--preset auto chooses a set-up for a new run; a resumed run keeps its own")
        if env_info().world_size > 1:  # each process would measure, and might choose, on its own
            raise ConfigError("the budget plan measures in one process: run it with --dry-run first, then start "
                              "torchrun with the --model and options it printed")
        resolve_configs(args)  # the one-line errors (--out, --data, bad values) before seconds of measuring
        if not args.dry_run and RunDir(args.out).latest_checkpoint.exists():
            raise ConfigError(f"{args.out} already holds a run; add --resume to continue it, or choose another --out")
        plan = make_plan(args.data, args.minutes, args.device or "auto")
        print("\n".join(plan.lines()), flush=True)
        preset = plan.chosen.candidate.preset_values()
    elif args.minutes and not args.resume:
        hooks.append(BudgetCheck(f"for a set-up that fits, let the budget plan choose: ganforge train --data "
                                 f"{args.data} --minutes {args.minutes:g} "
                                 "(without --model; --dry-run shows its choice)"))
    if args.dry_run:
        cfg, model_cfg = resolve_configs(args, preset)
        print(json.dumps({"train": cfg.to_dict(), "model": model_cfg.to_dict()}, indent=2))
        return 0
    options = cli_options(args)
    data, out = options.pop("data", None), options.pop("out", None)
    if args.resume:
        result = api.resume_run(out, data=data, preset=preset, hooks=hooks, **options)
    else:
        result = api.train_run(data, out, preset=preset, hooks=hooks, **options)
    return report_result(result, "train")


def report_result(result, command: str) -> int:
    """Say where a finished (or interrupted) run's outputs are; the exit code for its stop reason."""
    from ganforge.distributed import env_info

    if env_info().rank != 0:  # under torchrun, rank 0 speaks for the job
        return 0 if result.stopped_by == "budget" else 130 if result.stopped_by == "SIGINT" else 143
    run_dir, run = result.run_dir, RunDir(result.run_dir)
    print(f"step {result.step}: samples {run.latest_samples}, loss plot {run.loss_plot}, "
          f"checkpoint {run.latest_checkpoint}")
    if result.stopped_by != "budget":
        print(f"stopped by {result.stopped_by}; continue with: ganforge {command} --out {run_dir} --resume")
        return 130 if result.stopped_by == "SIGINT" else 143
    print(f"look at it in a browser: ganforge serve {run_dir}")
    return 0
