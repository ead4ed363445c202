"""Load on the real web server (``ganforge serve`` under waitress on 127.0.0.1); prints JSON.

1. Grid generation at 64×64 (``/api/runs/RUN/grid.png?n=16``, a new seed per request) with
   1, 8 and 32 concurrent clients: requests/s and p50/p99 latency.
2. Heavy against light: the same grid requests from 4 clients while clients keep submitting
   projection jobs (``/api/runs/RUN/embed``). The jobs run in the bounded pool, extra ones
   are answered 503 at once; the light requests' latency is compared with (1).
3. Uploads against light: the same grid requests while ``--upload-clients`` clients keep
   uploading small PNG files of ``--upload-side``² pixels (``/api/runs/RUN/photo.png``). They
   are decoded in the bounded upload pool, extra ones answered 503 at once; the server's peak
   memory (VmHWM) is reported before and after.

    python benchmarks/web_load.py [--run RUN_DIR] [--seconds 10] [--threads 8]

Without ``--run`` a DCGAN at 64 px (width 64: the paper's 512-256-128-64 generator) is
trained for 2 steps on random images: the weights do not change the cost of a request.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np


def make_run(root: Path) -> Path:
    from PIL import Image

    from ganforge.config import ModelConfig, TrainConfig
    from ganforge.data.prepare import PrepareOptions, prepare
    from ganforge.train import train

    src = root / "images"
    src.mkdir()
    rng = np.random.default_rng(0)
    for i in range(64):
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(src / f"{i}.png")
    data = root / "data64.zip"
    prepare(str(src), data, PrepareOptions(resolution=64, channels=3, workers=1), progress=False)
    run = root / "runs" / "bench64"
    train(TrainConfig(data=str(data), out=str(run), steps=2, batch_size=16, n_samples=16), ModelConfig(family="dcgan"),
          out=io.StringIO())
    return run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, float]:
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=120) as r:
            r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    return status, time.perf_counter() - t0


def post_image(url: str, csrf: str, photo: bytes, **fields) -> int:
    """POST ``photo`` as the multipart field ``image`` (plus ``fields``); the reply's status."""
    boundary = "ganforgebench"
    body = "".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                   for k, v in fields.items())
    body = (body + f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"p.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + photo + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}", "X-CSRF-Token": csrf})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def peak_rss_mb(pid: int) -> float | None:
    """A process's peak resident memory (VmHWM) in MB; None where /proc is missing."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def while_running(worker, clients: int, measure):
    """Run ``worker(stop)`` in ``clients`` threads while ``measure()`` runs; returns its result."""
    stop = threading.Event()
    threads = [threading.Thread(target=worker, args=(stop,)) for _ in range(clients)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    try:
        return measure()
    finally:
        stop.set()
        for t in threads:
            t.join()


def grid_load(base: str, run: str, clients: int, seconds: float, n: int) -> dict:
    latencies: list[float] = []
    errors = [0]
    stop = time.perf_counter() + seconds
    lock = threading.Lock()

    def client(k: int) -> None:
        i = 0
        while time.perf_counter() < stop:
            status, dt = get(f"{base}/api/runs/{run}/grid.png?n={n}&seed={k * 100000 + i}")
            with lock:
                latencies.append(dt) if status == 200 else errors.__setitem__(0, errors[0] + 1)
            i += 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat = np.array(latencies) * 1000
    return {"clients": clients, "requests": len(lat), "errors": errors[0], "req_per_s": round(len(lat) / wall, 2),
            "p50_ms": round(float(np.percentile(lat, 50)), 1) if len(lat) else None,
            "p99_ms": round(float(np.percentile(lat, 99)), 1) if len(lat) else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", help="a run directory with a 64 px generator (default: make one)")
    ap.add_argument("--seconds", type=float, default=10.0, help="duration of each measurement")
    ap.add_argument("--threads", type=int, default=8, help="waitress request threads")
    ap.add_argument("--n", type=int, default=16, help="images per grid")
    ap.add_argument("--steps", type=int, default=300, help="steps of each projection job")
    ap.add_argument("--upload-clients", type=int, default=8, help="clients uploading photos at once")
    ap.add_argument("--upload-side", type=int, default=4000,
                    help="side of the uploaded PNGs in pixels (4000: 16 megapixels, the server's default limit)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="ganforge-web-load-"))
    try:
        run = Path(args.run) if args.run else make_run(tmp)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([sys.executable, "-m", "ganforge", "serve", str(run), "--port", str(port),
                                   "--threads", str(args.threads), "--db", str(tmp / "game.sqlite"),
                                   "--job-workers", "1", "--job-queue", "2"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 60
            while True:
                try:
                    get(f"{base}/api/runs")
                    break
                except OSError:
                    if time.time() > deadline:
                        raise SystemExit("server did not start") from None
                    time.sleep(0.3)
            name = run.name
            get(f"{base}/api/runs/{name}/grid.png?n={args.n}")  # load the generator once
            import os

            report = {"server": {"threads": args.threads, "job_workers": 1, "job_queue": 2},
                      "cpu_count": os.cpu_count(), "grid_images": args.n, "resolution": 64, "grid": []}
            for clients in (1, 8, 32):
                report["grid"].append(grid_load(base, name, clients, args.seconds, args.n))

            # Heavy requests: keep the job pool saturated with projections while light requests run.
            with urllib.request.urlopen(f"{base}/api/csrf") as r:
                csrf = json.loads(r.read())["csrf"]
            buf = io.BytesIO()
            from PIL import Image

            Image.new("RGB", (64, 64), (120, 80, 200)).save(buf, format="PNG")
            codes: list[int] = []

            def heavy(stop: threading.Event) -> None:
                while not stop.is_set():
                    codes.append(post_image(f"{base}/api/runs/{name}/embed", csrf, buf.getvalue(), steps=args.steps))
                    time.sleep(0.2)

            light = while_running(heavy, 4, lambda: grid_load(base, name, 4, args.seconds, args.n))
            baseline = grid_load(base, name, 4, args.seconds, args.n)
            report["heavy_vs_light"] = {
                "light_with_projection_running": light, "light_alone": baseline,
                "projection_submissions": len(codes), "accepted_202": codes.count(202), "refused_503": codes.count(503),
            }

            # Uploads: small files, many pixels.
            big = io.BytesIO()
            Image.new("RGB", (args.upload_side, args.upload_side), (200, 120, 40)).save(big, format="PNG")
            uploads: list[int] = []

            def uploader(stop: threading.Event) -> None:
                while not stop.is_set():
                    uploads.append(post_image(f"{base}/api/runs/{name}/photo.png", csrf, big.getvalue()))

            rss_before = peak_rss_mb(server.pid)
            light = while_running(uploader, args.upload_clients, lambda: grid_load(base, name, 4, args.seconds, args.n))
            report["uploads_vs_light"] = {
                "upload_clients": args.upload_clients, "upload_pixels": args.upload_side ** 2,
                "upload_file_kb": round(len(big.getvalue()) / 1024, 1), "light_with_uploads": light,
                "light_alone": baseline, "uploads": len(uploads), "answered_200": uploads.count(200),
                "refused_503": uploads.count(503), "refused_400": uploads.count(400),
                "server_peak_rss_mb_before": rss_before, "server_peak_rss_mb_after": peak_rss_mb(server.pid),
            }
            print(json.dumps(report, indent=1))
        finally:
            server.terminate()
            server.wait(timeout=10)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
