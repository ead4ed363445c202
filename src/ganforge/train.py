"""The training loop: budgets, logging, sample grids, atomic checkpoints, exact resume, signals.

``train(cfg, model_cfg)`` is the whole job as a plain function; ``ganforge train``
only parses options and calls it. One iteration ("step") is ``loss.n_critic``
discriminator updates followed by one generator update.

Resume is exact on CPU: the checkpoint holds the networks, optimisers, step, the
data order position, and the states of every random generator the loop draws from
(the latent generator and torch's global one, which dropout uses), so a run stopped
at step N and resumed ends with the same weights as one that never stopped.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ganforge import __version__
from ganforge.checkpoint import load_checkpoint, save_checkpoint
from ganforge.config import ModelConfig, TrainConfig
from ganforge.data.dataset import Dataset, load_dataset
from ganforge.data.loader import BatchLoader
from ganforge.device import Runtime, resolve_runtime
from ganforge.errors import ConfigError, GanforgeError
from ganforge.losses import LOSSES
from ganforge.models import build_discriminator, build_generator, init_dcgan_weights
from ganforge.plots import plot_losses
from ganforge.progress import Progress
from ganforge.runs import RunDir, read_jsonl, truncate_jsonl
from ganforge.sampling import generate, image_grid, latents_for_seeds
from ganforge.utils import atomic_path, write_json_atomic

DEFAULT_STEPS = 10_000  # used when no budget is given


class TrainingDiverged(GanforgeError):
    """Losses became NaN or infinite."""


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    stopped_by: str  # "budget" or the signal name ("SIGINT", "SIGTERM")


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
    return model.validate()


class Trainer:
    def __init__(self, cfg: TrainConfig, model_cfg: ModelConfig, *, resume: bool = False,
                 rank: int = 0, world_size: int = 1, out=sys.stderr):
        self.cfg = cfg.validate()
        self.run = RunDir(cfg.out)
        self.rank, self.world_size = rank, world_size
        self.is_main = rank == 0
        self.out = out
        if not resume and self.run.latest_checkpoint.exists():
            raise ConfigError(f"{self.run.root} already holds a run; add --resume to continue it, or choose another --out")
        if resume and not self.run.latest_checkpoint.exists():
            raise ConfigError(f"nothing to resume in {self.run.root}: no checkpoints/latest.pt")
        if cfg.loss not in LOSSES:
            raise ConfigError(f"unknown loss {cfg.loss!r}; choose one of: {', '.join(sorted(LOSSES))}")

        self.data = load_dataset(cfg.data)
        self.model_cfg = model_config_for_data(model_cfg, self.data)
        self.runtime: Runtime = resolve_runtime(cfg.device, cfg.precision, cfg.channels_last,
                                                convolutional=model_cfg.family != "mlp")
        dev = self.runtime.device
        mem = torch.channels_last if self.runtime.channels_last else torch.contiguous_format

        torch.manual_seed(cfg.seed)  # weights are a function of the seed
        self.G = build_generator(self.model_cfg)
        self.D = build_discriminator(self.model_cfg)
        init_dcgan_weights(self.G)
        init_dcgan_weights(self.D)
        self.G.to(dev, memory_format=mem)
        self.D.to(dev, memory_format=mem)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
        scaler_on = self.runtime.needs_grad_scaler
        self.scaler_G = torch.amp.GradScaler("cuda", enabled=scaler_on)
        self.scaler_D = torch.amp.GradScaler("cuda", enabled=scaler_on)
        self.loss = LOSSES[cfg.loss]()

        self.loader = BatchLoader(self.data, cfg.batch_size, seed=cfg.seed, device=dev, rank=rank,
                                  world_size=world_size, flip=cfg.flip, channels_last=self.runtime.channels_last)
        self.latent_gen = torch.Generator().manual_seed(cfg.seed + 1)
        self.fixed_z = latents_for_seeds(range(cfg.n_samples), self.model_cfg.latent_dim)
        self.fixed_labels = None
        if self.model_cfg.num_classes:
            self.fixed_labels = torch.arange(cfg.n_samples) % self.model_cfg.num_classes
        # Callables run after every step as hook(trainer) on every rank (check trainer.is_main before
        # writing files); used by periodic evaluation and anything else that watches training.
        self.hooks: list = []
        self.step = 0
        self.elapsed = 0.0  # training seconds, summed over resumes
        if resume:
            self._restore(load_checkpoint(self.run.latest_checkpoint, map_location="cpu"))
        elif self.is_main:
            self.run.root.mkdir(parents=True, exist_ok=True)
            self._write_config()

    # ---- state -------------------------------------------------------------------------
    def _write_config(self) -> None:
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
                "params": self.data.info.get("params")}  # how it was cropped/resized: photos are prepared alike

    def state_dict(self) -> dict:
        rng = {"torch": torch.get_rng_state(), "latent": self.latent_gen.get_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {
            "model_config": self.model_cfg.to_dict(),
            "train_config": self.cfg.to_dict(),
            "step": self.step,
            "elapsed": self.elapsed,
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": None,
            "opt_G": self.opt_G.state_dict(),
            "opt_D": self.opt_D.state_dict(),
            "scaler_G": self.scaler_G.state_dict(),
            "scaler_D": self.scaler_D.state_dict(),
            "loader": self.loader.state_dict(),
            "rng": rng,
            "dataset": self.data_summary(),
        }

    def _restore(self, state: dict) -> None:
        saved = ModelConfig.from_dict(state["model_config"])
        if saved != self.model_cfg:
            raise ConfigError(f"the checkpoint's model ({saved.family}, {saved.resolution} px) differs from the options given")
        if state["dataset"]["sha256"] != self.data.sha256:
            print(f"warning: {self.cfg.data} differs from the data set this run started with", file=self.out)
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.opt_G.load_state_dict(state["opt_G"])
        self.opt_D.load_state_dict(state["opt_D"])
        if state.get("scaler_G"):
            self.scaler_G.load_state_dict(state["scaler_G"])
            self.scaler_D.load_state_dict(state["scaler_D"])
        self.loader.load_state_dict(state["loader"])
        self.latent_gen.set_state(state["rng"]["latent"])
        torch.set_rng_state(state["rng"]["torch"])
        if "cuda" in state["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self.step = int(state["step"])
        self.elapsed = float(state["elapsed"])
        if self.is_main:
            truncate_jsonl(self.run.log, self.step)  # records past the checkpoint will be redone

    def save(self, periodic: bool = False) -> None:
        if not self.is_main:
            return
        state = self.state_dict()
        save_checkpoint(self.run.latest_checkpoint, state)
        if periodic:
            save_checkpoint(self.run.checkpoint_at(self.step), state)

    # ---- one step ----------------------------------------------------------------------
    def sample_z(self, n_local: int) -> torch.Tensor:
        """Latents for this process: every rank draws the global batch and keeps its slice."""
        z = torch.randn(n_local * self.world_size, self.model_cfg.latent_dim, generator=self.latent_gen)
        return z[self.rank * n_local : (self.rank + 1) * n_local].to(self.runtime.device)

    def _update(self, loss: torch.Tensor, opt, scaler) -> None:
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    def train_step(self) -> dict:
        stats: dict = {}
        for _ in range(self.loss.n_critic):
            real, labels = next(self.loader)
            z = self.sample_z(len(real))
            with self.runtime.autocast():
                d_loss, d_stats = self.loss.d_loss(self.G, self.D, real, z, labels)
            self._update(d_loss, self.opt_D, self.scaler_D)
            stats.update(d_stats)
        z = self.sample_z(len(real))
        self.D.requires_grad_(False)  # G's step needs gradients through D, not for D's weights
        with self.runtime.autocast():
            g_loss, g_stats = self.loss.g_loss(self.G, self.D, z, labels)
        self._update(g_loss, self.opt_G, self.scaler_G)
        self.D.requires_grad_(True)
        stats.update(g_stats)
        return stats

    # ---- outputs -----------------------------------------------------------------------
    def write_samples(self) -> None:
        if not self.is_main:
            return
        images = generate(self.G, self.fixed_z, self.fixed_labels)
        grid = image_grid(images)
        with atomic_path(self.run.latest_samples) as tmp:
            grid.save(tmp, format="PNG")
        with atomic_path(self.run.samples_at(self.step)) as tmp:
            grid.save(tmp, format="PNG")
        records = read_jsonl(self.run.log)
        if records:
            plot_losses(records, self.run.loss_plot, title=f"{self.model_cfg.family} {self.model_cfg.resolution}px")

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
        try:
            with stop:
                while self.budget_fraction() < 1 and not stop.signal:
                    t0 = time.time()
                    stats = self.train_step()
                    values = {k: float(v) for k, v in stats.items()}
                    if not all(v == v and abs(v) != float("inf") for v in values.values()):
                        bad_steps += 1
                        if bad_steps >= 3:
                            raise TrainingDiverged(f"losses became NaN or infinite at step {self.step + 1}; "
                                                   f"the last good checkpoint is {self.run.latest_checkpoint}")
                    else:
                        bad_steps = 0
                    self.step += 1
                    self.elapsed += time.time() - t0
                    window_images += self.cfg.batch_size * self.loss.n_critic
                    if self.is_main:
                        rate = window_images / max(time.time() - window_start, 1e-9)
                        if self.step % self.cfg.log_every == 0:
                            log_file.write(json.dumps({"step": self.step, "epoch": round(self.loader.epoch_progress, 4),
                                                       "time": round(self.elapsed, 3), **values,
                                                       "img_per_s": round(rate, 1)}) + "\n")
                        progress.update(step=self.step, total_fraction=self.budget_fraction(), elapsed=self.elapsed,
                                        images_per_s=rate, stats={k: values[k] for k in ("d_loss", "g_loss") if k in values})
                        if time.time() - window_start > 30:  # rate over a recent window
                            window_start, window_images = time.time(), 0
                    if self.step % self.cfg.sample_every == 0:
                        log_file and log_file.flush()
                        self.write_samples()
                    if self.step % self.cfg.checkpoint_every == 0:
                        self.save(periodic=True)
                    for hook in self.hooks:
                        hook(self)
        finally:
            if log_file:
                log_file.close()
            if progress:
                progress.close()
        self.save(periodic=False)
        self.write_samples()
        return TrainResult(self.run.root, self.step, stop.signal or "budget")

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


def train(cfg: TrainConfig, model_cfg: ModelConfig, *, resume: bool = False, out=sys.stderr) -> TrainResult:
    """Train (or resume) a run; returns where it is and why it stopped."""
    return Trainer(cfg, model_cfg, resume=resume, out=out).fit()
