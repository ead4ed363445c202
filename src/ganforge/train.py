"""The training loop: budgets, logging, sample grids, atomic checkpoints, exact resume, signals.

``train(cfg, model_cfg)`` is the whole job as a plain function; ``ganforge train``
only parses options and calls it.

The contract: what a family and a loss provide, what the trainer does with it
-----------------------------------------------------------------------------
One trainer serves every family; a new family or loss fits it by providing these, not by
copying the loop.

- **Networks** (the family, ``ganforge.models``): ``G`` and ``D``, built from the ModelConfig.
  A family with several generators or discriminators (two-domain translators, weight-shared
  pairs) makes ``G`` and ``D`` modules that hold them: everything under ``G`` is G's side,
  everything under ``D`` is D's side. Buffers (running statistics, a tracked mean latent)
  are part of the networks and are checkpointed with them.
- **Optimiser groups**: one Adam per side over all of that side's parameters (``--lr-g``/
  ``--lr-d``, ``--beta1``/``--beta2``), each with its gradient scaler for float16 and, under
  torchrun, its DDP wrapper. Adam is per parameter, so one Adam over two generators is two
  Adams with the same settings.
- **The steps of one iteration** (the loss, ``ganforge.losses``): ``loss.phases()``, a list of
  ``Phase(name, side, compute, repeat, every, new_batch)`` run in order. A phase updates one
  side ``repeat`` times in a row (D's ``n_critic``), only on iterations 0, k, 2k, ... when
  ``every = k`` (lazy regularisation such as StyleGAN2's R1 every 16 steps, whose term the
  loss scales by k), drawing a new real batch per update unless ``new_batch`` is False.
  ``compute(G, D, real, z, labels)`` returns the scalar to minimise and its statistics; the
  trainer handles micro-batches (``--grad-accum``), autocast, DDP synchronisation, and skips
  an update whose ``name`` statistic or gradients are not finite. The base loss's phases are
  ``n_critic`` D updates then one G update; a regulariser on its own schedule is one more phase.
- **What is logged**: every statistic a phase returns (averaged over micro-batches and ranks)
  goes into ``log.jsonl`` each ``--log-every`` steps (and to ``--logger``'s TensorBoard or W&B,
  ganforge.loggers; with ``--augment ada``, D's phase adds ``ada_p`` and ``ada_rt``, and ADA adjusts
  p from them after the step); ``d_loss`` and ``g_loss`` show in the progress line, ``d_acc`` drives
  the divergence warning.
- **What is checkpointed**: both sides' weights and buffers, G's EMA, both optimisers and
  scalers, the data order, every random stream, the step and the training time, the
  loss's own state (``loss.state_dict()``) and ADA's probability p with its controller's state.
- **Hooks**: ``hook(trainer)`` after every iteration (evaluation, a composed model's
  unfreezing schedule); ``initialise(G, D)`` gives a fresh run its weights.

Resume is exact on CPU: the checkpoint holds the networks, optimisers, step, the
data order position, and the states of every random generator the loop draws from
(the latent generator and torch's global one, which dropout uses), so a run stopped
at step N and resumed ends with the same weights as one that never stopped.

Under torchrun (see ganforge.distributed) every rank runs this loop on its slice of the
global batch; G and D are wrapped in DistributedDataParallel for their own updates and
used unwrapped where they only pass gradients through (G in D's step, D in G's step),
so DDP sees exactly one forward/backward per update of the module it wraps.

Exact resume holds for every process: the latent generator and the data order are
the same on all ranks, but each rank has its own streams for dropout, penalties and
DiffAugment (torch's global generator, the augmentation generator, its CUDA generator).
Saving gathers them to rank 0 (``rng["ranks"]``, one entry per rank) and resume gives each
rank its own back. Resumed on more processes than saved, the extra ranks start streams
seeded from (seed, rank, step) (``stream_seed``), and the output says so.

A step whose loss or gradients are NaN/inf is not applied (the record says which update was
skipped); after ``max_bad_steps`` such steps in a row the run rolls back to the last
checkpoint, which is only ever written with finite weights.

One process trains in a run directory at a time (``RunDir.lock_for_training``). What a crash
leaves is made whole at the next start: the loss log is flushed to disk before each checkpoint
(resume drops the records after it), temporary files of an interrupted write are removed, and a
failed write (a full disk) ends the run with one line naming the last good checkpoint.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import os
import signal
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from ganforge import __version__, distributed, models
from ganforge.ada import AdaptiveAugment
from ganforge.checkpoint import load_checkpoint, loading, require_keys, save_checkpoint
from ganforge.config import DEFAULT_STEPS, ModelConfig, TrainConfig, resume_conflicts
from ganforge.data.dataset import Dataset, load_dataset
from ganforge.data.loader import make_loader
from ganforge.device import Runtime, denormals_flushed, resolve_runtime
from ganforge.diffaugment import DiffAugment, parse_policy
from ganforge.ema import EMA, HalfLifeEMA
from ganforge.errors import ConfigError, GanforgeError
from ganforge.health import DivergenceWatch, HealthHook
from ganforge.loggers import RunLogger, check_logger, open_logger
from ganforge.losses import LOSSES
from ganforge.metrics.training import EvalHook
from ganforge.plots import plot_losses
from ganforge.progress import Progress
from ganforge.runs import RunDir, read_jsonl, truncate_jsonl
from ganforge.sampling import generate, image_grid, labels_for_seeds, latents_for_seeds
from ganforge.utils import STDERR, atomic_path, write_json_atomic


class TrainingDiverged(GanforgeError):
    """Losses became NaN or infinite."""


class RunWriteError(GanforgeError):
    """Writing into the run directory failed (a full disk, a quota, a read-only file system)."""


# what resuming reads from a checkpoint (a crafted or truncated one lacking any is refused by name)
RESUME_KEYS = ("model_config", "train_config", "dataset", "step", "elapsed", "G", "D", "opt_G", "opt_D", "loader",
               "rng")


def _to_floats(stats: dict[str, torch.Tensor]) -> dict[str, float]:
    """A step's 0-d statistics as Python floats, in one device-to-host copy (one CUDA sync, not one per value)."""
    if not stats:
        return {}
    values = torch.stack([v.detach().float().reshape(()) for v in stats.values()]).tolist()
    return dict(zip(stats, values))


def stream_seed(seed: int, rank: int, step: int, stream: str) -> int:
    """Seed of one random stream ("torch", "augment") of one rank, from (seed, rank, step).

    For a resumed run whose checkpoint holds no state for this rank (saved by fewer processes,
    or by a ganforge that kept rank 0's streams only): deterministic, different per rank and
    per resume step, and never equal to the streams of a fresh run.
    """
    digest = hashlib.sha256(f"ganforge-rng/{stream}/{seed}/{rank}/{step}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1  # < 2**63, as torch.manual_seed takes


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    stopped_by: str  # "budget", the signal name ("SIGINT", "SIGTERM"), or "stop hook" (ganforge.api.train)


def model_config_for_data(model: ModelConfig, data: Dataset) -> ModelConfig:
    """Fill resolution/channels/classes from the data set, or say clearly why they do not fit."""
    if model.resolution and model.resolution != data.resolution:
        raise ConfigError(
            f"the data set holds {data.resolution}x{data.resolution} images but the model was set to "
            f"{model.resolution} px; drop --resolution or prepare the data at --size {model.resolution}"
        )
    if model.channels and model.channels != data.channels:
        raise ConfigError(f"the data set has {data.channels} channel(s) but the model was set to {model.channels}")
    model.resolution, model.channels = data.resolution, data.channels
    if models.is_two_domain(model.family) != bool(data.domains):
        raise ConfigError(f"{model.family} trains on two domains: prepare a data set with --domains A=SRC,B=SRC (or "
                          "--labels subfolders --as-domains)" if not data.domains else
                          f"{data.path.name} holds two domains; train a two-domain model on it (cyclegan, cogan, dtn)")
    fit = getattr(models.family(model.family), "for_data", None)
    if fit is not None:  # options that depend on the data set (e.g. dtn's encoder)
        fit(model, data)
    if models.is_conditional(model.family):
        if not data.classes:
            raise ConfigError(f"{model.family} is a conditional model but {data.path.name} has no classes; prepare "
                              "it with --labels subfolders (or use fashion-mnist), or choose an unconditional model")
        model.num_classes = len(data.classes)
    return models.validate(model)


def check_names(cfg: TrainConfig) -> TrainConfig:
    """The names in ``cfg`` that registries own: the loss and the augmentation policy (or "ada")."""
    if cfg.loss not in LOSSES:
        raise ConfigError(f"unknown loss {cfg.loss!r}; choose one of: {', '.join(sorted(LOSSES))}")
    if cfg.augment and cfg.augment != "ada":
        try:
            parse_policy(cfg.augment)
        except ConfigError as e:
            raise ConfigError(f"{e}; or 'ada' alone (adaptive augmentation)") from None
    if cfg.augment_p is not None and cfg.augment != "ada":
        raise ConfigError("--augment-p fixes ADA's probability: it needs --augment ada")
    check_logger(cfg.logger)
    return cfg


def build_augment(cfg: TrainConfig, generator: torch.Generator) -> DiffAugment | AdaptiveAugment | None:
    """The augmentation the loss applies before D (``--augment``), drawing from ``generator``."""
    if cfg.augment == "ada":
        return AdaptiveAugment(generator, p=cfg.augment_p or 0.0,
                               target=None if cfg.augment_p is not None else cfg.ada_target,
                               interval=cfg.ada_interval, speed_kimg=cfg.ada_kimg, batch_size=cfg.batch_size,
                               cutout=cfg.ada_cutout)
    return DiffAugment(cfg.augment, cfg.augment_strength, generator) if cfg.augment else None


def check_loss_fits(family: str, loss: str) -> None:
    """A family that names its own loss (the two-domain ones) trains with it only, and no other family uses it."""
    own = models.required_loss(family)
    owners = [name for name in models.MODELS if models.required_loss(name) == loss]
    if own and loss != own:
        raise ConfigError(f"{family} trains with its own loss: --loss {own} (or leave --loss out)")
    if not own and owners:
        raise ConfigError(f"--loss {loss} is the loss of {', '.join(owners)}; {family} cannot train with it")


def default_initialise(G: torch.nn.Module, D: torch.nn.Module) -> None:
    """Fresh weights: each network as its family initialises it."""
    models.init_weights(G)
    models.init_weights(D)


class Trainer:
    def __init__(self, cfg: TrainConfig, model_cfg: ModelConfig, *, resume: bool = False,
                 rank: int = 0, world_size: int = 1, out=STDERR, initialise=default_initialise):
        self.cfg = check_names(cfg.validate())
        self.run = RunDir(cfg.out)
        self.rank, self.world_size = rank, world_size
        self.is_main = rank == 0
        self.out = out
        self.run.check_writable_place()
        if not resume and self.run.latest_checkpoint.exists():
            raise ConfigError(f"{self.run.root} already holds a run; add --resume to continue it, "
                              "or choose another --out")
        if resume and not self.run.latest_checkpoint.exists():
            raise ConfigError(f"nothing to resume in {self.run.root}: no {self.run.latest_checkpoint}")

        if models.is_composite(model_cfg.family) and initialise is default_initialise:
            raise ConfigError(f"a composed {model_cfg.family} model is trained through ganforge.compose.compose "
                              "(it loads the parts' weights and unfreezes them on schedule)")
        self.data = load_dataset(cfg.data)
        self.model_cfg = model_config_for_data(model_cfg, self.data)
        check_loss_fits(self.model_cfg.family, cfg.loss)
        if cfg.eval_every and models.is_inpainter(self.model_cfg.family):
            raise ConfigError("--eval-every scores images drawn from latents; an inpainter fills holes in images "
                              "(benchmarks/latent_quality.py --inpainter measures it)")
        self.runtime: Runtime = resolve_runtime(cfg.device, cfg.precision, cfg.channels_last,
                                                convolutional=models.is_convolutional(model_cfg.family),
                                                fused_adam=cfg.fused_adam)
        dev = self.runtime.device
        mem = torch.channels_last if self.runtime.channels_last else torch.contiguous_format

        torch.manual_seed(cfg.seed)  # weights are a function of the seed
        self.G = models.build_generator(self.model_cfg)
        self.D = models.build_discriminator(self.model_cfg)
        if not resume:  # a resumed run's weights come from its checkpoint (mitlgan's parts' sources may be gone)
            initialise(self.G, self.D)
        if rank > 0:  # dropout and penalties draw per-rank random numbers; rank 0 keeps the single-process stream
            torch.manual_seed(cfg.seed + 1_000_003 * rank)
        if distributed.is_on() and cfg.sync_bn:
            self.G = distributed.convert_sync_batchnorm(self.G, dev)
            self.D = distributed.convert_sync_batchnorm(self.D, dev)
        # Module.to takes memory_format at run time; torch's stub does not list it
        self.G.to(dev, memory_format=mem)  # type: ignore[call-overload]
        self.D.to(dev, memory_format=mem)  # type: ignore[call-overload]
        self.ema = (EMA(self.G, cfg.ema, cfg.ema_start) if cfg.ema
                    else HalfLifeEMA(self.G, 1000 * cfg.ema_kimg, cfg.batch_size) if cfg.ema_kimg else None)
        self.opt_G = self.runtime.adam(self.G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
        self.opt_D = self.runtime.adam(self.D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
        scaler_on = self.runtime.needs_grad_scaler
        self.scaler_G = torch.amp.GradScaler("cuda", enabled=scaler_on)
        self.scaler_D = torch.amp.GradScaler("cuda", enabled=scaler_on)
        # augmentation's random numbers: one CPU stream per rank, saved in the checkpoint
        self.augment_gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + 2 + rank)
        augment = build_augment(cfg, self.augment_gen)
        self.ada = augment if isinstance(augment, AdaptiveAugment) else None  # p and its controller's state
        aux = cfg.ac_weight if models.has_auxiliary_classifier(self.model_cfg.family) else 0.0
        own = {name: getattr(cfg, name) for name in getattr(LOSSES[cfg.loss], "train_options", ())}  # e.g. pl_weight
        self.loss = LOSSES[cfg.loss](augment, n_critic=cfg.n_critic, gp_weight=cfg.gp_weight,
                                     r1_gamma=cfg.r1_gamma, r2_gamma=cfg.r2_gamma, auxiliary_weight=aux,
                                     self_supervised=models.has_self_supervised_d(self.model_cfg.family),
                                     family_options=models.resolved_options(self.model_cfg), **own)
        # two-domain families: both learning rates fall linearly to 0 after this fraction of the budget
        self.lr_decay_from = getattr(models.family(self.model_cfg.family), "LR_DECAY_FROM", None)

        self.loader = make_loader(self.data, cfg.batch_size, seed=cfg.seed, device=dev, rank=rank,
                                  world_size=world_size, flip=cfg.flip, vflip=cfg.vflip,
                                  channels_last=self.runtime.channels_last, held_back=cfg.holdout)
        self.latent_gen = torch.Generator().manual_seed(cfg.seed + 1)
        self.fixed_z = latents_for_seeds(range(cfg.n_samples), self.model_cfg.latent_dim)
        self.fixed_labels = labels_for_seeds(range(cfg.n_samples), self.model_cfg.num_classes)
        # Callables run after every step as hook(trainer) on every rank (check trainer.is_main before
        # writing files); used by periodic evaluation and anything else that watches training.
        self.hooks: list = []
        self.last_stats: dict = {}     # the last step's statistics, for hooks (e.g. ADA's ada_rt)
        self.log_notes: dict = {}      # what hooks add to the next log.jsonl record (e.g. {"health": ...})
        self.health_note = ""          # standing health warnings, shown in the progress line
        self.divergence = DivergenceWatch(cfg.diverge_steps)
        # --logger's sink (TensorBoard, W&B) beside the run's own files; opened by fit() on rank 0
        self.logger: RunLogger = RunLogger()
        self.stop_requested: str | None = None  # set by a hook (ganforge.api's should_stop): save and stop
        self.step = 0
        self.elapsed = 0.0  # training seconds, summed over resumes
        self.skipped: list[str] = []   # updates of the last step that were not applied (non-finite)
        self.rollbacks = 0             # rollbacks since the last good checkpoint
        # A fresh run writes a step-0 checkpoint (something to roll back to). Decided here, not by
        # looking for the file in fit(): rank 0 may have written it before another rank looks, and
        # saving is collective.
        self._initial_save = not resume
        self.saved_step: int | None = None  # the step of checkpoints/latest.pt as this process knows it
        # Rank 0 alone writes, so it alone holds the lock: from before it writes anything to the end of fit().
        self._lock = self.run.lock_for_training() if self.is_main else None
        try:
            if self.is_main:
                self._remove_leftover_temp_files()
            if resume:
                state = load_checkpoint(self.run.latest_checkpoint, map_location="cpu")
                self._check_resume(state)
                self._restore(state)
            elif self.is_main:
                self._write_config()
        except BaseException:
            self.release()
            raise
        # The modules whose updates DDP synchronises (the plain ones in a single process).
        self.G_train, self.D_train = self.G, self.D
        if distributed.is_on():
            unused = bool(getattr(models.family(self.model_cfg.family), "DDP_UNUSED_PARAMETERS", False))
            self.G_train = distributed.wrap_ddp(self.G, dev, find_unused_parameters=unused)
            self.D_train = distributed.wrap_ddp(self.D, dev, find_unused_parameters=unused)

    def release(self) -> None:
        """Close the logger and let go of the run directory's lock (fit() does when it ends; the kernel
        does if the process dies)."""
        self.logger.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _remove_leftover_temp_files(self) -> None:
        leftovers = self.run.leftover_temp_files()
        for path in leftovers:
            path.unlink(missing_ok=True)
        if leftovers:
            print(f"ganforge: note: removed {len(leftovers)} temporary file(s) left by an interrupted write in "
                  f"{self.run.root}", file=self.out, flush=True)

    def _check_resume(self, state: dict) -> None:
        """Refuse, naming each, settings that would change what the resumed run is."""
        require_keys(state, RESUME_KEYS, self.run.latest_checkpoint)
        conflicts = resume_conflicts(state, self.cfg, self.model_cfg, self.data.sha256)
        if conflicts:
            raise ConfigError(f"cannot resume {self.run.root} with other settings than it was trained with: "
                              f"{'; '.join(conflicts)}. These fix what the run is: leave them out to continue it, "
                              "or start a new run with another --out ('ganforge train --help' says what may change)")

    @contextlib.contextmanager
    def _writing(self, path):
        """Around a write into the run: a failure (a full disk, a quota, a read-only file system) ends the run
        with one line that says what is safe on disk, instead of a traceback."""
        try:
            yield
        except OSError as e:
            reason = e.strerror or str(e)
            safe = ("no checkpoint was written" if self.saved_step is None
                    else f"the last good checkpoint is step {self.saved_step}")
            raise RunWriteError(f"{reason[:1].lower()}{reason[1:]} while writing {path}; {safe}") from None

    def _flush_logs(self, log_file) -> None:
        """Put the loss log, and the metrics log (written record by record by the evaluation hook), on
        disk up to this step before this step's checkpoint: after a crash or a power cut, the resumed
        run finds every record up to its checkpoint (and drops any after it)."""
        if log_file:
            with self._writing(self.run.log):
                log_file.flush()
                os.fsync(log_file.fileno())
        if self.is_main and self.run.metrics.is_file():
            with self._writing(self.run.metrics), open(self.run.metrics, "rb") as f:
                os.fsync(f.fileno())

    def _close_log(self, log_file) -> None:
        """Close the loss log. When the run is already failing (a full disk, a signal), a failure to flush
        the last records must not replace that error: they are past the last checkpoint anyway."""
        if sys.exc_info()[1] is not None:
            with contextlib.suppress(OSError):
                log_file.close()
            return
        with self._writing(self.run.log):
            log_file.close()

    def _note_short_budget(self, start_step: int, start_elapsed: float) -> None:
        """Say so when a --minutes budget was shorter than the one step it let this session train."""
        budget = 60 * (self.cfg.minutes or 0)
        if self.is_main and start_elapsed < budget <= self.elapsed and self.step == start_step + 1:
            print(f"ganforge: note: the --minutes budget ({budget:.3g} s) is shorter than one step "
                  f"({self.elapsed - start_elapsed:.3g} s); trained one step", file=self.out, flush=True)

    @property
    def G_ema(self):
        """The weight-averaged generator (eval mode), or None without --ema."""
        return self.ema.model if self.ema is not None else None

    # ---- state -------------------------------------------------------------------------
    def _write_config(self) -> None:
        with self._writing(self.run.config):
            write_json_atomic(self.run.config, {
                "ganforge_version": __version__,
                "model": self.model_cfg.to_dict(),
                "train": self.cfg.to_dict(),
                "data": self.data_summary(),
                "runtime": self.runtime.describe(),
            })

    def data_summary(self) -> dict:
        return {"path": str(self.data.path), "sha256": self.data.sha256, "count": len(self.data),
                "resolution": self.data.resolution, "channels": self.data.channels, "classes": self.data.classes,
                "source": self.data.info.get("source"),
                "params": self.data.info.get("params"),  # how it was cropped/resized: photos are prepared alike
                "domains": self.data.domains}

    def local_rng_state(self) -> dict:
        """This process's own random streams: torch's global generator (dropout, the penalties'
        random mixing), the augmentation generator and, on CUDA, this process's device generator."""
        state = {"torch": torch.get_rng_state(), "augment": self.augment_gen.get_state()}
        if self.runtime.device.type == "cuda":
            state["cuda"] = torch.cuda.get_rng_state(self.runtime.device)
        return state

    def rank_rng_states(self) -> list[dict]:
        """``local_rng_state()`` of every rank, in rank order. A collective: every rank calls it at the
        same point (``save`` does; so does the evaluation hook before a best checkpoint)."""
        return distributed.gather_objects(self.local_rng_state())

    def state_dict(self, rank_rngs: list[dict] | None = None) -> dict:
        """The checkpoint. ``rank_rngs`` (from ``rank_rng_states()``) puts every rank's streams in
        ``rng["ranks"]``; without it a multi-process checkpoint holds this rank's only."""
        if rank_rngs is None and self.world_size == 1:
            rank_rngs = [self.local_rng_state()]
        own = rank_rngs[0] if rank_rngs else self.local_rng_state()
        rng = {"torch": own["torch"], "latent": self.latent_gen.get_state(), "augment": own["augment"],
               "world_size": self.world_size}
        if rank_rngs:
            rng["ranks"] = list(rank_rngs)
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {
            "model_config": self.model_cfg.to_dict(),
            "train_config": self.cfg.to_dict(),
            "step": self.step,
            "elapsed": self.elapsed,
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": self.ema.state_dict() if self.ema else None,
            "opt_G": self.opt_G.state_dict(),
            "opt_D": self.opt_D.state_dict(),
            "scaler_G": self.scaler_G.state_dict(),
            "scaler_D": self.scaler_D.state_dict(),
            "loader": self.loader.state_dict(),
            "loss": self.loss.state_dict(),
            "ada": self.ada.state_dict() if self.ada else None,
            "rng": rng,
            "dataset": self.data_summary(),
        }

    def _restore(self, state: dict) -> None:
        path = self.run.latest_checkpoint
        with loading(path, "the generator's weights"):
            self.G.load_state_dict(state["G"])
            if self.ema is not None:
                self.ema.load_state_dict(state["G_ema"] if state.get("G_ema") is not None else state["G"])
        with loading(path, "the discriminator's weights"):
            self.D.load_state_dict(state["D"])
        with loading(path, "the optimiser, data-order and random-number states"):
            self.opt_G.load_state_dict(state["opt_G"])
            self.opt_D.load_state_dict(state["opt_D"])
            if state.get("scaler_G"):
                self.scaler_G.load_state_dict(state["scaler_G"])
                self.scaler_D.load_state_dict(state["scaler_D"])
            self.loader.load_state_dict(state["loader"])
            self.loss.load_state_dict(state.get("loss") or {})
            if self.ada is not None and state.get("ada"):
                self.ada.load_state_dict(state["ada"])
            self.latent_gen.set_state(state["rng"]["latent"])
            self._restore_rank_rng(state["rng"], int(state["step"]))
            self.step = int(state["step"])
            self.elapsed = float(state["elapsed"])
        self.saved_step = self.step
        if self.is_main:
            with self._writing(self.run.log):
                truncate_jsonl(self.run.log, self.step)  # records past the checkpoint will be redone

    def _restore_rank_rng(self, rng: dict, step: int) -> None:
        """This rank's own streams from ``rng["ranks"][rank]``; reseeded from (seed, rank, step) when
        the checkpoint has none for it (saved by fewer processes, or by an older ganforge)."""
        ranks = rng.get("ranks")
        if ranks is not None:
            mine, n_saved = (ranks[self.rank] if self.rank < len(ranks) else None), len(ranks)
        else:  # rank 0's streams only, at the top level
            mine, n_saved = (rng if self.rank == 0 else None), 1
        dev = self.runtime.device
        if mine is not None:
            torch.set_rng_state(mine["torch"])
            if "augment" in mine:  # checkpoints from before augmentation had none: keep the seeded stream
                self.augment_gen.set_state(mine["augment"])
            if dev.type == "cuda":
                if ranks is not None and "cuda" in mine:
                    torch.cuda.set_rng_state(mine["cuda"], dev)
                elif ranks is None and "cuda" in rng:
                    torch.cuda.set_rng_state_all(rng["cuda"])
        else:
            torch.manual_seed(stream_seed(self.cfg.seed, self.rank, step, "torch"))  # CPU and CUDA generators
            self.augment_gen.manual_seed(stream_seed(self.cfg.seed, self.rank, step, "augment"))
        if self.is_main and n_saved < self.world_size:
            fresh = (f"rank {n_saved} starts" if n_saved == self.world_size - 1
                     else f"ranks {n_saved}-{self.world_size - 1} start")
            print(f"ganforge: note: the checkpoint holds the random-number streams of {n_saved} process(es) and this "
                  f"run has {self.world_size}: {fresh} new streams seeded from (seed {self.cfg.seed}, rank, "
                  f"step {step}), so their dropout/augmentation draws differ from an uninterrupted run "
                  "(deterministically: resuming again the same way repeats them)", file=self.out, flush=True)
        elif self.is_main and n_saved > self.world_size:
            print(f"ganforge: note: resuming a {n_saved}-process checkpoint on {self.world_size} process(es): ranks "
                  f"0-{self.world_size - 1} continue their saved random-number streams, those of the other ranks "
                  "are not used", file=self.out, flush=True)

    def weights_finite(self) -> bool:
        tensors = [*self.G.state_dict().values(), *self.D.state_dict().values()]
        return all(bool(torch.isfinite(t).all()) for t in tensors if t.is_floating_point())

    def save(self, periodic: bool = False) -> None:
        """Write the checkpoint (rank 0). Collective under DDP: every rank calls it at the same step."""
        rank_rngs = self.rank_rng_states()
        if not self.is_main:
            return
        if not self.weights_finite():  # never overwrite the last good checkpoint with garbage
            print(f"warning: step {self.step}: weights are not finite; checkpoint not written", file=self.out,
                  flush=True)
            return
        state = self.state_dict(rank_rngs)
        with self._writing(self.run.latest_checkpoint):
            save_checkpoint(self.run.latest_checkpoint, state)
        self.saved_step = self.step
        if periodic:
            with self._writing(self.run.checkpoint_at(self.step)):
                save_checkpoint(self.run.checkpoint_at(self.step), state)

    # ---- one step ----------------------------------------------------------------------
    def _sides(self) -> dict:
        """side -> (optimiser, scaler, DDP module it updates, the (G, D) a phase of that side computes with)."""
        return {"D": (self.opt_D, self.scaler_D, self.D_train, (self.G, self.D_train)),
                "G": (self.opt_G, self.scaler_G, self.G_train, (self.G_train, self.D))}

    def sample_z(self, n_local: int) -> torch.Tensor:
        """Latents for this process: every rank draws the global batch and keeps its slice."""
        z = torch.randn(n_local * self.world_size, self.model_cfg.latent_dim, generator=self.latent_gen)
        return z[self.rank * n_local : (self.rank + 1) * n_local].to(self.runtime.device)

    def _update(self, opt, scaler, module, compute, real, z, labels, name: str) -> dict:
        """One optimiser update over ``grad_accum`` micro-batches; skipped if the loss or gradients are not finite.

        ``compute(real, z, labels) -> (loss, stats)`` on a micro-batch; ``module`` is the
        DDP-wrapped network being updated (its gradient all-reduce waits for the last micro-batch).
        """
        k = self.cfg.grad_accum
        n = len(z)
        opt.zero_grad(set_to_none=True)
        totals: dict = {}
        for i in range(k):
            part = slice(i * n // k, (i + 1) * n // k)
            last = i == k - 1
            ddp = isinstance(module, torch.nn.parallel.DistributedDataParallel)
            sync = module.no_sync() if ddp and not last else contextlib.nullcontext()
            with sync:
                with self.runtime.autocast():
                    loss, stats = compute(None if real is None else real[part], z[part],
                                          None if labels is None else labels[part])
                scaler.scale(loss / k).backward()
            for key, v in stats.items():
                totals[key] = totals[key] + v / k if key in totals else v / k
        ok = torch.isfinite(totals[name])
        if not scaler.is_enabled():  # with a scaler, overflowing gradients are its business: it skips and rescales
            grads = [p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None]
            if grads:
                ok = ok & torch.isfinite(torch.stack(torch._foreach_norm(grads))).all()
        if distributed.any_true(not bool(ok), self.runtime.device):  # every rank skips together
            opt.zero_grad(set_to_none=True)
            self.skipped.append(name)
        else:
            scaler.step(opt)
            scaler.update()
        return totals

    def train_step(self) -> dict:
        """One iteration: the loss's phases in order (see "The contract" above)."""
        stats: dict = {}
        self.skipped = []
        sides = self._sides()
        real = labels = None
        self.real_batches = 0  # drawn this iteration, for the images/s figure
        if self.lr_decay_from is not None:
            self._decay_learning_rates(self.lr_decay_from)
        for phase in self.loss.phases():
            if self.step % phase.every:
                continue
            opt, scaler, module, (G, D) = sides[phase.side]
            if phase.side == "G":
                self.D.requires_grad_(False)  # G's update needs gradients through D, not for D's weights
            for _ in range(phase.repeat):
                if phase.new_batch or real is None:
                    real, labels = next(self.loader)
                    self.real_batches += 1
                z = self.sample_z(len(real))
                stats.update(self._update(opt, scaler, module, functools.partial(phase.compute, G, D),
                                          real, z, labels, phase.name))
            self.D.requires_grad_(True)
        if self.ema is not None:
            self.ema.update(self.G, self.step + 1)
        stats = distributed.mean_over_ranks(stats)
        if self.ada is not None:  # from statistics equal on every rank: all ranks keep the same p
            self.ada.update(stats)
        return stats

    def _decay_learning_rates(self, start: float) -> None:
        """Linear decay to zero over the budget after ``start`` (``lr_decay_from``) of it (CycleGAN's schedule).
        A function of the budget used, so a resumed run (budget in steps or epochs) continues it exactly."""
        scale = min(1.0, max(0.0, (1 - self.budget_fraction()) / (1 - start)))
        for opt, lr in ((self.opt_G, self.cfg.lr_g), (self.opt_D, self.cfg.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr * scale

    # ---- outputs -----------------------------------------------------------------------
    def sample_grid(self):
        """The sample grid: images of the fixed latents, or a family's preview rows (``preview(G, z, real)``
        on the first images of each domain, or of the data set: e.g. input, output, reconstruction)."""
        G = self.ema.model if self.ema else self.G
        if not models.has_preview(self.model_cfg.family):
            return image_grid(generate(G, self.fixed_z, self.fixed_labels))
        from ganforge.sampling import domain_examples, first_examples, to_uint8

        if models.is_two_domain(self.model_cfg.family):
            n = min(self.cfg.n_samples, 8, *(d["count"] for d in self.data.domains))
            real = domain_examples(self.data, n).to(self.runtime.device)
        else:
            n = min(self.cfg.n_samples, 8, len(self.data))
            real = first_examples(self.data, n).to(self.runtime.device)
        was_training = G.training
        G.eval()
        with torch.no_grad():
            rows = models.family(self.model_cfg.family).preview(G, self.fixed_z[:n].to(self.runtime.device), real)
        G.train(was_training)
        return image_grid(to_uint8(torch.cat(rows)), ncols=n)

    def write_samples(self) -> None:
        if not self.is_main:
            return
        grid = self.sample_grid()
        for path in (self.run.latest_samples, self.run.samples_at(self.step)):
            with self._writing(path), atomic_path(path) as tmp:
                grid.save(tmp, format="PNG")
        self.logger.image(self.step, "samples", grid)
        records = read_jsonl(self.run.log)
        if records:
            with self._writing(self.run.loss_plot):
                plot_losses(records, self.run.loss_plot,
                            title=f"{self.model_cfg.family} {self.model_cfg.resolution}px")

    # ---- the loop ----------------------------------------------------------------------
    def budget_fraction(self) -> float:
        """How much of the budget is used, in [0, 1+]; the loop stops at 1."""
        c = self.cfg
        fractions = []
        if c.steps:
            fractions.append(self.step / c.steps)
        if c.epochs:
            fractions.append(self.loader.epoch_progress / c.epochs)
        if c.minutes:
            fractions.append(self.elapsed / (60 * c.minutes))
        if not fractions:
            fractions.append(self.step / DEFAULT_STEPS)
        return max(fractions)

    def fit(self) -> TrainResult:
        stop = _SignalFlag()
        progress = Progress(self.out) if self.is_main else None
        log_file = open(self.run.log, "a") if self.is_main else None
        if self.is_main:
            print(f"ganforge: training {self.model_cfg.family} {self.model_cfg.resolution}px on {self.cfg.data} "
                  f"({len(self.data)} images) -> {self.run.root}; {self.runtime.describe()}; "
                  f"{self._budget_text()}" + (f"; resuming at step {self.step}" if self.step else ""),
                  file=self.out, flush=True)
        window_start, window_images = time.time(), 0
        bad_steps = 0
        self.divergence.reset()  # counts consecutive steps with D accuracy at 100 %
        if self.is_main:  # a resumed run's stream continues after its checkpoint's step
            self.logger = open_logger(self.cfg.logger, self.run, first_step=self.step + 1 if self.step else 0)
            if self.run.config.is_file():
                self.logger.config(self.step, self.run.read_config())
        if self._initial_save:
            self.save()  # step 0: something to roll back to
            self._initial_save = False
        start_step, start_elapsed = self.step, self.elapsed
        try:
            with stop:
                while not self._should_stop(stop):
                    t0 = time.time()
                    stats = self.train_step()
                    values: dict[str, float | None] = dict(_to_floats(stats))  # None: not finite (JSON has no NaN)
                    self.last_stats = values
                    extra: dict = self.log_notes
                    self.log_notes = {}
                    if self.skipped:
                        bad_steps += 1
                        extra["skipped"] = list(self.skipped)
                        values = {k: (v if v is not None and math.isfinite(v) else None) for k, v in values.items()}
                        if self.is_main:
                            print(f"\nwarning: step {self.step + 1}: non-finite {', '.join(self.skipped)}; "
                                  f"update skipped ({bad_steps} in a row)", file=self.out, flush=True)
                        if bad_steps >= self.cfg.max_bad_steps:
                            log_file = self._roll_back(log_file)
                            bad_steps = 0
                            self.divergence.reset()
                            window_start, window_images = time.time(), 0
                            continue
                    else:
                        bad_steps = 0
                    warning = self.divergence.update(values, self.step + 1)
                    if warning:
                        extra["warning"] = warning
                        if self.is_main:
                            print(f"\nwarning: {extra['warning']}", file=self.out, flush=True)
                    self.step += 1
                    self.elapsed += time.time() - t0
                    window_images += self.cfg.batch_size * self.real_batches
                    if self.is_main:
                        assert log_file is not None and progress is not None  # opened for the main process
                        rate = window_images / max(time.time() - window_start, 1e-9)
                        if self.step % self.cfg.log_every == 0 or extra:
                            record = {"step": self.step, "epoch": round(self.loader.epoch_progress, 4),
                                      "time": round(self.elapsed, 3), **values, "img_per_s": round(rate, 1), **extra}
                            with self._writing(self.run.log):  # a full buffer is written out here
                                log_file.write(json.dumps(record) + "\n")
                            self.logger.scalars(self.step, {**record, **self.learning_rates()}, "train/")
                        progress.update(step=self.step, total_fraction=self.budget_fraction(), elapsed=self.elapsed,
                                        images_per_s=rate, stats={k: values[k] for k in ("d_loss", "g_loss")
                                                                  if values.get(k) is not None},
                                        note=f"health: {self.health_note}" if self.health_note else "")
                        if time.time() - window_start > 30:  # rate over a recent window
                            window_start, window_images = time.time(), 0
                    # Hooks before the checkpoint: what they record or change at this step (an evaluation,
                    # a schedule) is then in the checkpoint, so a run killed right after resumes as it was.
                    for hook in self.hooks:
                        hook(self)
                    sampling = self.step % self.cfg.sample_every == 0
                    checkpointing = self.step % self.cfg.checkpoint_every == 0 and not bad_steps  # never mid-failure
                    if sampling or checkpointing:
                        self._flush_logs(log_file)
                    if sampling:
                        self.write_samples()
                    if checkpointing:
                        self.save(periodic=True)
                        self.rollbacks = 0  # on every rank, so all agree when to give up
        finally:
            if log_file:
                self._close_log(log_file)
            if progress:
                progress.close()
        self._note_short_budget(start_step, start_elapsed)
        self.save(periodic=False)
        self.write_samples()
        self.release()
        return TrainResult(self.run.root, self.step, stop.signal or self.stop_requested or "budget")

    def _should_stop(self, stop: _SignalFlag) -> bool:
        """Budget used up or a signal caught, agreed by all ranks: each times its own steps and may
        catch a signal a step later than another, but they must leave the loop together (what follows,
        saving, is collective)."""
        asked = stop.signal is not None or self.stop_requested is not None
        return distributed.any_true(self.budget_fraction() >= 1 or asked, self.runtime.device)

    def _roll_back(self, log_file):
        """Reload the last checkpoint after repeated non-finite steps; draw new latents so it need not recur."""
        self.rollbacks += 1
        if self.rollbacks > self.cfg.max_rollbacks:
            raise TrainingDiverged(f"losses stayed NaN or infinite after {self.cfg.max_rollbacks} rollbacks to "
                                   f"{self.run.latest_checkpoint}; try lower learning rates (--lr-g/--lr-d), "
                                   "--precision fp32, or another --loss")
        if log_file:
            log_file.close()
        distributed.barrier()  # rank 0 has finished writing the checkpoint every rank now reads
        rollbacks, failed_at = self.rollbacks, self.step + 1
        self._restore(load_checkpoint(self.run.latest_checkpoint, map_location="cpu"))
        self.rollbacks = rollbacks
        self.latent_gen.manual_seed((self.cfg.seed + 1) * 1_000_003 + 7919 * rollbacks + self.step)
        if self.is_main:
            print(f"warning: rolled back to step {self.step} ({self.run.latest_checkpoint}), "
                  f"rollback {rollbacks} of at most {self.cfg.max_rollbacks}", file=self.out, flush=True)
            with open(self.run.log, "a") as f:
                f.write(json.dumps({"step": self.step, "rolled_back": rollbacks, "from_step": failed_at}) + "\n")
            self.logger.restart(self.step + 1)  # what it logged past the checkpoint is void
            return open(self.run.log, "a")
        return None

    def learning_rates(self) -> dict[str, float]:
        return {"lr_g": self.opt_G.param_groups[0]["lr"], "lr_d": self.opt_D.param_groups[0]["lr"]}

    def _budget_text(self) -> str:
        c = self.cfg
        parts = [f"{c.steps} steps" if c.steps else "", f"{c.epochs} epochs" if c.epochs else "",
                 f"{c.minutes} minutes" if c.minutes else ""]
        text = " or ".join(p for p in parts if p)
        return "budget " + (text or f"{DEFAULT_STEPS} steps (default)")


class _SignalFlag:
    """Within the block, SIGINT/SIGTERM only set ``signal`` so the loop can save and stop cleanly."""

    def __init__(self):
        self.signal: str | None = None
        self._old: dict = {}

    def _handler(self, signum, frame):
        self.signal = signal.Signals(signum).name

    def __enter__(self):
        try:
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.signal(s, self._handler)
        except ValueError:
            pass  # not the main thread (e.g. inside a web worker): no signal handling
        return self

    def __exit__(self, *exc):
        for s, old in self._old.items():
            signal.signal(s, old)


def train(cfg: TrainConfig, model_cfg: ModelConfig, *, resume: bool = False, out=STDERR,
          initialise=default_initialise, hooks=()) -> TrainResult:
    """Train (or resume) a run; returns where it is and why it stopped.

    ``initialise(G, D)`` gives a fresh run its weights; ``hooks`` run after every step as
    ``hook(trainer)`` (``ganforge.compose`` uses both for a composed model's parts).

    Under torchrun this joins the process group first (see ganforge.distributed); each
    rank trains on its slice, rank 0 alone writes the run directory.
    """
    with denormals_flushed():  # the CLI entered it before torch's threads started; here it reaches this thread
        return _train(cfg, model_cfg, resume=resume, out=out, initialise=initialise, hooks=hooks)


def _train(cfg: TrainConfig, model_cfg: ModelConfig, *, resume: bool, out, initialise, hooks) -> TrainResult:
    info, device = distributed.init_from_env(cfg.device)
    if info.enabled:
        cfg = replace(cfg, device=device)  # each rank on its own GPU (cuda:LOCAL_RANK)
    try:
        trainer = Trainer(cfg, model_cfg, resume=resume, rank=info.rank, world_size=info.world_size, out=out,
                          initialise=initialise)
        try:
            trainer.hooks.extend(hooks)
            if cfg.eval_every:
                trainer.hooks.append(EvalHook(trainer, out=out))
            trainer.hooks.append(HealthHook(trainer, out=out))  # after the evaluation, whose metric it watches
            result = trainer.fit()
        finally:
            trainer.release()  # fit() lets go when it ends; this is for when it fails
        distributed.barrier()  # every rank done (rank 0 writes last) before any tears its connections down
        return result
    finally:
        if info.enabled:
            distributed.shutdown()
