"""``ganforge data prepare``: a folder, archive or built-in source -> a data-set file."""

from __future__ import annotations

import argparse

from ganforge.commands import HelpFormatter


def register(sub) -> None:
    data = sub.add_parser("data", help="prepare and inspect data sets", formatter_class=HelpFormatter,
                          description="Prepare and inspect data sets.")
    data_sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)
    p = data_sub.add_parser(
        "prepare", formatter_class=HelpFormatter,
        help="turn a folder, zip or built-in source into a training data set",
        description="Turn images into a data-set file (a zip of PNGs + dataset.json): decode safely, crop, "
                    "resize, and list every skipped file with its reason in OUT's .report.json.\n\n"
                    "SRC is a folder (searched recursively), a zip archive, or a built-in source: fashion-mnist[:train|test|all].",
    )
    p.add_argument("src", metavar="SRC", help="folder, zip archive, or built-in source name")
    p.add_argument("--out", required=True, help="data-set file to write, e.g. data/faces-64.zip")
    p.add_argument("--size", type=int, default=None, help="output side in pixels, power of two 8..256 (default: 32 for fashion-mnist, else 64)")
    p.add_argument("--channels", type=int, choices=(1, 3), default=None, help="1 = grey, 3 = RGB (default: 1 for fashion-mnist, else 3)")
    p.add_argument("--crop", choices=("center", "none"), default="center", help="center: centred square; none: pad to square")
    p.add_argument("--crop-fraction", type=float, default=1.0, help="center crop: fraction of the short side kept (e.g. 0.8)")
    p.add_argument("--background", default="white", help="colour behind transparency and padding: white, black, gray, #rrggbb or r,g,b")
    p.add_argument("--labels", choices=("subfolders",), default=None, help="subfolders: first folder level names the class")
    p.add_argument("--min-size", type=int, default=0, help="skip images whose short side is below this many pixels")
    p.add_argument("--workers", type=int, default=0, help="worker processes (0: one per CPU core)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N images")
    p.set_defaults(func=run_prepare)


def run_prepare(args: argparse.Namespace) -> int:
    from ganforge.data.prepare import PrepareOptions, prepare

    opts = PrepareOptions(resolution=args.size, channels=args.channels, crop=args.crop,
                          crop_fraction=args.crop_fraction, background=args.background, labels=args.labels,
                          min_size=args.min_size, workers=args.workers, limit=args.limit)
    report = prepare(args.src, args.out, opts)
    print(f"{report['seen']} files in, {report['written']} images written to {args.out}, "
          f"{report['skipped_count']} skipped" + (f" ({_reasons(report)})" if report["skipped_count"] else ""))
    print(f"report: {report['report_path']}")
    return 0


def _reasons(report: dict) -> str:
    return ", ".join(f"{n} {r}" for r, n in sorted(report["skipped_by_reason"].items(), key=lambda kv: -kv[1]))
