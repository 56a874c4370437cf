"""Worker processes for the pure part of the intake: decode, classify and read mail in parallel.

Decoding a mail, classifying it and reading its fields touch neither the database nor a
server, and they are most of the CPU a backlog costs. In a backlog (more than one batch
waiting) the intake hands each fetched batch to a pool of forked processes, in chunks, while
its own thread – the only writer – records and processes the batch before, in UID order,
with the prepared results. The order of commits, exactly-once and the crash guarantees are
the intake's and unchanged: a worker only computes, and whatever it did not finish is done
again in the writer. Idle, the daemon keeps no pool: one is forked per backlog and closed
after it.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import multiprocessing
import os
import signal
import sqlite3
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from sqlite_utils import Database

from .classify import Verdict, classify
from .config import Config
from .context import Draft, compose
from .inbound.mime import DecodedMessage, decode_message
from .outbound.render import Renderer
from .store.customers import CustomerIndex

log = logging.getLogger("visitflow.workers")

Reader = Callable[[DecodedMessage, Config], object]

# Mails per task sent to a worker: large enough that the pipe's round trip is paid rarely,
# small enough that both workers get a share of a 100-mail batch at once.
CHUNK = 10
# Seconds a chunk may take before its worker counts as hung. A chunk of ordinary mail takes
# milliseconds; ten old Word forms converted by LibreOffice take a few seconds each.
PATIENCE = 60.0


@dataclass(frozen=True)
class Prepared:
    """What a worker computed for one mail: everything the writer would otherwise compute first."""

    msg: DecodedMessage
    verdict: Verdict
    # (reader, what it returned) for kinds whose workflow reads the mail with that reader;
    # None when the kind has no reader or the reader raised (the writer then reads it and
    # meets the same error inside the message's own savepoint).
    reading: tuple[Reader, object] | None = None
    # Mails the workflow will most likely send, rendered and built ahead (Context.send uses
    # one only when its template, recipients and variables are exactly the same).
    drafts: tuple[Draft, ...] = ()


def prepare(raw: bytes, cfg: Config, readers: Mapping[str, Reader], drafter: "Drafter | None" = None) -> Prepared:
    """Decode, classify and read one raw mail (RFC 5322 bytes) as the intake's writer would.

    ``readers`` maps a kind to the pure reader its workflow uses (workflows.default_readers).
    With a ``drafter`` the mails its workflow would send are drafted as well. Writes nothing
    and talks to no server. Never raises on bad input (decode_message and classify never do;
    a reader's or a draft's error is left for the writer, which meets it again).
    """
    msg = decode_message(raw, max_bytes=cfg.policy.max_message_bytes)
    verdict = classify(msg, cfg)
    reader = readers.get(verdict.kind)
    if reader is None:
        return Prepared(msg, verdict)
    try:
        reading = reader(msg, cfg)
    except Exception:  # noqa: BLE001 - the writer reads it again and records the failure
        return Prepared(msg, verdict)
    drafts: tuple[Draft, ...] = ()
    if drafter is not None:
        drafts = drafter.draft(verdict.kind, msg, reading)
    return Prepared(msg, verdict, (reader, reading), drafts)


class Drafter:
    """Stands in for a workflow's Context in a worker: ``send`` renders and builds the mail
    and keeps it as a Draft; ``db`` is a read-only connection; ``registry(unit)`` caches each
    unit's CustomerIndex for the worker's life (a registry imported meanwhile only costs drafts
    that miss)."""

    def __init__(self, cfg: Config, drafters: Mapping[str, Callable]) -> None:
        self.cfg = cfg
        self.drafters = drafters
        self.renderer = Renderer()
        self._db: Database | None = None
        self._registries: dict[str, CustomerIndex] = {}
        self._drafts: list[Draft] = []

    @property
    def db(self) -> Database:
        if self._db is None:
            conn = sqlite3.connect(f"file:{self.cfg.storage.database}?mode=ro", uri=True, check_same_thread=False)
            self._db = Database(conn)
        return self._db

    def registry(self, unit: str) -> CustomerIndex:
        if unit not in self._registries:
            self._registries[unit] = CustomerIndex.load(self.db, unit)
        return self._registries[unit]

    def draft(self, kind: str, msg: DecodedMessage, reading: object) -> tuple[Draft, ...]:
        """Return the mails the workflow of ``kind`` would send for ``msg``; () when it has no
        drafter or drafting failed."""
        drafter = self.drafters.get(kind)
        if drafter is None:
            return ()
        self._drafts = []
        try:
            drafter(self, msg, reading)
        except Exception:  # noqa: BLE001 - a draft is an optimisation: the writer renders it
            return ()
        return tuple(self._drafts)

    def send(self, template: str, *, to: Sequence[str], cc: Sequence[str] = (), language: str | None = None,
             in_reply_to: str | None = None, references: Sequence[str] = (), cause_message: int | None = None,
             attachments: Sequence = (), thread: str | None = None, answer: str | None = None,
             **variables: object) -> None:
        """Draft what Context.send would queue (same signature; mail with attachments is not drafted)."""
        if attachments:
            return
        lang = language or self.cfg.language_for(to[0])
        mail = compose(self.cfg, self.renderer, template, lang, to=to, cc=cc, in_reply_to=in_reply_to,
                       references=references, variables=variables)
        self._drafts.append(Draft(Draft.key_of(template, lang, to, cc, in_reply_to, references, variables), mail))


class Preparer:
    """Prepares fetched batches: in a pool of ``workers`` forked processes, or (0) in this one.

    ``submit(raws)`` starts the work and returns a handle whose ``result()`` gives the
    Prepared list in the order of ``raws``. A worker that dies (killed, out of memory, a
    crash in C code) breaks the pool: that batch and every later one are prepared in this
    process instead, so a backlog never waits on a dead worker. Use as a context manager:
    leaving it ends the pool.
    """

    def __init__(self, cfg: Config, readers: Mapping[str, Reader], *, workers: int,
                 drafters: Mapping[str, Callable] | None = None) -> None:
        self.cfg = cfg
        self.readers = readers
        self.drafters = drafters or {}
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._broken = False

    def __enter__(self) -> "Preparer":
        return self

    def __exit__(self, *exc_info) -> None:
        self._end_pool()

    def _end_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if self._broken:
            # A hung worker would never finish its task: kill them all (by the pool's own
            # record of its processes; the executor offers no public way before Python 3.14).
            processes = list(getattr(pool, "_processes", {}).values())
            for process in processes:
                with contextlib.suppress(Exception):
                    process.kill()
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                with contextlib.suppress(Exception):
                    process.join(5)
        else:
            pool.shutdown(wait=True, cancel_futures=True)
        gc.unfreeze()

    def submit(self, raws: Sequence[bytes]) -> "_Handle":
        """Start preparing ``raws``; in this process when there is no pool or too little to share."""
        if self.workers < 1 or len(raws) < 2 or self._broken:
            return _Handle(self, raws, None)
        pool = self._pool or self._start()
        try:
            futures = [pool.submit(_prepare_chunk, raws[i:i + CHUNK]) for i in range(0, len(raws), CHUNK)]
        except BrokenProcessPool as exc:
            self.broke(f"a worker process died ({exc})")
            return _Handle(self, raws, None)
        return _Handle(self, raws, futures)

    def prepare_here(self, raws: Sequence[bytes]) -> list[Prepared]:
        return [prepare(raw, self.cfg, self.readers) for raw in raws]

    def broke(self, why: str) -> None:
        """Prepare the rest of the backlog here: the pool lost a worker (``why`` says how)."""
        if not self._broken:
            log.warning("%s; the rest of the backlog is prepared in this process", why)
        self._broken = True
        self._end_pool()

    def _start(self) -> ProcessPoolExecutor:
        # Fork, so a worker starts in a millisecond with every module and the config already
        # in memory (nothing is pickled to start it). Objects frozen while the pool lives are
        # left alone by the workers' garbage collector: it neither touches their pages (they
        # stay shared) nor finalises what the parent holds - a SQLite connection closed in a
        # child could remove the parent's -wal file.
        gc.freeze()
        # A worker flushes its copy of these buffers when it ends: what they hold now would
        # be written once more by each worker.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("fork"),
                                         initializer=_init_worker,
                                         initargs=(self.cfg, self.readers, self.drafters, os.getpid()))
        log.info("backlog: %d worker process(es) prepare the mail", self.workers)
        return self._pool


class _Handle:
    def __init__(self, preparer: Preparer, raws: Sequence[bytes], pending: list[Future] | None) -> None:
        self._preparer = preparer
        self._raws = raws
        self._pending = pending

    def result(self) -> list[Prepared]:
        """Return the prepared mails; what the workers failed to return is prepared here."""
        if self._pending is None:
            return self._preparer.prepare_here(self._raws)
        try:
            # Chunks finish in milliseconds; one that gives no answer for PATIENCE seconds is
            # held by a hung worker (a lock inherited in a locked state, a stopped process).
            return [item for future in self._pending for item in future.result(timeout=PATIENCE)]
        except BrokenProcessPool as exc:
            self._preparer.broke(f"a worker process died ({exc})")
        except TimeoutError:
            self._preparer.broke(f"a worker process gave no answer in {PATIENCE:.0f} s")
        except Exception as exc:  # noqa: BLE001 - a failing worker costs time, not mail
            log.warning("worker processes failed (%s: %s); preparing the batch here", type(exc).__name__, exc)
        return self._preparer.prepare_here(self._raws)


def default_workers() -> int:
    """Return how many worker processes a backlog gets: one per CPU, none on a single CPU."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cpus if cpus > 1 else 0


# -- in the worker process ---------------------------------------------------------------------

_worker: tuple[Config, Mapping[str, Reader], Drafter] | None = None


def _init_worker(cfg: Config, readers: Mapping[str, Reader], drafters: Mapping[str, Callable], parent: int) -> None:
    global _worker
    _die_with(parent)
    # The parent's handlers came with the fork (the daemon's SIGTERM only sets a flag): a
    # worker stops when told to, and leaves Ctrl-C to the parent, which ends the pool.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker = (cfg, readers, Drafter(cfg, drafters))


def _die_with(parent: int) -> None:
    """End this worker when the process that forked it ends, however it ends (SIGKILL too).

    A forked worker holds both ends of its task pipe, so it would never read an end of file
    and would wait forever as an orphan: Linux's parent-death signal (prctl(2)
    PR_SET_PDEATHSIG) kills it instead. A parent that died before the call is seen by its pid.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(0)


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _prepare_chunk(raws: Sequence[bytes]) -> list[Prepared]:
    cfg, readers, drafter = _worker
    return [_light(prepare(raw, cfg, readers, drafter)) for raw in raws]


def _light(item: Prepared) -> Prepared:
    """Drop the parsed email.message tree of a mail whose reading is done: pickling it back
    would cost more than the rest of the mail (classify and the readers were its only users)."""
    if item.reading is not None:
        # This process's own copy, on its way out: dropped in place (dataclasses.replace
        # rebuilt both objects field by field, 10 µs a mail).
        item.msg.msg = None
    return item
