"""The options of the MITLGAN experiment and their defaults: the one place they are set.

``experiments/mitlgan.py`` runs the protocol with them, and ``ganforge experiment mitlgan``
reads its defaults from here. Kept apart from the protocol so that the CLI can read the
defaults without importing torch (``ganforge --help`` stays fast).
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass
class ExperimentOptions:
    foreground: str                 # data set of foregrounds on a plain background (part 1)
    background: str                 # data set of backgrounds (part 2)
    combined: str                   # data set of foregrounds composited on backgrounds
    out: str                        # experiment directory
    budget: float                   # minutes of training per model (B)
    family: str = "dcgan"           # generator family of the baseline and the parts
    width: int = 64                 # width of generators and critic
    latent_dim: int = 100           # latent size of baseline and of each part
    merge: str = "conv1x1"          # conv1x1 | sum | alpha (models.mitlgan.MERGES)
    refiner_width: int = 32         # base width of merge and refiner
    blocks: int = 6                 # dense blocks in the refiner (thesis: 6)
    loss: str = ""                  # "" -> wgan-gp when available (thesis), else bce
    batch_size: int = 64
    lr_g: float | None = None       # None: TrainConfig's defaults
    lr_d: float | None = None
    beta1: float | None = None
    beta2: float | None = None
    vflip: bool = False             # random vertical flips of real images (the thesis's augmentation)
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"         # auto | fp32 | bf16 | fp16
    equal_total: bool = True        # also train baseline-total (3B) for the with-pre-training comparison
    sample_every: int = 200         # steps between sample grids (checkpoints every 10x that)
    n_separation: int = 8           # seeds in the separation view
    metrics: str = "fid,kid,pr,c2st"  # evaluation of baseline, baseline-total and MITLGAN on COMBINED ("": none)
    features: str = "inception"     # extractor for fid/kid/pr: inception, or a 'ganforge features fit' name/path
    eval_n: int = 2000              # generated images per evaluation


DEFAULTS = {f.name: f.default for f in fields(ExperimentOptions)}
