"""Decide what an inbound message is, by an ordered table of named rules (first match wins).

The whole policy reads on one screen in ``RULES``. Each rule is a function that returns a
human-readable reason when it matches and None otherwise; the winning rule's name and
reason are recorded with the message, so why a message went where it went is always
answerable. Mail that must never be answered (auto-replies, bounces, receipts, list traffic,
our own mail) is caught first, before anything could reply to it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .config import Config
from .inbound.mime import DecodedMessage

# Kinds a message can be classified as (spec §6), plus "quarantined" for strangers.
IGNORED = "ignored"
QUARANTINED = "quarantined"
REPLY = "reply"
DAILY_REPORT = "daily_report"
GIFT_REQUEST = "gift_request"
URGENT_REPORT = "urgent_report"
VISIT_PLAN = "visit_plan"
UNRECOGNIZED = "unrecognized"
TOO_LARGE = "too_large"

OWN_MESSAGE_ID_RE = re.compile(r"^vf\.[0-9a-f]{32}@", re.I)
TAG_RE = re.compile(r"\[VF-([A-Z])-(\d+)\]", re.I)
AUTOREPLY_SUBJECT_RE = re.compile(
    r"^\s*(自动回复|自動回覆|自动答复|自動応答|automatic reply|auto[- ]?reply|auto[- ]?response|"
    r"out of (the )?office|away from (the )?office|vacation reply|休假|外出|"
    # Exchange writes its OOF subject in the mailbox owner's language.
    r"automatische antwort|réponse automatique|respuesta automática|risposta automatica|"
    r"automatyczna odpowied|автоматический ответ|resposta automática)", re.I)
BOUNCE_SUBJECT_RE = re.compile(
    r"^\s*(undeliverable|undelivered mail|delivery status notification|delivery failure|"
    r"mail delivery failed|returned mail|failure notice|系统退信|退信|投递失败|read:|已读:|已读：)", re.I)
DAILY_LABELS_RE = (
    re.compile(r"^\s*(客户名称|customer(?: name)?)\s*[:：]", re.I | re.M),
    re.compile(r"^\s*(巡访时间|visit time)\s*[:：]", re.I | re.M),
)
SUBJECT_KEYWORDS = (
    (DAILY_REPORT, re.compile(r"巡访日报|日报|daily report", re.I)),
    (GIFT_REQUEST, re.compile(r"礼品|gift", re.I)),
    (URGENT_REPORT, re.compile(r"紧急|urgent", re.I)),
)
# A plan comes as an attached file (spec §4). Without one the subject counts only after the
# daily report's body labels: a report titled 巡访计划执行情况 is still read as a report, and a
# plan mail that forgot its file is told so.
PLAN_SUBJECT_RE = re.compile(r"巡访计划|visit plan", re.I)
LIST_HEADERS = ("List-Id", "List-Unsubscribe", "List-Post", "Mailing-List")
AUTOREPLY_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Auto-Reply", "X-QQ-AUTO-REPLY",
                     "X-Auto-Response-Suppress")


@dataclass(frozen=True)
class Verdict:
    kind: str
    rule: str
    reason: str


Check = Callable[[DecodedMessage, Config], "str | None"]


def own_mail(msg: DecodedMessage, cfg: Config) -> str | None:
    if msg.from_addr and msg.from_addr == cfg.service_address:
        return f"sent by the service address {cfg.service_address}"
    if OWN_MESSAGE_ID_RE.match(msg.message_id):
        return f"Message-ID {msg.message_id} is one of ours"
    return None


def loop_marker(msg: DecodedMessage, cfg: Config) -> str | None:
    # Every mail we send carries X-Loop with our address; a bot or a forwarder that sends it
    # back (headers and all) must never be answered, whatever else it looks like.
    for value in msg.headers("X-Loop"):
        if cfg.service_address in value.lower():
            return f"X-Loop: {value[:80]} names this service: mail that came back"
    return None


def auto_submitted(msg: DecodedMessage, cfg: Config) -> str | None:
    value = msg.header("Auto-Submitted").strip().lower()
    if value and value != "no":
        return f"Auto-Submitted: {value}"
    return None


def autoreply_headers(msg: DecodedMessage, cfg: Config) -> str | None:
    for name in AUTOREPLY_HEADERS:
        value = msg.header(name).strip()
        if value and value.lower() not in ("no", "false", "0"):
            return f"{name}: {value}"
    return None


def delivery_report(msg: DecodedMessage, cfg: Config) -> str | None:
    if msg.content_type == "multipart/report":
        report = msg.msg.get_param("report-type") or "unknown"
        return f"multipart/report ({report}): a bounce, delivery or read receipt"
    if msg.content_type in ("message/delivery-status", "message/disposition-notification"):
        return f"{msg.content_type} report"
    return None


def null_return_path(msg: DecodedMessage, cfg: Config) -> str | None:
    paths = msg.headers("Return-Path")
    if paths and paths[0].strip() in ("<>", ""):
        return "null Return-Path <>: a bounce or automatic notice"
    return None


def mailer_daemon(msg: DecodedMessage, cfg: Config) -> str | None:
    local = msg.from_addr.partition("@")[0]
    if local in ("mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"):
        return f"sent by {msg.from_addr}"
    return None


def bulk_precedence(msg: DecodedMessage, cfg: Config) -> str | None:
    value = msg.header("Precedence").strip().lower()
    if value in ("bulk", "list", "junk", "auto_reply"):
        return f"Precedence: {value}"
    return None


def list_mail(msg: DecodedMessage, cfg: Config) -> str | None:
    for name in LIST_HEADERS:
        if msg.header(name):
            return f"mailing-list header {name}"
    return None


def autoreply_subject(msg: DecodedMessage, cfg: Config) -> str | None:
    for pattern in (AUTOREPLY_SUBJECT_RE, BOUNCE_SUBJECT_RE):
        match = pattern.match(msg.subject)
        if match:
            return f"subject starts with {match[1]!r}"
    return None


def unknown_sender(msg: DecodedMessage, cfg: Config) -> str | None:
    if not msg.from_addr:
        return "no readable From address"
    if cfg.person(msg.from_addr) is None:
        return f"{msg.from_addr} is not a person in config.yaml"
    return None


def too_large(msg: DecodedMessage, cfg: Config) -> str | None:
    if msg.too_large:
        return (f"{msg.raw_size:,} bytes, above policy.max_message_bytes "
                f"({cfg.policy.max_message_bytes:,}): kept raw, not read")
    return None


def reply_to_our_mail(msg: DecodedMessage, cfg: Config) -> str | None:
    for ref in msg.in_reply_to + list(reversed(msg.references)):
        if OWN_MESSAGE_ID_RE.match(ref):
            return f"answers our message <{ref}>"
    return None


def reference_tag(msg: DecodedMessage, cfg: Config) -> str | None:
    match = TAG_RE.search(msg.subject)
    return f"subject carries the reference tag {match[0]}" if match else None


def daily_labels(msg: DecodedMessage, cfg: Config) -> str | None:
    if all(p.search(msg.text) for p in DAILY_LABELS_RE):
        return "body has the daily-report labels customer and visit time"
    return None


def daily_form(msg: DecodedMessage, cfg: Config) -> str | None:
    # By content, not name: phones and webmail send the form as "巡访日报", "attachment.bin" or
    # nameless, and reps save it as .doc / .odt (converted here, and the result reused by the reader).
    from .reading.daily import find_form

    form = find_form(msg.attachments, cfg.policy).form if msg.attachments else None
    if form is None:
        return None
    return (f"attachment {form.filename or '(no name)'} ({form.content_type}) is a filled daily "
            "report form")


def _subject_keyword(kind: str, pattern: re.Pattern) -> Check:
    def check(msg: DecodedMessage, cfg: Config) -> str | None:
        match = pattern.search(msg.subject)
        return f"subject contains {match[0]!r}" if match else None
    check.__name__ = f"subject_{kind}"
    return check


# What a plan can come as (spec §4): a workbook, a CSV or YAML text – never a photo, a PDF or
# the daily report's Word form, which a rep's "巡访计划执行情况" report may carry.
PLAN_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".csv", ".tsv", ".txt", ".yaml", ".yml")
PLAN_TYPES = ("text/csv", "text/plain", "text/yaml", "application/x-yaml", "application/yaml",
              "application/vnd.ms-excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _could_be_plan(attachment) -> bool:
    if attachment.body_image:
        return False
    name = (attachment.filename or "").lower()
    if name.endswith(PLAN_SUFFIXES) or attachment.content_type in PLAN_TYPES:
        return True
    return attachment.payload[:4] == b"PK\x03\x04" and b"xl/workbook.xml" in attachment.payload[:65536]


def plan_with_file(msg: DecodedMessage, cfg: Config) -> str | None:
    match = PLAN_SUBJECT_RE.search(msg.subject)
    files = [a for a in msg.attachments if _could_be_plan(a)]
    if match and files:
        return f"subject contains {match[0]!r} and a plan file is attached ({files[0].filename or '(no name)'})"
    return None


def plan_without_file(msg: DecodedMessage, cfg: Config) -> str | None:
    match = PLAN_SUBJECT_RE.search(msg.subject)
    return f"subject contains {match[0]!r} but no file is attached" if match else None


def fallback(msg: DecodedMessage, cfg: Config) -> str | None:
    return "no rule recognised the message"


# (rule name, check, kind): first match wins.
RULES: tuple[tuple[str, Check, str], ...] = (
    ("own_mail", own_mail, IGNORED),
    ("loop_marker", loop_marker, IGNORED),
    ("auto_submitted", auto_submitted, IGNORED),
    ("autoreply_header", autoreply_headers, IGNORED),
    ("delivery_report", delivery_report, IGNORED),
    ("null_return_path", null_return_path, IGNORED),
    ("mailer_daemon", mailer_daemon, IGNORED),
    ("bulk_precedence", bulk_precedence, IGNORED),
    ("list_mail", list_mail, IGNORED),
    ("autoreply_subject", autoreply_subject, IGNORED),
    ("unknown_sender", unknown_sender, QUARANTINED),
    ("too_large", too_large, TOO_LARGE),
    ("reply_to_our_mail", reply_to_our_mail, REPLY),
    ("reference_tag", reference_tag, REPLY),
    *((f"subject_{kind}", _subject_keyword(kind, pattern), kind) for kind, pattern in SUBJECT_KEYWORDS),
    ("subject_visit_plan", plan_with_file, VISIT_PLAN),
    ("daily_report_labels", daily_labels, DAILY_REPORT),
    ("daily_report_form", daily_form, DAILY_REPORT),
    ("subject_visit_plan_no_file", plan_without_file, VISIT_PLAN),
    ("fallback", fallback, UNRECOGNIZED),
)


def classify(msg: DecodedMessage, cfg: Config, *, skip: frozenset[str] = frozenset()) -> Verdict:
    """Return the verdict of the first rule (not named in skip) that matches msg."""
    for name, check, kind in RULES:
        if name in skip:
            continue
        reason = check(msg, cfg)
        if reason is not None:
            return Verdict(kind=kind, rule=name, reason=reason)
    raise AssertionError("the fallback rule always matches")
