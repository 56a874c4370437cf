"""Talk to the service mailbox over IMAP: connect, find new UIDs, fetch raw mail, move, IDLE.

A thin layer over imap-tools that adds what the daemon needs and the library leaves out:
capabilities refreshed after login (so MOVE is a real ``UID MOVE``), raw bytes fetched in
bulk without parsing twice or marking anything seen, the new UID of a moved message read
from COPYUID, and an IDLE wait that a stop signal can interrupt.
"""

from __future__ import annotations

import imaplib
import logging
import re
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted
from imap_tools.errors import MailboxFolderCreateError
from imap_tools.utils import encode_folder

from .. import oauth
from ..config import Imap
from ..errors import MailboxError, connection_problem

log = logging.getLogger(__name__)

imaplib.Commands.setdefault("MOVE", ("SELECTED",))
_UIDVALIDITY_RE = re.compile(rb"UIDVALIDITY (\d+)")
_FETCH_UID_RE = re.compile(rb"UID (\d+)")
_FETCH_SIZE_RE = re.compile(rb"RFC822\.SIZE (\d+)")
_INTERNALDATE_RE = re.compile(rb'INTERNALDATE "([^"]+)"')


@dataclass(frozen=True)
class Fetched:
    uid: int
    raw: bytes
    # When the IMAP server received the message (INTERNALDATE, RFC 3501 §2.3.3), aware; None
    # when the server did not say. Set by our own server on delivery, unlike the Date header.
    delivered_at: datetime | None = None


class IdleInterrupted(Exception):
    """Raised from a signal handler to end an IDLE wait at once."""


class Connection:
    """One logged-in IMAP session on the service mailbox."""

    def __init__(self, settings: Imap) -> None:
        self.settings = settings
        self.box = _open(settings)
        self.capabilities: set[str] = set()
        self.idling = False
        self.broken = False
        try:
            self._login()
        except BaseException:
            self.close()
            raise

    def _login(self) -> None:
        s = self.settings
        if s.auth == "xoauth2":
            # A token fresh enough at every (re)connect; a session in IDLE is never asked again.
            oauth.login(s, "IMAP", self._xoauth2)
        else:
            self.box.login(s.user or "", s.secret() or "", initial_folder=None)
        # imaplib keeps the capabilities from before login, which on Dovecot lack MOVE.
        typ, data = self.box.client.capability()
        if typ == "OK" and data and data[-1]:
            self.capabilities = {c.upper() for c in data[-1].decode().split()}
            self.box.client.capabilities = tuple(self.capabilities)

    def _xoauth2(self, token: str) -> None:
        """Authenticate with one token; raise TokenRefused when the server refuses that token."""
        # Not imap-tools' xoauth2(): it answers the server's error challenge with the
        # credentials again, where RFC 7628 (and Office 365) expect an empty line.
        answer = oauth.XOAuth2(self.settings.user or "", token)
        try:
            self.box.login_result = self.box.client.authenticate("XOAUTH2", answer)
        except imaplib.IMAP4.error as exc:
            # AUTHENTICATIONFAILED (RFC 5530) is about the credentials; UNAVAILABLE and the
            # like are the server's trouble and go to the caller's reconnect as they are.
            if "AUTHENTICATIONFAILED" in str(exc).upper() or answer.challenge is not None:
                raise oauth.TokenRefused(_refusal(exc, answer)) from None
            raise

    @property
    def has_idle(self) -> bool:
        return "IDLE" in self.capabilities

    def ensure_folders(self, names: Sequence[str]) -> None:
        """Create the folders that do not exist yet."""
        existing = {f.name for f in self.box.folder.list()}
        for name in names:
            if name not in existing:
                try:
                    self.box.folder.create(name)
                except MailboxFolderCreateError as exc:
                    if "ALREADYEXISTS" not in str(exc).upper():
                        raise
                log.info("created IMAP folder %s", name)

    def select(self, folder: str) -> int:
        """Select folder (read-write) and return its UIDVALIDITY."""
        typ, data = self.box.client.select(_quote(folder))
        if typ != "OK":
            raise MailboxError(f"cannot select IMAP folder {folder!r}: {data!r}")
        values = self.box.client.untagged_responses.get("UIDVALIDITY") or []
        if values:
            return int(values[-1])
        typ, data = self.box.client.status(_quote(folder), "(UIDVALIDITY)")
        match = _UIDVALIDITY_RE.search(data[0] if data and data[0] else b"")
        if not match:
            raise MailboxError(f"IMAP server gave no UIDVALIDITY for {folder!r}")
        return int(match[1])

    def uids_after(self, last_uid: int) -> list[int]:
        """Return the UIDs above last_uid in the selected folder, ascending."""
        typ, data = self.box.client.uid("SEARCH", f"UID {last_uid + 1}:*")
        if typ != "OK":
            raise MailboxError(f"UID SEARCH failed: {data!r}")
        # "UID N:*" always matches the highest UID, even below N: filter it ourselves.
        return sorted(u for u in (int(x) for x in (data[0] or b"").split()) if u > last_uid)

    def sizes_after(self, last_uid: int) -> dict[int, int]:
        """Return UID -> RFC822.SIZE (bytes) of the messages above last_uid, in UID order.

        One ``UID FETCH n:* (RFC822.SIZE)`` (RFC 3501 §6.4.8) does what ``UID SEARCH`` does and
        also says how large each mail is, so the intake can size its fetches before reading.
        """
        typ, data = self.box.client.uid("FETCH", f"{last_uid + 1}:*", "(UID RFC822.SIZE)")
        if typ != "OK":
            raise MailboxError(f"UID FETCH (RFC822.SIZE) failed: {data!r}")
        sizes = {}
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            if not isinstance(line, bytes):
                continue
            uid, size = _FETCH_UID_RE.search(line), _FETCH_SIZE_RE.search(line)
            # "n:*" always matches the highest UID, even below n: filter it ourselves.
            if uid and size and int(uid[1]) > last_uid:
                sizes[int(uid[1])] = int(size[1])
        return dict(sorted(sizes.items()))

    def fetch_raw(self, uids: Sequence[int], batch: int) -> Iterator[Fetched]:
        """Yield the exact bytes of each message, batch UIDs per round trip, without setting Seen."""
        for start in range(0, len(uids), batch):
            chunk = uids[start:start + batch]
            typ, data = self.box.client.uid("FETCH", ",".join(map(str, chunk)), "(UID INTERNALDATE BODY.PEEK[])")
            if typ != "OK":
                raise MailboxError(f"UID FETCH failed: {data!r}")
            for n, item in enumerate(data):
                if isinstance(item, tuple) and len(item) == 2:
                    match = _FETCH_UID_RE.search(item[0])
                    if match:
                        # INTERNALDATE stands before the literal, or after it in the next item.
                        after = data[n + 1] if n + 1 < len(data) and isinstance(data[n + 1], bytes) else b""
                        yield Fetched(uid=int(match[1]), raw=item[1],
                                      delivered_at=_internaldate(item[0]) or _internaldate(after))

    def move(self, uids: Sequence[int], folder: str) -> tuple[int | None, dict[int, int]]:
        """Move UIDs of the selected folder to folder.

        Returns the destination's UIDVALIDITY and old UID -> new UID, as far as the server
        says (COPYUID, RFC 4315); (None, {}) when it does not.
        """
        if not uids:
            return None, {}
        client = self.box.client
        client.untagged_responses.pop("COPYUID", None)
        uid_set = sequence_set(uids)
        if "MOVE" in self.capabilities:
            typ, data = client.uid("MOVE", uid_set, _quote(folder))
        else:
            typ, data = client.uid("COPY", uid_set, _quote(folder))
            if typ == "OK":
                client.uid("STORE", uid_set, "+FLAGS.SILENT", r"(\Deleted)")
                # UID EXPUNGE touches only our messages; a plain EXPUNGE would also remove
                # whatever another client had marked deleted.
                if "UIDPLUS" in self.capabilities:
                    client.uid("EXPUNGE", uid_set)
                else:
                    client.expunge()
        if typ != "OK":
            raise MailboxError(f"moving {len(uids)} message(s) to {folder!r} failed: {data!r}")
        mapping: dict[int, int] = {}
        uidvalidity = None
        for code in client.untagged_responses.pop("COPYUID", None) or []:
            parts = (code.decode() if isinstance(code, bytes) else str(code)).split()
            if len(parts) == 3:
                uidvalidity = int(parts[0])
                mapping.update(zip(_expand(parts[1]), _expand(parts[2])))
        return uidvalidity, mapping

    def idle_wait(self, timeout: float) -> list[bytes]:
        """Wait in IDLE until the server reports something or timeout passes; raise if the link died."""
        idle = self.box.idle
        idle.start()
        self.idling = True
        try:
            # Dovecot sends a change that happened just before IDLE ("* 5 EXISTS") in the same
            # packet as "+ idling"; imaplib has then read it into its buffer, where a wait on
            # the socket never sees it, and the mail would sit until the next keepalive.
            responses = [b"(buffered)"] if self._buffered() else idle.poll(timeout=timeout)
        except BaseException:
            # Mid-IDLE the server expects DONE, not LOGOUT: the connection can only be dropped.
            self.broken = True
            raise
        finally:
            self.idling = False
        # stop() reads up to the tagged OK; on a dead connection it raises, which is how an
        # early empty poll after a server crash is told apart from a quiet mailbox.
        idle.stop()
        if any(line.startswith(b"* BYE") for line in responses):
            raise MailboxError(f"IMAP server said goodbye: {responses[-1]!r}")
        return responses

    def _buffered(self) -> bool:
        """Tell whether imaplib has already read server data that nobody has consumed yet."""
        client = self.box.client
        sock = client.sock
        old = sock.gettimeout()
        sock.settimeout(0)  # peek() must not block when the buffer is empty
        try:
            return bool(client.file.peek(1))
        except (BlockingIOError, ssl.SSLWantReadError):
            return False
        finally:
            sock.settimeout(old)

    def noop(self) -> None:
        """Check that the connection is alive."""
        self.box.client.noop()

    def close(self) -> None:
        """Log out, or drop the connection if logging out fails."""
        try:
            if self.broken:
                self.box.client.shutdown()
            else:
                self.box.logout()
        except Exception:  # noqa: BLE001 - closing a broken connection must never raise
            try:
                self.box.client.shutdown()
            except Exception:  # noqa: BLE001
                pass


def _open(s: Imap):
    """Connect as the config says; for starttls and tls the server's certificate is verified."""
    where = f"IMAP {s.host}:{s.port} ({s.security})"
    context = None
    if s.security in ("tls", "starttls"):
        try:
            context = s.ssl_context()
        except (OSError, ValueError) as exc:
            raise MailboxError(f"cannot connect to {where}: imap.ca_file {s.ca_file} cannot be loaded: "
                               f"{exc}") from exc
    try:
        if s.security == "tls":
            return MailBox(s.host, s.port, timeout=s.timeout, ssl_context=context)
        if s.security == "starttls":
            return MailBoxStartTls(s.host, s.port, timeout=s.timeout, ssl_context=context)
        return MailBoxUnencrypted(s.host, s.port, timeout=s.timeout)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxError(f"cannot connect to {where}: {connection_problem(exc, ca_file=s.ca_file, key='imap')}") from exc


def _refusal(exc: imaplib.IMAP4.error, answer: oauth.XOAuth2) -> str:
    """Describe a refused AUTHENTICATE: the server's tagged answer and its XOAUTH2 status."""
    return f"{exc}; server status {answer.reason()}" if answer.reason() else str(exc)


def _internaldate(text: bytes) -> datetime | None:
    """Return the INTERNALDATE in a FETCH response line as an aware UTC datetime, or None."""
    match = _INTERNALDATE_RE.search(text)
    if not match:
        return None
    try:
        parsed = datetime.strptime(match[1].decode("ascii").strip(), "%d-%b-%Y %H:%M:%S %z")
    except ValueError:
        return None
    return parsed.astimezone(timezone.utc)


def _quote(folder: str) -> bytes:
    return encode_folder(folder)  # modified UTF-7, quoted: folder names may be Chinese


def _expand(uid_set: str) -> list[int]:
    out: list[int] = []
    for part in uid_set.split(","):
        low, _, high = part.partition(":")
        out.extend(range(int(low), int(high or low) + 1))
    return out


def sequence_set(uids: Sequence[int]) -> str:
    """Return UIDs as an IMAP sequence set with runs as ranges: [1, 2, 3, 7] -> '1:3,7' (RFC 3501 §9)."""
    parts: list[str] = []
    ordered = sorted(set(uids))
    start = previous = None
    for uid in ordered:
        if previous is not None and uid == previous + 1:
            previous = uid
            continue
        if start is not None:
            parts.append(f"{start}:{previous}" if previous != start else str(start))
        start = previous = uid
    if start is not None:
        parts.append(f"{start}:{previous}" if previous != start else str(start))
    return ",".join(parts)
