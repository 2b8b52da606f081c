"""The job queue's part of ``govwatch status`` (``[queue] backend = "procrastinate"``):
jobs waiting per queue, running jobs with their worker's host and pid, stalled jobs, and the
workers alive."""

from __future__ import annotations

from typing import Any

from scheduler.output import beijing, iso
from storage.queue_records import QueueJobView, QueueSnapshot


def queue_lines(snapshot: QueueSnapshot) -> list[str]:
    """Text lines (empty when the database has no queue)."""
    if not snapshot.present:
        return ["", "queue: not set up (govwatch init creates it)"]
    waiting: dict[str, int] = {}
    failed = 0
    for queue, status, n in snapshot.counts:
        if status == "todo":
            waiting[queue] = waiting.get(queue, 0) + n
        elif status == "failed":
            failed += n
    depth = ", ".join(f"{n} {q}" for q, n in sorted(waiting.items())) or "none"
    lines = [
        "",
        f"queue: {len(snapshot.workers)} worker(s) alive; waiting: {depth}; "
        f"running: {len(snapshot.running)}; stalled: {len(snapshot.stalled)}; "
        f"failed: {failed}",
    ]
    for worker in snapshot.workers:
        where = f"{worker.host} pid {worker.pid}" if worker.host else "(host not recorded)"
        lines.append(
            f"  worker {worker.worker_id}: {where}, {worker.running} job(s), last heartbeat "
            f"{beijing(worker.last_heartbeat, '%H:%M:%S')}"
        )
    lines += [f"  running: {_job_line(job)}" for job in snapshot.running]
    lines += [f"  stalled (its worker died): {_job_line(job)}" for job in snapshot.stalled]
    return lines


def _job_line(job: QueueJobView) -> str:
    where = f"{job.host} pid {job.pid}" if job.host else f"worker {job.worker_id}"
    since = f" since {beijing(job.started_at, '%H:%M:%S')}" if job.started_at else ""
    return f"{job.job or job.task} (job {job.id}, attempt {job.attempts + 1}) on {where}{since}"


def queue_record(snapshot: QueueSnapshot) -> dict[str, Any]:
    """The JSON form."""

    def job_record(job: QueueJobView) -> dict[str, Any]:
        return {
            "id": job.id,
            "queue": job.queue,
            "job": job.job,
            "attempt": job.attempts + 1,
            "worker_id": job.worker_id,
            "host": job.host,
            "pid": job.pid,
            "started_at": iso(job.started_at),
        }

    return {
        "present": snapshot.present,
        "jobs": [{"queue": q, "status": s, "count": n} for q, s, n in snapshot.counts],
        "running": [job_record(j) for j in snapshot.running],
        "stalled": [job_record(j) for j in snapshot.stalled],
        "workers": [
            {
                "worker_id": w.worker_id,
                "host": w.host,
                "pid": w.pid,
                "last_heartbeat": iso(w.last_heartbeat),
                "running": w.running,
            }
            for w in snapshot.workers
        ],
    }
