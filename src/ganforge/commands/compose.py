"""``ganforge compose``: pretrained generators -> one MITLGAN generator trained on a combined data set."""

from __future__ import annotations

import argparse
import json

from ganforge.commands import add_command, trains
from ganforge.commands.train import add_training_options, report_result, resolve_configs
from ganforge.config import ModelConfig
from ganforge.errors import ConfigError


def register(sub) -> None:
    add_command(
        sub, "compose", run, help="compose pretrained generators into one (MITLGAN) and train it",
        description="Build one generator from two or more pretrained ganforge generators (any family and latent "
                    "size) and train it on a combined data set. Part i reads its own slice of the latent, in the "
                    "order of --part; parts stay frozen (see --unfreeze-after); a learned merge and refiner join "
                    "their outputs. The result is an ordinary run: generate, interpolate, serve and --resume work.",
        options=add_options)


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--part", action="append", metavar="RUN_OR_CKPT", default=None,
                   help="a pretrained run directory or checkpoint; give two or more "
                        "(foreground first for --merge alpha)")
    p.add_argument("--data", help="combined data set (.zip from 'ganforge data prepare'), same size as the parts")
    p.add_argument("--out", required=True, help="run directory of the composed model")
    p.add_argument("--resume", action="store_true", help="continue the composed run in --out")
    p.add_argument("--dry-run", action="store_true", help="print the resolved configuration and exit")
    from ganforge.models import mitlgan  # late: torch's start-up stays out of `ganforge --help`

    m = p.add_argument_group("composition")
    m.add_argument("--merge", choices=mitlgan.MERGES, default=mitlgan.MERGE.default,
                   help="conv1x1: concat + learned 1x1 conv to --refiner-width channels + ReLU; thesis: exactly the "
                        "thesis's (1x1 conv to the image's channels + ReLU, refiner with a 7x7 stem and growth "
                        "4 x width); sum: plain sum; alpha: learned mask composites part 1 over part 2; each "
                        "followed by the refiner")
    m.add_argument("--refiner-width", type=int, default=ModelConfig().width,
                   help="base width w of the merge and refiner")
    m.add_argument("--blocks", type=int, default=mitlgan.BLOCKS.default, help=mitlgan.BLOCKS.help)
    m.add_argument("--growth", type=int,
                   help="channels each dense block adds (default: --refiner-width; 4 x it for --merge thesis)")
    m.add_argument("--unfreeze-after", type=int, metavar="N",
                   help="fine-tune the parts from step N on (default: they stay frozen)")
    m.add_argument("--critic", default=mitlgan.DEFAULT_CRITIC["family"],
                   help="discriminator family of the critic (dcgan's D uses layer norm under wgan-gp)")
    m.add_argument("--critic-width", type=int, default=mitlgan.DEFAULT_CRITIC["width"], help="base width of the critic")
    m.add_argument("--no-ema", action="store_true", help="take the parts' raw weights even if they have EMA weights")
    add_training_options(p)


@trains
def run(args: argparse.Namespace) -> int:
    from ganforge.compose import compose, compose_model_config, critic_options, default_loss

    if args.resume and args.part:
        raise ConfigError("--resume continues the composed run as it was saved; drop --part")
    if not args.resume and not args.part:
        raise ConfigError("give the pretrained generators with --part RUN_OR_CKPT --part RUN_OR_CKPT")
    if not args.resume and args.loss is None:
        args.loss = default_loss()
    # the merge's and refiner's own flags (--blocks, --growth) are not the trained family's options
    cfg, model_cfg = resolve_configs(args, exclude=("merge", "refiner_width", "blocks", "growth", "unfreeze_after"))
    if not args.resume:
        model_cfg = compose_model_config(
            args.part, cfg.data, merge=args.merge, width=args.refiner_width, blocks=args.blocks, growth=args.growth,
            unfreeze_after=args.unfreeze_after, critic={"family": args.critic, "width": args.critic_width,
                                                        "options": critic_options(args.critic, cfg.loss)},
            ema=not args.no_ema)
    if args.dry_run:
        print(json.dumps({"train": cfg.to_dict(), "model": model_cfg.to_dict()}, indent=2))
        return 0
    return report_result(compose(cfg, model_cfg, resume=args.resume), "compose")

