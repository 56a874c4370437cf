"""The words of the monthly report that are not in its Word template, one catalogue per language.

The Word templates (templates/reports/) hold the document's own sentences and headings; this
catalogue holds what Python has to write itself: the .xlsx sheet names and column headers,
the chart titles and axes, the names of categories and states, and the month as a phrase.
Each language has the same keys (a test checks it).
"""

from __future__ import annotations

from ..reading.urgent import URGENT_CATEGORIES

__all__ = ["CATALOGUE", "words"]

_ZH = {
    "month": "{year}年{month}月",
    "company": "公司汇总",
    "none": "—",
    "yes": "是",
    "no": "否",
    "per_month": "次/月",
    "per_quarter": "次/季",
    "never": "从未巡访",
    "file_stem": "每月巡访情况报告书",
    # Charts.
    "chart_per_day": "每日巡访次数",
    "chart_day_axis": "日期（日）",
    "chart_visits_axis": "巡访次数",
    "chart_tiers": "客户分级覆盖率",
    "chart_tier_axis": "客户等级",
    "chart_pct_axis": "百分比（%）",
    "chart_coverage": "按频次达标",
    "chart_plan": "计划完成",
    "chart_plan_vs_actual": "计划与实际巡访",
    "chart_plan_vs_actual_top": "计划与实际巡访（前 {n} 名）",
    "chart_planned": "计划",
    "chart_done": "已完成",
    "chart_tier_name": "{tier} 类",
    # States.
    "urgent_open": "未处理",
    "urgent_acknowledged": "已确认",
    "urgent_closed": "已关闭",
    "level_unit": "单位内",
    "level_leadership": "已上报领导",
    "gift_pending": "审批中",
    "gift_approved": "已批准",
    "gift_rejected": "已驳回",
    # Workbook sheets.
    "sheet_visits": "巡访明细",
    "sheet_discipline": "日报纪律",
    "sheet_per_rep": "营销员巡访",
    "sheet_tiers": "分级覆盖",
    "sheet_overdue": "逾期客户",
    "sheet_tech": "技术问题",
    "sheet_urgent": "紧急报告",
    "sheet_gifts": "礼品申请",
    "sheet_violations": "指定巡访人违规",
    "sheet_unmatched": "未匹配客户",
    "sheet_plan": "计划与实际",
    "sheet_units": "各单位概况",
}

_EN = {
    "month": "{month_name} {year}",
    "company": "Company summary",
    "none": "—",
    "yes": "yes",
    "no": "no",
    "per_month": "/ month",
    "per_quarter": "/ quarter",
    "never": "never visited",
    "file_stem": "monthly-visit-report",
    "chart_per_day": "Visits per day",
    "chart_day_axis": "Day of month",
    "chart_visits_axis": "Visits",
    "chart_tiers": "Coverage by customer tier",
    "chart_tier_axis": "Tier",
    "chart_pct_axis": "Percent",
    "chart_coverage": "Visited as required",
    "chart_plan": "Plan done",
    "chart_plan_vs_actual": "Planned vs done visits",
    "chart_plan_vs_actual_top": "Planned vs done visits (first {n})",
    "chart_planned": "Planned",
    "chart_done": "Done",
    "chart_tier_name": "Tier {tier}",
    "urgent_open": "open",
    "urgent_acknowledged": "acknowledged",
    "urgent_closed": "closed",
    "level_unit": "in the unit",
    "level_leadership": "with leadership",
    "gift_pending": "pending",
    "gift_approved": "approved",
    "gift_rejected": "rejected",
    "sheet_visits": "Visits",
    "sheet_discipline": "Report discipline",
    "sheet_per_rep": "Visits per rep",
    "sheet_tiers": "Tier coverage",
    "sheet_overdue": "Overdue customers",
    "sheet_tech": "Technical issues",
    "sheet_urgent": "Urgent reports",
    "sheet_gifts": "Gift requests",
    "sheet_violations": "Visitor violations",
    "sheet_unmatched": "Unmatched names",
    "sheet_plan": "Plan vs actual",
    "sheet_units": "Units",
}

_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December")

# Column headers: one per field name, shared by every sheet that has that field.
_COLUMNS = {
    # VisitRow, in its order.
    "unit": ("营业单位", "Unit"),
    "region": ("地区", "Region"),
    "rep": ("营销员", "Rep"),
    "rep_email": ("营销员邮箱", "Rep email"),
    "report_date": ("日报日期", "Report date"),
    "visited_at": ("巡访时间", "Visit time"),
    "visited_until": ("结束时间", "Visit until"),
    "customer": ("客户名称", "Customer"),
    "customer_matched": ("登记客户名称", "Registered customer"),
    "customer_id": ("客户编号", "Customer id"),
    "tier": ("等级", "Tier"),
    "feedback": ("客户意见", "Customer feedback"),
    "market": ("市场行情", "Market"),
    "effect": ("巡访效果", "Effect"),
    "handled": ("处理事项", "Matters handled"),
    "other": ("其他事项", "Other"),
    "stock": ("库存销售", "Stock and sales"),
    "products": ("推广产品", "Products promoted"),
    "tech_issue": ("技术问题", "Technical issue"),
    "tech_major": ("重大技术问题", "Major issue"),
    "urgent": ("紧急", "Urgent"),
    "submitted_at": ("日报收到时间", "Report received"),
    "late": ("迟报", "Late"),
    "cards": ("客户卡数", "Customer cards"),
    # The other sheets.
    "name": ("姓名", "Name"),
    "email": ("邮箱", "Email"),
    "due": ("应报天数", "Days due"),
    "on_time": ("按时", "On time"),
    "missing": ("未报", "Missing"),
    "on_time_pct": ("及时率（%）", "On time (%)"),
    "visits": ("巡访次数", "Visits"),
    "customers": ("客户数", "Customers"),
    "days": ("巡访天数", "Days"),
    "required": ("要求频次", "Required"),
    "visited_enough": ("达标客户", "Visited enough"),
    "coverage_pct": ("覆盖率（%）", "Coverage (%)"),
    "planned": ("计划巡访", "Planned"),
    "planned_done": ("计划已完成", "Planned done"),
    "plan_pct": ("计划完成率（%）", "Plan done (%)"),
    "visitor": ("巡访人", "Visitor"),
    "last_visit": ("最近巡访", "Last visit"),
    "days_since": ("间隔天数", "Days since"),
    "limit_days": ("限期天数", "Limit (days)"),
    "day": ("日期", "Date"),
    "text": ("内容", "Text"),
    "routed_to": ("转交", "Sent to"),
    "major": ("重大", "Major"),
    "ref": ("编号", "Ref"),
    "category": ("类别", "Category"),
    "reporter": ("报告人", "Reporter"),
    "created": ("提出时间", "Raised"),
    "acknowledged_after": ("确认用时（小时）", "Acknowledged after (h)"),
    "state": ("状态", "State"),
    "level": ("层级", "Level"),
    "requester": ("申请人", "Requester"),
    "items": ("礼品", "Gift"),
    "quantity": ("数量", "Quantity"),
    "amount": ("金额（元）", "Amount (CNY)"),
    "applied": ("申请时间", "Applied"),
    "decided": ("决定时间", "Decided"),
    "reps": ("营销员", "Reps"),
    "done": ("已完成", "Done"),
    "unit_id": ("单位编号", "Unit id"),
    "reps_reporting": ("有日报营销员", "Reps reporting"),
    "reports_due": ("应报日报", "Reports due"),
    "reports_on_time": ("按时日报", "On time"),
    "reports_late": ("迟报日报", "Late"),
    "reports_missing": ("未报日报", "Missing"),
    "customers_covered": ("达标客户", "Customers covered"),
    "planned_visits": ("计划巡访", "Planned visits"),
    "urgent_total": ("紧急报告", "Urgent reports"),
    "urgent_open": ("未结紧急报告", "Urgent open"),
    "gift_spent": ("礼品支出（元）", "Gift spend (CNY)"),
    "gift_budget": ("礼品预算（元）", "Gift budget (CNY)"),
}

CATALOGUE = {"zh-CN": _ZH, "en": _EN}


class Words:
    """Look words up in one language's catalogue."""

    def __init__(self, language: str):
        self.language = language
        self._index = 0 if language == "zh-CN" else 1
        self._words = CATALOGUE[language]

    def __getitem__(self, key: str) -> str:
        return self._words[key]

    def column(self, name: str) -> str:
        """Return the column header of a field name."""
        return _COLUMNS[name][self._index]

    def month(self, year: int, month: int) -> str:
        """Return the month as a phrase: 2026年11月, November 2026."""
        return self._words["month"].format(year=year, month=month, month_name=_MONTH_NAMES[month - 1])

    def category(self, key: str) -> str:
        """Return an urgent category's name (the key itself when unknown)."""
        names = URGENT_CATEGORIES.get(key)
        return names[self._index] if names else key

    def state(self, kind: str, value: str) -> str:
        """Return the words for a state: kind urgent, level or gift."""
        return self._words.get(f"{kind}_{value}", value)

    def flag(self, value: bool) -> str:
        return self._words["yes"] if value else self._words["no"]

    def required(self, visits: int, period: str) -> str:
        """Return a tier's required frequency: 4 次/月, 1 / quarter."""
        return f"{visits} {self._words['per_' + period]}"


def words(language: str) -> Words:
    """Return the catalogue of a language (zh-CN or en)."""
    return Words(language)
