"""The health check's collapse measure on finished runs: how diverse each run's samples are, against its data.

    python benchmarks/collapse_measure.py --data DATA.zip RUN [RUN ...] [--n 64]

For each run (a run directory, checkpoint or export) it draws the images of seeds 0..n-1 and prints,
as JSON, ``ganforge.health.diversity`` of them, the same measure on ``n`` evenly spaced images of
DATA (what a training run measures once at start), their ratio and whether the health check would
warn (``ratio < COLLAPSE_RATIO``). This is how the threshold was chosen: runs whose grids a person
calls collapsed (one picture in many tints) against runs whose grids are varied, both from the
quality benchmark (see ``COLLAPSE_RATIO`` in ganforge.health and the README's *Health*).
"""

from __future__ import annotations

import argparse
import json

from ganforge import api, health
from ganforge.data.dataset import load_dataset
from ganforge.sampling import from_uint8


def run_diversity(run: str, n: int) -> tuple[float, dict]:
    G = api.load_generator(run)
    images = from_uint8(G.generate(range(n)))
    return health.diversity(images), {"family": G.config.family, "step": G.info.get("step")}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", help="run directories, checkpoints or exports")
    ap.add_argument("--data", required=True, help="the prepared data set the runs trained on (.zip)")
    ap.add_argument("--n", type=int, default=health.DIVERSITY_IMAGES, help="images per measure")
    args = ap.parse_args(argv)
    real = health.data_diversity(load_dataset(args.data), k=args.n)
    rows = []
    for run in args.runs:
        fake, about = run_diversity(run, args.n)
        ratio = fake / real if real > 0 else 1.0
        rows.append({"run": run, **about, "diversity": round(fake, 4), "ratio": round(ratio, 3),
                     "warns": ratio < health.COLLAPSE_RATIO})
    print(json.dumps({"data": args.data, "data_diversity": round(real, 4), "threshold": health.COLLAPSE_RATIO,
                      "runs": rows}, indent=1))


if __name__ == "__main__":
    main()
