"""benchmarks/quality_report.py: results kept from several quality_per_time.py runs, tabled and judged."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "quality_report.py"


@pytest.fixture(scope="module")
def report():
    spec = importlib.util.spec_from_file_location("quality_report", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def document(tmp_path, name, rows, *, count=1000, minutes=30, sha="abc", identity="cnn-1", copy=None, probe=None,
             runtime=None):
    """A quality_per_time.py output with these (family, augment, plan, seed, fid) rows; ``copy``: the copying
    check's (copy_ratio, copy_ratio_real) on every row (kept results from before it was measured have none);
    ``probe``: the machine probe's (before, after) milliseconds on every row (none on older results)."""
    results = [{"family": f, "augment": aug, "plan": plan, "seed": seed,
                "setup": ("auto: " if plan else "") + f"{f}-w8-b16" + (f"-{aug}" if aug else ""),
                "steps": 100, "g_img_per_s": 10.0, "fid[x-cnn]": fid, "kid[x-cnn]": fid / 100,
                "curve": [{"minutes": 10, "fid": 2 * fid}, {"minutes": 30, "fid": fid}]}
               for f, aug, plan, seed, fid in rows]
    if copy:
        for r in results:
            r["copy_ratio[x-cnn]"], r["copy_ratio_real[x-cnn]"] = copy
    if probe:
        for r in results:
            r["machine_probe_ms"] = list(probe)
    if runtime:
        for r in results:
            r["runtime"] = runtime
    doc = {"benchmark": "quality_per_time", "data": f"/somewhere/{name}.zip", "data_sha256": sha, "count": count,
           "minutes_per_family": minutes, "seed": 0, "device": "cpu", "torch_threads": 2,
           "features": {"name": "x-cnn", "identity": identity}, "results": results}
    path = tmp_path / f"{name}-{len(list(tmp_path.iterdir()))}.json"
    path.write_text(json.dumps(doc))
    return path


def verdicts(report, paths):
    cases = report.summarise(report.load(paths))
    return {(t["target"].split(" (")[0], t["data"]): t for c in cases for t in report.targets(c)}


def test_targets_hold_fail_or_are_missing_from_the_kept_results(report, tmp_path):
    paths = [document(tmp_path, "anime-1k", [("dcgan", "", False, 0, 100.0)]),
             document(tmp_path, "anime-1k", [("stylegan2", "", False, 0, 45.0)]),
             document(tmp_path, "anime-1k", [("stylegan2+ada", "ada", False, 0, 60.0)])]
    v = verdicts(report, paths)
    assert v[("stylegan2 FID <= 1/2 dcgan's", "anime-1k.zip")]["verdict"] == "holds"
    assert v[("stylegan2 with ADA better than without", "anime-1k.zip")]["verdict"] == "fails"
    assert v[("auto FID <= 1/2 dcgan's", "anime-1k.zip")]["verdict"] == "missing"  # no auto run yet


def test_repeat_seeds_are_averaged_and_their_spread_is_the_noise(report, tmp_path):
    paths = [document(tmp_path, "pokemon", [("fastgan", "color", False, 0, 40.0), ("fastgan", "", False, 1, 50.0)]),
             document(tmp_path, "pokemon", [("fastgan", "", True, 0, 56.0)])]
    cases = report.summarise(report.load(paths))
    assert cases[0]["setups"]["fastgan"]["fid"] == 45.0 and cases[0]["setups"]["fastgan"]["fid_spread"] == 10.0
    v = verdicts(report, paths)
    assert v[("auto FID the best or within noise of the best", "pokemon.zip")]["verdict"] == "fails"  # 56 > 45 + 10
    paths.append(document(tmp_path, "pokemon", [("fastgan", "", True, 1, 48.0)]))  # auto's mean 52 <= 55
    assert verdicts(report, paths)[("auto FID the best or within noise of the best", "pokemon.zip")]["verdict"] \
        == "holds"


def test_the_plans_run_beside_a_run_of_the_set_up_it_chose_measures_the_noise(report, tmp_path):
    """One seed of everything, but the plan chose FastGAN's set-up and FastGAN also ran alone: the two runs of
    one set-up ended 0.7 apart, which is noise; a plan that chose a set-up nobody else ran has no such measure."""
    paths = [document(tmp_path, "anime-15k", [("fastgan", "color", False, 0, 5.8), ("dcgan", "", False, 0, 32.0)],
                      count=15000),
             document(tmp_path, "anime-15k", [("fastgan", "color", True, 0, 6.5)], count=15000)]
    found = verdicts(report, paths)[("auto FID the best or within noise of the best", "anime-15k.zip")]
    assert found["verdict"] == "holds" and found["values"]["noise"] == pytest.approx(0.7)
    paths[1] = document(tmp_path, "anime-15k", [("fastgan", "", True, 0, 6.5)], count=15000)  # another set-up
    found = verdicts(report, paths)[("auto FID the best or within noise of the best", "anime-15k.zip")]
    assert found["verdict"] == "fails" and found["values"]["noise"] is None


def test_results_of_other_extractors_or_budgets_are_not_compared(report, tmp_path):
    paths = [document(tmp_path, "anime-1k", [("dcgan", "", False, 0, 100.0)]),
             document(tmp_path, "anime-1k", [("stylegan2", "", False, 0, 10.0)], identity="another-cnn"),
             document(tmp_path, "anime-1k", [("stylegan2", "", False, 0, 10.0)], minutes=10)]
    cases = report.summarise(report.load(paths))
    assert len(cases) == 3 and all(len(c["setups"]) == 1 for c in cases)
    table = report.markdown(cases)
    assert "| dcgan (dcgan-w8-b16) | 100 | 10 | 100 | 1 | — | 10: 200, 30: 100 | —, ? |" in table


def test_the_copying_check_is_tabled_beside_the_datas_own_value(report, tmp_path):
    paths = [document(tmp_path, "anime-1k", [("fastgan", "", False, 0, 3.0), ("fastgan", "", False, 1, 5.0)],
                      copy=(0.05, 0.9)),
             document(tmp_path, "anime-1k", [("dcgan", "", False, 0, 30.0)])]  # kept from before the check
    table = report.markdown(report.summarise(report.load(paths)))
    assert "| fastgan (fastgan-w8-b16) | 100 | 10 | 4 ± 1 (2 seeds) | 0.04 | 0.05 (0.90) |" in table
    assert "| dcgan (dcgan-w8-b16) | 100 | 10 | 30 | 0.3 | — |" in table


def test_a_result_measured_on_a_slowed_machine_is_marked_and_so_are_its_targets(report, tmp_path):
    """A shared host slowed 1.6x for one run (its probe after the run): that run's row and every target it
    takes part in say so; runs on the same machine speed, and one kept from before probes, do not."""
    paths = [document(tmp_path, "pokemon", [("dcgan", "", False, 0, 23.0)], count=809, probe=(410.0, 650.0)),
             document(tmp_path, "pokemon", [("fastgan", "", False, 0, 2.6)], count=809, probe=(400.0, 420.0)),
             document(tmp_path, "pokemon", [("stylegan2", "", False, 0, 9.0)], count=809),  # before probes
             document(tmp_path, "pokemon", [("fastgan", "", True, 0, 2.5)], count=809, probe=(405.0, 430.0))]
    case = report.summarise(report.load(paths))[0]
    assert case["setups"]["dcgan"]["slowed"] == pytest.approx(650 / 420, abs=0.01)
    assert [case["setups"][k]["slowed"] for k in ("fastgan", "stylegan2", "auto")] == [None, None, None]
    v = verdicts(report, paths)
    assert v[("auto FID <= 1/2 dcgan's", "pokemon.zip")]["slowed"] == ["dcgan"]
    assert v[("auto FID the best or within noise of the best", "pokemon.zip")]["slowed"] == []
    table = report.markdown([case])
    assert "| 650 ms (slowed 1.55×), ? |" in table and "| 420 ms, ? |" in table
    assert "| holds (on a slowed machine: dcgan) |" in table


def test_a_file_that_is_not_a_result_is_refused_in_one_line(report, tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    with pytest.raises(SystemExit, match="not a quality_per_time.py result"):
        report.load([bad])


def test_a_same_content_document_joins_results_whose_hashes_differ_only_by_how_the_files_were_written(
        report, tmp_path):
    """Data sets and extractors made again (say, on a fresh machine) before their files were reproducible
    hash differently; a kept ``same_content`` document, with its evidence, puts their results in one table."""
    paths = [document(tmp_path, "anime-1k", [("dcgan", "", False, 0, 100.0)], sha="old-zip", identity="cnn:old"),
             document(tmp_path, "anime-1k", [("stylegan2", "", False, 0, 45.0)], sha="new-zip", identity="cnn:new")]
    assert len(report.summarise(report.load(paths))) == 2
    same = tmp_path / "same.json"
    same.write_text(json.dumps({"benchmark": "same_content", "why": "copy_ratio_real equal on every data set",
                                "data_sha256": {"new-zip": "old-zip"}, "features_identity": {"cnn:new": "cnn:old"}}))
    cases = report.summarise(report.load([*paths, same]))
    assert len(cases) == 1 and set(cases[0]["setups"]) == {"dcgan", "stylegan2"}
    assert verdicts(report, [*paths, same])[("stylegan2 FID <= 1/2 dcgan's", "anime-1k.zip")]["verdict"] == "holds"
    same.write_text(json.dumps({"benchmark": "same_content", "why": "only the data",
                                "data_sha256": {"new-zip": "old-zip"}}))
    assert len(report.summarise(report.load([*paths, same]))) == 2  # another extractor still is another judge


def test_the_arithmetic_of_each_run_is_tabled_and_a_target_across_two_kinds_says_so(report, tmp_path):
    """A CPU with AMX trains in bfloat16, one without in float32, at other speeds: a 30-minute comparison across
    the two is across machines. Results from before the runtime was recorded show "?" and are not called different."""
    paths = [document(tmp_path, "anime-1k", [("dcgan", "", False, 0, 100.0)], runtime="cpu float32, channels_last"),
             document(tmp_path, "anime-1k", [("stylegan2", "", False, 0, 45.0)],
                      runtime="cpu bfloat16 autocast, channels_last"),
             document(tmp_path, "anime-1k", [("stylegan2+ada", "ada", False, 0, 40.0)])]
    case = report.summarise(report.load(paths))[0]
    assert {k: e["precision"] for k, e in case["setups"].items()} == {
        "dcgan": ["fp32"], "stylegan2": ["bf16"], "stylegan2+ada": ["?"]}
    found = verdicts(report, paths)
    assert found[("stylegan2 FID <= 1/2 dcgan's", "anime-1k.zip")]["precisions"] == {
        "stylegan2": ["bf16"], "dcgan": ["fp32"]}
    assert found[("stylegan2 with ADA better than without", "anime-1k.zip")]["precisions"] is None
    text = report.markdown([case])
    assert "holds (in different arithmetic: stylegan2 bf16, dcgan fp32)" in text
    assert "| stylegan2+ada (stylegan2+ada-w8-b16-ada) |" in text and text.count(", ? |") == 1
