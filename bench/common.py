"""What the benchmarks share: the repository on sys.path, logins, logs, /proc, the config."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import yaml  # noqa: E402 - after the path set-up, so the scripts run from any folder
from imap_tools import MailBoxUnencrypted  # noqa: E402

PASSWORD_ENV = "VISITFLOW_IMAP_PASSWORD"
SERVICE_ADDRESS = "visits@visitflow.test"


def say(line: str = "") -> None:
    print(line, flush=True)


def login(box, user: str, timeout: float = 60) -> MailBoxUnencrypted:
    """Log in to a sandbox mailbox as user (no folder selected)."""
    return MailBoxUnencrypted("127.0.0.1", box.imap_port, timeout=timeout).login(user, box.password,
                                                                                  initial_folder=None)


def proc_status(pid: int, key: str) -> int:
    """Return the number of a /proc/PID/status line (kB for memory lines); -1 if absent."""
    try:
        match = re.search(rf"^{key}:\s+(\d+)", Path(f"/proc/{pid}/status").read_text(), re.M)
    except OSError:
        return -1
    return int(match[1]) if match else -1


def log_problems(text: str, limit: int = 5) -> tuple[int, int, list[str]]:
    """Count WARNING and ERROR/Traceback lines of a log; return them and the first few."""
    warnings = errors = 0
    shown: list[str] = []
    for line in text.splitlines():
        if " WARNING " in line:
            warnings += 1
        elif " ERROR " in line or " CRITICAL " in line or line.startswith("Traceback"):
            errors += 1
        else:
            continue
        if len(shown) < limit:
            shown.append(line[:300])
    return warnings, errors, shown


def write_config(path: Path, data_dir: Path, box, *, extra_reps: list[dict] | None = None) -> None:
    """Write config.yaml with its own database and folders, the sandbox's ports, and more reps if given."""
    data = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    data["storage"] = {"database": str(data_dir / "visitflow.db"), "reports_dir": str(data_dir / "reports"),
                       "cards_dir": str(data_dir / "cards")}
    data["imap"]["port"] = box.imap_port
    data["smtp"]["port"] = box.smtp_port
    data["organisation"]["reps"] += extra_reps or []
    # A backlog of help replies to one rep measures the pipeline, not the flood guard.
    data["policy"]["auto_reply_limit"] = {"count": 10_000, "per_thread": 1_000}
    # The daily jobs would add their mail to what a benchmark measures.
    data["schedule"]["daily_digest"] = data["schedule"]["missing_report_reminder"] = "23:59"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def code_version() -> str:
    """Return the measured commit, with "-dirty" when service/, templates/ or config.yaml have changes."""
    def git(*argv: str) -> str:
        return subprocess.run(["git", "-C", str(REPO), *argv], capture_output=True, text=True,
                              timeout=30).stdout.strip()
    try:
        commit = git("rev-parse", "--short", "HEAD") or "unknown"
        return commit + ("-dirty" if git("status", "--porcelain", "--", "service", "templates", "config.yaml") else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def run_as_root_in_tempdir(name: str, prefix: str, bench: Callable[[Path], int], *, keep: bool) -> int:
    """Run bench(tmp) in a fresh temporary folder (kept when asked); refuse without root."""
    if os.geteuid() != 0:
        print(f"bench/{name}: the mail sandbox needs root (Postfix starts only as root)", file=sys.stderr)
        return 2
    # A short path: the sandbox keeps unix sockets under it (sun_path holds 108 bytes).
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    tmp.chmod(0o755)
    try:
        return bench(tmp)
    finally:
        if keep:
            print(f"kept {tmp}", flush=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def best_cpu(run: Callable[[], object], rounds: int) -> float:
    """Return the least CPU seconds one call of run took over ``rounds`` calls."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best
