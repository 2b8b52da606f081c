"""``govwatch run``: the background service.

One APScheduler 3 ``BackgroundScheduler`` with an in-memory job store, rebuilt from the
configuration on every start (a job store must never be shared by two schedulers).  A site's
crawl and the link check are ``govwatch`` commands in processes of their own, watched by a
thread of a bounded pool (``scheduler.supervisor``); the small jobs run in this process on
their own triggers: the heartbeat, housekeeping, and each digest (``scheduler.digest_jobs``,
on a thread of its own bounded by ``digest_time_limit_seconds``: ``scheduler.inprocess``).

Promises, and where they are kept:

- on schedule: one job per enabled site, spread by ``[service] jitter_seconds``; a job
  picks up after a restart where its last run left off (``scheduler.jobs``);
- never silently dropped: misfires within ``misfire_grace_seconds`` run once (coalesced);
  later ones, overlaps (the previous run still running) and runs due while no service ran
  are recorded in ``missed_runs`` (``EVENT_JOB_MISSED`` / ``EVENT_JOB_MAX_INSTANCES``);
- at most one run per site (``max_instances=1``, plus a look at the database for crawls of
  other processes), at most ``max_concurrent_crawls`` crawls at once, each stopped at
  ``crawl_time_limit_seconds`` (``scheduler.job_runner``); crawls of sites on one host
  take turns (``scheduler.hostlocks``: ccdi answers overlapping requests with 420); a
  digest job that runs past ``digest_time_limit_seconds`` is left behind, sending nothing
  more;
- SIGTERM/SIGINT: no new work; running jobs get ``shutdown_grace_seconds`` to finish, then
  SIGTERM, then SIGKILL after ``kill_after_seconds``; their runs are recorded interrupted;
  a second signal skips the wait.  SIGHUP re-reads the configuration's jobs (and the web
  view's ``[web]`` settings: ``scheduler.serve.WebReload``).  A job thread
  never calls the scheduler once stopping has begun (``_scheduler_calls``): APScheduler 3.11's
  ``shutdown(wait=True)`` holds its job-store lock while it joins the job threads, so a job
  thread blocked on that lock (the heartbeat's ``get_jobs``) would hang the stop for good;
- one leader per database (``scheduler.leader``); a second ``govwatch run`` stands by and
  takes over when the leader dies; runs a crashed service left ``running`` are closed;
- visible: a heartbeat and each job's next run in the database (``govwatch status``), and
  ``/healthz`` and ``/metrics`` with ``--http`` (``scheduler.health``);
- scaled out (``[queue] backend = "procrastinate"``): the leader defers each job, when due,
  to the job queue instead of running it (``scheduler.queue``), and ``govwatch worker``
  processes run them; a job already waiting is recorded ``overlap``.  A new leader picks up
  from each job's last deferral, so a slot is never deferred twice across a failover.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from scheduler import metrics
from scheduler.config import Config
from scheduler.dead_runs import close_dead_runs
from scheduler.health import Health
from scheduler.hostlocks import HostLocks
from scheduler.job_runner import DOWNTIME, ERROR, OVERLAP, STOPPING, JobRunner
from scheduler.jobs import (
    COMMANDS,
    CRAWLS,
    DIGESTS,
    INTERNAL,
    JobSpec,
    build_jobs,
    make_trigger,
    plan_first_run,
)
from scheduler.leader import leader_lock
from scheduler.service_http import HealthServer
from scheduler.signals import SignalInbox
from scheduler.supervisor import SHUTDOWN, Supervisor
from storage import repository
from storage.database import Database
from storage.errors import GovwatchError

if TYPE_CHECKING:
    from scheduler.queue import Dispatcher

log = logging.getLogger(__name__)

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_HEARTBEAT = "service:heartbeat"
_HOUSEKEEPING = "service:housekeeping"
_HOUSEKEEPING_HOURS = 6
_COMMAND_WORKERS = 2  # at least; one thread per link-check and digest job
_DB_CHECK_SECONDS = 2.0


class Service:
    """The long-running scheduler of one database's jobs."""

    def __init__(
        self,
        config: Config,
        db: Database,
        *,
        child_argv: Sequence[str],
        reload_config: Callable[[], Config],
        listen: str = "",
        web_app: Any = None,
        on_reload: Callable[[Config], None] | None = None,
    ) -> None:
        self.config = config
        self.web_app = web_app  # an aiohttp Application served beside /healthz and /metrics
        self.on_reload = on_reload  # given each reloaded configuration (the web view's)
        self.host_locks = HostLocks()
        self.settings = config.service
        self.db = db
        self.listen = listen
        self.reload_config = reload_config
        self.lock = leader_lock(db)
        self.supervisor = Supervisor(child_argv, self.settings.kill_after_seconds)
        self.runner = JobRunner(
            db, self.supervisor, lambda: self.config, lambda: self._stopping, self._wake_at
        )
        self.dispatcher: Dispatcher | None = None
        if config.queue.enabled:
            from scheduler.queue import Dispatcher  # Procrastinate: the distributed extra

            self.dispatcher = Dispatcher(db, config.queue)
        self.jobs: dict[str, JobSpec] = {}
        self.scheduler: BackgroundScheduler | None = None
        self.instance_id: int | None = None
        self.started_at = time.time()
        self._leader = False
        self._stopping = False
        # held by job threads around their calls into the scheduler, and by _shutdown to set
        # _stopping: once it is set, no job thread enters the scheduler (see the docstring)
        self._scheduler_calls = threading.Lock()
        self._tick = 0.0  # monotonic time of the scheduler's last heartbeat
        self._db_checked = (0.0, False)
        self._inbox = SignalInbox((*_STOP_SIGNALS, signal.SIGHUP))

    # lifecycle

    def run(self) -> int:
        """Run until SIGTERM/SIGINT (exit status 0).

        A leader that loses its lock (the database went away) stops its jobs and stands by
        again, taking the lock back once the database answers: an outage never ends the
        service.
        """
        with self._inbox:
            http = HealthServer(self.listen, self, self.web_app).start() if self.listen else None
            try:
                while True:
                    if not self._wait_for_leadership():
                        log.info("stopped while standing by")
                        return 0
                    try:
                        self._lead()
                    except GovwatchError as exc:
                        log.error("cannot start leading: %s", exc)
                        self._step_down()
                        continue
                    if self._main_loop():
                        self._shutdown(final=True)
                        return 0
                    self._shutdown(final=False)
                    self._step_down()
            finally:
                if http is not None:
                    http.stop()
                if self.dispatcher is not None:
                    self.dispatcher.close()
                self.lock.release()

    def _step_down(self) -> None:
        """Give up the lead (jobs already stopped): back to standing by."""
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.scheduler = None
        self.jobs = {}
        self.instance_id = None
        self._leader = False
        self.lock.release()

    def _wait_for_leadership(self) -> bool:
        if self.lock.try_acquire():
            return True
        log.info(
            "another govwatch run leads this database, or the database does not answer "
            "(%s): standing by, trying every %gs",
            self.lock.description,
            self.settings.standby_poll_seconds,
        )
        while True:
            received = self._inbox.wait(self.settings.standby_poll_seconds)
            if received & set(_STOP_SIGNALS):
                return False
            if signal.SIGHUP in received:
                self._reload()
            if self.lock.try_acquire():
                log.info("taking over (%s)", self.lock.description)
                return True

    def _lead(self) -> None:
        self._leader = True
        self._stopping = False
        self.supervisor.reopen()
        self.runner.inprocess.reopen()
        with self.db.session() as session:
            self.instance_id = repository.start_instance(
                session, host=socket.gethostname(), pid=os.getpid()
            )
        close_dead_runs(self.db)  # runs a crashed service or crawl left running
        specs = build_jobs(self.config)
        commands = sum(spec.executor == COMMANDS for spec in specs)
        digests = sum(spec.executor == DIGESTS for spec in specs)
        scheduler = BackgroundScheduler(
            executors={
                CRAWLS: ThreadPoolExecutor(self.settings.max_concurrent_crawls),
                COMMANDS: ThreadPoolExecutor(max(_COMMAND_WORKERS, commands)),
                DIGESTS: ThreadPoolExecutor(max(1, digests)),
                INTERNAL: ThreadPoolExecutor(1),
            },
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": self.settings.misfire_grace_seconds,
            },
            timezone="UTC",
        )
        scheduler.add_listener(
            self._on_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_ERROR
        )
        now = repository.utcnow()
        scheduler.add_job(
            self._heartbeat,
            IntervalTrigger(seconds=self.settings.heartbeat_seconds, timezone="UTC"),
            id=_HEARTBEAT,
            name=_HEARTBEAT,
            executor=INTERNAL,
            next_run_time=now,
            misfire_grace_time=None,
        )
        scheduler.add_job(
            self._housekeeping,
            IntervalTrigger(hours=_HOUSEKEEPING_HOURS, timezone="UTC"),
            id=_HOUSEKEEPING,
            name=_HOUSEKEEPING,
            executor=INTERNAL,
            next_run_time=now + timedelta(seconds=self.settings.heartbeat_seconds),
            misfire_grace_time=None,
        )
        self.scheduler = scheduler
        self._install_jobs(specs)
        scheduler.start()
        log.info(
            "leading (pid %d, %s): %d job(s): %s; %s",
            os.getpid(),
            self.lock.description,
            len(self.jobs),
            ", ".join(f"{j.name} ({j.schedule.text})" for j in self.jobs.values()) or "none",
            "jobs deferred to govwatch worker processes"
            if self.dispatcher is not None
            else f"at most {self.settings.max_concurrent_crawls} crawl(s) at once",
        )
        if not any(job.site for job in self.jobs.values()):
            log.warning("no site to crawl: every site is disabled")

    def _main_loop(self) -> bool:
        """Lead until a stop signal (True) or until the leader lock is lost (False)."""
        while True:
            received = self._inbox.wait(self.settings.heartbeat_seconds)
            stop = received & set(_STOP_SIGNALS)
            if stop:
                log.info(
                    "%s received: stopping", " and ".join(signal.Signals(s).name for s in stop)
                )
                return True
            if signal.SIGHUP in received:
                self._reload()
            if not self.lock.held():
                log.error(
                    "lost the leader lock (%s): stopping the jobs and standing by until the "
                    "lock can be taken again",
                    self.lock.description,
                )
                return False

    def _shutdown(self, final: bool) -> None:
        """Stop the jobs (and, when ``final``, record the service's stop)."""
        with self._scheduler_calls:  # waits for a job thread inside the scheduler
            self._stopping = True
        self.supervisor.close()
        self.runner.inprocess.close()
        scheduler = self.scheduler
        assert scheduler is not None
        scheduler.pause()
        running = self._running()
        if running:
            grace = self.settings.shutdown_grace_seconds
            log.info(
                "waiting up to %gs for %d running job(s) to finish: %s",
                grace,
                len(running),
                ", ".join(running),
            )
            if not self._wait_for_children(grace):
                left = self._running()
                log.warning("stopping %d job(s) still running: %s", len(left), ", ".join(left))
                self.runner.inprocess.abandon_all()
                self.supervisor.stop_all(SHUTDOWN)
        scheduler.shutdown(wait=True)  # job threads record what their children left
        if not final:
            log.info("jobs stopped")
            return
        try:
            with self.db.session() as session:
                if self.instance_id is not None:
                    repository.stop_instance(session, self.instance_id)
                repository.set_next_runs(session, [(name, None) for name in self.jobs])
        except GovwatchError as exc:
            log.warning("cannot record the service's stop: %s", exc)
        log.info("stopped")

    def _wait_for_children(self, grace: float) -> bool:
        """Wait for running jobs to end; False at the deadline or at a second signal."""
        deadline = time.monotonic() + grace
        while self._running():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            received = self._inbox.wait(min(0.2, remaining))
            if received & set(_STOP_SIGNALS):
                log.info("second signal: not waiting any longer")
                return False
        return True

    # jobs

    def _install_jobs(self, specs: Sequence[JobSpec]) -> None:
        """Schedule ``specs`` (replacing changed jobs, removing dropped ones)."""
        scheduler = self.scheduler
        assert scheduler is not None
        wanted = {spec.name: spec for spec in specs}
        for name in list(self.jobs):
            if name not in wanted:
                scheduler.remove_job(name)
                del self.jobs[name]
                log.info("job %s: removed", name)
        now = repository.utcnow()
        with self.db.session() as session:
            repository.sync_jobs(session, [(s.name, s.schedule.text) for s in specs])
            states = {state.name: state for state in repository.job_states(session)}
            # scaled out: a job's slot is taken when it is deferred (it may not have run yet)
            deferred = repository.last_deferrals(session) if self.dispatcher else {}
            for spec in specs:
                if self.jobs.get(spec.name) == spec:
                    continue
                if spec.site is not None:
                    last = repository.last_run_started(session, spec.site)
                else:
                    state = states.get(spec.name)
                    last = None if state is None else state.last_started_at
                last = _latest(last, deferred.get(spec.name))
                # a digest is never jittered: its job runs now (it records a new digest, or
                # builds one due meanwhile) and then sets its next time itself
                jitter = 0 if spec.digest is not None else self.settings.jitter_seconds
                first = plan_first_run(
                    spec.name,
                    spec.schedule,
                    last,
                    now,
                    jitter_seconds=jitter,
                    grace_seconds=self.settings.misfire_grace_seconds,
                )
                if first.missed_since is not None:
                    message = (
                        f"due since {first.missed_since:%Y-%m-%d %H:%M:%S} UTC while no service "
                        "was running; it runs now"
                    )
                    log.warning("job %s: missed: %s", spec.name, message)
                    repository.record_missed(
                        session,
                        spec.name,
                        reason=DOWNTIME,
                        message=message,
                        scheduled_at=first.missed_since,
                    )
                options: dict[str, Any] = {}
                if first.at is not None:
                    options["next_run_time"] = first.at
                if spec.digest is not None:  # now, then when it says; however late
                    options.update(next_run_time=now, misfire_grace_time=None)
                scheduler.add_job(
                    self._run_job,
                    make_trigger(spec.schedule, first.at or now, jitter),
                    args=[spec.name],
                    id=spec.name,
                    name=spec.name,
                    executor=spec.executor,
                    replace_existing=True,
                    **options,
                )
                self.jobs[spec.name] = spec
        self._record_next_runs()

    def _run_job(self, name: str) -> None:
        spec = self.jobs.get(name)
        if spec is None:
            return
        if self.dispatcher is not None:
            self._defer(spec, self.dispatcher)
            return
        with self.host_locks.hold(spec.hosts):
            self.runner.run(spec)

    def _defer(self, spec: JobSpec, dispatcher: Dispatcher) -> None:
        """Hand the job to the queue; what could not be deferred is recorded missed."""
        if self._stopping:
            self.runner.record_missed(spec.name, STOPPING, "due while the service was stopping")
            return
        try:
            job_id = dispatcher.defer(spec)
        except GovwatchError as exc:
            log.error("job %s: not deferred: %s", spec.name, exc)
            self.runner.record_missed(spec.name, ERROR, str(exc))
            return
        if job_id is None:
            message = "a run of it is already waiting in the queue"
            log.info("job %s: skipped: %s", spec.name, message)
            self.runner.record_missed(spec.name, OVERLAP, message)
            return
        log.info("job %s: deferred (queue job %d)", spec.name, job_id)

    def _wake_at(self, name: str, at: datetime) -> None:
        """Run job ``name`` next at ``at`` (a digest's next due time or retry)."""
        with self._scheduler_calls:
            scheduler = self.scheduler
            if scheduler is None or self._stopping:
                return
            with contextlib.suppress(JobLookupError):  # removed meanwhile (SIGHUP)
                scheduler.modify_job(name, next_run_time=at)

    def _running(self) -> list[str]:
        """The jobs running now: child processes and in-process runs."""
        return self.supervisor.running() + self.runner.inprocess.running()

    def _on_event(self, event: JobEvent) -> None:
        """Record what APScheduler did not run (never silently dropped)."""
        if event.job_id in self.jobs:
            self.runner.record_event(event)

    def _heartbeat(self) -> None:
        self._tick = time.monotonic()
        try:
            with self.db.session() as session:
                if self.instance_id is not None:
                    repository.heartbeat(session, self.instance_id)
            self._record_next_runs()
            self._db_checked = (time.monotonic(), True)
        except GovwatchError as exc:
            self._db_checked = (time.monotonic(), False)
            log.warning("heartbeat: %s", exc)

    def _record_next_runs(self) -> None:
        with self._scheduler_calls:
            scheduler = self.scheduler
            if scheduler is None or self._stopping:
                return
            # a job added before the scheduler starts has no next_run_time yet
            jobs = scheduler.get_jobs()
        times = {job.id: getattr(job, "next_run_time", None) for job in jobs}
        with self.db.session() as session:
            repository.set_next_runs(session, [(name, times.get(name)) for name in self.jobs])

    def _housekeeping(self) -> None:
        before = repository.utcnow() - timedelta(days=self.settings.history_days)
        try:
            with self.db.session() as session:
                deleted = repository.prune_service_history(session, before)
        except GovwatchError as exc:
            log.warning("housekeeping: %s", exc)
            return
        if deleted:
            log.info("housekeeping: deleted %d service record(s) older than %s", deleted, before)

    def _reload(self) -> None:
        log.info("SIGHUP: reloading the configuration")
        try:
            config = self.reload_config()
        except GovwatchError as exc:
            log.error("reload failed, the configuration in use stays: %s", exc)
            return
        if config.database.url != self.config.database.url:
            log.warning("database.url changed: it takes effect when govwatch run restarts")
        if config.service != self.config.service:
            log.warning("[service] changed: it takes effect when govwatch run restarts")
        self.config = config
        if self.on_reload is not None:
            self.on_reload(config)
        if self.scheduler is not None:
            try:
                self._install_jobs(build_jobs(config))
            except GovwatchError as exc:
                log.error("reload failed: %s", exc)
                return
            log.info("reloaded: %d job(s)", len(self.jobs))

    # health and metrics (scheduler.health.HealthSource)

    def health(self) -> Health:
        db_ok = self._database_ok()
        age = time.monotonic() - self._tick if self._tick else None
        stale_after = 3 * self.settings.heartbeat_seconds + 5
        scheduler_ok = (
            self.scheduler is not None
            and self.scheduler.running
            and age is not None
            and age <= stale_after
        )
        if self._stopping:
            status = "stopping"
        elif not self._leader:
            status = "standby"
        else:
            status = "ok" if scheduler_ok else "scheduler not running"
        if not db_ok:
            status = "database unreachable"
        ok = db_ok and not self._stopping and (scheduler_ok or not self._leader)
        return Health(
            ok=ok,
            details={
                "status": status,
                "leader": self._leader,
                "scheduler": bool(scheduler_ok),
                "database": db_ok,
                "heartbeat_age_seconds": None if age is None else round(age, 1),
                "running": self._running(),
                "pid": os.getpid(),
            },
        )

    def _database_ok(self) -> bool:
        checked_at, ok = self._db_checked
        if time.monotonic() - checked_at < _DB_CHECK_SECONDS:
            return ok
        try:
            with self.db.session() as session:
                repository.ping(session)
            ok = True
        except GovwatchError:
            ok = False
        self._db_checked = (time.monotonic(), ok)
        return ok

    def metrics_text(self) -> str:
        extra = []
        if self.dispatcher is not None:
            from scheduler.queue_metrics import QueueCollector

            extra.append(QueueCollector(self.db, self.config.queue.stalled_seconds))
        return metrics.service_text(
            self.db,
            leader=self._leader,
            started_at=self.started_at,
            running=self._running(),
            extra=extra,
        )


def _latest(*times: datetime | None) -> datetime | None:
    known = [t for t in times if t is not None]
    return max(known) if known else None
