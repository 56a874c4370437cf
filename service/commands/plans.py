"""``visitflow plans``: the units' visit plans (巡访计划, spec §4, Article 5).

``import`` is all or nothing, as a mailed plan is: every problem is named with its row (exit
2) and nothing is stored. A good file replaces the unit's current plan for its period (kept
as history) and queues each visitor's calendar mail, which the daemon or ``visitflow poll``
sends. ``list`` shows the current plans with scheduled against visited visits per visitor
and customer (``store.plans.plan_vs_actual``).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click


@click.group()
def plans() -> None:
    """Import and list visit plans (巡访计划)."""


@plans.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--unit", help="The unit (id or name), when the file names none.")
@click.option("--dry-run", is_flag=True, help="Check the file and show what it holds; store and send nothing.")
@click.option("--no-mail", is_flag=True, help="Store the plan without mailing the visitors their calendars.")
@click.pass_context
def import_(ctx: click.Context, file: str, unit: str | None, dry_run: bool, no_mail: bool) -> None:
    """Import a visit plan from .xlsx, .csv (UTF-8, UTF-8 with BOM, GBK/GB18030) or .yaml.

    The first rows hold 营业单位 unit, 期间 period (2027, 2026-Q4, 2026-12, 2026年12月 …),
    重点推销商品, 重点调查项目, 特别调查项目 as "label: value" or "label | value"; then the
    table 日期 date (a day, 2026-W49 or a month), 客户名称 customer, 巡访人 visitor, 目的
    purpose. The plan replaces the unit's current plan for the period; each visitor is
    mailed their visits with an .ics calendar (queued for the daemon or `visitflow poll`).

    Example: visitflow plans import 华东12月巡访计划.xlsx --dry-run
    """
    from ..cli import _config, _context
    from ..errors import VisitflowError
    from ..reading.plans import read_plan_file
    from ..store.customers import CustomerIndex
    from ..store.db import transaction
    from ..workflows.visit_plan import accept

    path = Path(file)
    cfg = _config(ctx)
    unit_id = _unit(cfg, unit) if unit else None
    plan = read_plan_file(path.read_bytes(), path.name, cfg, unit=unit_id)
    if plan.problems:
        lines = [p.text(cfg.policy.language) for p in plan.problems]
        raise VisitflowError(f"{path.name} 未导入（全部不写入）：{len(lines)} 处问题，请改正后重新导入", problems=lines)
    context = _context(ctx)
    try:
        if dry_run:
            index = CustomerIndex.load(context.db, plan.unit)
            counts: dict[str, int] = {}
            for visit in plan.visits:
                counts[visit.visitor] = counts.get(visit.visitor, 0) + 1
            unknown = list(dict.fromkeys(v.customer for v in plan.visits if index and index.match(v.customer) is None))
            click.echo(f"dry run, nothing stored or sent: {path.name} is a plan for {_heading(cfg, plan.unit, plan.period)}"
                       f", {len(plan.visits)} visit(s)")
            _print_counts(cfg, list(counts.items()), unknown, bool(index))
            return
        with transaction(context.db):
            accepted = accept(context, plan, submitted_by="cli", message=None, calendars=not no_mail)
    finally:
        context.close()
    saved = accepted.saved
    click.echo(f"imported {path.name} as plan P-{saved.id} for {_heading(cfg, plan.unit, plan.period)}, "
               f"version {saved.version}, {len(plan.visits)} visit(s)"
               + (f"; replaces P-{saved.replaced}" if saved.replaced else ""))
    _print_counts(cfg, accepted.visitors, accepted.unknown_customers, accepted.has_registry)
    if accepted.calendars:
        click.echo(f"calendar mails queued for {len(accepted.calendars)} visitor(s); the daemon or "
                   "`visitflow poll` sends them")


@plans.command("list")
@click.option("--period", help="Only plans sharing days with this period (2026-12, 2026-Q4, 2027, 2026年12月 …); "
                               "their counts are for those days.")
@click.option("--unit", help="Only this unit (id or name).")
@click.pass_context
def list_(ctx: click.Context, period: str | None, unit: str | None) -> None:
    """List the current visit plans: scheduled against visited, per visitor and customer.

    A visit counts when the visitor reported it in a daily report (the current one for its
    date) within the plan's days and its customer is the planned one: the same customer of
    the registry, or the same name once normalised.

    Example: visitflow plans list --period 2026-12 --unit east
    """
    from ..cli import _config, _context
    from ..errors import VisitflowError
    from ..reading.periods import parse_period
    from ..store import plans as store

    cfg = _config(ctx)
    unit_id = _unit(cfg, unit) if unit else None
    window = None
    if period:
        window = parse_period(period)
        if window is None:
            raise VisitflowError(f"--period {period!r} is not a period: write 2027, 2026-Q4, 2026-12 or 2026年12月")
    context = _context(ctx)
    try:
        found = store.plans_overlapping(context.db, window.start if window else date.min,
                                        window.end if window else date.max, unit=unit_id)
        tables = [(row, store.plan_vs_actual(context.db, row["id"], start=window.start if window else None,
                                             end=window.end if window else None)) for row in found]
    finally:
        context.close()
    people = cfg.organisation.people()
    for row, counts in tables:
        days = (f"{max(row['period_start'], window.start.isoformat())} – {min(row['period_end'], window.end.isoformat())}"
                if window else f"{row['period_start']} – {row['period_end']}")
        by = people[row["submitted_by"]].name if row["submitted_by"] in people else row["submitted_by"]
        click.echo(f"P-{row['id']} {row['unit']} {_unit_name(cfg, row['unit'])} {row['period']}, version "
                   f"{row['version']} from {by} ({row['created_at'][:10]}); {days}: scheduled "
                   f"{sum(c.scheduled for c in counts)}, visited {sum(c.visited for c in counts)}")
        visitor = None
        for c in counts:
            if c.visitor != visitor:
                visitor = c.visitor
                mine = [x for x in counts if x.visitor == visitor]
                name = people[visitor].name if visitor in people else visitor
                click.echo(f"  {name} <{visitor}>: scheduled {sum(x.scheduled for x in mine)}, "
                           f"visited {sum(x.visited for x in mine)}")
            click.echo(f"    {c.customer}: scheduled {c.scheduled}, visited {c.visited}")
    scope = " ".join(filter(None, [f"for {period}" if period else "", f"of unit {unit_id}" if unit_id else ""]))
    click.echo(f"{len(tables)} current plan(s)" + (f" {scope}" if scope else ""))


def _unit(cfg, text: str) -> str:
    """Return the id of the unit named by id or name, or raise a one-line error listing the units."""
    from ..errors import VisitflowError

    key = text.strip().casefold()
    for u in cfg.organisation.units.values():
        if key in (u.id.casefold(), u.name.casefold()):
            return u.id
    raise VisitflowError(f"unknown unit {text!r}: the units are "
                         + ", ".join(f"{u.id} ({u.name})" for u in cfg.organisation.units.values()))


def _unit_name(cfg, unit: str) -> str:
    found = cfg.organisation.units.get(unit)
    return found.name if found else ""


def _heading(cfg, unit: str, period) -> str:
    return f"{unit} {_unit_name(cfg, unit)} {period.key} ({period.start} – {period.end})"


def _print_counts(cfg, visitors: list[tuple[str, int]], unknown: list[str], has_registry: bool) -> None:
    people = cfg.organisation.people()
    for email, count in visitors:
        click.echo(f"  {people[email].name if email in people else email} <{email}>: {count} visit(s)")
    if not has_registry:
        click.echo("the unit has no customer registry yet: customer names were not checked")
    elif unknown:
        click.echo(f"not in the unit's customer registry: {'、'.join(unknown)}")
