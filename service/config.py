"""Load and validate ``config.yaml`` into typed, read-only objects.

Every problem found is collected (not just the first) and reported as one line naming the
key, so a person fixing the file sees everything at once.  Secrets never live in the file:
it names environment variables, and :meth:`MailServer.secret` reads them when needed.
"""

from __future__ import annotations

import logging
import os
import re
import ssl
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from .errors import ConfigError

# Plain ASCII addresses only: they go into SMTP envelopes and headers without SMTPUTF8.
EMAIL_RE = re.compile(r"^[!#-'*+\-/-9=?A-Z^-~.]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
SECURITY_MODES = ("plain", "starttls", "tls")
AUTH_MODES = ("password", "xoauth2")
OAUTH2_PROVIDERS = ("microsoft", "google", "generic")
MICROSOFT_AUTHORITY = "https://login.microsoftonline.com"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
# What each provider's token is asked for when oauth2.scope is unset: Exchange Online's
# app-only scope (IMAP and SMTP both), its delegated IMAP + SMTP scopes, Google's mail scope.
DEFAULT_SCOPES = {
    ("microsoft", "client_credentials"): "https://outlook.office365.com/.default",
    ("microsoft", "refresh_token"): "https://outlook.office.com/IMAP.AccessAsUser.All "
                                    "https://outlook.office.com/SMTP.Send",
    ("google", "refresh_token"): "https://mail.google.com/",
}
ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
LANGUAGES = ("zh-CN", "en")
TIERS = ("A", "B", "C", "D")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    language: str | None = None  # None: the policy's language


@dataclass(frozen=True)
class Rep(Person):
    unit: str = ""
    region: str = ""


@dataclass(frozen=True)
class Folders:
    inbox: str = "INBOX"
    processed: str = "Processed"
    quarantine: str = "Quarantine"


@dataclass(frozen=True)
class OAuth2:
    """Where and as whom visitflow fetches XOAUTH2 access tokens (secrets by variable name only)."""

    provider: str  # microsoft | google | generic
    client_id: str
    client_secret_env: str
    # Set: the refresh-token grant for one user's mailbox (delegated); unset: the
    # client-credentials grant (app-only, what a daemon on Office 365 should use).
    refresh_token_env: str | None = None
    scope: str = ""  # space-separated; the provider's default when not configured
    token_url: str | None = None  # google, generic (microsoft: found from authority and tenant)
    tenant: str | None = None  # microsoft: directory (tenant) id or domain
    authority: str = MICROSOFT_AUTHORITY  # microsoft: the cloud's sign-in host
    ca_file: Path | None = None  # PEM bundle the token endpoint's certificate is checked against

    @property
    def grant(self) -> str:
        return "refresh_token" if self.refresh_token_env else "client_credentials"

    def env(self, name: str | None, what: str) -> str:
        """Return the value of the environment variable name, or raise ConfigError naming it."""
        value = os.environ.get(name or "")
        if not value:
            raise ConfigError(f"environment variable {name} is not set: it must hold the OAuth2 "
                              f"{what} of client {self.client_id}")
        return value


@dataclass(frozen=True)
class MailServer:
    host: str
    port: int
    security: str  # plain | starttls | tls
    user: str | None
    auth: str = "password"  # password | xoauth2
    password_env: str | None = None
    token_env: str | None = None  # xoauth2 with a fixed token (never renewed)
    timeout: float = 30.0
    # PEM bundle of the CA(s) that signed the server's certificate (a private CA); None: the
    # system's CAs. Certificates are always verified: there is no setting to turn that off.
    ca_file: Path | None = None
    oauth2: OAuth2 | None = None  # xoauth2 with tokens fetched and renewed by visitflow

    def secret(self) -> str | None:
        """Return the password, or the current OAuth2 access token (fetched or renewed when due).

        Raises ConfigError when a variable is unset or the provider refuses the client. A token
        endpoint that cannot be reached now gives None: the login tries again, as it would
        for a mail server that is away.
        """
        if self.auth == "xoauth2":
            from .oauth import ProviderUnavailable, source_for  # MSAL and Authlib load only when used

            try:
                return source_for(self).token()
            except ProviderUnavailable as exc:
                logging.getLogger(__name__).warning("%s; logging in will try again", exc)
                return None
        if not self.password_env:
            return None
        value = os.environ.get(self.password_env)
        if value is None:
            raise ConfigError(f"environment variable {self.password_env} is not set: it must hold "
                              f"the password for {self.user}")
        return value

    def ssl_context(self) -> ssl.SSLContext:
        """Return a context that verifies the server's certificate and host name against ca_file
        (or the system's CAs when it is unset); raises OSError when ca_file cannot be loaded."""
        return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)


@dataclass(frozen=True)
class Imap(MailServer):
    folders: Folders = field(default_factory=Folders)
    idle_seconds: int = 300  # re-issue IDLE well under RFC 2177's 29 minutes
    fetch_batch: int = 100


@dataclass(frozen=True)
class Unit:
    id: str
    name: str
    head: Person


@dataclass(frozen=True)
class Region:
    id: str
    name: str
    unit: str
    salespeople: tuple[Person, ...]
    technical: tuple[Person, ...]


@dataclass(frozen=True)
class Organisation:
    units: dict[str, Unit]
    regions: dict[str, Region]
    reps: dict[str, Rep]  # by lower-case email
    leadership: tuple[Person, ...]
    production: tuple[Person, ...]
    technical_department: tuple[Person, ...]

    @cached_property
    def _people(self) -> dict[str, Person]:
        found: dict[str, Person] = {}
        for unit in self.units.values():
            found.setdefault(unit.head.email, unit.head)
        for region in self.regions.values():
            for p in region.salespeople + region.technical:
                found.setdefault(p.email, p)
        for p in self.leadership + self.production + self.technical_department:
            found.setdefault(p.email, p)
        found.update(self.reps)
        return found

    def people(self) -> dict[str, Person]:
        """Return every configured person by lower-case email (reps win over other roles)."""
        return self._people


@dataclass(frozen=True)
class GiftThreshold:
    amount: Decimal
    approvers: str  # "leadership"


@dataclass(frozen=True)
class GiftPolicy:
    thresholds: tuple[GiftThreshold, ...] = ()
    budget_period: str = "month"  # month | quarter | year
    budgets: dict[str, Decimal] = field(default_factory=dict)  # by unit id
    reminder_hours: float = 24.0
    escalate_hours: float = 48.0


@dataclass(frozen=True)
class AutoReplyLimit:
    """Bound automatic answers (help, rejections, notes) so no correspondent can start a loop or flood.

    RFC 3834 §2 asks responders to limit answers to one correspondent; receipts for real
    reports and mail routed to approvers are not automatic answers and are never limited.
    """

    count: int = 5           # at most this many automatic answers to one recipient …
    per_minutes: float = 60  # … within this many minutes
    per_thread: int = 3      # and at most this many in one conversation with one correspondent


@dataclass(frozen=True)
class UrgentPolicy:
    # Categories a rep's urgent report also sends straight to leadership (Article 11).
    rep_direct: tuple[str, ...] = ("product_defect",)


@dataclass(frozen=True)
class Policy:
    timezone: str = "Asia/Shanghai"
    language: str = "zh-CN"
    visits_per_month: dict[str, int] = field(default_factory=lambda: {"A": 4, "B": 2, "C": 1, "D": 0})
    working_days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    gift: GiftPolicy = field(default_factory=GiftPolicy)
    urgent_reminder_hours: float = 4.0
    urgent: UrgentPolicy = field(default_factory=UrgentPolicy)
    # Days off and make-up working days that win over the week and the statutory calendar.
    holidays: tuple[date, ...] = ()
    extra_working_days: tuple[date, ...] = ()
    # When set, a deciding reply must carry dkim=pass or spf=pass from this Authentication-Results server.
    trusted_authserv_id: str | None = None
    max_attempts: int = 3  # processing attempts before a message is quarantined
    retry_seconds: float = 30.0  # wait before retrying a message whose processing failed
    max_attachment_bytes: int = 10 * 1024 * 1024  # a larger customer card is refused
    max_unzipped_bytes: int = 50 * 1024 * 1024  # an archive that would expand beyond is refused
    auto_reply_limit: AutoReplyLimit = field(default_factory=AutoReplyLimit)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Schedule:
    daily_digest: time = time(18, 0)
    missing_report_reminder: time = time(17, 0)
    monthly_report_day: int = 1
    monthly_report_time: time = time(8, 0)


@dataclass(frozen=True)
class Storage:
    database: Path
    reports_dir: Path
    cards_dir: Path  # customer cards (客户卡), content-addressed


@dataclass(frozen=True)
class Config:
    path: Path
    service_address: str
    service_name: str
    imap: Imap
    smtp: MailServer
    storage: Storage
    organisation: Organisation
    policy: Policy
    schedule: Schedule

    def person(self, email: str) -> Person | None:
        """Return the configured person with this address, or None for a stranger."""
        return self.organisation.people().get(email.strip().lower())

    def language_for(self, email: str) -> str:
        """Return the language mail to this person is written in."""
        person = self.person(email)
        return (person.language if person and person.language else None) or self.policy.language


class _Reader:
    """Walks the raw YAML, converting values and collecting one problem per bad key."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, key: str, message: str) -> None:
        self.problems.append(f"{key}: {message}")

    def mapping(self, data: Any, key: str, *, required: bool = True) -> dict:
        if data is None:
            if required:
                self.fail(key, "is missing")
            return {}
        if not isinstance(data, dict):
            self.fail(key, f"must be a mapping, not {type(data).__name__}")
            return {}
        return data

    def str(self, data: dict, name: str, key: str, *, default: str | None = None,
            required: bool = True, choices: tuple[str, ...] = ()) -> str | None:
        value = data.get(name, default)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.fail(f"{key}.{name}", "is missing")
            return default
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            self.fail(f"{key}.{name}", f"must be text, not {type(value).__name__}")
            return default
        value = str(value).strip()
        if choices and value not in choices:
            self.fail(f"{key}.{name}", f"must be one of {', '.join(choices)} (got {value!r})")
            return default
        return value

    def int(self, data: dict, name: str, key: str, *, default: int, low: int = 0,
            high: int = 10**9) -> int:
        value = data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(f"{key}.{name}", f"must be a whole number, not {value!r}")
            return default
        if not low <= value <= high:
            self.fail(f"{key}.{name}", f"must be between {low} and {high} (got {value})")
            return default
        return value

    def number(self, data: dict, name: str, key: str, *, default: float) -> float:
        value = data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            self.fail(f"{key}.{name}", f"must be a non-negative number, not {value!r}")
            return default
        return float(value)

    def decimal(self, value: Any, key: str) -> Decimal:
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            self.fail(key, f"must be an amount such as 5000 or 5000.00, not {value!r}")
            return Decimal(0)
        if amount < 0:
            self.fail(key, "must not be negative")
        return amount

    def clock(self, data: dict, name: str, key: str, *, default: time) -> time:
        value = data.get(name)
        if value is None:
            return default
        # YAML 1.1 reads an unquoted 18:00 as the sexagesimal number 1080.
        if isinstance(value, int) and not isinstance(value, bool):
            value = f"{value // 60}:{value % 60:02d}"
        match = re.fullmatch(r"(\d{1,2}):(\d{2})", str(value).strip())
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            self.fail(f"{key}.{name}", f"must be a time of day such as \"18:00\", not {value!r}")
            return default
        return time(int(match[1]), int(match[2]))

    def person(self, data: Any, key: str) -> Person | None:
        data = self.mapping(data, key)
        if not data:
            return None
        name = self.str(data, "name", key)
        email = self.email(data, key)
        language = self.str(data, "language", key, required=False, choices=LANGUAGES)
        if name is None or email is None:
            return None
        return Person(name=name, email=email, language=language)

    def email(self, data: dict, key: str, name: str = "email") -> str | None:
        value = self.str(data, name, key)
        if value is None:
            return None
        if not EMAIL_RE.match(value):
            self.fail(f"{key}.{name}", f"is not a plain (ASCII) email address: {value!r}")
            return None
        return value.lower()

    def people(self, data: Any, key: str, *, required: bool = True) -> tuple[Person, ...]:
        if data is None:
            if required:
                self.fail(key, "is missing: list at least one person with name and email")
            return ()
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, list):
            self.fail(key, "must be a list of people with name and email")
            return ()
        found = [self.person(item, f"{key}[{i}]") for i, item in enumerate(data)]
        return tuple(p for p in found if p)


def _mail_server(r: _Reader, data: Any, key: str, *, default_port: int, base: Path) -> dict:
    data = r.mapping(data, key)
    auth = r.str(data, "auth", key, default="password", choices=AUTH_MODES)
    user = r.str(data, "user", key, required=auth == "xoauth2")
    oauth2 = _oauth2(r, data, key, base, auth=auth)
    server = dict(
        host=r.str(data, "host", key, default="127.0.0.1"),
        port=r.int(data, "port", key, default=default_port, low=1, high=65535),
        security=r.str(data, "security", key, default="plain", choices=SECURITY_MODES),
        user=user,
        auth=auth,
        password_env=r.str(data, "password_env", key, required=False),
        token_env=r.str(data, "token_env", key, required=False),
        timeout=r.number(data, "timeout", key, default=30.0),
        ca_file=_ca_file(r, data, key, base),
        oauth2=oauth2,
    )
    for name in ("password_env", "token_env"):
        _env_name(r, server[name], f"{key}.{name}")
    for name, where in (("password", "password_env"), ("token", "token_env"), ("access_token", "token_env")):
        if name in data:
            r.fail(f"{key}.{name}", "secrets must not be written in config.yaml: put it in an "
                   f"environment variable and name that in {where}")
    if user and auth == "password" and not server["password_env"]:
        r.fail(f"{key}.password_env", f"is missing: name the environment variable holding {user}'s password")
    if auth == "xoauth2" and "oauth2" not in data and not server["token_env"]:
        r.fail(f"{key}.token_env", "is missing: name the environment variable holding the access token, "
               "or configure oauth2 so visitflow fetches and renews tokens itself")
    if auth == "xoauth2" and "oauth2" in data and server["token_env"]:
        r.fail(f"{key}.token_env", "use either token_env (a fixed token, never renewed) or oauth2 "
               "(tokens fetched and renewed), not both")
    return server


_OAUTH2_KEYS = ("provider", "tenant", "authority", "token_url", "client_id", "client_secret_env",
                "refresh_token_env", "scope", "ca_file")


def _oauth2(r: _Reader, server: dict, key: str, base: Path, *, auth: str | None) -> OAuth2 | None:
    """Read the optional oauth2 block of imap or smtp: one problem line per bad key."""
    if "oauth2" not in server:
        return None
    key = f"{key}.oauth2"
    data = r.mapping(server["oauth2"], key)
    if auth != "xoauth2":
        r.fail(key, "is only used with auth: xoauth2")
        return None
    for name in ("client_secret", "refresh_token", "access_token", "token"):
        if name in data:
            env = "refresh_token_env" if name == "refresh_token" else "client_secret_env"
            r.fail(f"{key}.{name}", f"secrets must not be written in config.yaml: put it in an "
                   f"environment variable and name that in {env}")
    for name in data:
        if name not in _OAUTH2_KEYS and name not in ("client_secret", "refresh_token", "access_token", "token"):
            r.fail(f"{key}.{name}", f"is not an oauth2 setting (known: {', '.join(_OAUTH2_KEYS)})")
    provider = r.str(data, "provider", key, choices=OAUTH2_PROVIDERS)
    client_id = r.str(data, "client_id", key)
    secret_env = r.str(data, "client_secret_env", key)
    refresh_env = r.str(data, "refresh_token_env", key, required=False)
    _env_name(r, secret_env, f"{key}.client_secret_env")
    _env_name(r, refresh_env, f"{key}.refresh_token_env")
    tenant = r.str(data, "tenant", key, required=provider == "microsoft")
    authority = r.str(data, "authority", key, default=MICROSOFT_AUTHORITY)
    token_url = r.str(data, "token_url", key, required=provider == "generic",
                      default=GOOGLE_TOKEN_URL if provider == "google" else None)
    if provider == "microsoft":
        if "token_url" in data:
            r.fail(f"{key}.token_url", "is not used with provider microsoft: MSAL finds the token "
                   "endpoint from authority and tenant")
        if not _https_url(authority):
            r.fail(f"{key}.authority", f"must be an https:// URL such as {MICROSOFT_AUTHORITY} (got {authority!r})")
        if tenant and not re.fullmatch(r"[A-Za-z0-9.-]+", tenant):
            r.fail(f"{key}.tenant", f"must be a directory (tenant) id or domain (got {tenant!r})")
    elif "authority" in data or "tenant" in data:
        r.fail(f"{key}.{'authority' if 'authority' in data else 'tenant'}",
               "is only used with provider microsoft (others name token_url)")
    if token_url and not _https_url(token_url):
        r.fail(f"{key}.token_url", f"must be an https:// URL: the client secret travels in it (got {token_url!r})")
    if provider == "google" and not refresh_env:
        r.fail(f"{key}.refresh_token_env", "is missing: Google gives mail access only to a user's refresh "
               "token (it has no client-credentials grant for Gmail)")
    grant = "refresh_token" if refresh_env else "client_credentials"
    scope = r.str(data, "scope", key, required=False, default=DEFAULT_SCOPES.get((provider or "", grant), ""))
    ca_file = _ca_file(r, data, key, base)
    if not (provider and client_id and secret_env):
        return None
    return OAuth2(provider=provider, client_id=client_id, client_secret_env=secret_env,
                  refresh_token_env=refresh_env, scope=" ".join((scope or "").split()),
                  token_url=token_url if provider != "microsoft" else None,
                  tenant=tenant if provider == "microsoft" else None,
                  authority=(authority or MICROSOFT_AUTHORITY).rstrip("/"), ca_file=ca_file)


def _https_url(value: str | None) -> bool:
    return bool(value and re.fullmatch(r"https://[^\s/?#]+(/[^\s]*)?", value))


def _env_name(r: _Reader, value: str | None, key: str) -> None:
    if value and not ENV_NAME_RE.fullmatch(value):
        r.fail(key, f"must name an environment variable (got {value!r})")


def _ca_file(r: _Reader, data: dict, key: str, base: Path) -> Path | None:
    """Read the optional CA bundle path (relative to the config file's folder); it must load."""
    if "tls_verify" in data:
        r.fail(f"{key}.tls_verify", "certificate verification cannot be turned off: for a server "
               "with a private CA, name its CA bundle (PEM) in ca_file")
    name = r.str(data, "ca_file", key, required=False)
    if name is None:
        return None
    path = base / Path(name).expanduser()
    if not path.is_file():
        r.fail(f"{key}.ca_file", f"no such file: {path}")
        return None
    try:
        ssl.create_default_context(cafile=str(path))
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        r.fail(f"{key}.ca_file", f"is not a readable PEM CA bundle: {path} ({exc})")
        return None
    return path


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
    visits = r.mapping(data.get("visits_per_month", {"A": 4, "B": 2, "C": 1, "D": 0}),
                       "policy.visits_per_month")
    for tier in visits:
        if tier not in TIERS:
            r.fail(f"policy.visits_per_month.{tier}", "is not a tier: use A, B, C and D")
    per_month = {t: r.int(visits, t, "policy.visits_per_month", default=0, high=100) for t in TIERS}
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
        visits_per_month=per_month,
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
        auto_reply_limit=_auto_reply_limit(r, data.get("auto_reply_limit", {})),
        urgent=_urgent_policy(r, data.get("urgent", {})),
        holidays=_dates(r, data.get("holidays", []), "policy.holidays"),
        extra_working_days=_dates(r, data.get("extra_working_days", []), "policy.extra_working_days"),
    )


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
