"""Which weight average suits this data and budget? One run, several averages of its generator; prints JSON.

    python benchmarks/ema_horizons.py --data pokemon-64.zip --family fastgan --minutes 30 \
        --features cifar64-cnn,emoji-art-cnn [--averages 0.999,0.995,0.99,kimg5] [--points 3]

A generator's exponential moving average (EMA) is what ``ganforge evaluate``, sample and export use when a
run keeps one. Its horizon matters: too short and it keeps the raw weights' noise, too long and it blends
generators the discriminator has pushed to different places (on small data sets G's palette swings from
step to step, and an average of swinging weights can draw a narrower palette than any of them). Comparing
horizons with separate runs would mix in the noise between runs; here ONE run (the family's recipe, as
``benchmarks/quality_per_time.py`` trains it, with its own average) also keeps every average of
``--averages`` by the trainer's own rules (ganforge.ema): a decay per step ``D`` (ramped up as ``--ema D``
is) or ``kimgH``, a half-life of H thousand images ramped up over the first images (``--ema-kimg H``,
StyleGAN2-ADA's rule). At ``--points`` evenly spaced moments of the budget (the last is its end) each
average, and the raw weights, generate ``--n`` images (seeds 0..n-1), each scored against the whole data
set by FID under every judge of ``--features``, with the spread of hues of benchmarks/judge_check.py (data's
own in the header). The averages are updated outside the timed step (as every training hook is), so the
run makes about as many steps as without them; on a GPU their kernels may overlap the next step. A rollback
(the trainer restoring a checkpoint after a bad step) restores the run's own average but not these: the
JSON says so (``rolled_back``). Without ``--runs`` the run is left in a temporary folder.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from ganforge.artifacts import load_generator
from ganforge.config import ModelConfig, TrainConfig
from ganforge.data.dataset import load_dataset
from ganforge.ema import EMA, HalfLifeEMA
from ganforge.errors import GanforgeError
from ganforge.metrics.evaluate import generate_images
from ganforge.metrics.features import load_extractor
from ganforge.metrics.fid import fid_from_features
from ganforge.train import default_initialise, train

sys.path.insert(0, str(Path(__file__).resolve().parent))
from judge_check import hue_entropy  # noqa: E402  (scripts beside this one)
from quality_per_time import RECIPES, budget_moments, setup  # noqa: E402


def make_average(spec: str, G, batch_size: int, start: int = 0) -> EMA:
    """``0.995``: a ramped decay per step (as --ema); ``kimg5``: a ramped half-life of 5,000 images (--ema-kimg)."""
    if spec.startswith("kimg"):
        if not float(spec[4:]) > 0:
            raise ValueError("a half-life must be positive")
        return HalfLifeEMA(G, 1000 * float(spec[4:]), batch_size)
    return EMA(G, float(spec), start)


class Averages:
    """Every average of ``specs`` of a run's G, and copies of each (and of the raw G) at ``moments`` of the run
    (seconds of its budget; steps with ``by="step"``): ``start`` as the run's ``initialise`` (so the averages
    begin from the weights the run's own average begins from, and one written as the run's own rule follows
    it exactly), then a hook after every step."""

    def __init__(self, specs: list[str], moments: list[float], batch_size: int, ema_start: int = 0,
                 by: str = "elapsed"):
        self.specs, self.moments, self.batch_size = specs, list(moments), batch_size
        self.ema_start, self.by = ema_start, by
        self.averages: dict[str, EMA] = {}
        self.taken: list[dict] = []
        self.last_step, self.rolled_back = 0, False

    def start(self, G, D) -> None:
        default_initialise(G, D)
        self.averages = {s: make_average(s, G, self.batch_size, self.ema_start) for s in self.specs}

    def __call__(self, trainer) -> None:
        if trainer.step <= self.last_step:  # a rollback: the run's own average was restored, these were not
            self.rolled_back = True
        self.last_step = trainer.step
        for average in self.averages.values():
            average.model.to(next(trainer.G.parameters()).device)  # a no-op after the first step
            average.update(trainer.G, trainer.step)  # the step number the trainer's own update used
        if self.moments and getattr(trainer, self.by) >= self.moments[0]:
            self.moments.pop(0)
            self.take(trainer)

    def take(self, trainer) -> None:
        models = {"raw": trainer.G, **{s: a.model for s, a in self.averages.items()}}
        own = own_average(trainer.cfg)
        if own and own not in models:
            models[own] = trainer.ema.model
        self.taken.append({"minutes": round(trainer.elapsed / 60, 2), "step": trainer.step,
                           "models": {k: copy.deepcopy(m).cpu().eval() for k, m in models.items()}})


def own_average(cfg: TrainConfig) -> str | None:
    """The run's own average, written as --averages takes it (None without one)."""
    return f"{cfg.ema:g}" if cfg.ema else f"kimg{cfg.ema_kimg:g}" if cfg.ema_kimg else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="the prepared data set (.zip)")
    p.add_argument("--family", default="fastgan", help="a family (its quality_per_time recipe), FAMILY+AUG or auto")
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--features", required=True, help="extractor names or paths, comma-separated")
    p.add_argument("--averages", default="0.999,0.998,0.995,0.99,kimg5,kimg2",
                   help="comma list: decays per step, or kimgH for a half-life of H thousand images")
    p.add_argument("--points", type=int, default=3, help="evenly spaced moments of the budget to judge at")
    p.add_argument("--n", type=int, default=2000, help="images generated by each average at each moment")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--width", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--runs", help="keep the run here (default: a temporary folder, left in place)")
    args = p.parse_args(argv)
    if args.points < 1 or args.n < 2:
        raise SystemExit("ema_horizons: --points must be at least 1 and --n at least 2")
    if args.family != "auto" and args.family.partition("+")[0] not in RECIPES:
        raise SystemExit(f"ema_horizons: unknown --family {args.family}; choose from auto, {', '.join(RECIPES)}")

    try:
        data = load_dataset(args.data)
        judges = [load_extractor(spec) for spec in args.features.split(",")]
        for judge in judges:  # one that cannot read this data fails now, not after the run
            judge.check(data.images[:1], f"{args.data}'s images")
    except GanforgeError as e:
        raise SystemExit(f"ema_horizons: {str(e).splitlines()[0]}") from None
    specs = [s.strip() for s in args.averages.split(",") if s.strip()]
    for s in specs:  # a bad spec fails now, not after the run
        try:
            make_average(s, torch.nn.Linear(1, 1), 1)
        except ValueError as e:
            raise SystemExit(f"ema_horizons: --averages {s}: {e} (give decays in [0, 1) or kimgH, H > 0)") from None
    out = Path(args.runs) if args.runs else Path(tempfile.mkdtemp(prefix="ganforge-ema-"))
    try:
        recipe, values = setup(args.family, args, Path(args.data))
        cfg = TrainConfig.from_dict({**values["train"], "data": args.data, "out": str(out), "minutes": args.minutes,
                                     "device": args.device, "seed": args.seed, "sample_every": 10**9,
                                     "checkpoint_every": 10**9, "log_every": 50})
        model = ModelConfig.from_dict(values["model"])
        hook = Averages(specs, budget_moments(args.minutes, args.points), cfg.batch_size, cfg.ema_start)
        t0 = time.time()
        train(cfg, model, out=open(os.devnull, "w"), initialise=hook.start, hooks=[hook])
    except GanforgeError as e:
        raise SystemExit(f"ema_horizons: {str(e).splitlines()[0]}") from None
    wall = time.time() - t0
    # the run's end, as its checkpoint keeps it (the hook's moments are before it)
    raw, model_cfg, info = load_generator(out, ema=False)
    final = {"raw": raw, **{s: copy.deepcopy(a.model).cpu().eval() for s, a in hook.averages.items()}}
    own = own_average(cfg)
    if own and own not in final:
        final[own] = load_generator(out)[0]
    hook.taken.append({"minutes": round(info["elapsed"] / 60, 2), "step": info["step"], "models": final})

    reference = [j.extract(data.images)[0] for j in judges]
    rows = []
    for moment in hook.taken:
        for name, G in moment["models"].items():
            images = generate_images(G.eval(), model_cfg, args.n)
            fids = {j.name: round(fid_from_features(f, j.extract(images)[0]), 3) for j, f in zip(judges, reference)}
            entropy = hue_entropy(images)
            rows.append({"minutes": moment["minutes"], "step": moment["step"], "weights": name, "fid": fids,
                         "hue_entropy_bits": None if entropy is None else round(entropy, 3)})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print(json.dumps({"benchmark": "ema_horizons", "data": args.data, "count": len(data), "family": args.family,
                      "recipe": recipe, "batch_size": cfg.batch_size, "seed": args.seed, "minutes": args.minutes,
                      "steps": info["step"], "wall_seconds": round(wall, 1), "own_average": own,
                      "rolled_back": hook.rolled_back, "n": args.n, "n_ref": len(data),
                      "hue_entropy_bits": round(hue_entropy(data.images) or 0, 3) or None,
                      "judges": [{"name": j.name, "identity": j.identity} for j in judges], "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
