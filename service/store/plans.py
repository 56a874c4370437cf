"""Visit plans in SQLite (巡访计划, Article 5), and plan against actual visits.

Invariants:
- one current plan per unit and period: saving a new one marks the old one replaced
  (``replaced_by``, ``superseded_at``), never deletes it; ``version`` counts the plans of
  that unit and period from 1;
- plan against actual counts, per visitor and planned customer, the scheduled visits whose
  first day lies in the window and the visits of that visitor's current daily reports in the
  window whose customer is the planned one – the same registry customer (``CustomerIndex``),
  or the same normalised name (``normalise_name``) when either is not in the registry. A
  visit counts once, for the first planned customer it matches.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlite_utils import Database

from ..reading.names import normalise_name
from .customers import CustomerIndex
from .db import now

__all__ = ["PlanActual", "Saved", "current_plan", "get_plan", "plan_visits", "plan_vs_actual", "plans_overlapping",
           "save_plan"]

VISIT_FIELDS = ("row", "date", "day_start", "day_end", "customer", "customer_id", "visitor", "purpose", "uid")


@dataclass(frozen=True)
class Saved:
    id: int
    version: int
    replaced: int | None  # the plan it replaces


@dataclass(frozen=True)
class PlanActual:
    visitor: str       # email
    customer: str      # as the plan writes it
    customer_id: str | None
    scheduled: int
    visited: int


def save_plan(db: Database, *, unit: str, period: str, period_start: date, period_end: date,
              key_products: Sequence[str], key_surveys: Sequence[str], special_surveys: Sequence[str],
              source: str, submitted_by: str, message: int | None, visits: Sequence[dict]) -> Saved:
    """Store a plan and its visits (caller's transaction), replacing the unit's current one for the period.

    ``visits`` are dicts with VISIT_FIELDS (days as ISO dates). Returns the new plan's id,
    its version and the id of the plan it replaces.
    """
    previous = db.execute("SELECT id FROM plans WHERE unit = ? AND period = ? AND current = 1",
                          [unit, period]).fetchone()
    version = db.execute("SELECT count(*) FROM plans WHERE unit = ? AND period = ?", [unit, period]).fetchone()[0] + 1
    stamp = now()
    if previous:
        db.execute("UPDATE plans SET current = 0, superseded_at = ? WHERE id = ?", [stamp, previous[0]])
    plan_id = db.execute(
        "INSERT INTO plans (unit, period, period_start, period_end, key_products, key_surveys, special_surveys, "
        "source, submitted_by, message, version, current, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)",
        [unit, period, period_start.isoformat(), period_end.isoformat(), _json(key_products), _json(key_surveys),
         _json(special_surveys), source, submitted_by, message, version, stamp]).lastrowid
    if previous:
        db.execute("UPDATE plans SET replaced_by = ? WHERE id = ?", [plan_id, previous[0]])
    db.conn.executemany(
        f"INSERT INTO plan_visits (plan, {', '.join(VISIT_FIELDS)}) VALUES (?{', ?' * len(VISIT_FIELDS)})",
        [[plan_id, *(v.get(name) for name in VISIT_FIELDS)] for v in visits])
    return Saved(plan_id, version, previous[0] if previous else None)


def get_plan(db: Database, plan_id: int) -> dict | None:
    """Return the plan row (its lists decoded), or None."""
    row = next(db.query("SELECT * FROM plans WHERE id = ?", [plan_id]), None)
    return _decoded(row) if row else None


def current_plan(db: Database, unit: str, period: str) -> dict | None:
    """Return the current plan of ``unit`` for ``period`` (its lists decoded), or None."""
    row = next(db.query("SELECT * FROM plans WHERE unit = ? AND period = ? AND current = 1", [unit, period]), None)
    return _decoded(row) if row else None


def plans_overlapping(db: Database, start: date, end: date, *, unit: str | None = None) -> list[dict]:
    """Return the current plans whose period shares a day with start..end, by unit and period."""
    sql = "SELECT * FROM plans WHERE current = 1 AND period_start <= ? AND period_end >= ?"
    params: list = [end.isoformat(), start.isoformat()]
    if unit is not None:
        sql += " AND unit = ?"
        params.append(unit)
    return [_decoded(row) for row in db.query(sql + " ORDER BY unit, period_start, period_end DESC", params)]


def plan_visits(db: Database, plan_id: int) -> list[dict]:
    """Return a plan's visits in the order of the file."""
    return list(db.query("SELECT * FROM plan_visits WHERE plan = ? ORDER BY row, id", [plan_id]))


def plan_vs_actual(db: Database, plan_id: int, *, start: date | None = None,
                   end: date | None = None) -> list[PlanActual]:
    """Return scheduled against visited per visitor and planned customer (see the module's rule).

    The window is the plan's period, narrowed to start..end when given (a month of a
    quarterly plan). Sorted by visitor, then customer as first written.
    """
    plan = get_plan(db, plan_id)
    low = max(date.fromisoformat(plan["period_start"]), start or date.min).isoformat()
    high = min(date.fromisoformat(plan["period_end"]), end or date.max).isoformat()
    index = CustomerIndex.load(db, plan["unit"])
    groups: dict[tuple[str, tuple[str, str]], _Group] = {}
    for visitor, customer in db.execute(
            "SELECT visitor, customer FROM plan_visits WHERE plan = ? AND day_start BETWEEN ? AND ? ORDER BY row, id",
            [plan_id, low, high]):
        customer_id, name = index.match(customer), normalise_name(customer)
        key = (visitor, ("id", customer_id) if customer_id else ("name", name))
        group = groups.setdefault(key, _Group(visitor, customer, customer_id))
        group.names.add(name)
        group.scheduled += 1
    # Each group found by (visitor, customer id) and by (visitor, every name it was written as):
    # a month of 100,000 visits must not compare each visit with every planned customer.
    by_key: dict[tuple[str, str, str], _Group] = {}
    for group in groups.values():
        for name in group.names:
            by_key.setdefault((group.visitor, "name", name), group)
        if group.customer_id is not None:
            by_key.setdefault((group.visitor, "id", group.customer_id), group)
    visitors = sorted({group.visitor for group in groups.values()})
    if visitors:
        marks = ", ".join("?" * len(visitors))
        for rep, customer, customer_id in db.execute(
                "SELECT r.rep, v.customer, v.customer_id FROM visits v JOIN reports r ON r.id = v.report "
                f"WHERE r.current = 1 AND r.rep IN ({marks}) AND substr(v.visited_at, 1, 10) BETWEEN ? AND ? "
                "ORDER BY v.visited_at", [*visitors, low, high]):
            # visits.customer_id is the registry match made when the daily report was stored
            # (and redone by every import); a visit stored without one is matched here.
            customer_id = customer_id or index.match(customer)
            group = (by_key.get((rep, "id", customer_id)) if customer_id is not None else None) \
                or by_key.get((rep, "name", normalise_name(customer)))
            if group is not None:
                group.visited += 1
    rows = [PlanActual(g.visitor, g.customer, g.customer_id, g.scheduled, g.visited) for g in groups.values()]
    return sorted(rows, key=lambda r: (r.visitor, normalise_name(r.customer)))


@dataclass
class _Group:
    """One visitor's planned customer while counting: the names it was written as, the counts."""

    visitor: str
    customer: str
    customer_id: str | None
    names: set[str] = field(default_factory=set)
    scheduled: int = 0
    visited: int = 0


def _json(items: Sequence[str]) -> str:
    return json.dumps(list(items), ensure_ascii=False)


def _decoded(row: dict) -> dict:
    return {**row, **{name: json.loads(row[name]) for name in ("key_products", "key_surveys", "special_surveys")}}
