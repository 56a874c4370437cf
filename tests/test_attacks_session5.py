"""Attacks on commit 853d91e (issue 12's writer and reader CPU cuts): savepoints per mail,
migration 0012 and the misplaced-mail index ranges, the date and time lookaheads.

The regexes are compared with the parent commit's own modules (read from git, not from the
tree). The one fault found – a fixed savepoint name, which a block left open by a suspended
generator made reach another mail's savepoint – is fixed (store/db.py names each savepoint
once); its two tests and the attacks that held stay as regression tests.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import random
import signal
import sqlite3
import subprocess
import sys
import types
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from service import intake as intake_module
from service.context import Context
from service.intake import Intake, PollResult
from service.reading import dates as new_dates
from service.reading import times as new_times
from service.store import messages
from service.store.db import open_db, transaction
from service.workers import Preparer
from service.workflows import default_handlers

from .test_attacks_backlog import FakeImap
from .test_backlog_pipeline import _config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from backlog import make_report  # the benchmark's realistic reports

REPO = Path(__file__).resolve().parents[1]
PARENT = "5824f5c5fa04d2274c52d741714157032f10f76e"  # the commit before the CPU cuts


def _git_show(path: str) -> str:
    try:
        return subprocess.run(["git", "show", f"{PARENT}:{path}"], cwd=REPO, check=True,
                              capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"the parent commit is not in this checkout ({exc})")


@pytest.fixture(scope="module")
def old_reading():
    """Return the parent commit's (dates, times) modules, loaded as a package of their own."""
    name = "_old_reading_853d91e"
    package = types.ModuleType(name)
    package.__path__ = []
    sys.modules[name] = package
    loaded = {}
    for module in ("values", "dates", "times"):
        spec = importlib.util.spec_from_loader(f"{name}.{module}", loader=None)
        mod = importlib.util.module_from_spec(spec)
        mod.__package__ = name
        sys.modules[f"{name}.{module}"] = mod
        exec(compile(_git_show(f"service/reading/{module}.py"), f"<{PARENT[:7]}:{module}.py>", "exec"), mod.__dict__)  # noqa: S102 - git's own text
        loaded[module] = mod
    yield loaded["dates"], loaded["times"]
    for key in [k for k in sys.modules if k.startswith(name)]:
        del sys.modules[key]


# -- the lookaheads: every input reads as it did -------------------------------------------------

WRITTEN = [
    "２０２６年１１月２６日", "２０２６年１１月２６日 下午３点", "１１月２６日", "２６日", "１１/２６ ９：３０",
    "二〇二六年十一月二十六日", "二零二六年十一月二十六日", "十一月廿六日", "廿六日", "〇九月〇一日",
    "十一月二十六日下午三点半", "NOVEMBER 26, 2026", "Nov 26", "NOV 26 3PM", "26 NOVEMBER", "March 3rd",
    "TODAY 9:00", "Tomorrow 9am", "下午三点半", "两点", "十点", "下午两点一刻", "兩點半", "十二点零五分",
    "零点", "〇点三十", "晚上十点到次日两点", "早上七点", "中午十二点", "Morning 9", "NOON", "9 AM",
    "下午 3：30", "3点半-5点", "十点至十一点半", "今天下午两点", "明天上午十点", "昨日 下午",
    "　１０：００", "约两点左右", "周三下午两点", "礼拜天 10点", "第二天上午", "11月26号下午2点",
    "半夜十二点", "傍晚六点", "凌晨两点", "夜里11点", "十一点五十九分", "二十三点", "廿三点",
]


def _found(pattern, text: str) -> list:
    return [(m.span(), m.groupdict()) for m in pattern.finditer(text)]


def _read(fn, text: str) -> str:
    try:
        return repr(fn(text, date(2026, 11, 27)))
    except Exception as exc:  # noqa: BLE001 - a raise must match too
        return f"raised {type(exc).__name__}: {exc}"


def _differences(old_reading, text: str) -> list[str]:
    old_dates, old_times = old_reading
    found = []
    for what, old, new in (("DATE_RE", old_dates.DATE_RE, new_dates.DATE_RE),
                           ("_TIME_RE", old_times._TIME_RE, new_times._TIME_RE)):
        if _found(old, text) != _found(new, text):
            found.append(f"{what} on {text!r}")
    for what, old, new in (("parse_visit_time", old_times.parse_visit_time, new_times.parse_visit_time),
                           ("parse_date", old_dates.parse_date, new_dates.parse_date)):
        if _read(old, text) != _read(new, text):
            found.append(f"{what}({text!r}): {_read(old, text)} became {_read(new, text)}")
    return found


@pytest.mark.parametrize("text", WRITTEN)
def test_full_width_digits_chinese_zeros_capitals_and_spoken_hours_read_as_before_the_lookaheads(
        old_reading, text):
    assert _differences(old_reading, text) == []


_ALPHABET = [*"0123456789０１２３４５６７８９一二三四五六七八九十〇零廿两兩年月日号点时點時分半刻上下午早晚凌晨中傍夜"
             "今明昨前后天周星期/-.:~ 　,TtAaPpMmJjFfSsOoNnDdYy",
             "Nov", "NOV", "November", "MARCH", "today", "Today", "下午三点半", "两点", "十点", "am", "pm",
             "to", "至", "到", "th", "of"]


@pytest.mark.parametrize("seed", range(4))
def test_random_date_and_time_text_reads_as_before_the_lookaheads(old_reading, seed):
    rng = random.Random(seed)
    found = []
    for _ in range(5000):
        text = "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(1, 14)))
        found += _differences(old_reading, text)
    assert found[:5] == []


# -- savepoints: a failing mail undoes itself alone, whatever it left open ----------------------------------

def _failing_on(uids: set[int], *, nested: bool = False):
    """Return handlers that run the real workflow and then raise for mails of these inbox UIDs
    (their rows written first, so the rollback has something to undo); nested: the workflow
    runs inside two more transaction blocks, with a failed and caught block of its own."""
    real = default_handlers()

    def wrap(handler):
        def handle(ctx, inbound):
            uid = ctx.db.execute("SELECT uid FROM messages WHERE id = ?", [inbound.id]).fetchone()[0]
            if nested:
                with transaction(ctx.db):
                    try:
                        with transaction(ctx.db):
                            messages.audit(ctx.db, subject=f"message:{inbound.id}", action="attack:undone",
                                           reason="caught inside the workflow", message=inbound.id)
                            raise LookupError("a step the workflow recovers from")
                    except LookupError:
                        pass
                    with transaction(ctx.db):
                        outcome = handler(ctx, inbound)
                        messages.audit(ctx.db, subject=f"message:{inbound.id}", action="attack:kept",
                                       reason="nested", message=inbound.id)
            else:
                outcome = handler(ctx, inbound)
            if uid in uids:
                raise RuntimeError(f"attack: mail {uid} fails after its workflow wrote its rows")
            return outcome
        return handle
    return {kind: wrap(handler) for kind, handler in real.items()}


def _take_in(cfg, raws, *, workers: int, handlers) -> tuple[Context, Intake]:
    """Take ``raws`` in batches of 25 as the backlog path does (UID n+1 for raws[n])."""
    from service.inbound.imap import Fetched

    ctx = Context.open(cfg)
    intake = Intake(ctx, workers=workers, handlers=handlers)
    result = PollResult()
    batches = [list(range(i, min(len(raws), i + 25))) for i in range(0, len(raws), 25)]
    with Preparer(cfg, intake.readers, workers=workers, drafters=intake.drafters) as preparer:
        for batch in batches:
            fetched = [Fetched(uid=i + 1, raw=raws[i]) for i in batch]
            intake._take_batch("INBOX", 1, fetched, preparer.submit([raws[i] for i in batch]).result(),
                               batch[-1] + 1, result)
    return ctx, intake


def _per_mail(ctx: Context) -> dict[int, tuple]:
    """Return by inbox UID what each mail left: state, attempts, reports, visits, mails, audit actions."""
    db = ctx.db
    out = {}
    for mid, uid, state, attempts in db.execute("SELECT id, uid, state, attempts FROM messages"):
        out[uid] = (
            state, attempts,
            db.execute("SELECT COUNT(*) FROM reports WHERE message = ?", [mid]).fetchone()[0],
            db.execute("SELECT COUNT(*) FROM visits v JOIN reports r ON r.id = v.report WHERE r.message = ?",
                       [mid]).fetchone()[0],
            sorted(t for (t,) in db.execute("SELECT template FROM outbox WHERE cause_message = ?", [mid])),
            sorted(a for (a,) in db.execute("SELECT action FROM audit WHERE message = ?", [mid])),
        )
    return out


FAILING = {
    "first": {1},
    "middle": {13},
    "last-of-a-batch": {25},
    "first-of-the-next": {26},
    "consecutive": {30, 31, 32},
    "last": {60},
    "scattered": {1, 13, 25, 26, 40, 60},
}


@pytest.mark.parametrize("workers", [0, 2], ids=["plain", "pooled"])
@pytest.mark.parametrize("nested", [False, True], ids=["flat-workflow", "nested-workflow"])
@pytest.mark.parametrize("where", list(FAILING))
def test_mails_failing_in_their_savepoint_leave_no_row_and_every_other_mail_keeps_all_of_its_rows(
        config_file, tmp_path, where, nested, workers):
    raws = [make_report(i) for i in range(60)]
    base_cfg = _config(config_file, tmp_path, "base")
    cfg = _config(config_file, tmp_path, "attack")
    base, _ = _take_in(base_cfg, raws, workers=0, handlers=_failing_on(set(), nested=nested))
    ctx, intake = _take_in(cfg, raws, workers=workers, handlers=_failing_on(FAILING[where], nested=nested))
    expected, got = _per_mail(base), _per_mail(ctx)
    assert all(row[0] == "processed" and row[2] == 1 and "daily_receipt" in row[4] for row in expected.values())
    for uid, row in got.items():
        if uid in FAILING[where]:
            assert row == ("received", 1, 0, 0, [], ["failed"]), uid
        else:
            assert row == expected[uid], uid
    if nested:  # the workflow's own caught failure was undone each time, its other rows kept
        assert ctx.db.execute("SELECT COUNT(*) FROM audit WHERE action = 'attack:undone'").fetchone()[0] == 0
    # The retry finds them and gives each its one receipt; nothing else changes.
    intake.handlers = _failing_on(set(), nested=nested)
    intake._next_retry = 0
    intake.process_pending(PollResult())
    again = _per_mail(ctx)
    assert {uid: row[2:5] for uid, row in again.items()} == {uid: row[2:5] for uid, row in expected.items()}
    assert {row[0] for row in again.values()} == {"processed"}
    base.close()
    ctx.close()


def _leaves_a_savepoint_open(uids: set[int]):
    """Return handlers whose workflow, after its own rows, steps through a generator that holds a
    nested transaction open while it yields, and fails for mails of these UIDs while the
    generator is suspended (the traceback keeps its frame, so its block ends only when that is freed)."""
    real = default_handlers()

    def wrap(handler):
        def handle(ctx, inbound):
            def lookups():
                with transaction(ctx.db):
                    yield 1
                    yield 2

            outcome = handler(ctx, inbound)
            steps = lookups()  # for the audit trail, after the workflow
            next(steps)
            uid = ctx.db.execute("SELECT uid FROM messages WHERE id = ?", [inbound.id]).fetchone()[0]
            if uid in uids:
                raise RuntimeError(f"attack: mail {uid} fails with a savepoint still open")
            steps.close()
            return outcome
        return handle
    return {kind: wrap(handler) for kind, handler in real.items()}


def test_a_mail_failing_while_a_nested_block_is_still_open_is_counted_and_quarantined_in_the_end(
        config_file, tmp_path):
    raws = [make_report(i) for i in range(10)]
    cfg = _config(config_file, tmp_path, "open")
    ctx, intake = _take_in(cfg, raws, workers=0, handlers=_leaves_a_savepoint_open({4}))
    first = _per_mail(ctx)[4]
    for _ in range(cfg.policy.max_attempts):
        intake._next_retry = 0
        intake.process_pending(PollResult())
    last = _per_mail(ctx)[4]
    ctx.close()
    assert first == ("received", 1, 0, 0, [], ["failed"])
    assert last[0] == "quarantined"


def test_a_savepoint_left_open_by_a_failed_mail_undoes_no_later_mail(tmp_path):
    db = open_db(tmp_path / "visitflow.db")
    db.execute("CREATE TABLE attack (what TEXT)")

    def lookups():
        with transaction(db):
            db.execute("INSERT INTO attack VALUES ('lookup')")
            yield 1
            yield 2

    with transaction(db):  # the batch
        db.execute("INSERT INTO attack VALUES ('before')")
        try:
            with transaction(db):  # mail A
                db.execute("INSERT INTO attack VALUES ('A')")
                steps = lookups()
                next(steps)
                raise RuntimeError("mail A fails")
        except RuntimeError:
            pass
        with transaction(db):  # mail B, settled
            db.execute("INSERT INTO attack VALUES ('B')")
        with contextlib.suppress(sqlite3.OperationalError):  # sqlite-utils: "no such savepoint"
            steps.close()  # the generator ends (as when A's traceback is freed)
    kept = [w for (w,) in db.execute("SELECT what FROM attack ORDER BY rowid")]
    db.close()
    assert kept == ["before", "B"]


def test_a_failure_that_ends_the_whole_transaction_is_raised_and_leaves_nothing_open(tmp_path):
    db = open_db(tmp_path / "visitflow.db")
    db.execute("CREATE TABLE attack (what TEXT)")
    db.execute("CREATE TRIGGER abort_all BEFORE INSERT ON attack WHEN NEW.what = 'boom' "
               "BEGIN SELECT RAISE(ROLLBACK, 'the whole transaction'); END")
    with pytest.raises(Exception, match="the whole transaction"), transaction(db):
        db.execute("INSERT INTO attack VALUES ('kept?')")
        with transaction(db), transaction(db):
            db.execute("INSERT INTO attack VALUES ('boom')")
    assert not db.conn.in_transaction
    with transaction(db):
        db.execute("INSERT INTO attack VALUES ('after')")
    assert [w for (w,) in db.execute("SELECT what FROM attack")] == ["after"]
    db.close()


# -- settled mail left in the inbox: moved once, and when ------------------------------------------

def _leave_settled_in_inbox(cfg, server: FakeImap, uids: list[int], states: dict[int, str]) -> None:
    """Record inbox mails ``uids`` as a killed run left them: settled, not moved."""
    ctx = Context.open(cfg)
    try:
        with transaction(ctx.db):
            for uid in uids:
                rec = messages.record(ctx.db, folder="INBOX", uidvalidity=1, uid=uid, raw=server.inbox[uid],
                                      message_id=f"left.{uid}@example.com", sender="a@example.com",
                                      subject="s", sent_at=None)
                messages.settle(ctx.db, rec.id, state=states.get(uid, "processed"), kind="daily_report",
                                reason="left by a killed run")
            messages.set_watermark(ctx.db, "INBOX", 1, max(uids))
    finally:
        ctx.close()


def _moves(events: list) -> Counter:
    return Counter(uid for e in events if e[0] == "move" for uid in e[2])


@pytest.mark.parametrize("new_mail", [0, 3, 90], ids=["nothing-new", "one-batch", "a-backlog"])
def test_a_few_settled_mails_left_in_the_inbox_are_moved_by_the_next_poll_once(config_file, tmp_path, new_mail):
    cfg = _config(config_file, tmp_path, "few")
    raws = [make_report(i) for i in range(5 + new_mail)]
    events: list = []
    server = FakeImap(raws, events)
    _leave_settled_in_inbox(cfg, server, [1, 2, 3, 4, 5], {2: "quarantined", 4: "rejected"})
    ctx = Context.open(cfg)
    Intake(ctx, workers=2).poll(server)
    assert server.inbox == {}
    assert set(_moves(events).values()) == {1} and len(_moves(events)) == 5 + new_mail
    assert len(server.folders["Quarantine"]) == 1
    assert messages.count_misplaced(ctx.db, processed="Processed", quarantine="Quarantine") == 0
    ctx.close()


def test_a_backlog_larger_than_a_move_group_moves_each_mail_once_in_groups_during_the_backlog(
        config_file, tmp_path, monkeypatch):
    monkeypatch.setattr(intake_module, "MOVE_GROUP", 30)
    cfg = _config(config_file, tmp_path, "groups")
    from dataclasses import replace

    cfg = replace(cfg, imap=replace(cfg.imap, fetch_batch=20))
    events: list = []
    raws = [make_report(i) for i in range(140)]
    server = FakeImap(raws, events)
    _leave_settled_in_inbox(cfg, server, [1, 2, 3], {})
    ctx = Context.open(cfg)
    Intake(ctx, workers=2).poll(server)
    moves = [e for e in events if e[0] == "move"]
    assert server.inbox == {} and set(_moves(events).values()) == {1} and len(_moves(events)) == 140
    assert len(moves) >= 3, "groups moved while the backlog went on"
    assert all(len(m[2]) >= 30 for m in moves[:-1])
    ctx.close()


# -- an upgrade through the real servers: 0011 database, killed runs, new code ---------------------

@pytest.fixture
def parent_tree(tmp_path) -> Path:
    """Return a directory holding the parent commit's service and templates (git archive)."""
    root = tmp_path / "parent"
    root.mkdir()
    try:
        archive = subprocess.run(["git", "archive", PARENT, "service", "templates"], cwd=REPO, check=True,
                                 capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"the parent commit is not in this checkout ({exc})")
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
    return root


def _kill_poll_midway(tree: Path, config_file: Path, env: dict, cfg, at: int, log: Path) -> None:
    """Run `visitflow poll` from ``tree`` and SIGKILL it once ``at`` mails are recorded."""
    from .conftest import wait_for
    from .test_pipeline_on_real_servers import states

    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "service", "--config", str(config_file), "poll", "--no-send"],
                                cwd=tree, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: sum(states(cfg).values()) >= at or proc.poll() is not None, timeout=120,
                     interval=0.02, what=f"{at} mails recorded")
            assert proc.poll() is None, "the poll finished before the kill; make the backlog larger"
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.mark.mail
def test_a_database_of_the_parent_commit_killed_in_a_backlog_ends_moved_once_after_the_upgrade(
        mail_sandbox, mail_env, config_file, tmp_path, parent_tree):
    import yaml

    from service.config import load_config

    from .conftest import append_raw, folder_messages
    from .test_pipeline_on_real_servers import db_rows

    data = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    data["imap"]["fetch_batch"] = 20
    data["policy"]["auto_reply_limit"] = {"count": 10_000, "per_thread": 1_000}
    config_file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    cfg = load_config(config_file)
    service = cfg.service_address
    reps = tuple(__import__("backlog").Sender(r.name, r.email) for r in cfg.organisation.reps.values())
    raws = [make_report(i, senders=reps) for i in range(600)]
    stranger = raws[7].replace(b"From: ", b"From: stranger@visitflow.test\r\nX-Old-From: ", 1)
    stranger = stranger.replace(b"Message-ID: <", b"Message-ID: <stranger.", 1)
    raws = raws[:100] + [raws[3], stranger] + raws[100:]  # a duplicate and a stranger's report, early
    append_raw(mail_sandbox, service, raws)

    _kill_poll_midway(parent_tree, config_file, mail_env, cfg, 250, tmp_path / "old.log")
    applied = {n for (n,) in db_rows(cfg, "SELECT name FROM _sqlite_migrations")}
    assert "0011_monthly_review_held" in applied and "0012_message_places" not in applied
    left = db_rows(cfg, "SELECT state, COUNT(*) FROM messages WHERE folder = 'INBOX' GROUP BY state")
    assert {s for s, _ in left} >= {"processed", "ignored"}, left
    # One settled mail of each other state as an older run may have left it in the inbox.
    conn = sqlite3.connect(cfg.storage.database)
    with conn:
        conn.execute("UPDATE messages SET state = 'quarantined' WHERE id = (SELECT max(id) FROM messages "
                     "WHERE state = 'processed')")
    conn.close()

    _kill_poll_midway(REPO, config_file, mail_env, cfg, 450, tmp_path / "new.log")
    done = subprocess.run([sys.executable, "-m", "service", "--config", str(config_file), "poll", "--no-send"],
                          cwd=REPO, env=mail_env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr

    assert folder_messages(mail_sandbox, service, "INBOX") == []
    moved = [m.headers["message-id"][0] for folder in ("Processed", "Quarantine")
             for m in folder_messages(mail_sandbox, service, folder)]
    assert len(moved) == len(raws)
    assert sorted(Counter(moved).values()) == [1] * (len(raws) - 2) + [2], "only the duplicate twice"
    quarantined = db_rows(cfg, "SELECT COUNT(*) FROM messages WHERE state = 'quarantined'")[0][0]
    assert len(folder_messages(mail_sandbox, service, "Quarantine")) == quarantined >= 1
    assert db_rows(cfg, "SELECT COUNT(*) FROM messages WHERE folder != CASE state WHEN 'quarantined' "
                        "THEN 'Quarantine' ELSE 'Processed' END") == [(0,)]
    assert db_rows(cfg, "SELECT COUNT(*) FROM messages WHERE folder = 'INBOX'") == [(0,)]
    assert db_rows(cfg, "SELECT COUNT(*) FROM messages WHERE state = 'received'") == [(0,)]
    receipts = db_rows(cfg, "SELECT cause_message, COUNT(*) FROM outbox WHERE template = 'daily_receipt' "
                            "GROUP BY cause_message")
    assert len(receipts) == 600 and {n for _, n in receipts} == {1}
    assert "0012_message_places" in {n for (n,) in db_rows(cfg, "SELECT name FROM _sqlite_migrations")}
