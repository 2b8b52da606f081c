"""Running one job of the service, start to finish, without ever raising.

For a crawl job: refuse to start while another process still crawls the site (at most one
run per site, even across service restarts and manual ``govwatch crawl``), start the child,
and afterwards close the run if the child could not (stopped at its time limit, killed,
crashed).  A digest job runs in the service's process, bounded by ``[service]
digest_time_limit_seconds`` (``scheduler.inprocess``), and then sets when it runs next.
Whatever does not happen is recorded as a missed run, with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobEvent,
)

from scheduler import inprocess
from scheduler.config import Config
from scheduler.digest_jobs import next_wake, run_digest
from scheduler.inprocess import InProcessJobs, RunResult
from scheduler.jobs import JobSpec
from scheduler.supervisor import (
    SHUTDOWN,
    TIME_LIMIT,
    ChildResult,
    Supervisor,
    SupervisorClosed,
    pid_alive,
)
from storage import repository
from storage.database import Database
from storage.errors import GovwatchError
from storage.records import RunningRun

log = logging.getLogger(__name__)

# Reasons recorded for a missed run.
MISFIRE = "misfire"  # started too late (past the misfire grace time)
OVERLAP = "overlap"  # the job's previous run was still running
BUSY = "busy"  # another process was crawling the site
DOWNTIME = "downtime"  # due while no service was running
STOPPING = "shutdown"  # due while the service was stopping
ERROR = "error"  # the job could not start or failed before doing its work

# A child's clock and ours are the same host's; this margin only absorbs rounding.
_CLOCK_MARGIN = timedelta(seconds=2)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a job run ended, for the job's row in ``service_jobs`` and the log."""

    result: str  # a crawl run's outcome, or ok / failed / killed / interrupted / error
    message: str


class JobRunner:
    """Runs :class:`JobSpec` jobs as child processes; called from the scheduler's threads."""

    def __init__(
        self,
        db: Database,
        supervisor: Supervisor,
        config: Callable[[], Config],
        stopping: Callable[[], bool],
        reschedule: Callable[[str, datetime], None],
    ) -> None:
        self.db = db
        self.supervisor = supervisor
        self.config = config
        self.settings = config().service  # [service] changes take effect at the next start
        self.stopping = stopping
        self.reschedule = reschedule
        self.inprocess = InProcessJobs()

    def run(self, spec: JobSpec) -> Outcome | None:
        """Run the job once: how it ended, or None when it did not start.  Every failure is
        logged and recorded, never raised."""
        try:
            return self._run(spec)
        except GovwatchError as exc:  # the database went away, and the like: one line
            log.error("job %s: failed: %s", spec.name, exc)
            self.record_missed(spec.name, ERROR, str(exc))
            return None
        except Exception as exc:  # a bug; still, a job never takes the service down
            log.exception("job %s: failed: %s: %s", spec.name, type(exc).__name__, exc)
            self.record_missed(spec.name, ERROR, f"{type(exc).__name__}: {exc}")
            return None

    def _run(self, spec: JobSpec) -> Outcome | None:
        if self.stopping():
            self.record_missed(spec.name, STOPPING, "due while the service was stopping")
            return None
        if spec.site is not None:
            other = self._busy(spec.site)
            if other is not None:
                message = (
                    f"run {other.id} of site {spec.site} is still running in pid {other.pid} "
                    f"(since {other.started_at:%Y-%m-%d %H:%M:%S} UTC)"
                )
                log.warning("job %s: not started: %s", spec.name, message)
                self.record_missed(spec.name, BUSY, message)
                return None
        with self.db.session() as session:
            repository.job_started(session, spec.name)
        if spec.digest is not None:
            return self._run_digest(spec, spec.digest)
        launched = repository.utcnow()
        limit = self.settings.crawl_time_limit_seconds
        try:
            result = self.supervisor.run(
                spec.name, spec.argv, limit, on_start=lambda pid: self._started(spec, pid)
            )
        except SupervisorClosed:
            self.record_missed(spec.name, STOPPING, "due while the service was stopping")
            return None
        except OSError as exc:
            log.error("job %s: cannot start a process: %s", spec.name, exc)
            self.record_missed(spec.name, ERROR, f"cannot start a process: {exc}")
            return None
        if spec.site is not None:
            outcome = self._settle_crawl(spec, spec.site, result, launched)
        else:
            outcome = _command_outcome(result, limit)
            _log_outcome(spec.name, outcome, result.seconds, f"pid {result.pid}")
        self._record_finished(spec.name, outcome)
        return outcome

    def _run_digest(self, spec: JobSpec, digest: str) -> Outcome | None:
        config = self.config()
        limit = self.settings.digest_time_limit_seconds
        try:
            result = self.inprocess.run(
                spec.name, lambda run: run_digest(self.db, config, digest, run.go_on), limit
            )
        except inprocess.Busy:
            message = "its previous run, left behind at its time limit, is still running"
            log.warning("job %s: not started: %s", spec.name, message)
            self.record_missed(spec.name, OVERLAP, message)
            return None
        except inprocess.Closed:
            self.record_missed(spec.name, STOPPING, "due while the service was stopping")
            return None
        outcome = _in_process_outcome(spec.name, result, limit)
        _log_outcome(spec.name, outcome, result.seconds, "in-process")
        self._record_finished(spec.name, outcome)
        if result.ended not in (inprocess.DONE, inprocess.RAISED):
            return outcome  # left behind: its trigger's next time stands
        try:
            wake = next_wake(self.db, config, digest, repository.utcnow())
        except GovwatchError as exc:
            log.warning("job %s: cannot tell when it is due next: %s", spec.name, exc)
            return outcome
        if wake is not None:
            self.reschedule(spec.name, wake)
        return outcome

    def _started(self, spec: JobSpec, pid: int) -> None:
        if spec.site is not None:
            log.info("site %s: crawl started (pid %d)", spec.site, pid)
        else:
            log.info("job %s: started (pid %d)", spec.name, pid)

    def _busy(self, site: str) -> RunningRun | None:
        """Another live process's run of ``site``; runs of dead processes are closed."""
        with self.db.session() as session:
            for run in repository.running_runs(session, site):
                if run.pid is not None and pid_alive(run.pid):
                    return run
                message = f"the crawl process (pid {run.pid}) is gone: it died or was killed"
                if repository.close_run(session, run.id, outcome="interrupted", message=message):
                    log.warning("site %s run %d: interrupted: %s", site, run.id, message)
        return None

    def _record_finished(self, name: str, outcome: Outcome) -> None:
        with self.db.session() as session:
            repository.job_finished(session, name, result=outcome.result, message=outcome.message)

    def _settle_crawl(
        self, spec: JobSpec, site: str, result: ChildResult, launched: datetime
    ) -> Outcome:
        """Read the run the child recorded and close it if the child could not."""
        killed = " (killed: it ignored SIGTERM)" if result.killed else ""
        with self.db.session() as session:
            run = repository.run_of_process(session, site, result.pid, launched - _CLOCK_MARGIN)
            if run is None and result.stopped == SHUTDOWN:
                # stopped while starting: not run, not failed (a worker releases its job)
                message = f"stopped by the service's shutdown before it recorded a run{killed}"
                log.warning("site %s: %s", site, message)
                repository.record_missed(
                    session, spec.name, reason=STOPPING, message=message, scheduled_at=None
                )
                return Outcome("interrupted", message)
            if run is None:
                message = (
                    f"the crawl process exited with status {result.returncode} before it "
                    "recorded a run (see its log lines above)"
                )
                log.error("site %s: %s", site, message)
                repository.record_missed(
                    session, spec.name, reason=ERROR, message=message, scheduled_at=None
                )
                return Outcome(ERROR, message)
            outcome, message = run.outcome, run.message
            if result.stopped == TIME_LIMIT and outcome in ("running", "interrupted"):
                outcome = "failed"
                limit = self.settings.crawl_time_limit_seconds
                message = f"stopped at the crawl time limit of {limit:g}s{killed}"
                repository.close_run(
                    session, run.id, outcome=outcome, message=message, only_if_running=False
                )
            elif outcome == "running":
                if result.stopped == SHUTDOWN:
                    outcome, message = "interrupted", f"stopped by the service's shutdown{killed}"
                else:
                    outcome = "failed"
                    message = (
                        f"the crawl process ended (exit status {result.returncode}) "
                        "without finishing its run"
                    )
                repository.close_run(session, run.id, outcome=outcome, message=message)
        level = logging.INFO if outcome in ("succeeded", "warning") else logging.WARNING
        log.log(
            level,
            "site %s run %d: %s in %.1fs (pid %d)%s",
            site,
            run.id,
            outcome,
            result.seconds,
            result.pid,
            f": {message}" if message else "",
        )
        return Outcome(outcome, message)

    def record_event(self, event: JobEvent) -> None:
        """Record a run APScheduler did not start: too late, or the last one still runs."""
        name = event.job_id
        if event.code == EVENT_JOB_MISSED:
            due: datetime = event.scheduled_run_time
            late = (repository.utcnow() - due).total_seconds()
            message = (
                f"could start only {late:.0f}s after its time, past the misfire grace time of "
                f"{self.settings.misfire_grace_seconds}s (all crawl slots busy, or the host "
                "was suspended)"
            )
            log.warning("job %s: missed: %s", name, message)
            self.record_missed(name, MISFIRE, message, due)
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            times: list[datetime] = event.scheduled_run_times
            message = "the previous run was still running"
            log.info("job %s: skipped: %s", name, message)
            self.record_missed(name, OVERLAP, message, times[-1] if times else None)
        elif event.code == EVENT_JOB_ERROR:
            exc = getattr(event, "exception", None)
            self.record_missed(name, ERROR, f"{type(exc).__name__}: {exc}")

    def record_missed(
        self, job: str, reason: str, message: str, scheduled_at: datetime | None = None
    ) -> None:
        """Record a run that did not happen; a database error is logged, not raised."""
        try:
            with self.db.session() as session:
                repository.record_missed(
                    session, job, reason=reason, message=message, scheduled_at=scheduled_at
                )
        except GovwatchError as exc:
            log.error("job %s: cannot record a missed run (%s): %s", job, reason, exc)


def _log_outcome(name: str, outcome: Outcome, seconds: float, where: str) -> None:
    log.log(
        logging.INFO if outcome.result == "ok" else logging.WARNING,
        "job %s: %s in %.1fs (%s)%s",
        name,
        outcome.result,
        seconds,
        where,
        f": {outcome.message}" if outcome.message else "",
    )


def _in_process_outcome(name: str, result: RunResult, limit: float) -> Outcome:
    if result.ended == inprocess.TIME_LIMIT:
        return Outcome(
            "failed", f"still running at the time limit of {limit:g}s: left to end, sending no more"
        )
    if result.ended == inprocess.SHUTDOWN:
        return Outcome("interrupted", "stopped by the service's shutdown")
    exc = result.error
    if exc is None:
        return Outcome(*result.value)
    if not isinstance(exc, GovwatchError):  # a bug; still, it never takes the service down
        log.error("job %s: failed", name, exc_info=exc)
        return Outcome("failed", f"{type(exc).__name__}: {exc}")
    return Outcome("failed", str(exc))


def _command_outcome(result: ChildResult, limit: float) -> Outcome:
    if result.stopped == TIME_LIMIT:
        return Outcome("killed", f"stopped at the time limit of {limit:g}s")
    if result.stopped == SHUTDOWN:
        return Outcome("interrupted", "stopped by the service's shutdown")
    if result.returncode == 0:
        return Outcome("ok", "")
    return Outcome("failed", f"exit status {result.returncode}")
