"""Configuration dataclasses: what a model is (saved in every checkpoint) and how a run trains.

Both serialise to plain dicts (``asdict``) so a checkpoint or ``config.json`` holds
everything needed to rebuild the networks and continue the run. Validation of the values
themselves lives here and raises ``ConfigError`` with a one-line message; whether a family,
a loss or an augmentation *name* exists is the business of its registry
(``ganforge.models.validate``, ``ganforge.train.check_names``), so this module imports none
of them and sits at the bottom of the dependency graph with ``errors``.

``Option`` describes one family-specific model setting (``ModelConfig.options``): its
default, help and allowed values. Families list theirs in ``OPTIONS``; the ``train``
command makes its flags and help from them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ganforge.errors import ConfigError
from ganforge.utils import base_size


@dataclass(frozen=True)
class Option:
    """One family-specific setting, stored as ``ModelConfig.options[name]``.

    The flag is ``--name-with-dashes``; its type is the default's (a bool is ``on|off`` on the
    command line). ``choices``: the allowed values (empty: any value of the type).
    """

    name: str
    default: Any
    help: str
    choices: tuple = ()
    cli: bool = True  # False: set by another command (e.g. compose), not a train flag

    def value(self, cfg: ModelConfig) -> Any:
        """This option's value in ``cfg`` (its default when not set)."""
        return cfg.options.get(self.name, self.default)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass
class ModelConfig:
    family: str = "dcgan"          # a name in ganforge.models.MODELS
    resolution: int = 0            # output side in pixels, a power of two or 7·2^k (28) (0: take it from the data set)
    channels: int = 0              # 1 (grey) or 3 (RGB) (0: take it from the data set)
    latent_dim: int = 100          # size of z
    width: int = 64                # base width: channels of the widest-resolution conv layer
    num_classes: int = 0           # > 0 for conditional families
    options: dict[str, Any] = field(default_factory=dict)  # family-specific settings

    def validate(self) -> ModelConfig:
        """The values themselves; ``ganforge.models.validate`` adds the family's own checks."""
        check_finite(self.options)
        if self.channels not in (1, 3):
            raise ConfigError(f"channels must be 1 or 3, not {self.channels}")
        if base_size(self.resolution) is None or not 8 <= self.resolution <= 1024:
            raise ConfigError(f"resolution must be a power of two (or 7·2^k such as MNIST's 28), not {self.resolution}")
        if self.latent_dim < 1 or self.width < 1:
            raise ConfigError("latent_dim and width must be positive")
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


DEFAULT_STEPS = 10_000  # the budget of a run given none


@dataclass
class TrainConfig:
    data: str = ""                 # path of a prepared data set (.zip from `ganforge data prepare`)
    out: str = ""                  # run directory
    loss: str = "bce"              # a name in ganforge.losses.LOSSES
    batch_size: int = 64           # global batch (split across processes under DDP)
    lr_g: float = 2e-4             # Adam learning rate of G (DCGAN paper: 2e-4)
    lr_d: float = 2e-4             # Adam learning rate of D
    beta1: float = 0.5             # Adam beta1 (DCGAN paper: 0.5)
    beta2: float = 0.999           # Adam beta2
    steps: int | None = None       # budget: generator updates
    epochs: float | None = None    # budget: passes over the data set
    minutes: float | None = None   # budget: minutes of training (budgets are totals, counted across resumes)
    seed: int = 0                  # seeds weights, data order and latents
    device: str = "auto"           # auto | cpu | cuda | cuda:N
    # auto | fp32 | bf16 | fp16 (auto: fp32 on CPU, bf16 where it has AMX; bf16/fp16 on CUDA)
    precision: str = "auto"
    channels_last: str = "auto"    # auto | on | off (auto: on for conv models)
    fused_adam: str = "auto"       # auto | on | off (auto: one fused kernel per step where this torch has it)
    sample_every: int = 500        # steps between sample grids
    checkpoint_every: int = 1000   # steps between kept periodic checkpoints (latest is also refreshed here)
    log_every: int = 1             # steps between loss records in log.jsonl (1: every step)
    n_samples: int = 64            # images in each sample grid (fixed latents)
    flip: bool = False             # random horizontal flip of real images
    vflip: bool = False            # random vertical flip of real images (the MITLGAN thesis's augmentation)
    # losses (ganforge.losses): penalties and the auxiliary classifier's weight
    n_critic: int | None = None    # D steps per G step (None: the loss's default: 5 for wgan-gp, else 1)
    gp_weight: float = 10.0        # WGAN-GP gradient-penalty weight (wgan-gp only)
    r1_gamma: float = 0.0          # R1 penalty gamma on real images (0: off)
    r2_gamma: float = 0.0          # R2 penalty gamma on generated images (0: off; R3GAN uses both)
    ac_weight: float = 1.0         # weight of ACGAN's classification term (families with an auxiliary classifier)
    pl_weight: float = 0.0         # path-length regularisation weight (loss stylegan2; the paper: 2; 0: off)
    # small-data tools
    augment: str = ""              # DiffAugment policy: comma list of color, translation, cutout; or "ada" ("": off)
    augment_strength: float = 1.0  # scales every DiffAugment magnitude (1: the paper's)
    augment_p: float | None = None  # ADA: a fixed augmentation probability in [0, 1] (None: adapt p)
    ada_target: float = 0.6        # ADA: the E[sign(D(real))] that p is adjusted toward (the paper's 0.6)
    ada_kimg: float = 500.0        # ADA: thousands of real images in which p can go from 0 to 1
    ada_interval: int = 4          # ADA: steps between adjustments of p
    ada_cutout: bool = False       # ADA: add cutout to the pipeline
    ema: float = 0.0               # decay per step of G's weight average used for sampling (0: off; e.g. 0.999)
    ema_start: int = 0             # steps before the average starts (it copies G until then)
    ema_kimg: float = 0.0          # instead of --ema: the average's half-life in 1000s of images, ramped up (0: off)
    # scale: data parallel (torchrun) and gradient accumulation
    sync_bn: bool = False          # synchronise batch-norm statistics across processes
    # micro-batches per update: each process computes batch/(processes*grad_accum) at a time
    grad_accum: int = 1
    # robustness
    max_bad_steps: int = 3         # consecutive steps with NaN/inf losses before rolling back to the last checkpoint
    max_rollbacks: int = 3         # rollbacks without a good checkpoint in between before giving up
    diverge_steps: int = 1000      # steps with D accuracy at 100 % before a divergence warning
    holdout: int = 0               # real images kept out of training to watch D overfit (ganforge.health; 0: none)
    eval_every: int = 0            # steps between evaluations into metrics.jsonl (0: none)
    # metric for those and the best checkpoint: NAME or NAME[EXTRACTOR], e.g. fid[fashion-mnist-cnn]
    eval_metric: str = "fid"
    eval_n: int = 2000             # generated images per evaluation
    logger: str = "files"          # files | tensorboard | wandb: where training reports besides its own files

    def validate(self) -> TrainConfig:
        """The values themselves; ``ganforge.train.check_names`` checks the loss and augmentation names."""
        check_finite(self.to_dict())  # NaN passes every range check below (each comparison is False)
        if self.batch_size < 1:
            raise ConfigError("batch size must be at least 1")
        if min(self.lr_g, self.lr_d) <= 0:
            raise ConfigError("learning rates must be positive")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ConfigError("Adam betas must be in [0, 1)")
        for name in ("steps", "epochs", "minutes"):
            v = getattr(self, name)
            if v is not None and v <= 0:
                raise ConfigError(f"--{name} must be positive")
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            raise ConfigError(f"precision must be auto, fp32, bf16 or fp16, not {self.precision!r}")
        if self.channels_last not in ("auto", "on", "off"):
            raise ConfigError("channels_last must be auto, on or off")
        if self.fused_adam not in ("auto", "on", "off"):
            raise ConfigError("fused_adam must be auto, on or off")
        if self.n_critic is not None and self.n_critic < 1:
            raise ConfigError("n_critic must be at least 1")
        weights = (self.gp_weight, self.r1_gamma, self.r2_gamma, self.ac_weight, self.augment_strength,
                   self.pl_weight, self.ema_kimg)
        if min(weights) < 0:
            raise ConfigError("gp_weight, r1_gamma, r2_gamma, ac_weight, augment_strength, pl_weight and ema_kimg "
                              "must be >= 0")
        for fields_, what in ONE_CHOICE.items():
            given = [flag_of(f) for f in fields_ if getattr(self, f)]
            if len(given) > 1:
                raise ConfigError(f"{' and '.join(given)} set one choice ({what}); give one")
        if self.augment_p is not None and not 0 <= self.augment_p <= 1:
            raise ConfigError(f"augment_p is a probability in [0, 1], not {self.augment_p}")
        if not 0 <= self.ada_target <= 1 or self.ada_kimg <= 0 or self.ada_interval < 1:
            raise ConfigError("ada_target must be in [0, 1], ada_kimg positive and ada_interval at least 1")
        if not 0 <= self.ema < 1:
            raise ConfigError(f"ema is a decay per step in [0, 1) (e.g. 0.999), not {self.ema}")
        if self.batch_size % self.grad_accum:
            raise ConfigError(f"batch size {self.batch_size} is not divisible by grad_accum {self.grad_accum}")
        for name in ("sample_every", "checkpoint_every", "log_every", "n_samples", "grad_accum", "max_bad_steps",
                     "max_rollbacks", "diverge_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        if self.holdout < 0:
            raise ConfigError("holdout must be >= 0")
        if self.eval_every < 0 or self.eval_n < 2:
            raise ConfigError("eval_every must be >= 0 and eval_n >= 2")
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


# TrainConfig fields that are one choice written in different ways -> what the choice is. At most one is set
# (not 0); a layer of settings that sets one replaces the others a lower layer set (ganforge.runconfig), and
# resume compares the choice, not each field.
ONE_CHOICE = {("ema", "ema_kimg"): "G's weight average: a decay per step or a half-life in thousands of images"}


def flag_of(field: str) -> str:
    """The command-line flag of a TrainConfig field."""
    return "--" + field.replace("_", "-")


def choice_shown(values: dict, fields_: tuple[str, ...]) -> str:
    """How one ONE_CHOICE group is set in ``values``: "--ema 0.999", or "none" when no field of it is."""
    given = [f"{flag_of(f)} {values[f]!r}" for f in fields_ if values.get(f)]
    return " ".join(given) or "none"


# TrainConfig fields a resumed run may change: its budget, how often it writes and watches itself,
# where and in what arithmetic it runs. Every other field, every ModelConfig field and the data set's
# content (its sha256: the file may move) fix what the run is; resume refuses to change them.
RESUME_MAY_CHANGE = ("out", "data", "steps", "epochs", "minutes", "sample_every", "checkpoint_every", "log_every",
                     "n_samples", "max_bad_steps", "max_rollbacks", "diverge_steps", "eval_every", "eval_metric",
                     "eval_n", "device", "precision", "channels_last", "fused_adam", "grad_accum", "sync_bn", "logger")


def model_config(module: Any) -> ModelConfig:
    """The ``ModelConfig`` a generator or discriminator was built from (its ``cfg``).

    Typed access for callers holding an ``nn.Module``: torch types ``Module.__getattr__`` as
    ``Tensor | Module``, which hides the plain attributes our families set."""
    return module.cfg


def resume_conflicts(state: dict, cfg: TrainConfig, model_cfg: ModelConfig, data_sha256: str) -> list[str]:
    """Settings given for a resume that differ from those checkpoint ``state``'s run was made with, among
    those that fix what the run is (all but ``RESUME_MAY_CHANGE``): one "--flag given (the run: saved)" each."""
    def shown(value) -> str:
        return "the default" if value is None else repr(value)

    conflicts = []
    saved_sha = state["dataset"].get("sha256")
    if saved_sha != data_sha256:
        conflicts.append(f"--data {cfg.data} is another data set (sha256 {data_sha256[:12]}..., the run's "
                         f"{str(saved_sha)[:12]}...)")
    given, saved = cfg.to_dict(), TrainConfig.from_dict(state["train_config"]).to_dict()
    for fields_ in ONE_CHOICE:  # one line per choice: a flag given replaced the choice's other fields
        if any(given[f] != saved[f] for f in fields_):
            conflicts.append(f"{choice_shown(given, fields_)} (the run: {choice_shown(saved, fields_)})")
    chosen = {f for fields_ in ONE_CHOICE for f in fields_}
    for name in given:
        if name not in RESUME_MAY_CHANGE and name not in chosen and given[name] != saved[name]:
            conflicts.append(f"{flag_of(name)} {shown(given[name])} (the run: {shown(saved[name])})")
    given, saved = model_cfg.to_dict(), ModelConfig.from_dict(state["model_config"]).to_dict()
    flags = {"family": "--model", "num_classes": "classes in the data set"}
    for name in given:
        if name == "options":
            for key in sorted(set(given["options"]) | set(saved["options"])):
                mine, theirs = given["options"].get(key), saved["options"].get(key)
                if mine != theirs:
                    conflicts.append(f"{flag_of(key)} {shown(mine)} (the run: {shown(theirs)})")
        elif given[name] != saved[name]:
            flag = flags.get(name, flag_of(name))
            conflicts.append(f"{flag} {shown(given[name])} (the run: {shown(saved[name])})")
    return conflicts


def check_finite(values: dict) -> None:
    """Float options (``--name``) must be finite: argparse's float() takes "nan" and "inf"."""
    for name, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"--{name.replace('_', '-')} must be a finite number, not {value}")
