"""Convert a word-processing file that is not .docx (.doc, WPS, .odt, .rtf) to .docx with LibreOffice.

Reps fill the daily report form in WPS Office, older Word or LibreOffice and save it in the
program's own format; LibreOffice headless (Debian's libreoffice-writer-nogui, installed by
scripts/setup.sh) turns it into a .docx that the form reader reads like any other. The file
comes from mail, so every conversion is fenced in:

- its own temporary folder, removed after, holding the input under a fixed name (never the
  sender's), the output, and LibreOffice's user profile (``-env:UserInstallation``), with HOME
  and TMPDIR pointing there too, so nothing is shared between conversions or left behind;
- the import filter fixed by the detected format, so a damaged file fails instead of being
  read as plain text;
- a time limit, after which LibreOffice's whole process group is killed, and a file-size limit
  on everything it writes (``prlimit --fsize``), with input and output under the policy's
  attachment limits.

Classification and reading look at the same attachment one after the other, so a few recent
results (failures too) are kept, keyed by the file's SHA-256.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Conversion", "TIMEOUT_SECONDS", "to_docx"]

log = logging.getLogger("visitflow.convert")

TIMEOUT_SECONDS = 30.0  # a one-page form converts in 1-2 s; a stuck LibreOffice is killed then
# LibreOffice import filter per detected format (service.reading.doctype's kinds).
FILTERS = {"doc": "MS Word 97", "odt": "writer8", "rtf": "Rich Text Format"}
_MIN_FILE_LIMIT = 8 * 1024 * 1024  # LibreOffice's own profile files must still fit
_CACHE_SIZE = 8


@dataclass(frozen=True)
class Conversion:
    """Hold the outcome of one conversion: the .docx bytes, or why there are none."""

    docx: bytes | None
    failure: str = ""   # '' on success, else: too_large | unavailable | timeout | failed
    detail: str = ""    # what happened, in English, for the operator (parse --json, the log)
    seconds: float = 0.0


_cache: OrderedDict[tuple, Conversion] = OrderedDict()
_cache_lock = threading.Lock()


def to_docx(payload: bytes, kind: str, *, max_bytes: int, max_unzipped_bytes: int,
            timeout: float = TIMEOUT_SECONDS, soffice: str | None = None) -> Conversion:
    """Return ``payload`` (a ``kind`` file: doc, odt or rtf) converted to .docx; never raises.

    ``max_bytes`` bounds the input and the output, ``max_unzipped_bytes`` every file
    LibreOffice writes; ``soffice`` names the program (default: found on PATH).
    """
    if kind not in FILTERS:
        return Conversion(None, "failed", f"no LibreOffice import filter for {kind!r} files")
    if len(payload) > max_bytes:
        return Conversion(None, "too_large", f"the file has {len(payload):,} bytes, more than the "
                                             f"{max_bytes:,}-byte attachment limit")
    program = shutil.which(soffice or "soffice") or (None if soffice else shutil.which("libreoffice"))
    if program is None:
        return Conversion(None, "unavailable", f"LibreOffice ({soffice or 'soffice'}) is not installed")
    key = (hashlib.sha256(payload).digest(), kind, max_bytes, max_unzipped_bytes, timeout, program)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    result = _convert(payload, kind, program, max_bytes=max_bytes,
                      file_limit=max(max_unzipped_bytes, _MIN_FILE_LIMIT), timeout=timeout)
    if result.failure:
        log.warning("LibreOffice could not convert a .%s file (%d bytes): %s", kind, len(payload), result.detail)
    else:
        log.info("converted a .%s file (%d bytes) to .docx in %.1f s", kind, len(payload), result.seconds)
    with _cache_lock:
        _cache[key] = result
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return result


def _convert(payload: bytes, kind: str, program: str, *, max_bytes: int, file_limit: int,
             timeout: float) -> Conversion:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="vf-convert-", ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        source = root / f"input.{kind}"
        source.write_bytes(payload)
        out = root / "out"
        out.mkdir()
        command = [program, "--headless", "--invisible", "--nologo", "--norestore", "--nolockcheck",
                   "--nodefault", f"-env:UserInstallation={(root / 'profile').as_uri()}",
                   f"--infilter={FILTERS[kind]}", "--convert-to", "docx:MS Word 2007 XML",
                   "--outdir", str(out), str(source)]
        prlimit = shutil.which("prlimit")
        if prlimit:
            command = [prlimit, f"--fsize={file_limit}", "--", *command]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "TMPDIR": tmp,
               "LANG": "C.UTF-8", "SAL_USE_VCLPLUGIN": "svp"}
        try:
            # A session of its own: on timeout the whole group (the soffice script, oosplash,
            # soffice.bin) is killed by its id, and nothing else.
            proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, cwd=tmp, env=env, start_new_session=True)
        except OSError as exc:
            return Conversion(None, "unavailable", f"LibreOffice could not be started ({exc})")
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return Conversion(None, "timeout", f"LibreOffice took longer than {timeout:g} s",
                              time.monotonic() - started)
        seconds = time.monotonic() - started
        result = out / "input.docx"
        if not result.is_file():
            return Conversion(None, "failed", _why(output, proc.returncode), seconds)
        if result.stat().st_size > max_bytes:
            return Conversion(None, "too_large", f"the converted .docx has {result.stat().st_size:,} bytes, "
                                                 f"more than the {max_bytes:,}-byte attachment limit", seconds)
        return Conversion(result.read_bytes(), seconds=seconds)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate()


def _why(output: bytes, returncode: int) -> str:
    """Return LibreOffice's own complaint (it exits 0 when a file cannot be loaded)."""
    lines = [line.strip() for line in output.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line and "javaldx" not in line]
    said = lines[-1][:200] if lines else "no output"
    if returncode in (-signal.SIGXFSZ, 128 + signal.SIGXFSZ):
        return f"LibreOffice wrote a file larger than the limit and was stopped ({said})"
    return f"LibreOffice could not read the file ({said})"
