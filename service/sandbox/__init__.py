"""Runs a private, throwaway mail stack (Dovecot IMAP + LMTP and a second Postfix) on loopback.

Used by the demo, the test suite and the benchmarks. Everything the stack writes (configs,
sockets, PID files, logs, the Postfix queue and the mail itself) lives under one root folder,
so several sandboxes can run side by side on different ports. Outbound relay is switched to
Postfix's error transport: mail to a domain the sandbox does not host bounces back locally and
never leaves the machine.

Optionally (``tls=True``) both servers also speak TLS with a certificate for 127.0.0.1 and
localhost from a private CA made once under ``root/tls`` (``ca_file`` is what a client must
trust): STARTTLS on the plain IMAP and SMTP ports, implicit TLS on ``imaps_port`` and
``smtps_port``. Plain login on the plain ports keeps working either way.

Optionally (``oauth2=True``, see ``oauth2.py``) Dovecot also takes XOAUTH2 and OAUTHBEARER
tokens from a local token server (``token_server``, a thread of the starting process), and a
submission port accepts mail only after SMTP AUTH through Dovecot.

Needs root: Postfix only starts as root and Dovecot switches to the mail user itself.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterable

from .configs import write_dovecot_config, write_postfix_config
from .processes import (
    START_TIMEOUT, alive, ensure_mail_user, kill, last_lines, live_pid, postfix_env, run_daemonizing,
    session_members, wait_for_greeting, write_atomic,
)
from .token_server import TokenServer

__all__ = ["Sandbox", "SandboxError", "ensure_installed", "free_port"]

# Debian packages needed, each with one file that proves it is installed.
_PACKAGE_FILES = {
    "dovecot-imapd": "/usr/lib/dovecot/imap",
    "dovecot-lmtpd": "/usr/lib/dovecot/lmtp",
    "postfix": "/usr/sbin/postfix",
}
DOVECOT = "/usr/sbin/dovecot"
POSTFIX = "/usr/sbin/postfix"
OPENSSL = "openssl"  # Debian's openssl package; only needed with tls=True
STOP_TIMEOUT = 15.0
# Unix sockets live under the root; their paths must fit in sun_path (108 bytes) with room
# for Dovecot's longest socket name ("login/imap-urlauth-worker" under dovecot/run/).
MAX_ROOT_LEN = 64
# Extensions for the private CA and the server certificate (what a strict verifier wants:
# a CA that may only sign, a leaf that is no CA, names in subjectAltName, key identifiers).
_OPENSSL_CONF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = visitflow sandbox
[ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


class SandboxError(Exception):
    """Reports a server that could not be installed, started or stopped, with its log tail."""


_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_handed_out: set[int] = set()


def free_port() -> int:
    """Returns a TCP port on 127.0.0.1 that is free now and that no outgoing connection takes.

    The kernel's own pick (a bind to port 0) comes from the ephemeral range
    (``net.ipv4.ip_local_port_range``, 32768–60999 by default), the range every outgoing
    connection draws its local port from: a client connecting between this choice and the
    server's bind could take the port ("Address already in use"). So the port is drawn at
    random from the 12,000 below that range, checked by binding it, and never handed out twice
    by this process. Where the ephemeral range leaves no room below, the kernel picks.
    """
    try:
        low = int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    candidates = range(max(1024, low - 12000), low)
    for _ in range(200 if len(candidates) >= 1000 else 0):
        port = secrets.choice(candidates)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_installed() -> None:
    """Installs dovecot-imapd, dovecot-lmtpd and postfix with apt-get when any is missing."""
    missing = [pkg for pkg, path in _PACKAGE_FILES.items() if not Path(path).exists()]
    if not missing:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Without this answer Postfix's package asks a question (or writes a system config that
    # would start a real MTA on port 25); "No configuration" leaves /etc/postfix unconfigured.
    answer = subprocess.run(["debconf-set-selections"], env=env, text=True, capture_output=True,
                            input="postfix postfix/main_mailer_type select No configuration\n")
    if answer.returncode != 0:
        raise SandboxError(f"debconf-set-selections failed:\n{answer.stdout}{answer.stderr}")
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]
    result = subprocess.run(install, env=env, text=True, capture_output=True)
    if result.returncode != 0:
        # Usually a stale or empty package list; updating it is slow, so only on failure.
        subprocess.run(["apt-get", "update", "-q"], env=env, text=True, capture_output=True)
        result = subprocess.run(install, env=env, text=True, capture_output=True)
    if result.returncode != 0:
        raise SandboxError(f"apt-get install {' '.join(missing)} failed:\n"
                           f"{last_lines(result.stdout + result.stderr)}")


class Sandbox:
    """Controls one throwaway Dovecot + Postfix pair living entirely under `root`."""

    def __init__(self, root: Path, *, imap_port: int, lmtp_port: int, smtp_port: int,
                 users: Iterable[str], password: str, tls: bool = False,
                 imaps_port: int | None = None, smtps_port: int | None = None,
                 oauth2: bool = False, submission_port: int | None = None,
                 token_lifetime: float = 20.0) -> None:
        self._root = Path(root).resolve()
        if len(str(self._root)) > MAX_ROOT_LEN:
            raise ValueError(f"root path too long for unix sockets (max {MAX_ROOT_LEN} chars): {self._root}")
        if ":" in password or "\n" in password or not password:
            raise ValueError("password must be non-empty and hold no ':' or newline (passwd-file format)")
        if tls and not (imaps_port and smtps_port):
            raise ValueError("tls=True needs imaps_port and smtps_port")
        if oauth2 and not submission_port:
            raise ValueError("oauth2=True needs submission_port")
        self._imap_port, self._lmtp_port, self._smtp_port = imap_port, lmtp_port, smtp_port
        self._tls = tls
        self._imaps_port, self._smtps_port = (imaps_port, smtps_port) if tls else (None, None)
        self._password = password
        self._users: list[str] = []
        self._merge_users(users)
        d = self._root
        self._dovecot_conf = d / "dovecot" / "dovecot.conf"
        self._passwd_file = d / "dovecot" / "users"
        self._dovecot_run = d / "dovecot" / "run"
        self._dovecot_log = d / "dovecot" / "dovecot.log"
        self._postfix_etc = d / "postfix" / "etc"
        self._postfix_queue = d / "postfix" / "queue"
        self._postfix_log = d / "postfix" / "maillog"
        self._mail_dir = d / "mail"
        self._tls_dir = d / "tls"
        self._ca_file = self._tls_dir / "ca.pem"
        self._cert_file = self._tls_dir / "server.pem"
        self._key_file = self._tls_dir / "server.key"
        self._oauth2, self._submission_port = oauth2, (submission_port if oauth2 else None)
        self._oauth2_conf = d / "dovecot" / "oauth2.conf.ext"
        self._auth_socket = self._dovecot_run / "auth-postfix"
        self._token_server = TokenServer(lifetime=token_lifetime, cert_file=self._cert_file,
                                         key_file=self._key_file) if oauth2 else None

    # -- properties ---------------------------------------------------------------------------

    @property
    def root(self) -> Path:
        """Gives the folder that holds everything of this sandbox."""
        return self._root

    @property
    def imap_port(self) -> int:
        """Gives the IMAP port on 127.0.0.1 (plain IMAP; STARTTLS offered when tls is on)."""
        return self._imap_port

    @property
    def smtp_port(self) -> int:
        """Gives the SMTP port on 127.0.0.1 (no AUTH; STARTTLS offered when tls is on; outside
        recipients bounce)."""
        return self._smtp_port

    @property
    def tls(self) -> bool:
        """Tells whether the servers speak TLS (STARTTLS and implicit TLS) too."""
        return self._tls

    @property
    def imaps_port(self) -> int | None:
        """Gives the implicit-TLS IMAP port on 127.0.0.1, or None without tls."""
        return self._imaps_port

    @property
    def smtps_port(self) -> int | None:
        """Gives the implicit-TLS SMTP port on 127.0.0.1 (like smtp_port otherwise), or None without tls."""
        return self._smtps_port

    @property
    def ca_file(self) -> Path | None:
        """Gives the PEM file of the private CA that signed the servers' (and the token server's)
        certificate (made at the first start), or None without tls and oauth2."""
        return self._ca_file if self._tls or self._oauth2 else None

    @property
    def oauth2(self) -> bool:
        """Tells whether Dovecot takes OAuth2 tokens and the submission port requires AUTH."""
        return self._oauth2

    @property
    def submission_port(self) -> int | None:
        """Gives the SMTP port on 127.0.0.1 that takes mail only after AUTH, or None without oauth2."""
        return self._submission_port

    @property
    def token_server(self) -> TokenServer:
        """Gives the local OAuth2 token and introspection server (oauth2 mode only)."""
        if self._token_server is None:
            raise AttributeError("this sandbox runs without oauth2")
        return self._token_server

    @property
    def password(self) -> str:
        """Gives the password shared by all mailboxes."""
        return self._password

    @property
    def users(self) -> tuple[str, ...]:
        """Lists the mailbox addresses, lower-cased, in the order they were added."""
        return tuple(self._users)

    # -- whole stack --------------------------------------------------------------------------

    def start(self) -> None:
        """Starts whichever of Dovecot and Postfix is not running and waits until both listen.

        Raises SandboxError with the failing server's log. A server this call started is
        stopped again before that: a half-started sandbox left nobody to stop its Dovecot.
        """
        started = self._dovecot_pid() is None
        self.start_dovecot()
        try:
            self.start_postfix()
        except BaseException:
            if started:
                self.stop()
            raise

    def stop(self) -> None:
        """Stops both servers by PID and waits until their processes are gone (and the token server)."""
        self.stop_postfix()
        self.stop_dovecot()
        if self._token_server is not None:
            self._token_server.stop()

    def is_running(self) -> dict[str, bool]:
        """Tells which of the two servers has a live master process."""
        return {"dovecot": self._dovecot_pid() is not None, "postfix": self._postfix_pid() is not None}

    def pids(self) -> dict[str, list[int]]:
        """Lists the live processes of each server: its master first, then the master's children."""
        out = {}
        for name, pid in (("dovecot", self._dovecot_pid()), ("postfix", self._postfix_pid())):
            out[name] = [pid, *(p for p in session_members(pid) if p != pid)] if pid else []
        return out

    # -- Dovecot ------------------------------------------------------------------------------

    def start_dovecot(self) -> None:
        """Starts Dovecot unless it runs, then waits until IMAP and LMTP accept connections."""
        if self._dovecot_pid() is not None:
            return
        self._prepare()
        if self._token_server is not None:
            self._token_server.start()  # Dovecot's config names its port
        write_dovecot_config(self)
        code, output = run_daemonizing([DOVECOT, "-c", str(self._dovecot_conf)], self._root / "dovecot")
        if code != 0:
            raise SandboxError(f"dovecot did not start (exit {code}):\n{output}"
                               f"{self._log_tail(self._dovecot_log)}")
        # Wait for the greetings, not just an accepted connection: the probe makes Dovecot
        # spawn a login process, and one stopped before it finished starting up held the
        # master's shutdown for 5 s more.
        probes = [(self._imap_port, b"* OK", b"a LOGOUT\r\n", None),
                  (self._lmtp_port, b"220", b"QUIT\r\n", None)]
        if self._tls:  # over TLS: proves the certificate loads, not just the listener
            probes.append((self._imaps_port, b"* OK", b"a LOGOUT\r\n", self._client_context()))
        for port, greeting, bye, context in probes:
            if not wait_for_greeting(port, greeting, bye, START_TIMEOUT, context):
                raise SandboxError(f"dovecot does not answer on 127.0.0.1:{port} after {START_TIMEOUT:.0f} s:"
                                   f"\n{self._log_tail(self._dovecot_log)}")

    def stop_dovecot(self) -> None:
        """Stops Dovecot's master by its PID file and waits until all its processes are gone."""
        self._stop_master("dovecot", self._dovecot_pid(), self._dovecot_run / "master.pid", self._dovecot_log)

    def restart_dovecot(self) -> None:
        """Stops Dovecot and starts it again; mail and UIDVALIDITY are kept."""
        self.stop_dovecot()
        self.start_dovecot()

    # -- Postfix ------------------------------------------------------------------------------

    def start_postfix(self) -> None:
        """Starts this sandbox's Postfix instance unless it runs, then waits until SMTP listens."""
        if self._postfix_pid() is not None:
            return
        self._prepare()
        write_postfix_config(self)
        code, output = run_daemonizing([POSTFIX, "-c", str(self._postfix_etc), "start"],
                                        self._root / "postfix", env=postfix_env())
        if code != 0:
            # postfix(1) writes its fatal errors only to a tty (or syslog); `check` run under
            # script(1) gets a pseudo-tty and so shows the real reason.
            check = f"{POSTFIX} -c {shlex.quote(str(self._postfix_etc))} check"
            shown = subprocess.run(["script", "-qec", check, "/dev/null"], capture_output=True, text=True,
                                   env=postfix_env(), timeout=60)
            raise SandboxError(f"postfix did not start (exit {code}):\n{output}"
                               f"postfix check says:\n{shown.stdout}{shown.stderr}"
                               f"{self._log_tail(self._postfix_log)}")
        probes = [(self._smtp_port, None)] + ([(self._submission_port, None)] if self._oauth2 else [])
        if self._tls:
            probes.append((self._smtps_port, self._client_context()))
        for port, context in probes:
            if not wait_for_greeting(port, b"220", b"QUIT\r\n", START_TIMEOUT, context):
                raise SandboxError(f"postfix does not answer on 127.0.0.1:{port} after "
                                   f"{START_TIMEOUT:.0f} s:\n{self._log_tail(self._postfix_log)}")

    def stop_postfix(self) -> None:
        """Stops this sandbox's Postfix master by its PID file and waits until it is gone."""
        self._stop_master("postfix", self._postfix_pid(), self._postfix_queue / "pid" / "master.pid",
                          self._postfix_log)

    # -- mailboxes ----------------------------------------------------------------------------

    def add_users(self, emails: Iterable[str]) -> None:
        """Adds mailboxes (password as for all users); they log in and receive mail on return."""
        before = len(self._users)
        self._merge_users(emails)
        if len(self._users) == before or not self._passwd_file.parent.exists():
            return  # nothing new, or never started: start() writes the files anyway
        self._write_user_files()
        written = time.time()
        # Dovecot re-reads a changed passwd-file by itself, but checks at most once per clock
        # second: a login in the same second as the write might still miss the new user.
        ready_at = int(written) + 1 if self._dovecot_pid() is not None else written
        pid = self._postfix_pid()
        if pid is not None:
            # texthash tables are read once per process. On SIGHUP the master re-reads its
            # config and ends all its daemons within ~0.2 s; once the old ones are gone, every
            # new smtpd and trivial-rewrite reads the new tables.
            old = [p for p in session_members(pid) if p != pid]
            os.kill(pid, signal.SIGHUP)
            deadline = time.monotonic() + START_TIMEOUT
            while any(alive(p) for p in old):
                if time.monotonic() > deadline:
                    raise SandboxError(f"postfix did not reload:\n{self._log_tail(self._postfix_log)}")
                time.sleep(0.02)
        time.sleep(max(0.0, ready_at - time.time()))

    def reset(self) -> None:
        """Empties every folder of every mailbox and deletes all folders but INBOX."""
        # Plain file operations: Dovecot notices changed Maildirs on its next sync (that is what
        # Maildir is for), it works whether Dovecot runs or not, and it takes milliseconds where
        # doveadm would spawn processes per user. UIDVALIDITY and the next UID are kept.
        if not self._mail_dir.exists():
            return
        for home in self._mail_dir.iterdir():
            maildir = home / "Maildir"
            if not maildir.is_dir():
                continue
            for entry in maildir.iterdir():
                if entry.name.startswith(".") and entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)  # a Maildir++ folder like .Processed
            (maildir / "subscriptions").unlink(missing_ok=True)
            for sub in ("new", "cur", "tmp"):
                folder = maildir / sub
                if folder.is_dir():
                    for message in folder.iterdir():
                        message.unlink(missing_ok=True)

    # -- internals ----------------------------------------------------------------------------

    def _merge_users(self, emails: Iterable[str]) -> None:
        for email in ([emails] if isinstance(emails, str) else emails):
            email = email.strip().lower()  # Dovecot looks up %Lu, Postfix compares case-insensitively
            local, _, domain = email.partition("@")
            if not local or not domain or "@" in domain or any(c in email for c in ":/ \t\r\n"):
                raise ValueError(f"not a usable mailbox address: {email!r}")
            if email not in self._users:
                self._users.append(email)

    def _prepare(self) -> None:
        """Creates the folder tree, the mail user and the user tables (both servers need them)."""
        if os.geteuid() != 0:
            raise SandboxError("the mail sandbox must run as root (Postfix starts only as root)")
        uid, gid = ensure_mail_user()
        # The mail user and Postfix's users must reach their files below root: root readable,
        # its parents at least traversable (a mkdtemp() folder is 0700).
        for folder, need in [(self._root, 0o005), *((p, 0o001) for p in self._root.parents)]:
            mode = folder.stat().st_mode
            if mode & need != need:
                folder.chmod(mode | need)
        for folder in (self._dovecot_run, self._root / "dovecot" / "state", self._postfix_etc,
                       self._postfix_queue, self._root / "postfix" / "data"):
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o755)
        self._mail_dir.mkdir(exist_ok=True)
        os.chown(self._mail_dir, uid, gid)  # Dovecot creates each user's home as the mail user
        os.chown(self._root / "postfix" / "data", pwd.getpwnam("postfix").pw_uid, -1)
        self._write_user_files()
        if self._tls or self._oauth2:  # the token server speaks HTTPS with the same certificate
            self._ensure_certificates()

    def _ensure_certificates(self) -> None:
        """Makes the private CA and the server certificate once; later starts reuse them."""
        if all(p.is_file() for p in (self._ca_file, self._cert_file, self._key_file)):
            return
        openssl = shutil.which(OPENSSL)
        if openssl is None:
            raise SandboxError("tls=True needs the openssl command line (Debian package openssl)")
        shutil.rmtree(self._tls_dir, ignore_errors=True)  # a half-made set from a crash
        # Built in a scratch folder and renamed into place: a crash leaves no partial set.
        work = Path(tempfile.mkdtemp(prefix=".tls-", dir=self._root))
        try:
            (work / "openssl.cnf").write_text(_OPENSSL_CONF)
            steps = [
                ["req", "-x509", "-config", "openssl.cnf", "-extensions", "ca", "-newkey", "rsa:2048",
                 "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "3650",
                 "-subj", f"/CN=visitflow sandbox CA {secrets.token_hex(4)}"],
                ["req", "-new", "-config", "openssl.cnf", "-newkey", "rsa:2048", "-nodes",
                 "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"],
                ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-set_serial", f"0x{secrets.token_hex(8)}", "-days", "3650",
                 "-extfile", "openssl.cnf", "-extensions", "server", "-out", "server.pem"],
            ]
            env = {k: v for k, v in os.environ.items() if k != "OPENSSL_CONF"}
            for step in steps:
                result = subprocess.run([openssl, *step], cwd=work, env=env, capture_output=True,
                                        text=True, timeout=60)
                if result.returncode != 0:
                    raise SandboxError(f"openssl {step[0]} failed (exit {result.returncode}):\n"
                                       f"{last_lines(result.stdout + result.stderr)}")
            # Nothing ever needs to sign again: without the CA key no other certificate can be
            # made that a client trusting ca_file would accept.
            for leftover in ("ca.key", "server.csr", "openssl.cnf"):
                (work / leftover).unlink()
            (work / "server.key").chmod(0o600)  # both servers read it as root before dropping privileges
            for cert in ("ca.pem", "server.pem"):
                (work / cert).chmod(0o644)
            work.chmod(0o755)
            work.rename(self._tls_dir)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _client_context(self) -> ssl.SSLContext:
        """Gives a client context that trusts only this sandbox's CA (for the start probes)."""
        return ssl.create_default_context(cafile=str(self._ca_file))

    def _write_user_files(self) -> None:
        # passwd-file: user:password:uid:gid:gecos:home:shell:extra (uid/gid/home from settings).
        write_atomic(self._passwd_file, "".join(f"{u}:{self._password}::::::\n" for u in self._users))
        # Postfix tables (texthash: read at process start, no postmap needed).
        domains = sorted({u.partition("@")[2] for u in self._users})
        etc = self._postfix_etc
        write_atomic(etc / "vmailbox", "".join(f"{u} OK\n" for u in self._users), backdate=True)
        write_atomic(etc / "vdomains", "".join(f"{d} OK\n" for d in domains), backdate=True)
        write_atomic(etc / "hosted_access", "".join(f"{d} reject_unlisted_recipient\n" for d in domains),
                      backdate=True)

    def _dovecot_pid(self) -> int | None:
        return live_pid(self._dovecot_run / "master.pid", "dovecot")

    def _postfix_pid(self) -> int | None:
        return live_pid(self._postfix_queue / "pid" / "master.pid", "master")

    def _stop_master(self, name: str, pid: int | None, pid_file: Path, log: Path) -> None:
        """Stops one master and every process of its session (that is, of this instance only)."""
        if pid is None:
            return
        # Each master called setsid() when it daemonised, so its session id is its PID: that
        # finds this instance's children and never another sandbox's processes.
        members = set(session_members(pid)) | {pid}
        kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        orphans_signalled = False
        while time.monotonic() < deadline:
            members = {p for p in members | set(session_members(pid)) if alive(p)}
            if not members:
                # A master left as a zombie (PID 1 here may never reap it) keeps its PID file,
                # and Dovecot's next start would take it for a running instance.
                pid_file.unlink(missing_ok=True)
                return
            if pid not in members and not orphans_signalled:
                # Normally the master takes its children down (Dovecot's in about 1 s). After
                # a failed IMAP login Dovecot's master was seen to exit at once and leave
                # anvil, log, auth, config, stats and imap-login running for good.
                for p in members:
                    kill(p, signal.SIGTERM)
                orphans_signalled = True
            time.sleep(0.05)
        for p in members:  # last resort, still only processes of this very instance
            kill(p, signal.SIGKILL)
        time.sleep(0.2)
        if any(alive(p) for p in members):
            raise SandboxError(f"{name} (PID {pid}) did not stop:\n{self._log_tail(log)}")

    @staticmethod
    def _log_tail(path: Path) -> str:
        try:
            return f"--- last lines of {path} ---\n{last_lines(path.read_text(errors='replace'))}"
        except OSError:
            return f"(no log at {path})"
