"""Customer cards (客户卡): report attachments kept as content-addressed files.

A file is stored once under ``<cards_dir>/<sha256[:2]>/<sha256>``, whatever its name, so a
card sent twice costs nothing. What is too big, or an archive that would expand beyond the
limit (a zip bomb), is refused with a reason and listed all the same.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class CardVerdict:
    kept: bool
    reason: str  # '' when kept; a code the receipt turns into words otherwise


def archive_problem(payload: bytes, max_unzipped: int) -> str | None:
    """Return why a zip-based file (zip, docx, xlsx…) is unsafe to open, or None; never decompresses."""
    if not payload.startswith(ZIP_MAGIC):
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return "broken_archive"
    total = sum(info.file_size for info in infos)
    if total > max_unzipped:
        return "archive_too_large"
    for info in infos:
        if info.file_size > 1024 * 1024 and info.file_size > 100 * max(info.compress_size, 1):
            return "archive_too_large"
    return None


def judge(payload: bytes, *, max_bytes: int, max_unzipped: int, damage: str = "") -> CardVerdict:
    """Decide whether an attachment may be kept: not when it arrived damaged (``damage`` says
    how), is larger than ``max_bytes``, or is an archive that expands beyond ``max_unzipped``."""
    if damage:
        return CardVerdict(False, "damaged")
    if len(payload) > max_bytes:
        return CardVerdict(False, "too_large")
    problem = archive_problem(payload, max_unzipped)
    return CardVerdict(problem is None, problem or "")


def store_file(cards_dir: Path, payload: bytes) -> tuple[str, Path]:
    """Write payload under its SHA-256 (atomically, once); return the hash and the file's path.

    The file is not synced here: the caller hands the path to store.db.sync_to_disk before
    anything depends on it surviving a power cut (the intake does, before it moves the mail
    out of the inbox) – also when the file was there already, since a run that crashed may
    have written it and never synced it. Raises OSError.
    """
    digest = hashlib.sha256(payload).hexdigest()
    target = cards_dir / digest[:2] / digest
    if target.exists():
        return digest, target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(payload)
    os.replace(tmp, target)
    return digest, target


def record(db: Database, *, message: int, report: int | None, filename: str, content_type: str,
           size: int, sha256: str | None, verdict: CardVerdict) -> None:
    """List a card (kept or refused) against its report, in the caller's transaction."""
    # A plain INSERT: sqlite-utils' insert() reads the schema on every call.
    db.execute("INSERT INTO customer_cards (message, report, filename, content_type, size, sha256, kept, reason) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               [message, report, filename, content_type, size, sha256, int(verdict.kept), verdict.reason])
