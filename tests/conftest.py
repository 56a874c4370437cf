"""Shared fixtures: one real mail sandbox per test session, a fresh config and database per test.

Mail tests talk to the real Dovecot and Postfix of `service.sandbox`, started on free
loopback ports in a temporary folder; every mailbox is emptied before each test.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
import yaml
from imap_tools import MailBoxUnencrypted

from service.config import Config, parse_config
from service.context import Context

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PASSWORD_ENV = "VISITFLOW_IMAP_PASSWORD"

# Extra people the tests use beside config.yaml's sample organisation.
STRANGER = "stranger@elsewhere.test"


def base_config_data() -> dict:
    """Return config.yaml as data, for tests to adjust."""
    return yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))


@contextlib.contextmanager
def running_sandbox(users: list[str], *, prefix: str = "vf-sbx-", **options) -> Iterator:
    """Start a sandbox on free ports in a temporary folder; stop it (by PID) and remove it after."""
    from service.sandbox import Sandbox, ensure_installed, free_port

    ensure_installed()
    root = Path(tempfile.mkdtemp(prefix=prefix))  # short: the servers' sockets live under it
    root.chmod(0o755)
    box = Sandbox(root, imap_port=free_port(), lmtp_port=free_port(), smtp_port=free_port(),
                  users=users, password=secrets.token_urlsafe(12), **options)
    box.start()
    try:
        yield box
    finally:
        box.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def mail_sandbox() -> Iterator:
    """Start Dovecot + Postfix for the whole test session, with a mailbox for everyone in config.yaml."""
    cfg = parse_config(base_config_data(), path=REPO / "config.yaml")
    with running_sandbox([cfg.service_address, *cfg.organisation.people(), "stranger@visitflow.test"]) as box:
        yield box


@pytest.fixture
def config_file(tmp_path: Path, request) -> Path:
    """Write a config for this test: config.yaml's people, a fresh database, the sandbox's ports."""
    data = base_config_data()
    data["storage"] = {"database": str(tmp_path / "visitflow.db"), "reports_dir": str(tmp_path / "reports"),
                       "cards_dir": str(tmp_path / "cards")}
    data["policy"]["retry_seconds"] = 0.5
    data["imap"]["idle_seconds"] = 60
    # A daemon started in a test must not make up today's digest and reminders (they would
    # land in the mailboxes the test counts); tests of those jobs set their own times.
    data["schedule"]["daily_digest"] = data["schedule"]["missing_report_reminder"] = "23:59"
    limit = request.node.get_closest_marker("auto_reply_limit")
    if limit:  # a test that answers one sender many times on purpose lifts the flood guard
        data["policy"]["auto_reply_limit"] = dict(limit.kwargs)
    policy = request.node.get_closest_marker("policy")
    if policy:  # @pytest.mark.policy(max_message_bytes=...): the test's own policy keys
        data["policy"].update(policy.kwargs)
    if "mail_sandbox" in request.fixturenames:
        box = request.getfixturevalue("mail_sandbox")
        data["imap"]["port"] = box.imap_port
        data["smtp"]["port"] = box.smtp_port
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def cfg(config_file: Path) -> Config:
    from service.config import load_config

    return load_config(config_file)


def drain_postfix(box, timeout: float = 15.0) -> None:
    """Wait until the sandbox's Postfix holds no mail, so nothing arrives after a reset."""
    queue = box.root / "postfix" / "queue"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = [p for name in ("maildrop", "incoming", "active", "deferred")
                   for p in (queue / name).rglob("*") if p.is_file()]
        if not waiting:
            return
        time.sleep(0.05)


def empty_mailboxes(box, users) -> None:
    """Delete every message and every folder but INBOX, through IMAP as a user would."""
    for user in users:
        with mailbox(box, user) as mb:
            for folder in mb.folder.list():
                mb.folder.set(folder.name)
                mb.client.uid("STORE", "1:*", "+FLAGS.SILENT", r"(\Deleted)")
                mb.client.expunge()
            mb.folder.set("INBOX")
            for folder in mb.folder.list():
                if folder.name != "INBOX":
                    mb.folder.delete(folder.name)


@pytest.fixture
def mail_env(mail_sandbox, monkeypatch) -> Iterator[dict[str, str]]:
    """Start with empty mailboxes, export the sandbox password; return the environment for subprocesses."""
    drain_postfix(mail_sandbox)
    empty_mailboxes(mail_sandbox, mail_sandbox.users)
    monkeypatch.setenv(PASSWORD_ENV, mail_sandbox.password)
    yield {**os.environ, PASSWORD_ENV: mail_sandbox.password}
    # Mail still travelling at the end belongs to this test, not to the next one.
    drain_postfix(mail_sandbox)


@pytest.fixture
def ctx(cfg: Config) -> Iterator[Context]:
    context = Context.open(cfg)
    yield context
    context.close()


def make_mail(*, sender: str, to: str = "visits@visitflow.test", subject: str = "hello",
              body: str = "Hi there", headers: dict[str, str] | None = None,
              message_id: str | None = None) -> EmailMessage:
    """Build a plain-text mail as a mail client would."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or make_msgid(domain="client.test")
    msg["Date"] = "Fri, 27 Nov 2026 10:00:00 +0800"
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg


def smtp_send(box, *msgs: EmailMessage | bytes, sender: str | None = None, to: list[str] | None = None) -> None:
    """Submit messages to the sandbox's Postfix over one SMTP connection."""
    with smtplib.SMTP("127.0.0.1", box.smtp_port, timeout=30) as smtp:
        for msg in msgs:
            if isinstance(msg, EmailMessage):
                smtp.send_message(msg)
            else:
                smtp.sendmail(sender or "someone@visitflow.test", to or ["visits@visitflow.test"], msg)


def mailbox(box, user: str) -> MailBoxUnencrypted:
    """Log in to a sandbox mailbox as user."""
    return MailBoxUnencrypted("127.0.0.1", box.imap_port, timeout=30).login(user, box.password, initial_folder=None)


def folder_messages(box, user: str, folder: str = "INBOX") -> list:
    """Return the messages in user's folder (empty list if the folder does not exist)."""
    with mailbox(box, user) as mb:
        if not mb.folder.exists(folder):
            return []
        mb.folder.set(folder)
        return list(mb.fetch(mark_seen=False, bulk=200))


def append_raw(box, user: str, raws: list[bytes], folder: str = "INBOX") -> None:
    """Put raw messages straight into a mailbox with IMAP APPEND (exact bytes, no SMTP rewriting)."""
    with mailbox(box, user) as mb:
        for raw in raws:
            typ, data = mb.client.append(folder, None, None, raw)
            assert typ == "OK", data


def wait_for(predicate: Callable[[], object], *, timeout: float = 20.0, interval: float = 0.1,
             what: str = "condition") -> object:
    """Poll predicate until it returns something truthy; fail the test after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class DaemonProcess:
    """`visitflow run` in a subprocess, stopped by its PID."""

    def __init__(self, config_file: Path, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "service", "--config", str(config_file), "run"],
            cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        return self.proc.returncode

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def daemon(config_file: Path, mail_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[[], DaemonProcess]]:
    """Start daemons on demand; every one still running at the end is stopped."""
    started: list[DaemonProcess] = []

    def start() -> DaemonProcess:
        proc = DaemonProcess(config_file, mail_env, tmp_path / "daemon.log")
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()
