"""Attacks on the backlog path of the intake (issue 12), in process with real SQLite.

The whole poll runs against FakeImap, an in-memory stand-in for the IMAP connection that
writes down every move, so what the worker processes, the IMAP helper thread and the writer
do can be checked against each other and against the plain path (workers=0). Faults found
are strict xfails naming what is wrong; attacks that held up stay as regression tests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from service import intake as intake_module
from service.context import Context
from service.inbound.imap import Fetched
from service.intake import Intake
from service.reading.daily import read_daily_report
from service.store import cards
from service.store import db as store_db
from service.store.db import transaction
from service.workers import Preparer
from service.workflows import default_readers

from .test_backlog_pipeline import _config, mixed_backlog, outcome

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from backlog import make_report  # noqa: E402 - the benchmark's realistic reports

FIXTURES = Path(__file__).parent / "fixtures" / "attacks_backlog"
REPO = Path(__file__).resolve().parents[1]
PARENT = os.getpid()


class FakeImap:
    """The part of inbound.imap.Connection the intake uses, in memory; moves are written to
    ``events`` (shared with the fsync spy) in the order they happen."""

    def __init__(self, raws: list[bytes], events: list) -> None:
        self.inbox = {uid: raw for uid, raw in enumerate(raws, start=1)}
        self.folders: dict[str, dict[int, bytes]] = {"Processed": {}, "Quarantine": {}}
        self.events = events
        self.uidvalidity = 1
        self._next = 1

    def select(self, folder: str) -> int:
        return self.uidvalidity

    def sizes_after(self, last_uid: int) -> dict[int, int]:
        return {uid: len(raw) for uid, raw in sorted(self.inbox.items()) if uid > last_uid}

    def fetch_raw(self, uids, batch: int):
        for uid in uids:
            if uid in self.inbox:
                yield Fetched(uid, self.inbox[uid])

    def move(self, uids, folder: str):
        self.events.append(("move", folder, tuple(uids)))
        new = {}
        for uid in uids:
            if uid in self.inbox:
                self.folders[folder][self._next] = self.inbox.pop(uid)
                new[uid] = self._next
                self._next += 1
        return 1, new


@pytest.fixture
def configs(config_file, tmp_path):
    """Return (plain, pooled) configs with the benchmark's reps, fetch batches of 20."""
    made = []
    for name in ("plain", "pool"):
        cfg = _config(config_file, tmp_path, name)
        made.append(replace(cfg, imap=replace(cfg.imap, fetch_batch=20)))
    return made


@pytest.fixture
def fsyncs(monkeypatch) -> list:
    """Write every path store.db.sync_to_disk syncs into the returned event list."""
    events: list = []
    real = store_db._fsync
    monkeypatch.setattr(store_db, "_fsync", lambda path: (events.append(("fsync", str(path))), real(path))[1])
    return events


def poll(cfg, raws: list[bytes], *, workers: int, events: list | None = None, readers=None) -> tuple[Context, FakeImap]:
    """Run one Intake.poll over ``raws`` waiting in a FakeImap inbox; return the context and the server."""
    ctx = Context.open(cfg)
    server = FakeImap(raws, events if events is not None else [])
    Intake(ctx, workers=workers, readers=readers).poll(server)
    return ctx, server


def _outcome_of(polled: tuple[Context, FakeImap]) -> tuple[dict, FakeImap]:
    ctx, server = polled
    try:
        return outcome(ctx), server
    finally:
        ctx.close()


def run_with_timeout(fn, seconds: float):
    """Return fn() run on a daemon thread, or raise AssertionError if it has not returned in time."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise AssertionError(f"still running after {seconds:.0f} s: it hangs")
    if "error" in box:
        raise box["error"]
    return box["value"]


# -- the whole poll, pooled against plain ------------------------------------------------------

def test_a_pooled_poll_through_the_intake_ends_as_the_plain_poll_does_and_empties_the_inbox(configs):
    plain_cfg, pool_cfg = configs
    raws = mixed_backlog()
    plain_ctx, plain_server = poll(plain_cfg, raws, workers=0)
    pool_ctx, pool_server = poll(pool_cfg, raws, workers=2)
    plain, pooled = outcome(plain_ctx), outcome(pool_ctx)
    for key in plain:
        assert pooled[key] == plain[key], key
    assert pool_server.inbox == {} and plain_server.inbox == {}
    assert len(pool_server.folders["Processed"]) + len(pool_server.folders["Quarantine"]) == len(raws)
    assert pool_ctx.db.execute("SELECT COUNT(*) FROM messages WHERE folder = 'INBOX'").fetchone()[0] == 0


def test_every_new_card_and_the_log_are_synced_before_the_move_of_its_mail(configs, fsyncs):
    _, cfg = configs
    raws = [make_report(i) for i in range(120)]
    ctx, _ = poll(cfg, raws, workers=2, events=fsyncs)
    _assert_cards_synced_before_moves(ctx, cfg, fsyncs)


@pytest.mark.parametrize("report", [5, 13, 21], ids=["foxmail-card", "second-card", "third-card"])
def test_a_card_a_crashed_run_wrote_but_never_synced_is_synced_before_its_mail_is_moved(configs, fsyncs, report):
    _, cfg = configs
    raw = make_report(report)
    reading = read_daily_report(Preparer(cfg, default_readers(), workers=0).prepare_here([raw])[0].msg, cfg)
    assert reading.cards, "the report carries a customer card"
    # What the killed run left behind: the card written (not synced), its transaction gone.
    for attachment in reading.cards:
        cards.store_file(Path(cfg.storage.cards_dir), attachment.payload)
    raws = [make_report(i) for i in range(40) if i != report] + [raw]
    ctx, _ = poll(cfg, raws, workers=2, events=fsyncs)
    _assert_cards_synced_before_moves(ctx, cfg, fsyncs)


def _assert_cards_synced_before_moves(ctx: Context, cfg, events: list) -> None:
    rows = ctx.db.execute("SELECT m.id, m.uid, c.sha256 FROM customer_cards c JOIN messages m ON m.id = c.message "
                          "WHERE c.kept = 1").fetchall()
    assert rows, "the backlog kept customer cards"
    wal = f"{cfg.storage.database}-wal"
    for message, _, sha in rows:
        card = str(Path(cfg.storage.cards_dir) / sha[:2] / sha)
        moved_at = next(i for i, e in enumerate(events) if e[0] == "move" and _uid_of(ctx, message) in e[2])
        synced = [i for i, e in enumerate(events[:moved_at]) if e == ("fsync", card)]
        assert synced, f"card {card} of message #{message} not synced before its move"
        assert any(e == ("fsync", wal) for e in events[synced[0]:moved_at]), "the log synced after the card"


def _uid_of(ctx: Context, message: int) -> int:
    # Every fetched mail is recorded, in UID order, into a fresh database: id and inbox UID agree.
    return message


# -- a worker that dies or hangs -----------------------------------------------------------------

DOOMED = ".0000017."  # the Message-ID of make_report(17) holds this


def _in_a_worker() -> bool:
    return os.getpid() != PARENT


def exits_in_a_worker(msg, cfg):
    """Read a daily report; in a worker process, die on report 17 as a crash in C code would."""
    if _in_a_worker() and DOOMED in msg.message_id:
        os._exit(70)
    return read_daily_report(msg, cfg)


def killed_in_a_worker(msg, cfg):
    """Read a daily report; in a worker process, be killed on report 17 as the OOM killer does."""
    if _in_a_worker() and DOOMED in msg.message_id:
        os.kill(os.getpid(), signal.SIGKILL)
    return read_daily_report(msg, cfg)


def segfaults_in_a_worker(msg, cfg):
    """Read a daily report; in a worker process, take a SIGSEGV on report 17."""
    if _in_a_worker() and DOOMED in msg.message_id:
        os.kill(os.getpid(), signal.SIGSEGV)
    return read_daily_report(msg, cfg)


def recurses_in_a_worker(msg, cfg):
    """Read a daily report; in a worker process, blow the recursion limit on report 17."""
    if _in_a_worker() and DOOMED in msg.message_id:
        def down(n):
            return down(n + 1) + 1
        down(0)
    return read_daily_report(msg, cfg)


@pytest.mark.parametrize("reader", [exits_in_a_worker, killed_in_a_worker, segfaults_in_a_worker,
                                    recurses_in_a_worker], ids=["os-exit", "sigkill", "sigsegv", "recursion"])
def test_a_worker_that_dies_on_a_mail_costs_time_and_no_mail(configs, reader):
    plain_cfg, pool_cfg = configs
    raws = [make_report(i) for i in range(90)]
    readers = {**default_readers(), "daily_report": reader}
    plain = outcome(poll(plain_cfg, raws, workers=0)[0])
    pooled, server = run_with_timeout(lambda: _outcome_of(poll(pool_cfg, raws, workers=2, readers=readers)), 90)
    for key in plain:
        assert pooled[key] == plain[key], key
    assert server.inbox == {}
    import multiprocessing

    assert multiprocessing.active_children() == []


def hangs_in_a_worker(msg, cfg):
    """Read a daily report; in a worker process, never come back from report 17 (a worker
    deadlocked on a lock another thread of the parent held when it forked)."""
    if _in_a_worker() and DOOMED in msg.message_id:
        time.sleep(3600)
    return read_daily_report(msg, cfg)


def test_a_worker_that_hangs_does_not_stop_the_backlog(configs, monkeypatch):
    import multiprocessing

    from service import workers

    monkeypatch.setattr(workers, "PATIENCE", 2.0)  # 60 s in service: a test need not wait a minute
    _, cfg = configs
    raws = [make_report(i) for i in range(60)]
    readers = {**default_readers(), "daily_report": hangs_in_a_worker}
    try:
        done, server = run_with_timeout(lambda: _outcome_of(poll(cfg, raws, workers=2, readers=readers)), 30)
        assert server.inbox == {}
        assert [m[2] for m in done["messages"]] == ["processed"] * 60
    finally:
        for child in multiprocessing.active_children():  # the workers this test started, by PID
            os.kill(child.pid, signal.SIGKILL)


# -- the parent dies -------------------------------------------------------------------------------

ORPHAN_SCRIPT = textwrap.dedent("""
    import multiprocessing, os, signal, sys, time
    sys.path[:0] = [{repo!r}, {bench!r}]
    from backlog import make_report
    from service.config import load_config
    from service.workers import Preparer
    from service.workflows import default_drafters, default_readers

    cfg = load_config({config!r})
    preparer = Preparer(cfg, default_readers(), workers=2, drafters=default_drafters())
    handle = preparer.submit([make_report(i) for i in range({count})])
    if {wait}:
        handle.result()  # the workers are idle, waiting for the next batch
    children = [c for task in os.listdir("/proc/self/task")
                for c in open(f"/proc/self/task/{{task}}/children").read().split()]
    print(" ".join(children), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # the daemon is killed (OOM killer, kill -9, a crash)
""")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("count, wait", [(400, True), (400, False), (40, True)],
                         ids=["idle-workers", "busy-workers", "small-batch"])
def test_no_worker_process_outlives_a_killed_parent(configs, count, wait):
    _, cfg = configs
    config_path = Path(cfg.storage.database).parent.parent / "pool.yaml"
    script = ORPHAN_SCRIPT.format(repo=str(REPO), bench=str(REPO / "bench"), config=str(config_path),
                                  count=count, wait=wait)
    out = config_path.parent / "orphans.out"
    with open(out, "wb") as sink:  # a file, not a pipe: an orphan holding a pipe would hang the test
        proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=sink, stderr=subprocess.STDOUT)
        assert proc.wait(120) == -signal.SIGKILL, out.read_text()
    assert len(out.read_text().split()) == 2, "two worker processes were running"
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _processes_naming(str(config_path)):
            time.sleep(0.2)
        assert _processes_naming(str(config_path)) == []
    finally:
        for pid in _processes_naming(str(config_path)):  # the orphans this test made, by PID
            os.kill(pid, signal.SIGKILL)


def _processes_naming(marker: str) -> list[int]:
    """Return the live processes whose command line holds ``marker`` (the script's config path)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _alive(int(entry.name)):
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


# -- drafts: what is sent must be what the plain path sends -------------------------------------

def _customer(cid: str, name: str, unit: str, region: str, aliases: tuple[str, ...] = ()):
    from service.reading.customers import Customer

    return Customer(id=cid, name=name, aliases=aliases, type="dealer", region=region, unit=unit, tier="B",
                    designated_visitor=None)


REGISTRIES = {
    "a-first-registry": [_customer("E001", "上海宏达机械有限公司", "east", "shanghai"),
                         _customer("N001", "北京华信电子科技有限公司", "north", "beijing")],
    "an-alias-added": [_customer("E001", "上海宏达机械有限公司", "east", "shanghai", ("杭州锦程纺织",)),
                       _customer("N001", "北京华信电子科技有限公司", "north", "beijing", ("宁波海天塑机",))],
    "a-customer-renamed": [_customer("E001", "苏州恒通精密制造有限公司", "east", "shanghai"),
                           _customer("N001", "南京金陵化工有限公司", "north", "beijing")],
}


@pytest.mark.parametrize("registry", list(REGISTRIES))
def test_a_registry_imported_between_two_batches_is_in_every_later_receipt(configs, monkeypatch, registry):
    from service.store.customers import import_customers

    def import_before_batch(n: int):
        real = Intake._take_batch
        calls = {"n": 0}

        def take_batch(self, *args, **kwargs):
            calls["n"] += 1
            if calls["n"] == n:  # as `visitflow customers import` does, from another process
                other = Context.open(self.ctx.cfg)
                try:
                    import_customers(other.db, REGISTRIES[registry])
                finally:
                    other.close()
            return real(self, *args, **kwargs)
        return take_batch

    plain_cfg, pool_cfg = configs
    if registry != "a-first-registry":  # the registry that was there before
        for cfg in configs:
            ctx = Context.open(cfg)
            import_customers(ctx.db, REGISTRIES["a-first-registry"])
            ctx.close()
    raws = [make_report(i) for i in range(100)]
    monkeypatch.setattr(Intake, "_take_batch", import_before_batch(3))
    plain = outcome(poll(plain_cfg, raws, workers=0)[0])
    monkeypatch.setattr(Intake, "_take_batch", import_before_batch(3))
    pooled = outcome(poll(pool_cfg, raws, workers=2)[0])
    assert any("未在客户名录中" in (m[5] or "") or "not in the customer registry" in (m[5] or "")
               for m in plain["mails"][60:]), "later receipts name unregistered customers"
    for key in plain:
        assert pooled[key] == plain[key], key


TWINS = sorted(FIXTURES.glob("twin_tech_issues_*.eml"))


@pytest.mark.parametrize("fixture", TWINS, ids=[p.stem for p in TWINS])
def test_identical_technical_issues_in_one_report_go_out_as_distinct_mails_as_on_the_plain_path(configs, fixture):
    expected = json.loads(fixture.with_suffix(".json").read_text(encoding="utf-8"))
    raws = [make_report(i) for i in range(50)]
    raws.insert(25, fixture.read_bytes())  # in a batch the workers prepare
    plain_cfg, pool_cfg = configs
    plain_ctx, _ = poll(plain_cfg, raws, workers=0)
    pool_ctx, _ = poll(pool_cfg, raws, workers=2)
    for ctx in (plain_ctx, pool_ctx):
        rows = ctx.db.execute("SELECT template, message_id FROM outbox WHERE cause_message = 26").fetchall()
        assert ctx.db.execute("SELECT kind FROM messages WHERE id = 26").fetchone()[0] == expected["kind"]
        assert sum(t == "tech_issue" for t, _ in rows) == expected["tech_issue_mails"]
        assert sum(t == "daily_receipt" for t, _ in rows) == expected["receipts"]
        assert len({m for _, m in rows}) == len(rows), "every mail its own Message-ID"
    assert outcome(pool_ctx) == outcome(plain_ctx)


HEAD_REPORTS = [("wang.fang@visitflow.test", "王芳"), ("chen.jing@visitflow.test", "Chen Jing"),
                ("zhao.qiang@visitflow.test", "赵强")]


@pytest.mark.parametrize("sender, name", HEAD_REPORTS, ids=["unit-head", "english-head", "salesperson"])
def test_a_daily_report_from_someone_who_is_no_rep_gets_the_plain_paths_rejection_in_a_backlog(configs, sender, name):
    raws = [make_report(i) for i in range(50)]
    foreign = make_report(31).decode()
    start = foreign.index("From: ")
    end = foreign.index("\r\n", start)
    raws[31] = (foreign[:start] + f"From: {sender}" + foreign[end:]).encode()
    plain_cfg, pool_cfg = configs
    plain_ctx, _ = poll(plain_cfg, raws, workers=0)
    pool_ctx, _ = poll(pool_cfg, raws, workers=2)
    assert plain_ctx.db.execute("SELECT state FROM messages WHERE id = 32").fetchone()[0] == "rejected"
    assert outcome(pool_ctx) == outcome(plain_ctx)


# -- the server changes under a backlog ----------------------------------------------------------

class RenumberingImap(FakeImap):
    """A server that gets a new UIDVALIDITY after the second fetch (the folder was rebuilt)."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.fetches = 0

    def fetch_raw(self, uids, batch: int):
        yield from super().fetch_raw(uids, batch)
        self.fetches += 1
        if self.fetches == 2:
            self.uidvalidity = 2
            self.inbox = {1000 + n: raw for n, (_, raw) in enumerate(sorted(self.inbox.items()))}


class VanishingImap(FakeImap):
    """A server on which another client deletes every seventh mail between the size query and FETCH."""

    def fetch_raw(self, uids, batch: int):
        for uid in uids:
            if uid % 7 == 0:
                self.inbox.pop(uid, None)
        yield from super().fetch_raw(uids, batch)


def test_a_new_uidvalidity_in_the_middle_of_a_pooled_backlog_answers_each_report_once(configs):
    _, cfg = configs
    raws = [make_report(i) for i in range(90)]
    ctx = Context.open(cfg)
    server = RenumberingImap(raws, [])
    intake = Intake(ctx, workers=2)
    intake.poll(server)
    intake.poll(server)  # the next poll finds the renumbered inbox
    receipts = ctx.db.execute("SELECT COUNT(*), COUNT(DISTINCT cause_message) FROM outbox "
                              "WHERE template = 'daily_receipt'").fetchone()
    assert tuple(receipts) == (90, 90)
    assert ctx.db.execute("SELECT COUNT(DISTINCT message_id) FROM messages WHERE duplicate_of IS NULL").fetchone()[0] == 90
    assert server.inbox == {}


def test_mail_deleted_between_the_size_query_and_the_fetch_is_skipped_and_the_backlog_ends(configs):
    _, cfg = configs
    raws = [make_report(i) for i in range(90)]
    server = VanishingImap(raws, [])

    def poll_and_close():
        ctx = Context.open(cfg)
        try:
            return Intake(ctx, workers=2).poll(server)
        finally:
            ctx.close()

    result = run_with_timeout(poll_and_close, 60)
    assert result.fetched == 90 - 90 // 7
    assert server.inbox == {}


@pytest.mark.parametrize("every", [3, 10, 29], ids=["every-third", "every-tenth", "one-in-29"])
def test_large_mails_between_pooled_batches_end_as_on_the_plain_path(configs, monkeypatch, every):
    # 8 MB mails in miniature: FETCH_BYTES shrunk so that a report with a 60 KB card is "large".
    monkeypatch.setattr(intake_module, "FETCH_BYTES", 50_000)
    raws = [make_report(i) for i in range(80)]
    large = [i for i in range(0, 80, every)]
    for i in large:
        raws[i] = _with_big_card(make_report(5 + 8 * i))  # report 5 + 8i carries a card
    assert sum(len(raws[i]) > 50_000 for i in large) == len(large)
    plain_cfg, pool_cfg = configs
    plain = outcome(poll(plain_cfg, raws, workers=0)[0])
    pooled = outcome(poll(pool_cfg, raws, workers=2)[0])
    for key in plain:
        assert pooled[key] == plain[key], key


def _with_big_card(raw: bytes) -> bytes:
    """Return report ``raw`` (one with a card) with a card three times as large."""
    import base64
    import random

    head, sep, rest = raw.rpartition(b"Content-Transfer-Encoding: base64\r\n\r\n")
    body, _, tail = rest.partition(b"--")
    big = base64.encodebytes(random.Random(len(raw)).randbytes(60_000)).replace(b"\n", b"\r\n")
    return head + sep + big + b"--" + tail


def test_a_writer_from_another_connection_never_waits_long_for_a_pooled_backlog(configs):
    _, cfg = configs
    cfg = replace(cfg, imap=replace(cfg.imap, fetch_batch=100))
    Context.open(cfg).close()
    waits: list[float] = []
    stop = threading.Event()

    def contend():  # the sender thread, a scheduler job, `visitflow customers import`
        other = Context.open(cfg)
        while not stop.is_set():
            started = time.monotonic()
            with transaction(other.db):
                other.db.execute("INSERT OR REPLACE INTO service_state (key, value) VALUES ('attack', 'x')")
            waits.append(time.monotonic() - started)
            time.sleep(0.05)
        other.close()

    thread = threading.Thread(target=contend, daemon=True)
    thread.start()
    try:
        poll(cfg, [make_report(i) for i in range(1500)], workers=2)
    finally:
        stop.set()
        thread.join(30)
    assert waits and max(waits) < store_db.BUSY_TIMEOUT_MS / 1000 / 3
