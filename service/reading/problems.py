"""Say what is wrong with a mail, in the reader's language (zh-CN or en)."""

from __future__ import annotations

from .wordform import DAILY_COLUMNS

# data name -> (中文 label, English label): the daily report's columns plus the other formats' fields.
FIELD_NAMES = {
    **{name: (zh, en) for name, zh, en in DAILY_COLUMNS},
    "date": ("日期", "Date"),
    "items": ("礼品", "Gift"),
    "quantity": ("数量", "Quantity"),
    "amount": ("预算金额", "Amount"),
    "reason": ("事由", "Reason"),
    "planned_date": ("赠送日期", "Date"),
}

# code -> (zh-CN, en); {field} {value} are filled in.
MESSAGES = {
    "no_visits": ("邮件中没有找到巡访记录：每条巡访需要“客户名称：”和“巡访时间：”两行。",
                  "No visit found: each visit needs a \"Customer:\" line and a \"Visit time:\" line."),
    "missing": ("缺少“{field}”。", "\"{field}\" is missing."),
    "no_content": ("客户意见、市场行情、巡访效果、处理事项至少要填写一项。",
                   "Write at least one of Customer feedback, Market, Effect, Matters handled."),
    "time_empty": ("“{field}”是空的。", "\"{field}\" is empty."),
    "time_no_time": ("“{field}”只有日期没有时间：“{value}”，请写成 2026-11-26 09:30。",
                     "\"{field}\" has a date but no time of day: \"{value}\"; write e.g. 2026-11-26 09:30."),
    "time_unparseable": ("“{field}”无法识别：“{value}”，请写成 2026-11-26 09:30、9:30-11:00 或 下午2:30。",
                         "\"{field}\" cannot be read: \"{value}\"; write e.g. 2026-11-26 09:30, 9:30-11:00 or 2:30 PM."),
    "time_bad_date": ("“{field}”中的日期不存在：“{value}”。", "\"{field}\" has a date that does not exist: \"{value}\"."),
    "time_bad_time": ("“{field}”中的时间不存在：“{value}”。", "\"{field}\" has a time that does not exist: \"{value}\"."),
    "time_end_before_start": ("“{field}”的结束时间早于开始时间：“{value}”。",
                              "\"{field}\" ends before it starts: \"{value}\"."),
    "two_dates": ("邮件中写了两个不同的“日期”：{value}。", "Two different dates are given: {value}."),
    "date_empty": ("“{field}”是空的。", "\"{field}\" is empty."),
    "date_unparseable": ("“{field}”无法识别：“{value}”，请写成 2026-11-26。",
                         "\"{field}\" cannot be read: \"{value}\"; write e.g. 2026-11-26."),
    "date_bad_date": ("“{field}”不存在：“{value}”。", "\"{field}\" does not exist: \"{value}\"."),
    "date_no_time": ("“{field}”无法识别：“{value}”。", "\"{field}\" cannot be read: \"{value}\"."),
    "amount_empty": ("“{field}”是空的。", "\"{field}\" is empty."),
    "amount_unparseable": ("“{field}”无法识别：“{value}”，请写成 ¥1,200 或 1200元。",
                           "\"{field}\" cannot be read: \"{value}\"; write e.g. ¥1,200 or 1200 CNY."),
    "amount_negative": ("“{field}”不能为负数：“{value}”。", "\"{field}\" cannot be negative: \"{value}\"."),
    "amount_zero": ("“{field}”必须大于零：“{value}”。", "\"{field}\" must be more than zero: \"{value}\"."),
    "amount_too_many_decimals": ("“{field}”最多两位小数：“{value}”。",
                                 "\"{field}\" has more than two decimals: \"{value}\"."),
    "gift_twice": ("“{field}”写了两次且内容不同。", "\"{field}\" is given twice with different values."),
    "bad_urgent": ("“紧急”的类别无法识别：“{value}”。可选：同行销售政策重大变化、同行新产品上市、"
                   "同行销售或服务新动向、本公司产品重大缺陷、其他紧急事项。",
                   "\"Urgent\" names no known category: \"{value}\". Choose one of: Competitor policy change, "
                   "Competitor new product, Competitor trend, Product defect, Other."),
    "form_unreadable": ("附件中的巡访日报表无法读取：{value}", "The attached daily report form cannot be read: {value}"),
}


def describe(problem, language: str) -> str:
    """Return the problem as one sentence, prefixed with its visit number."""
    en = language == "en"
    template = MESSAGES.get(problem.code, ("无法处理：{value}", "Cannot process: {value}"))[1 if en else 0]
    names = FIELD_NAMES.get(problem.field or "", (problem.field or "", problem.field or ""))
    field = names[1] if en else f"{names[0]} {names[1]}"
    text = template.format(field=field, value=problem.value)
    if problem.visit is not None:
        text = (f"Visit {problem.visit}: " if en else f"第 {problem.visit} 条巡访：") + text
    return text
