"""Timed jobs (digests, reminders, monthly reports), each run once per due time, even across restarts.

APScheduler decides *when*; SQLite remembers *what was done* (table ``job_runs``), because
APScheduler's memory job store forgets runs missed while the daemon was down. A job is a
function ``(ctx, at) -> str`` registered in ``JOBS`` with its trigger; ``run_job`` is what both
the scheduler and ``visitflow jobs run NAME --at TIME`` call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from .context import Context
from .errors import NotFound
from .store.db import now, transaction

log = logging.getLogger("visitflow.scheduler")


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[Context, datetime], str]  # returns a one-line summary
    trigger: Callable[[Context], CronTrigger]
    run_key: Callable[[datetime], str]  # runs with the same key happen once


def _every(minutes: int) -> Callable[[Context], CronTrigger]:
    return lambda ctx: CronTrigger(minute=f"*/{minutes}", timezone=ctx.cfg.policy.zone)


def _per_minute(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M")


def registered_jobs() -> dict[str, Job]:
    """Return the jobs the daemon schedules, by name (workflows add theirs here)."""
    from .workflows import gift_approval

    # Reminders and escalations look for overdue steps every few minutes; each step is
    # reminded and escalated at most once (flags on the step), so a rerun changes nothing.
    return {
        "gift_reminders": Job("gift_reminders", gift_approval.remind, _every(5), _per_minute),
        "gift_escalations": Job("gift_escalations", gift_approval.escalate, _every(5), _per_minute),
    }


def run_job(ctx: Context, name: str, at: datetime) -> str:
    """Run job `name` as of `at` unless that run was already done; return what happened."""
    jobs = registered_jobs()
    if name not in jobs:
        raise NotFound(f"no job named {name!r} (known: {', '.join(sorted(jobs)) or 'none yet'})")
    job = jobs[name]
    key = job.run_key(at)
    done = ctx.db.execute("SELECT done_at FROM job_runs WHERE job = ? AND run_key = ?", [name, key]).fetchone()
    if done:
        return f"{name} {key}: already done at {done[0]}"
    with transaction(ctx.db):
        summary = job.run(ctx, at)
        ctx.db.execute("INSERT OR IGNORE INTO job_runs (job, run_key, done_at) VALUES (?, ?, ?)",
                       [name, key, now()])
    ctx.notify_sender()
    return f"{name} {key}: {summary}"


class Scheduler:
    """A BackgroundScheduler running the registered jobs in the configured time zone."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._scheduler: BackgroundScheduler | None = None

    def start(self) -> None:
        """Start the scheduler thread with every registered job."""
        zone = self.ctx.cfg.policy.zone
        # A job more than a second late is skipped by default; a busy machine must not
        # silently lose a digest, so allow an hour of lateness.
        self._scheduler = BackgroundScheduler(timezone=zone, job_defaults={
            "misfire_grace_time": 3600, "coalesce": True, "max_instances": 1})
        for job in registered_jobs().values():
            self._scheduler.add_job(self._run, job.trigger(self.ctx), args=[job.name], id=job.name)
        self._scheduler.start()

    def _run(self, name: str) -> None:
        ctx = self.ctx.for_thread()
        try:
            log.info("job %s", run_job(ctx, name, datetime.now(self.ctx.cfg.policy.zone)))
        except Exception:  # noqa: BLE001 - isolation point: one failing job must not stop the others
            log.exception("job %s failed", name)
        finally:
            ctx.close()

    def shutdown(self) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
