"""Classification: an ordered table of named rules; automatic mail is caught before anything replies."""

from __future__ import annotations

import json

import pytest

from service.config import parse_config
from service.classify import RULES, classify
from service.inbound.mime import decode_message
from service.intake import read_message

from .conftest import CORPUS, REPO, base_config_data, make_mail

REP = "li.lei@visitflow.test"


@pytest.fixture(scope="module")
def config():
    return parse_config(base_config_data(), path=REPO / "config.yaml")


def verdict_of(config, **kwargs):
    return classify(decode_message(make_mail(**kwargs).as_bytes()), config)


CASES = [
    # (description, mail arguments, expected kind, expected rule)
    ("our own address", dict(sender="visits@visitflow.test"), "ignored", "own_mail"),
    ("our own Message-ID", dict(sender=REP, message_id="<vf.0123456789abcdef0123456789abcdef@visitflow.test>"),
     "ignored", "own_mail"),
    ("RFC 3834 auto-reply", dict(sender=REP, headers={"Auto-Submitted": "auto-replied"}), "ignored", "auto_submitted"),
    ("Auto-Submitted: no is a person", dict(sender=REP, headers={"Auto-Submitted": "no"}), "unrecognized", "fallback"),
    ("QQ Mail vacation reply", dict(sender=REP, headers={"X-QQ-AUTO-REPLY": "true"}), "ignored", "autoreply_header"),
    ("X-Autoreply", dict(sender=REP, headers={"X-Autoreply": "yes"}), "ignored", "autoreply_header"),
    ("Exchange OOF", dict(sender=REP, headers={"X-Auto-Response-Suppress": "All"}), "ignored", "autoreply_header"),
    ("null Return-Path", dict(sender=REP, headers={"Return-Path": "<>"}), "ignored", "null_return_path"),
    ("MAILER-DAEMON", dict(sender="MAILER-DAEMON@mx.example.com"), "ignored", "mailer_daemon"),
    ("postmaster", dict(sender="postmaster@visitflow.test"), "ignored", "mailer_daemon"),
    ("bulk precedence", dict(sender=REP, headers={"Precedence": "bulk"}), "ignored", "bulk_precedence"),
    ("mailing list", dict(sender=REP, headers={"List-Id": "<sales.lists.example.com>"}), "ignored", "list_mail"),
    ("自动回复 subject", dict(sender=REP, subject="自动回复：巡访日报"), "ignored", "autoreply_subject"),
    ("Automatic reply subject", dict(sender=REP, subject="Automatic reply: daily report"), "ignored", "autoreply_subject"),
    ("stranger", dict(sender="someone@elsewhere.test", subject="巡访日报"), "quarantined", "unknown_sender"),
    ("reply by In-Reply-To", dict(sender=REP, subject="Re: 礼品申请",
                                  headers={"In-Reply-To": "<vf.0123456789abcdef0123456789abcdef@visitflow.test>"}),
     "reply", "reply_to_our_mail"),
    ("reply by tag only (Outlook dropped the references)", dict(sender=REP, subject="答复: 同意 [VF-G-12]"),
     "reply", "reference_tag"),
    ("daily report subject", dict(sender=REP, subject="11月26日巡访日报"), "daily_report", "subject_daily_report"),
    ("daily report in English", dict(sender=REP, subject="Daily Report 2026-11-26"), "daily_report", "subject_daily_report"),
    ("gift subject", dict(sender=REP, subject="礼品申请"), "gift_request", "subject_gift_request"),
    ("urgent subject", dict(sender=REP, subject="URGENT: competitor price cut"), "urgent_report", "subject_urgent_report"),
    ("visit plan subject without a file", dict(sender=REP, subject="12月巡访计划"), "visit_plan",
     "subject_visit_plan_no_file"),
    ("daily labels in body", dict(sender=REP, subject="今天", body="客户名称：华联超市\n巡访时间：9:30\n客户意见：好"),
     "daily_report", "daily_report_labels"),
    ("English labels, full-width colon", dict(sender=REP, subject="today", body="Customer： ACME\nVisit time： 9:30"),
     "daily_report", "daily_report_labels"),
    ("anything else", dict(sender=REP, subject="hello", body="how are you"), "unrecognized", "fallback"),
]


def test_a_mail_with_only_a_filled_daily_form_attached_is_a_daily_report(config):
    from email import message_from_bytes

    from .conftest import FIXTURES

    original = message_from_bytes((FIXTURES / "daily" / "word_form_attached.eml").read_bytes())
    form = next(p for p in original.walk() if p.get_filename())
    mail = make_mail(sender=REP, subject="见附件", body="今天的情况见附件")
    mail.add_attachment(form.get_payload(decode=True), maintype="application", subtype="octet-stream",
                        filename="report.docx")
    verdict = classify(decode_message(mail.as_bytes()), config)
    assert (verdict.kind, verdict.rule) == ("daily_report", "daily_report_form")


@pytest.mark.parametrize("description, mail, kind, rule", CASES, ids=[c[0] for c in CASES])
def test_each_message_is_classified_by_the_first_matching_rule(config, description, mail, kind, rule):
    verdict = verdict_of(config, **mail)
    assert (verdict.kind, verdict.rule) == (kind, rule)
    assert verdict.reason


def test_the_rule_table_catches_automatic_mail_before_strangers_and_strangers_before_content():
    names = [name for name, _, _ in RULES]
    assert names.index("autoreply_subject") < names.index("unknown_sender") < names.index("reply_to_our_mail")
    assert names[-1] == "fallback"


def corpus_files():
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name not in ("index.tsv", "SOURCES.md"))


def corpus_automatic():
    automatic = {"autoreply", "bounce", "dsn", "mdn", "arf"}
    for line in (CORPUS / "index.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        name, kinds = line.split("\t")[:2]
        if set(kinds.split(",")) & automatic:
            yield name


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: str(p.relative_to(CORPUS)))
def test_every_corpus_message_reads_without_raising(config, path):
    result = read_message(path.read_bytes(), config)
    assert result.kind in {"daily_report", "gift_request", "urgent_report", "visit_plan", "reply",
                           "unrecognized", "ignored"}


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: str(p.relative_to(CORPUS)))
def test_the_daily_report_reader_never_raises_on_corpus_mail(config, path):
    from service.reading.daily import read_daily_report

    report = read_daily_report(decode_message(path.read_bytes()), config)
    assert report.visits or report.problems


def test_parse_json_runs_over_the_whole_corpus_on_the_command_line():
    from click.testing import CliRunner

    from service.cli import cli

    runner = CliRunner()
    for path in corpus_files():
        result = runner.invoke(cli, ["--config", str(REPO / "config.yaml"), "parse", str(path), "--json"])
        assert result.exit_code == 0, (path, result.output)
        parsed = json.loads(result.output)
        assert isinstance(parsed["problems"], list) and parsed["kind"], path


@pytest.mark.parametrize("name", list(corpus_automatic()))
def test_corpus_auto_replies_bounces_and_receipts_are_ignored(config, name):
    result = read_message((CORPUS / name).read_bytes(), config)
    assert result.kind == "ignored", f"{name}: {result.rule} ({result.reason})"
