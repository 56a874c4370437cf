"""``visitflow customers``: the customer registry (spec §5, Articles 2 and 4).

``import`` is all or nothing: every bad row is named by row and column (exit 2) and nothing is
written; a good file adds and updates customers by id and says how many were added, changed
and left unchanged, with a warning line per customer whose designated visitor is the
region's salesperson (Article 4). ``export`` writes a file ``import`` reads back unchanged.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import click

_TIERS = click.Choice(["A", "B", "C", "D"], case_sensitive=False)


@click.group()
def customers() -> None:
    """Import, export and list the customer registry (客户名录)."""


@customers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check the file and say what would change; write nothing.")
@click.pass_context
def import_(ctx: click.Context, file: str, dry_run: bool) -> None:
    """Import customers from a .csv (UTF-8, GBK) or .xlsx file with Chinese or English headers.

    Columns: 客户编号 id, 客户名称 name, 别名 aliases, 类型 type, 地区 region, 等级 tier,
    指定巡访人 designated_visitor, 联系人 contact, 电话 phone, 地址 address. Customers are
    updated by id; the import is all or nothing.

    Example: visitflow customers import 客户名录.xlsx --dry-run
    """
    from ..cli import _config, _context
    from ..errors import VisitflowError
    from ..reading.customers import read_customers
    from ..reading.tables import TableError, read_table
    from ..store.customers import ImportRefused, import_customers

    path = Path(file)
    cfg = _config(ctx)
    try:
        rows = read_table(path.read_bytes(), path.name)
    except TableError as exc:
        raise VisitflowError(str(exc)) from None
    read = read_customers(rows, cfg)
    if read.problems:
        raise _refused(path, [p.text() for p in read.problems])
    if not read.customers:
        raise VisitflowError(f"{path.name} 中没有客户（表头下面没有数据行）")
    context = _context(ctx)
    try:
        result = import_customers(context.db, read.customers, dry_run=dry_run)
    except ImportRefused as exc:
        raise _refused(path, [p.text() for p in exc.problems]) from None
    finally:
        context.close()
    regions = cfg.organisation.regions
    people = cfg.organisation.people()
    for c in result.flagged:
        visitor = people.get(c.designated_visitor or "")
        click.echo(f"警告：第 {c.row} 行 {c.id}“{c.name}”的指定巡访人 {visitor.name if visitor else c.designated_visitor} "
                   f"是{regions[c.region].name}地区的业务员（第四条：原则上不能由本地区的负责业务员担任）")
    counts = f"{len(result.added)} added, {len(result.changed)} changed, {len(result.unchanged)} unchanged"
    if dry_run:
        click.echo(f"dry run, nothing written: {path.name} would give {counts}")
        for label, ids in (("add", result.added), ("change", result.changed)):
            if ids:
                click.echo(f"  would {label}: {', '.join(ids)}")
    else:
        click.echo(f"imported {path.name}: {counts}")


def _refused(path: Path, lines: list[str]):
    from ..errors import VisitflowError

    return VisitflowError(f"{path.name} 未导入（全部不写入）：{len(lines)} 处问题，请改正后重新导入", problems=lines)


@customers.command("export")
@click.argument("file", type=click.Path(dir_okay=False))
@click.pass_context
def export(ctx: click.Context, file: str) -> None:
    """Write the registry to a .csv (UTF-8 with BOM) or .xlsx file that `customers import` reads back.

    Headers are Chinese, or English when policy.language is en.

    Example: visitflow customers export 客户名录.xlsx
    """
    from ..cli import _config, _context
    from ..documents.tables import SUFFIXES, table_bytes
    from ..errors import VisitflowError
    from ..reading.customers import export_rows
    from ..store.customers import load_customers

    path = Path(file)
    if path.suffix.lower() not in SUFFIXES:
        raise VisitflowError(f"cannot export to {path.name}: name a .csv or .xlsx file")
    cfg = _config(ctx)
    context = _context(ctx)
    try:
        registry = load_customers(context.db)
    finally:
        context.close()
    language = cfg.policy.language
    data = table_bytes(export_rows(registry, cfg, language=language), path.suffix,
                       sheet_title="Customers" if language == "en" else "客户名录")
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise VisitflowError(f"cannot write {path}: {exc.strerror or exc}") from None
    click.echo(f"exported {len(registry)} customer(s) to {path}")


@customers.command("list")
@click.option("--tier", type=_TIERS, help="Only customers of this tier.")
@click.option("--unit", help="Only customers of this unit (id).")
@click.option("--overdue", is_flag=True, help="Only customers not visited within their tier's overdue_days.")
@click.option("--as-of", "as_of", metavar="YYYY-MM-DD", help="Day the overdue check is made for (default: today).")
@click.pass_context
def list_(ctx: click.Context, tier: str | None, unit: str | None, overdue: bool, as_of: str | None) -> None:
    """List the registry; with --overdue, the customers behind their tier's visits.

    Overdue: the days since the last visit (or since the first import, when never visited)
    exceed policy.overdue_days for the customer's tier. A flagged designated visitor (the
    region's own salesperson, Article 4) is marked "!".

    Example: visitflow customers list --overdue --tier A --as-of 2026-12-15
    """
    from ..cli import _config, _context
    from ..errors import VisitflowError
    from ..store import customers as store

    cfg = _config(ctx)
    tier = tier.upper() if tier else None
    if unit is not None and unit not in cfg.organisation.units:
        raise VisitflowError(f"unknown unit {unit!r}: the units are {', '.join(cfg.organisation.units)}")
    try:
        day = date.fromisoformat(as_of) if as_of else datetime.now(cfg.policy.zone).date()
    except ValueError:
        raise VisitflowError(f"--as-of {as_of!r} is not a date: write it as 2026-12-15") from None
    context = _context(ctx)
    try:
        if overdue:
            found = [o for o in store.overdue(context.db, cfg, day, tier=tier) if unit in (None, o.customer.unit)]
            _print_overdue(cfg, found, day)
            return
        registry = store.load_customers(context.db, unit=unit, tier=tier)
        last = store.last_visits(context.db, before=date.max)
    finally:
        context.close()
    people = cfg.organisation.people()
    for c in registry:
        visitor = people.get(c.designated_visitor or "")
        seen = last.get(c.id)
        click.echo("\t".join([
            c.id, c.name, c.tier, c.type, _region_name(cfg, c.region),
            (visitor.name if visitor else c.designated_visitor or "-") + (" !" if c.salesperson_flag else ""),
            f"last visit {seen}" if seen else "never visited"]))
    flagged = sum(c.salesperson_flag for c in registry)
    click.echo(f"{len(registry)} customer(s)" + (f"; {flagged} with the region's salesperson as designated "
                                                  "visitor (!, Article 4)" if flagged else ""))


def _print_overdue(cfg, found, day: date) -> None:
    for o in found:
        c = o.customer
        last = str(o.last_visit) if o.last_visit else "never"
        since = "days since last visit" if o.last_visit else "days since import"
        click.echo("\t".join([c.id, c.name, c.tier, _region_name(cfg, c.region), f"last visit {last}",
                              f"{o.days} {since} (limit {o.limit})"]))
    click.echo(f"{len(found)} customer(s) overdue as of {day}")


def _region_name(cfg, region: str) -> str:
    found = cfg.organisation.regions.get(region)
    return found.name if found else region
