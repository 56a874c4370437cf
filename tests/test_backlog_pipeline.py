"""The backlog path of the intake (issue 12): one transaction per batch, worker processes,
receipts drafted ahead, durability without the writer's lock – and the same outcome as the
plain path, mail for mail."""

from __future__ import annotations

import email
import email.policy
import multiprocessing
import os
import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from service.config import load_config
from service.context import Context
from service.inbound.imap import Fetched
from service.intake import Intake, PollResult
from service.store import db as store_db
from service.store.db import sync_to_disk
from service.workers import Drafter, Preparer, prepare
from service.workflows import Outcome, default_handlers

from .conftest import make_mail

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from backlog import extra_reps, make_report  # noqa: E402 - the benchmark's realistic reports

FIXTURES = Path(__file__).parent / "fixtures"
REP = "li.lei@visitflow.test"


def _config(config_file: Path, tmp_path: Path, name: str):
    """Return a config like the test's, with the benchmark's reps and a database of its own."""
    data = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    data["organisation"]["reps"] += extra_reps()
    data["storage"] = {key: str(tmp_path / name / key) for key in ("database", "reports_dir", "cards_dir")}
    data["policy"]["auto_reply_limit"] = {"count": 10_000, "per_thread": 1_000}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_config(path)


@pytest.fixture
def two_configs(config_file, tmp_path):
    return _config(config_file, tmp_path, "plain"), _config(config_file, tmp_path, "pool")


def mixed_backlog() -> list[bytes]:
    """Every golden mail of the daily, gift and urgent fixtures, then 60 benchmark reports –
    with some sent twice in one batch (a resend replacing a report the same transaction
    stored) and one mail repeated byte for byte (a duplicate)."""
    raws = [path.read_bytes() for kind in ("daily", "gift", "urgent", "replies")
            for path in sorted((FIXTURES / kind).glob("*.eml"))]
    reports = [make_report(i) for i in range(60)]
    resends = [make_report(i).replace(b"Message-ID: <", b"Message-ID: <resend.") for i in (3, 4, 5)]
    return [*raws, *reports, *resends, reports[7]]


def take_in(cfg, raws: list[bytes], *, workers: int, handlers=None) -> Context:
    """Take ``raws`` in as the intake's backlog path does, batches of 25, without IMAP."""
    ctx = Context.open(cfg)
    intake = Intake(ctx, workers=workers, handlers=handlers)
    result = PollResult()
    batches = [list(range(i, min(len(raws), i + 25))) for i in range(0, len(raws), 25)]
    with Preparer(cfg, intake.readers, workers=workers, drafters=intake.drafters) as preparer:
        handles = [preparer.submit([raws[i] for i in batch]) for batch in batches]
        for batch, handle in zip(batches, handles):
            fetched = [Fetched(uid=i + 1, raw=raws[i]) for i in batch]
            intake._take_batch("INBOX", 1, fetched, handle.result(), batch[-1] + 1, result)
    return ctx


_RANDOM_CODE = re.compile(r"\b[0-9a-f]{32}\b")


def outcome(ctx: Context) -> dict:
    """Return what the database says happened, without what differs by nature between two
    runs (Message-IDs, Date headers, MIME boundaries, timestamps)."""
    db = ctx.db

    def rows(sql):
        return [tuple(r) for r in db.execute(sql).fetchall()]

    mails = []
    for template, recipients, subject, cause, answer, raw in db.execute(
            "SELECT template, recipients, subject, cause_message, answer, raw FROM outbox ORDER BY id"):
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        body = parsed.get_body(("plain",))
        text = _RANDOM_CODE.sub("<code>", body.get_content()) if body else None  # approval codes
        mails.append((template, recipients, subject, cause, answer, text, parsed["In-Reply-To"], parsed["References"]))
    return {
        "messages": rows("SELECT id, uid, state, kind, reason, attempts, duplicate_of FROM messages ORDER BY id"),
        "reports": rows("SELECT id, message, rep, report_date, current, superseded_by FROM reports ORDER BY id"),
        "visits": rows("SELECT report, seq, customer, customer_id, visited_at, feedback, tech_issue FROM visits "
                       "ORDER BY id"),
        "cards": rows("SELECT message, filename, size, sha256, kept, reason FROM customer_cards ORDER BY id"),
        "mails": mails,
        "audit": rows("SELECT message, action, reason FROM audit ORDER BY id"),
    }


def test_worker_processes_change_nothing_of_what_a_backlog_comes_to(two_configs):
    plain_cfg, pool_cfg = two_configs
    raws = mixed_backlog()
    plain = outcome(take_in(plain_cfg, raws, workers=0))
    pooled = outcome(take_in(pool_cfg, raws, workers=2))
    assert len(plain["messages"]) == len(raws)
    assert {state for _, _, state, *_ in plain["messages"]} >= {"processed", "rejected", "ignored"}
    assert any(r[4] == 0 for r in plain["reports"]), "a resend in the same batch replaced a report"
    assert plain["cards"], "the backlog holds customer cards"
    for key in plain:
        assert pooled[key] == plain[key], key


def test_no_worker_process_outlives_its_backlog(two_configs):
    _, cfg = two_configs
    take_in(cfg, [make_report(i) for i in range(60)], workers=2)
    assert multiprocessing.active_children() == []


def test_a_receipt_drafted_ahead_is_sent_as_drafted(two_configs):
    _, cfg = two_configs
    ctx = Context.open(cfg)
    intake = Intake(ctx, workers=0)
    raw = make_report(0)
    ready = prepare(raw, cfg, intake.readers, Drafter(cfg, intake.drafters))
    assert [d.key[0] for d in ready.drafts] == ["daily_receipt"]

    intake._take_batch("INBOX", 1, [Fetched(1, raw)], [ready], 1, PollResult())
    assert ctx.db.execute("SELECT raw FROM outbox").fetchone()[0] == ready.drafts[0].mail.raw
    assert ctx.drafts == []


def test_a_draft_that_guessed_wrong_is_not_sent_and_the_writer_renders_the_mail(two_configs):
    # Both reports are drafted before either is stored: the second's draft says nothing is
    # replaced, but the writer stores the first one before it – the receipt must say so.
    _, cfg = two_configs
    ctx = Context.open(cfg)
    intake = Intake(ctx, workers=0)
    drafter = Drafter(cfg, intake.drafters)
    first = make_report(5)
    resend = first.replace(b"Message-ID: <", b"Message-ID: <resend.")
    ready = [prepare(raw, cfg, intake.readers, drafter) for raw in (first, resend)]

    intake._take_batch("INBOX", 1, [Fetched(1, first), Fetched(2, resend)], ready, 2, PollResult())
    raws = [r[0] for r in ctx.db.execute("SELECT raw FROM outbox ORDER BY id")]
    assert raws[0] == ready[0].drafts[0].mail.raw
    assert raws[1] != ready[1].drafts[0].mail.raw
    receipt = email.message_from_bytes(raws[1], policy=email.policy.default).get_body(("plain",)).get_content()
    stale = email.message_from_bytes(ready[1].drafts[0].mail.raw,
                                     policy=email.policy.default).get_body(("plain",)).get_content()
    assert "此前发送的同日日报" in receipt and "此前发送的同日日报" not in stale


def one_batch(ctx: Context, raws: list[bytes], *, handlers=None) -> PollResult:
    """Take ``raws`` in as one batch, prepared in this process; return the poll's counts."""
    intake = Intake(ctx, workers=0, handlers=handlers)
    result = PollResult()
    intake._take_batch("INBOX", 1, [Fetched(i + 1, r) for i, r in enumerate(raws)],
                       Preparer(ctx.cfg, intake.readers, workers=0).prepare_here(raws), len(raws), result)
    return result


def statements_of(ctx: Context) -> list[str]:
    """Start listing the SQL statements ctx's connection runs; return the growing list."""
    statements: list[str] = []
    ctx.db.conn.set_trace_callback(statements.append)
    return statements


def test_a_batch_is_one_transaction_with_one_commit(two_configs):
    _, cfg = two_configs
    ctx = Context.open(cfg)
    statements = statements_of(ctx)
    one_batch(ctx, [make_report(i) for i in range(20)])
    assert [s for s in statements if s.split()[0] in ("BEGIN", "COMMIT")] == ["BEGIN IMMEDIATE", "COMMIT"]
    assert ctx.db.execute("SELECT last_uid FROM folders WHERE name = 'INBOX'").fetchone()[0] == 20
    assert ctx.db.execute("SELECT COUNT(*) FROM messages WHERE state = 'processed'").fetchone()[0] == 20


@pytest.mark.parametrize("failing", [0, 3, 9], ids=["first", "middle", "last"])
def test_a_mail_that_fails_in_a_batch_rolls_back_alone(two_configs, failing):
    _, cfg = two_configs
    ctx = Context.open(cfg)

    def explode(ctx_, inbound):
        if inbound.msg.subject == f"mail {failing}":
            ctx_.send("help", to=[REP], original_subject="half-done work that must vanish", sender_name="李雷",
                      problem=None)
            raise RuntimeError("the workflow broke on this mail")
        ctx_.send("help", to=[REP], original_subject="fine", sender_name="李雷", problem=None)
        return Outcome("processed", "fine")

    result = one_batch(ctx, [make_mail(sender=REP, subject=f"mail {i}").as_bytes() for i in range(10)],
                       handlers={**default_handlers(), "unrecognized": explode})
    states = ctx.db.execute("SELECT subject, state, attempts FROM messages ORDER BY id").fetchall()
    assert [tuple(s) for s in states] == [(f"mail {i}", "received", 1) if i == failing else (f"mail {i}", "processed", 1)
                                          for i in range(10)]
    assert ctx.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 9
    assert (result.failed, dict(result.settled)) == (1, {"processed": 9})
    assert ctx.outbox_ready.is_set() and ctx.queued_since_commit == 0


def test_a_batch_whose_transaction_sqlite_rolled_back_is_not_carried_on(two_configs):
    # SQLITE_FULL or an I/O error can end the whole transaction, savepoints and all: the mails
    # before would look done but are gone, so the batch must end, leaving no trace at all.
    _, cfg = two_configs
    ctx = Context.open(cfg)

    def disk_full(ctx_, inbound):
        if inbound.msg.subject == "mail 2":
            ctx_.db.conn.execute("ROLLBACK")
            raise OSError("database or disk is full")
        return Outcome("processed", "fine")

    with pytest.raises(OSError):
        one_batch(ctx, [make_mail(sender=REP, subject=f"mail {i}").as_bytes() for i in range(5)],
                  handlers={**default_handlers(), "unrecognized": disk_full})
    assert ctx.db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 0
    assert ctx.db.execute("SELECT COUNT(*) FROM folders").fetchone()[0] == 0
    assert not ctx.db.conn.in_transaction


def test_a_registry_is_read_once_per_batch(two_configs):
    _, cfg = two_configs
    ctx = Context.open(cfg)
    statements = statements_of(ctx)
    one_batch(ctx, [make_report(i) for i in range(12)])
    units = {cfg.organisation.reps[m].unit for m in
             [r[0] for r in ctx.db.execute("SELECT sender FROM messages")]}
    assert sum(s.startswith("SELECT * FROM customers") for s in statements) == len(units)


def test_sync_to_disk_syncs_new_cards_and_their_folders_before_the_log(tmp_path, monkeypatch):
    database = tmp_path / "visitflow.db"
    store_db.open_db(database).close()
    store_db.open_db(database)  # keeps the -wal file
    card = tmp_path / "cards" / "ab" / "abcdef"
    card.parent.mkdir(parents=True)
    card.write_bytes(b"card")
    synced: list[str] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real_fsync(fd)))

    sync_to_disk(database, [str(card)])
    assert synced == [str(card), str(card.parent), str(card.parent.parent), f"{database}-wal"]


def test_sync_to_disk_without_a_log_or_files_syncs_nothing(tmp_path, monkeypatch):
    synced: list[int] = []
    monkeypatch.setattr(os, "fsync", synced.append)
    sync_to_disk(tmp_path / "absent.db")
    assert synced == []


@pytest.fixture(autouse=True)
def _no_leftovers(tmp_path):
    yield
    shutil.rmtree(tmp_path / "plain", ignore_errors=True)
    shutil.rmtree(tmp_path / "pool", ignore_errors=True)


def _dies_in_a_worker(msg, cfg):
    if os.getpid() != _PARENT and "巡访员03" in msg.from_name:
        os._exit(9)  # a worker killed mid-batch: the OOM killer, a crash in C code
    from service.reading.daily import read_daily_report
    return read_daily_report(msg, cfg)


_PARENT = os.getpid()


def test_a_worker_that_dies_costs_time_not_mail(two_configs, caplog):
    plain_cfg, pool_cfg = two_configs
    raws = [make_report(i) for i in range(80)]
    plain = outcome(take_in(plain_cfg, raws, workers=0))
    readers = {"daily_report": _dies_in_a_worker}
    ctx = Context.open(pool_cfg)
    intake = Intake(ctx, workers=2, readers=readers)
    result = PollResult()
    with Preparer(pool_cfg, readers, workers=2, drafters=intake.drafters) as preparer:
        handles = [preparer.submit(raws[i:i + 20]) for i in range(0, 80, 20)]
        for n, handle in enumerate(handles):
            fetched = [Fetched(uid=i + 1, raw=raws[i]) for i in range(n * 20, n * 20 + 20)]
            intake._take_batch("INBOX", 1, fetched, handle.result(), n * 20 + 20, result)
    assert "a worker process died" in caplog.text
    pooled = outcome(ctx)
    assert pooled["messages"] == plain["messages"] and pooled["mails"] == plain["mails"]
    assert multiprocessing.active_children() == []
