"""Attacks on the backlog path (issue 12) through the real Dovecot and Postfix: the daemon killed
or stopped in the middle of a pooled backlog, what it leaves behind, what it keeps in memory.

Faults found are strict xfails naming what is wrong; attacks that held up stay as regression tests.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from .conftest import append_raw, folder_messages, wait_for
from .test_attacks_backlog import _alive as alive
from .test_attacks_backlog import _processes_naming as processes_naming
from .test_pipeline_on_real_servers import db_rows, states

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from backlog import Sender, make_report  # noqa: E402 - the benchmark's realistic reports

pytestmark = pytest.mark.mail

SERVICE = "visits@visitflow.test"


def reports(cfg, total: int) -> list[bytes]:
    """Return ``total`` realistic daily reports from the config's reps (every eighth with a card)."""
    reps = tuple(Sender(r.name, r.email) for r in cfg.organisation.reps.values())
    return [make_report(i, senders=reps) for i in range(total)]


def recorded(cfg) -> int:
    return sum(states(cfg).values())


def children_of(pid: int) -> list[int]:
    """Return the PIDs of pid's child processes (every thread's)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found




def kill_leftovers(config_file: Path) -> list[int]:
    """SIGKILL, by PID, every process still running this test's config; return their PIDs."""
    left = processes_naming(str(config_file))
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return left


@pytest.fixture
def no_leftovers(config_file):
    """After the test (and after its daemons were stopped), SIGKILL by PID whatever still runs its config."""
    yield
    kill_leftovers(config_file)


def wait_for_workers(proc) -> list[int]:
    return wait_for(lambda: children_of(proc.proc.pid), timeout=60, interval=0.02,
                    what="the daemon to fork its worker processes")


@pytest.mark.policy(auto_reply_limit={"count": 10_000, "per_thread": 1_000})
def test_three_sigkills_in_a_pooled_backlog_lose_nothing_and_send_every_receipt_once(
        no_leftovers, mail_sandbox, daemon, cfg, config_file):
    total = 700
    append_raw(mail_sandbox, SERVICE, reports(cfg, total))
    for share in (0.15, 0.4, 0.65):
        proc = daemon()
        wait_for(lambda: recorded(cfg) >= total * share, timeout=120, interval=0.02,
                 what=f"{share:.0%} of the backlog to be recorded")
        assert children_of(proc.proc.pid), "the backlog is prepared by worker processes"
        proc.stop(signal.SIGKILL)
        kill_leftovers(config_file)  # workers that outlived it, if any (see the test below)
        assert recorded(cfg) < total, "the backlog finished before the kill; make it larger"
    last = daemon()
    wait_for(lambda: states(cfg).get("processed", 0) == total, timeout=180, what="the whole backlog")

    ids = Counter(r[0] for r in db_rows(cfg, "SELECT message_id FROM messages"))
    assert len(ids) == total and set(ids.values()) == {1}
    receipts = db_rows(cfg, "SELECT cause_message, COUNT(*) FROM outbox WHERE template = 'daily_receipt' "
                            "GROUP BY cause_message")
    assert len(receipts) == total and all(n == 1 for _, n in receipts)
    wait_for(lambda: len(folder_messages(mail_sandbox, SERVICE, "Processed")) == total, timeout=60,
             what="every report moved to Processed")
    assert folder_messages(mail_sandbox, SERVICE, "INBOX") == []
    wait_for(lambda: db_rows(cfg, "SELECT COUNT(*) FROM outbox WHERE state != 'sent'") == [(0,)], timeout=120,
             what="every receipt sent")
    # Postfix delivers a sent receipt a moment later.
    delivered = wait_for(lambda: (lambda d: d if len({m.headers["in-reply-to"][0] for m in d}) >= total else None)(
        [m for rep in cfg.organisation.reps for m in folder_messages(mail_sandbox, rep)]),
        timeout=120, what="a receipt for every report in the reps' mailboxes")
    assert len({m.headers["in-reply-to"][0] for m in delivered}) == total
    # A receipt may arrive twice only when a kill fell between SMTP's OK and the commit – then
    # with one Message-ID.
    by_cause = {}
    for m in delivered:
        by_cause.setdefault(m.headers["in-reply-to"][0], set()).add(m.headers["message-id"][0])
    assert all(len(ids) == 1 for ids in by_cause.values())
    assert last.stop() == 0


def test_no_worker_process_outlives_a_daemon_killed_in_a_backlog(no_leftovers, mail_sandbox, daemon, cfg,
                                                                  config_file):
    append_raw(mail_sandbox, SERVICE, reports(cfg, 700))
    proc = daemon()
    workers = wait_for_workers(proc)
    proc.stop(signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(p) for p in workers):
        time.sleep(0.1)
    assert [p for p in workers if alive(p)] == []


@pytest.mark.policy(auto_reply_limit={"count": 10_000, "per_thread": 1_000})
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_a_stop_signal_in_a_backlog_ends_the_daemon_within_a_few_batches_and_loses_nothing(
        no_leftovers, mail_sandbox, daemon, cfg, config_file, signum):
    total = 3000
    append_raw(mail_sandbox, SERVICE, reports(cfg, total))
    proc = daemon()
    wait_for_workers(proc)
    wait_for(lambda: recorded(cfg) >= 150, timeout=120, interval=0.02, what="the backlog under way")
    at_signal = recorded(cfg)
    assert proc.stop(signum, timeout=60) == 0
    assert "visitflow stopped" in proc.output()
    # A batch being taken in and the one being prepared may still be finished; not the rest.
    assert recorded(cfg) <= at_signal + 3 * cfg.imap.fetch_batch, f"{recorded(cfg) - at_signal} taken in after the signal"
    daemon()
    wait_for(lambda: states(cfg).get("processed", 0) == total, timeout=240, what="the rest after a restart")


@pytest.mark.policy(auto_reply_limit={"count": 10_000, "per_thread": 1_000})
def test_after_a_pooled_backlog_the_idle_daemon_keeps_no_child_and_at_most_80_mb(
        no_leftovers, mail_sandbox, daemon, cfg):
    total = 1200
    append_raw(mail_sandbox, SERVICE, reports(cfg, total))
    proc = daemon()
    wait_for_workers(proc)
    wait_for(lambda: states(cfg).get("processed", 0) == total, timeout=240, what="the whole backlog")
    wait_for(lambda: db_rows(cfg, "SELECT COUNT(*) FROM outbox WHERE state != 'sent'") == [(0,)], timeout=120,
             what="every receipt sent")
    wait_for(lambda: not children_of(proc.proc.pid), timeout=20, what="the worker processes to end")
    time.sleep(4)  # the daemon gives memory back after QUIET_SECONDS without mail
    status = Path(f"/proc/{proc.proc.pid}/status").read_text()
    rss_mb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) / 1024
    assert rss_mb <= 80, f"idle RSS {rss_mb:.0f} MB"
    assert children_of(proc.proc.pid) == []
    assert proc.stop() == 0
