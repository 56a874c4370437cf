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
MAIL_USER = "vmail"
START_TIMEOUT = 15.0
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


def free_port() -> int:
    """Returns a TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it)."""
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
                           f"{_last_lines(result.stdout + result.stderr)}")


class Sandbox:
    """Controls one throwaway Dovecot + Postfix pair living entirely under `root`."""

    def __init__(self, root: Path, *, imap_port: int, lmtp_port: int, smtp_port: int,
                 users: Iterable[str], password: str, tls: bool = False,
                 imaps_port: int | None = None, smtps_port: int | None = None) -> None:
        self._root = Path(root).resolve()
        if len(str(self._root)) > MAX_ROOT_LEN:
            raise ValueError(f"root path too long for unix sockets (max {MAX_ROOT_LEN} chars): {self._root}")
        if ":" in password or "\n" in password or not password:
            raise ValueError("password must be non-empty and hold no ':' or newline (passwd-file format)")
        if tls and not (imaps_port and smtps_port):
            raise ValueError("tls=True needs imaps_port and smtps_port")
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
        """Gives the PEM file of the private CA that signed the servers' certificate (made at the
        first start), or None without tls."""
        return self._ca_file if self._tls else None

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
        """Starts whichever of Dovecot and Postfix is not running and waits until both listen."""
        self.start_dovecot()
        self.start_postfix()

    def stop(self) -> None:
        """Stops both servers by PID and waits until their processes are gone."""
        self.stop_postfix()
        self.stop_dovecot()

    def is_running(self) -> dict[str, bool]:
        """Tells which of the two servers has a live master process."""
        return {"dovecot": self._dovecot_pid() is not None, "postfix": self._postfix_pid() is not None}

    def pids(self) -> dict[str, list[int]]:
        """Lists the live processes of each server: its master first, then the master's children."""
        out = {}
        for name, pid in (("dovecot", self._dovecot_pid()), ("postfix", self._postfix_pid())):
            out[name] = [pid, *(p for p in _session_members(pid) if p != pid)] if pid else []
        return out

    # -- Dovecot ------------------------------------------------------------------------------

    def start_dovecot(self) -> None:
        """Starts Dovecot unless it runs, then waits until IMAP and LMTP accept connections."""
        if self._dovecot_pid() is not None:
            return
        self._prepare()
        self._write_dovecot_config()
        code, output = _run_daemonizing([DOVECOT, "-c", str(self._dovecot_conf)], self._root / "dovecot")
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
            if not _wait_for_greeting(port, greeting, bye, START_TIMEOUT, context):
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
        self._write_postfix_config()
        code, output = _run_daemonizing([POSTFIX, "-c", str(self._postfix_etc), "start"],
                                        self._root / "postfix", env=_postfix_env())
        if code != 0:
            # postfix(1) writes its fatal errors only to a tty (or syslog); `check` run under
            # script(1) gets a pseudo-tty and so shows the real reason.
            check = f"{POSTFIX} -c {shlex.quote(str(self._postfix_etc))} check"
            shown = subprocess.run(["script", "-qec", check, "/dev/null"], capture_output=True, text=True,
                                   env=_postfix_env(), timeout=60)
            raise SandboxError(f"postfix did not start (exit {code}):\n{output}"
                               f"postfix check says:\n{shown.stdout}{shown.stderr}"
                               f"{self._log_tail(self._postfix_log)}")
        probes = [(self._smtp_port, None)]
        if self._tls:
            probes.append((self._smtps_port, self._client_context()))
        for port, context in probes:
            if not _wait_for_greeting(port, b"220", b"QUIT\r\n", START_TIMEOUT, context):
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
            old = [p for p in _session_members(pid) if p != pid]
            os.kill(pid, signal.SIGHUP)
            deadline = time.monotonic() + START_TIMEOUT
            while any(_alive(p) for p in old):
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
        uid, gid = _ensure_mail_user()
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
        if self._tls:
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
                                       f"{_last_lines(result.stdout + result.stderr)}")
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
        _write_atomic(self._passwd_file, "".join(f"{u}:{self._password}::::::\n" for u in self._users))
        # Postfix tables (texthash: read at process start, no postmap needed).
        domains = sorted({u.partition("@")[2] for u in self._users})
        etc = self._postfix_etc
        _write_atomic(etc / "vmailbox", "".join(f"{u} OK\n" for u in self._users), backdate=True)
        _write_atomic(etc / "vdomains", "".join(f"{d} OK\n" for d in domains), backdate=True)
        _write_atomic(etc / "hosted_access", "".join(f"{d} reject_unlisted_recipient\n" for d in domains),
                      backdate=True)

    def _write_dovecot_config(self) -> None:
        uid = pwd.getpwnam(MAIL_USER).pw_uid
        r = self._root
        if self._tls:
            ssl_settings = f"""\
# TLS with the sandbox's own CA: STARTTLS on the IMAP port, implicit TLS on the imaps port.
# Plain login stays allowed on the plain port (loopback only, throwaway passwords).
ssl = yes
ssl_cert = <{self._cert_file}
ssl_key = <{self._key_file}"""
            imaps = f"""\
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self._imaps_port}
    ssl = yes
  }}"""
        else:
            ssl_settings = """\
# Loopback only, throwaway passwords: no TLS, plain login allowed.
ssl = no"""
            imaps = """\
  # The default 993 would clash with every other sandbox (and needs TLS).
  inet_listener imaps {
    port = 0
  }"""
        _write_atomic(self._dovecot_conf, f"""\
# Generated by service/sandbox.py for a throwaway loopback sandbox; rewritten on every start.
instance_name = sandbox-{self._imap_port}
base_dir = {self._dovecot_run}
state_dir = {r}/dovecot/state
log_path = {self._dovecot_log}
protocols = imap lmtp
listen = 127.0.0.1
{ssl_settings}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_uid = {MAIL_USER}
mail_gid = {MAIL_USER}
first_valid_uid = {uid}
mail_home = {self._mail_dir}/%Lu
mail_location = maildir:~/Maildir
# reset() edits the Maildirs directly; without a list index there is no cache to go stale.
mailbox_list_index = no
# Tests try wrong passwords: without these, each failure waits 2 s and anvil then delays
# every later login from 127.0.0.1 by up to 15 s (brute-force protection).
auth_failure_delay = 0
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
# No statistics: nothing here reads them, and it is one process fewer to start and stop.
stats_writer_socket_path =
namespace inbox {{
  inbox = yes
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%Lu {self._passwd_file}
}}
userdb {{
  driver = passwd-file
  args = username_format=%Lu {self._passwd_file}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self._imap_port}
  }}
{imaps}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self._lmtp_port}
  }}
}}
""")

    def _write_postfix_config(self) -> None:
        etc, r = self._postfix_etc, self._root
        refuse = "error:5.7.1 sandbox: outbound mail is disabled"
        tls_settings = tls_services = ""
        if self._tls:
            tls_settings = f"""\
# TLS with the sandbox's own CA: STARTTLS offered (not required) on the SMTP port; the
# smtps service in master.cf speaks TLS from the first byte.
smtpd_tls_cert_file = {self._cert_file}
smtpd_tls_key_file = {self._key_file}
smtpd_tls_security_level = may
"""
            tls_services = f"""\
127.0.0.1:{self._smtps_port} inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
tlsmgr    unix  - - n 1000? 1 tlsmgr
"""
        _write_atomic(etc / "main.cf", f"""\
# Generated by service/sandbox.py for a throwaway loopback sandbox; rewritten on every start.
compatibility_level = 3.6
# Queue and data outside the config dir, else Postfix warns about ownership.
queue_directory = {self._postfix_queue}
data_directory = {r}/postfix/data
# Postfix refuses a maillog_file outside maillog_file_prefixes (fatal error at start).
maillog_file = {self._postfix_log}
maillog_file_prefixes = {r}
syslog_name = postfix-sandbox
myhostname = sandbox.localhost
mydomain = localhost
myorigin = $myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
# The built-in unlisted-recipient check would also refuse every outside address at RCPT
# (they resolve to the error transport), where a real relay accepts and later bounces.
# So check unknown mailboxes only for hosted domains (the map answers
# reject_unlisted_recipient for each of them).
smtpd_reject_unlisted_recipient = no
smtpd_recipient_restrictions = check_recipient_access texthash:{etc}/hosted_access
# No DNS on this machine: never wait for a reverse lookup of 127.0.0.1.
smtpd_peername_lookup = no
smtputf8_enable = no
biff = no
alias_maps =
alias_database =
# Hosted domains go to Dovecot over LMTP; texthash needs no postmap.
virtual_mailbox_domains = texthash:{etc}/vdomains
virtual_mailbox_maps = texthash:{etc}/vmailbox
virtual_transport = lmtp:inet:127.0.0.1:{self._lmtp_port}
# Everything else goes to the error transport and bounces: nothing may leave the machine.
relayhost =
relay_transport = {refuse}
default_transport = {refuse}
local_transport = {refuse}
# Mail deferred while Dovecot is down is retried within about a second (default 300 s).
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
lmtp_connect_timeout = 5s
{tls_settings}""", backdate=True)
        # No smtp/relay client services at all, and no port 25: only our loopback smtpd.
        _write_atomic(etc / "master.cf", f"""\
# Generated by service/sandbox.py; chroot off everywhere (no jail set up under the root).
127.0.0.1:{self._smtp_port} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
lmtp      unix  - - n - - lmtp
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
{tls_services}""", backdate=True)

    def _dovecot_pid(self) -> int | None:
        return _live_pid(self._dovecot_run / "master.pid", "dovecot")

    def _postfix_pid(self) -> int | None:
        return _live_pid(self._postfix_queue / "pid" / "master.pid", "master")

    def _stop_master(self, name: str, pid: int | None, pid_file: Path, log: Path) -> None:
        """Stops one master and every process of its session (that is, of this instance only)."""
        if pid is None:
            return
        # Each master called setsid() when it daemonised, so its session id is its PID: that
        # finds this instance's children and never another sandbox's processes.
        members = set(_session_members(pid)) | {pid}
        _kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        orphans_signalled = False
        while time.monotonic() < deadline:
            members = {p for p in members | set(_session_members(pid)) if _alive(p)}
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
                    _kill(p, signal.SIGTERM)
                orphans_signalled = True
            time.sleep(0.05)
        for p in members:  # last resort, still only processes of this very instance
            _kill(p, signal.SIGKILL)
        time.sleep(0.2)
        if any(_alive(p) for p in members):
            raise SandboxError(f"{name} (PID {pid}) did not stop:\n{self._log_tail(log)}")

    @staticmethod
    def _log_tail(path: Path) -> str:
        try:
            return f"--- last lines of {path} ---\n{_last_lines(path.read_text(errors='replace'))}"
        except OSError:
            return f"(no log at {path})"


# -- helpers ----------------------------------------------------------------------------------

def _ensure_mail_user() -> tuple[int, int]:
    """Creates the unprivileged system user that owns all mailboxes, if it is missing."""
    try:
        entry = pwd.getpwnam(MAIL_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir",
                        "/nonexistent", "--shell", "/usr/sbin/nologin", MAIL_USER], capture_output=True)
        entry = pwd.getpwnam(MAIL_USER)  # also covers a parallel sandbox winning the race
    return entry.pw_uid, entry.pw_gid


def _run_daemonizing(cmd: list[str], folder: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Runs a command that leaves a daemon behind; returns its exit code and output."""
    # Not capture_output: the daemon inherits the pipe and keeps it open, so reading it to EOF
    # would block for as long as the daemon lives. A file has no such end to wait for.
    out = folder / "start.out"
    with open(out, "w+") as sink:
        code = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                              env=env, timeout=START_TIMEOUT * 4).returncode
        sink.seek(0)
        return code, sink.read()


def _postfix_env() -> dict[str, str]:
    # A MAIL_CONFIG left in the environment would override -c for postfix-script's helpers.
    env = {k: v for k, v in os.environ.items() if k != "MAIL_CONFIG"}
    env["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin"
    return env


def _write_atomic(path: Path, text: str, *, backdate: bool = False) -> None:
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


def _last_lines(text: str, count: int = 30) -> str:
    return "\n".join(text.splitlines()[-count:]) + "\n"


def _proc_stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm may hold spaces or parentheses: split after the last ')'.
    head, _, rest = raw.rpartition(")")
    return [head.partition("(")[2], *rest.split()]


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    stat = _proc_stat(pid)
    # Daemonised masters are reparented to PID 1, which may never reap them: a zombie is gone.
    return stat is not None and stat[1] != "Z"


def _live_pid(pid_file: Path, comm: str) -> int | None:
    """Reads a master PID file and returns the PID only if that process is still the master."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    stat = _proc_stat(pid)
    # A stale PID file may name a reused PID: require the expected program name too.
    if stat is None or stat[1] == "Z" or stat[0] != comm:
        return None
    return pid


def _session_members(sid: int) -> list[int]:
    """Lists live processes in the session `sid` (both masters call setsid when they daemonise)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _proc_stat(int(entry.name))
            if stat is not None and stat[1] != "Z" and stat[4] == str(sid):
                members.append(int(entry.name))
    return members


def _wait_for_greeting(port: int, greeting: bytes, bye: bytes, timeout: float,
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
