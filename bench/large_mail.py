"""Memory of the daemon around one large mail (issue 8.6; spec §7 idle target). Prints figures only.

A running ``visitflow run`` gets a daily report with a large attachment (default: 20 MB of
photo-like bytes, a 28 MB mail once base64-encoded). The script reads the daemon's resident
memory before, its high-water mark while it takes the mail in, and its resident memory
after it settles, and prints the peak (and its growth above the idle daemon, the part a
mail causes) against 4x the mail's size, and the idle figure against the 80 MB target. Needs root (the sandbox's Postfix).

    .venv/bin/python bench/large_mail.py [--attachment-mb 20] [--settle 10]
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from common import (PASSWORD_ENV, REPO, SERVICE_ADDRESS, code_version, log_problems, login, proc_status,
                    run_as_root_in_tempdir, say, write_config)

TARGET_IDLE_MB = 80
TARGET_PEAK_FACTOR = 4

REPORT = """日期：{day}
客户名称：上海华联超市（静安店）
巡访时间：09:30-10:30
客户意见：新包装反响很好，附客户卡照片。
巡访效果：客户同意下月增加订货
"""


def large_report(attachment_bytes: int) -> bytes:
    """Return a daily report from 李雷 carrying one attachment of attachment_bytes random bytes."""
    msg = EmailMessage()
    msg["From"] = "李雷 <li.lei@visitflow.test>"
    msg["To"] = SERVICE_ADDRESS
    msg["Subject"] = "巡访日报"
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain="visitflow.test")
    msg.set_content(REPORT.format(day=time.strftime("%Y-%m-%d")))
    # Random bytes: a photo does not compress, and the content store must not deduplicate it.
    msg.add_attachment(os.urandom(attachment_bytes), maintype="image", subtype="jpeg",
                       filename="客户卡.jpg")
    return msg.as_bytes()


def settled(db: Path) -> int:
    """Return how many messages the daemon has settled (any state but received)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM messages WHERE state != 'received'").fetchone()[0]
    except sqlite3.Error:
        return 0


def bench(args: argparse.Namespace, tmp: Path) -> int:
    from service.config import load_config
    from service.sandbox import Sandbox, ensure_installed, free_port

    ensure_installed()
    cfg = load_config(REPO / "config.yaml")
    (tmp / "sbx").mkdir()
    data = tmp / "data"
    data.mkdir()
    box = Sandbox(tmp / "sbx", imap_port=free_port(), lmtp_port=free_port(), smtp_port=free_port(),
                  users=[cfg.service_address, *cfg.organisation.people()], password=secrets.token_urlsafe(12))
    box.start()
    proc = None
    try:
        config = tmp / "config.yaml"
        write_config(config, data, box)
        env = {**os.environ, PASSWORD_ENV: box.password}
        env.pop("VISITFLOW_CONFIG", None)
        log = tmp / "daemon.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "service", "--config", str(config), "run"], cwd=REPO,
                                    env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while "IMAP connected" not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                say(f"the daemon did not connect (exit {proc.poll()})")
                return 1
            time.sleep(0.1)
        time.sleep(args.settle)
        before = proc_status(proc.pid, "VmRSS") / 1024
        hwm_before = proc_status(proc.pid, "VmHWM") / 1024
        raw = large_report(int(args.attachment_mb * 1024 * 1024))
        size_mb = len(raw) / 1024 / 1024
        say(f"code {code_version()}; daemon idle before: VmRSS {before:.1f} MB (VmHWM {hwm_before:.1f} MB)")
        with login(box, SERVICE_ADDRESS) as mailbox:
            mailbox.client.append("INBOX", None, None, raw)
        t0 = time.perf_counter()
        while settled(data / "visitflow.db") < 1:
            if proc.poll() is not None or time.perf_counter() - t0 > 300:
                say(f"the mail was not settled (daemon exit {proc.poll()})")
                return 1
            time.sleep(0.2)
        took = time.perf_counter() - t0
        time.sleep(args.settle)
        peak = proc_status(proc.pid, "VmHWM") / 1024
        after = proc_status(proc.pid, "VmRSS") / 1024
        with sqlite3.connect(data / "visitflow.db") as conn:
            state = conn.execute("SELECT state, kind, reason FROM messages").fetchone()
            cards = conn.execute("SELECT filename, size, kept FROM customer_cards").fetchall()
        warnings, errors, shown = log_problems(log.read_text(errors="replace"))
        say(f"mail: {size_mb:.1f} MB ({args.attachment_mb:g} MB attachment), settled in {took:.1f} s as {state[0]}/"
            f"{state[1]}; cards {cards}")
        growth = peak - before
        say(f"peak VmHWM {peak:.1f} MB = {peak / size_mb:.2f}x the mail "
            f"({'within' if peak <= TARGET_PEAK_FACTOR * size_mb else 'above'} {TARGET_PEAK_FACTOR}x = "
            f"{TARGET_PEAK_FACTOR * size_mb:.0f} MB; the idle daemon alone is {before:.0f} MB)")
        say(f"peak above the idle daemon: {growth:.1f} MB = {growth / size_mb:.2f}x the mail; target <= "
            f"{TARGET_PEAK_FACTOR}x -> {'met' if growth <= TARGET_PEAK_FACTOR * size_mb else 'NOT met'}")
        say(f"idle after: VmRSS {after:.1f} MB; target <= {TARGET_IDLE_MB} MB -> "
            f"{'met' if after <= TARGET_IDLE_MB else 'NOT met'}")
        say(f"log: {warnings} warnings, {errors} errors" + "".join(f"\n  {line}" for line in shown))
        return 0
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        box.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attachment-mb", type=float, default=20, help="attachment size in MB (default 20)")
    parser.add_argument("--settle", type=float, default=10, help="seconds to let the daemon settle (default 10)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    return run_as_root_in_tempdir("large_mail.py", "vf-large-", lambda tmp: bench(args, tmp), keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
