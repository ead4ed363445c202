"""The benchmark scripts run and print the JSON figures their docstrings and the README promise."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run_benchmark(name: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, str(BENCHMARKS / name), *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_data_prepare_compares_prepare_with_bare_decoding():
    # 80 images: above the size at which prepare starts worker processes.
    out = run_benchmark("data_prepare.py", "--n", "80", "--repeat", "1", "--loader-seconds", "0.2", "--workers", "2")
    rates = ("bare_decode", "bare_decode_resize", "bare_draft_decode", "bare_draft_decode_resize")
    assert all(out[f"{r}_img_s"] > 0 for r in rates)
    assert out["prepare_img_s_1_worker"] > 0 and out["prepare_img_s_2_workers"] > 0 and out["loader_img_s_64"] > 0
    # The shares are the ratios of the rates printed beside them.
    assert out["prepare_vs_bare_draft_decode_resize_1_worker"] == pytest.approx(
        out["prepare_img_s_1_worker"] / out["bare_draft_decode_resize_img_s"], abs=0.02)


@pytest.mark.slow
def test_train_throughput_reports_steps_flops_and_the_ceiling():
    out = run_benchmark("train_throughput.py", "--seconds", "0.05", "--device", "cpu")
    by = {(c["resolution"], c["variant"]): c for c in out["configs"]}
    assert {(64, v) for v in ("plain", "channels_last", "fast", "bf16")} <= set(by)
    assert {(32, v) for v in ("plain", "channels_last", "fast")} <= set(by)
    # DCGAN-64, width 64, batch 64: the same FLOPs in every variant, 4x the 32 px model's less its smaller layers.
    flops64 = {c["step_gflop"] for (res, _), c in by.items() if res == 64}
    assert len(flops64) == 1 and 100 < flops64.pop() < 250
    assert all(c["achieved_gflops"] > 0 and c["step_ms"] > 0 for c in by.values())
    assert set(out["matmul_gflops"]) == {"fp32", "bf16", "fp16"}
    ceiling = max(out["matmul_gflops"].values()) / by[(64, "plain")]["achieved_gflops"]
    assert out["speedup_64_ceiling"] == pytest.approx(ceiling, abs=0.01)
    assert out["loading_images_per_s_64"] > 0
