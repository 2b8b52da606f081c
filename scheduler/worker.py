"""``govwatch worker``: runs the jobs a ``govwatch run`` leader deferred (``scheduler.queue``).

A Procrastinate worker on the PostgreSQL database, running at most ``--concurrency`` jobs at
once, each exactly as the single-machine service runs it (``scheduler.job_runner``): a crawl
or a link check in a ``govwatch`` process of its own, stopped (its whole process group) at
its time limit and killed with the worker (``Supervisor(die_with_parent=True)``); a digest in
this process, bounded by ``digest_time_limit_seconds`` (the outbox decides what is sent, so
several workers never send one delivery twice).

Besides running jobs, every worker heartbeats and sweeps the jobs of dead workers back to
the queue (:func:`scheduler.queue.sweep_stalled`).  A retried crawl first settles the run its
dead worker left ``running``: closed ``interrupted`` once its process is gone.

SIGTERM/SIGINT: no new job; running jobs get ``[service] shutdown_grace_seconds`` to finish,
then they are stopped (SIGTERM, SIGKILL after ``kill_after_seconds``), their runs recorded
interrupted, and the jobs released to the queue for another worker.  A second signal skips
the wait.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import signal
import socket
import time
from collections.abc import Sequence
from typing import Any

import procrastinate
from procrastinate.worker import Worker

from scheduler.config import Config
from scheduler.job_runner import ERROR, JobRunner
from scheduler.jobs import build_jobs
from scheduler.queue import Released, build_app, ensure_schema, sweep_stalled
from scheduler.supervisor import SHUTDOWN, Supervisor, pid_alive
from storage import repository
from storage.database import Database
from storage.errors import GovwatchError

log = logging.getLogger(__name__)

_SETTLE_POLL = 0.2  # seconds between looks at a run a dead worker's crawl left running


class WorkerRuntime:
    """What one ``govwatch worker`` process runs its jobs with."""

    def __init__(self, config: Config, db: Database, child_argv: Sequence[str]) -> None:
        self.config = config
        self.db = db
        self.host = socket.gethostname()
        self.stopping = False
        self.supervisor = Supervisor(
            child_argv, config.service.kill_after_seconds, die_with_parent=True
        )
        self.runner = JobRunner(
            db, self.supervisor, lambda: self.config, lambda: self.stopping, _no_wake
        )
        self.jobs = {spec.name: spec for spec in build_jobs(config)}

    # the task (on a thread of the worker)

    def run_job(self, context: Any, job: str) -> None:
        """Procrastinate's ``govwatch.run_job``: run the service job named ``job``."""
        queued = context.job
        spec = self.jobs.get(job)
        if spec is None:
            message = f"queue job {queued.id}: no such job in this worker's configuration"
            log.error("job %s: %s", job, message)
            self.runner.record_missed(job, ERROR, message)
            return
        if self.stopping:
            raise Released(f"job {job}: this worker is stopping")
        log.info(
            "job %s: attempt %d of %d (queue job %d)",
            job,
            queued.attempts + 1,
            self.config.queue.max_attempts,
            queued.id,
        )
        if spec.site is not None:
            self._settle_left_runs(spec.site)
        outcome = self.runner.run(spec)
        if self.stopping and (outcome is None or outcome.result == "interrupted"):
            if self._superseded(queued.queueing_lock):
                log.info("job %s: stopped by this worker's shutdown; a newer one waits", job)
                return
            raise Released(f"job {job}: stopped by this worker's shutdown: back to the queue")

    def _superseded(self, queueing_lock: str | None) -> bool:
        """Whether another job with this queueing lock waits (a retry would collide)."""
        if queueing_lock is None:
            return False
        with self.db.session() as session:
            return repository.job_waiting(session, queueing_lock)

    def _settle_left_runs(self, site: str) -> None:
        """Close the runs of ``site`` that a dead worker's crawl left ``running``.

        The job holds the site's lock, so no other queue job crawls the site: a run still
        open is a dead job's (or a manual ``govwatch crawl``'s).  On this host, it is closed
        once its pid is gone; on another host, once no live worker is left there.  A process
        still alive past ``kill_after_seconds`` releases the job to be retried later."""
        deadline = time.monotonic() + self.config.service.kill_after_seconds + 5
        while True:
            waiting = []
            with self.db.session() as session:
                live_hosts = repository.live_worker_hosts(
                    session, self.config.queue.stalled_seconds
                )
                for run in repository.running_runs(session, site):
                    if run.host in (None, self.host):
                        if run.pid is not None and pid_alive(run.pid):
                            waiting.append(run)
                            continue
                        message = f"the crawl process (pid {run.pid}) is gone: its worker died"
                    elif run.host in live_hosts:
                        waiting.append(run)
                        continue
                    else:
                        message = f"its worker on {run.host} is gone (pid {run.pid})"
                    closed = repository.close_run(
                        session, run.id, outcome="interrupted", message=message
                    )
                    if closed:
                        log.warning("site %s run %d: interrupted: %s", site, run.id, message)
            if not waiting:
                return
            if time.monotonic() > deadline:
                run = waiting[0]
                raise Released(
                    f"site {site}: run {run.id} is still running on {run.host} (pid {run.pid})"
                )
            time.sleep(_SETTLE_POLL)

    # the process

    def release_all(self) -> None:
        """Stop every running job now: their runs are recorded, the jobs go back."""
        if self.stopping:
            return
        log.info("stopping the running jobs: they go back to the queue")
        self.stopping = True
        self.supervisor.close()
        self.runner.inprocess.close()
        self.runner.inprocess.abandon_all()
        self.supervisor.stop_all(SHUTDOWN)

    async def main(self, app: procrastinate.App, concurrency: int, queues: Sequence[str]) -> int:
        settings = self.config.queue
        loop = asyncio.get_running_loop()
        # each running job holds a thread (sync task); a spare one for the database
        loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(concurrency + 2))
        async with app.open_async():
            worker = Worker(
                app=app,
                queues=list(queues),
                name=f"{self.host}:{os.getpid()}",
                concurrency=concurrency,
                wait=True,
                fetch_job_polling_interval=settings.poll_seconds,
                abort_job_polling_interval=settings.poll_seconds,
                shutdown_graceful_timeout=None,
                install_signal_handlers=False,
                update_heartbeat_interval=settings.heartbeat_seconds,
                stalled_worker_timeout=settings.stalled_seconds,
            )
            run = asyncio.create_task(worker.run(), name="worker")
            signals = _Signals(loop, run, self, self.config.service.shutdown_grace_seconds)
            side = asyncio.create_task(self._side(app, worker, queues), name="sweeper")
            try:
                await run
            except asyncio.CancelledError:
                pass
            finally:
                signals.remove()
                side.cancel()
                await asyncio.gather(side, return_exceptions=True)
        log.info("worker stopped")
        return 0

    async def _side(self, app: procrastinate.App, worker: Worker, queues: Sequence[str]) -> None:
        """Register this worker's host and pid, then sweep stalled jobs every heartbeat."""
        while worker.worker_id is None:
            await asyncio.sleep(0.05)
        worker_id = worker.worker_id
        await asyncio.to_thread(self._register, worker_id, ",".join(queues))
        log.info(
            "worker %d (%s pid %d) takes jobs from %s",
            worker_id,
            self.host,
            os.getpid(),
            ", ".join(queues),
        )
        while True:
            try:
                # Procrastinate stops its heartbeat when the worker starts stopping, while
                # its jobs may still run for the grace time: keep it beating until the end
                await app.job_manager.update_heartbeat(worker_id)
                await sweep_stalled(app, self.config.queue)
                await asyncio.to_thread(self._forget_gone_workers)
            except (GovwatchError, procrastinate.exceptions.ProcrastinateException) as exc:
                log.warning("sweeping stalled jobs: %s", exc)
            except Exception as exc:  # the database went away, and the like
                log.warning("sweeping stalled jobs: %s: %s", type(exc).__name__, exc)
            await asyncio.sleep(self.config.queue.heartbeat_seconds)

    def _register(self, worker_id: int, queues: str) -> None:
        with self.db.session() as session:
            repository.register_queue_worker(
                session, worker_id, host=self.host, pid=os.getpid(), queues=queues
            )

    def _forget_gone_workers(self) -> None:
        with self.db.session() as session:
            repository.forget_queue_workers(session)


class _Signals:
    """SIGTERM/SIGINT: stop taking jobs; after the grace time (or a second signal) stop the
    running ones."""

    _SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        run: asyncio.Task[Any],
        runtime: WorkerRuntime,
        grace: float,
    ) -> None:
        self.loop = loop
        self.run = run
        self.runtime = runtime
        self.grace = grace
        self.received = 0
        for signum in self._SIGNALS:
            loop.add_signal_handler(signum, self._on_signal, signum)

    def _on_signal(self, signum: int) -> None:
        self.received += 1
        if self.received == 1:
            log.info(
                "%s received: no new job; running jobs get %gs to finish",
                signal.Signals(signum).name,
                self.grace,
            )
            self.run.cancel()  # the worker stops fetching and waits for its jobs
            self.loop.call_later(self.grace, self._release)
        else:
            log.info("second signal: not waiting any longer")
            self._release()

    def _release(self) -> None:
        self.loop.run_in_executor(None, self.runtime.release_all)

    def remove(self) -> None:
        for signum in self._SIGNALS:
            self.loop.remove_signal_handler(signum)


def run_worker(
    config: Config,
    db: Database,
    child_argv: Sequence[str],
    *,
    concurrency: int,
    queues: Sequence[str],
) -> int:
    """``govwatch worker``: run jobs until SIGTERM/SIGINT (exit status 0)."""
    ensure_schema(db)
    runtime = WorkerRuntime(config, db, child_argv)
    app = build_app(db, config.queue, runtime.run_job)
    return asyncio.run(runtime.main(app, concurrency, queues))


def _no_wake(name: str, at: object) -> None:
    """A digest's next time: the leader defers its job every ``[service] digest_schedule``."""
