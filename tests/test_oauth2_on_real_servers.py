"""XOAUTH2 against the real Dovecot and Postfix, with tokens that live 20 s.

One sandbox in OAuth2 mode serves the module: its token server (HTTPS for the service, HTTP
for Dovecot's oauth2 passdb) issues client-credentials and refresh-token grants; Dovecot
checks each token (tokeninfo, then RFC 7662 introspection); Postfix's submission port takes
mail only after SMTP AUTH through Dovecot. The service's own IMAP and SMTP code, MSAL and
Authlib talk to it exactly as they would to Office 365 or Google.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import smtplib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from service import oauth
from service.config import Config, load_config
from service.errors import ConfigError, MailboxError
from service.inbound.imap import Connection
from service.outbound import smtp
from service.sandbox import Sandbox, free_port
from service.sandbox.token_server import TENANT

from .conftest import (
    REPO,
    DaemonProcess,
    base_config_data,
    drain_postfix,
    empty_mailboxes,
    folder_messages,
    make_mail,
    running_sandbox,
    smtp_send,
    wait_for,
)

pytestmark = pytest.mark.mail

SERVICE = "visits@visitflow.test"
REP = "li.lei@visitflow.test"
CLIENT, CLIENT_SECRET = "visitflow-daemon", "s3cret-for-the-sandbox"
OTHER_CLIENT, OTHER_SECRET = "someone-elses-app", "other-s3cret"  # its tokens log in as REP
SECRET_ENV, REFRESH_ENV, TOKEN_ENV = "VF_OAUTH2_SECRET", "VF_OAUTH2_REFRESH", "VF_OAUTH2_TOKEN"


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    """Start one OAuth2-mode sandbox for this module; register the service's client."""
    with running_sandbox([SERVICE, REP], prefix="vf-oa-", oauth2=True, submission_port=free_port()) as sandbox:
        sandbox.token_server.add_client(CLIENT, CLIENT_SECRET, SERVICE)
        sandbox.token_server.add_client(OTHER_CLIENT, OTHER_SECRET, REP)
        yield sandbox


@pytest.fixture
def fresh(box: Sandbox, monkeypatch) -> Iterator[None]:
    """Forget cached tokens, export the client secret, start with empty mailboxes."""
    oauth.forget_tokens()
    monkeypatch.setenv(SECRET_ENV, CLIENT_SECRET)
    drain_postfix(box)
    empty_mailboxes(box, box.users)
    yield
    drain_postfix(box)
    oauth.forget_tokens()


def write_config(box: Sandbox, folder: Path, provider: str = "generic", **changes) -> Path:
    """Write a config whose IMAP and SMTP (the submission port) log in with XOAUTH2."""
    tokens = box.token_server
    data = base_config_data()
    data["storage"] = {"database": str(folder / "visitflow.db"), "reports_dir": str(folder / "reports"),
                       "cards_dir": str(folder / "cards")}
    data["imap"]["idle_seconds"] = 60
    (folder / "certs").mkdir(exist_ok=True)
    shutil.copyfile(box.ca_file, folder / "certs" / "sandbox-ca.pem")
    oauth2 = {"provider": provider, "client_id": CLIENT, "client_secret_env": SECRET_ENV,
              "ca_file": "certs/sandbox-ca.pem"}  # the token server's certificate is the sandbox's
    if provider == "microsoft":
        oauth2.update(authority=tokens.base_url, tenant=TENANT)
    else:
        oauth2["token_url"] = tokens.token_url
    if provider == "google":
        oauth2["refresh_token_env"] = REFRESH_ENV
    token_env = changes.pop("token_env", None)
    oauth2.update(changes)
    for section, port in (("imap", box.imap_port), ("smtp", box.submission_port)):
        server = data[section]
        server.pop("password_env", None)
        server.update(port=port, auth="xoauth2", user=SERVICE, timeout=10)
        if token_env:
            server["token_env"] = token_env
        else:
            server["oauth2"] = dict(oauth2)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def config(box: Sandbox, folder: Path, provider: str = "generic", **changes) -> Config:
    return load_config(write_config(box, folder, provider, **changes))


def log_in_and_send(cfg: Config, subject: str) -> None:
    """Log in to IMAP, then send one mail from the service to REP over the submission port."""
    conn = Connection(cfg.imap)
    try:
        conn.select("INBOX")
    finally:
        conn.close()
    client = smtp.connect(cfg.smtp)
    try:
        client.sendmail(SERVICE, [REP], make_mail(sender=SERVICE, to=REP, subject=subject).as_bytes())
    finally:
        client.quit()


def arrived(box: Sandbox, subject: str) -> list:
    return wait_for(lambda: [m for m in folder_messages(box, REP) if m.subject == subject],
                    what=f"{subject!r} in {REP}'s inbox")


def receipts(box: Sandbox) -> list[str]:
    """Return the subjects of the daily-report receipts in REP's inbox (not the reminders)."""
    return [m.subject for m in folder_messages(box, REP) if "已收到" in m.subject]


def visitflow(config_path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "service", "--config", str(config_path), *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False)


PROVIDERS = [
    # provider, what the token endpoint saw: (path, grant, scope, how the secret came)
    ("generic", ("/token", "client_credentials", "", "basic")),
    ("microsoft", (f"/{TENANT}/oauth2/v2.0/token", "client_credentials",
                   "https://outlook.office365.com/.default", "post")),
    ("google", ("/token", "refresh_token", "https://mail.google.com/", "post")),
]


@pytest.mark.parametrize("provider, expected", PROVIDERS, ids=[p[0] for p in PROVIDERS])
def test_imap_and_smtp_log_in_with_one_token_from_each_provider_and_the_mail_arrives(
        box, fresh, tmp_path, monkeypatch, provider, expected):
    monkeypatch.setenv(REFRESH_ENV, box.token_server.add_refresh_token(CLIENT, SERVICE))
    cfg = config(box, tmp_path, provider)
    before = len(box.token_server.issued)

    log_in_and_send(cfg, f"sent with a {provider} token")

    issued = box.token_server.issued[before:]
    assert [(i.path, i.grant, i.scope, i.client_auth, i.user) for i in issued] == [(*expected, SERVICE)]
    assert arrived(box, f"sent with a {provider} token")


@pytest.mark.parametrize("protocol", ["IMAP", "SMTP"])
def test_a_token_that_expired_early_is_renewed_once_and_the_login_succeeds(
        box, fresh, tmp_path, caplog, protocol):
    cfg = config(box, tmp_path)
    tokens = box.token_server
    log_in_and_send(cfg, "first")
    before, refused_before = len(tokens.issued), tokens.rejected_checks
    tokens.expire_all()  # the cached token looks fresh to the service, but the server says no

    with caplog.at_level(logging.INFO, logger="service.oauth"):
        if protocol == "IMAP":
            Connection(cfg.imap).close()
        else:
            smtp.connect(cfg.smtp).quit()

    assert len(tokens.issued) - before == 1
    assert tokens.rejected_checks - refused_before == 1
    refusals = [r.getMessage() for r in caplog.records if "refused the OAuth2 token" in r.getMessage()]
    assert len(refusals) == 1 and refusals[0].startswith(f"{protocol} 127.0.0.1:")


def test_a_token_for_another_mailbox_is_refused_twice_then_one_clear_error(box, fresh, tmp_path, monkeypatch):
    monkeypatch.setenv(SECRET_ENV, OTHER_SECRET)
    cfg = config(box, tmp_path, client_id=OTHER_CLIENT)  # a good token, but for REP's mailbox
    before = len(box.token_server.issued)

    with pytest.raises(MailboxError) as caught:
        Connection(cfg.imap)

    assert not isinstance(caught.value, ConfigError)
    assert str(caught.value).startswith(f"IMAP 127.0.0.1:{box.imap_port} refused a newly fetched OAuth2 "
                                        f"token for {SERVICE} ([AUTHENTICATIONFAILED] Authentication failed.")
    assert len(box.token_server.issued) - before == 2


@pytest.mark.parametrize("provider, command", [("generic", "poll"), ("microsoft", "poll"), ("generic", "run")])
def test_a_wrong_client_secret_gives_one_clear_line_and_no_traceback(box, fresh, tmp_path, provider, command):
    path = write_config(box, tmp_path, provider)

    result = visitflow(path, command, env={**os.environ, SECRET_ENV: "not-the-secret"})

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("visitflow: the OAuth2 token endpoint of ")
    assert f"refused client {CLIENT} (invalid_client: Invalid client secret provided" in lines[0]
    assert lines[0].endswith(f"check client_id and the secret in environment variable {SECRET_ENV}")
    assert box.token_server.refusals[-1] == "invalid_client"


def test_an_expired_fixed_token_gives_one_clear_line_for_imap_and_a_clear_error_for_smtp(
        box, fresh, tmp_path, monkeypatch):
    tokens = box.token_server
    token = tokens.grant("/token", {"grant_type": "client_credentials", "client_id": CLIENT,
                                    "client_secret": CLIENT_SECRET}, None)[1]["access_token"]
    path = write_config(box, tmp_path, token_env=TOKEN_ENV)
    env = {**os.environ, TOKEN_ENV: token}
    assert visitflow(path, "poll", "--no-send", env=env).returncode == 0  # good while it lasts
    tokens.expire_all()

    result = visitflow(path, "poll", env=env)

    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    expected = (f"visitflow: IMAP 127.0.0.1:{box.imap_port} refused the OAuth2 access token in environment "
                f"variable {TOKEN_ENV} for {SERVICE} ([AUTHENTICATIONFAILED] Authentication failed.; "
                'server status {"status":"401","schemes":"bearer","scope":"mail"}): it has probably '
                "expired, and a fixed token is never renewed – put a fresh one there, or configure "
                "oauth2 so visitflow fetches tokens itself")
    assert lines == [expected]
    monkeypatch.setenv(TOKEN_ENV, token)
    with pytest.raises(oauth.CredentialsRefused, match=f"SMTP 127.0.0.1:{box.submission_port} refused the "
                                                       f"OAuth2 access token in environment variable {TOKEN_ENV}"):
        smtp.connect(load_config(path).smtp)


def test_an_unknown_microsoft_tenant_gives_one_clear_line(box, fresh, tmp_path):
    path = write_config(box, tmp_path, "microsoft", tenant="no-such-tenant")

    result = visitflow(path, "poll", env=dict(os.environ))

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith(f"visitflow: the Microsoft authority {box.token_server.base_url} does not know "
                               "tenant 'no-such-tenant'")
    assert "check oauth2.tenant" in lines[0]


def test_an_unreachable_token_endpoint_is_a_passing_trouble_the_daemon_retries(box, fresh, tmp_path):
    path = write_config(box, tmp_path, token_url=f"https://127.0.0.1:{free_port()}/token")

    with pytest.raises(oauth.ProviderUnavailable) as caught:
        Connection(load_config(path).imap)
    assert isinstance(caught.value, MailboxError) and not isinstance(caught.value, ConfigError)
    assert str(caught.value).startswith("cannot reach the OAuth2 token endpoint of https://127.0.0.1:")

    daemon = DaemonProcess(path, {**os.environ, SECRET_ENV: CLIENT_SECRET}, tmp_path / "daemon.log")
    try:
        wait_for(lambda: daemon.output().count("IMAP connection lost (ProviderUnavailable: cannot reach the "
                                               "OAuth2 token endpoint") >= 2, what="two reconnect attempts")
    finally:
        assert daemon.stop() == 0
    assert "Traceback" not in daemon.output()


def test_the_submission_port_takes_mail_only_after_smtp_auth(box, fresh):
    with smtplib.SMTP("127.0.0.1", box.submission_port, timeout=10) as client:
        client.ehlo()
        assert "XOAUTH2" in client.esmtp_features["auth"].split()
        with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
            client.sendmail(SERVICE, [REP], make_mail(sender=SERVICE, to=REP).as_bytes())
    assert caught.value.recipients[REP][0] == 554
    smtp_send(box, make_mail(sender=REP, to=SERVICE, subject="inbound needs no login"))  # the plain port
    assert wait_for(lambda: folder_messages(box, SERVICE), what="inbound mail")


def test_mail_keeps_flowing_in_and_out_for_two_minutes_while_20_second_tokens_expire(box, fresh, tmp_path):
    """The daemon stays in IDLE across token expiries, reconnects after a Dovecot restart and
    answers every report over SMTP with a fresh-enough token; a token that ends early is
    renewed once. Takes about two minutes."""
    tokens = box.token_server
    path = write_config(box, tmp_path)
    before = len(tokens.issued)
    daemon = DaemonProcess(path, {**os.environ, SECRET_ENV: CLIENT_SECRET}, tmp_path / "daemon.log")
    sent: list[str] = []
    restarted = expired = False
    try:
        wait_for(lambda: "IMAP connected" in daemon.output(), what="the daemon to connect")
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < 120:
            if not restarted and elapsed > 40:
                box.restart_dovecot()  # the IMAP session ends: the daemon logs in again
                restarted = True
            day = len(sent) + 1
            smtp_send(box, make_mail(sender=REP, subject="巡访日报",
                                     body=f"日期：2026-11-{day:02d}\n客户名称：客户{day}\n巡访时间：9:00\n巡访效果：好\n"))
            sent.append(f"2026-11-{day:02d}")
            wait_for(lambda: len(receipts(box)) == len(sent), timeout=20,
                     what=f"the receipt for 2026-11-{day:02d}")
            # A token fetched for this very receipt is cached for the next one: ending it now
            # makes the next SMTP login meet a refusal (once).
            if not expired and elapsed > 70 and time.time() - tokens.issued[-1].at < 5:
                tokens.expire_all()
                expired = True
            time.sleep(max(0.0, start + 8 * len(sent) - time.monotonic()))
    finally:
        assert daemon.stop() == 0
    log = daemon.output()
    issued = tokens.issued[before:]
    answered = receipts(box)
    print(f"\n{len(sent)} reports answered in {time.monotonic() - start:.0f} s; {len(issued)} tokens "
          f"(first included) at s " + ", ".join(f"{i.at - issued[0].at:.0f}" for i in issued))
    print("".join(line + "\n" for line in log.splitlines()
                  if re.search(r"OAuth2|IMAP connected|IMAP connection lost", line)))
    assert sorted(next(day for day in sent if day in r) for r in answered) == sent, answered
    assert len(sent) >= 14
    assert restarted and expired
    assert log.count("IMAP connected") == 2  # the start and the Dovecot restart: IDLE needs no re-login
    assert len(issued) >= 5  # 2 minutes of 20 s tokens, renewed only when a login needs one
    assert len(re.findall(r"OAuth2 token \d+ for client visitflow-daemon at \S+ obtained", log)) == len(issued)
    assert log.count("refused the OAuth2 token") == 1
    assert "refused a newly fetched" not in log and "Traceback" not in log
