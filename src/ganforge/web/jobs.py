"""Jobs: the status, result and cancellation of long jobs queued in the worker pool (``pool.py``)."""

from __future__ import annotations

import io

from flask import Blueprint, abort, jsonify, request, send_file

from ganforge.web.openapi import JOB, api, integer, json_content, obj, string
from ganforge.web.pool import Job, pool

bp = Blueprint("jobs", __name__)


def _job(job_id: str) -> Job:
    job = pool().get(job_id)
    if job is None:
        abort(404, description="no such job (finished jobs are kept for a while only)")
    return job


@bp.get("/api/jobs/<job_id>")
@api("A job's status and progress, and its data once done", responses={200: json_content(JOB)})
def status(job_id: str):
    return jsonify(_job(job_id).to_dict())


@bp.get("/api/jobs/<job_id>/result")
@api("A finished job's file (PNG, GIF or MP4)", query={"download": string("1: as an attachment")},
     responses={200: {"description": "the file", "content": {
         m: {"schema": {"type": "string", "format": "binary"}} for m in ("image/png", "image/gif", "video/mp4")}}},
     errors=(409,))
def result(job_id: str):
    job = _job(job_id)
    if job.status != "done":
        abort(409, description=f"job is {job.status}")
    if job.file is None:
        abort(404, description="this job has no file")
    data, mimetype, filename = job.file
    return send_file(io.BytesIO(data), mimetype=mimetype, download_name=filename, max_age=0,
                     as_attachment=request.args.get("download") == "1")


@bp.post("/api/jobs/<job_id>/cancel")
@api("Ask a job to stop", responses={200: json_content(JOB)})
def cancel(job_id: str):
    job = _job(job_id)
    job.cancel_requested = True
    return jsonify(job.to_dict())


@bp.get("/api/jobs")
@api("The job pool: workers, queue length, time limit, active jobs",
     responses={200: json_content(obj({"workers": integer(), "max_queue": integer(), "time_limit_s": {"type": "number"},
                                       "active": integer()}, ("workers", "max_queue", "time_limit_s", "active")))})
def overview():
    p = pool()
    return jsonify(workers=p.workers, max_queue=p.max_queue, time_limit_s=p.time_limit, active=p.active())
