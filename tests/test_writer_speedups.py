"""The writer's shortcuts of issue 12 (CPU per backlog mail) keep what they replace.

- ``messages.misplaced`` finds the settled messages lying outside their state's folder by
  index ranges on (state, folder), not by reading every message;
- migration 0012 drops the indexes no query reads (``messages_unmoved``, ``outbox_answers``);
- a nested ``transaction`` is a savepoint of one fixed name: a failure undoes its own block
  only, however deep, and the enclosing transaction goes on.
"""

from __future__ import annotations

import sqlite3

import pytest

from service.store import messages
from service.store.db import open_db, transaction

PROCESSED, QUARANTINE = "Processed", "Quarantine"


@pytest.fixture
def db(tmp_path):
    database = open_db(tmp_path / "visitflow.db")
    yield database
    database.close()


def _message(db, n: int, *, state: str, folder: str) -> int:
    with transaction(db):
        recorded = messages.record(db, folder=folder, uidvalidity=7, uid=n, raw=f"mail {n}".encode(),
                                   message_id=f"m{n}@example.com", sender="a@example.com", subject="s",
                                   sent_at=None)
        if state != "received":
            messages.settle(db, recorded.id, state=state, kind="daily_report", reason="test")
    return recorded.id


# (state, folder it lies in, whether it must be moved)
PLACES = [
    ("received", "INBOX", False),
    ("processed", "INBOX", True),
    ("rejected", "INBOX", True),
    ("ignored", "INBOX", True),
    ("quarantined", "INBOX", True),
    ("processed", PROCESSED, False),
    ("rejected", PROCESSED, False),
    ("ignored", PROCESSED, False),
    ("quarantined", QUARANTINE, False),
    ("processed", QUARANTINE, True),     # replayed out of the quarantine
    ("quarantined", PROCESSED, True),
    ("rejected", "Archive", True),       # a folder before the target in sort order
    ("processed", "Zzz", True),          # and one after it
    ("quarantined", "Archive", True),
    ("received", "Zzz", False),
]


@pytest.mark.parametrize(("state", "folder", "misplaced"), PLACES)
def test_a_settled_message_outside_its_states_folder_is_misplaced_and_no_other(db, state, folder, misplaced):
    mine = _message(db, 1, state=state, folder=folder)
    _message(db, 2, state="processed", folder=PROCESSED)  # lies where it belongs
    found = messages.misplaced(db, processed=PROCESSED, quarantine=QUARANTINE)
    assert [r["id"] for r in found] == ([mine] if misplaced else [])
    if misplaced:
        assert found[0] == {"id": mine, "folder": folder, "uidvalidity": 7, "uid": 1, "state": state}


def test_misplaced_messages_come_ordered_by_folder_and_uid(db):
    ids = {}
    for n, (state, folder, _) in enumerate(PLACES, start=1):
        ids[n] = _message(db, n, state=state, folder=folder)
    found = messages.misplaced(db, processed=PROCESSED, quarantine=QUARANTINE)
    expected = sorted(((folder, n) for n, (_, folder, moved) in enumerate(PLACES, start=1) if moved))
    assert [(r["folder"], r["uid"]) for r in found] == expected


@pytest.mark.parametrize("count", [False, True])
def test_finding_misplaced_messages_reads_no_message_that_lies_where_it_belongs(db, count):
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    if count:
        messages.count_misplaced(db, processed=PROCESSED, quarantine=QUARANTINE)
    else:
        messages.misplaced(db, processed=PROCESSED, quarantine=QUARANTINE)
    db.conn.set_trace_callback(None)
    (sql,) = [s for s in statements if "FROM messages" in s]
    plan = [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql).fetchall()]
    assert not any(d.startswith("SCAN messages") for d in plan), plan
    ranges = [d for d in plan if "INDEX messages_state (state=? AND folder" in d]
    assert len(ranges) == 4, plan
    if count:  # the index alone answers it
        assert all("COVERING INDEX" in d for d in ranges), plan


@pytest.mark.parametrize(("state", "folder", "misplaced"), PLACES)
def test_the_count_of_misplaced_messages_is_the_number_found(db, state, folder, misplaced):
    _message(db, 1, state=state, folder=folder)
    _message(db, 2, state="processed", folder="INBOX")
    _message(db, 3, state="processed", folder=PROCESSED)
    assert messages.count_misplaced(db, processed=PROCESSED, quarantine=QUARANTINE) == 1 + misplaced
    assert len(messages.misplaced(db, processed=PROCESSED, quarantine=QUARANTINE)) == 1 + misplaced


def test_the_indexes_no_query_reads_are_gone_and_the_state_index_covers_the_folder(db):
    indexes = {name: sql for name, sql in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'")}
    assert "messages_unmoved" not in indexes and "outbox_answers" not in indexes
    assert "messages(state, folder)" in indexes["messages_state"]
    # What the dropped outbox index served is covered by outbox_topics' leading columns.
    plan = db.execute("EXPLAIN QUERY PLAN SELECT count(*) FROM outbox WHERE correspondent = ? "
                      "AND answer IN ('auto', 'note') AND created_at >= ?", ["a@example.com", "2026"]).fetchall()
    assert any("COVERING INDEX outbox_topics (correspondent=? AND created_at>?)" in row[3] for row in plan)


def _rows(db) -> list[int]:
    return [r[0] for r in db.execute("SELECT uid FROM messages ORDER BY uid")]


@pytest.mark.parametrize(("failing", "kept"), [
    ((), [1, 2, 3, 4, 5]),
    (("inner",), [1, 2, 4]),            # the inner block took its own nested block with it
    (("innermost",), [1, 2, 3, 4]),
    (("inner", "innermost"), [1, 2, 4]),
])
def test_a_failing_nested_block_undoes_only_itself_and_the_transaction_goes_on(db, failing, kept):
    def add(uid: int) -> None:
        db.execute("INSERT INTO raw_messages (sha256, size, bytes) VALUES (?, 1, x'00')", [f"r{uid}"])
        db.execute("INSERT INTO messages (message_id, folder, uidvalidity, uid, raw_sha256, size, received_at, "
                   "updated_at) VALUES (?, 'INBOX', 1, ?, ?, 1, 'now', 'now')", [f"m{uid}", uid, f"r{uid}"])

    with transaction(db):
        add(1)
        with transaction(db):
            add(2)
        try:
            with transaction(db):
                add(3)
                try:
                    with transaction(db):
                        add(5)
                        if "innermost" in failing:
                            raise ValueError("innermost")
                except ValueError:
                    pass
                if "inner" in failing:
                    raise ValueError("inner")
        except ValueError:
            pass
        add(4)
    assert _rows(db) == kept
    assert not db.conn.in_transaction


def test_a_constraint_error_in_a_nested_block_is_raised_and_undoes_that_block_only(db):
    with transaction(db):
        db.execute("INSERT INTO folders (name, uidvalidity, last_uid) VALUES ('INBOX', 1, 5)")
        with pytest.raises(sqlite3.IntegrityError), transaction(db):
            db.execute("UPDATE folders SET last_uid = 9")
            db.execute("INSERT INTO folders (name, uidvalidity, last_uid) VALUES ('INBOX', 1, 6)")
        assert db.execute("SELECT last_uid FROM folders").fetchall() == [(5,)]
    assert db.execute("SELECT last_uid FROM folders").fetchall() == [(5,)]
