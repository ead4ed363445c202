"""``ganforge export``: a run's generator as safetensors, ONNX or TorchScript, with a JSON description."""

from __future__ import annotations

import argparse

from ganforge.commands import add_command


def register(sub) -> None:
    p = add_command(sub, "export", run, help="export a generator as safetensors, ONNX or TorchScript",
                    description="Write a run's generator into folder --out without pickles: the model file and "
                                "ganforge-export.json (model config, inputs, outputs). 'ganforge generate OUT' "
                                "loads any of the three; ONNX and TorchScript are checked against PyTorch after "
                                "writing. A translator (cyclegan, dtn) gets one ONNX/TorchScript file per direction, "
                                "images to images; 'ganforge translate OUT' takes it.")
    p.add_argument("run", metavar="RUN", help="run directory or checkpoint file")
    p.add_argument("--format", dest="fmt", choices=["safetensors", "onnx", "torchscript"], default="safetensors",
                   help="model file format")
    p.add_argument("--out", required=True, help="folder to write the export into (created)")
    p.add_argument("--no-ema", action="store_true", help="export the raw generator weights even if EMA weights exist")


def run(args: argparse.Namespace) -> int:
    from ganforge.api import export_generator

    result = export_generator(args.run, args.fmt, args.out, ema=not args.no_ema)
    print(f"wrote {result.path} and {result.config_path.name}")
    if result.max_abs_error is not None:
        print(f"checked against PyTorch: max |difference| {result.max_abs_error:.2e} on images in [-1, 1]")
    return 0
