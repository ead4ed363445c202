"""The quality benchmark's results, gathered: one table per data set and budget, and the issues' targets checked.

``benchmarks/quality_per_time.py`` prints one JSON document per invocation. A 30-minute comparison
of seven set-ups on four data sets is 14 hours of a 2-core CPU, more than one sitting, so the
documents are kept (``benchmarks/results/quality/*.json``, one per data set, set-up and seed) and
this script reads any number of them:

    python benchmarks/quality_report.py benchmarks/results/quality/*.json            # markdown tables
    python benchmarks/quality_report.py benchmarks/results/quality/*.json --json     # the same as JSON

For each data set (by its SHA-256) and budget it prints one row per set-up: steps, generated images
per second, FID and KID on the domain extractor (the mean over seeds when a set-up was run with more
than one; the spread between seeds is the noise the targets are judged against), and FID over
training time when the run recorded a curve, and the copying check (``ganforge.metrics.copying``:
the median distance of a sample to its nearest training image over that image's distance to its own
nearest neighbour, beside the same for the training images themselves; a much smaller value means
the generator returns training images, which FID against them would reward). Results are only put
side by side when they share the extractor file (its identity), the budget and the device; a
``same_content`` document among the files (see ``load``) says which re-made files hold the same content.

A wall-clock budget buys fewer steps on a slowed machine (a shared host with busy neighbours), so each
result keeps the machine probe ``quality_per_time.py`` timed before and after it
(``benchmarks/machine_speed.py``). A set-up whose slower probe is more than ``SLOWED`` times the
fastest of its table is marked: it had less machine than the others, and a target it takes part in
says so. Each row also says the arithmetic its runs trained in (``runtime`` in newer results: bf16 on a
CPU with AMX, fp32 without; ``?`` where not recorded), and a target comparing set-ups that ran in
different arithmetic says that too: they did not have the same machine either.

Then the targets (issues 19 and 20), each ``holds``, ``fails`` or ``missing`` (a run it needs has
not been made yet), with the numbers it compared:

- on a small-data case (at most ``SMALL_DATA`` images): stylegan2's FID at most half of dcgan's, and
  stylegan2 with ADA better than without;
- on every case: the budget plan's (``auto``) FID the best, or within noise of the best; on a
  small-data case also at most half of dcgan's. The noise is the largest spread between runs of one
  set-up: repeated seeds, and the plan's run beside a run of the set-up it chose (two runs of one
  set-up, see ``same_setup_spreads``). Without either the noise is unknown and the
  plan must be the best outright.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

SMALL_DATA = 2000  # images: "the first 1,000 anime faces", Pokemon's 809
SLOWED = 1.2  # a probe this much slower than the table's fastest: the run had less machine than the others


def read(paths: list[Path]) -> tuple[list[tuple[Path, dict]], dict[str, dict[str, str]]]:
    """The quality_per_time.py documents among ``paths`` and the ``same_content`` mapping the others give
    (``{"data_sha256": {NEW: KEPT}, "features_identity": {NEW: KEPT}}``, see ``load``)."""
    docs, same = [], {"data_sha256": {}, "features_identity": {}}
    for path in paths:
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise SystemExit(f"quality_report: cannot read {path}: {e}") from None
        if doc.get("benchmark") == "same_content":
            for key, mapping in same.items():
                mapping.update(doc.get(key) or {})
        elif doc.get("benchmark") == "quality_per_time":
            docs.append((path, doc))
        else:
            raise SystemExit(f"quality_report: {path} is not a quality_per_time.py result")
    return docs, same


def load(paths: list[Path]) -> list[dict]:
    """Every result row of the documents, with its document's context (data, budget, extractor, device).

    A ``same_content`` document among them (``{"benchmark": "same_content", "why": ..., "data_sha256":
    {NEW: KEPT}, "features_identity": {NEW: KEPT}}``) says that files with different hashes hold the same
    content: data sets and extractors made again before ``data prepare`` and ``features fit`` wrote
    reproducible files. Rows under a NEW hash are tabled with those under its KEPT one."""
    return rows_of(*read(paths))


def rows_of(docs: list[tuple[Path, dict]], same: dict[str, dict[str, str]]) -> list[dict]:
    """``load``'s rows of documents already read (see ``read``)."""
    rows = []
    for path, doc in docs:
        features = doc.get("features") or {}
        data_sha = same["data_sha256"].get(doc["data_sha256"], doc["data_sha256"])
        identity = same["features_identity"].get(features.get("identity"), features.get("identity"))
        case = (data_sha, float(doc["minutes_per_family"]), identity, doc.get("device"))
        for r in doc["results"]:
            rows.append({**r, "case": case, "data": Path(doc["data"]).name, "count": doc["count"],
                         "extractor": features.get("name"), "metric": f"fid[{features.get('name')}]",
                         "threads": doc.get("torch_threads"), "source": path.name})
    return rows


def setup_key(row: dict) -> str:
    """What a row measured, as ``--families`` named it: ``auto`` for the plan's rows (whatever it chose),
    else the family, with ``+AUG`` when the run added an augmentation to its recipe (``stylegan2+ada``)."""
    return "auto" if row.get("plan") else row["family"]


def _fids_by_setup(runs: list[dict], metric: str) -> dict[str, list[float]]:
    """The runs' FIDs by the exact set-up they trained (the plan's runs by the set-up it chose)."""
    out: dict[str, list[float]] = defaultdict(list)
    for r in runs:
        if r.get(metric) is not None:
            out[r["setup"].removeprefix("auto: ")].append(r[metric])
    return dict(out)


def same_setup_spreads(case: dict) -> list[float]:
    """The spread between the plan's runs and the other runs of the set-up it chose: two runs of one set-up
    (the plan measures its candidates, then trains one of them), so their difference is run-to-run noise,
    as a repeated seed's is."""
    auto = case["setups"].get("auto")
    if not auto:
        return []
    spreads = []
    for setup, fids in auto["fids_by_setup"].items():
        others = [f for k, e in case["setups"].items() if k != "auto" for f in e["fids_by_setup"].get(setup, [])]
        if others:
            spreads.append(max(fids + others) - min(fids + others))
    return spreads


def _mean_or_none(runs: list[dict], key: str) -> float | None:
    """The mean of ``key`` over repeated seeds; None when a run lacks it (kept from before it was measured)."""
    values = [r.get(key) for r in runs]
    return statistics.mean(values) if values and None not in values else None


def _slowest_probe(runs: list[dict]) -> float | None:
    """The slowest machine probe (ms) around any of these runs; None when one was made without it."""
    probes = [r.get("machine_probe_ms") for r in runs]
    return None if any(not p for p in probes) else max(max(p) for p in probes)


def precision(runtime: str | None) -> str | None:
    """The arithmetic a run trained in, from its runtime ("cpu bfloat16 autocast, channels_last"): a CPU with
    AMX trains in bfloat16, one without in float32, at different speeds. None where it was not recorded."""
    if not runtime:
        return None
    return next((short for word, short in (("bfloat16", "bf16"), ("float16", "fp16")) if word in runtime), "fp32")


def mark_slowed(entries: dict[str, dict]) -> None:
    """Give each entry ``slowed``: how many times the table's fastest probe its own was, when over ``SLOWED``
    (else None). Among the entries with a probe: one kept from before probes existed cannot be placed."""
    probes = [e["probe_ms"] for e in entries.values() if e["probe_ms"] is not None]
    fastest = min(probes) if probes else None
    for e in entries.values():
        ratio = e["probe_ms"] / fastest if fastest and e["probe_ms"] is not None else None
        e["slowed"] = round(ratio, 2) if ratio is not None and ratio > SLOWED else None


def summarise(rows: list[dict]) -> list[dict]:
    """One entry per case: its set-ups, each with the mean FID/KID over seeds and the spread between them."""
    by_case: dict[tuple, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        by_case[r["case"]][setup_key(r)].append(r)
    cases = []
    for case, setups in by_case.items():
        first = next(iter(setups.values()))[0]
        metric, suffix = first["metric"], f"[{first['extractor']}]"  # kid -> kid[cifar64-cnn]
        entries = {}
        for key, runs in setups.items():
            fids = [r[metric] for r in runs if r.get(metric) is not None]
            entries[key] = {
                "setup": runs[0]["setup"], "seeds": sorted(r.get("seed", 0) for r in runs),
                "steps": round(statistics.mean(r["steps"] for r in runs)),
                "g_img_per_s": round(statistics.mean(r["g_img_per_s"] for r in runs), 1),
                "fid": statistics.mean(fids) if fids else None,
                "fid_spread": (max(fids) - min(fids)) if len(fids) > 1 else None,
                "fids_by_setup": _fids_by_setup(runs, metric),
                "kid": _mean_or_none(runs, "kid" + suffix),
                "copy_ratio": _mean_or_none(runs, "copy_ratio" + suffix),
                "copy_ratio_real": _mean_or_none(runs, "copy_ratio_real" + suffix),
                "curve": [(p["minutes"], p["fid"]) for p in runs[0].get("curve") or []],
                "probe_ms": _slowest_probe(runs),
                "precision": sorted({precision(r.get("runtime")) or "?" for r in runs}),
            }
        mark_slowed(entries)
        cases.append({"data": first["data"], "count": first["count"], "minutes": case[1], "device": case[3],
                      "threads": first["threads"], "metric": metric, "setups": entries})
    return sorted(cases, key=lambda c: (c["count"], c["data"], c["minutes"]))


def _fid(case: dict, key: str) -> float | None:
    entry = case["setups"].get(key)
    return entry["fid"] if entry else None


def _compare(name: str, case: dict, a: str, b: str, factor: float) -> dict:
    """Target: FID(a) <= factor * FID(b)."""
    fa, fb = _fid(case, a), _fid(case, b)
    verdict = "missing" if fa is None or fb is None else ("holds" if fa <= factor * fb else "fails")
    return {"target": name, "data": case["data"], "minutes": case["minutes"], "verdict": verdict,
            "values": {a: fa, b: fb}, "slowed": _slowed(case, (a, b)), "precisions": _precisions(case, (a, b))}


def _slowed(case: dict, keys) -> list[str]:
    """Which of these set-ups ran on a slowed machine (see ``mark_slowed``)."""
    return [k for k in keys if (case["setups"].get(k) or {}).get("slowed")]


def _precisions(case: dict, keys) -> dict[str, list[str]] | None:
    """The compared set-ups' arithmetic when the recorded ones differ (bf16 on one, fp32 on another: not the
    same machine), else None. An unrecorded one ("?") is not called different: it cannot be told."""
    found = {k: case["setups"][k]["precision"] for k in keys if k in case["setups"]}
    known = {p for ps in found.values() for p in ps if p != "?"}
    return found if len(known) > 1 else None


def targets(case: dict) -> list[dict]:
    """The issues' targets that apply to this case (see the module docstring)."""
    out = []
    small = case["count"] <= SMALL_DATA
    if small:
        out.append(_compare("stylegan2 FID <= 1/2 dcgan's (issue 19)", case, "stylegan2", "dcgan", 0.5))
        out.append(_compare("stylegan2 with ADA better than without (issue 19)", case, "stylegan2+ada", "stylegan2",
                            1.0))
        out.append(_compare("auto FID <= 1/2 dcgan's (issue 20)", case, "auto", "dcgan", 0.5))
    others = {k: e["fid"] for k, e in case["setups"].items() if k != "auto" and e["fid"] is not None}
    auto = case["setups"].get("auto")
    spreads = [e["fid_spread"] for e in case["setups"].values() if e["fid_spread"] is not None]
    spreads += same_setup_spreads(case)
    noise = max(spreads) if spreads else 0.0
    best = min(others.items(), key=lambda kv: kv[1]) if others else None
    if auto is None or auto["fid"] is None or best is None:
        verdict = "missing"
    else:
        verdict = "holds" if auto["fid"] <= best[1] + noise else "fails"
    out.append({"target": "auto FID the best or within noise of the best (issue 20)", "data": case["data"],
                "minutes": case["minutes"], "verdict": verdict,
                "values": {"auto": auto["fid"] if auto else None, "best": best, "noise": noise if spreads else None},
                "slowed": _slowed(case, ["auto", *([best[0]] if best else [])]),
                "precisions": _precisions(case, ["auto", *([best[0]] if best else [])])})
    return out


def markdown(cases: list[dict]) -> str:
    lines = []
    for c in cases:
        lines.append(f"**{c['data']}** ({c['count']:,} images), {c['minutes']:g} min per set-up on {c['device']} "
                     f"({c['threads']} threads), {c['metric']}:\n")
        lines.append("| set-up | steps | generated img/s | FID | KID | copy ratio (data's own) | FID over minutes "
                     "| machine probe, arithmetic |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for key, e in sorted(c["setups"].items(), key=lambda kv: (kv[1]["fid"] is None, kv[1]["fid"] or 0)):
            fid = "—" if e["fid"] is None else f"{e['fid']:.3g}" + (
                f" ± {e['fid_spread'] / 2:.2g} ({len(e['seeds'])} seeds)" if e["fid_spread"] is not None else "")
            kid = "—" if e["kid"] is None else f"{e['kid']:.3g}"
            copy = "—" if e["copy_ratio"] is None else f"{e['copy_ratio']:.2f} ({e['copy_ratio_real']:.2f})"
            curve = ", ".join(f"{m:.0f}: {f:.3g}" for m, f in e["curve"])
            name = e["setup"] if key == "auto" else f"{key} ({e['setup']})"
            machine = ("—" if e["probe_ms"] is None else f"{e['probe_ms']:,.0f} ms" + (
                f" (slowed {e['slowed']:g}×)" if e["slowed"] else "")) + f", {'/'.join(e['precision'])}"
            lines.append(f"| {name} | {e['steps']:,} | {e['g_img_per_s']:g} | {fid} | {kid} | {copy} | {curve} "
                         f"| {machine} |")
        lines.append("")
    lines.append("| target | data | verdict | values |")
    lines.append("|---|---|---|---|")
    for c in cases:
        for t in targets(c):
            values = ", ".join(f"{k} {v if not isinstance(v, float) else round(v, 3)}" for k, v in t["values"].items())
            verdict = t["verdict"] + (f" (on a slowed machine: {', '.join(t['slowed'])})" if t["slowed"] else "")
            if t.get("precisions"):
                verdict += " (in different arithmetic: " + ", ".join(
                    f"{k} {'/'.join(v)}" for k, v in t["precisions"].items()) + ")"
            lines.append(f"| {t['target']} | {t['data']}, {t['minutes']:g} min | {verdict} | {values} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", nargs="+", type=Path, help="quality_per_time.py JSON outputs")
    p.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    args = p.parse_args()
    cases = summarise(load(args.results))
    if args.json:
        print(json.dumps({"cases": cases, "targets": [t for c in cases for t in targets(c)]}, indent=2))
    else:
        print(markdown(cases))
    return 0


if __name__ == "__main__":
    sys.exit(main())
