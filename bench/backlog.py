"""Backlog and idle-daemon benchmark (spec §7). Prints figures; never asserts a timing.

    .venv/bin/python bench/backlog.py [--count 10000] [--profile FILE] [--keep]

Starts a private Dovecot + Postfix sandbox on free loopback ports in a temporary folder,
fills the service mailbox with `--count` daily visit reports by IMAP APPEND, then measures
in one run:

(a) imap-tools merely downloading the whole INBOX (bulk fetch, nothing marked seen);
(b) `visitflow poll --no-send` over the same mailbox: record, classify, queue a reply and
    move every mail to Processed; then checks the INBOX is empty, Processed holds N and
    the database N messages (exit status 1 if not: a correctness failure, not a timing one);
(c) `visitflow poll` again: nothing new to fetch, it sends the queued outbox to Postfix;
(d) `visitflow run` idling after the backlog was processed: resident memory and the CPU
    time it uses while nothing happens.

The sandbox is stopped by PID and the temporary folder removed at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import html
import os
import random
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from email.utils import format_datetime
from urllib.parse import quote
from pathlib import Path

from common import (PASSWORD_ENV, REPO, SERVICE_ADDRESS, log_problems, login, proc_status,  # noqa: I001
                    run_as_root_in_tempdir, say, write_config)

import yaml  # noqa: E402
from imap_tools import MailBoxUnencrypted  # noqa: E402
REPORT_DAY = date(2026, 11, 26)
CST = timezone(timedelta(hours=8))
TARGET_RATIO = 0.5
TARGET_RSS_MB = 80.0

# -- the mail -------------------------------------------------------------------------------

# Some names hold characters that exist in GBK but not in GB2312 (镕 喆 堃 昇 珺): Foxmail labels
# such mail gb2312 anyway, and a decoder that reads the label literally damages it.
CUSTOMERS = (
    "上海宏达机械有限公司", "杭州锦程纺织有限公司", "北京华信电子科技有限公司", "苏州恒通精密制造有限公司",
    "南京金陵化工有限公司", "宁波海天塑机集团", "无锡喆诚自动化设备有限公司", "天津镕鑫钢铁贸易有限公司",
    "合肥昇达新材料有限公司", "常州堃源电气有限公司", "嘉兴珺泰包装材料有限公司", "绍兴永盛印染有限公司",
)
FEEDBACK = (
    "设备运行稳定，希望下月安排一次例行保养。",
    "对上批货的交期不满意，希望以后提前一周通知发货时间。",
    "新型号能耗明显降低，客户很满意，考虑追加订单。",
    "希望我们提供现场操作培训，操作工更换较频繁。",
    "反映包装偶有破损，要求加强运输防护。",
    "询问明年的框架协议价格能否维持不变。",
)
MARKET = (
    "同类产品价格下调约5%，竞争对手加大促销力度。",
    "原材料价格上涨，客户普遍压缩库存。",
    "本地新开两家同行代理商，价格竞争激烈。",
    "出口订单回暖，客户产能利用率约八成。",
    "行情平稳，暂无明显变化。",
)
HANDLED = (
    "现场更换了密封件，设备恢复正常。",
    "已与物流部门协调，下周二补发配件。",
    "讲解了新产品参数，留下样本和报价单。",
)
SIGNATURES = ("", "\n\n发自我的iPhone", "\n\n--\n此致\n敬礼")


@dataclass(frozen=True)
class Sender:
    name: str
    email: str


# Besides config.yaml's three reps, the bench's config adds these, so that 10,000 reports
# are mostly one per rep and working day (as in life) instead of replacing each other.
EXTRA_REPS = 47
REGIONS = (("east", "shanghai"), ("east", "hangzhou"), ("north", "beijing"))


def extra_reps() -> list[dict]:
    """Return the bench-only reps as config.yaml entries."""
    return [{"name": f"巡访员{n:02d}", "email": f"rep{n:02d}@visitflow.test",
             "unit": REGIONS[n % 3][0], "region": REGIONS[n % 3][1]} for n in range(1, EXTRA_REPS + 1)]


@functools.cache
def config_reps() -> tuple[Sender, ...]:
    """Return the reps of the bench's config: config.yaml's and the extra ones."""
    data = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    return tuple(Sender(r["name"], r["email"]) for r in data["organisation"]["reps"] + extra_reps())


def report_text(i: int, day: date) -> str:
    """Return the body of report i: 2 to 4 visits."""
    blocks = []
    for v in range(2 + i % 3):
        k = i * 7 + v * 3
        hour, minute = 8 + (k % 9), (0, 15, 30, 45)[k % 4]
        lines = [f"客户名称：{CUSTOMERS[k % len(CUSTOMERS)]}",
                 f"巡访时间：{day:%Y-%m-%d} {hour:02d}:{minute:02d}",
                 f"客户意见：{FEEDBACK[k % len(FEEDBACK)]}",
                 f"市场行情：{MARKET[k % len(MARKET)]}"]
        if k % 3 == 0:
            lines.append(f"处理事项：{HANDLED[k % len(HANDLED)]}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + SIGNATURES[i % len(SIGNATURES)] + "\n"


def report_html(text: str) -> str:
    """Return text as the HTML a webmail editor writes: one div per line."""
    divs = "".join(f"<div>{html.escape(line) or '<br>'}</div>\r\n" for line in text.splitlines())
    return ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head>\r\n'
            f'<body><div style="font-family: 微软雅黑, sans-serif; font-size: 14px;">\r\n{divs}</div>'
            "</body></html>\r\n")


def _b64(data: bytes) -> str:
    return base64.encodebytes(data).decode("ascii").replace("\n", "\r\n")


def _word(text: str, charset: str, codec: str) -> str:
    """Encode a header phrase as one RFC 2047 base64 encoded-word (ASCII stays as it is)."""
    if text.isascii():
        return text
    return f"=?{charset}?B?{base64.b64encode(text.encode(codec)).decode('ascii')}?="


def make_report(i: int, *, senders: Sequence[Sender] | None = None) -> bytes:
    """Return daily visit report number i as the exact bytes a mail client would send.

    Deterministic in i. By i % 4: 0 UTF-8 text in base64 (Outlook, Apple Mail), 1 UTF-8 text
    in 8bit (Thunderbird), 2 GBK text in base64 labelled gb2312 (Foxmail), 3 UTF-8
    multipart/alternative with an HTML part (webmail). Each has its own Message-ID.
    """
    senders = senders or config_reps()
    rep = senders[i % len(senders)]
    # One report per rep and working day, walking back from REPORT_DAY; past a year of
    # working days the cycle repeats (a rep's later report for a date replaces the earlier).
    n = (i // len(senders)) % 260
    day = REPORT_DAY - timedelta(days=(n // 5) * 7 + n % 5)
    sent = datetime(day.year, day.month, day.day, 17, 30, tzinfo=CST) + timedelta(seconds=i % 3600)
    subject = f"巡访日报 {day:%Y-%m-%d}"
    text = report_text(i, day)
    variant = i % 4
    if variant == 2:
        codec, label = "gbk", "gb2312"
        mailer = "Foxmail 7.2.25.228[cn]"
    else:
        codec, label = "utf-8", "utf-8"
        mailer = ("Microsoft Outlook 16.0", "Mozilla Thunderbird", "", "")[variant]
    head = [
        f'From: "{_word(rep.name, label, codec)}" <{rep.email}>',
        f"To: {SERVICE_ADDRESS}",
        f"Subject: {_word(subject, label, codec)}",
        f"Date: {format_datetime(sent)}",
        f"Message-ID: <{sent:%Y%m%d%H%M%S}.{i:07d}.{rep.email.partition('@')[0]}@client.visitflow.test>",
        "MIME-Version: 1.0",
    ]
    if mailer:
        head.append(f"X-Mailer: {mailer}")
    crlf_text = text.replace("\n", "\r\n")
    if i % 8 == 5:
        # Every eighth report carries a customer card (客户卡), as Foxmail attaches a photo.
        boundary = f"----=_Mixed_{i:07d}_bench"
        card = random.Random(i).randbytes(20_000 + i % 7 * 1_000)
        name = f"客户卡-{i:05d}.jpg"
        body = (f"--{boundary}\r\nContent-Type: text/plain; charset={label}\r\n"
                f"Content-Transfer-Encoding: base64\r\n\r\n{_b64(crlf_text.encode(codec))}"
                f"--{boundary}\r\nContent-Type: image/jpeg; name=\"{_word(name, 'utf-8', 'utf-8')}\"\r\n"
                f"Content-Disposition: attachment; filename*=utf-8''{quote(name)}\r\n"
                f"Content-Transfer-Encoding: base64\r\n\r\n{_b64(card)}--{boundary}--\r\n")
        head.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')
    elif variant == 3:
        boundary = f"----=_Part_{i:07d}_bench"
        body = (f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                f"Content-Transfer-Encoding: base64\r\n\r\n{_b64(crlf_text.encode())}"
                f"--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n"
                f"Content-Transfer-Encoding: base64\r\n\r\n{_b64(report_html(text).encode())}"
                f"--{boundary}--\r\n")
        head.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
    elif variant == 1:
        body = crlf_text
        head += ["Content-Type: text/plain; charset=utf-8; format=flowed", "Content-Transfer-Encoding: 8bit"]
    else:
        body = _b64(crlf_text.encode(codec))
        head += [f'Content-Type: text/plain; charset="{label}"', "Content-Transfer-Encoding: base64"]
    return ("\r\n".join(head) + "\r\n\r\n" + body).encode("utf-8")


# -- helpers --------------------------------------------------------------------------------

def visitflow_command(config: Path, *args: str, profile: Path | None = None) -> list[str]:
    """Return the argv of `visitflow --config config args…` (under cProfile when asked).

    `python -m service` is the visitflow command; run with cwd=REPO it uses the `service`
    package beside this script, so a copy of the repository measures its own code.
    """
    program = [sys.executable, "-m", "service"]
    if profile is not None:
        program = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "service"]
    return [*program, "--config", str(config), *args]


@dataclass
class Timed:
    code: int
    wall: float
    cpu: float  # user + system seconds of the child
    max_rss_mb: float
    output: str


def run_timed(argv: list[str], env: dict[str, str], log: Path) -> Timed:
    """Run argv to the end with output to log; return its wall time, CPU time and peak memory."""
    with open(log, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        # wait4 gives this child's own resource usage (Popen.wait would discard it).
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Timed(proc.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
                 log.read_text(encoding="utf-8", errors="replace"))


def folder_counts(box, user: str, folder: str) -> dict[str, int]:
    """Return MESSAGES and UNSEEN of folder (zeros if it does not exist)."""
    with login(box, user) as mb:
        if not mb.folder.exists(folder):
            return {"MESSAGES": 0, "UNSEEN": 0}
        return mb.folder.status(folder, ["MESSAGES", "UNSEEN"])


def report_log(name: str, text: str, *, code: int | None = 0) -> None:
    """Print a log's warning and error counts with the first few; its tail if the process failed."""
    warnings, errors, shown = log_problems(text)
    say(f"  {name} log: {warnings} warning(s), {errors} error(s)")
    for line in shown:
        say(f"    | {line}")
    if code != 0:
        say(f"  {name} exited with {code}; its last lines:")
        for line in text.splitlines()[-15:]:
            say(f"    | {line[:300]}")


class _Abort(Exception):
    """Ends the run after a correctness failure that makes the later steps meaningless."""


def proc_cpu_seconds(pid: int) -> float:
    """Return utime + stime of a process (all its threads) from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    # After the command name: state is field 3, so utime (14) and stime (15) sit at 11 and 12.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def dovecot_cpu_seconds(box) -> float:
    """Return the CPU Dovecot spent so far: its live processes, and what its master reaped
    (an IMAP session's process ends with the session)."""
    pids = box.pids()["dovecot"]
    if not pids:
        return 0.0
    fields = Path(f"/proc/{pids[0]}/stat").read_text().rpartition(")")[2].split()
    reaped = (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")  # cutime, cstime
    live = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            live += proc_cpu_seconds(pid)
    return reaped + live


_STAGES = re.compile(r"CPU per message: writer (\d+) µs, workers (\d+) µs, IMAP thread (\d+) µs")


def print_stages(output: str, n: int, total_cpu: float, dovecot: float) -> None:
    """Print CPU per mail by stage: the poll's own account of its threads and workers (its
    log's backlog line), the rest of its CPU (start-up, the final moves), and Dovecot's."""
    found = _STAGES.findall(output)
    if not found:
        say("  CPU per mail by stage: (no backlog line in the log)")
        return
    writer, workers, imap = (sum(int(f[i]) for f in found) for i in range(3))
    rest = total_cpu * 1e6 / n - writer - workers - imap
    say("  CPU per mail by stage (µs):")
    for name, value, what in (
            ("workers", workers, "decode, classify, read, draft the receipt (service/workers.py)"),
            ("writer", writer, "record, workflow, queue, one commit per batch (service/intake.py)"),
            ("IMAP thread", imap, "FETCH, WAL and card syncs, UID MOVE"),
            ("other", rest, "interpreter start, imports, login, the poll's end"),
            ("Dovecot", dovecot * 1e6 / n, "the server side of FETCH and MOVE")):
        say(f"    {name:<12}{value:7.0f}  {what}")


# Frames every call passes through (interpreter start, click, the CLI): they top any
# cumulative listing and say nothing about where the time goes.
_WRAPPERS = r"^(?!.*(runpy|/click/|<string>|__main__\.py|built-in method builtins\.exec|/service/cli\.py))"


def print_profile(path: Path, top: int = 15) -> None:
    """Print the top functions of a cProfile file by cumulative time (start-up and CLI frames
    left out), then our own code by cumulative time, then everything by own time."""
    import pstats

    stats = pstats.Stats(str(path), stream=sys.stdout)
    for title, order, restrictions in (
            ("by cumulative time", "cumulative", (_WRAPPERS, top)),
            ("of service/ by cumulative time", "cumulative", (_WRAPPERS, r"/service/", top)),
            ("by own time", "tottime", (top,))):
        say(f"\n--- profile of visitflow poll --no-send: top {top} {title} ---")
        stats.sort_stats(order).print_stats(*restrictions)
        sys.stdout.flush()


# -- the steps ------------------------------------------------------------------------------

def fill(box, count: int, first: int = 0) -> float:
    """APPEND count reports (numbers first, first + 1, …) to the service INBOX over one
    connection; return the seconds taken."""
    start = time.perf_counter()
    with login(box, SERVICE_ADDRESS) as mb:
        for i in range(first, first + count):
            typ, data = mb.client.append("INBOX", None, None, make_report(i))
            if typ != "OK":
                raise RuntimeError(f"APPEND of report {i} failed: {data!r}")
    return time.perf_counter() - start


def baseline_download(box, bulk: int) -> tuple[int, int, float, float]:
    """Download the whole INBOX with imap-tools alone; return count, bytes, wall and CPU seconds."""
    count = size = 0
    start, cpu = time.perf_counter(), time.process_time()
    with MailBoxUnencrypted("127.0.0.1", box.imap_port, timeout=60).login(SERVICE_ADDRESS, box.password) as mb:
        for msg in mb.fetch(mark_seen=False, bulk=bulk):
            count += 1
            size += msg.size_rfc822  # the server's figure: `msg.size` would serialise the mail again
    return count, size, time.perf_counter() - start, time.process_time() - cpu


def db_counts(path: Path) -> dict[str, object]:
    if not path.exists():
        return {"messages": 0, "states": {}, "outbox": {}, "reports": 0, "replaced": 0, "visits": 0,
                "customer_cards": 0}
    with contextlib.closing(sqlite3.connect(path)) as db:
        return {
            "messages": db.execute("SELECT COUNT(*) FROM messages").fetchone()[0],
            "states": dict(db.execute("SELECT state || ':' || COALESCE(kind, '-'), COUNT(*) FROM messages "
                                      "GROUP BY 1 ORDER BY 2 DESC")),
            "outbox": dict(db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state")),
            "reports": db.execute("SELECT COUNT(*) FROM reports").fetchone()[0],
            "replaced": db.execute("SELECT COUNT(*) FROM reports WHERE current = 0").fetchone()[0],
            "visits": db.execute("SELECT COUNT(*) FROM visits").fetchone()[0],
            "customer_cards": db.execute("SELECT COUNT(*) FROM customer_cards WHERE kept = 1").fetchone()[0],
        }


def wait_for_delivery(box, users: Sequence[str], expected: int, timeout: float) -> tuple[int, float]:
    """Wait until users' INBOXes hold expected mails in all; return what arrived and the wait."""
    start = time.perf_counter()
    while True:
        arrived = sum(folder_counts(box, u, "INBOX")["MESSAGES"] for u in users)
        waited = time.perf_counter() - start
        if arrived >= expected or waited > timeout:
            return arrived, waited
        time.sleep(1)


def idle_daemon(config: Path, env: dict[str, str], log: Path, settle: float,
                sample: float, *, backlog: bool) -> tuple[dict[str, float] | None, int]:
    """Start `visitflow run`, let it take the backlog waiting (if ``backlog``) and settle, read
    its memory, child processes and CPU use while idle, stop it.

    Returns the figures (None if it never connected or never finished the backlog) and its
    exit status after SIGTERM.
    """
    figures = None
    with open(log, "wb") as out:
        proc = subprocess.Popen(visitflow_command(config, "run"), cwd=REPO, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        connected = _wait_for_line(proc, log, "IMAP connected", timeout=60)
        if connected and backlog and not _wait_for_line(proc, log, "backlog of", timeout=300):
            say("  the daemon did not finish the backlog within 300 s")
            connected = False
        if connected:
            time.sleep(settle)
            figures = {"rss_mb": proc_status(proc.pid, "VmRSS") / 1024, "threads": proc_status(proc.pid, "Threads"),
                       "children": len(child_pids(proc.pid))}
            cpu0, t0 = proc_cpu_seconds(proc.pid), time.perf_counter()
            time.sleep(sample)
            cpu1, t1 = proc_cpu_seconds(proc.pid), time.perf_counter()
            figures.update(cpu_s=cpu1 - cpu0, sample_s=t1 - t0, rss_end_mb=proc_status(proc.pid, "VmRSS") / 1024,
                           hwm_mb=proc_status(proc.pid, "VmHWM") / 1024)
        else:
            say(f"  the daemon did not connect within 60 s (exit status so far: {proc.poll()})")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                say("  the daemon ignored SIGTERM for 30 s: killed")
                proc.kill()
                proc.wait(10)
        say(f"  daemon exit status after SIGTERM: {proc.returncode}")
    return figures, proc.returncode


def child_pids(pid: int) -> list[int]:
    """Return the live child processes of pid (of all its threads)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            children += [int(c) for c in (task / "children").read_text().split()]
    return children


def _wait_for_line(proc: subprocess.Popen, log: Path, text: str, *, timeout: float) -> bool:
    """Wait until text appears in the log of a running process; False if it exits or time is up."""
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def bench(args: argparse.Namespace, tmp: Path) -> int:
    from service.config import load_config
    from service.sandbox import Sandbox, ensure_installed, free_port

    n = args.count
    ensure_installed()
    data_dir = tmp / "data"
    data_dir.mkdir()
    (tmp / "sbx").mkdir()
    cfg = load_config(REPO / "config.yaml")
    reps = [r.email for r in config_reps()]
    users = [cfg.service_address, *cfg.organisation.people(), *reps[len(cfg.organisation.reps):]]
    box = Sandbox(tmp / "sbx", imap_port=free_port(), lmtp_port=free_port(), smtp_port=free_port(),
                  users=users, password=secrets.token_urlsafe(12))
    failures: list[str] = []
    started = time.perf_counter()
    box.start()
    try:
        say(f"sandbox: IMAP 127.0.0.1:{box.imap_port}, SMTP 127.0.0.1:{box.smtp_port}, "
            f"{len(users)} users, in {tmp} (started in {time.perf_counter() - started:.1f} s)")
        config = tmp / "config.yaml"
        write_config(config, data_dir, box, extra_reps=extra_reps())
        env = {**os.environ, PASSWORD_ENV: box.password}
        env.pop("VISITFLOW_CONFIG", None)

        seconds = fill(box, n)
        inbox = folder_counts(box, SERVICE_ADDRESS, "INBOX")
        say(f"fill: {n} reports appended in {seconds:.1f} s ({n / seconds:.0f}/s); INBOX holds "
            f"{inbox['MESSAGES']}, {inbox['UNSEEN']} unseen")
        if inbox["MESSAGES"] != n:
            failures.append(f"INBOX holds {inbox['MESSAGES']} after the fill, not {n}")
            raise _Abort

        say(f"\n(a) imap-tools download, fetch(mark_seen=False, bulk={args.bulk})")
        got, size, wall_a, cpu_a = baseline_download(box, args.bulk)
        rate_a = got / wall_a
        unseen = folder_counts(box, SERVICE_ADDRESS, "INBOX")["UNSEEN"]
        say(f"  {got} messages, {size / 1e6:.1f} MB in {wall_a:.2f} s (client CPU {cpu_a:.2f} s): "
            f"{rate_a:.0f} msgs/s; still unseen afterwards: {unseen}")
        if got != n or unseen != n:
            failures.append(f"download saw {got} messages and left {unseen} unseen (want {n} and {n})")

        profile = Path(args.profile).resolve() if args.profile else None
        say(f"\n(b) visitflow poll --no-send (imap.fetch_batch {cfg.imap.fetch_batch})"
            + (" UNDER cProfile: timings inflated, main thread only" if profile else ""))
        dovecot_before = dovecot_cpu_seconds(box)
        b = run_timed(visitflow_command(config, "poll", "--no-send", profile=profile), env, tmp / "poll.log")
        dovecot_b = dovecot_cpu_seconds(box) - dovecot_before
        rate_b = n / b.wall
        summary = [line for line in b.output.splitlines() if line.startswith("fetched ")]
        say(f"  exit {b.code} in {b.wall:.2f} s (child CPU {b.cpu:.2f} s, peak RSS {b.max_rss_mb:.0f} MB): "
            f"{rate_b:.0f} msgs/s")
        say(f"  it printed: {summary[-1] if summary else '(no summary line)'}")
        print_stages(b.output, n, b.cpu, dovecot_b)
        report_log("poll", b.output, code=b.code)
        inbox = folder_counts(box, SERVICE_ADDRESS, "INBOX")["MESSAGES"]
        processed = folder_counts(box, SERVICE_ADDRESS, cfg.imap.folders.processed)["MESSAGES"]
        counts = db_counts(data_dir / "visitflow.db")
        checks = [("poll exit status 0", b.code == 0, b.code),
                  ("INBOX empty", inbox == 0, inbox),
                  (f"{cfg.imap.folders.processed} holds {n}", processed == n, processed),
                  (f"database holds {n} messages", counts["messages"] == n, counts["messages"])]
        for what, ok, value in checks:
            say(f"  check {what}: {'ok' if ok else 'FAILED'} ({value})")
            if not ok:
                failures.append(f"{what}: got {value}")
        say(f"  messages by state:kind {counts['states']}; outbox {counts['outbox']}")
        say(f"  stored: {counts['reports']} reports ({counts['replaced']} replaced by a resend), "
            f"{counts['visits']} visits, {counts['customer_cards']} customer cards")
        if failures:
            raise _Abort  # a rate of a run that lost or left mail means nothing

        say("\n(c) visitflow poll (nothing new; sends the queued outbox to Postfix)")
        queued = counts["outbox"].get("queued", 0)
        c = run_timed(visitflow_command(config, "poll"), env, tmp / "send.log")
        after = db_counts(data_dir / "visitflow.db")["outbox"]
        sent = after.get("sent", 0)
        rate_c = sent / c.wall
        say(f"  exit {c.code}: {sent} of {queued} queued mails sent in {c.wall:.2f} s (child CPU {c.cpu:.2f} s): "
            f"{rate_c:.0f} mails/s; outbox now {after}")
        report_log("send", c.output, code=c.code)
        if c.code != 0 or after.get("queued", 0) or after.get("failed", 0):
            failures.append(f"sending left the outbox at {after} (exit {c.code})")
        if args.delivery_timeout > 0 and sent:
            arrived, waited = wait_for_delivery(box, reps, sent, args.delivery_timeout)
            say(f"  delivered to the reps' INBOXes: {arrived} of {sent}, {waited:.1f} s after the send ended")

        extra = args.daemon_backlog
        if extra:
            fill(box, extra, first=n)
        say(f"\n(d) idle daemon: visitflow run after the backlog was processed and sent (database of "
            f"{n} messages), first taking a backlog of {extra} more itself; settle {args.settle:.0f} s, "
            f"sample {args.sample:.0f} s")
        idle, code = idle_daemon(config, env, tmp / "daemon.log", args.settle, args.sample, backlog=extra > 0)
        report_log("daemon", (tmp / "daemon.log").read_text(errors="replace"), code=code)
        if code != 0:
            failures.append(f"the daemon {'did not start' if idle is None else 'did not stop cleanly'} "
                            f"(exit status {code})")
        if idle is not None:
            say(f"  VmRSS {idle['rss_mb']:.1f} MB (after sampling {idle['rss_end_mb']:.1f} MB, "
                f"VmHWM {idle['hwm_mb']:.1f} MB), {idle['threads']:.0f} threads, {idle['children']} child "
                f"processes; CPU "
                f"{idle['cpu_s']:.2f} s in {idle['sample_s']:.1f} s idle")

        say("\n=== summary " + "=" * 60)
        say(f"backlog of {n} daily reports, one run, loopback Dovecot {box.imap_port}")
        say(f"  (a) imap-tools download only      {rate_a:8.0f} msgs/s  ({wall_a:.2f} s)")
        say(f"  (b) visitflow poll --no-send      {rate_b:8.0f} msgs/s  ({b.wall:.2f} s)")
        ratio = rate_b / rate_a
        say(f"      ratio (b)/(a)                 {ratio:8.2f}         target >= {TARGET_RATIO} "
            f"-> {'met' if ratio >= TARGET_RATIO else 'NOT met'}")
        say(f"  (c) outbox send over SMTP         {rate_c:8.0f} mails/s ({sent} in {c.wall:.2f} s)")
        if idle:
            per10 = idle["cpu_s"] * 10 / idle["sample_s"]
            say(f"  (d) idle daemon RSS               {idle['rss_mb']:8.1f} MB      target <= {TARGET_RSS_MB:.0f} MB "
                f"-> {'met' if idle['rss_mb'] <= TARGET_RSS_MB else 'NOT met'}")
            say(f"      idle CPU                      {per10:8.3f} s per 10 s idle (no busy polling: "
                f"{'yes' if per10 < 0.1 else 'NO'})")
            say(f"      child processes when idle     {idle['children']:8d}          (a pool outliving its "
                f"backlog: {'NO' if idle['children'] == 0 else 'YES'})")
        if profile:
            print_profile(profile)
            say(f"profile written to {profile}")
    except _Abort:
        say("\nstopped early: the figures of this run are not valid")
    finally:
        started = time.perf_counter()
        box.stop()
        say(f"\nsandbox stopped in {time.perf_counter() - started:.1f} s")
    for failure in failures:
        say(f"CORRECTNESS FAILURE: {failure}")
    return 1 if failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Example: .venv/bin/python bench/backlog.py --count 10000")
    parser.add_argument("--count", type=int, default=10_000, help="reports in the backlog (default 10000)")
    parser.add_argument("--bulk", type=int, default=200, help="imap-tools fetch bulk size for (a) (default 200)")
    parser.add_argument("--settle", type=float, default=10, help="seconds the idle daemon settles (default 10)")
    parser.add_argument("--sample", type=float, default=10, help="seconds of idle CPU sampling (default 10)")
    parser.add_argument("--daemon-backlog", type=int, default=1000,
                        help="reports the daemon of (d) takes in itself before it idles (default 1000)")
    parser.add_argument("--delivery-timeout", type=float, default=120,
                        help="seconds to wait for the sent replies to reach the reps' INBOXes; 0 skips (default 120)")
    parser.add_argument("--profile", metavar="FILE", help="run (b) under cProfile (its main thread), write FILE and print its top 15")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, database)")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")
    return run_as_root_in_tempdir("backlog.py", "vf-bench-", lambda tmp: bench(args, tmp), keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
