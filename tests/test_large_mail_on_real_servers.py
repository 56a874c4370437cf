"""Large mail through the real Dovecot and Postfix: kept whole, fetched in bounded batches, and
a mail above policy.max_message_bytes quarantined with a clear answer (issue 8.6)."""

from __future__ import annotations

import hashlib

import pytest

from service import intake
from service.store import messages

from .conftest import folder_messages
from .test_daily_reports_on_real_servers import REP, inbox_of
from .test_gift_approvals_on_real_servers import cycle
from .test_large_mail import crlf, photo, report

pytestmark = pytest.mark.mail
MB = 1024 * 1024


@pytest.mark.policy(max_message_bytes=256 * 1024)
def test_a_mail_above_the_size_limit_is_kept_raw_quarantined_and_its_sender_told(mail_sandbox, mail_env, ctx):
    raw = crlf(report(("客户卡.jpg", "image/jpeg", photo(400_000))))
    cycle(mail_sandbox, ctx, raw)

    row = ctx.db.execute("SELECT id, state, kind, reason FROM messages").fetchone()
    assert row[1:3] == ("quarantined", "too_large")
    assert f"{len(raw):,} bytes, above policy.max_message_bytes (262,144)" in row[3]
    assert hashlib.sha256(messages.raw_bytes(ctx.db, row[0])).digest() == hashlib.sha256(raw).digest()
    assert ctx.db.execute("SELECT COUNT(*) FROM reports").fetchone()[0] == 0
    answer = inbox_of(mail_sandbox, REP)[0]
    assert "邮件过大" in answer.subject and "超过了本系统可以处理的上限 0.2 MB" in answer.text
    assert len(folder_messages(mail_sandbox, "visits@visitflow.test", "Quarantine")) == 1


@pytest.mark.policy(max_message_bytes=256 * 1024)
def test_a_too_large_mail_from_a_stranger_gets_no_answer(mail_sandbox, mail_env, ctx):
    msg = report(("a.jpg", "image/jpeg", photo(400_000)))
    msg.replace_header("From", "stranger@visitflow.test")
    cycle(mail_sandbox, ctx, crlf(msg))

    assert ctx.db.execute("SELECT state, kind FROM messages").fetchone() == ("quarantined", "quarantined")
    assert folder_messages(mail_sandbox, "stranger@visitflow.test") == []


def test_a_large_report_is_stored_byte_for_byte_and_its_card_kept(mail_sandbox, mail_env, ctx):
    card = photo(6 * MB, 11)
    raw = crlf(report(("客户卡.jpg", "image/jpeg", card)))
    cycle(mail_sandbox, ctx, raw)

    message, state = ctx.db.execute("SELECT id, state FROM messages").fetchone()
    assert state == "processed"
    assert messages.raw_bytes(ctx.db, message) == raw
    assert ctx.db.execute("SELECT filename, size, sha256, kept FROM customer_cards").fetchall() == [
        ("客户卡.jpg", len(card), hashlib.sha256(card).hexdigest(), 1)]
    assert (ctx.cfg.storage.cards_dir / hashlib.sha256(card).hexdigest()[:2]
            / hashlib.sha256(card).hexdigest()).read_bytes() == card


def test_large_and_small_mails_are_fetched_in_bounded_batches_each_once_in_order(mail_sandbox, mail_env, ctx,
                                                                                  monkeypatch):
    monkeypatch.setattr(intake, "FETCH_BYTES", 1 * MB)  # several batches, two of one large mail each
    sizes = [1_500_000, 20_000, 30_000, 2_000_000, 10_000, 400_000, 400_000, 400_000]
    raws = []
    for n, size in enumerate(sizes):
        msg = report(("p.jpg", "image/jpeg", photo(size, 100 + n)))
        msg.replace_header("Message-ID", f"<batch-{n}@visitflow.test>")
        raws.append(crlf(msg))
    cycle(mail_sandbox, ctx, *raws)

    rows = ctx.db.execute("SELECT message_id, uid, state, size FROM messages ORDER BY id").fetchall()
    assert [r[0] for r in rows] == [f"batch-{n}@visitflow.test" for n in range(len(sizes))]
    assert [r[1] for r in rows] == sorted(r[1] for r in rows)
    assert {r[2] for r in rows} == {"processed"} and [r[3] for r in rows] == [len(r) for r in raws]
    assert len(folder_messages(mail_sandbox, "visits@visitflow.test", "Processed")) == len(sizes)
