"""A backlog through the real Dovecot (issue 12): worker processes prepare it, the settled mail
leaves the inbox in large UID MOVE groups, and nothing is left behind."""

from __future__ import annotations

import logging
import multiprocessing
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from service import intake as intake_module
from service.inbound.imap import Connection, sequence_set
from service.intake import Intake

from .conftest import append_raw, folder_messages

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from backlog import Sender, make_report  # noqa: E402 - the benchmark's realistic reports

SERVICE = "visits@visitflow.test"


@pytest.mark.mail
def test_a_backlog_is_prepared_by_workers_and_moved_in_groups_and_leaves_no_process(
        mail_sandbox, mail_env, ctx, monkeypatch, caplog):
    reps = tuple(Sender(r.name, r.email) for r in ctx.cfg.organisation.reps.values())
    total = 230
    append_raw(mail_sandbox, SERVICE, [make_report(i, senders=reps) for i in range(total)])
    ctx.cfg = replace(ctx.cfg, imap=replace(ctx.cfg.imap, fetch_batch=40))
    monkeypatch.setattr(intake_module, "MOVE_GROUP", 100)
    moves: list[int] = []
    real_move = Connection.move
    monkeypatch.setattr(Connection, "move", lambda self, uids, folder: (moves.append(len(uids)),
                                                                        real_move(self, uids, folder))[1])

    conn = Connection(ctx.cfg.imap)
    try:
        conn.ensure_folders(["Processed", "Quarantine"])
        with caplog.at_level(logging.INFO, logger="visitflow"):
            result = Intake(ctx, workers=2).poll(conn)
    finally:
        conn.close()

    assert (result.fetched, dict(result.settled), result.moved) == (total, {"processed": total}, total)
    assert moves == [120, 110]  # a group once 100 are settled (after 3 batches of 40), then the rest
    assert any("backlog of 230 message(s) in 6 batches, 2 worker process(es)" in r.getMessage()
               for r in caplog.records)
    batch_lines = [r for r in caplog.records if "recorded, settled" in r.getMessage()]
    assert len(batch_lines) == 6
    assert multiprocessing.active_children() == []
    assert folder_messages(mail_sandbox, SERVICE, "INBOX") == []
    assert len(folder_messages(mail_sandbox, SERVICE, "Processed")) == total
    assert ctx.db.execute("SELECT COUNT(*) FROM outbox WHERE template = 'daily_receipt'").fetchone()[0] == total


@pytest.mark.parametrize("uids, expected", [
    ([1, 2, 3, 7], "1:3,7"),
    ([5], "5"),
    ([9, 3, 4, 4, 10], "3:4,9:10"),
    (list(range(1, 1001)), "1:1000"),
    ([2, 4, 6], "2,4,6"),
])
def test_uids_are_sent_as_an_imap_sequence_set_of_ranges(uids, expected):
    assert sequence_set(uids) == expected


@pytest.mark.mail
def test_a_sender_told_to_stop_sends_what_it_claimed_and_leaves_the_rest_queued(mail_sandbox, mail_env, ctx):
    import threading

    from service.outbound import smtp
    from service.store.db import transaction

    with transaction(ctx.db):
        for n in range(smtp.BATCH * 2 + 7):
            ctx.send("help", to=["li.lei@visitflow.test"], original_subject=f"mail {n}", sender_name="李雷",
                     problem=None)
    stopping = threading.Event()
    stopping.set()  # the daemon's SIGTERM arrived while this round was under way
    assert smtp.send_due(ctx.db, ctx.cfg.smtp, ctx.cfg.service_address, stopping=stopping) == smtp.BATCH
    states = dict(ctx.db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall())
    assert states == {"sent": smtp.BATCH, "queued": smtp.BATCH + 7}
    assert ctx.db.execute("SELECT COUNT(*) FROM outbox WHERE claimed_by IS NOT NULL").fetchone()[0] == 0
