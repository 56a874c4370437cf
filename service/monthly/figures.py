"""Compute a month's figures from the stored rows: one MonthlyReport per unit, and the company's.

Every number here comes from the database and config, never from a mail's text again:
- **visits** are those of current reports (a resend replaces a report), in the month by the
  day of the visit (``visits.visited_at``, local time);
- **report discipline** (Article 9: a daily report every working day): for each rep and each
  working day of the month up to ``as_of`` (``WorkingDays``: the week, the statutory
  calendar, config), from the day the service began (its installation, or the earliest
  report it holds – a new installation owes no past days), the first report for that day decides: *on time* when it was sent that day,
  *late* when on a later day, *missing* when there is none. "Sent" is the mail's Date header
  when it is no later than when our IMAP server received the mail (its INTERNALDATE, set by
  the server, not the sender) and at most a day earlier, otherwise that time itself: a mail
  held up at the sender's server a few hours still counts by its Date, a backdated Date does
  not, and a backlog after the daemon's own outage makes nobody late;
- **tier coverage** (Article 2): a customer of a tier needing ``n`` visits a month is covered
  with ``n`` visits in the month; a tier counted per quarter needs its visits in the quarter
  up to the month's end; customers are those of the unit's registry (``store.customers``);
- **plan completion**: the unit's current plans that share days with the month, narrowed to
  the month (``store.plans.plan_vs_actual``); a visit done counts once per scheduled visit;
- **urgent reports**: raised in the month (by ``created_at``), hours to the first
  acknowledgement by any recipient; open ones are those not closed by the month's end;
- **gifts**: requests made in the month; spend is what was approved in the budget period
  that holds the month (``policy.gift.budget_period``), against the unit's budget.
Timestamps are stored in UTC; days and hours shown are in ``policy.timezone``.
"""

from __future__ import annotations

import calendar
import json
import re
import sqlite3
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from ..config import Config
from ..reading.names import normalise_name
from ..store import customers as registry
from ..store import plans as plan_store
from ..workdays import WorkingDays
from .model import (
    DayCount,
    GiftBudget,
    GiftItem,
    Kpis,
    MonthlyReport,
    OverdueCustomer,
    PlanRow,
    RepDiscipline,
    RepVisits,
    TechIssue,
    TextDigest,
    TextEntry,
    TierCoverage,
    UnitInfo,
    UnitSummary,
    UnmatchedName,
    UrgentItem,
    Violation,
    VisitRow,
)

__all__ = ["Month", "company_summary", "leadership_urgent", "summary_language", "unit_report"]

_MONTH_RE = re.compile(r"([0-9]{4})-([0-9]{2})")
_TEXT_FIELDS = ("feedback", "market", "effect", "handled", "other", "stock", "products", "tech_issue")


class Month:
    """A calendar month ``YYYY-MM``: its first and last day, and its bounds in UTC for a time zone."""

    def __init__(self, key: str) -> None:
        # YYYY-MM with ASCII digits only: int() would read "26-11" as the year 26 and "２０２６"
        # as 2026, and a report for the year 26 is a typo, not a month anyone meant.
        match = _MONTH_RE.fullmatch(key) if isinstance(key, str) else None
        if not match or not 1 <= int(match[2]) <= 12:
            raise ValueError(f"{key!r} is not a month such as 2026-11 (YYYY-MM, a four-digit year)")
        year, month = int(match[1]), int(match[2])
        # The report reads the days around its month (the day after its last, the month
        # before): a month at either end of the calendar has no such days.
        if not (1 < year < 9999):
            raise ValueError(f"{key!r} is outside the years 0002–9998 a report can cover")
        self.key = f"{year:04d}-{month:02d}"
        self.first = date(year, month, 1)
        self.last = date(year, month, calendar.monthrange(year, month)[1])

    def utc_bounds(self, zone: ZoneInfo) -> tuple[str, str]:
        """Return [start, end) of the month in ``zone`` as the UTC ISO text timestamps are stored in."""
        start = datetime.combine(self.first, time(0), zone).astimezone(timezone.utc)
        end = datetime.combine(self.last + timedelta(days=1), time(0), zone).astimezone(timezone.utc)
        return start.isoformat(timespec="milliseconds"), end.isoformat(timespec="milliseconds")

    def quarter_first(self) -> date:
        return date(self.first.year, (self.first.month - 1) // 3 * 3 + 1, 1)

    def previous(self) -> "Month":
        before = self.first - timedelta(days=1)
        return Month(f"{before.year:04d}-{before.month:02d}")


def unit_report(db: Database, cfg: Config, unit_id: str, month: Month, *, generated_at: datetime,
                as_of: date | None = None) -> MonthlyReport:
    """Return the MonthlyReport of one unit for ``month``.

    ``generated_at`` is stamped on the report (aware); ``as_of`` (a local day, default the
    month's last day) bounds the working days a report was due, for a month not yet over.
    Raises KeyError for a unit not in config.
    """
    unit = cfg.organisation.units[unit_id]
    zone = cfg.policy.zone
    last_due = min(month.last, as_of or month.last)
    people = cfg.organisation.people()
    name_of = {email: person.name for email, person in people.items()}
    reps = [rep for rep in cfg.organisation.reps.values() if rep.unit == unit_id]
    customer_list = registry.load_customers(db, unit=unit_id)
    by_id = {c.id: c for c in customer_list}

    first_sent = _first_sent(db, zone, unit_id, month.first.isoformat(), month.last.isoformat(),
                             reps=[rep.email for rep in reps])
    visits, rows = _visits(db, cfg, unit_id, month, by_id, name_of, first_sent)
    discipline, reporting = _discipline(db, cfg, unit_id, reps, month, last_due, first_sent)
    per_rep = _visits_per_rep(visits, reps, name_of)
    coverage, covered, required_customers = _coverage(db, cfg, month, customer_list)
    plan_rows, tier_plans = _plans(db, unit_id, month, by_id, name_of)
    coverage = tuple(TierCoverage(c.tier, c.customers, c.required_visits, c.required_period, c.visited_enough,
                                  *tier_plans.get(c.tier, (0, 0))) for c in coverage)
    urgent, urgent_open = _urgent(db, cfg, unit_id, month, name_of)
    gifts, budget = _gifts(db, cfg, unit_id, month, name_of)

    texts = {name: [] for name in ("feedback", "market", "handled")}
    tech = []
    for v, row in zip(visits, rows):
        shown = row.customer_matched or row.customer
        day = row.visited_at.date()
        for name, entries in texts.items():
            text = getattr(row, name).strip()
            if text:
                entries.append(TextEntry(shown, row.rep, day, text))
        if row.tech_issue.strip():
            tech.append(TechIssue(shown, row.rep, day, row.tech_issue.strip(),
                                  routed_to=_tech_recipients(cfg, v["region"], row.tech_major), major=row.tech_major))

    days = Counter(row.visited_at.date() for row in rows)
    planned = sum(r.planned for r in plan_rows)
    kpis = Kpis(
        visits=len(visits), reps=len(reps), reps_reporting=len(reporting),
        reports_due=sum(d.due for d in discipline), reports_on_time=sum(d.on_time for d in discipline),
        reports_late=sum(d.late for d in discipline), reports_missing=sum(d.missing for d in discipline),
        customers=required_customers, customers_covered=covered,
        planned_visits=planned, planned_done=sum(r.done for r in plan_rows),
        urgent_total=len(urgent), urgent_open=urgent_open,
        gift_spent=budget.spent, gift_budget=budget.budget)
    overdue = [OverdueCustomer(o.customer.name, o.customer.tier, _region_name(cfg, o.customer.region),
                               name_of.get(o.customer.designated_visitor or "", o.customer.designated_visitor or ""),
                               o.last_visit, o.days if o.last_visit else None, o.limit)
               for o in registry.overdue(db, cfg, last_due, unit=unit_id)]
    violations = [Violation(c.name, _region_name(cfg, c.region), name_of.get(c.designated_visitor or "", ""))
                  for c in registry.salesperson_flags(db, unit_id)]
    unmatched = [UnmatchedName(u.name, u.visits, tuple(name_of.get(r, r) for r in u.reps))
                 for u in registry.unmatched_names(db, unit_id, month.first, month.last)] if customer_list else []
    return MonthlyReport(
        month=month.key, unit=UnitInfo(unit.id, unit.name, unit.head.name), generated_at=generated_at,
        kpis=kpis, language=cfg.language_for(unit.head.email), timezone=cfg.policy.timezone,
        discipline=tuple(discipline), visits_per_rep=tuple(per_rep), tier_coverage=coverage,
        overdue=tuple(overdue), feedback=tuple(texts["feedback"]), market=tuple(texts["market"]),
        handled=tuple(texts["handled"]), tech_issues=tuple(tech), urgent=tuple(urgent), gifts=tuple(gifts),
        gift_budget=budget, violations=tuple(violations), unmatched=tuple(unmatched),
        plan_vs_actual=tuple(plan_rows), visits_per_day=tuple(DayCount(d, n) for d, n in sorted(days.items())),
        days_off=_days_off(cfg, month), visits=tuple(rows))


def _days_off(cfg: Config, month: Month) -> tuple[date, ...]:
    """Return the month's days off as report discipline counts them (statutory holidays, 调休
    make-up working days and the config's lists), for the visits-per-day chart to shade."""
    working = set(WorkingDays(cfg.policy).working_days_in(month.first, month.last))
    return tuple(month.first + timedelta(days=n) for n in range((month.last - month.first).days + 1)
                 if month.first + timedelta(days=n) not in working)


def summary_language(cfg: Config) -> str:
    """Return the company summary's language: the first leader's, else the policy's."""
    leaders = cfg.organisation.leadership
    return cfg.language_for(leaders[0].email) if leaders else cfg.policy.language


def company_summary(cfg: Config, month: Month, units: list[MonthlyReport], *, generated_at: datetime,
                    language: str | None = None, own_urgent: tuple[list, int] = ([], 0),
                    keep: int | None = None) -> MonthlyReport:
    """Return the company summary of the units' reports: summed key figures, one row per unit.

    The lists (urgent reports, gifts, visits …) are the units' lists joined in unit order; the
    free-text sections are a ``TextDigest`` of them joined (``keep`` entries per customer,
    None: all), and the units may give theirs as digests already (``without_details``); plan
    vs actual has one row per unit. ``own_urgent`` is leadership's own urgent reports and their
    open count (``leadership_urgent``), which belong to no unit.
    """
    def total(name: str):
        return sum((getattr(r.kpis, name) for r in units), Decimal("0") if name == "gift_spent" else 0)

    budgets = [r.kpis.gift_budget for r in units if r.kpis.gift_budget is not None]
    kpis = Kpis(**{name: total(name) for name in (
        "visits", "reps", "reps_reporting", "reports_due", "reports_on_time", "reports_late", "reports_missing",
        "customers", "customers_covered", "planned_visits", "planned_done", "urgent_total", "urgent_open",
        "gift_spent")}, gift_budget=sum(budgets, Decimal("0")) if budgets else None)
    kpis = replace(kpis, urgent_total=kpis.urgent_total + len(own_urgent[0]), urgent_open=kpis.urgent_open + own_urgent[1])
    days: Counter = Counter()
    for report in units:
        days.update({d.day: d.visits for d in report.visits_per_day})
    coverage: dict[str, list[int]] = {}
    shapes: dict[str, tuple[int, str]] = {}
    for report in units:
        for c in report.tier_coverage:
            sums = coverage.setdefault(c.tier, [0, 0, 0, 0])
            for i, value in enumerate((c.customers, c.visited_enough, c.planned, c.planned_done)):
                sums[i] += value
            shapes[c.tier] = (c.required_visits, c.required_period)
    periods = [r.gift_budget.period for r in units if r.gift_budget is not None]

    def joined(name: str) -> tuple:
        return tuple(item for report in units for item in getattr(report, name))

    def digest(name: str) -> TextDigest:
        return TextDigest.joined((getattr(report, name) for report in units), keep)

    return MonthlyReport(
        month=month.key, unit=None, generated_at=generated_at, kpis=kpis,
        language=language or summary_language(cfg),
        timezone=cfg.policy.timezone,
        discipline=joined("discipline"), visits_per_rep=joined("visits_per_rep"),
        tier_coverage=tuple(TierCoverage(t, s[0], *shapes[t], s[1], s[2], s[3]) for t, s in sorted(coverage.items())),
        overdue=joined("overdue"), feedback=digest("feedback"), market=digest("market"), handled=digest("handled"),
        tech_issues=joined("tech_issues"), urgent=joined("urgent") + tuple(own_urgent[0]), gifts=joined("gifts"),
        gift_budget=GiftBudget(periods[0], kpis.gift_spent, kpis.gift_budget) if periods else None,
        violations=joined("violations"), unmatched=joined("unmatched"),
        plan_vs_actual=tuple(PlanRow(r.unit.name, r.kpis.planned_visits, r.kpis.planned_done) for r in units),
        visits_per_day=tuple(DayCount(d, n) for d, n in sorted(days.items())), days_off=_days_off(cfg, month),
        units=tuple(UnitSummary(r.unit, r.kpis) for r in units), visits=joined("visits"))


# --------------------------------------------------------------------------- the parts


def _visits(db: Database, cfg: Config, unit_id: str, month: Month, by_id: dict, name_of: dict,
            first_sent: dict) -> tuple[list, list]:
    """Return the month's visits of the unit (dict rows, by time) and their .xlsx rows.

    ``first_sent`` is ``_first_sent`` over days that hold the month's visits' report dates (a
    visit's report may be dated a little outside its month); one it lacks is read here.
    """
    zone = cfg.policy.zone
    sql = ("SELECT v.*, r.rep, r.region, r.report_date, r.id AS report_id, m.sent_at, "
           "COALESCE(m.delivered_at, m.received_at) AS received_at "
           "FROM visits v JOIN reports r ON r.id = v.report JOIN messages m ON m.id = r.message "
           "WHERE r.unit = ? AND r.current = 1 AND v.visited_at >= ? AND v.visited_at < ? "
           "ORDER BY v.visited_at, v.id")
    # sqlite3.Row, not sqlite-utils' dicts: looked up by name the same, built in C (a fifth of this).
    cursor = db.conn.cursor()
    cursor.row_factory = sqlite3.Row
    visits = cursor.execute(sql, [unit_id, month.first.isoformat(), (month.last + timedelta(days=1)).isoformat()]
                            ).fetchall()
    cards = dict(db.execute(
        "SELECT c.report, COUNT(*) FROM customer_cards c JOIN reports r ON r.id = c.report "
        "WHERE r.unit = ? AND r.current = 1 AND c.kept = 1 AND r.report_date >= ? AND r.report_date <= ? "
        "GROUP BY c.report", [unit_id, (month.first - timedelta(days=7)).isoformat(), month.last.isoformat()]
    ).fetchall())
    unit_name = cfg.organisation.units[unit_id].name
    # Late as report discipline counts it: the day's first report decides, so a correction sent
    # the next day does not make a report that came on time late.
    days = [v["report_date"] for v in visits]
    if days and any((v["rep"], v["report_date"]) not in first_sent for v in visits):
        first_sent = {**first_sent, **_first_sent(db, zone, unit_id, min(days), max(days))}
    regions: dict[str, str] = {}
    rows = []
    for v in visits:
        customer = by_id.get(v["customer_id"])
        sent = first_sent[(v["rep"], v["report_date"])]
        region = regions.get(v["region"])
        if region is None:
            region = regions[v["region"]] = _region_name(cfg, v["region"])
        rows.append(VisitRow(
            unit=unit_name, region=region, rep=name_of.get(v["rep"], v["rep"]),
            rep_email=v["rep"], report_date=date.fromisoformat(v["report_date"]),
            visited_at=_local(v["visited_at"], zone),
            visited_until=_local(v["visited_until"], zone) if v["visited_until"] else None,
            customer=v["customer"], customer_matched=customer.name if customer else None,
            customer_id=customer.id if customer else None, tier=customer.tier if customer else None,
            **{name: v[name] or "" for name in _TEXT_FIELDS}, tech_major=bool(v["tech_major"]),
            urgent=v["urgent"] or None, submitted_at=_received(v["received_at"], zone),
            late=sent > date.fromisoformat(v["report_date"]), cards=cards.get(v["report_id"], 0)))
    return visits, rows


def _discipline(db: Database, cfg: Config, unit_id: str, reps: list, month: Month,
                last_due: date, first_sent: dict) -> tuple[list, set[str]]:
    """Return each rep's report discipline, and the reps (of config) with any report in the month.

    ``first_sent`` is ``_first_sent`` over (at least) the month's days.
    """
    first_due = max(month.first, _service_start(db, cfg))
    due_days = WorkingDays(cfg.policy).working_days_in(first_due, last_due) if last_due >= first_due else []
    low, high = month.first.isoformat(), month.last.isoformat()
    rows = []
    for rep in reps:
        on_time = late = missing = 0
        for day in due_days:
            sent = first_sent.get((rep.email, day.isoformat()))
            if sent is None:
                missing += 1
            elif sent <= day:
                on_time += 1
            else:
                late += 1
        rows.append(RepDiscipline(rep.name, rep.email, len(due_days), on_time, late, missing))
    reporting = {rep for rep, day in first_sent if low <= day <= high} & {rep.email for rep in reps}
    return rows, reporting


def _first_sent(db: Database, zone: ZoneInfo, unit_id: str, low: str, high: str,
                reps: list[str] = ()) -> dict[tuple[str, str], date]:
    """Return the day each (rep, report date) from low to high (ISO, inclusive) was first sent:
    the reports stored under the unit and every report of ``reps`` (the unit's reps now).

    Replaced reports count: the first report of a day decides whether it came on time.
    Discipline follows the rep, not the unit a report was stored under: a rep moved to this
    unit mid-month reported the days before under his former unit, and was not missing then.
    """
    first: dict[tuple[str, str], date] = {}
    for rep, day, sent_at, received_at in db.execute(
            "SELECT r.rep, r.report_date, m.sent_at, COALESCE(m.delivered_at, m.received_at) "
            "FROM reports r JOIN messages m ON m.id = r.message "
            "WHERE (r.unit = ? OR r.rep IN (SELECT value FROM json_each(?))) "
            "AND r.report_date >= ? AND r.report_date <= ?", [unit_id, json.dumps(list(reps)), low, high]):
        sent = _sent_day(sent_at, received_at, zone)
        if (rep, day) not in first or sent < first[(rep, day)]:
            first[(rep, day)] = sent
    return first


def _service_start(db: Database, cfg: Config) -> date:
    """Return the first day reports were due: the installation's day, or the earliest stored
    report's if earlier (reports kept from before, a backlog). Days before owed nothing."""
    installed = db.execute("SELECT value FROM service_state WHERE key = 'installed_at'").fetchone()
    start = datetime.fromisoformat(installed[0]).astimezone(cfg.policy.zone).date() if installed else date.min
    earliest = db.execute("SELECT MIN(report_date) FROM reports").fetchone()[0]
    return min(start, date.fromisoformat(earliest)) if earliest else start


def _visits_per_rep(visits: list, reps: list, name_of: dict) -> list:
    counts: dict[str, list] = {rep.email: [0, set(), set()] for rep in reps}
    for v in visits:
        entry = counts.setdefault(v["rep"], [0, set(), set()])  # a rep no longer in config still counts
        entry[0] += 1
        entry[1].add(v["customer_id"] or normalise_name(v["customer"]) or v["customer"])
        entry[2].add(v["visited_at"][:10])
    return [RepVisits(name_of.get(email, email), email, n, len(customers), len(days))
            for email, (n, customers, days) in counts.items()]


def _coverage(db: Database, cfg: Config, month: Month, customer_list: list) -> tuple[list, int, int]:
    """Return per-tier coverage (without plan figures), customers covered, customers needing visits."""
    if not customer_list:
        return [], 0, 0
    quarter_first = month.quarter_first()
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # customer id -> [in month, in quarter so far]
    ids = [c.id for c in customer_list]
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for customer_id, visited_at in db.execute(
                "SELECT v.customer_id, v.visited_at FROM visits v JOIN reports r ON r.id = v.report "
                f"WHERE r.current = 1 AND v.customer_id IN ({', '.join('?' * len(chunk))}) "
                "AND v.visited_at >= ? AND v.visited_at < ?",
                [*chunk, quarter_first.isoformat(), (month.last + timedelta(days=1)).isoformat()]):
            entry = counts[customer_id]
            entry[1] += 1
            if visited_at >= month.first.isoformat():
                entry[0] += 1
    tiers: dict[str, list[int]] = {}
    covered = needing = 0
    for customer in customer_list:
        frequency = cfg.policy.tier_frequency.get(customer.tier)
        sums = tiers.setdefault(customer.tier, [0, 0])
        sums[0] += 1
        if frequency is None or frequency.visits == 0:
            continue
        done = counts[customer.id][1 if frequency.period == "quarter" else 0]
        enough = done >= frequency.visits
        sums[1] += enough
        needing += 1
        covered += enough
    rows = []
    for tier, (count, enough) in sorted(tiers.items()):
        frequency = cfg.policy.tier_frequency.get(tier)
        rows.append(TierCoverage(tier, count, frequency.visits if frequency else 0,
                                 frequency.period if frequency else "month", enough))
    return rows, covered, needing


def _plans(db: Database, unit_id: str, month: Month, by_id: dict, name_of: dict) -> tuple[list, dict]:
    """Return plan vs actual per visitor, and per tier (planned, done), for the month."""
    per_visitor: dict[str, list[int]] = {}
    per_tier: dict[str, list[int]] = {}
    for plan in plan_store.plans_overlapping(db, month.first, month.last, unit=unit_id):
        for row in plan_store.plan_vs_actual(db, plan["id"], start=month.first, end=month.last):
            done = min(row.visited, row.scheduled)
            sums = per_visitor.setdefault(row.visitor, [0, 0])
            sums[0] += row.scheduled
            sums[1] += done
            customer = by_id.get(row.customer_id)
            if customer is not None:
                tier = per_tier.setdefault(customer.tier, [0, 0])
                tier[0] += row.scheduled
                tier[1] += done
    rows = [PlanRow(name_of.get(visitor, visitor), planned, done) for visitor, (planned, done) in per_visitor.items()]
    return rows, {tier: (planned, done) for tier, (planned, done) in per_tier.items()}


def leadership_urgent(db: Database, cfg: Config, month: Month) -> tuple[list, int]:
    """Return leadership's own urgent reports of the month (they belong to no unit) and how many
    of any month were not closed at its end – for the company summary."""
    name_of = {email: person.name for email, person in cfg.organisation.people().items()}
    return _urgent(db, cfg, None, month, name_of)


def _urgent(db: Database, cfg: Config, unit_id: str | None, month: Month, name_of: dict) -> tuple[list, int]:
    zone = cfg.policy.zone
    start, end = month.utc_bounds(zone)
    items = []
    # unit_id None: leadership's own reports, stored without a unit.
    unit_is = "u.unit IS ?" if unit_id is None else "u.unit = ?"
    for row in db.query(
            "SELECT u.*, (SELECT MIN(acknowledged_at) FROM urgent_recipients WHERE report = u.id) AS first_ack "
            f"FROM urgent_reports u WHERE {unit_is} AND u.created_at >= ? AND u.created_at < ? ORDER BY u.id",
            [unit_id, start, end]):
        created = datetime.fromisoformat(row["created_at"])
        acked = row["first_ack"] or row["acknowledged_at"]
        after = (datetime.fromisoformat(acked) - created).total_seconds() / 3600 if acked else None
        items.append(UrgentItem(
            ref=f"VF-U-{row['id']}", category=row["category"], customer=row["customer"] or None,
            reporter=name_of.get(row["reporter"], row["reporter"]), created=created.astimezone(zone),
            acknowledged_after=max(after, 0.0) if after is not None else None, state=row["state"],
            level=row["level"]))
    still_open = db.execute(
        f"SELECT COUNT(*) FROM urgent_reports u WHERE {unit_is} AND created_at < ? "
        "AND (closed_at IS NULL OR closed_at >= ?)", [unit_id, end, end]).fetchone()[0]
    return items, still_open


def _gifts(db: Database, cfg: Config, unit_id: str, month: Month, name_of: dict) -> tuple[list, GiftBudget]:
    from ..workflows.gift_approval import budget_period

    zone = cfg.policy.zone
    start, end = month.utc_bounds(zone)
    items = [GiftItem(
        ref=f"VF-G-{row['id']}", customer=row["customer"], requester=name_of.get(row["requester"], row["requester"]),
        items=row["items"], quantity=row["quantity"] or "", amount=Decimal(row["amount"]), state=row["state"],
        applied=datetime.fromisoformat(row["created_at"]).astimezone(zone),
        decided=datetime.fromisoformat(row["decided_at"]).astimezone(zone) if row["decided_at"] else None)
        for row in db.query("SELECT * FROM gift_requests WHERE unit = ? AND created_at >= ? AND created_at < ? "
                            "ORDER BY id", [unit_id, start, end])]
    period = budget_period(cfg, datetime.combine(month.first, time(12), zone))
    spent = sum((Decimal(a) for (a,) in db.execute(
        "SELECT amount FROM gift_requests WHERE unit = ? AND budget_period = ? AND state = 'approved'",
        [unit_id, period])), Decimal("0"))
    return items, GiftBudget(period, spent, cfg.policy.gift.budgets.get(unit_id))


# --------------------------------------------------------------------------- helpers


def _tech_recipients(cfg: Config, region_id: str, major: bool) -> tuple[str, ...]:
    """Return who a technical issue from region_id was mailed to (as daily_report routes it)."""
    region = cfg.organisation.regions.get(region_id)
    names = [p.name for p in region.technical] if region else []
    if major:
        names += [p.name for p in (*cfg.organisation.production, *cfg.organisation.technical_department)]
    return tuple(names)


def _region_name(cfg: Config, region_id: str) -> str:
    region = cfg.organisation.regions.get(region_id)
    return region.name if region else region_id


def _local(text: str, zone: ZoneInfo) -> datetime:
    """Return a stored visit time (local, naive ISO) or a UTC timestamp as local naive-free datetime."""
    value = datetime.fromisoformat(text)
    return value.astimezone(zone) if value.tzinfo else value


def _received(text: str | None, zone: ZoneInfo) -> datetime | None:
    return datetime.fromisoformat(text).astimezone(zone) if text else None


def _sent_day(sent_at: str | None, received_at: str, zone: ZoneInfo) -> date:
    """Return the local day a report was sent (see the module docstring: Date header, bounded)."""
    received = datetime.fromisoformat(received_at)
    if sent_at:
        try:
            sent = datetime.fromisoformat(sent_at)
        except ValueError:
            sent = None
        if sent is not None and sent.tzinfo and received - timedelta(days=1) <= sent <= received:
            return sent.astimezone(zone).date()
    return received.astimezone(zone).date()
