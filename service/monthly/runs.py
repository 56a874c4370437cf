"""Write a month's reports, in one process or in forked workers: the making half of the monthly report workflow.

``service.workflows.monthly_report`` decides what to make, records and mails it; this module
computes and writes the files. A unit's report is computed (``figures.unit_report``) and
written (``document.write_report``) by one process, which hands back only what the company
summary needs of it (``MonthlyReport.without_details``: no visits, digested text sections) and
keeps the unit's visit rows, formatted for its own workbook, in a spool file the company's
workbook copies (``xlsx.write_templates``). A company's month of 100,000 visits is then never
held in memory as objects, and its rows are formatted once.

With workers, the pool forks after matplotlib and docxtpl are loaded (the workers share them);
after it, the company summary's workbook is written by one more forked process while this
one writes the summary's document. Only a process without other threads may fork (the command
line, not the daemon, whose scheduled run uses one process and keeps no pool).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

from ..config import Config
from .figures import Month, unit_report
from .model import MonthlyReport

__all__ = ["Job", "Staged", "archive_lock", "archived", "keep", "made_dir", "pool", "render_units", "renderer",
           "spool_only", "unit_report", "write_summary"]


@dataclass(frozen=True)
class Job:
    """What computing and writing one unit's report needs besides the unit (a forked worker gets it at fork)."""

    cfg: Config
    month: Month
    at: datetime
    as_of: date
    target_dir: Path
    spool_dir: Path | None        # None: no company summary, nothing to spool
    summary_language: str


# What a forked worker needs (set before the pool forks; each worker opens its own database).
_WORKER: dict = {}


def keep() -> int:
    """Return the entries per customer a unit's text sections keep for the summary (the document's limit)."""
    from .document import Limits

    return Limits().per_customer


def renderer(document_only: bool = False) -> Callable:
    """Return write_report (or write_document_file) bound to this process's reusable chart figures
    (loaded on first use: matplotlib, docxtpl and their kin load here, not with the daemon – an
    idle daemon stays small)."""
    if "render" not in _WORKER:
        from .charts import Charts
        from .document import write_document_file, write_report

        charts = Charts()
        _WORKER["render"] = lambda report, folder, **spools: write_report(report, folder, charts=charts, **spools)
        _WORKER["document"] = lambda report, folder: write_document_file(report, folder, charts=charts)
    return _WORKER["document" if document_only else "render"]


@contextlib.contextmanager
def pool(workers: int, units: int, job: Job):
    """Yield a pool of ``workers`` forked processes for ``units`` units' reports, or None for one process."""
    if workers <= 1 or units < 2:
        yield None
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # Loaded before the fork: the workers share the parent's matplotlib and docxtpl instead of
    # each importing its own (a second of CPU and tens of MB each).
    renderer()
    _WORKER["job"] = job
    try:
        with ProcessPoolExecutor(max_workers=min(workers, units),
                                 mp_context=multiprocessing.get_context("fork")) as executor:
            yield executor
    finally:
        _WORKER.pop("job", None)


def render_units(db, todo: list[str], job: Job, *, pool, progress: Callable[[str], None] | None) -> dict:
    """Compute and write each unit's report (in ``pool`` when there is one); return unit id ->
    (report without details, ReportFiles, (spool file, rows) or None)."""
    done: dict = {}
    results = pool.map(render_in_worker, todo) if pool is not None else (render_one(db, job, u) for u in todo)
    for unit_id, report, files, rows in results:
        done[unit_id] = (report, files, rows)
        if progress:
            progress(unit_id)
    return done


def write_summary(summary: MonthlyReport, folder: Path, spooled: list, *, fork: bool):
    """Write the company summary's files; with ``fork`` its workbook (every visit) is written by a
    forked process while this one draws the charts and writes the document.

    Called after the units' pool is gone: the fork shares this process's pages as they are
    before the document's fonts and figures load, and no third process is alive meanwhile.
    """
    from .document import ReportFiles, write_workbook_file

    if not fork:
        return renderer()(summary, folder, spooled=spooled)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # The workbook has no free-text sections (they are columns of its visits): not sent along.
    for_workbook = replace(summary, feedback=(), market=(), handled=())
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork")) as one:
        workbook = one.submit(write_workbook_file, for_workbook, folder, spooled=spooled)
        docx = renderer(document_only=True)(summary, folder)
        return ReportFiles(docx=docx, xlsx=workbook.result())


def render_in_worker(unit_id: str):
    """In a forked worker: compute and write one unit's report with the worker's own connection."""
    from ..store.db import open_db

    job = _WORKER["job"]
    if "db" not in _WORKER:
        _WORKER["db"] = open_db(job.cfg.storage.database)  # never the parent's connection
    return render_one(_WORKER["db"], job, unit_id)


def render_one(db, job: Job, unit_id: str):
    """Compute and write one unit's report (spooling its visit rows for the summary); return
    (unit id, the report without details, ReportFiles, (spool file, rows) or None)."""
    report = unit_report(db, job.cfg, unit_id, job.month, generated_at=job.at, as_of=job.as_of)
    if job.spool_dir is not None and report.language == job.summary_language:
        spool = job.spool_dir / f"{unit_id.encode().hex()}.rows"
        files = renderer()(report, job.target_dir / unit_id, spool=spool)
        rows = (spool, len(report.visits))
    else:
        files = renderer()(report, job.target_dir / unit_id)
        rows = spool_only(report, job)
    return unit_id, report.without_details(keep()), files, rows


def spool_only(report: MonthlyReport, job: Job):
    """Spool the report's visit rows in the summary's language; return (spool file, rows) or None."""
    if job.spool_dir is None:
        return None
    from .labels import words
    from .workbook import spool_visits

    spool = job.spool_dir / f"{report.unit.id.encode().hex()}.rows"
    return spool, spool_visits(report, spool, words(job.summary_language))


# --------------------------------------------------------------------------- the archive


@dataclass(frozen=True)
class Staged:
    """A report's files rendered in the staging folder (``docx``, ``xlsx``) and where they go
    in the archive once the run owns the report (``final_docx``, ``final_xlsx``)."""

    docx: Path
    xlsx: Path
    final_docx: Path
    final_xlsx: Path

    def move_into_place(self) -> None:
        """Move the staged files over their archive places (the run recorded the report)."""
        for staged, final in ((self.docx, self.final_docx), (self.xlsx, self.final_xlsx)):
            made_dir(final.parent)
            os.replace(staged, final)


def archived(files, staging: tuple[Path, Path]) -> Staged:
    """Return the Staged files of ``files`` written under ``staging`` = (staging folder, archive)."""
    folder, archive = staging
    return Staged(files.docx, files.xlsx, archive / Path(files.docx).relative_to(folder),
                  archive / Path(files.xlsx).relative_to(folder))


def made_dir(path: Path) -> Path:
    """Make ``path`` (and its parents) when missing; return it."""
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def archive_lock(archive: Path):
    """Hold the month's archive lock (an flock on ``<archive>/.lock``), waiting for another run's."""
    with open(made_dir(archive) / ".lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
