"""Proves the throwaway Dovecot + Postfix sandbox with real SMTP and IMAP traffic on loopback."""

from __future__ import annotations

import secrets
import shutil
import smtplib
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from imap_tools import AND, MailBoxUnencrypted
from imap_tools.errors import MailboxLoginError

from service.sandbox import Sandbox, SandboxError, ensure_installed, free_port

pytestmark = pytest.mark.mail

LI = "li.lei@visitflow.test"
WANG = "wang.fang@visitflow.test"
PARTNER = "boss@partner.test"


def make_sandbox(users: list[str], imap_port: int | None = None) -> Sandbox:
    """Builds a sandbox in a fresh temp folder on free ports (not started)."""
    root = Path(tempfile.mkdtemp(prefix="sbx-test-"))
    root.chmod(0o755)
    return Sandbox(root, imap_port=imap_port or free_port(), lmtp_port=free_port(), smtp_port=free_port(),
                   users=users, password=secrets.token_urlsafe(12))


@pytest.fixture(scope="module")
def running() -> Iterator[Sandbox]:
    """Starts one sandbox with three users for this module and stops it at the end."""
    ensure_installed()
    box = make_sandbox([LI, WANG, PARTNER])
    box.start()
    try:
        yield box
    finally:
        box.stop()
        shutil.rmtree(box.root, ignore_errors=True)


@pytest.fixture
def box(running: Sandbox) -> Sandbox:
    """Gives each test a started sandbox with empty mailboxes."""
    running.start()  # a no-op unless an earlier test left a server stopped
    running.reset()
    return running


def send(box: Sandbox, to: str, subject: str, sender: str = LI) -> None:
    """Sends one small message through the sandbox's SMTP port."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg.set_content(f"Body of {subject}\n")
    with smtplib.SMTP("127.0.0.1", box.smtp_port, timeout=10) as smtp:
        smtp.send_message(msg)


def login(box: Sandbox, user: str) -> MailBoxUnencrypted:
    """Opens an IMAP session (with a timeout, so a hung server fails the test instead)."""
    return MailBoxUnencrypted("127.0.0.1", box.imap_port, timeout=10).login(user, box.password)


def subjects(box: Sandbox, user: str, folder: str = "INBOX") -> list[str]:
    """Lists the subjects in one folder without marking anything seen."""
    with login(box, user) as mb:
        mb.folder.set(folder)
        return [m.subject for m in mb.fetch(mark_seen=False, headers_only=True)]


def wait_for(box: Sandbox, user: str, subject: str, timeout: float = 10) -> float:
    """Waits until a message with `subject` is in the user's INBOX; returns the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if subject in subjects(box, user):
            return time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"{subject!r} did not reach {user} within {timeout} s")


def alive(pid: int) -> bool:
    """Tells whether a process exists and is not a zombie (PID 1 may reap late here)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def test_free_port_gives_a_bindable_loopback_port():
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_free_ports_lie_below_the_ephemeral_range_so_no_outgoing_connection_takes_one():
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(300)]
    assert all(1024 <= p < low for p in ports)
    assert len(set(ports)) == len(ports)  # never handed out twice


def test_a_port_something_listens_on_is_never_handed_out():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        # Connect many clients: each takes an ephemeral local port; none may be handed out.
        clients = [socket.create_connection(("127.0.0.1", busy)) for _ in range(50)]
        try:
            used = {c.getsockname()[1] for c in clients} | {busy}
            assert not used & {free_port() for _ in range(200)}
        finally:
            for c in clients:
                c.close()


def test_mail_sent_by_smtp_lands_in_the_recipients_inbox(box):
    send(box, WANG, "Visit report 1")
    wait_for(box, WANG, "Visit report 1")
    assert subjects(box, LI) == []


def test_login_name_is_the_full_address_in_any_case_and_imap_offers_idle_and_move(box):
    with login(box, PARTNER.upper()) as mb:
        capabilities = mb.client.capability()[1][0].split()
        assert b"IDLE" in capabilities and b"MOVE" in capabilities
    with pytest.raises(MailboxLoginError):
        MailBoxUnencrypted("127.0.0.1", box.imap_port, timeout=10).login(PARTNER, "wrong password")


def test_mail_to_an_unknown_mailbox_of_a_hosted_domain_is_refused_at_rcpt(box):
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(box, "nobody@visitflow.test", "Lost")


def test_mail_to_an_outside_domain_bounces_back_and_never_leaves_the_machine(box):
    send(box, "someone@example.com", "Leak attempt")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with login(box, LI) as mb:
            bounces = list(mb.fetch(AND(from_="MAILER-DAEMON"), mark_seen=False))
        if bounces:
            break
        time.sleep(0.1)
    assert bounces and "Leak attempt" in bounces[0].obj.as_string()
    log = (box.root / "postfix" / "maillog").read_text()
    line = next(l for l in log.splitlines() if "to=<someone@example.com>" in l)
    assert "relay=none" in line and "status=bounced" in line and "outbound mail is disabled" in line
    assert "/smtp[" not in log  # no SMTP client ever ran


def test_idle_wakes_up_when_mail_arrives(box):
    with login(box, WANG) as mb:
        timer = threading.Timer(0.3, send, (box, WANG, "Wake up"))
        timer.start()
        started = time.monotonic()
        responses = mb.idle.wait(timeout=5)
        timer.join()
    assert any(b"EXISTS" in r for r in responses), responses
    assert time.monotonic() - started < 4


def test_restart_keeps_mail_and_mail_sent_while_dovecot_is_down_arrives_after_start(box):
    send(box, LI, "Before restart")
    wait_for(box, LI, "Before restart")
    with login(box, LI) as mb:
        uidvalidity = mb.folder.status("INBOX")["UIDVALIDITY"]
    box.restart_dovecot()
    assert subjects(box, LI) == ["Before restart"]

    box.stop_dovecot()
    assert box.is_running() == {"dovecot": False, "postfix": True}
    send(box, LI, "While down")  # Postfix queues it: LMTP refuses connections
    time.sleep(0.5)
    box.start_dovecot()
    took = wait_for(box, LI, "While down", timeout=8)
    assert took < 3, f"deferred mail took {took:.1f} s after Dovecot came back"
    with login(box, LI) as mb:
        assert mb.folder.status("INBOX")["UIDVALIDITY"] == uidvalidity


def test_smtp_is_refused_while_postfix_is_stopped_and_works_after_start(box):
    box.stop_postfix()
    assert box.is_running() == {"dovecot": True, "postfix": False}
    with pytest.raises(OSError):
        send(box, WANG, "Nobody listens")
    box.start_postfix()
    send(box, WANG, "Listening again")
    wait_for(box, WANG, "Listening again")


def test_added_users_get_a_working_mailbox_at_once_while_running(box):
    box.add_users(["New.Hire@visitflow.test", "chief@newdomain.test"])
    send(box, "new.hire@visitflow.test", "Welcome")
    send(box, "chief@newdomain.test", "Welcome too")
    wait_for(box, "new.hire@visitflow.test", "Welcome")
    wait_for(box, "chief@newdomain.test", "Welcome too")


def test_reset_empties_every_folder_and_deletes_extra_folders_quickly(box):
    for user in (LI, WANG, PARTNER):
        send(box, user, f"Old mail for {user}")
    wait_for(box, PARTNER, f"Old mail for {PARTNER}")
    wait_for(box, LI, f"Old mail for {LI}")
    with login(box, LI) as mb:
        mb.folder.create("Processed")
        mb.folder.create("Quarantine")
        mb.copy(mb.uids(), "Processed")
    assert subjects(box, LI, "Processed") == [f"Old mail for {LI}"]

    started = time.monotonic()
    box.reset()
    assert time.monotonic() - started < 0.5
    for user in (LI, WANG, PARTNER):
        assert subjects(box, user) == []
    with login(box, LI) as mb:
        assert [f.name for f in mb.folder.list()] == ["INBOX"]
        mb.folder.create("Processed")  # the service can create its folders again
    send(box, LI, "After reset")
    wait_for(box, LI, "After reset")


def test_a_failed_start_raises_with_the_servers_own_log(running):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        other = make_sandbox([LI], imap_port=taken.getsockname()[1])  # Dovecot cannot bind it
        try:
            with pytest.raises(SandboxError, match="Address already in use"):
                other.start_dovecot()
            assert other.is_running() == {"dovecot": False, "postfix": False}
        finally:
            other.stop()
            shutil.rmtree(other.root, ignore_errors=True)


def test_a_sandbox_whose_postfix_cannot_start_leaves_no_dovecot_running(running):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        other = make_sandbox([LI])
        other._smtp_port = taken.getsockname()[1]  # Postfix cannot bind it
        try:
            with pytest.raises(SandboxError, match="Address already in use"):
                other.start()
            assert other.is_running() == {"dovecot": False, "postfix": False}
            assert not any(other.pids().values())
        finally:
            other.stop()
            shutil.rmtree(other.root, ignore_errors=True)


def test_second_sandbox_runs_beside_the_first_starts_twice_harmlessly_and_stops_without_leftovers(running):
    other = make_sandbox([LI])
    try:
        started = time.monotonic()
        other.start()
        assert time.monotonic() - started < 5
        pids = other.pids()
        other.start()
        assert other.pids()["dovecot"][0] == pids["dovecot"][0]
        assert other.pids()["postfix"][0] == pids["postfix"][0]
        send(other, LI, "Kept across stop")
        wait_for(other, LI, "Kept across stop")
        assert "Kept across stop" not in subjects(running, LI)

        everything = pids["dovecot"] + pids["postfix"] + other.pids()["dovecot"] + other.pids()["postfix"]
        other.stop()
        assert other.is_running() == {"dovecot": False, "postfix": False}
        assert [p for p in everything if alive(p)] == []
        other.stop()  # stopping a stopped sandbox is a no-op

        other.start()
        assert subjects(other, LI) == ["Kept across stop"]
        assert running.is_running() == {"dovecot": True, "postfix": True}
    finally:
        other.stop()
        shutil.rmtree(other.root, ignore_errors=True)
