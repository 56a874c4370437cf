"""Time the monthly report's rendering half: charts, Word documents, workbooks (spec §7, issue 11).

Builds a synthetic month in memory – 50 units × 40 reps × 50 visits = 100,000 visits, every
field filled, free text on most visits – as ``service.monthly.model`` objects (no database:
computing the figures is the other half), then prints seconds for

1. the three charts of one unit, and of all 51 reports;
2. the .docx of one 2,000-visit unit (default limits), and the docxtpl rendering of a
   2,000-row table (the overdue list with the row limit lifted);
3. the .xlsx of the company's 100,000 visits;
4. everything: ``write_report`` for 50 units + the company summary (docx, charts, xlsx);

and the peak resident memory. Not a test; the spec's target (≤ 15 s and ≤ 400 MB for the
whole monthly run, figures included) is the lead's to measure end to end.

    .venv/bin/python bench/monthly_render.py [--units 50] [--reps 40] [--visits 50] [--keep DIR]
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from service.monthly import document as doc
from service.monthly.charts import Charts
from service.monthly.labels import words
from service.monthly.model import (
    GiftBudget,
    GiftItem,
    Kpis,
    MonthlyReport,
    OverdueCustomer,
    PlanRow,
    RepDiscipline,
    RepVisits,
    TechIssue,
    TextEntry,
    TierCoverage,
    UnitInfo,
    UnitSummary,
    UnmatchedName,
    UrgentItem,
    VisitRow,
)
from service.monthly.workbook import write_workbook

CST = timezone(timedelta(hours=8))
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"
PHRASES = ["客户希望下月前补货 LED-9W，并询问新款节能灯的批量价格。", "竞品在本地商场做促销，降价约 5%，返利提高。",
           "已处理退货 3 件，客户对处理结果满意。", "客户反映送货延误两天，要求改进物流安排。",
           "安排了技术讲座，讲解调光器与旧灯具的兼容性。"]


def unit_report(u: int, reps: int, per_rep: int, rng: random.Random) -> MonthlyReport:
    """Return one unit's month: reps × per_rep visits with every field, and the lists around them."""
    unit = UnitInfo(id=f"unit{u:02d}", name=f"第{u + 1}事业部", head=f"主管{u + 1}")
    visits, discipline, per_rep_rows, plan = [], [], [], []
    feedback, market, handled, tech = [], [], [], []
    per_day: dict[date, int] = {}
    for r in range(reps):
        name = SURNAMES[(u + r) % len(SURNAMES)] + GIVEN[r % len(GIVEN)] + (GIVEN[(u * 7 + r) % len(GIVEN)] if r % 2 else "")
        email = f"rep{u:02d}{r:02d}@visitflow.test"
        for i in range(per_rep):
            day = date(2026, 11, 1 + (i * 30 // per_rep))
            at = datetime(day.year, day.month, day.day, 9 + i % 8, 15 * (i % 4))
            customer = f"客户{u:02d}{rng.randrange(120):03d}有限公司"
            text = rng.choice(PHRASES)
            v = VisitRow(unit=unit.name, region=f"地区{r % 4}", rep=name, rep_email=email, report_date=day,
                         visited_at=at, visited_until=at + timedelta(hours=1), customer=customer,
                         customer_matched=customer, customer_id=f"C{u:02d}{i:03d}", tier="ABCD"[i % 4],
                         feedback=text, market=PHRASES[1] if i % 3 == 0 else "", effect="良好",
                         handled=PHRASES[2] if i % 4 == 0 else "", other="", stock="库存 200 箱", products="LED-9W",
                         tech_issue="调光器兼容性问题" if i % 25 == 0 else "", tech_major=i % 50 == 0,
                         urgent=None, submitted_at=at.replace(hour=18, tzinfo=CST), late=i % 17 == 0, cards=i % 2)
            visits.append(v)
            per_day[day] = per_day.get(day, 0) + 1
            feedback.append(TextEntry(customer, name, day, v.feedback))
            if v.market:
                market.append(TextEntry(customer, name, day, v.market))
            if v.handled:
                handled.append(TextEntry(customer, name, day, v.handled))
            if v.tech_issue:
                tech.append(TechIssue(customer, name, day, v.tech_issue, ("技术员甲",), v.tech_major))
        discipline.append(RepDiscipline(name, email, 21, 18, 2, 1))
        per_rep_rows.append(RepVisits(name, email, per_rep, min(per_rep, 30), 20))
        plan.append(PlanRow(name, 12, rng.randrange(13)))
    kpis = Kpis(visits=len(visits), reps=reps, reps_reporting=reps, reports_due=21 * reps,
                reports_on_time=18 * reps, reports_late=2 * reps, reports_missing=reps, customers=120,
                customers_covered=rng.randrange(120), planned_visits=12 * reps,
                planned_done=sum(p.done for p in plan), urgent_total=3, urgent_open=1,
                gift_spent=Decimal("6200.00"), gift_budget=Decimal("20000.00"))
    return MonthlyReport(
        month="2026-11", unit=unit, generated_at=datetime(2026, 12, 1, 8, tzinfo=CST), kpis=kpis,
        discipline=discipline, visits_per_rep=per_rep_rows,
        tier_coverage=[TierCoverage(t, 30, n, p, rng.randrange(31), 40, rng.randrange(41))
                       for t, n, p in (("A", 4, "month"), ("B", 2, "month"), ("C", 1, "month"), ("D", 1, "quarter"))],
        overdue=[OverdueCustomer(f"客户{u:02d}{k:03d}有限公司", "A", "地区1", "王伟", date(2026, 10, 1), 60, 10)
                 for k in range(20)],
        feedback=feedback, market=market, handled=handled, tech_issues=tech,
        urgent=[UrgentItem(f"VF-U-{u * 3 + k}", "competitor_product", "客户", "王伟",
                           datetime(2026, 11, 5 + k, 10, tzinfo=CST), 2.0 if k else None, "open" if k == 0 else "closed")
                for k in range(3)],
        gifts=[GiftItem(f"VF-G-{u * 4 + k}", "客户", "王伟", "茶叶礼盒", "2 盒", Decimal("1550.00"), "approved",
                        datetime(2026, 11, 3 + k, 9, tzinfo=CST), datetime(2026, 11, 4 + k, 9, tzinfo=CST))
               for k in range(4)],
        gift_budget=GiftBudget("2026-11", Decimal("6200.00"), Decimal("20000.00")),
        unmatched=[UnmatchedName("某某灯具店", 2, ("王伟",))], plan_vs_actual=plan,
        visits_per_day=sorted(per_day.items()), visits=visits)


def summary_of(reports: list[MonthlyReport]) -> MonthlyReport:
    """Return the company summary over the unit reports (every visit, every list)."""
    def every(name):
        return [item for r in reports for item in getattr(r, name)]
    k = reports[0].kpis
    per_day: dict[date, int] = {}
    for r in reports:
        for day, n in r.visits_per_day:
            per_day[day] = per_day.get(day, 0) + n
    return MonthlyReport(
        month="2026-11", unit=None, generated_at=reports[0].generated_at, kpis=k,
        units=[UnitSummary(r.unit, r.kpis) for r in reports], discipline=every("discipline"),
        visits_per_rep=every("visits_per_rep"), tier_coverage=reports[0].tier_coverage, overdue=every("overdue"),
        feedback=every("feedback"), market=every("market"), handled=every("handled"),
        tech_issues=every("tech_issues"), urgent=every("urgent"), gifts=every("gifts"),
        unmatched=every("unmatched"),
        plan_vs_actual=[PlanRow(r.unit.name, r.kpis.planned_visits, r.kpis.planned_done) for r in reports],
        visits_per_day=sorted(per_day.items()), visits=every("visits"))


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, action):
    started = time.perf_counter()
    result = action()
    print(f"{label:<58} {time.perf_counter() - started:7.2f} s   (peak RSS {peak_mb():.0f} MB)", flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=50)
    parser.add_argument("--reps", type=int, default=40)
    parser.add_argument("--visits", type=int, default=50, help="visits per rep")
    parser.add_argument("--keep", type=Path, help="write the files here and keep them")
    args = parser.parse_args(argv)
    out = args.keep or Path(tempfile.mkdtemp(prefix="vf-monthly-bench-"))
    rng = random.Random(11)
    try:
        reports = timed(f"build the model ({args.units} units × {args.reps} reps × {args.visits} visits)",
                        lambda: [unit_report(u, args.reps, args.visits, rng) for u in range(args.units)])
        summary = summary_of(reports)
        print(f"  {len(summary.visits):,} visits; the model alone: peak RSS {peak_mb():.0f} MB")
        w = words("zh-CN")
        charts = Charts()
        first = reports[0]
        timed("warm-up: fonts, templates, imports (one unit's report)",
              lambda: doc.write_report(first, out / "warmup", charts=charts))

        def three(r):
            charts.visits_per_day(w, 2026, 11, r.visits_per_day)
            charts.tier_coverage(w, r.tier_coverage)
            charts.plan_vs_actual(w, r.plan_vs_actual)
        timed("charts: the three of one unit", lambda: three(first))
        timed(f"charts: the three of all {len(reports) + 1} reports", lambda: [three(r) for r in reports + [summary]])
        timed(f"docx: one unit of {len(first.visits):,} visits (default limits)",
              lambda: doc.render_docx(first, charts=charts, xlsx_name="x.xlsx"))
        big = MonthlyReport(month=first.month, unit=first.unit, generated_at=first.generated_at,
                            overdue=first.overdue * (2000 // len(first.overdue)))
        timed("docx: a 2,000-row table (overdue list, no row limit)",
              lambda: doc.render_docx(big, charts=charts, limits=doc.Limits(rows=10_000)))
        timed(f"xlsx: the company's {len(summary.visits):,} visits",
              lambda: write_workbook(summary, out / "summary-only.xlsx", w))
        (out / "all").mkdir(exist_ok=True)
        started = time.perf_counter()
        for r in reports:
            doc.write_report(r, out / "all", charts=charts)
        doc.write_report(summary, out / "all", charts=charts)
        seconds = time.perf_counter() - started
        print(f"{'everything: ' + str(len(reports)) + ' unit reports + the summary (docx, charts, xlsx)':<58} "
              f"{seconds:7.2f} s   (peak RSS {peak_mb():.0f} MB)")
        size = sum(p.stat().st_size for p in (out / "all").iterdir())
        print(f"  {len(list((out / 'all').iterdir()))} files, {size / 1e6:.1f} MB in {out / 'all'}")
    finally:
        if not args.keep:
            shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
