"""Deliver the outbox over SMTP, with retry and backoff, resuming where it stopped.

A mail counts as sent only after the server accepted it; a crash in between sends it again
with the same Message-ID (SMTP cannot tell whether the server kept a mail whose answer never
arrived: delivery is at-least-once). Nothing else sends a mail twice: rows are claimed before
they are sent, so two senders never take the same one. Temporary failures (4xx, connection trouble) back off; a permanent
refusal (5xx for every recipient) marks the mail failed with the server's answer.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import smtplib
import threading
import ssl
from datetime import datetime, timedelta, timezone

from sqlite_utils import Database

from .. import oauth
from ..config import MailServer
from ..errors import VisitflowError, connection_problem
from ..store.db import now, transaction

log = logging.getLogger(__name__)

# A claim names the sending process and run ("<pid>.<random>"). A claim older than CLAIM_TTL
# is released even if the PID lives on (a reused PID, a sender stuck beyond every timeout).
CLAIM_TTL = timedelta(hours=1)
MAX_ATTEMPTS = 30  # with the backoff below: retried for about a day and a half
BATCH = 50


class TlsError(smtplib.SMTPException):
    """TLS with the SMTP server failed (certificate, host name, handshake); retried like any
    connection trouble, but named clearly in the outbox's last_error and the log."""


def connect(server: MailServer) -> smtplib.SMTP:
    """Open an SMTP connection as the config says: plain, STARTTLS or TLS; password or XOAUTH2
    (with the current OAuth2 token; refused once, it is renewed and tried once more).

    For starttls and tls the server's certificate and host name are verified against
    smtp.ca_file, or the system's CAs when it is unset; a failure raises TlsError.
    """
    where = f"SMTP {server.host}:{server.port} ({server.security})"
    context = None
    if server.security in ("tls", "starttls"):
        try:
            context = server.ssl_context()
        except (OSError, ValueError) as exc:
            raise TlsError(f"cannot connect to {where}: smtp.ca_file {server.ca_file} cannot be loaded: "
                           f"{exc}") from exc
    try:
        if server.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(server.host, server.port, timeout=server.timeout,
                                                   context=context)
        else:
            client = smtplib.SMTP(server.host, server.port, timeout=server.timeout)
    except ssl.SSLError as exc:
        raise TlsError(f"cannot connect to {where}: {connection_problem(exc, ca_file=server.ca_file, key='smtp')}") from exc
    try:
        client.ehlo()
        if server.security == "starttls":
            try:
                client.starttls(context=context)
            except (ssl.SSLError, smtplib.SMTPNotSupportedError) as exc:
                raise TlsError(f"cannot connect to {where}: {connection_problem(exc, ca_file=server.ca_file, key='smtp')}") from exc
            client.ehlo()
        if server.user and server.auth == "xoauth2":
            # A token fresh enough at every connection; refused once, it is renewed once.
            oauth.login(server, "SMTP", lambda token: _xoauth2(client, server, token))
        elif server.user:
            secret = server.secret()
            if secret is not None:
                client.login(server.user, secret)
    except BaseException:
        client.close()
        raise
    return client


def _xoauth2(client: smtplib.SMTP, server: MailServer, token: str) -> None:
    """AUTH XOAUTH2 with one token; raise TokenRefused when the server refuses that token."""
    offered = (client.esmtp_features.get("auth") or "").upper().split()
    if "XOAUTH2" not in offered:
        # Without this check a server with no AUTH at all answers 503, which smtplib counts
        # as success, and the mail would go out unauthenticated or be refused later.
        raise smtplib.SMTPNotSupportedError(
            f"SMTP {server.host}:{server.port} does not offer AUTH XOAUTH2 "
            f"(offers: {' '.join(offered) or 'no AUTH'}): check smtp.port and smtp.security")
    answer = oauth.XOAuth2(server.user or "", token)
    try:
        client.auth("XOAUTH2", answer, initial_response_ok=True)
    except smtplib.SMTPAuthenticationError as exc:
        if exc.smtp_code == 535 or answer.challenge is not None:
            said = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
            status = f"; server status {answer.reason()}" if answer.reason() else ""
            raise oauth.TokenRefused(f"{exc.smtp_code} {said}{status}") from None
        raise


def backoff(attempts: int) -> timedelta:
    """Return how long to wait before attempt number attempts+1: 2 s doubling to an hour."""
    return timedelta(seconds=min(2 ** attempts, 3600))


def due(db: Database, limit: int = BATCH) -> list[dict]:
    """Return queued, unclaimed outbox rows whose next attempt is due, oldest first."""
    return list(db.query(
        "SELECT id, message_id, sender, recipients, raw, attempts FROM outbox "
        "WHERE state = 'queued' AND claimed_by IS NULL AND next_attempt_at <= ? ORDER BY id LIMIT ?",
        [now(), limit]))


def new_claimant() -> str:
    """Return a claim name for one sending run of this process: "<pid>.<random hex>"."""
    return f"{os.getpid()}.{secrets.token_hex(4)}"


def claim_due(db: Database, claimant: str, limit: int = BATCH) -> list[dict]:
    """Claim up to ``limit`` due rows for ``claimant`` and return them (one transaction).

    Claims of a process that no longer runs, or older than CLAIM_TTL, are released first:
    what such a sender was sending when it died is sent again (at-least-once, README
    "Nothing is lost"), never what a live sender is sending.
    """
    with transaction(db):
        _release_stale_claims(db, claimant)
        rows = due(db, limit)
        if rows:
            marks = ", ".join("?" * len(rows))
            db.execute(f"UPDATE outbox SET claimed_by = ?, claimed_at = ? WHERE id IN ({marks})",
                       [claimant, now(), *(r["id"] for r in rows)])
    return rows


def release_claims(db: Database, claimant: str) -> None:
    """Give back ``claimant``'s claims on rows it did not get to send."""
    with transaction(db):
        db.execute("UPDATE outbox SET claimed_by = NULL WHERE claimed_by = ? AND state = 'queued'", [claimant])


def _release_stale_claims(db: Database, claimant: str) -> None:
    holders = [r[0] for r in db.execute(
        "SELECT DISTINCT claimed_by FROM outbox WHERE state = 'queued' AND claimed_by IS NOT NULL")]
    dead = [h for h in holders if h != claimant and not _alive(h)]
    expired = (datetime.now(timezone.utc) - CLAIM_TTL).isoformat(timespec="milliseconds")
    db.execute("UPDATE outbox SET claimed_by = NULL WHERE state = 'queued' AND claimed_by IS NOT NULL "
               f"AND (claimed_at < ? OR claimed_by IN ({', '.join('?' * len(dead)) or 'NULL'}))",
               [expired, *dead])


def _alive(holder: str) -> bool:
    try:
        os.kill(int(holder.split(".", 1)[0]), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:  # a process of another user holds that PID
        return True
    return True


def send_due(db: Database, server: MailServer, envelope_from: str, *, stopping: threading.Event | None = None) -> int:
    """Send every due outbox mail over one connection; returns how many were accepted.

    Rows are claimed before they are sent, so concurrent senders never send one mail twice.
    Once ``stopping`` is set no more rows are claimed: the claimed ones (at most BATCH) are
    sent, the rest wait for the next start. Raises sqlite3.Error when the database cannot
    be written (then nothing is sent).
    """
    claimant = new_claimant()
    rows = claim_due(db, claimant)
    if not rows:
        return 0
    sent = 0
    try:
        try:
            client = connect(server)
        except (OSError, smtplib.SMTPException, VisitflowError) as exc:
            # TlsError and OAuth2 trouble (wrong client secret, refused token, token endpoint
            # away) already name what is wrong; the rest gain host, port and mode here.
            error = str(exc) if isinstance(exc, (TlsError, VisitflowError)) else \
                f"cannot connect to SMTP {server.host}:{server.port} ({server.security}): {exc}"
            for row in rows:
                _failed_attempt(db, row, error, permanent=False)
            return 0
        try:
            while rows:
                for row in rows:
                    if _send_one(db, client, row, envelope_from):
                        sent += 1
                rows = [] if stopping is not None and stopping.is_set() else claim_due(db, claimant)
        except (OSError, smtplib.SMTPException) as exc:
            # The failing row was already rescheduled; the rest wait for the next round.
            log.warning("SMTP connection lost after %d sent: %s", sent, exc)
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()
    finally:
        release_claims(db, claimant)
    return sent


def _send_one(db: Database, client: smtplib.SMTP, row: dict, envelope_from: str) -> bool:
    recipients = json.loads(row["recipients"])
    try:
        refused = client.sendmail(envelope_from, recipients, row["raw"])
    except smtplib.SMTPRecipientsRefused as exc:
        permanent = all(code >= 500 for code, _ in exc.recipients.values())
        _failed_attempt(db, row, f"every recipient refused: {exc.recipients}", permanent=permanent)
        return False
    except smtplib.SMTPResponseException as exc:
        _failed_attempt(db, row, f"SMTP {exc.smtp_code}: {exc.smtp_error!r}",
                        permanent=exc.smtp_code >= 500)
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            raise
        return False
    except (OSError, smtplib.SMTPException) as exc:
        _failed_attempt(db, row, f"SMTP connection failed: {exc}", permanent=False)
        raise
    with transaction(db):
        db["outbox"].update(row["id"], {"state": "sent", "sent_at": now(), "claimed_by": None,
                                        "attempts": row["attempts"] + 1,
                                        "last_error": json.dumps(refused) if refused else None})
    log.info("outbox %s: sent <%s> to %s", row["id"], row["message_id"], ", ".join(recipients))
    return True


def _failed_attempt(db: Database, row: dict, error: str, *, permanent: bool) -> None:
    attempts = row["attempts"] + 1
    give_up = permanent or attempts >= MAX_ATTEMPTS
    next_at = datetime.now(timezone.utc) + backoff(attempts)
    with transaction(db):
        db["outbox"].update(row["id"], {
            "attempts": attempts,
            "state": "failed" if give_up else "queued",
            "last_error": error,
            "next_attempt_at": next_at.isoformat(timespec="milliseconds"),
            "claimed_by": None,
        })
    level = logging.ERROR if give_up else logging.WARNING
    log.log(level, "outbox %s: <%s> %s (attempt %d%s)", row["id"], row["message_id"], error,
            attempts, ", giving up" if give_up else f", next at {next_at:%H:%M:%S}")
