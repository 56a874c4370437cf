"""The SQLite database itself: opening, migrating, transactions."""

from __future__ import annotations

import multiprocessing
import sqlite3

import pytest

from service.store.db import open_db


def _open_and_close(path: str, start: multiprocessing.Barrier, errors) -> None:
    try:
        start.wait(10)
        open_db(path).close()
    except Exception as exc:  # noqa: BLE001 - reported to the test
        errors.put(f"{type(exc).__name__}: {exc}")


@pytest.mark.parametrize("processes", [2, 6])
def test_processes_opening_a_new_database_at_once_all_find_it_migrated(tmp_path, processes):
    # The daemon and a command started together on a fresh installation.
    path = str(tmp_path / "visitflow.db")
    context = multiprocessing.get_context("fork")
    start, errors = context.Barrier(processes), context.Queue()
    workers = [context.Process(target=_open_and_close, args=(path, start, errors)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert found == []
    assert [w.exitcode for w in workers] == [0] * processes
    conn = sqlite3.connect(path)
    names = [r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations ORDER BY id")]
    conn.close()
    assert len(names) == len(set(names)) and names[0] == "0001_wal" and "0010_outbox_topic" in names
