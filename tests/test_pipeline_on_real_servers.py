"""The mail pipeline end to end on the real Dovecot and Postfix: nothing lost, nothing twice."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import pytest

from service.inbound.imap import Connection
from service.intake import Intake
from service.workflows import Outcome, default_handlers

from .conftest import (STRANGER, append_raw, folder_messages, make_mail, smtp_send, wait_for)

REP = "li.lei@visitflow.test"
SERVICE = "visits@visitflow.test"


def db_rows(cfg, sql: str, *params) -> list[tuple]:
    conn = sqlite3.connect(cfg.storage.database, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:  # the daemon may not have created it yet
        if "no such table" in str(exc):
            return []
        raise
    finally:
        conn.close()


def states(cfg) -> dict[str, int]:
    return dict(db_rows(cfg, "SELECT state, COUNT(*) FROM messages GROUP BY state"))


def poll_once(ctx, **kwargs):
    conn = Connection(ctx.cfg.imap)
    try:
        conn.ensure_folders([ctx.cfg.imap.folders.processed, ctx.cfg.imap.folders.quarantine])
        return Intake(ctx, **kwargs).poll(conn)
    finally:
        conn.close()


def test_mail_from_a_known_sender_is_recorded_moved_and_answered_within_seconds(
        mail_sandbox, daemon, cfg):
    proc = daemon()
    wait_for(lambda: "IMAP connected" in proc.output(), what="the daemon to connect")
    sent_at = time.monotonic()
    smtp_send(mail_sandbox, make_mail(sender=REP, subject="你好", body="随便写几句", message_id="<hello-1@client.test>"))

    wait_for(lambda: db_rows(cfg, "SELECT state FROM messages WHERE state = 'rejected'"),
             timeout=10, what="the message to be recorded and settled")
    recorded_after = time.monotonic() - sent_at
    assert recorded_after < 5, f"took {recorded_after:.1f} s"
    row = db_rows(cfg, "SELECT message_id, sender, kind, folder FROM messages")[0]
    assert row[:3] == ("hello-1@client.test", REP, "unrecognized")

    replies = wait_for(lambda: folder_messages(mail_sandbox, REP), what="the help reply")
    assert len(replies) == 1
    reply = replies[0]
    assert reply.headers["auto-submitted"] == ("auto-generated",)
    assert reply.headers["in-reply-to"] == ("<hello-1@client.test>",)
    assert "未能识别" in reply.subject and "标签" in reply.text
    wait_for(lambda: len(folder_messages(mail_sandbox, SERVICE, "Processed")) == 1,
             what="the message to be moved to Processed")
    assert folder_messages(mail_sandbox, SERVICE, "INBOX") == []
    assert proc.stop() == 0
    assert "visitflow stopped" in proc.output()


def test_mail_from_a_stranger_is_quarantined_and_nothing_is_sent(mail_sandbox, mail_env, ctx):
    smtp_send(mail_sandbox, make_mail(sender=STRANGER, subject="巡访日报", body="客户名称：X\n巡访时间：9:30"))
    wait_for(lambda: folder_messages(mail_sandbox, SERVICE), what="delivery")

    result = poll_once(ctx)

    assert dict(result.settled) == {"quarantined": 1}
    row = ctx.db.execute("SELECT state, reason FROM messages").fetchone()
    assert row[0] == "quarantined" and STRANGER in row[1]
    assert ctx.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0
    assert len(folder_messages(mail_sandbox, SERVICE, "Quarantine")) == 1
    assert folder_messages(mail_sandbox, SERVICE, "INBOX") == []


def test_the_same_message_id_twice_is_processed_once(mail_sandbox, mail_env, ctx):
    mail = make_mail(sender=REP, subject="hello", message_id="<twice@client.test>")
    smtp_send(mail_sandbox, mail)
    smtp_send(mail_sandbox, mail)
    wait_for(lambda: len(folder_messages(mail_sandbox, SERVICE)) == 2, what="both deliveries")

    poll_once(ctx)

    rows = ctx.db.execute("SELECT state, duplicate_of FROM messages ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["rejected", "ignored"]
    assert rows[1][1] is not None
    assert ctx.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 1
    assert len(folder_messages(mail_sandbox, SERVICE, "Processed")) == 2


def test_a_poison_message_is_quarantined_after_its_retries_while_the_mail_behind_it_is_processed(
        mail_sandbox, mail_env, ctx):
    def explode(ctx_, inbound):
        if "poison" in inbound.msg.subject:
            raise RuntimeError("the workflow broke on this message")
        return Outcome("processed", "fine")

    handlers = {**default_handlers(), "unrecognized": explode}
    smtp_send(mail_sandbox, make_mail(sender=REP, subject="poison"),
              make_mail(sender=REP, subject="after 1"), make_mail(sender=REP, subject="after 2"))
    wait_for(lambda: len(folder_messages(mail_sandbox, SERVICE)) == 3, what="delivery")

    intake_rounds = []
    conn = Connection(ctx.cfg.imap)
    try:
        conn.ensure_folders(["Processed", "Quarantine"])
        intake = Intake(ctx, handlers=handlers)
        for _ in range(ctx.cfg.policy.max_attempts):
            intake_rounds.append(intake.poll(conn))
            time.sleep(ctx.cfg.policy.retry_seconds)
    finally:
        conn.close()

    assert dict(intake_rounds[0].settled) == {"processed": 2}
    subject, state, attempts, error = ctx.db.execute(
        "SELECT subject, state, attempts, error FROM messages WHERE subject = 'poison'").fetchone()
    assert (state, attempts) == ("quarantined", ctx.cfg.policy.max_attempts)
    assert "the workflow broke on this message" in error
    assert [m.subject for m in folder_messages(mail_sandbox, SERVICE, "Quarantine")] == ["poison"]
    assert sorted(m.subject for m in folder_messages(mail_sandbox, SERVICE, "Processed")) == ["after 1", "after 2"]
    poison = ctx.db.execute("SELECT id FROM messages WHERE subject = 'poison'").fetchone()[0]
    actions = [r[0] for r in ctx.db.execute("SELECT action FROM audit WHERE message = ? ORDER BY id", [poison])]
    assert actions == ["failed", "failed", "quarantined"]


def test_a_replayed_quarantined_message_is_processed_again_and_moved(mail_sandbox, mail_env, ctx):
    def explode(ctx_, inbound):
        raise RuntimeError("broken")

    smtp_send(mail_sandbox, make_mail(sender=REP, subject="try again later"))
    wait_for(lambda: folder_messages(mail_sandbox, SERVICE), what="delivery")
    conn = Connection(ctx.cfg.imap)
    try:
        conn.ensure_folders(["Processed", "Quarantine"])
        broken = Intake(ctx, handlers={**default_handlers(), "unrecognized": explode})
        for _ in range(ctx.cfg.policy.max_attempts):
            broken.poll(conn)
            time.sleep(ctx.cfg.policy.retry_seconds)
        assert ctx.db.execute("SELECT state FROM messages").fetchone()[0] == "quarantined"

        from service.store.messages import reset_for_replay

        reset_for_replay(ctx.db, 1)
        Intake(ctx).poll(conn)
    finally:
        conn.close()
    assert ctx.db.execute("SELECT state, folder FROM messages").fetchone() == ("rejected", "Processed")
    assert folder_messages(mail_sandbox, SERVICE, "Quarantine") == []
    assert len(folder_messages(mail_sandbox, SERVICE, "Processed")) == 1
    wait_for(lambda: ctx.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 1, what="the reply")


@pytest.mark.auto_reply_limit(count=10_000, per_thread=1_000)  # 300 help replies to one rep, on purpose
def test_sigkill_in_the_middle_of_a_backlog_loses_and_duplicates_nothing(mail_sandbox, daemon, cfg):
    total = 300
    raws = [make_mail(sender=REP, subject=f"backlog {i}", message_id=f"<backlog-{i}@client.test>").as_bytes()
            for i in range(total)]
    append_raw(mail_sandbox, SERVICE, raws)

    first = daemon()
    wait_for(lambda: sum(states(cfg).values()) >= total // 3, timeout=60, interval=0.02,
             what="a third of the backlog to be recorded")
    first.stop(signal.SIGKILL)
    done_before = sum(states(cfg).values())
    assert done_before < total, "the backlog finished before the kill; make it larger"

    second = daemon()
    wait_for(lambda: states(cfg).get("rejected", 0) == total, timeout=120, what="the whole backlog")
    ids = [r[0] for r in db_rows(cfg, "SELECT message_id FROM messages")]
    assert sorted(ids) == sorted(f"backlog-{i}@client.test" for i in range(total))
    outbox = db_rows(cfg, "SELECT cause_message, COUNT(*) FROM outbox GROUP BY cause_message")
    assert len(outbox) == total and all(n == 1 for _, n in outbox)

    wait_for(lambda: len(folder_messages(mail_sandbox, SERVICE, "Processed")) == total, timeout=60,
             what="every message moved to Processed")
    assert folder_messages(mail_sandbox, SERVICE, "INBOX") == []
    replies = wait_for(lambda: (lambda m: m if len(m) >= total else None)(folder_messages(mail_sandbox, REP)),
                       timeout=120, what="every reply delivered")
    answered = {r.headers["in-reply-to"][0] for r in replies}
    assert answered == {f"<backlog-{i}@client.test>" for i in range(total)}
    # A reply may go out twice only if the kill fell between SMTP's OK and our commit,
    # and then with the same Message-ID.
    assert len({r.headers["message-id"][0] for r in replies}) == total
    assert second.stop() == 0


def test_the_daemon_reconnects_after_a_dovecot_restart_and_processes_mail_sent_meanwhile(
        mail_sandbox, daemon, cfg):
    proc = daemon()
    wait_for(lambda: "IMAP connected" in proc.output(), what="the daemon to connect")
    mail_sandbox.stop_dovecot()
    try:
        smtp_send(mail_sandbox, make_mail(sender=REP, subject="sent during the outage"))
    finally:
        mail_sandbox.start_dovecot()
    wait_for(lambda: states(cfg).get("rejected") == 1, timeout=60, what="the mail sent during the outage")
    assert proc.output().count("IMAP connected") >= 2
    assert "IMAP connection lost" in proc.output()
    wait_for(lambda: folder_messages(mail_sandbox, REP), timeout=30, what="the reply")


def test_mail_queued_while_postfix_is_down_is_delivered_once_it_is_back(mail_sandbox, daemon, cfg):
    smtp_send(mail_sandbox, make_mail(sender=REP, subject="answer me later", message_id="<later@client.test>"))
    wait_for(lambda: folder_messages(mail_sandbox, SERVICE), what="delivery")
    mail_sandbox.stop_postfix()
    try:
        proc = daemon()
        wait_for(lambda: db_rows(cfg, "SELECT attempts FROM outbox WHERE attempts > 0"), timeout=30,
                 what="a failed SMTP attempt")
        assert db_rows(cfg, "SELECT state FROM outbox") == [("queued",)]
    finally:
        mail_sandbox.start_postfix()
    wait_for(lambda: db_rows(cfg, "SELECT state FROM outbox") == [("sent",)], timeout=60,
             what="the outbox to be sent")
    replies = wait_for(lambda: folder_messages(mail_sandbox, REP), timeout=30, what="the reply")
    assert [(r.subject, r.headers.get("in-reply-to")) for r in replies] == [
        ("回复：answer me later【未能识别，请按格式重发】", ("<later@client.test>",))]
    assert proc.stop() == 0


def corpus_files() -> list[Path]:
    from .conftest import CORPUS

    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name not in ("index.tsv", "SOURCES.md"))


def corpus_tags() -> dict[str, set[str]]:
    from .conftest import CORPUS

    tags = {}
    for line in (CORPUS / "index.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        parts = line.split("\t")
        if len(parts) >= 2:
            tags[parts[0]] = set(parts[1].split(","))
    return tags


def test_every_corpus_message_passes_through_the_daemon_and_automatic_mail_is_ignored(
        mail_sandbox, mail_env, ctx):
    from .conftest import CORPUS

    files = corpus_files()
    append_raw(mail_sandbox, SERVICE, [p.read_bytes() for p in files])

    result = poll_once(ctx)

    assert result.failed == 0
    assert result.fetched == len(files)
    rows = ctx.db.execute("SELECT state, kind FROM messages ORDER BY id").fetchall()
    assert len(rows) == len(files) and all(state != "received" for state, _ in rows)
    automatic = {"autoreply", "bounce", "dsn", "mdn", "arf"}
    tags = corpus_tags()
    for path, (state, kind) in zip(files, rows):
        if tags.get(str(path.relative_to(CORPUS)), set()) & automatic:
            assert state == "ignored", f"{path.name} should be ignored, was {state} ({kind})"
    # Strangers are never answered: the only mail sent goes to configured people.
    assert ctx.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0
    assert folder_messages(mail_sandbox, SERVICE, "INBOX") == []


def test_mail_delivered_just_before_idle_starts_wakes_it_at_once(mail_sandbox, mail_env, cfg):
    # Dovecot reports such mail in the same packet as "+ idling": it must not wait for a keepalive.
    conn = Connection(cfg.imap)
    try:
        conn.select("INBOX")
        for i in range(3):
            conn.uids_after(0)  # the daemon's last command before IDLE
            smtp_send(mail_sandbox, make_mail(sender=REP, subject=f"just before idle {i}"))
            wait_for(lambda: len(folder_messages(mail_sandbox, SERVICE)) == i + 1, what="delivery")
            time.sleep(0.2)
            started = time.monotonic()
            conn.idle_wait(10)
            assert time.monotonic() - started < 2, f"round {i}: IDLE slept on a reported change"
    finally:
        conn.close()


def test_on_a_server_without_idle_the_daemon_polls_and_still_answers(mail_sandbox, mail_env, cfg, monkeypatch):
    import threading

    import service.daemon as daemon_module
    from service.context import Context

    class WithoutIdle(Connection):
        def _login(self) -> None:
            super()._login()
            self.capabilities.discard("IDLE")

    monkeypatch.setattr(daemon_module, "POLL_WITHOUT_IDLE", 0.5)
    running: dict = {}

    def serve() -> None:
        running["daemon"] = daemon_module.Daemon(Context.open(cfg), connect=WithoutIdle)
        running["daemon"].run()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        wait_for(lambda: db_rows(cfg, "SELECT value FROM service_state WHERE key = 'last_imap_contact'"),
                 what="the first poll")
        smtp_send(mail_sandbox, make_mail(sender=REP, subject="polled, not idled"))
        wait_for(lambda: states(cfg).get("rejected") == 1, timeout=10, what="the polled mail to be processed")
        wait_for(lambda: folder_messages(mail_sandbox, REP), what="the reply")
    finally:
        running["daemon"].stop()
        thread.join(15)
    assert not thread.is_alive()
