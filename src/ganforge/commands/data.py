"""``ganforge data ...``: prepare, sources, show, foreground, background, composite."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ganforge.commands import HelpFormatter

SRC_HELP = ("SRC is a folder (searched recursively), a zip or tar archive, a text file of image URLs (one per line), "
            "or a named source: fashion-mnist[:train|test|all], digits, "
            "emoji[:faces,people,animals|:all][:noskin][:subgroups], hf:OWNER/NAME[/config][:split], "
            "openimages:CLASS[:train|validation|test], search:TERM. "
            "'ganforge data sources' lists them.")


def register(sub) -> None:
    data = sub.add_parser("data", help="prepare and inspect data sets", formatter_class=HelpFormatter,
                          description="Prepare and inspect data sets.")
    data_sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)
    p = data_sub.add_parser(
        "prepare", formatter_class=HelpFormatter,
        help="turn a folder, archive, URL list or named source into a training data set",
        description="Turn images into a data-set file (a zip of PNGs + dataset.json): decode safely, crop, "
                    "resize, clean, augment, and list every skipped file with its reason in OUT's .report.json.\n\n"
                    + SRC_HELP,
    )
    p.add_argument("src", metavar="SRC", nargs="?",
                   help="folder, archive, URL list, or named source (not with --domains)")
    p.add_argument("--out", required=True, help="data-set file to write, e.g. data/faces-64.zip")
    _add_image_options(p)
    p.add_argument("--crop", choices=("center", "none", "face", "alpha"), default="center",
                   help="center: centred square; none: pad to square in --background; face: square around each "
                        "detected face; alpha: the opaque part of an image with transparency")
    p.add_argument("--crop-fraction", type=float, default=1.0,
                   help="center crop: fraction of the short side kept (e.g. 0.8)")
    p.add_argument("--face-margin", type=float, default=0.4,
                   help="face crop: fraction of the face's side added on every side")
    p.add_argument("--faces", choices=("largest", "all"), default="largest",
                   help="face crop: the largest face, or every face")
    p.add_argument("--labels", choices=("subfolders",), default=None,
                   help="subfolders: first folder level names the class")
    p.add_argument("--domains", metavar="A=SRC,B=SRC", default=None,
                   help="a two-domain set (CycleGAN, CoGAN, DTN): each domain's SRC prepared with the same options, "
                        "e.g. photos=faces/,emoji=emoji:faces (the first is A)")
    p.add_argument("--as-domains", action="store_true",
                   help="with --labels subfolders: SRC has exactly two subfolders, "
                        "each becomes a domain (A first by name)")
    p.add_argument("--blur", type=float, default=0.0, help="Gaussian blur radius in output pixels")
    p.add_argument("--dedup", choices=("none", "exact", "near"), default="exact",
                   help="remove exact duplicates (content hash), or also near duplicates (perceptual hash)")
    p.add_argument("--near-threshold", type=int, default=6,
                   help="near duplicates: at most this many of 64 hash bits differ")
    p.add_argument("--augment", type=int, default=0, help="extra variants per image (offline augmentation)")
    p.add_argument("--augment-ops", default="flip,rotate,shear,elastic", help="operations the variants draw from")
    _add_source_options(p)
    p.set_defaults(func=run_prepare)

    s = data_sub.add_parser("sources", formatter_class=HelpFormatter,
                            help="list the named sources and whether they work here",
                            description="List the named sources SRC can be, with an example and whether each "
                                        "is usable here.")
    s.add_argument("--json", action="store_true", help="print JSON instead of a table")
    s.set_defaults(func=run_sources)

    sh = data_sub.add_parser("show", formatter_class=HelpFormatter, help="contact sheet PNG and summary of a data set",
                             description="Write a contact sheet PNG of a data set and print its count, size, channels, "
                                         "classes and provenance.")
    sh.add_argument("dataset", metavar="DATASET", help="a data-set file made by 'ganforge data prepare'")
    sh.add_argument("--out", default=None, help="PNG to write (default: DATASET with .sheet.png)")
    sh.add_argument("--n", type=int, default=64, help="images on the sheet")
    sh.add_argument("--seed", type=int, default=0, help="which images are chosen")
    sh.add_argument("--json", action="store_true", help="print the summary as JSON")
    sh.set_defaults(func=run_show)

    fg = data_sub.add_parser("foreground", formatter_class=HelpFormatter,
                             help="foreground set: cut-outs of images with transparency",
                             description="Make a foreground set (for layered GANs such as MITLGAN) from images with "
                                         "transparency: each is cropped to its opaque pixels and centred; RGBA "
                                         "(alpha = mask) unless --flat. Images without transparency are skipped and "
                                         "reported.\n\n" + SRC_HELP)
    fg.add_argument("src", metavar="SRC")
    fg.add_argument("--out", required=True, help="data-set file to write")
    fg.add_argument("--size", type=int, default=64, help="output side in pixels, 8..256; training needs a power of two")
    fg.add_argument("--flat", action="store_true", help="write RGB on --background instead of RGBA")
    fg.add_argument("--background", default="white", help="colour for --flat: white, black, gray, #rrggbb or r,g,b")
    fg.add_argument("--workers", type=int, default=0, help="worker processes (0: one per CPU core)")
    fg.add_argument("--limit", type=int, default=None, help="use only the first N images")
    fg.set_defaults(func=run_foreground)

    bg = data_sub.add_parser("background", formatter_class=HelpFormatter,
                             help="background set: any images, optionally blurred",
                             description="Make a background set (for layered GANs) from any images: center-cropped, "
                                         "resized, optionally blurred.\n\n" + SRC_HELP)
    bg.add_argument("src", metavar="SRC")
    bg.add_argument("--out", required=True, help="data-set file to write")
    bg.add_argument("--size", type=int, default=64, help="output side in pixels, 8..256; training needs a power of two")
    bg.add_argument("--blur", type=float, default=0.0, help="Gaussian blur radius in output pixels (e.g. 2)")
    bg.add_argument("--crop-fraction", type=float, default=1.0, help="fraction of the short side kept")
    bg.add_argument("--workers", type=int, default=0, help="worker processes (0: one per CPU core)")
    bg.add_argument("--limit", type=int, default=None, help="use only the first N images")
    bg.set_defaults(func=run_background)

    co = data_sub.add_parser("composite", formatter_class=HelpFormatter, help="paste foregrounds onto backgrounds",
                             description="Paste the foregrounds of one data set onto the backgrounds of another: a "
                                         "combined set whose items record their foreground, background and box.")
    co.add_argument("foreground", metavar="FOREGROUND", help="foreground set (RGBA, or RGB on a flat colour)")
    co.add_argument("background", metavar="BACKGROUND", help="background set (RGB); its size is the output size")
    co.add_argument("--out", required=True, help="data-set file to write")
    co.add_argument("--count", type=int, default=None, help="images to make (default: the larger set's size)")
    co.add_argument("--scale", type=float, nargs=2, default=(0.6, 0.9), metavar=("LOW", "HIGH"),
                    help="foreground side as a fraction of the output side, drawn uniformly")
    co.add_argument("--seed", type=int, default=0, help="random seed of the choices")
    co.add_argument("--key-colour", default=None,
                    help="RGB foregrounds: the flat colour that is transparent (default: their background)")
    co.set_defaults(func=run_composite)

    fi = data_sub.add_parser(
        "filter", formatter_class=HelpFormatter, help="write a data set without the images dropped in review",
        description="Write the images of DATASET kept (or not decided) in a review ('ganforge serve --data DATASET', "
                    "page /review) to --out; OUT.report.json lists each dropped image.")
    fi.add_argument("dataset", help="the reviewed data set (.zip from 'ganforge data prepare')")
    fi.add_argument("--review", required=True, metavar="DB",
                    help="the review's SQLite file (serve's --review-db or --db)")
    fi.add_argument("--out", required=True, help="the cleaned data set")
    fi.set_defaults(func=run_filter)


def _add_image_options(p) -> None:
    p.add_argument("--size", type=int, default=None,
                   help="output side in pixels, 8..256; training needs a power of two "
                   "(default: the source's, else 64)")
    p.add_argument("--channels", type=int, choices=(1, 3, 4), default=None,
                   help="1 grey, 3 RGB, 4 RGBA (default: the source's, else 1 if every image is grey, else 3)")
    p.add_argument("--background", default="white",
                   help="colour behind transparency and padding: white, black, gray, #rrggbb or r,g,b")
    p.add_argument("--min-size", type=int, default=0, help="skip images whose short side is below this many pixels")
    p.add_argument("--workers", type=int, default=0, help="worker processes (0: one per CPU core)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N images (online sources fetch only N)")


def _add_source_options(p) -> None:
    g = p.add_argument_group("online sources")
    g.add_argument("--min-box-area", type=float, default=0.3,
                   help="openimages: the class's box must cover this fraction of the image")
    g.add_argument("--search-api", choices=("openverse", "commons"), default="openverse",
                   help="search: which image search")
    g.add_argument("--licence", default=None, help="search (Openverse): licences to allow, e.g. cc0,by,by-sa")
    g.add_argument("--download-workers", type=int, default=8, help="parallel downloads")
    g.add_argument("--timeout", type=float, default=20.0, help="seconds before a download attempt is abandoned")
    g.add_argument("--retries", type=int, default=3, help="attempts per download")


def run_prepare(args: argparse.Namespace) -> int:
    from ganforge.api import prepare_dataset

    report = prepare_dataset(
        args.src, args.out, size=args.size, channels=args.channels, crop=args.crop, crop_fraction=args.crop_fraction,
        background=args.background, labels=args.labels, min_size=args.min_size, workers=args.workers,
        limit=args.limit, face_margin=args.face_margin, faces=args.faces, blur=args.blur, dedup=args.dedup,
        near_threshold=args.near_threshold, augment=args.augment, augment_ops=args.augment_ops,
        domains=args.domains, as_domains=args.as_domains,
        # the online sources' own options
        min_box_area=args.min_box_area, search_api=args.search_api, licence=args.licence,
        download_workers=args.download_workers, timeout=args.timeout, retries=args.retries)
    _print_report(report, args.out)
    if "per_domain" in report:
        print("domains: " + ", ".join(f"{key} ({d['name']}) {d['count']}" for key, d in report["per_domain"].items()))
    return 0


def _print_report(report: dict, out: str) -> None:
    print(f"{report['seen']} files in, {report['written']} images written to {out}, {report['skipped_count']} skipped"
          + (f" ({_reasons(report)})" if report["skipped_count"] else ""))
    if report["used"] != report["written"]:
        variants = report.get("augmented_variants") or 0
        print(f"{report['used']} files used; {report['written'] - variants} crops"
              + (f" and {variants} augmented variants" if variants else ""))
    if report.get("per_class"):
        print("per class: " + ", ".join(f"{k} {v}" for k, v in report["per_class"].items()))
    for note in report.get("notes") or []:
        print(f"note: {note}")
    print(f"report: {report['report_path']}")


def _reasons(report: dict) -> str:
    return ", ".join(f"{n} {r}" for r, n in sorted(report["skipped_by_reason"].items(), key=lambda kv: -kv[1]))


def run_sources(args: argparse.Namespace) -> int:
    from ganforge.data.sources import list_sources

    rows = list_sources()
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print("Files: a folder (recursive), a .zip, a .tar[.gz|.bz2|.xz], or a text file of image URLs.")
    for r in rows:
        state = "ready" if r["available"] else f"unavailable: {r['note']}"
        if r["online"]:
            state = "needs the internet" + (f"; {r['note']}" if r["note"] else "")
        print(f"  {r['name']:<16} {r['summary']}\n  {'':<16} e.g. {r['example']}  [{state}]")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from ganforge.data.show import format_summary, show_dataset

    summary = show_dataset(args.dataset, args.out, n=args.n, seed=args.seed)
    print(json.dumps(summary, indent=1) if args.json else format_summary(args.dataset, summary))
    return 0


def run_foreground(args: argparse.Namespace) -> int:
    from ganforge.data.layers import make_foreground_set

    report = make_foreground_set(args.src, args.out, resolution=args.size, keep_alpha=not args.flat,
                                 background=args.background, workers=args.workers, limit=args.limit)
    _print_report(report, args.out)
    return 0


def run_background(args: argparse.Namespace) -> int:
    from ganforge.data.layers import make_background_set

    report = make_background_set(args.src, args.out, resolution=args.size, blur=args.blur,
                                 crop_fraction=args.crop_fraction, workers=args.workers, limit=args.limit)
    _print_report(report, args.out)
    return 0


def run_composite(args: argparse.Namespace) -> int:
    from ganforge.data.layers import composite_sets

    r = composite_sets(args.foreground, args.background, args.out, count=args.count, scale=tuple(args.scale),
                       seed=args.seed, key_colour=args.key_colour)
    print(f"{r['written']} composites of {r['foregrounds']} foregrounds and {r['backgrounds']} backgrounds "
          f"written to {r['output']} ({r['resolution']}x{r['resolution']})")
    return 0


def run_filter(args: argparse.Namespace) -> int:
    from ganforge.data.review import filter_dataset

    report = filter_dataset(args.dataset, args.review, args.out)
    print(f"{report['kept']} images kept, {report['dropped']} dropped by review, {report['undecided']} not decided "
          f"(kept) -> {args.out}; report: {Path(args.out).with_suffix('.report.json')}")
    return 0
