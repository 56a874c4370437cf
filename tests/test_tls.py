"""IMAP and SMTP in every security mode (plain, STARTTLS, TLS) against the real Dovecot and Postfix.

One sandbox with TLS on (a private CA made at its first start) serves the whole module; the
service's own connection code talks to it with `ca_file` naming that CA. Without it (the
system's CAs) verification must fail, clearly.
"""

from __future__ import annotations

import copy
import dataclasses
import secrets
import shutil
import smtplib
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
import yaml

from service.config import Config, load_config, parse_config
from service.errors import ConfigError, MailboxError
from service.inbound.imap import Connection
from service.outbound.smtp import TlsError, connect
from service.sandbox import Sandbox, free_port

from .conftest import PASSWORD_ENV, REPO, base_config_data, running_sandbox

pytestmark = pytest.mark.mail

SERVICE = "visits@visitflow.test"
REP = "li.lei@visitflow.test"
MODES = ("plain", "starttls", "tls")
# Which sandbox port each mode talks to: STARTTLS upgrades the plain port, TLS has its own.
IMAP_PORT = {"plain": "imap_port", "starttls": "imap_port", "tls": "imaps_port"}
SMTP_PORT = {"plain": "smtp_port", "starttls": "smtp_port", "tls": "smtps_port"}


@pytest.fixture(scope="module")
def tls_box() -> Iterator[Sandbox]:
    """Starts one sandbox with STARTTLS and implicit TLS for this module and stops it at the end."""
    with running_sandbox([SERVICE, REP], prefix="vf-tls-", tls=True, imaps_port=free_port(),
                         smtps_port=free_port()) as box:
        yield box


@pytest.fixture
def password(tls_box: Sandbox, monkeypatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, tls_box.password)


def tls_config(box: Sandbox, folder: Path, imap_mode: str, smtp_mode: str, *, ca: bool = True,
               host: str = "127.0.0.1") -> Config:
    """Writes and loads a config for the sandbox; the CA bundle is named relative to the file."""
    data = base_config_data()
    data["storage"] = {"database": str(folder / "visitflow.db"), "reports_dir": str(folder / "reports"),
                       "cards_dir": str(folder / "cards")}
    data["imap"].update(host=host, port=getattr(box, IMAP_PORT[imap_mode]), security=imap_mode, timeout=10)
    data["smtp"].update(host=host, port=getattr(box, SMTP_PORT[smtp_mode]), security=smtp_mode, timeout=10)
    if ca:
        (folder / "certs").mkdir(exist_ok=True)
        shutil.copyfile(box.ca_file, folder / "certs" / "sandbox-ca.pem")
        data["imap"]["ca_file"] = data["smtp"]["ca_file"] = "certs/sandbox-ca.pem"
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_config(path)


def mail(subject: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = REP, SERVICE, subject
    msg["Message-ID"] = make_msgid(domain="client.test")
    msg.set_content("sent over the mode under test\n")
    return msg


def wait_for_subject(cfg: Config, subject: str, timeout: float = 10) -> None:
    """Logs in as the config says (same mode) until a mail with subject is in the INBOX."""
    deadline = time.monotonic() + timeout
    while True:
        conn = Connection(cfg.imap)
        try:
            conn.select("INBOX")
            raws = [f.raw for f in conn.fetch_raw(conn.uids_after(0), batch=100)]
        finally:
            conn.close()
        if any(f"Subject: {subject}".encode() in raw for raw in raws):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{subject!r} did not arrive within {timeout} s")
        time.sleep(0.1)


@pytest.mark.parametrize("smtp_mode", MODES)
@pytest.mark.parametrize("imap_mode", MODES)
def test_imap_and_smtp_work_in_every_security_mode_with_a_private_ca(
        tls_box, password, tmp_path, imap_mode, smtp_mode):
    cfg = tls_config(tls_box, tmp_path, imap_mode, smtp_mode)
    assert cfg.imap.ca_file == cfg.smtp.ca_file == tmp_path / "certs" / "sandbox-ca.pem"

    conn = Connection(cfg.imap)
    try:
        # Encrypted exactly when the mode says so: STARTTLS really upgraded the plain port.
        assert isinstance(conn.box.client.sock, ssl.SSLSocket) == (imap_mode != "plain")
        assert conn.select("INBOX") > 0
        conn.ensure_folders([cfg.imap.folders.processed, cfg.imap.folders.quarantine])
        names = {f.name for f in conn.box.folder.list()}
        assert {"Processed", "Quarantine"} <= names
        conn.ensure_folders([cfg.imap.folders.processed])  # existing ones are left alone
    finally:
        conn.close()

    subject = f"over {imap_mode} and {smtp_mode} {secrets.token_hex(4)}"
    client = connect(cfg.smtp)
    try:
        assert isinstance(client.sock, ssl.SSLSocket) == (smtp_mode != "plain")
        client.send_message(mail(subject))
    finally:
        client.quit()
    wait_for_subject(cfg, subject)


def test_the_host_name_localhost_matches_the_certificate_too(tls_box, password, tmp_path):
    cfg = tls_config(tls_box, tmp_path, "tls", "tls", host="localhost")
    Connection(cfg.imap).close()
    connect(cfg.smtp).quit()


@pytest.mark.parametrize("mode", ["starttls", "tls"])
def test_without_ca_file_imap_fails_clearly_on_certificate_verification(tls_box, password, tmp_path, mode):
    cfg = tls_config(tls_box, tmp_path, mode, "plain", ca=False)
    assert cfg.imap.ca_file is None
    with pytest.raises(MailboxError) as caught:
        Connection(cfg.imap)
    message = str(caught.value)
    port = getattr(tls_box, IMAP_PORT[mode])
    assert message.startswith(f"cannot connect to IMAP 127.0.0.1:{port} ({mode}): "
                              "TLS certificate verification failed: "), message
    assert "unable to get local issuer certificate" in message  # the ssl module's reason
    assert "imap.ca_file" in message


@pytest.mark.parametrize("mode", ["starttls", "tls"])
def test_without_ca_file_smtp_fails_clearly_and_counts_as_connection_trouble(tls_box, tmp_path, mode):
    cfg = tls_config(tls_box, tmp_path, "plain", mode, ca=False)
    with pytest.raises(TlsError) as caught:
        connect(cfg.smtp)
    message = str(caught.value)
    port = getattr(tls_box, SMTP_PORT[mode])
    assert message.startswith(f"cannot connect to SMTP 127.0.0.1:{port} ({mode}): "
                              "TLS certificate verification failed: "), message
    assert "unable to get local issuer certificate" in message
    assert "smtp.ca_file" in message
    # send_due retries OSError and SMTPException as temporary trouble; a TLS failure is one.
    assert isinstance(caught.value, smtplib.SMTPException)


def test_a_ca_that_did_not_sign_the_certificate_is_refused(tls_box, password, tmp_path):
    cfg = tls_config(tls_box, tmp_path, "tls", "starttls")
    other = tmp_path / "certs" / "sandbox-ca.pem"  # now replaced by a CA of its own
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                           str(tmp_path / "other.key"), "-out", str(other), "-days", "1",
                           "-subj", "/CN=some other CA"], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    cfg = load_config(cfg.path)
    with pytest.raises(MailboxError, match="TLS certificate verification failed: unable to get local issuer"):
        Connection(cfg.imap)
    with pytest.raises(TlsError, match="TLS certificate verification failed: unable to get local issuer"):
        connect(cfg.smtp)


def test_tls_to_a_plain_port_fails_as_a_tls_handshake_error(tls_box, password, tmp_path):
    cfg = tls_config(tls_box, tmp_path, "tls", "tls")
    wrong = dataclasses.replace(cfg.imap, port=tls_box.imap_port)
    with pytest.raises(MailboxError, match=rf"IMAP 127.0.0.1:{tls_box.imap_port} \(tls\): TLS handshake failed"):
        Connection(wrong)


def test_the_certificate_is_made_once_and_the_ca_key_is_not_kept(tls_box, password, tmp_path):
    ca = tls_box.ca_file.read_bytes()
    tls_box.restart_dovecot()
    assert tls_box.ca_file.read_bytes() == ca
    assert sorted(p.name for p in (tls_box.root / "tls").iterdir()) == ["ca.pem", "server.key", "server.pem"]
    assert (tls_box.root / "tls" / "server.key").stat().st_mode & 0o077 == 0
    Connection(tls_config(tls_box, tmp_path, "tls", "plain").imap).close()


def test_a_sandbox_without_tls_has_no_ca_and_no_tls_ports():
    box = Sandbox(Path(tempfile.gettempdir()) / "never-started", imap_port=1, lmtp_port=2, smtp_port=3,
                  users=[SERVICE], password="x")
    assert (box.tls, box.ca_file, box.imaps_port, box.smtps_port) == (False, None, None, None)
    with pytest.raises(ValueError, match="imaps_port and smtps_port"):
        Sandbox(box.root, imap_port=1, lmtp_port=2, smtp_port=3, users=[SERVICE], password="x", tls=True)


# -- validation -------------------------------------------------------------------------------

def problems(data: dict, folder: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, path=folder / "config.yaml")
    return caught.value.problems


def test_a_missing_ca_file_is_reported_by_its_key(tmp_path):
    data = copy.deepcopy(base_config_data())
    data["imap"]["ca_file"] = "certs/missing.pem"
    data["smtp"]["ca_file"] = str(tmp_path / "nowhere.pem")
    found = problems(data, tmp_path)
    assert f"imap.ca_file: no such file: {tmp_path / 'certs' / 'missing.pem'}" in found, found
    assert f"smtp.ca_file: no such file: {tmp_path / 'nowhere.pem'}" in found, found


def test_a_ca_file_that_holds_no_certificate_is_reported_by_its_key(tmp_path):
    (tmp_path / "ca.pem").write_text("not a certificate\n")
    data = copy.deepcopy(base_config_data())
    data["imap"]["ca_file"] = "ca.pem"
    assert any(p.startswith("imap.ca_file: is not a readable PEM CA bundle") for p in problems(data, tmp_path))


def test_certificate_verification_cannot_be_turned_off(tmp_path):
    data = copy.deepcopy(base_config_data())
    data["smtp"]["tls_verify"] = False
    assert any(p.startswith("smtp.tls_verify: certificate verification cannot be turned off")
               for p in problems(data, tmp_path))


def test_without_ca_file_the_system_cas_are_used():
    cfg = parse_config(base_config_data(), path=REPO / "config.yaml")
    assert cfg.imap.ca_file is None and cfg.smtp.ca_file is None
    context = cfg.smtp.ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
