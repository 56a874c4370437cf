"""Benchmark: missing-report reminders and daily digests for 50 units × 100 reps (spec §7: ≤ 10 s).

A day of reports (3 visits each, every fifth rep silent, one visit in ten flagged 紧急) is
stored straight into a fresh database; then the two jobs run as the scheduler runs them:
rendering every mail and queueing it in the outbox in one transaction each. Sending is not
part of the target (the outbox sender delivers at its own pace). Prints wall time per job
and the peak resident memory of the process.

    .venv/bin/python bench/digest.py [--units 50] [--reps 100]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from datetime import datetime, time as clock
from pathlib import Path

from common import REPO, say

import yaml  # noqa: E402

TARGET_SECONDS = 10.0
DAY = "2026-11-26"  # a Thursday, a working day


def build_config(tmp: Path, units: int, reps: int) -> Path:
    data = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    data["storage"] = {"database": str(tmp / "bench.db"), "reports_dir": str(tmp / "r"), "cards_dir": str(tmp / "c")}
    org = data["organisation"]
    org["units"], org["regions"], org["reps"] = [], [], []
    data["policy"]["gift"]["budgets"] = {}
    for u in range(units):
        org["units"].append({"id": f"u{u}", "name": f"事业部{u}", "head": {"name": f"主管{u}",
                                                                          "email": f"head{u}@visitflow.test"}})
        org["regions"].append({"id": f"r{u}", "name": f"地区{u}", "unit": f"u{u}",
                               "salespeople": [{"name": f"业务{u}", "email": f"sales{u}@visitflow.test"}],
                               "technical": [{"name": f"技术{u}", "email": f"tech{u}@visitflow.test"}]})
        for r in range(reps):
            org["reps"].append({"name": f"营销员{u}-{r}", "email": f"rep{u}.{r}@visitflow.test", "unit": f"u{u}",
                                "region": f"r{u}"})
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def fill(ctx, units: int, reps: int) -> int:
    from service.store import reports
    from service.store.db import transaction

    visits = 0
    with transaction(ctx.db):
        message = ctx.db.execute(
            "INSERT INTO raw_messages (sha256, size, bytes) VALUES ('bench', 0, x'')").lastrowid
        message = ctx.db.execute(
            "INSERT INTO messages (message_id, folder, uidvalidity, uid, raw_sha256, size, received_at, updated_at, "
            "state) VALUES ('bench@x', 'INBOX', 1, 1, 'bench', 0, '2026-11-26T00:00:00', '2026-11-26T00:00:00', "
            "'processed')").lastrowid
        for u in range(units):
            for r in range(reps):
                if r % 5 == 4:
                    continue  # a silent rep
                rows = []
                for seq in range(1, 4):
                    rows.append({"seq": seq, "customer": f"客户{u}-{r}-{seq}有限公司", "visited_at": f"{DAY}T{seq + 7:02d}:30:00",
                                 "visited_until": None, "feedback": "希望增加小包装规格，并在春节前保证供货" * 2,
                                 "market": "竞品本月降价5%，并推出买赠活动", "effect": "客户同意增加订货",
                                 "handled": "协调补货，已于当日完成", "other": None, "stock": None, "products": None,
                                 "tech_issue": "冷柜温控故障" if seq == 2 and r % 10 == 0 else None,
                                 "tech_major": 0, "urgent": "competitor_product" if (r + seq) % 10 == 0 else None})
                reports.save_report(ctx.db, message=message, rep=f"rep{u}.{r}@visitflow.test", unit=f"u{u}",
                                    region=f"r{u}", report_date=DAY, source="text", visits=rows)
                visits += len(rows)
    return visits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=50)
    parser.add_argument("--reps", type=int, default=100)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from service.config import load_config
    from service.context import Context
    from service.scheduler import run_job

    with tempfile.TemporaryDirectory(prefix="vf-bench-digest-") as tmp:
        ctx = Context.open(load_config(build_config(Path(tmp), args.units, args.reps)))
        visits = fill(ctx, args.units, args.reps)
        say(f"stored: {args.units} units × {args.reps} reps, {visits} visits on {DAY}")
        zone = ctx.cfg.policy.zone
        day = datetime.fromisoformat(DAY).date()
        total = 0.0
        for job, at in (("missing_reminders", clock(17, 0)), ("daily_digest", clock(18, 0))):
            start = time.perf_counter()
            summary = run_job(ctx, job, datetime.combine(day, at, tzinfo=zone))
            seconds = time.perf_counter() - start
            total += seconds
            say(f"{job}: {seconds:.2f} s ({summary})")
        queued = ctx.db.execute("SELECT count(*), sum(length(raw)) FROM outbox").fetchone()
        ctx.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    say(f"mails queued: {queued[0]} ({queued[1] / 1e6:.1f} MB)")
    say(f"total: {total:.2f} s, target ≤ {TARGET_SECONDS:.0f} s: ratio {total / TARGET_SECONDS:.2f} "
        f"({'met' if total <= TARGET_SECONDS else 'NOT met'}); peak RSS {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
