"""The figures of one monthly visit report (每月巡访情况报告书, Article 10), as plain frozen data.

Whoever computes the month's figures from the database fills a ``MonthlyReport``;
``service.monthly.document.write_report`` turns it into the Word report and the .xlsx beside
it. The two halves meet only here, so every field says what it holds.

Conventions, for every class below:

- Counts are ``int`` (never negative). Money is ``Decimal`` in CNY yuan. Rates are never
  stored: each class derives its percentages from its counts (``None`` when the base is 0,
  shown as "—"), so a figure and its rate cannot disagree.
- A ``date`` is a calendar day in the policy's time zone. A ``datetime`` is wall-clock time in
  ``MonthlyReport.timezone``: naive values are taken as already local, aware ones are
  converted to that zone when written.
- People are shown by name; ``email`` fields identify them and may be empty.
- Sequences may be passed as lists; they are kept as tuples (a report is immutable).
- Every class has slots: a company's month is 100,000 ``VisitRow`` objects.
- Rows are shown in the order given: ranking (who is most behind, which customer is most
  overdue) is the figures' decision. Only the free-text sections are regrouped by customer
  when written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

__all__ = [
    "DayCount", "GiftBudget", "GiftItem", "Kpis", "MonthlyReport", "OverdueCustomer", "PlanRow",
    "RepDiscipline", "RepVisits", "TechIssue", "TextDigest", "TextEntry", "TextGroup", "TierCoverage", "UnitInfo",
    "UnitSummary", "UnmatchedName", "UrgentItem", "Violation", "VisitRow", "percent",
]

LANGUAGES = ("zh-CN", "en")
URGENT_STATES = ("open", "acknowledged", "closed")
URGENT_LEVELS = ("unit", "leadership")
GIFT_STATES = ("pending", "approved", "rejected")
PERIODS = ("month", "quarter")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def percent(part: int | Decimal, whole: int | Decimal | None) -> float | None:
    """Return part / whole in percent, or None when there is no base to compare with."""
    if not whole:
        return None
    return float(part) * 100.0 / float(whole)


def _tuples(obj, *names: str) -> None:
    """Store the named sequence fields of a frozen instance as tuples."""
    for name in names:
        value = getattr(obj, name)
        if not isinstance(value, tuple):
            object.__setattr__(obj, name, tuple(value))


def _not_negative(obj, *names: str) -> None:
    for name in names:
        if getattr(obj, name) < 0:
            raise ValueError(f"{type(obj).__name__}.{name} is negative ({getattr(obj, name)})")


@dataclass(frozen=True, slots=True)
class UnitInfo:
    """Name a business unit (营业单位 / 事业部) as config.yaml's organisation.units does."""

    id: str             # config id, e.g. "east"; used in English file names
    name: str           # e.g. "华东事业部"; in Chinese file names, titles, page headers
    head: str = ""      # the unit head's name, shown as the report's compiler (may be empty)


@dataclass(frozen=True, slots=True)
class Kpis:
    """Hold the first page's key figures for one unit (or, summed, the company) and month."""

    visits: int = 0             # visits in the month (current reports only, not replaced ones)
    reps: int = 0               # reps of the unit in config
    reps_reporting: int = 0     # reps with at least one daily report in the month
    reports_due: int = 0        # rep × working day pairs on which a daily report was due
    reports_on_time: int = 0    # of those, reported the same working day
    reports_late: int = 0       # of those, reported on a later day
    reports_missing: int = 0    # of those, never reported
    customers: int = 0          # registered customers whose tier requires visits this month
    customers_covered: int = 0  # of those, visited at least as often as their tier requires
    planned_visits: int = 0     # visits scheduled in the month's visit plan(s)
    planned_done: int = 0       # of those, done (the planned customer visited by the visitor)
    urgent_total: int = 0       # urgent reports raised in the month
    urgent_open: int = 0        # urgent reports (of any month) not closed at the month's end
    gift_spent: Decimal = Decimal(0)    # approved gift amounts counted in the budget period
    gift_budget: Decimal | None = None    # the unit's budget for that period; None: no budget set

    def __post_init__(self):
        _not_negative(self, "visits", "reps", "reps_reporting", "reports_due", "reports_on_time",
                      "reports_late", "reports_missing", "customers", "customers_covered",
                      "planned_visits", "planned_done", "urgent_total", "urgent_open")

    @property
    def reporting_pct(self) -> float | None:
        return percent(self.reps_reporting, self.reps)

    @property
    def on_time_pct(self) -> float | None:
        return percent(self.reports_on_time, self.reports_due)

    @property
    def coverage_pct(self) -> float | None:
        return percent(self.customers_covered, self.customers)

    @property
    def plan_pct(self) -> float | None:
        return percent(self.planned_done, self.planned_visits)

    @property
    def gift_used_pct(self) -> float | None:
        return percent(self.gift_spent, self.gift_budget)


@dataclass(frozen=True, slots=True)
class RepDiscipline:
    """Say how one rep kept to the daily report (Article 9) over the month's working days."""

    name: str
    email: str
    due: int        # working days (policy.working_days, holidays, 调休) the rep owed a report
    on_time: int    # reported on the day itself
    late: int       # reported on a later day
    missing: int    # never reported; on_time + late + missing == due

    def __post_init__(self):
        _not_negative(self, "due", "on_time", "late", "missing")
        if self.on_time + self.late + self.missing != self.due:
            raise ValueError(f"RepDiscipline for {self.name}: on_time {self.on_time} + late {self.late} "
                             f"+ missing {self.missing} is not due {self.due}")

    @property
    def on_time_pct(self) -> float | None:
        return percent(self.on_time, self.due)


@dataclass(frozen=True, slots=True)
class RepVisits:
    """Count one rep's visits in the month (a silent rep has zeros)."""

    name: str
    email: str
    visits: int      # visits reported
    customers: int   # distinct customers among them (matched, or as written when unmatched)
    days: int        # distinct days with at least one visit

    def __post_init__(self):
        _not_negative(self, "visits", "customers", "days")


@dataclass(frozen=True, slots=True)
class TierCoverage:
    """Compare one tier's customers (Article 2) with the visits required and the visits planned."""

    tier: str                  # "A" … "D"
    customers: int             # registered customers of the tier
    required_visits: int       # visits each customer needs per required_period (policy.tier_frequency)
    required_period: str       # "month" | "quarter" (a quarter's visits may fall in any of its months)
    visited_enough: int        # customers visited at least as required (for a quarter: so far in it)
    planned: int = 0           # visits to the tier's customers in the month's plan
    planned_done: int = 0      # of those, done

    def __post_init__(self):
        _not_negative(self, "customers", "required_visits", "visited_enough", "planned", "planned_done")
        if self.required_period not in PERIODS:
            raise ValueError(f"TierCoverage.required_period must be one of {PERIODS}, not {self.required_period!r}")

    @property
    def coverage_pct(self) -> float | None:
        return percent(self.visited_enough, self.customers)

    @property
    def plan_pct(self) -> float | None:
        return percent(self.planned_done, self.planned)


@dataclass(frozen=True, slots=True)
class OverdueCustomer:
    """Name a customer whose last visit is longer ago than its tier allows (policy.overdue_days)."""

    customer: str               # the registry's name
    tier: str
    region: str                 # region name
    visitor: str                # the designated visitor's name ("" when none is designated)
    last_visit: date | None     # None: never visited
    days_since: int | None      # days from the last visit to the month's last day; None: never
    limit_days: int             # policy.overdue_days for the tier


@dataclass(frozen=True, slots=True)
class TextEntry:
    """Hold one visit's free text for a section (customer feedback, market, matters handled)."""

    customer: str    # the registry's name when matched, else as the rep wrote it
    rep: str         # the rep's name
    day: date        # the visit's day
    text: str        # the full text, as reported (line breaks kept)


class TextGroup(NamedTuple):
    """One customer's entries in a free-text section: how many, and the earliest of them."""

    customer: str
    count: int                          # entries of this customer in the section
    entries: tuple[TextEntry, ...]      # by day (ties in the order given), at most TextDigest.keep


@dataclass(frozen=True, slots=True)
class TextDigest:
    """Stand for a free-text section by what the Word document can show of it.

    The document groups a section by customer (first mention first, then most entries first)
    and shows each customer's earliest entries; this keeps, per customer in order of first
    mention, the count and the ``keep`` earliest entries (None: all). A company's month has
    about 100,000 entries per section; the summary needs a few hundred of them. ``len()`` is
    the section's number of entries.
    """

    total: int
    groups: tuple[TextGroup, ...]
    keep: int | None = None

    def __len__(self) -> int:
        return self.total

    @classmethod
    def of(cls, entries, keep: int | None = None) -> TextDigest:
        """Return the digest of a section's entries (or the digest itself when given one)."""
        if isinstance(entries, TextDigest):
            return entries
        groups: dict[str, list[TextEntry]] = {}
        for entry in entries:
            groups.setdefault(entry.customer, []).append(entry)
        return cls(len(entries), tuple(TextGroup(customer, len(items), tuple(sorted(items, key=_day)[:keep]))
                                       for customer, items in groups.items()), keep)

    @classmethod
    def joined(cls, sections, keep: int | None = None) -> TextDigest:
        """Return the digest of the sections one after the other (as if their entries were joined in order).

        A customer's earliest ``keep`` entries of the whole are among the earliest ``keep`` of
        each part, so digests of the parts are enough.
        """
        groups: dict[str, list] = {}
        total = 0
        for section in sections:
            digest = cls.of(section, keep)
            total += digest.total
            for group in digest.groups:
                sums = groups.setdefault(group.customer, [0, []])
                sums[0] += group.count
                sums[1].extend(group.entries)
        return cls(total, tuple(TextGroup(customer, count, tuple(sorted(items, key=_day)[:keep]))
                                for customer, (count, items) in groups.items()), keep)


def _day(entry: TextEntry) -> date:
    return entry.day


@dataclass(frozen=True, slots=True)
class TechIssue:
    """Hold a visit's technical issue (Article 7) and where it was sent."""

    customer: str
    rep: str
    day: date
    text: str
    routed_to: tuple[str, ...] = ()  # names of the people / departments it was mailed to
    major: bool = False              # marked 重大 / major (also sent to production and technical)

    def __post_init__(self):
        _tuples(self, "routed_to")


@dataclass(frozen=True, slots=True)
class UrgentItem:
    """Summarise one urgent report (巡访紧急报告, Article 11) raised in the month."""

    ref: str                          # "VF-U-17"
    category: str                     # competitor_policy | competitor_product | competitor_trend | product_defect | other
    customer: str | None              # None: no customer named
    reporter: str                     # the reporter's name
    created: datetime                 # when it was raised (local time, see the module docstring)
    acknowledged_after: float | None  # hours from creation to the first 收到 / ack; None: never acknowledged
    state: str                        # open | acknowledged | closed (at the report's generation)
    level: str = "unit"               # unit (with the unit head) | leadership (went up)

    def __post_init__(self):
        if self.state not in URGENT_STATES:
            raise ValueError(f"UrgentItem {self.ref}: state must be one of {URGENT_STATES}, not {self.state!r}")
        if self.level not in URGENT_LEVELS:
            raise ValueError(f"UrgentItem {self.ref}: level must be one of {URGENT_LEVELS}, not {self.level!r}")
        if self.acknowledged_after is not None and self.acknowledged_after < 0:
            raise ValueError(f"UrgentItem {self.ref}: acknowledged_after is negative")


@dataclass(frozen=True, slots=True)
class GiftItem:
    """Summarise one gift request (赠送礼品预算申请表, Article 6) made in the month."""

    ref: str                          # "VF-G-5"
    customer: str
    requester: str                    # the rep's name
    items: str                        # what is given
    quantity: str                     # as written ("2 盒")
    amount: Decimal                   # CNY
    state: str                        # pending | approved | rejected
    applied: datetime                 # when requested
    decided: datetime | None = None   # when the last step decided; None while pending

    def __post_init__(self):
        if self.state not in GIFT_STATES:
            raise ValueError(f"GiftItem {self.ref}: state must be one of {GIFT_STATES}, not {self.state!r}")


@dataclass(frozen=True, slots=True)
class GiftBudget:
    """Set the unit's gift spend against its budget for the budget period holding the month."""

    period: str                  # policy.gift.budget_period's key: "2026-11", "2026-Q4" or "2026"
    spent: Decimal               # approved amounts counted in that period
    budget: Decimal | None       # None: the unit has no budget in config

    @property
    def remaining(self) -> Decimal | None:
        return None if self.budget is None else self.budget - self.spent

    @property
    def over(self) -> bool:
        return self.budget is not None and self.spent > self.budget

    @property
    def used_pct(self) -> float | None:
        return percent(self.spent, self.budget)


@dataclass(frozen=True, slots=True)
class Violation:
    """Flag a customer whose designated visitor is the region's own salesperson (Article 4)."""

    customer: str
    region: str      # region name
    visitor: str     # the designated visitor's name


@dataclass(frozen=True, slots=True)
class UnmatchedName:
    """List a customer name from the month's visits that matches no registered customer."""

    name: str                   # as the reps wrote it
    visits: int                 # visits under that name in the month
    reps: tuple[str, ...] = ()  # names of the reps who wrote it

    def __post_init__(self):
        _tuples(self, "reps")


@dataclass(frozen=True, slots=True)
class PlanRow:
    """Compare planned with done visits for one rep (in a company summary: one unit)."""

    name: str
    planned: int    # visits scheduled for this visitor in the month's plan
    done: int       # of those, done

    def __post_init__(self):
        _not_negative(self, "planned", "done")

    @property
    def pct(self) -> float | None:
        return percent(self.done, self.planned)


class DayCount(NamedTuple):
    """Count visits on one day; a plain ``(date, count)`` tuple works the same."""

    day: date
    visits: int


@dataclass(frozen=True, slots=True)
class UnitSummary:
    """One unit's key figures, a row of the company summary's unit table."""

    unit: UnitInfo
    kpis: Kpis


@dataclass(frozen=True, slots=True)
class VisitRow:
    """Hold one visit with every field, a row of the .xlsx (the columns come in this order)."""

    unit: str                        # unit name
    region: str                      # region name
    rep: str                         # rep name
    rep_email: str
    report_date: date                # the daily report's date (日期)
    visited_at: datetime             # 巡访时间, local
    visited_until: datetime | None   # end of the visit when a range was given
    customer: str                    # as the rep wrote it
    customer_matched: str | None     # the registry's name; None: unmatched
    customer_id: str | None          # the registry's 客户编号
    tier: str | None                 # the matched customer's tier
    feedback: str = ""               # 客户意见
    market: str = ""                 # 市场行情
    effect: str = ""                 # 巡访效果
    handled: str = ""                # 处理事项
    other: str = ""                  # 其他事项
    stock: str = ""                  # 库存销售
    products: str = ""               # 推广产品
    tech_issue: str = ""             # 技术问题
    tech_major: bool = False         # the technical issue is major
    urgent: str | None = None        # urgent category key of the visit's 紧急 field
    submitted_at: datetime | None = None   # when the report mail arrived
    late: bool = False               # the report came after its working day
    cards: int = 0                   # customer cards (attachments) kept with the report


VISIT_FIELDS = tuple(f.name for f in fields(VisitRow))


@dataclass(frozen=True, slots=True)
class MonthlyReport:
    """Hold everything one 每月巡访情况报告书 shows: one unit's month, or (unit None) the company's.

    For the company summary, ``units`` lists each unit's key figures, ``plan_vs_actual`` has one
    row per unit, and the other lists span all units (the writer trims long lists in the Word
    document; the .xlsx keeps every row).
    """

    month: str                                   # "2026-11"
    unit: UnitInfo | None                        # None: the company summary
    generated_at: datetime                       # when the figures were taken
    kpis: Kpis = field(default_factory=Kpis)
    language: str = "zh-CN"                      # zh-CN | en: which template and which words
    timezone: str = "Asia/Shanghai"              # policy.timezone; every datetime is local to it
    discipline: tuple[RepDiscipline, ...] = ()   # one row per rep of the unit (silent reps too)
    visits_per_rep: tuple[RepVisits, ...] = ()   # one row per rep of the unit (silent reps too)
    tier_coverage: tuple[TierCoverage, ...] = ()  # one row per tier with customers
    overdue: tuple[OverdueCustomer, ...] = ()    # most overdue first, as the figures rank them
    # The free-text sections: entries, or (a company summary) their TextDigest.
    feedback: tuple[TextEntry, ...] | TextDigest = ()   # 客户意见: opinions, suggestions, complaints
    market: tuple[TextEntry, ...] | TextDigest = ()     # 市场行情: market and competitor intelligence
    handled: tuple[TextEntry, ...] | TextDigest = ()    # 处理事项: matters handled, process and result
    tech_issues: tuple[TechIssue, ...] = ()
    urgent: tuple[UrgentItem, ...] = ()
    gifts: tuple[GiftItem, ...] = ()
    gift_budget: GiftBudget | None = None        # None: gifts are not budgeted for this unit
    violations: tuple[Violation, ...] = ()
    unmatched: tuple[UnmatchedName, ...] = ()
    plan_vs_actual: tuple[PlanRow, ...] = ()
    visits_per_day: tuple[DayCount, ...] = ()    # days without visits may be left out
    days_off: tuple[date, ...] | None = None     # the month's days off (statutory calendar); None: weekends
    units: tuple[UnitSummary, ...] = ()          # company summary only
    visits: tuple[VisitRow, ...] = ()            # every visit of the month, for the .xlsx (see without_details)

    def __post_init__(self):
        if not _MONTH.match(self.month):
            raise ValueError(f"MonthlyReport.month must look like 2026-11, not {self.month!r}")
        if self.language not in LANGUAGES:
            raise ValueError(f"MonthlyReport.language must be one of {LANGUAGES}, not {self.language!r}")
        _tuples(self, "discipline", "visits_per_rep", "tier_coverage", "overdue", "tech_issues", "urgent", "gifts",
                "violations", "unmatched", "plan_vs_actual", "units", "visits")
        for name in ("feedback", "market", "handled"):
            if not isinstance(getattr(self, name), TextDigest):
                _tuples(self, name)
        object.__setattr__(self, "visits_per_day", tuple(DayCount(*pair) for pair in self.visits_per_day))

    def without_details(self, keep: int) -> MonthlyReport:
        """Return the report without its visits and with digests (``keep`` per customer) for its
        free-text sections: what a company summary needs of a unit, at a fraction of the memory."""
        return replace(self, visits=(), **{name: TextDigest.of(getattr(self, name), keep)
                                           for name in ("feedback", "market", "handled")})

    @classmethod
    def empty(cls, month: str, unit: UnitInfo | None, generated_at: datetime, *,
              language: str = "zh-CN", timezone: str = "Asia/Shanghai") -> MonthlyReport:
        """Return the report of a month without any data: every section says there is nothing."""
        return cls(month=month, unit=unit, generated_at=generated_at, language=language, timezone=timezone)

    @property
    def is_summary(self) -> bool:
        return self.unit is None

    @property
    def year_month(self) -> tuple[int, int]:
        year, month = self.month.split("-")
        return int(year), int(month)

    @property
    def is_empty(self) -> bool:
        """Tell whether the month has nothing to show at all (no visits, reports due, items)."""
        return not (self.kpis.visits or self.kpis.reports_due or self.visits or self.urgent or self.gifts
                    or self.overdue or self.violations or any(t.customers for t in self.tier_coverage))
