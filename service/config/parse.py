"""Read the whole config: organisation, policy, schedule, storage; ``parse_config`` and ``load_config``."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from ..errors import ConfigError

from .checks import _Reader
from .mail import _mail_server
from .model import (
    DEFAULT_OVERDUE_DAYS, DEFAULT_TIER_FREQUENCY, LANGUAGES, TIERS, WEEKDAYS, AutoReplyLimit, Config, Folders,
    GiftPolicy, GiftThreshold, Imap, MailServer, MonthlyPolicy, Organisation, Policy, Region, Rep, Schedule,
    Storage, TierFrequency, Unit, UrgentPolicy,
)


def _organisation(r: _Reader, data: Any) -> Organisation:
    data = r.mapping(data, "organisation")
    units: dict[str, Unit] = {}
    unit_ids: set[str] = set()  # also the invalid ones, so one mistake is reported once
    for i, item in enumerate(data.get("units") or []):
        key = f"organisation.units[{i}]"
        item = r.mapping(item, key)
        uid = r.str(item, "id", key)
        name = r.str(item, "name", key, default=uid)
        head = r.person(item.get("head"), f"{key}.head")
        if uid and uid in unit_ids:
            r.fail(f"{key}.id", f"{uid!r} is used twice")
        elif uid and head:
            units[uid] = Unit(id=uid, name=name or uid, head=head)
        if uid:
            unit_ids.add(uid)
    if not data.get("units"):
        r.fail("organisation.units", "is missing: list at least one business unit")

    regions: dict[str, Region] = {}
    for i, item in enumerate(data.get("regions") or []):
        key = f"organisation.regions[{i}]"
        item = r.mapping(item, key)
        rid = r.str(item, "id", key)
        unit = r.str(item, "unit", key)
        if unit and unit not in unit_ids:
            r.fail(f"{key}.unit", f"names unknown unit {unit!r} (known: {', '.join(sorted(unit_ids)) or 'none'})")
        technical = r.people(item.get("technical"), f"{key}.technical")
        if not 1 <= len(technical) <= 2 and item.get("technical") is not None:
            r.fail(f"{key}.technical", f"must list 1 or 2 technical staff (Article 7), not {len(technical)}")
        salespeople = r.people(item.get("salespeople"), f"{key}.salespeople", required=False)
        if rid and rid in regions:
            r.fail(f"{key}.id", f"{rid!r} is used twice")
        elif rid and unit:
            regions[rid] = Region(id=rid, name=r.str(item, "name", key, default=rid) or rid,
                                  unit=unit, salespeople=salespeople, technical=technical)

    reps: dict[str, Rep] = {}
    for i, item in enumerate(data.get("reps") or []):
        key = f"organisation.reps[{i}]"
        person = r.person(item, key)
        item = item if isinstance(item, dict) else {}
        unit = r.str(item, "unit", key)
        region = r.str(item, "region", key)
        if unit and unit not in unit_ids:
            r.fail(f"{key}.unit", f"names unknown unit {unit!r}")
        if region and region not in regions:
            r.fail(f"{key}.region", f"names unknown region {region!r}")
        elif region and unit and regions[region].unit != unit:
            r.fail(f"{key}.region", f"region {region!r} belongs to unit {regions[region].unit!r}, not {unit!r}")
        if person and person.email in reps:
            r.fail(f"{key}.email", f"{person.email} is listed twice")
        elif person and unit and region:
            reps[person.email] = Rep(name=person.name, email=person.email, language=person.language,
                                     unit=unit, region=region)
    return Organisation(
        units=units, regions=regions, reps=reps,
        leadership=r.people(data.get("leadership"), "organisation.leadership"),
        production=r.people(data.get("production"), "organisation.production"),
        technical_department=r.people(data.get("technical_department"),
                                      "organisation.technical_department"),
    )


def _policy(r: _Reader, data: Any, units: dict[str, Unit]) -> Policy:
    data = r.mapping(data, "policy", required=False)
    zone = r.str(data, "timezone", "policy", default="Asia/Shanghai")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        r.fail("policy.timezone", f"is not a known time zone: {zone!r} (e.g. Asia/Shanghai)")
        zone = "Asia/Shanghai"
    tier_frequency, overdue_days = _tier_policy(r, data)
    days = data.get("working_days", list(WEEKDAYS[:5]))
    if not isinstance(days, list) or any(str(d).lower() not in WEEKDAYS for d in days):
        r.fail("policy.working_days", f"must be a list of {', '.join(WEEKDAYS)}")
        days = list(WEEKDAYS[:5])

    gift = r.mapping(data.get("gift", {}), "policy.gift")
    thresholds = []
    for i, item in enumerate(gift.get("thresholds") or []):
        key = f"policy.gift.thresholds[{i}]"
        item = r.mapping(item, key)
        approvers = r.str(item, "approvers", key, default="leadership", choices=("leadership",))
        thresholds.append(GiftThreshold(amount=r.decimal(item.get("amount"), f"{key}.amount"),
                                        approvers=approvers or "leadership"))
    budgets = {}
    for unit_id, amount in r.mapping(gift.get("budgets", {}), "policy.gift.budgets").items():
        if unit_id not in units:
            r.fail(f"policy.gift.budgets.{unit_id}", "names an unknown unit")
        budgets[str(unit_id)] = r.decimal(amount, f"policy.gift.budgets.{unit_id}")
    gift_policy = GiftPolicy(
        thresholds=tuple(sorted(thresholds, key=lambda t: t.amount)),
        budget_period=r.str(gift, "budget_period", "policy.gift", default="month",
                            choices=("month", "quarter", "year")) or "month",
        budgets=budgets,
        reminder_hours=r.number(gift, "reminder_hours", "policy.gift", default=24.0),
        escalate_hours=r.number(gift, "escalate_hours", "policy.gift", default=48.0),
    )
    return Policy(
        timezone=zone,
        language=r.str(data, "language", "policy", default="zh-CN", choices=LANGUAGES) or "zh-CN",
        tier_frequency=tier_frequency,
        overdue_days=overdue_days,
        monthly=_monthly_policy(r, data.get("monthly", {})),
        working_days=tuple(str(d).lower() for d in days),
        gift=gift_policy,
        urgent_reminder_hours=r.number(data, "urgent_reminder_hours", "policy", default=4.0),
        trusted_authserv_id=r.str(data, "trusted_authserv_id", "policy", required=False),
        max_attempts=r.int(data, "max_attempts", "policy", default=3, low=1, high=100),
        retry_seconds=r.number(data, "retry_seconds", "policy", default=30.0),
        max_attachment_bytes=r.int(data, "max_attachment_bytes", "policy", default=10 * 1024 * 1024,
                                   low=1024),
        max_unzipped_bytes=r.int(data, "max_unzipped_bytes", "policy", default=50 * 1024 * 1024,
                                 low=1024),
        max_message_bytes=r.int(data, "max_message_bytes", "policy", default=40 * 1024 * 1024,
                                low=64 * 1024),
        auto_reply_limit=_auto_reply_limit(r, data.get("auto_reply_limit", {})),
        urgent=_urgent_policy(r, data.get("urgent", {})),
        holidays=_dates(r, data.get("holidays", []), "policy.holidays"),
        extra_working_days=_dates(r, data.get("extra_working_days", []), "policy.extra_working_days"),
    )


def _tier_policy(r: _Reader, data: Any) -> tuple[dict[str, TierFrequency], dict[str, int]]:
    """Read policy.visits_per_month, policy.visits_per_quarter and policy.overdue_days."""
    if "visits_per_month" in data or "visits_per_quarter" in data:
        frequency: dict[str, TierFrequency] = {}
        for period in ("month", "quarter"):
            key = f"policy.visits_per_{period}"
            counts = r.mapping(data.get(f"visits_per_{period}", {}), key)
            for tier in counts:
                if tier not in TIERS:
                    r.fail(f"{key}.{tier}", "is not a tier: use A, B, C and D")
                elif tier in frequency:
                    r.fail(f"{key}.{tier}", "is also in policy.visits_per_month: give a tier one frequency")
                else:
                    frequency[tier] = TierFrequency(r.int(counts, tier, key, default=0, high=100), period)
        for tier in TIERS:
            frequency.setdefault(tier, TierFrequency(0, "month"))
    else:
        frequency = dict(DEFAULT_TIER_FREQUENCY)
    days = r.mapping(data.get("overdue_days", {}), "policy.overdue_days")
    for tier in days:
        if tier not in TIERS:
            r.fail(f"policy.overdue_days.{tier}", "is not a tier: use A, B, C and D")
    overdue = {t: r.int(days, t, "policy.overdue_days", default=DEFAULT_OVERDUE_DAYS[t], low=1, high=1000)
               for t in TIERS}
    return frequency, overdue


def _monthly_policy(r: _Reader, data: Any) -> MonthlyPolicy:
    data = r.mapping(data, "policy.monthly")
    review = data.get("review", True)
    if not isinstance(review, bool):
        r.fail("policy.monthly.review", "must be true or false")
        review = True
    return MonthlyPolicy(review=review,
                         review_hours=r.number(data, "review_hours", "policy.monthly", default=48.0))


URGENT_CATEGORY_KEYS = ("competitor_policy", "competitor_product", "competitor_trend", "product_defect", "other")


def _urgent_policy(r: _Reader, data: Any) -> UrgentPolicy:
    data = r.mapping(data, "policy.urgent")
    direct = data.get("rep_direct", ["product_defect"])
    if not isinstance(direct, list) or any(c not in URGENT_CATEGORY_KEYS for c in direct):
        r.fail("policy.urgent.rep_direct", f"must be a list of categories: {', '.join(URGENT_CATEGORY_KEYS)}")
        direct = ["product_defect"]
    return UrgentPolicy(rep_direct=tuple(direct))


def _dates(r: _Reader, data: Any, key: str) -> tuple[date, ...]:
    if not isinstance(data, list):
        r.fail(key, "must be a list of dates such as 2026-12-31")
        return ()
    days = []
    for value in data:
        if isinstance(value, date) and not isinstance(value, datetime):
            days.append(value)
            continue
        try:
            days.append(date.fromisoformat(str(value)))
        except ValueError:
            r.fail(key, f"{value!r} is not a date such as 2026-12-31")
    return tuple(days)


def _auto_reply_limit(r: _Reader, data: Any) -> AutoReplyLimit:
    key = "policy.auto_reply_limit"
    data = r.mapping(data, key)
    return AutoReplyLimit(
        count=r.int(data, "count", key, default=5, low=1, high=10_000),
        per_minutes=r.number(data, "per_minutes", key, default=60.0),
        per_thread=r.int(data, "per_thread", key, default=3, low=1, high=1_000),
    )


def _schedule(r: _Reader, data: Any) -> Schedule:
    data = r.mapping(data, "schedule", required=False)
    monthly = r.mapping(data.get("monthly_report", {}), "schedule.monthly_report")
    return Schedule(
        daily_digest=r.clock(data, "daily_digest", "schedule", default=time(18, 0)),
        missing_report_reminder=r.clock(data, "missing_report_reminder", "schedule",
                                        default=time(17, 0)),
        monthly_report_day=r.int(monthly, "day", "schedule.monthly_report", default=1, low=1, high=28),
        monthly_report_time=r.clock(monthly, "time", "schedule.monthly_report", default=time(8, 0)),
    )


def parse_config(data: Any, *, path: Path) -> Config:
    """Validate raw YAML data into a Config, raising ConfigError listing every problem."""
    r = _Reader()
    data = r.mapping(data, "(top level)")
    service = r.mapping(data.get("service"), "service")
    address = r.email(service, "service", "address") if service else None
    imap_data = r.mapping(data.get("imap"), "imap")
    base = path.parent
    imap = _mail_server(r, imap_data, "imap", default_port=143, base=base)
    folders = r.mapping(imap_data.get("folders", {}), "imap.folders")
    folder_names = Folders(
        inbox=r.str(folders, "inbox", "imap.folders", default="INBOX") or "INBOX",
        processed=r.str(folders, "processed", "imap.folders", default="Processed") or "Processed",
        quarantine=r.str(folders, "quarantine", "imap.folders", default="Quarantine") or "Quarantine",
    )
    if len({folder_names.inbox, folder_names.processed, folder_names.quarantine}) < 3:
        r.fail("imap.folders", "inbox, processed and quarantine must be three different folders")
    smtp = _mail_server(r, data.get("smtp"), "smtp", default_port=587, base=base)
    storage = r.mapping(data.get("storage", {}), "storage")
    organisation = _organisation(r, data.get("organisation"))
    policy = _policy(r, data.get("policy"), organisation.units)
    schedule = _schedule(r, data.get("schedule"))
    known = {"service", "imap", "smtp", "storage", "organisation", "policy", "schedule"}
    for key in data:
        if key not in known:
            r.fail(str(key), f"is not a setting visitflow knows (known: {', '.join(sorted(known))})")
    if r.problems:
        raise ConfigError(f"{path}: {len(r.problems)} problem(s)", problems=r.problems)
    return Config(
        path=path,
        service_address=address or "",
        service_name=r.str(service, "name", "service", default="visitflow") or "visitflow",
        imap=Imap(**imap, folders=folder_names,
                  idle_seconds=r.int(imap_data, "idle_seconds", "imap", default=300, low=5, high=29 * 60),
                  fetch_batch=r.int(imap_data, "fetch_batch", "imap", default=100, low=1, high=1000)),
        smtp=MailServer(**smtp),
        storage=Storage(
            database=base / (r.str(storage, "database", "storage", default="var/visitflow.db") or ""),
            reports_dir=base / (r.str(storage, "reports_dir", "storage", default="var/reports") or ""),
            cards_dir=base / (r.str(storage, "cards_dir", "storage", default="var/cards") or ""),
        ),
        organisation=organisation,
        policy=policy,
        schedule=schedule,
    )


def load_config(path: str | Path) -> Config:
    """Read and validate a config file, raising ConfigError with one line per problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (pass --config PATH or set VISITFLOW_CONFIG)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} is not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return parse_config(data, path=path.resolve())
