"""A hand-made month of one unit for the monthly report tests (and for looking at the result).

Four reps (one silent all month), three tiers, urgent reports in each state, gifts against a
budget, a designated-visitor violation, an unmatched customer name, and text that tries the
writer: '<' and '&', an emoji, a control character, docxtpl's own tag escape, a very long text.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

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
    Violation,
    VisitRow,
)

CST = timezone(timedelta(hours=8))
EAST = UnitInfo(id="east", name="华东事业部", head="王芳")
NORTH = UnitInfo(id="north", name="华北事业部", head="Chen Jing")
LONG_TEXT = "客户详细说明了新款节能灯在仓库高温环境下的表现，" * 60 + "结尾句"   # about 1,500 characters
TRICKY_TEXT = "价格 <5% & 返利>3%，客户很满意👍\x07 {_{ 不是标签 }_}"

# (rep, email, region, day, customer as written, registry name, id, tier, feedback, market, handled,
#  tech issue, major, urgent)
_VISITS = [
    ("李雷", "li.lei@visitflow.test", "上海", 3, "上海华联超市", "上海华联超市（浦东店）", "C001", "A",
     "希望下月前补货 LED-9W。", "竞品降价 5%。", "已处理退货 3 件。", "", False, None),
    ("李雷", "li.lei@visitflow.test", "上海", 3, "浦东五金", "浦东五金批发部", "C002", "B",
     TRICKY_TEXT, "", "", "灯管批量闪烁，重大", True, "product_defect"),
    ("李雷", "li.lei@visitflow.test", "上海", 10, "上海华联超市", "上海华联超市（浦东店）", "C001", "A",
     LONG_TEXT, "对手推出新品 X1。", "", "", False, None),
    ("李雷", "li.lei@visitflow.test", "上海", 17, "上海华联超市", "上海华联超市（浦东店）", "C001", "A",
     "投诉：上次送货延误两天。", "", "已协调物流。", "", False, None),
    ("韩梅梅", "han.meimei@visitflow.test", "杭州", 4, "杭州百货", "杭州百货大楼", "C010", "A",
     "对包装很满意。", "本地市场淡季。", "", "", False, None),
    ("韩梅梅", "han.meimei@visitflow.test", "杭州", 11, "西湖照明", None, None, None,
     "询问代理政策。", "", "", "", False, None),
    ("韩梅梅", "han.meimei@visitflow.test", "杭州", 18, "杭州百货", "杭州百货大楼", "C010", "A",
     "", "竞品在商场做促销。", "处理了价格标签错误。", "调光器兼容性问题", False, None),
    ("张伟", "zhang.wei@visitflow.test", "上海", 5, "浦东五金", "浦东五金批发部", "C002", "B",
     "希望增加培训。", "", "安排了技术讲座。", "", False, None),
    ("张伟", "zhang.wei@visitflow.test", "上海", 21, "松江建材", "松江建材市场", "C003", "C",
     "", "", "回收旧样品。", "", False, None),
    ("张伟", "zhang.wei@visitflow.test", "上海", 28, "西湖照明", None, None, None,
     "", "听说对手返利提高。", "", "", False, None),
]


def visit_rows() -> list[VisitRow]:
    """Return the month's visits as the figures engineer would hand them over."""
    rows = []
    for i, (rep, email, region, day, customer, matched, cid, tier, feedback, market, handled, tech, major,
            urgent) in enumerate(_VISITS):
        at = datetime(2026, 11, day, 9 + i % 5, 30)
        rows.append(VisitRow(
            unit="华东事业部", region=region, rep=rep, rep_email=email, report_date=at.date(), visited_at=at,
            visited_until=at + timedelta(hours=1) if i % 2 else None, customer=customer,
            customer_matched=matched, customer_id=cid, tier=tier, feedback=feedback, market=market,
            effect="效果良好" if i % 3 == 0 else "", handled=handled, other="", stock="库存 200 箱" if i == 0 else "",
            products="LED-9W" if i < 3 else "", tech_issue=tech, tech_major=major, urgent=urgent,
            submitted_at=datetime(2026, 11, day, 18, 5, tzinfo=CST) + timedelta(days=1 if i == 3 else 0),
            late=i == 3, cards=1 if i == 0 else 0))
    return rows


def _entries(visits: list[VisitRow], field: str) -> list[TextEntry]:
    return [TextEntry(customer=v.customer_matched or v.customer, rep=v.rep, day=v.report_date,
                      text=getattr(v, field)) for v in visits if getattr(v, field)]


def sample_report(language: str = "zh-CN") -> MonthlyReport:
    """Return the sample month of 华东事业部, November 2026."""
    visits = visit_rows()
    per_day: dict[date, int] = {}
    for v in visits:
        per_day[v.report_date] = per_day.get(v.report_date, 0) + 1
    return MonthlyReport(
        month="2026-11", unit=EAST, generated_at=datetime(2026, 12, 1, 8, 0, tzinfo=CST), language=language,
        kpis=Kpis(visits=len(visits), reps=4, reps_reporting=3, reports_due=84, reports_on_time=40,
                  reports_late=2, reports_missing=42, customers=6, customers_covered=2, planned_visits=12,
                  planned_done=7, urgent_total=3, urgent_open=2, gift_spent=Decimal("6200.00"),
                  gift_budget=Decimal("20000.00")),
        discipline=[RepDiscipline("李雷", "li.lei@visitflow.test", 21, 18, 1, 2),
                    RepDiscipline("韩梅梅", "han.meimei@visitflow.test", 21, 12, 1, 8),
                    RepDiscipline("张伟", "zhang.wei@visitflow.test", 21, 10, 0, 11),
                    RepDiscipline("赵六", "zhao.liu@visitflow.test", 21, 0, 0, 21)],
        visits_per_rep=[RepVisits("李雷", "li.lei@visitflow.test", 4, 2, 3),
                        RepVisits("韩梅梅", "han.meimei@visitflow.test", 3, 2, 3),
                        RepVisits("张伟", "zhang.wei@visitflow.test", 3, 3, 3),
                        RepVisits("赵六", "zhao.liu@visitflow.test", 0, 0, 0)],
        tier_coverage=[TierCoverage("A", 2, 4, "month", 0, 8, 5),
                       TierCoverage("B", 2, 2, "month", 1, 3, 1),
                       TierCoverage("C", 1, 1, "month", 1, 1, 1),
                       TierCoverage("D", 1, 1, "quarter", 0, 0, 0)],
        overdue=[OverdueCustomer("嘉定灯具城", "D", "上海", "赵强", None, None, 100),
                 OverdueCustomer("杭州百货大楼", "A", "杭州", "韩梅梅", date(2026, 11, 18), 12, 10)],
        feedback=_entries(visits, "feedback"), market=_entries(visits, "market"),
        handled=_entries(visits, "handled"),
        tech_issues=[TechIssue("浦东五金批发部", "李雷", date(2026, 11, 3), "灯管批量闪烁，重大",
                               ("孙丽", "生产部", "技术部"), True),
                     TechIssue("杭州百货大楼", "韩梅梅", date(2026, 11, 18), "调光器兼容性问题", ("周敏", "吴磊"))],
        urgent=[UrgentItem("VF-U-7", "product_defect", "浦东五金批发部", "李雷",
                           datetime(2026, 11, 3, 10, 15, tzinfo=CST), 1.5, "acknowledged", "leadership"),
                UrgentItem("VF-U-9", "competitor_product", "上海华联超市（浦东店）", "李雷",
                           datetime(2026, 11, 10, 14, 0, tzinfo=CST), None, "open"),
                UrgentItem("VF-U-12", "other", None, "王芳", datetime(2026, 11, 20, 9, 0, tzinfo=CST), 26.25,
                           "closed")],
        gifts=[GiftItem("VF-G-3", "上海华联超市（浦东店）", "李雷", "茶叶礼盒", "2 盒", Decimal("1200.00"), "approved",
                        datetime(2026, 11, 5, 10, 0, tzinfo=CST), datetime(2026, 11, 5, 16, 0, tzinfo=CST)),
               GiftItem("VF-G-4", "杭州百货大楼", "韩梅梅", "定制台灯", "10 台", Decimal("5000.00"), "approved",
                        datetime(2026, 11, 12, 9, 0, tzinfo=CST), datetime(2026, 11, 13, 11, 0, tzinfo=CST)),
               GiftItem("VF-G-6", "浦东五金批发部", "张伟", "购物卡", "1 张", Decimal("800.00"), "rejected",
                        datetime(2026, 11, 25, 9, 0, tzinfo=CST), datetime(2026, 11, 25, 12, 0, tzinfo=CST))],
        gift_budget=GiftBudget("2026-11", Decimal("6200.00"), Decimal("20000.00")),
        violations=[Violation("嘉定灯具城", "上海", "赵强")],
        unmatched=[UnmatchedName("西湖照明", 2, ("韩梅梅", "张伟"))],
        plan_vs_actual=[PlanRow("李雷", 5, 4), PlanRow("韩梅梅", 4, 2), PlanRow("张伟", 2, 1), PlanRow("赵六", 1, 0)],
        visits_per_day=sorted(per_day.items()),
        visits=visits,
    )


def summary_report(language: str = "zh-CN") -> MonthlyReport:
    """Return a company summary over the sample unit and a quiet second unit."""
    east = sample_report(language)
    north = Kpis(visits=0, reps=1, reports_due=21, reports_missing=21, gift_budget=Decimal("10000.00"))
    return MonthlyReport(
        month="2026-11", unit=None, generated_at=east.generated_at, language=language, kpis=east.kpis,
        units=[UnitSummary(EAST, east.kpis), UnitSummary(NORTH, north)],
        discipline=east.discipline, visits_per_rep=east.visits_per_rep, tier_coverage=east.tier_coverage,
        plan_vs_actual=[PlanRow("华东事业部", 12, 7), PlanRow("华北事业部", 0, 0)],
        visits_per_day=east.visits_per_day, feedback=east.feedback, visits=east.visits)
