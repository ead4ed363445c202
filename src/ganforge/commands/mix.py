"""``ganforge mix``: the style-mixing grid of a style-based run (stylegan2)."""

from __future__ import annotations

import argparse

from ganforge.commands import add_command
from ganforge.errors import GanforgeError


def register(sub) -> None:
    p = add_command(sub, "mix", run, help="style-mixing grid of a stylegan2 run",
                    description="Rows and columns of seeds; each cell takes the row seed's styles except --layers, "
                                "taken from the column seed (coarse: pose and shape; middle: features; fine: colour "
                                "and texture).")
    p.add_argument("run", metavar="RUN", help="run directory or checkpoint file")
    p.add_argument("--rows", required=True, metavar="S,S,...", help="comma-separated seeds, one per row")
    p.add_argument("--cols", required=True, metavar="S,S,...", help="comma-separated seeds, one per column")
    p.add_argument("--layers", default="coarse", help="coarse, middle, fine, or A-B: the ws taken from the column seed")
    p.add_argument("--psi", type=float, default=1.0, help="truncation toward the mean w, in [0, 2] (1: none)")
    p.add_argument("--out", required=True, help="PNG grid to write")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator weights even if EMA weights exist")


def _seeds(text: str, flag: str) -> list[int]:
    seeds = [s.strip() for s in text.split(",") if s.strip()]
    if not seeds or not all(s.isdigit() for s in seeds):
        raise GanforgeError(f"{flag} takes comma-separated seeds (e.g. 1,2,3), not {text!r}")
    return [int(s) for s in seeds]


def run(args: argparse.Namespace) -> int:
    from ganforge.artifacts import load_generator
    from ganforge.device import resolve_device
    from ganforge.latent.mix import layer_range, mix_grid
    from ganforge.utils import atomic_path

    rows, cols = _seeds(args.rows, "--rows"), _seeds(args.cols, "--cols")
    if not 0 <= args.psi <= 2:
        raise GanforgeError(f"--psi must be in [0, 2], not {args.psi}")
    G, _, _ = load_generator(args.run, device=resolve_device(args.device), ema=not args.no_ema)
    layers = layer_range(G, args.layers)
    with atomic_path(args.out) as tmp:
        mix_grid(G, rows, cols, layers, args.psi).save(tmp, format="PNG")
    print(f"wrote a {len(rows)}x{len(cols)} style-mixing grid (ws {layers.start}-{layers.stop - 1} from the columns) "
          f"to {args.out}")
    return 0
