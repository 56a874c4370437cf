"""The typed, read-only settings of visitflow, as ``config.yaml`` describes them (spec §1)."""

from __future__ import annotations

import logging
import os
import re
import ssl
from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo


from ..errors import ConfigError

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
            from ..oauth import ProviderUnavailable, source_for  # MSAL and Authlib load only when used

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
class TierFrequency:
    """How often a tier's customers must be visited (Article 2): ``visits`` per ``period``."""

    visits: int
    period: str  # month | quarter

    def per_month(self) -> float:
        """Return the required visits per calendar month (a quarter's spread over three)."""
        return self.visits / (3 if self.period == "quarter" else 1)


DEFAULT_TIER_FREQUENCY = {"A": TierFrequency(4, "month"), "B": TierFrequency(2, "month"),
                          "C": TierFrequency(1, "month"), "D": TierFrequency(1, "quarter")}
DEFAULT_OVERDUE_DAYS = {"A": 10, "B": 20, "C": 40, "D": 100}


@dataclass(frozen=True)
class MonthlyPolicy:
    """The unit head's review of the monthly report before it goes up (Article 10)."""

    review: bool = True
    review_hours: float = 48.0  # no answer within this long: sent as is, saying so


@dataclass(frozen=True)
class Policy:
    timezone: str = "Asia/Shanghai"
    language: str = "zh-CN"
    # Required visits per tier: policy.visits_per_month and policy.visits_per_quarter (a tier
    # is in at most one of them); a tier in neither needs no visits.
    tier_frequency: dict[str, TierFrequency] = field(default_factory=lambda: dict(DEFAULT_TIER_FREQUENCY))
    # A customer whose last visit is more than this many days ago is overdue (per tier).
    overdue_days: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_OVERDUE_DAYS))
    monthly: MonthlyPolicy = field(default_factory=MonthlyPolicy)
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
    # A larger mail is not decoded: it is kept raw and quarantined, its sender told why.
    max_message_bytes: int = 40 * 1024 * 1024
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
