"""Bounded worker pools: long jobs (projection, inpainting, videos) with time limits, and the
decoding of uploads.

Part of the shared layer: blueprints queue work with ``submit``; the ``jobs`` blueprint
answers status, result and cancel requests about it.

``JobPool(workers, max_queue, time_limit)`` runs at most ``workers`` jobs at once and holds
at most ``max_queue`` more; a submission beyond that gets ``QueueFull`` (the endpoint
answers 503 with Retry-After) instead of piling up unbounded work. The request threads
stay free for light requests (grids, edits) while jobs run.

A job function receives its ``Job`` and reports progress through ``job.report(step,
total, loss)``; that call also enforces the time limit and cancellation by raising
``JobStopped`` inside the job (Python cannot kill a thread, so the stop is cooperative and
happens at the next progress report). A job returns ``(data, file)``: JSON-able ``data``
and optionally ``file = (bytes, mimetype, filename)``, fetched at ``/api/jobs/<id>/result``.
Job ids are unguessable; finished jobs are forgotten after ``keep`` newer ones.

``UploadPool(workers, max_queue)`` decodes and resizes uploaded images: a 65 KB PNG can hold
16 megapixels, and eight of them decoded at once on the request threads once took the server
from 286 MB to 1.7 GB and light requests from 10 ms to 1.4 s. The request thread waits for
its upload's small result, so only ``workers + max_queue`` request threads can wait at all;
more uploads get ``QueueFull`` at once.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from flask import Flask, current_app, jsonify
from werkzeug.exceptions import ServiceUnavailable

from ganforge.errors import GanforgeError
from ganforge.web.security import hide_paths


class QueueFull(ServiceUnavailable):
    def __init__(self, busy: int, what: str = "jobs running or queued", retry_after: int = 5):
        super().__init__(description=f"busy: {busy} {what}; try again in a moment")
        self.retry_after = retry_after

    def get_headers(self, environ=None, scope=None):
        return [*super().get_headers(environ, scope), ("Retry-After", str(self.retry_after))]


class JobStopped(Exception):
    """Raised inside a job by ``report`` when it ran out of time or was cancelled."""


class Job:
    def __init__(self, kind: str, time_limit: float):
        self.id = secrets.token_urlsafe(12)
        self.kind = kind
        self.time_limit = time_limit
        self.status = "queued"  # queued | running | done | failed | timeout | cancelled
        self.progress: dict[str, float | None] = {"step": 0, "total": 0, "loss": None}
        self.created = time.time()
        self.started: float | None = None
        self.finished: float | None = None
        self.data: dict | None = None
        self.file: tuple[bytes, str, str] | None = None
        self.error: str | None = None
        self.cancel_requested = False

    def report(self, step: int, total: int, loss: float | None = None) -> None:
        """Progress callback: record it, and stop the job if its time is up or it was cancelled."""
        self.progress = {"step": int(step), "total": int(total), "loss": None if loss is None else float(loss)}
        if self.cancel_requested:
            raise JobStopped("cancelled")
        if self.started and time.time() - self.started > self.time_limit:
            raise JobStopped("timeout")

    def to_dict(self) -> dict:
        now = time.time()
        return {
            "id": self.id, "kind": self.kind, "status": self.status, "progress": self.progress,
            "error": self.error, "data": self.data,
            "result_url": f"/api/jobs/{self.id}/result" if self.file else None,
            "queued_s": round((self.started or now) - self.created, 3),
            "running_s": round((self.finished or now) - self.started, 3) if self.started else 0.0,
            "time_limit_s": self.time_limit,
        }


class JobPool:
    def __init__(self, workers: int = 1, max_queue: int = 4, time_limit: float = 300.0, keep: int = 64):
        self.workers, self.max_queue, self.time_limit, self.keep = workers, max_queue, time_limit, keep
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ganforge-job")
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def active(self) -> int:
        return sum(j.status in ("queued", "running") for j in self._jobs.values())

    def submit(self, kind: str, fn: Callable[[Job], tuple[dict, tuple | None]]) -> Job:
        with self._lock:
            busy = self.active()
            if busy >= self.workers + self.max_queue:
                raise QueueFull(busy)
            job = Job(kind, self.time_limit)
            self._jobs[job.id] = job
            finished = [k for k, j in self._jobs.items() if j.status not in ("queued", "running")]
            for k in finished[: max(0, len(self._jobs) - self.keep)]:
                del self._jobs[k]
        self._executor.submit(self._run, job, fn)
        return job

    def _run(self, job: Job, fn) -> None:
        if job.cancel_requested:
            job.status, job.finished = "cancelled", time.time()
            return
        job.status, job.started = "running", time.time()
        try:
            job.data, job.file = fn(job)
            job.status = "done"
        except JobStopped as e:
            job.status = str(e)
            job.error = (f"stopped after the time limit of {job.time_limit:.0f} s" if job.status == "timeout"
                         else "cancelled")
        except GanforgeError as e:
            job.status, job.error = "failed", hide_paths(str(e))
        except Exception as e:  # a bug: log it, show a one-line message
            logging.getLogger("ganforge.web").exception("job %s failed", job.kind)
            job.status, job.error = "failed", f"internal error: {type(e).__name__}"
        finally:
            job.finished = time.time()

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def shutdown(self) -> None:
        for job in list(self._jobs.values()):
            job.cancel_requested = True
        self._executor.shutdown(wait=False, cancel_futures=True)


class UploadPool:
    def __init__(self, workers: int = 1, max_queue: int = 2):
        self.workers, self.max_queue = workers, max_queue
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ganforge-upload")
        self._slots = threading.BoundedSemaphore(workers + max_queue)

    def run(self, fn: Callable, *args):
        """``fn(*args)`` in a pool thread; the caller waits for its result (or its exception)."""
        if not self._slots.acquire(blocking=False):
            raise QueueFull(self.workers + self.max_queue, "uploads being decoded or waiting", retry_after=1)
        try:
            return self._executor.submit(fn, *args).result()
        finally:
            self._slots.release()


def init_app(app: Flask) -> None:
    app.extensions["ganforge.jobs"] = JobPool(app.config["JOB_WORKERS"], app.config["JOB_QUEUE"],
                                              app.config["JOB_TIME_LIMIT"])
    app.extensions["ganforge.uploads"] = UploadPool(app.config["UPLOAD_WORKERS"], app.config["UPLOAD_QUEUE"])


def pool() -> JobPool:
    return current_app.extensions["ganforge.jobs"]


def submit(kind: str, fn) -> tuple:
    """Queue ``fn(job)`` and answer 202 with the job's status (or 503 when the pool is full).

    ``fn`` runs in a worker thread inside an app context (no request context: read the
    request before submitting)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # werkzeug's LocalProxy, typed as Flask

    def in_app(job: Job):
        with app.app_context():
            return fn(job)

    job = pool().submit(kind, in_app)
    return jsonify(job.to_dict()), 202
