"""``ganforge experiment NAME``: whole experimental protocols as one command."""

from __future__ import annotations

import argparse

from ganforge.commands import HelpFormatter, add_command, trains
from ganforge.experiments.mitlgan_options import DEFAULTS, ExperimentOptions


def register(sub) -> None:
    p = sub.add_parser("experiment", help="run a whole experiment protocol (mitlgan)",
                       description="Run a published experiment end to end: trainings, evaluation and a report.",
                       formatter_class=HelpFormatter)
    exp = p.add_subparsers(dest="experiment", metavar="EXPERIMENT", required=True)
    m = add_command(
        exp, "mitlgan", run_mitlgan, help="baseline vs MITLGAN (pretrained foreground + background generators)",
        description="The MITLGAN thesis's protocol: train the baseline on COMBINED, parts on FOREGROUND and "
                    "BACKGROUND, compose the frozen parts into a MITLGAN trained on COMBINED, each for --budget "
                    "minutes with the same loss and critic; then the baseline continued to 3x the budget (the "
                    "compute of parts + MITLGAN), a comparison report and the foreground-background separation "
                    "view. Run it again to continue after an interruption.")
    m.add_argument("--foreground", required=True, help="data set of foregrounds on a plain background")
    m.add_argument("--background", required=True, help="data set of backgrounds")
    m.add_argument("--combined", required=True, help="data set of foregrounds composited onto backgrounds")
    m.add_argument("--budget", type=float, required=True, metavar="MINUTES", help="training minutes per model")
    m.add_argument("--out", required=True, help="experiment directory")
    m.add_argument("--model", dest="family", metavar="MODEL", default=DEFAULTS["family"],
                   help="generator family of baseline and parts (its D is the critic)")
    m.add_argument("--width", type=int, default=DEFAULTS["width"], help="width of generators and critic")
    m.add_argument("--latent-dim", type=int, default=DEFAULTS["latent_dim"],
                   help="latent size of the baseline and of each part")
    m.add_argument("--merge", choices=("conv1x1", "thesis", "sum", "alpha"), default=DEFAULTS["merge"],
                   help="MITLGAN merge")
    m.add_argument("--refiner-width", type=int, default=DEFAULTS["refiner_width"],
                   help="base width of the MITLGAN merge and refiner")
    m.add_argument("--blocks", type=int, default=DEFAULTS["blocks"], help="dense blocks in the refiner")
    m.add_argument("--loss", default=DEFAULTS["loss"],
                   help="loss of every model (default: wgan-gp, as the thesis; with it Adam lr 1e-4, betas 0/0.9 "
                        "and dcgan's critic with layer norm)")
    m.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"], help="batch size of every model")
    m.add_argument("--lr-g", type=float, help="generator learning rate (default: the trainer's)")
    m.add_argument("--lr-d", type=float, help="critic learning rate (default: the trainer's)")
    m.add_argument("--beta1", type=float, help="Adam beta1 (default: the trainer's)")
    m.add_argument("--beta2", type=float, help="Adam beta2 (default: the trainer's)")
    m.add_argument("--vflip", action="store_true",
                   help="random vertical flips of real images (the thesis's augmentation)")
    m.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="seed of every model")
    m.add_argument("--device", default=DEFAULTS["device"], help="auto, cpu, cuda or cuda:N")
    m.add_argument("--precision", default=DEFAULTS["precision"], choices=("auto", "fp32", "bf16", "fp16"),
                   help="autocast precision")
    m.add_argument("--sample-every", type=int, default=DEFAULTS["sample_every"], help="steps between sample grids")
    m.add_argument("--metrics", default=DEFAULTS["metrics"],
                   help="metrics of baseline, baseline-total and MITLGAN on COMBINED ('' for none)")
    m.add_argument("--features", default=DEFAULTS["features"],
                   help="extractor for fid/kid/pr: inception, or a domain extractor from 'ganforge features fit'")
    m.add_argument("--eval-n", type=int, default=DEFAULTS["eval_n"], help="generated images per evaluation")
    m.add_argument("--no-equal-total", dest="equal_total", action="store_false",
                   help="skip baseline-total, the baseline continued to 3x the budget (default: train it)")


@trains
def run_mitlgan(args: argparse.Namespace) -> int:
    # The protocol imports torch and the trainer: only when the command runs, so --help stays fast.
    from ganforge.experiments.mitlgan import run_experiment

    o = ExperimentOptions(**{k: v for k, v in vars(args).items() if k in DEFAULTS})
    results = run_experiment(o)
    print(f"report: {args.out}/report.md; separation view: {args.out}/separation.png; numbers: {args.out}/results.json")
    for name, st in results["stats"].items():
        print(f"  {name}: {st['steps']} steps, {st['minutes']} training min"
              + "".join(f", {k} {v:.4g}" for k, v in results["metrics"].get(name, {}).items()
                        if isinstance(v, (int, float))))
    return 0
