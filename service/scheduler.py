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
import calendar
from datetime import date, datetime, time, timedelta

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
    # For a once-a-day job: its local time of day. A run missed while the daemon was down is
    # made up when it starts later the same day, never on a later day.
    daily_at: Callable[[Context], time] | None = None
    # For the monthly job: this month's due time (local, aware). A run missed while the daemon
    # was down is made up when it starts, any later day of the month.
    monthly_at: Callable[[Context, datetime], datetime] | None = None
    # False: the job makes its own transactions (long work must not hold the write lock);
    # its run is written down once it returns.
    transactional: bool = True


def _every(minutes: int) -> Callable[[Context], CronTrigger]:
    return lambda ctx: CronTrigger(minute=f"*/{minutes}", timezone=ctx.cfg.policy.zone)


def _per_minute(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M")


def _per_day(at: datetime) -> str:
    return at.strftime("%Y-%m-%d")


def _previous_month(at: datetime) -> str:
    first = at.date().replace(day=1)
    before = date.fromordinal(first.toordinal() - 1)
    return f"{before.year:04d}-{before.month:02d}"


def _monthly(ctx: Context) -> CronTrigger:
    s = ctx.cfg.schedule
    return CronTrigger(day=s.monthly_report_day, hour=s.monthly_report_time.hour,
                       minute=s.monthly_report_time.minute, timezone=ctx.cfg.policy.zone)


def _monthly_due(ctx: Context, now_local: datetime) -> datetime:
    s = ctx.cfg.schedule
    last = calendar.monthrange(now_local.year, now_local.month)[1]
    return datetime.combine(now_local.date().replace(day=min(s.monthly_report_day, last)), s.monthly_report_time,
                            now_local.tzinfo)


def months_owed(ctx: Context, before: str) -> list[str]:
    """Return the months before ``before`` (YYYY-MM) whose monthly run never happened, oldest first.

    A month is owed once it ended after this installation began (``service_state.installed_at``;
    a month that ended before was nobody's to report) and has neither a ``monthly_report`` run
    nor a company summary (a full ``report monthly --send``). A daemon down over several report
    days makes up each such month once when it runs again, not only the last one.
    """
    installed = ctx.db.execute("SELECT value FROM service_state WHERE key = 'installed_at'").fetchone()
    if installed is None:
        return []
    start = datetime.fromisoformat(installed[0]).astimezone(ctx.cfg.policy.zone).date().replace(day=1)
    done = {key for (key,) in ctx.db.execute("SELECT run_key FROM job_runs WHERE job = 'monthly_report'")}
    done |= {month for (month,) in ctx.db.execute("SELECT month FROM monthly_reports WHERE unit = '*'")}
    owed = []
    while f"{start.year:04d}-{start.month:02d}" < before:
        key = f"{start.year:04d}-{start.month:02d}"
        if key not in done:
            owed.append(key)
        start = (start + timedelta(days=32)).replace(day=1)
    return owed


def record_run(ctx: Context, name: str, key: str) -> None:
    """Write down that job ``name`` ran for ``key`` (its own transaction)."""
    with transaction(ctx.db):
        ctx.db.execute("INSERT OR IGNORE INTO job_runs (job, run_key, done_at) VALUES (?, ?, ?)", [name, key, now()])


def _daily(clock: Callable[[Context], time]) -> Callable[[Context], CronTrigger]:
    def trigger(ctx: Context) -> CronTrigger:
        at = clock(ctx)
        return CronTrigger(hour=at.hour, minute=at.minute, timezone=ctx.cfg.policy.zone)
    return trigger


def registered_jobs() -> dict[str, Job]:
    """Return the jobs the daemon schedules, by name (workflows add theirs here)."""
    from .workflows import digest, gift_approval, monthly_report, urgent_report

    def digest_time(ctx: Context) -> time:
        return ctx.cfg.schedule.daily_digest

    def reminder_time(ctx: Context) -> time:
        return ctx.cfg.schedule.missing_report_reminder

    # Reminders and escalations look for overdue items every few minutes; each is reminded
    # and escalated at most once (flags and tables in SQLite), so a rerun changes nothing.
    return {
        "gift_reminders": Job("gift_reminders", gift_approval.remind, _every(5), _per_minute),
        "gift_escalations": Job("gift_escalations", gift_approval.escalate, _every(5), _per_minute),
        "urgent_reminders": Job("urgent_reminders", urgent_report.remind, _every(5), _per_minute),
        "missing_reminders": Job("missing_reminders", digest.remind_missing, _daily(reminder_time), _per_day,
                                 daily_at=reminder_time),
        "daily_digest": Job("daily_digest", digest.send_digests, _daily(digest_time), _per_day,
                            daily_at=digest_time),
        # The previous month's reports: once per month (key: the month reported on).
        "monthly_report": Job("monthly_report", monthly_report.scheduled_run, _monthly, _previous_month,
                              monthly_at=_monthly_due, transactional=False),
        "monthly_reviews": Job("monthly_reviews", monthly_report.send_overdue_reviews, _every(5), _per_minute),
    }


def missed_today(ctx: Context, now_local: datetime) -> list[str]:
    """Return the jobs whose due time has passed without their run, in time order.

    Daily jobs: today's time passed without a run today. The monthly job: this month's day
    and time passed without the run for the previous month (made up any later day). A time
    that passed before this installation began (``service_state.installed_at``) was never
    missed: a first start in the evening sends no empty digest, a first start on the 15th no
    report of a month nobody recorded.
    ``now_local`` is an aware datetime in the configured zone.
    """
    due = []
    installed = ctx.db.execute("SELECT value FROM service_state WHERE key = 'installed_at'").fetchone()
    for job in registered_jobs().values():
        if job.monthly_at is not None:
            when = job.monthly_at(ctx, now_local)
            # A run due before this installation began was never missed (a first start on the
            # 15th does not send last month's empty report).
            before_install = installed is not None and datetime.fromisoformat(installed[0]) > when
            if now_local >= when and not before_install and not ctx.db.execute(
                    "SELECT 1 FROM job_runs WHERE job = ? AND run_key = ?",
                    [job.name, job.run_key(now_local)]).fetchone():
                due.append((when.time(), job.name))
            continue
        if job.daily_at is None:
            continue
        at = job.daily_at(ctx)
        if now_local.time() < at:
            continue
        if installed is not None and datetime.fromisoformat(installed[0]) > datetime.combine(
                now_local.date(), at, now_local.tzinfo):
            continue  # installed after today's time: an empty digest now would tell nobody anything
        done = ctx.db.execute("SELECT 1 FROM job_runs WHERE job = ? AND run_key = ?",
                              [job.name, job.run_key(now_local)]).fetchone()
        if not done:
            due.append((at, job.name))
    return [name for _, name in sorted(due)]


def run_job(ctx: Context, name: str, at: datetime) -> str:
    """Run job `name` as of `at` unless that run was already done; return what happened.

    A naive ``at`` is the policy's local time.
    """
    jobs = registered_jobs()
    if name not in jobs:
        raise NotFound(f"no job named {name!r} (known: {', '.join(sorted(jobs)) or 'none yet'})")
    job = jobs[name]
    # Keys are days and months of the policy's zone, as the runs themselves count them: the
    # same instant given in UTC must not be another day's (or month's) run.
    zone = ctx.cfg.policy.zone
    at = at.astimezone(zone) if at.tzinfo else at.replace(tzinfo=zone)
    key = job.run_key(at)
    done = ctx.db.execute("SELECT done_at FROM job_runs WHERE job = ? AND run_key = ?", [name, key]).fetchone()
    if done:
        return f"{name} {key}: already done at {done[0]}"
    if job.transactional:
        with transaction(ctx.db):
            summary = job.run(ctx, at)
            ctx.db.execute("INSERT OR IGNORE INTO job_runs (job, run_key, done_at) VALUES (?, ?, ?)",
                           [name, key, now()])
    else:
        summary = job.run(ctx, at)
        with transaction(ctx.db):
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
        # Runs missed while the daemon was down happen now (a daily job's today only).
        for name in missed_today(self.ctx, datetime.now(zone)):
            log.info("job %s: today's run was missed while the daemon was down; running it now", name)
            self._scheduler.add_job(self._run, "date", run_date=datetime.now(zone), args=[name],
                                    id=f"catch-up-{name}")
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
