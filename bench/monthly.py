"""Monthly reports for 100,000 visits (spec §7: ≤ 15 s, peak memory ≤ 400 MB). Prints figures only.

50 units × 40 reps × 50 visits in 2026-11, with a registry (200 customers per unit, tiers
A–D, a tenth of the visits to names not in it), one plan per unit (10 visits per rep),
urgent reports and gift requests, are written straight into a fresh database (the rows the
workflows would have stored; no mail involved). Then a fresh process runs what
``visitflow report monthly --month 2026-11`` runs – every unit's report, the company
summary, charts, .docx and .xlsx – and the script prints the total time, the time per
phase (query, charts, docx, xlsx), the CPU time of the run and its peak memory.

Peak memory is that of the whole run, the process and its workers together: a thread here
samples the run's process tree every 25 ms (/proc/PID/task/*/children) and keeps the
highest sum of their RSS (VmRSS, /proc/PID/status) and of their PSS (Pss, smaps_rollup). RSS
counts a page forked workers share with the parent in each of them; PSS splits it between
them, so the PSS sum is the memory the run really takes (the target is judged on it), the RSS
sum an upper bound. Also printed: each process's own peak (ru_maxrss) from the child.

    .venv/bin/python bench/monthly.py [--units 50] [--reps 40] [--visits 50] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, datetime
from pathlib import Path

from common import REPO, code_version, say

import yaml

TARGET_SECONDS = 15.0
TARGET_MB = 400.0
MONTH = "2026-11"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红"
SHOPS = ("超市", "便利店", "商贸有限公司", "食品经销部", "百货", "批发部", "连锁店")
FEEDBACK = ("希望增加小包装规格，并缩短补货周期。", "客户反映新包装开启不便，建议改进。", "对上月促销效果满意，希望继续。",
            "投诉一批货物临近保质期，要求退换。", "希望提供更多陈列物料。")
MARKET = ("竞品本月降价 5%，并加大了端架投入。", "同行推出新口味，市场反应一般。", "节前备货需求明显上升。",
          "区域内新开两家折扣店，价格竞争激烈。")
HANDLED = ("协调补货，已于当日完成。", "处理临期产品退换，客户认可。", "更新价签与陈列。", "")


def person(i: int) -> str:
    return SURNAMES[i % len(SURNAMES)] + GIVEN[(i // len(SURNAMES)) % len(GIVEN)] + GIVEN[(i * 7) % len(GIVEN)]


def write_config(path: Path, data_dir: Path, units: int, reps: int) -> dict:
    data = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    data["storage"] = {"database": str(data_dir / "visitflow.db"), "reports_dir": str(data_dir / "reports"),
                       "cards_dir": str(data_dir / "cards")}
    org = data["organisation"]
    org["units"], org["regions"], org["reps"] = [], [], []
    n = 0
    for u in range(units):
        uid = f"u{u:02d}"
        org["units"].append({"id": uid, "name": f"第{u + 1}事业部", "head": {"name": person(n), "email": f"head{u}@visitflow.test"}})
        org["regions"].append({"id": f"r{u:02d}", "name": f"区域{u + 1}", "unit": uid,
                               "salespeople": [{"name": person(n + 1), "email": f"sales{u}@visitflow.test"}],
                               "technical": [{"name": person(n + 2), "email": f"tech{u}@visitflow.test"}]})
        n += 3
        for r in range(reps):
            org["reps"].append({"name": person(n), "email": f"rep{u}.{r}@visitflow.test", "unit": uid, "region": f"r{u:02d}"})
            n += 1
    data["policy"]["gift"]["budgets"] = {f"u{u:02d}": 20000 for u in range(units)}
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return data


def fill(db_path: Path, cfg, units: int, reps: int, visits: int) -> dict:
    """Write the month's rows straight into the database; return what was written."""
    from service.store.db import open_db, transaction
    from service.workdays import WorkingDays

    rng = random.Random(7)
    db = open_db(db_path)
    days = WorkingDays(cfg.policy).working_days_in(date(2026, 11, 1), date(2026, 11, 30))
    stamp = "2026-11-01T00:00:00.000+00:00"
    counts = dict(messages=0, visits=0, customers=0, plan_visits=0, urgent=0, gifts=0)
    with transaction(db):
        db.execute("INSERT INTO raw_messages (sha256, size, bytes) VALUES ('bench', 1, x'00')")
        message_id = 0
        for u in range(units):
            uid, region = f"u{u:02d}", f"r{u:02d}"
            customers = []
            for c in range(200):
                tier = "A" if c < 20 else "B" if c < 60 else "C" if c < 140 else "D"
                name = f"{person(c + u)}{SHOPS[c % len(SHOPS)]}{c}"
                customers.append((f"{uid}-{c:04d}", name, tier))
            db.conn.executemany(
                "INSERT INTO customers (id, name, aliases, type, region, unit, tier, designated_visitor, "
                "salesperson_flag, imported_at, updated_at) VALUES (?, ?, '[]', 'retailer', ?, ?, ?, ?, ?, ?, ?)",
                [(cid, name, region, uid, tier, f"rep{u}.{i % reps}@visitflow.test" if i % 25 else f"sales{u}@visitflow.test",
                  0 if i % 25 else 1, stamp, stamp) for i, (cid, name, tier) in enumerate(customers)])
            counts["customers"] += len(customers)
            plan = db.execute("INSERT INTO plans (unit, period, period_start, period_end, submitted_by, version, "
                              "current, created_at) VALUES (?, ?, '2026-11-01', '2026-11-30', 'cli', 1, 1, ?)",
                              [uid, MONTH, stamp]).lastrowid
            plan_rows = []
            for r in range(reps):
                rep = f"rep{u}.{r}@visitflow.test"
                for i, day in enumerate(days):  # exactly `visits` visits, spread over the working days
                    take = visits * (i + 1) // len(days) - visits * i // len(days)
                    if not take:
                        continue
                    message_id += 1
                    received = f"{day.isoformat()}T10:00:00.000+00:00"
                    mid = db.execute(
                        "INSERT INTO messages (message_id, folder, uidvalidity, uid, raw_sha256, size, sender, subject, "
                        "sent_at, received_at, updated_at, state, kind, reason, delivered_at) VALUES "
                        "(?, 'Processed', 1, ?, 'bench', 1, ?, '巡访日报', ?, ?, ?, 'processed', 'daily_report', '', ?)",
                        [f"b{message_id}@bench", message_id, rep, f"{day.isoformat()}T17:30:00+08:00", received, received,
                         received]).lastrowid
                    counts["messages"] += 1
                    report = db.execute("INSERT INTO reports (message, rep, unit, region, report_date, source, current, "
                                        "created_at) VALUES (?, ?, ?, ?, ?, 'text', 1, ?)",
                                        [mid, rep, uid, region, day.isoformat(), received]).lastrowid
                    rows = []
                    for seq in range(take):
                        known = rng.random() < 0.9
                        cid, name, _ = customers[rng.randrange(len(customers))]
                        rows.append((report, seq + 1, name if known else f"未登记客户{rng.randrange(300)}",
                                     f"{day.isoformat()}T{9 + seq:02d}:30:00", rng.choice(FEEDBACK), rng.choice(MARKET),
                                     "客户同意增加订货", rng.choice(HANDLED), "",
                                     "库存充足" if seq % 2 else "", "新品礼盒",
                                     "冷柜温控异常，需上门检修" if rng.random() < 0.03 else None,
                                     "competitor_product" if rng.random() < 0.01 else None, cid if known else None))
                    db.conn.executemany(
                        "INSERT INTO visits (report, seq, customer, visited_at, feedback, market, effect, handled, other, "
                        "stock, products, tech_issue, urgent, customer_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        rows)
                    counts["visits"] += len(rows)
                for k in range(10):
                    cid, name, _ = customers[(r * 10 + k) % len(customers)]
                    day = days[(k * 2) % len(days)]
                    plan_rows.append((plan, len(plan_rows) + 2, day.isoformat(), day.isoformat(), day.isoformat(), name,
                                      cid, rep, "", f"{uid}-{r}-{k}"))
            db.conn.executemany("INSERT INTO plan_visits (plan, row, date, day_start, day_end, customer, customer_id, "
                                "visitor, purpose, uid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", plan_rows)
            counts["plan_visits"] += len(plan_rows)
            for k in range(3):
                created = f"2026-11-{5 + k * 7:02d}T02:00:00.000+00:00"
                rid = db.execute("INSERT INTO urgent_reports (origin, reporter, unit, region, category, customer, details, "
                                 "level, state, created_at, acknowledged_at) VALUES ('mail', ?, ?, ?, 'competitor_product', "
                                 "?, '竞品推出同类新品，价格低 10%', 'leadership', ?, ?, ?)",
                                 [f"rep{u}.{k}@visitflow.test", uid, region, customers[k][1],
                                  "acknowledged" if k else "open", created,
                                  f"2026-11-{5 + k * 7:02d}T05:00:00.000+00:00" if k else None]).lastrowid
                db.execute("INSERT INTO urgent_recipients (report, person, role, token, sent_at, acknowledged_at) "
                           "VALUES (?, ?, 'leadership', ?, ?, ?)",
                           [rid, "liu.zong@visitflow.test", f"t{u}-{k}", created,
                            f"2026-11-{5 + k * 7:02d}T05:00:00.000+00:00" if k else None])
                counts["urgent"] += 1
            for k in range(4):
                message_id += 1
                mid = db.execute(
                    "INSERT INTO messages (message_id, folder, uidvalidity, uid, raw_sha256, size, sender, subject, "
                    "received_at, updated_at, state, kind, reason) VALUES "
                    "(?, 'Processed', 1, ?, 'bench', 1, ?, '礼品申请', ?, ?, 'processed', 'gift_request', '')",
                    [f"b{message_id}@bench", message_id, f"rep{u}.{k}@visitflow.test", stamp, stamp]).lastrowid
                db.execute("INSERT INTO gift_requests (message, requester, unit, region, customer, items, quantity, amount, "
                           "reason, state, budget_period, created_at, decided_at) VALUES (?, ?, ?, ?, ?, '中秋月饼礼盒', "
                           "'10 盒', ?, '年度重点客户维护', ?, ?, ?, ?)",
                           [mid, f"rep{u}.{k}@visitflow.test", uid, region, customers[k][1], f"{1200 + k * 900}.00",
                            "approved" if k < 3 else "pending", MONTH, f"2026-11-{10 + k}T02:00:00.000+00:00",
                            f"2026-11-{11 + k}T02:00:00.000+00:00" if k < 3 else None])
                counts["gifts"] += 1
    db.close()
    return counts


def child(config: Path, out: Path) -> None:
    """Run every unit's report and the summary with phase timers; print one JSON line."""
    sys.path.insert(0, str(REPO))
    from service.config import load_config
    from service.context import Context
    from service.monthly import document, figures, runs
    from service.monthly.charts import Charts
    from service.monthly.figures import Month
    from service.workflows import monthly_report

    phases = {"query": 0.0, "charts": 0.0, "docx": 0.0, "xlsx": 0.0}
    cpu = dict.fromkeys(phases, 0.0)

    def timed(owner, name: str, phase: str, subtract: tuple[str, ...] = ()):
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            before = {p: (phases[p], cpu[p]) for p in subtract}
            start, start_cpu = time.perf_counter(), time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                phases[phase] += time.perf_counter() - start - sum(phases[p] - before[p][0] for p in subtract)
                cpu[phase] += time.process_time() - start_cpu - sum(cpu[p] - before[p][1] for p in subtract)
        setattr(owner, name, wrapper)

    for name in [n for n in dir(Charts) if not n.startswith("_") and callable(getattr(Charts, n))]:
        timed(Charts, name, "charts")
    timed(document, "write_workbook", "xlsx")
    timed(document, "render_docx", "docx", subtract=("charts",))
    timed(runs, "unit_report", "query")
    timed(monthly_report, "company_summary", "query")
    del figures
    ctx = Context.open(load_config(config))
    workers = int(os.environ.get("BENCH_WORKERS", "1"))
    start, start_cpu = time.perf_counter(), time.process_time()
    units_done = [start]

    def progress(unit: str) -> None:
        if unit != "*":
            units_done[0] = time.perf_counter()

    made = monthly_report.make_reports(ctx, Month(MONTH), at=datetime.now(ctx.cfg.policy.zone), send=False,
                                       out_dir=out, workers=workers, progress=progress)
    end = time.perf_counter()
    total, total_cpu = end - start, time.process_time() - start_cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    sizes = sum(m.docx.stat().st_size + m.xlsx.stat().st_size for m in made if m.docx)
    print(json.dumps({"total": total, "total_cpu": total_cpu, "summary_tail": end - units_done[0], "phases": phases, "phases_cpu": cpu, "peak_mb": peak, "worker_peak_mb": children,
                      "workers": workers, "files": len(made) * 2, "bytes": sizes}))


def _tree(pid: int) -> list[int]:
    """Return pid and its descendants (those alive now)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo.extend(int(child) for child in (task / "children").read_text().split())
            except OSError:
                pass
    return found


def _kib(path: str, key: str) -> int:
    try:
        with open(path) as handle:
            for line in handle:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class PeakSampler(threading.Thread):
    """Sample a process tree's summed RSS and PSS every ``interval`` seconds; keep the highest."""

    def __init__(self, pid: int, interval: float = 0.025):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.rss_kib = self.pss_kib = self.processes = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            pids = _tree(self.pid)
            self.rss_kib = max(self.rss_kib, sum(_kib(f"/proc/{p}/status", "VmRSS:") for p in pids))
            self.pss_kib = max(self.pss_kib, sum(_kib(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids))
            self.processes = max(self.processes, len(pids))
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=50)
    parser.add_argument("--reps", type=int, default=40)
    parser.add_argument("--visits", type=int, default=50, help="visits per rep in the month (default 50)")
    parser.add_argument("--workers", type=int, default=0, help="worker processes (default: one per CPU)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--child", nargs=2, metavar=("CONFIG", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]))
        return 0
    sys.path.insert(0, str(REPO))
    from service.config import load_config

    tmp = Path(tempfile.mkdtemp(prefix="vf-monthly-"))
    try:
        config = tmp / "config.yaml"
        write_config(config, tmp, args.units, args.reps)
        cfg = load_config(config)
        started = time.perf_counter()
        counts = fill(tmp / "visitflow.db", cfg, args.units, args.reps, args.visits)
        say(f"code {code_version()}; filled in {time.perf_counter() - started:.1f} s: {counts}")
        def measure(workers: int) -> dict | None:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            proc = subprocess.Popen([sys.executable, __file__, "--child", str(config), str(tmp / f"out{workers}")],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                                    env={**os.environ, "BENCH_WORKERS": str(workers)})
            sampler = PeakSampler(proc.pid)
            sampler.start()
            out, err = proc.communicate()
            sampler.stop()
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if proc.returncode != 0:
                say(out[-2000:] + err[-4000:])
                return None
            figures = json.loads(out.strip().splitlines()[-1])
            # CPU of the child and its workers (waited for, so counted in RUSAGE_CHILDREN), Python's start included.
            figures["cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            figures["sampled_rss_mb"] = sampler.rss_kib / 1024
            figures["sampled_pss_mb"] = sampler.pss_kib / 1024
            figures["processes"] = sampler.processes
            return figures

        def memory(figures: dict) -> str:
            peak = figures["sampled_pss_mb"]
            return (f"peak memory {peak:.0f} MB PSS summed over {figures['processes']} process(es), "
                    f"{figures['sampled_rss_mb']:.0f} MB RSS summed (sampled every 25 ms); own peaks: main "
                    f"{figures['peak_mb']:.0f} MB" + (f", largest worker {figures['worker_peak_mb']:.0f} MB"
                                                       if figures["workers"] > 1 else "")
                    + f"; target <= {TARGET_MB:.0f} MB -> {'met' if peak <= TARGET_MB else 'NOT met'}")

        serial = measure(1)
        if serial is None:
            return 1
        phases = serial["phases"]
        say(f"{args.units} units × {args.reps} reps × {args.visits} visits = {counts['visits']:,} visits: "
            f"{serial['files']} files, {serial['bytes'] / 1e6:.1f} MB")
        say("one process (time per phase, wall and CPU – CPU is steadier on a shared machine):")
        cpu = serial["phases_cpu"]
        for name in ("query", "charts", "docx", "xlsx"):
            say(f"  {name:<10} {phases[name]:8.2f} s  CPU {cpu[name]:6.2f} s")
        say(f"  {'other':<10} {serial['total'] - sum(phases.values()):8.2f} s  CPU "
            f"{serial['total_cpu'] - sum(cpu.values()):6.2f} s")
        say(f"  total {serial['total']:.2f} s, CPU {serial['total_cpu']:.2f} s ({serial['cpu']:.1f} s with Python's start "
            "and imports)")
        say(f"  {memory(serial)}")
        workers = args.workers or os.cpu_count() or 1
        figures = measure(workers) if workers > 1 else serial
        if figures is None:
            return 1
        say(f"as `visitflow report monthly` runs it ({workers} worker process(es), one per CPU):")
        say(f"  total {figures['total']:.2f} s; target <= {TARGET_SECONDS:.0f} s -> "
            f"{'met' if figures['total'] <= TARGET_SECONDS else 'NOT met'} ({figures['total'] / TARGET_SECONDS:.2f}x the target)"
            f"; CPU {figures['cpu']:.1f} s; the units took {figures['total'] - figures['summary_tail']:.2f} s, "
            f"the company summary after them {figures['summary_tail']:.2f} s")
        say(f"  {memory(figures)}")
        say(f"load average {os.getloadavg()[0]:.2f}")
        return 0
    finally:
        if args.keep:
            say(f"kept {tmp}")
        else:
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
