"""The daemon names what is wrong and backs off for it: the database, or the IMAP server (issue 8)."""

from __future__ import annotations

import subprocess
import time

import pytest

from .conftest import make_mail, smtp_send, wait_for
from .test_pipeline_on_real_servers import REP, states

pytestmark = pytest.mark.mail


def chattr(flag: str, *paths) -> None:
    subprocess.run(["chattr", flag, *map(str, paths)], check=True)


def test_an_unwritable_database_is_logged_as_one_and_imap_is_not_reconnected_for_it(
        mail_sandbox, daemon, cfg):
    proc = daemon()
    wait_for(lambda: "IMAP connected" in proc.output(), what="the daemon to connect")
    database = cfg.storage.database
    # The database and its log, as the attack had it (an immutable -shm, which SQLite maps into
    # memory, would kill any process with SIGBUS: not a state the daemon can answer).
    files = [p for p in (database, database.with_name(database.name + "-wal")) if p.exists()]
    chattr("+i", *files)
    try:
        smtp_send(mail_sandbox, make_mail(sender=REP, subject="while the database is read-only"))
        # The intake's own line: the outbox sender may log a database error of its own first.
        wait_for(lambda: "mail stays in the inbox" in proc.output(), timeout=30,
                 what="the intake's database error in the log")
        time.sleep(4)  # long enough for a second, backed-off attempt
    finally:
        chattr("-i", *files)
    wait_for(lambda: states(cfg).get("rejected") == 1, timeout=90, what="the mail once the database is back")
    # Said when that poll returns, after its commit and its move: a moment after the row.
    wait_for(lambda: "database writable again" in proc.output(), timeout=30, what="the all-clear in the log")
    log = proc.output()
    assert "IMAP connection lost" not in log
    assert log.count("IMAP connected") == 1


def test_a_restored_imap_server_is_found_within_about_five_seconds_of_its_return(mail_sandbox, daemon, cfg):
    proc = daemon()
    wait_for(lambda: "IMAP connected" in proc.output(), what="the daemon to connect")
    mail_sandbox.stop_dovecot()
    try:
        # Long enough for an unbounded doubling backoff to reach 16 s and more.
        time.sleep(25)
    finally:
        mail_sandbox.start_dovecot()
    back = time.monotonic()
    wait_for(lambda: proc.output().count("IMAP connected") >= 2, timeout=30, what="the reconnect")
    assert time.monotonic() - back <= 7.0
    smtp_send(mail_sandbox, make_mail(sender=REP, subject="after the outage"))
    wait_for(lambda: states(cfg).get("rejected") == 1, timeout=30, what="mail after the outage")
