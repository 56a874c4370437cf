"""Gift-request latency benchmark (spec §7, issue 4). Prints figures; never asserts a timing.

    .venv/bin/python bench/gift_latency.py [--samples 30] [--sparse-gap 20] [--quick] [--keep]

Starts a private Dovecot + Postfix sandbox on free loopback ports in a temporary folder and
`visitflow run` (the daemon) against it, then measures how long a gift request submitted by
SMTP takes to reach the approver's mailbox:

- t0: just before the SMTP `sendmail` call that submits the request (li.lei → visits@,
  ¥1,200: below the leadership threshold, so it goes to the unit head wang.fang only);
- t1: when the routed mail's new UID is first seen in wang.fang's INBOX. A dedicated
  logged-in connection (no mailbox selected) polls `STATUS INBOX (UIDNEXT)` every
  `--poll-interval` (5 ms): not IDLE, whose fixed 500 ms notify delay would count twice.

dense:  `--samples` requests, each sent `--dense-gap` (0.5 s) after the previous one arrived;
sparse: `--samples` requests, each sent `--sparse-gap` (20 s) after the previous one arrived.
One warm-up request before them is reported on its own (the first gift request after a start
imports the Word-form code).

floor:  the daemon is stopped, then the same submission (to the service mailbox) wakes an IMAP
IDLE on the service mailbox (imap-tools `idle.start()` / `idle.poll()` until an EXISTS):
`--samples` samples `--dense-gap` apart. Also `delivery`: the same submission seen by the
STATUS poller (no IDLE) – Postfix → LMTP → Maildir alone.

Where the time goes: while the daemon runs, a passive read-only IDLE on the service mailbox
notes when Dovecot announces each request (`--no-observe` leaves it out); with the daemon
log's timestamps (request processed, routed mail sent) that splits each sample into delivery
+ IDLE notify, the daemon's own work, its SMTP send, and Postfix → LMTP to the approver.

Targets: p95 ≤ 1.2 × the floor's p95 (issue 4) and p95 ≤ 1 s (spec §7). Exit status 1 only
on a correctness failure (a request not routed within `--timeout`, a duplicate or missing
approver mail, the daemon dying), never on a timing.

The sandbox is stopped by PID and the temporary folder removed at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import secrets
import select
import signal
import smtplib
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path

from common import (PASSWORD_ENV, REPO, SERVICE_ADDRESS, code_version, log_problems, login,  # noqa: I001
                    proc_status, run_as_root_in_tempdir, say, write_config)

from imap_tools import AND  # noqa: E402
REQUESTER = "li.lei@visitflow.test"
APPROVER = "wang.fang@visitflow.test"  # head of li.lei's unit (east) in config.yaml
SUBJECT = "礼品申请"
BODY = "客户名称：华联超市\n礼品：月饼礼盒\n数量：10 盒\n预算金额：¥1,200\n事由：客户维护\n"
TAG_RE = re.compile(r"^\[VF-G-(\d+)\]")
TARGET_FLOOR_RATIO = 1.2
TARGET_P95_S = 1.0

# -- helpers --------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: the smallest value with at least q of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def gift_request(label: str) -> tuple[str, bytes]:
    """Return (Message-ID without brackets, the bytes) of one gift request from li.lei."""
    m = EmailMessage()
    m["From"] = f"李雷 <{REQUESTER}>"
    m["To"] = SERVICE_ADDRESS
    m["Subject"] = SUBJECT
    m["Date"] = format_datetime(datetime.now().astimezone())
    # Short enough not to be folded: the daemon's log and the Maildir search match it whole.
    m["Message-ID"] = f"<gift.{label}.{secrets.token_hex(6)}@client.visitflow.test>"
    m.set_content(BODY)
    return m["Message-ID"].strip("<>"), m.as_bytes(policy=SMTP)


class DaemonDied(Exception):
    pass


class NotArrived(Exception):
    pass


@dataclass
class Sample:
    t0: float  # perf_counter just before sendmail
    wall0: float  # time.time() at the same moment, to compare with the daemon's log
    send_s: float  # how long sendmail took
    latency_s: float = float("nan")
    request_id: str = ""  # Message-ID of the submitted mail
    routed_id: str = ""  # Message-ID of the routed mail
    tag: str = ""  # the request number from [VF-G-n]
    uids: int = 0  # new UIDs seen at t1 (more than 1: something else arrived too)
    notified_s: float | None = None  # t0 → EXISTS at the passive IDLE on the service mailbox
    phases: dict[str, float] = field(default_factory=dict)  # from the daemon's log


def submit(box, raw: bytes, rcpt: str = SERVICE_ADDRESS) -> tuple[float, float, float]:
    """Send raw over a fresh SMTP connection; return (t0 perf, t0 wall, sendmail seconds).

    Connecting and EHLO happen before t0 (a client's set-up, not the service's latency); QUIT
    after sendmail returned, while the mail is already on its way.
    """
    client = smtplib.SMTP("127.0.0.1", box.smtp_port, timeout=30)
    try:
        client.ehlo()
        wall0, t0 = time.time(), time.perf_counter()
        client.sendmail(REQUESTER, [rcpt], raw)
        send_s = time.perf_counter() - t0
    finally:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            client.quit()
    return t0, wall0, send_s


class IdleObserver:
    """A passive IMAP IDLE on the service mailbox (read-only) while the daemon runs: it notes
    when Dovecot tells IDLE sessions about a new mail, which splits the daemon's time into the
    IDLE wake-up and its own work. Read between STATUS polls (a select() instead of the sleep),
    so it needs no thread."""

    def __init__(self, box) -> None:
        self.mb = login(box, SERVICE_ADDRESS)
        self.mb.folder.set("INBOX", readonly=True)
        self.exists: list[float] = []  # perf_counter of each EXISTS seen
        self.mb.idle.start()

    def restart(self) -> None:
        """Re-issue IDLE (between samples: RFC 2177 wants it within 29 minutes)."""
        self.check(0)
        self.mb.idle.stop()
        self.mb.idle.start()

    def check(self, timeout: float) -> None:
        """Wait up to timeout for the server to say something; note the time of any EXISTS."""
        ready, _, _ = select.select([self.mb.client.sock], [], [], timeout)
        if ready:
            seen = time.perf_counter()
            if any(b" EXISTS" in line for line in self.mb.idle.poll(timeout=0)):
                self.exists.append(seen)

    def first_after(self, t0: float) -> float | None:
        return next((t for t in self.exists if t > t0), None)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.mb.idle.stop()
        with contextlib.suppress(Exception):
            self.mb.logout()


class Watcher:
    """Sees new mail in one user's INBOX by polling STATUS UIDNEXT (no mailbox selected: each
    STATUS opens and syncs the mailbox afresh); reads the new mails' headers on a second link."""

    def __init__(self, box, user: str, interval: float) -> None:
        self.interval = interval
        self.poller = login(box, user)
        self.reader = login(box, user)
        self.reader.folder.set("INBOX", readonly=True)
        self.uidnext = self.status()
        self.polls = 0
        self.observer: IdleObserver | None = None

    def status(self) -> int:
        typ, data = self.poller.client.status("INBOX", "(UIDNEXT)")
        if typ != "OK":
            raise RuntimeError(f"STATUS failed: {data!r}")
        return int(re.search(rb"UIDNEXT (\d+)", data[0])[1])

    def wait_new(self, timeout: float, alive=lambda: True) -> tuple[float, list[int]]:
        """Poll until UIDNEXT grows; return (perf_counter when first seen, the new UIDs)."""
        deadline = time.perf_counter() + timeout
        checked = time.perf_counter()
        while True:
            uidnext = self.status()
            seen = time.perf_counter()
            self.polls += 1
            if uidnext > self.uidnext:
                uids = list(range(self.uidnext, uidnext))
                self.uidnext = uidnext
                return seen, uids
            if seen > deadline:
                raise NotArrived(f"nothing new in the INBOX within {timeout:.0f} s")
            if seen - checked > 0.5:
                checked = seen
                if not alive():
                    raise DaemonDied()
            if self.observer is not None:
                self.observer.check(self.interval)
            else:
                time.sleep(self.interval)

    def headers(self, uids: Sequence[int]) -> list[tuple[int, str, str]]:
        """Return (uid, subject, Message-ID) of uids, nothing marked seen."""
        self.reader.client.noop()  # let the read-only session see them
        out = []
        for msg in self.reader.fetch(AND(uid=[str(u) for u in uids]), mark_seen=False, headers_only=True):
            mid = (msg.headers.get("message-id") or ("",))[0].strip().strip("<>")
            out.append((int(msg.uid), msg.subject, mid))
        return out

    def all_headers(self) -> list[tuple[int, str, str]]:
        self.reader.client.noop()
        return [(int(m.uid), m.subject, (m.headers.get("message-id") or ("",))[0].strip().strip("<>"))
                for m in self.reader.fetch(mark_seen=False, headers_only=True, bulk=200)]

    def close(self) -> None:
        for mb in (self.poller, self.reader):
            with contextlib.suppress(Exception):
                mb.logout()


# -- the daemon's log -------------------------------------------------------------------------

_STAMP = r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) "
PROCESSED_RE = re.compile(_STAMP + r"INFO \S+: message #\d+ <([^>]*)> from \S+: (\S+) by rule \S+ -> (\S+) \((.*)\)$",
                          re.M)
SENT_RE = re.compile(_STAMP + r"INFO \S+: outbox \d+: sent <([^>]*)> to (.+)$", re.M)
MOVED_RE = re.compile(_STAMP + r"INFO \S+: poll: (\d+) fetched", re.M)


def _stamp(text: str) -> float:
    # logging's asctime is local time with milliseconds; the daemon runs on this machine.
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def read_phases(log_text: str, samples: Sequence[Sample]) -> None:
    """Fill each sample's phases from the daemon log: when the request was processed (logged
    after its commit), when the routed mail was accepted by Postfix."""
    processed = {m[2]: (_stamp(m[1]), m[3], m[4]) for m in PROCESSED_RE.finditer(log_text)}
    sent = {m[2]: _stamp(m[1]) for m in SENT_RE.finditer(log_text)}
    for s in samples:
        p = processed.get(s.request_id)
        t_sent = sent.get(s.routed_id)
        if p is None or t_sent is None:
            continue
        t1_wall = s.wall0 + s.latency_s
        s.phases = {"processed": p[0] - s.wall0, "sent": t_sent - p[0], "arrived": t1_wall - t_sent}
        if s.notified_s is not None:
            s.phases["notified"] = s.notified_s
            s.phases["handled"] = p[0] - s.wall0 - s.notified_s


# -- measurements ------------------------------------------------------------------------------

@dataclass
class Lost:
    sample: Sample
    label: str
    late_s: float | None  # when it arrived after all (None: not within --late-wait)
    where: str  # where the request was at the timeout (from the Maildirs, not over IMAP)
    log_lines: list[str]
    notes: list[str]  # the passive IDLE's view, the daemon's sockets and threads at the timeout


def daemon_state(pid: int, imap_port: int) -> list[str]:
    """Return what the daemon is doing: each thread's kernel wait channel and its IMAP socket
    queues (Recv-Q > 0: the kernel holds data it has not read; 0 while the server has sent an
    EXISTS: the data sits unread in the client's own buffer)."""
    notes = []
    for task in sorted(Path(f"/proc/{pid}/task").glob("*")):
        with contextlib.suppress(OSError):
            notes.append(f"thread {task.name} {(task / 'comm').read_text().strip()}: "
                         f"wchan {(task / 'wchan').read_text().strip() or '-'}")
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["ss", "-tnp", f"dport = :{imap_port}"], capture_output=True, text=True,
                             timeout=10).stdout
        notes += [f"socket: {line}" for line in out.splitlines()[1:] if f"pid={pid}," in line]
    return notes


def find_in_maildirs(box, message_id: str) -> str:
    """Return the Maildir folders holding the mail whose own Message-ID is message_id (from the disk).

    Reading the Maildir files does not touch Dovecot, so it cannot wake the daemon's IDLE
    (another IMAP session's STATUS could sync the mailbox and do just that).
    """
    own = re.compile(rb"^message-id:\s*<" + re.escape(message_id.encode()) + rb">", re.I | re.M)
    found = []
    for path in sorted((box.root / "mail").glob("*/Maildir/**/*")):
        if path.is_file() and path.parent.name in ("new", "cur"):
            with contextlib.suppress(OSError):
                if own.search(path.read_bytes()[:8192]):
                    found.append("/".join(path.relative_to(box.root / "mail").parts[:-1]))
    return ", ".join(found) or "nowhere"


def log_window(log_path: Path, since_wall: float) -> list[str]:
    """Return the daemon log lines stamped at or after since_wall (and any unstamped ones after)."""
    lines, keep = [], False
    for line in log_path.read_text(errors="replace").splitlines():
        m = re.match(_STAMP, line)
        if m:
            keep = _stamp(m[1]) >= since_wall - 0.001
        if keep:
            lines.append(line[:300])
    return lines


def measure_routed(run: "Run", label: str, count: int, gap: float, out: list[Sample]) -> None:
    """Send count gift requests, each gap seconds after the previous one arrived; time each.

    Appends each timed sample to out as it arrives. A request not routed within --timeout is a
    correctness failure: it is diagnosed, waited for up to --late-wait more, and the run goes on.
    """
    args, watcher = run.args, run.watcher
    for i in range(count):
        if watcher.observer is not None:
            watcher.observer.restart()
        time.sleep(gap)
        if not run.alive():
            raise DaemonDied()
        request_id, raw = gift_request(f"{label}{i}")
        t0, wall0, send_s = submit(run.box, raw)
        s = Sample(t0, wall0, send_s, request_id=request_id)
        run.sent.append(s)
        try:
            seen, routed, uids = _wait_routed(watcher, t0, args.timeout, run.alive)
        except NotArrived:
            where = find_in_maildirs(run.box, request_id)
            notes = daemon_state(run.proc.pid, run.box.imap_port)
            if watcher.observer is not None:
                notified = watcher.observer.first_after(t0)
                notes.insert(0, "the passive IDLE on the service mailbox got " + (
                    f"an EXISTS {(notified - t0) * 1000:.0f} ms after the send" if notified else "no EXISTS"))
            for note in notes:
                say(f"    {note}")
            say(f"  {label} {i}: NOT routed within {args.timeout:.0f} s (sent at "
                f"{datetime.fromtimestamp(wall0):%H:%M:%S.%f}); the request is in: {where}; "
                f"waiting up to {args.late_wait:.0f} s more")
            late = None
            try:
                seen, routed, uids = _wait_routed(watcher, t0, args.timeout + args.late_wait, run.alive)
                late = seen - t0
                s.tag = TAG_RE.match(routed[0][1])[1]
                say(f"  {label} {i}: routed after all, {late:.1f} s after it was sent")
            except NotArrived:
                say(f"  {label} {i}: still not routed {args.timeout + args.late_wait:.0f} s after it was sent")
            run.lost.append(Lost(s, f"{label} {i}", late, where, log_window(run.log_path, wall0 - 1), notes))
            continue
        s.latency_s = seen - t0
        s.uids = len(uids)
        if watcher.observer is not None:
            notified = watcher.observer.first_after(t0)
            s.notified_s = None if notified is None else notified - t0
        s.routed_id = routed[0][2]
        s.tag = TAG_RE.match(routed[0][1])[1]
        if len(routed) > 1:
            say(f"  ({label} {i}: {len(routed)} routed mails arrived at once: {[h[1] for h in routed]})")
        out.append(s)


def _wait_routed(watcher: Watcher, t0: float, timeout: float, alive):
    """Wait until a routed mail ([VF-G-…]) arrives; return (when seen, routed headers, new UIDs)."""
    while True:  # skip mail that is not a routed request (none expected)
        seen, uids = watcher.wait_new(max(0.1, timeout - (time.perf_counter() - t0)), alive)
        heads = watcher.headers(uids)
        routed = [h for h in heads if TAG_RE.match(h[1] or "")]
        for h in heads:
            if not TAG_RE.match(h[1] or ""):
                say(f"  (unexpected mail in {APPROVER}'s INBOX: UID {h[0]} {h[1]!r})")
        if routed:
            return seen, routed, uids


def measure_floor_idle(box, count: int, gap: float, timeout: float) -> list[float]:
    """SMTP submission to the service mailbox → EXISTS in an imap-tools IDLE on it (no daemon)."""
    out = []
    with login(box, SERVICE_ADDRESS) as mb:
        mb.folder.set("INBOX")
        for i in range(count):
            _, raw = gift_request(f"floor{i}")
            mb.idle.start()
            try:
                time.sleep(gap)
                t0, _, _ = submit(box, raw)
                while True:
                    left = timeout - (time.perf_counter() - t0)
                    if left <= 0:
                        raise NotArrived(f"floor sample {i}: no EXISTS within {timeout:.0f} s")
                    responses = mb.idle.poll(timeout=left)
                    if any(b" EXISTS" in r for r in responses):
                        out.append(time.perf_counter() - t0)
                        break
            finally:
                mb.idle.stop()
    return out


def measure_delivery(box, watcher: Watcher, count: int, gap: float, timeout: float) -> list[float]:
    """SMTP submission to the service mailbox → its UID seen by the STATUS poller (no IDLE)."""
    out = []
    for i in range(count):
        time.sleep(gap)
        _, raw = gift_request(f"delivery{i}")
        t0, _, _ = submit(box, raw)
        seen, _ = watcher.wait_new(timeout)
        out.append(seen - t0)
    return out


# -- reporting ---------------------------------------------------------------------------------

def stats_line(name: str, values: Sequence[float], floor_p95: float | None) -> str:
    if not values:
        return f"  {name:<26} (no samples)"
    p50, p95, top = percentile(values, 0.5), percentile(values, 0.95), max(values)
    line = f"  {name:<26} n={len(values):<3} p50 {p50 * 1000:7.1f}  p95 {p95 * 1000:7.1f}  max {top * 1000:7.1f} ms"
    if floor_p95:
        ratio = p95 / floor_p95
        line += (f"   p95/floor p95 {ratio:4.2f} (target <= {TARGET_FLOOR_RATIO}: "
                 f"{'met' if ratio <= TARGET_FLOOR_RATIO else 'NOT met'}; <= {TARGET_P95_S:.0f} s: "
                 f"{'met' if p95 <= TARGET_P95_S else 'NOT met'})")
    return line


def phase_lines(name: str, samples: Sequence[Sample]) -> list[str]:
    with_phases = [s for s in samples if s.phases]
    if not with_phases:
        return [f"  {name}: no phases found in the daemon log"]
    lines = [f"  {name} ({len(with_phases)} of {len(samples)} samples matched in the log), ms:"]
    for key, what in (("processed", "t0 → request processed (all of the below up to the commit)"),
                      ("notified", "  t0 → IDLE EXISTS at a passive observer (SMTP, Postfix→LMTP, Dovecot notify)"),
                      ("handled", "  EXISTS → processed (daemon: DONE, SEARCH, FETCH, record, handle, commit)"),
                      ("sent", "processed → routed mail accepted by Postfix (sender thread, SMTP)"),
                      ("arrived", "accepted → seen in approver INBOX (Postfix→LMTP, poll)")):
        vals = [s.phases[key] * 1000 for s in with_phases if key in s.phases]
        if not vals:
            continue
        lines.append(f"    {what:<82} p50 {percentile(vals, .5):6.0f}  p95 {percentile(vals, .95):6.0f}  "
                     f"max {max(vals):6.0f}")
    return lines


def postfix_delays(maillog: Path, rcpt: str) -> str:
    """Summarise Postfix's own delay= figures for deliveries to rcpt (resolution 10 ms)."""
    try:
        text = maillog.read_text(errors="replace")
    except OSError:
        return "(no maillog)"
    delays = [float(m[1]) for m in re.finditer(rf"to=<{re.escape(rcpt)}>.*?, delay=([\d.]+),.*status=sent", text)]
    if not delays:
        return "(no deliveries found)"
    return (f"{len(delays)} deliveries, delay= p50 {percentile(delays, .5) * 1000:.0f} ms, "
            f"p95 {percentile(delays, .95) * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms")


# -- the run -----------------------------------------------------------------------------------

@dataclass
class Run:
    args: argparse.Namespace
    box: object
    log_path: Path
    watcher: Watcher | None = None
    proc: subprocess.Popen | None = None
    sent: list[Sample] = field(default_factory=list)  # every request submitted, in order
    lost: list[Lost] = field(default_factory=list)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def bench(args: argparse.Namespace, tmp: Path) -> int:
    from service.config import load_config
    from service.sandbox import Sandbox, ensure_installed, free_port

    ensure_installed()
    data_dir = tmp / "data"
    data_dir.mkdir()
    (tmp / "sbx").mkdir()
    cfg = load_config(REPO / "config.yaml")
    users = [cfg.service_address, *cfg.organisation.people()]
    box = Sandbox(tmp / "sbx", imap_port=free_port(), lmtp_port=free_port(), smtp_port=free_port(),
                  users=users, password=secrets.token_urlsafe(12))
    run = Run(args, box, tmp / "daemon.log")
    version = code_version()
    failures: list[str] = []
    warm: list[Sample] = []
    dense: list[Sample] = []
    sparse: list[Sample] = []
    floor: list[float] = []
    delivery: list[float] = []
    rss = hwm = -1
    daemon_code = None
    log_text = ""
    measured = False  # the daemon part ran to its end (else no floor: an exception is on its way)
    started = time.perf_counter()
    box.start()
    try:
        say(f"sandbox: IMAP 127.0.0.1:{box.imap_port}, SMTP 127.0.0.1:{box.smtp_port}, {len(users)} users, "
            f"in {tmp} (started in {time.perf_counter() - started:.1f} s); load average {load()}; code {version}")
        config = tmp / "config.yaml"
        write_config(config, data_dir, box)
        env = {**os.environ, PASSWORD_ENV: box.password}
        env.pop("VISITFLOW_CONFIG", None)
        run.watcher = Watcher(box, APPROVER, args.poll_interval)

        with open(run.log_path, "wb") as out:
            run.proc = subprocess.Popen([sys.executable, "-m", "service", "--config", str(config), "run"],
                                        cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while "IMAP connected" not in run.log_path.read_text(errors="replace"):
            if not run.alive() or time.monotonic() > deadline:
                raise DaemonDied()
            time.sleep(0.05)
        time.sleep(2)  # let it reach IDLE
        if args.observe:
            run.watcher.observer = IdleObserver(box)
        say(f"daemon PID {run.proc.pid} connected; VmRSS {proc_status(run.proc.pid, 'VmRSS') / 1024:.1f} MB")

        try:
            say("warm-up: 1 request (first gift request after the start)")
            measure_routed(run, "warm", 1, args.dense_gap, warm)
            if warm:
                say(f"  {warm[0].latency_s * 1000:.1f} ms")
            say(f"dense: {args.samples} requests, each {args.dense_gap} s after the previous one arrived")
            measure_routed(run, "dense", args.samples, args.dense_gap, dense)
            say(stats_line("dense", [s.latency_s for s in dense], None))
            say(f"sparse: {args.samples} requests, each {args.sparse_gap} s after the previous one arrived "
                f"(about {args.samples * (args.sparse_gap + 0.6) / 60:.0f} min)")
            measure_routed(run, "sparse", args.samples, args.sparse_gap, sparse)
            say(stats_line("sparse", [s.latency_s for s in sparse], None))
        except DaemonDied:
            failures.append(f"the daemon died (exit status {run.proc.returncode})")

        # Exactly once: every submitted request routed once, nothing else, nothing twice.
        time.sleep(args.grace)
        heads = run.watcher.all_headers()
        tags = Counter(TAG_RE.match(h[1])[1] for h in heads if TAG_RE.match(h[1] or ""))
        others = [h for h in heads if not TAG_RE.match(h[1] or "")]
        routed_ids = Counter(h[2] for h in heads if TAG_RE.match(h[1] or ""))
        dup_tags = {t: c for t, c in tags.items() if c > 1}
        dup_ids = {m: c for m, c in routed_ids.items() if c > 1}
        say(f"\nexactly once: {len(run.sent)} requests submitted, {sum(tags.values())} routed mails in "
            f"{APPROVER}'s INBOX for {len(tags)} distinct requests; duplicates by tag {dup_tags or 'none'}, "
            f"by Message-ID {dup_ids or 'none'}; other mail {len(others)}")
        if dup_tags or dup_ids:
            failures.append(f"duplicate approver mail: {dup_tags or dup_ids}")
        if sum(tags.values()) != len(run.sent):
            failures.append(f"{len(run.sent)} requests submitted but {sum(tags.values())} routed mails arrived")
        with contextlib.suppress(Exception):
            with contextlib.closing(sqlite3.connect(data_dir / "visitflow.db")) as db:
                states = dict(db.execute("SELECT state || ':' || COALESCE(kind, '-'), COUNT(*) FROM messages "
                                         "GROUP BY 1"))
                outbox = dict(db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state"))
            say(f"daemon database: messages {states}; outbox {outbox}")

        if run.alive():
            rss, hwm = proc_status(run.proc.pid, "VmRSS"), proc_status(run.proc.pid, "VmHWM")
        elif not any("daemon died" in f for f in failures):
            failures.append(f"the daemon died (exit status {run.proc.returncode})")
        measured = True
    finally:
        if run.proc is not None:
            if run.proc.poll() is None:
                run.proc.send_signal(signal.SIGTERM)
                try:
                    run.proc.wait(30)
                except subprocess.TimeoutExpired:
                    say("the daemon ignored SIGTERM for 30 s: killed")
                    run.proc.kill()
                    run.proc.wait(10)
            daemon_code = run.proc.returncode
        if run.watcher is not None and run.watcher.observer is not None:
            run.watcher.observer.close()
            run.watcher.observer = None
        try:
            if measured:
                # The floor: same stack, daemon stopped.
                say(f"\nfloor: daemon stopped (exit status {daemon_code}); {args.samples} submissions to "
                    f"{SERVICE_ADDRESS}, {args.dense_gap} s apart, seen by an imap-tools IDLE")
                try:
                    floor = measure_floor_idle(box, args.samples, args.dense_gap, args.timeout)
                    say(stats_line("floor (IDLE wake-up)", floor, None))
                    service_watch = Watcher(box, SERVICE_ADDRESS, args.poll_interval)
                    try:
                        delivery = measure_delivery(box, service_watch, args.samples, args.dense_gap, args.timeout)
                    finally:
                        service_watch.close()
                    say(stats_line("delivery (STATUS poll)", delivery, None))
                except NotArrived as exc:
                    failures.append(f"floor: {exc}")
        finally:
            if run.watcher is not None:
                run.watcher.close()
            if run.log_path.exists():
                log_text = run.log_path.read_text(errors="replace")
            maillog = box.root / "postfix" / "maillog"
            postfix_in = postfix_delays(maillog, SERVICE_ADDRESS)
            postfix_out = postfix_delays(maillog, APPROVER)
            started = time.perf_counter()
            box.stop()
            say(f"sandbox stopped in {time.perf_counter() - started:.1f} s")

    read_phases(log_text, warm + dense + sparse)
    write_samples(tmp / "samples.tsv", run.sent)
    warnings, errors, shown = log_problems(log_text)
    say(f"daemon log: {warnings} warning(s), {errors} error(s); exit status after SIGTERM {daemon_code}")
    for line in shown:
        say(f"    | {line}")
    if daemon_code not in (0, None):
        failures.append(f"the daemon exited with status {daemon_code}")
        for line in log_text.splitlines()[-15:]:
            say(f"    | {line[:300]}")
    for lost in run.lost:
        s = lost.sample
        late = f"routed {lost.late_s:.1f} s after it was sent" if lost.late_s is not None else \
            f"not routed within {args.timeout + args.late_wait:.0f} s"
        failures.append(f"{lost.label}: request <{s.request_id}> sent at {datetime.fromtimestamp(s.wall0):%H:%M:%S.%f} "
                        f"not routed within {args.timeout:.0f} s ({late}); at the timeout it lay in: {lost.where}")
        for note in lost.notes:
            say(f"  {lost.label} at the timeout: {note}")
        say(f"\ndaemon log from 1 s before the lost request {lost.label} was sent ({len(lost.log_lines)} lines):")
        for line in lost.log_lines[:40]:
            say(f"    | {line}")

    floor_p95 = percentile(floor, 0.95) if floor else None
    say("\n=== summary " + "=" * 70)
    say(f"gift request by SMTP → routed mail in {APPROVER}'s INBOX (poll every {args.poll_interval * 1000:.0f} ms); "
        f"load average {load()}")
    now_version = code_version()
    say(f"  code {version}" + (f" at the start, {now_version} at the end: the tree changed during the run"
                               if now_version != version else ""))
    if warm:
        say(f"  {'warm-up (1st request)':<26} {warm[0].latency_s * 1000:.1f} ms (not in the figures below)")
    say(stats_line("dense (gap %gs)" % args.dense_gap, [s.latency_s for s in dense], floor_p95))
    say(stats_line("sparse (gap %gs)" % args.sparse_gap, [s.latency_s for s in sparse], floor_p95))
    say(stats_line("floor (IDLE, no daemon)", floor, None))
    say(stats_line("delivery (poll, no IDLE)", delivery, None))
    if run.lost:
        say(f"  lost (not in the figures above): {len(run.lost)} request(s): "
            + "; ".join(f"{lost.label} " + (f"after {lost.late_s:.1f} s" if lost.late_s is not None else "never")
                        for lost in run.lost))
    if dense or sparse:
        sends = [s.send_s for s in dense + sparse]
        say(f"  sendmail call itself: p50 {percentile(sends, .5) * 1000:.1f} ms, max {max(sends) * 1000:.1f} ms; "
            f"new UIDs per arrival: {dict(Counter(s.uids for s in dense + sparse))}")
    say("where the time goes (daemon log timestamps, 1 ms resolution):")
    for name, group in (("dense", dense), ("sparse", sparse)):
        if group:
            for line in phase_lines(name, group):
                say(line)
            done = [s.phases["processed"] for s in group if s.phases]
            if done and floor and not any("handled" in s.phases for s in group):
                say(f"    so the daemon's work between the IDLE wake-up and the commit is about "
                    f"{(statistics.median(done) - statistics.median(floor)) * 1000:.0f} ms "
                    f"(median processed − median floor)")
    say(f"  Postfix delay= to {SERVICE_ADDRESS}: {postfix_in}")
    say(f"  Postfix delay= to {APPROVER}: {postfix_out}")
    if rss >= 0:
        say(f"  daemon VmRSS at the end {rss / 1024:.1f} MB (VmHWM {hwm / 1024:.1f} MB)")
    for failure in failures:
        say(f"CORRECTNESS FAILURE: {failure}")
    return 1 if failures else 0


def write_samples(path: Path, samples: Sequence[Sample]) -> None:
    """Write one line per submitted request (kept with --keep) for a closer look."""
    keys = ("processed", "notified", "handled", "sent", "arrived")
    rows = ["request_id\tsent_at\tlatency_ms\tsendmail_ms\ttag\t" + "\t".join(f"{k}_ms" for k in keys)]
    for s in samples:
        ph = [f"{s.phases[k] * 1000:.0f}" if k in s.phases else "" for k in keys]
        rows.append("\t".join([s.request_id, datetime.fromtimestamp(s.wall0).isoformat(timespec="milliseconds"),
                               f"{s.latency_s * 1000:.1f}", f"{s.send_s * 1000:.1f}", s.tag, *ph]))
    path.write_text("\n".join(rows) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Example: .venv/bin/python bench/gift_latency.py --quick")
    parser.add_argument("--samples", type=int, default=None,
                        help="samples in each of dense, sparse and floor (default 30; 10 with --quick)")
    parser.add_argument("--sparse-gap", type=float, default=None,
                        help="seconds between a sparse sample's arrival and the next request (default 20; 5 with --quick)")
    parser.add_argument("--dense-gap", type=float, default=0.5,
                        help="seconds between a dense or floor sample's arrival and the next submission (default 0.5)")
    parser.add_argument("--quick", action="store_true", help="10 samples, 5 s sparse gaps (about 2 minutes)")
    parser.add_argument("--poll-interval", type=float, default=0.005,
                        help="seconds between STATUS polls of the approver's INBOX (default 0.005, at most 0.01)")
    parser.add_argument("--timeout", type=float, default=30, help="seconds a request may take before it counts as lost")
    parser.add_argument("--late-wait", type=float, default=330,
                        help="after a request is lost, seconds to wait more to see whether it comes (default 330: "
                             "past config.yaml's idle_seconds of 300)")
    parser.add_argument("--no-observe", dest="observe", action="store_false",
                        help="no passive IDLE on the service mailbox while the daemon runs (it splits the "
                             "daemon's time into the IDLE wake-up and its own work)")
    parser.add_argument("--grace", type=float, default=3,
                        help="seconds to wait after the last sample before counting duplicates (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (config, database, logs)")
    args = parser.parse_args(argv)
    if args.samples is None:
        args.samples = 10 if args.quick else 30
    if args.sparse_gap is None:
        args.sparse_gap = 5.0 if args.quick else 20.0
    if args.samples < 1:
        parser.error("--samples must be at least 1")
    if not 0 < args.poll_interval <= 0.01:
        parser.error("--poll-interval must be above 0 and at most 0.01")
    return run_as_root_in_tempdir("gift_latency.py", "vf-gift-", lambda tmp: bench(args, tmp), keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
