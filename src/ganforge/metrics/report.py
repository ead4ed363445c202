"""``ganforge compare``: several runs side by side in report.md and a self-contained report.html.

The report holds a metric table (from each run's ``evaluation.json``, and the last and best
records of its ``metrics.jsonl``), loss curves and metric curves of all runs on shared axes,
and the runs' latest sample grids side by side. report.html embeds every image as a data
URI, so it can be mailed or attached as one file. When the runs were evaluated with
different data, extractors, protocols or sample counts, the report says their numbers are
not comparable instead of silently putting them in one table.
"""

from __future__ import annotations

import base64
import html
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ganforge.errors import GanforgeError
from ganforge.metrics.evaluate import evaluate_run, format_value
from ganforge.runs import RunDir, read_jsonl
from ganforge.utils import atomic_path, write_json_atomic

NON_METRIC_KEYS = {"step", "time", "n", "epoch"}


def _pyplot():
    # matplotlib takes about a second to import: only when a figure is drawn.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out: Path) -> None:
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    _pyplot().close(fig)


def _smooth(steps: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    window = max(1, len(vals) // 100)
    if window == 1:
        return steps, vals
    return steps[window - 1:], np.convolve(vals, np.ones(window) / window, mode="valid")


def metric_keys(records: list[dict]) -> list[str]:
    keys: list[str] = []
    for r in records:
        keys += [k for k, v in r.items() if k not in NON_METRIC_KEYS and isinstance(v, (int, float)) and k not in keys]
    return keys


def plot_metric_curves(series: dict[str, list[dict]], out: str | Path) -> bool:
    """One panel per metric key (mean ± std where a ``*_std`` key exists), one line per run;
    returns False (and writes nothing) when there is nothing to plot."""
    keys: list[str] = []
    for records in series.values():
        keys += [k for k in metric_keys(records) if k not in keys and not k.split("[")[0].endswith("_std")]
    if not keys:
        return False
    plt = _pyplot()
    cols = min(3, len(keys))
    rows = -(-len(keys) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        base, _, ext = key.partition("[")
        std_key = f"{base}_std[{ext}" if ext else f"{base}_std"
        for label, records in series.items():
            pts = [(r["step"], r[key], r.get(std_key)) for r in records if key in r]
            if not pts:
                continue
            steps, vals = np.array([p[0] for p in pts]), np.array([p[1] for p in pts], dtype=float)
            ax.plot(steps, vals, marker="o", markersize=3, label=label or None)
            if all(p[2] is not None for p in pts):
                std = np.array([p[2] for p in pts], dtype=float)
                ax.fill_between(steps, vals - std, vals + std, alpha=0.2)
        ax.set_title(key)
        ax.set_xlabel("step")
        if base.endswith("_p"):
            ax.set_yscale("log")  # p-values span hundreds of orders of magnitude
        if any(series):
            ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(keys):]:
        ax.set_visible(False)
    fig.tight_layout()
    _save(fig, Path(out))
    return True


def plot_loss_curves(series: dict[str, list[dict]], out: str | Path) -> bool:
    """D and G losses of every run (smoothed) on shared step and loss axes."""
    if not any(series.values()):
        return False
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharex=True, sharey=True)
    for ax, key in zip(axes, ("d_loss", "g_loss")):
        for label, records in series.items():
            pts = [(r["step"], r[key]) for r in records if isinstance(r.get(key), (int, float))]
            if pts:
                steps, vals = _smooth(np.array([p[0] for p in pts]), np.array([p[1] for p in pts], dtype=float))
                ax.plot(steps, vals, label=label)
        ax.set_title(key)
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, Path(out))
    return True


def _run_summary(path: Path) -> dict:
    run = RunDir(path)
    if not run.exists():
        raise GanforgeError(f"{path} is not a ganforge run directory (no config.json)")
    config = run.read_config()
    log = read_jsonl(run.log)
    metrics = read_jsonl(run.metrics)
    evaluation = None
    if run.evaluation.is_file():
        try:
            evaluation = json.loads(run.evaluation.read_text())
        except (OSError, json.JSONDecodeError):
            evaluation = None
    model, train, data = config.get("model", {}), config.get("train", {}), config.get("data", {})
    last = log[-1] if log else {}
    return {"path": str(path), "model": model, "train": train, "data": data, "log": log, "metrics": metrics,
            "evaluation": evaluation, "step": last.get("step", 0), "minutes": round(last.get("time", 0) / 60, 2),
            "samples": run.latest_samples if run.latest_samples.is_file() else None}


def _unique_names(paths: list[Path]) -> list[str]:
    names = [p.name or str(p) for p in paths]
    if len(set(names)) < len(names):
        names = [f"{p.parent.name}/{p.name}" for p in paths]
    return [n if names.count(n) == 1 else f"{n}#{i}" for i, n in enumerate(names)]


def _table(runs: dict[str, dict]) -> tuple[dict[str, dict], list[str]]:
    """Rows of the metric table per run, and notes on comparability."""
    table: dict[str, dict] = {}
    notes: list[str] = []
    protocols = {}
    for name, s in runs.items():
        row: dict = {"model": s["model"].get("family"), "loss": s["train"].get("loss"),
                     "resolution": s["model"].get("resolution"), "width": s["model"].get("width"),
                     "steps": s["step"], "train minutes": s["minutes"]}
        ev = s["evaluation"]
        if ev:
            row.update(ev.get("metrics", {}))
            feats = ev.get("features") or {}
            protocols[name] = (ev.get("data", {}).get("sha256"), feats.get("identity"), feats.get("protocol"),
                               ev.get("n"), ev.get("n_ref"), (ev.get("source") or {}).get("step"))
        if s["metrics"]:
            last = s["metrics"][-1]
            for k in metric_keys([last]):
                row[f"{k} @ step {last['step']} (training eval)"] = last[k]
        table[name] = row
    if len({p[:5] for p in protocols.values()}) > 1:
        notes.append("The runs' evaluation.json files were computed with different data sets, extractors, "
                     "protocols or sample counts: their metrics are NOT comparable. Re-run "
                     "'ganforge compare ... --metrics fid,kid' to evaluate all runs the same way.")
    for name, p in protocols.items():
        if p[5] is not None and p[5] != runs[name]["step"]:
            notes.append(f"{name}: evaluation.json is from step {p[5]}, the run is at step {runs[name]['step']}.")
    missing = [n for n, s in runs.items() if not s["evaluation"]]
    if missing:
        notes.append(f"No evaluation.json for {', '.join(missing)} (run 'ganforge evaluate RUN' or add --metrics).")
    return table, notes


def _cell(v) -> str:
    if isinstance(v, bool) or isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return format_value(v)
    return "-" if v is None else str(v)


def _md_table(table: dict[str, dict]) -> str:
    keys: list[str] = []
    for row in table.values():
        keys += [k for k in row if k not in keys]
    names = list(table)
    lines = ["| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for k in keys:
        cells = [_cell(table[n].get(k)) for n in names]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def compare_runs(runs: Sequence[str | Path], out_dir: str | Path, *, evaluate: dict | None = None,
                 log=None) -> tuple[Path, Path]:
    """Write OUT/report.md (+ the PNGs it links) and a self-contained OUT/report.html.

    ``evaluate``: keyword arguments for ``evaluate_run`` (e.g. {"metrics": "fid,kid", "features":
    "inception", "n": 10000}); when given, every run is evaluated the same way first.
    """
    paths = [Path(r) for r in runs]
    if len(paths) < 1:
        raise GanforgeError("give at least one run directory")
    names = _unique_names(paths)
    if evaluate is not None:
        for p in paths:
            evaluate_run(p, log=log, **evaluate)
    summaries = {n: _run_summary(p) for n, p in zip(names, paths)}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table, notes = _table(summaries)
    images: list[tuple[str, Path]] = []
    if plot_loss_curves({n: s["log"] for n, s in summaries.items()}, out / "losses.png"):
        images.append(("Losses (smoothed; shared axes). Losses are training diagnostics, not quality measures.",
                       out / "losses.png"))
    if plot_metric_curves({n: s["metrics"] for n, s in summaries.items()}, out / "metric-curves.png"):
        images.append(("Metrics recorded during training (metrics.jsonl)", out / "metric-curves.png"))
    samples: list[tuple[str, Path]] = []
    for i, (n, s) in enumerate(summaries.items()):
        if s["samples"]:
            dest = out / f"samples-{i}.png"
            shutil.copyfile(s["samples"], dest)
            samples.append((n, dest))
    write_json_atomic(out / "comparison.json", {"runs": {n: s["path"] for n, s in summaries.items()},
                                                "table": table, "notes": notes})

    md = ["# Run comparison", ""]
    md += [f"- **{n}**: `{s['path']}` — data `{s['data'].get('path')}` (sha256 {str(s['data'].get('sha256'))[:12]})"
           for n, s in summaries.items()]
    md += ["", "## Metrics", "", _md_table(table), ""]
    md += [f"> {note}" for note in notes] + ([""] if notes else [])
    md += ["Keys name what they measure: `fid[inception]` is standard FID; `fid[NAME-cnn]` uses a domain "
           "classifier's features (comparable only with the same extractor); `c2st_acc[pixels]` is a two-sample "
           "test (50% = indistinguishable); `d_acc[diagnostic]` is a training diagnostic.", ""]
    for caption, img in images:
        md += [f"## {caption}", "", f"![{caption}]({img.name})", ""]
    if samples:
        md += ["## Samples (latest grid of each run)", "", "| " + " | ".join(n for n, _ in samples) + " |",
               "|---" * len(samples) + "|", "| " + " | ".join(f"![{n}]({p.name})" for n, p in samples) + " |", ""]
    md_path = out / "report.md"
    with atomic_path(md_path) as tmp:
        tmp.write_text("\n".join(md))

    esc = html.escape
    rows_html = []
    keys: list[str] = []
    for row in table.values():
        keys += [k for k in row if k not in keys]
    for k in keys:
        cells = "".join(f"<td>{esc(_cell(table[n].get(k)))}</td>" for n in table)
        rows_html.append(f"<tr><th>{esc(k)}</th>{cells}</tr>")
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>ganforge run comparison</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "th{text-align:left}.samples{display:flex;gap:1em;flex-wrap:wrap}.samples figure{margin:0}"
        "img{max-width:100%;image-rendering:pixelated}.note{background:#fff3cd;padding:.5em}</style></head><body>",
        "<h1>Run comparison</h1><ul>",
        *[f"<li><b>{esc(n)}</b>: <code>{esc(s['path'])}</code>, data "
          f"<code>{esc(str(s['data'].get('path')))}</code></li>"
          for n, s in summaries.items()],
        "</ul><h2>Metrics</h2><table><tr><th></th>" + "".join(f"<th>{esc(n)}</th>" for n in table) + "</tr>",
        *rows_html, "</table>",
        *[f"<p class='note'>{esc(note)}</p>" for note in notes],
    ]
    for caption, img in images:
        parts.append(f"<h2>{esc(caption)}</h2><img alt='{esc(caption)}' src='{_data_uri(img)}'>")
    if samples:
        parts.append("<h2>Samples</h2><div class='samples'>")
        parts += [f"<figure><img alt='{esc(n)}' src='{_data_uri(p)}'><figcaption>{esc(n)}</figcaption></figure>"
                  for n, p in samples]
        parts.append("</div>")
    parts.append("</body></html>")
    html_path = out / "report.html"
    with atomic_path(html_path) as tmp:
        tmp.write_text("\n".join(parts))
    return md_path, html_path
