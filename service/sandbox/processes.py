"""Processes and files of a sandbox: PIDs, sessions, signals, atomic writes, greetings."""

from __future__ import annotations

import os
import pwd
import socket
import ssl
import subprocess
import time
from pathlib import Path

MAIL_USER = "vmail"
START_TIMEOUT = 15.0

def ensure_mail_user() -> tuple[int, int]:
    """Creates the unprivileged system user that owns all mailboxes, if it is missing."""
    try:
        entry = pwd.getpwnam(MAIL_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir",
                        "/nonexistent", "--shell", "/usr/sbin/nologin", MAIL_USER], capture_output=True)
        entry = pwd.getpwnam(MAIL_USER)  # also covers a parallel sandbox winning the race
    return entry.pw_uid, entry.pw_gid


def run_daemonizing(cmd: list[str], folder: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Runs a command that leaves a daemon behind; returns its exit code and output."""
    # Not capture_output: the daemon inherits the pipe and keeps it open, so reading it to EOF
    # would block for as long as the daemon lives. A file has no such end to wait for.
    out = folder / "start.out"
    with open(out, "w+") as sink:
        code = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                              env=env, timeout=START_TIMEOUT * 4).returncode
        sink.seek(0)
        return code, sink.read()


def postfix_env() -> dict[str, str]:
    # A MAIL_CONFIG left in the environment would override -c for postfix-script's helpers.
    env = {k: v for k, v in os.environ.items() if k != "MAIL_CONFIG"}
    env["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin"
    return env


def write_atomic(path: Path, text: str, *, backdate: bool = False) -> None:
    """Replaces a file in one step, and only when its content changes."""
    try:
        if path.read_text() == text:
            return
    except OSError:
        pass
    # Servers may read these files at any moment: never let them see a half-written one.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.chmod(0o644)
    if backdate:
        # Postfix programs sleep until main.cf's (and each table's) mtime is in the past,
        # about 2 s after a rewrite; our file is complete, so make it look older.
        past = time.time() - 5
        os.utime(tmp, (past, past))
    os.replace(tmp, path)


def last_lines(text: str, count: int = 30) -> str:
    return "\n".join(text.splitlines()[-count:]) + "\n"


def proc_stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm may hold spaces or parentheses: split after the last ')'.
    head, _, rest = raw.rpartition(")")
    return [head.partition("(")[2], *rest.split()]


def kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def alive(pid: int) -> bool:
    stat = proc_stat(pid)
    # Daemonised masters are reparented to PID 1, which may never reap them: a zombie is gone.
    return stat is not None and stat[1] != "Z"


def live_pid(pid_file: Path, comm: str) -> int | None:
    """Reads a master PID file and returns the PID only if that process is still the master."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    stat = proc_stat(pid)
    # A stale PID file may name a reused PID: require the expected program name too.
    if stat is None or stat[1] == "Z" or stat[0] != comm:
        return None
    return pid


def session_members(sid: int) -> list[int]:
    """Lists live processes in the session `sid` (both masters call setsid when they daemonise)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = proc_stat(int(entry.name))
            if stat is not None and stat[1] != "Z" and stat[4] == str(sid):
                members.append(int(entry.name))
    return members


def wait_for_greeting(port: int, greeting: bytes, bye: bytes, timeout: float,
                       context: ssl.SSLContext | None = None) -> bool:
    """Waits until a server on 127.0.0.1:port sends a first line starting with `greeting`
    (over TLS from the first byte when a client context is given)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            wait = max(0.1, deadline - time.monotonic())
            sock = socket.create_connection(("127.0.0.1", port), timeout=wait)
            try:
                if context is not None:  # takes over the socket; closes it itself if the handshake fails
                    sock = context.wrap_socket(sock, server_hostname="127.0.0.1")
                line = sock.makefile("rb").readline()
                if line.startswith(greeting):
                    sock.sendall(bye)  # a polite end keeps "lost connection" noise out of the logs
                    return True
            finally:
                sock.close()
        except OSError:
            pass
        time.sleep(0.02)
    return False
