"""Say what is wrong with a mail, in the reader's language (zh-CN or en)."""

from __future__ import annotations

from dataclasses import dataclass

from .wordform import DAILY_COLUMNS


@dataclass(frozen=True)
class Problem:
    """Name one thing wrong with a mail: a code from MESSAGES and where (visit, field, value)."""

    code: str
    visit: int | None = None  # 1-based visit number
    field: str | None = None  # data name
    value: str = ""
    details: tuple[tuple[str, str], ...] = ()  # more named values for the sentence, e.g. both amounts

    def text(self, language: str) -> str:
        """Return this problem as a sentence for the sender, in ``language`` (zh-CN or en)."""
        return describe(self, language)


# data name -> (中文 label, English label): the daily report's columns plus the other formats' fields.
FIELD_NAMES = {
    **{name: (zh, en) for name, zh, en in DAILY_COLUMNS},
    "date": ("日期", "Date"),
    "items": ("礼品", "Gift"),
    "quantity": ("数量", "Quantity"),
    "amount": ("预算金额", "Amount"),
    "reason": ("事由", "Reason"),
    "planned_date": ("赠送日期", "Date"),
    "category": ("类别", "Category"),
    "details": ("内容", "Details"),
    "suggestion": ("建议", "Suggestion"),
}

# code -> (zh-CN, en); {field} {value} are filled in.
MESSAGES = {
    "no_visits": ("邮件中没有找到巡访记录：每条巡访需要“客户名称：”和“巡访时间：”两行。",
                  "No visit found: each visit needs a \"Customer:\" line and a \"Visit time:\" line."),
    "example_copied": ("邮件里只有本服务邮件中的示例，没有您自己的巡访记录（示例不会被保存）。请填写您当天实际的巡访后重新发送。",
                       "The mail holds only the example from one of our mails, not visits of your own (examples are "
                       "never stored). Please write the visits you actually made and send it again."),
    "missing": ("缺少“{field}”。", "\"{field}\" is missing."),
    "no_content": ("客户意见、市场行情、巡访效果、处理事项至少要填写一项。",
                   "Write at least one of Customer feedback, Market, Effect, Matters handled."),
    "time_empty": ("“{field}”是空的。", "\"{field}\" is empty."),
    "time_no_time": ("“{field}”只有日期没有时间：“{value}”，请写成 2026-11-26 09:30。",
                     "\"{field}\" has a date but no time of day: \"{value}\"; write e.g. 2026-11-26 09:30."),
    # Also for a date-like word that is not understood: the visit is never put on the report date instead.
    "time_unparseable": ("“{field}”无法识别：“{value}”。请写明日期和时间，例如 2026-11-26 09:30、11月26日 下午2:30、"
                         "周三 9:30；只写时间（如 9:30-11:00）表示报告当天。",
                         "\"{field}\" cannot be read: \"{value}\". Write the date and the time, e.g. 2026-11-26 09:30, "
                         "Nov 26 2:30 PM or Wednesday 9:30; a time alone (9:30-11:00) means the report date."),
    "time_bad_date": ("“{field}”中的日期不存在：“{value}”。", "\"{field}\" has a date that does not exist: \"{value}\"."),
    "time_weekday_mismatch": ("“{field}”中的日期与星期几不一致：“{value}”，请核对日期。",
                              "\"{field}\" gives a date and a weekday that do not agree: \"{value}\"; check the date."),
    "time_bad_time": ("“{field}”中的时间不存在，或与时段不符：“{value}”（中午是 11–13 点，晚上是 17–24 点）。"
                      "请写成 24 小时制如 15:00，或写清时段如“下午3点”“凌晨3点”。",
                      "\"{field}\" has a time that does not exist or does not fit its part of the day: \"{value}\" "
                      "(noon is 11–13 h, evening 17–24 h). Write e.g. 15:00, 3 PM or 3 AM."),
    "time_end_before_start": ("“{field}”的结束时间早于开始时间：“{value}”。",
                              "\"{field}\" ends before it starts: \"{value}\"."),
    "two_dates": ("邮件中写了两个不同的“日期”：{value}。", "Two different dates are given: {value}."),
    "date_empty": ("“{field}”是空的。", "\"{field}\" is empty."),
    "date_unparseable": ("“{field}”无法识别：“{value}”，请写成 2026-11-26。",
                         "\"{field}\" cannot be read: \"{value}\"; write e.g. 2026-11-26."),
    "date_bad_date": ("“{field}”不存在：“{value}”。", "\"{field}\" does not exist: \"{value}\"."),
    "date_weekday_mismatch": ("“{field}”中的日期与星期几不一致：“{value}”，请核对日期。",
                              "\"{field}\" gives a date and a weekday that do not agree: \"{value}\"; check the date."),
    "date_no_time": ("“{field}”无法识别：“{value}”。", "\"{field}\" cannot be read: \"{value}\"."),
    "amount_empty": ("“{field}”是空的。", "\"{field}\" is empty."),
    "amount_unparseable": ("“{field}”无法识别：“{value}”，请写成 ¥1,200 或 1200元。",
                           "\"{field}\" cannot be read: \"{value}\"; write e.g. ¥1,200 or 1200 CNY."),
    "amount_negative": ("“{field}”不能为负数：“{value}”。", "\"{field}\" cannot be negative: \"{value}\"."),
    "amount_zero": ("“{field}”必须大于零：“{value}”。", "\"{field}\" must be more than zero: \"{value}\"."),
    "amount_too_many_decimals": ("“{field}”最多两位小数：“{value}”。",
                                 "\"{field}\" has more than two decimals: \"{value}\"."),
    # {figures} and {words}: the two amounts the sender wrote, neither is taken.
    "amount_mismatch": ("“{field}”的金额数字 {figures} 与大写 {words} 不一致：“{value}”，请改正后重新发送。",
                        "\"{field}\": the figures say {figures} but the words say {words}: \"{value}\"; "
                        "please correct it and send again."),
    "field_twice": ("“{field}”写了两次且内容不同。", "\"{field}\" is given twice with different values."),
    "bad_urgent": ("“紧急”的类别无法识别：“{value}”。可选：同行销售政策重大变化、同行新产品上市、"
                   "同行销售或服务新动向、本公司产品重大缺陷、其他紧急事项。",
                   "\"Urgent\" names no known category: \"{value}\". Choose one of: Competitor policy change, "
                   "Competitor new product, Competitor trend, Product defect, Other."),
    "bad_category": ("“类别”无法识别：“{value}”。可选：同行销售政策重大变化、同行新产品上市、"
                     "同行销售或服务新动向、本公司产品重大缺陷、其他紧急事项。",
                     "\"Category\" names no known category: \"{value}\". Choose one of: Competitor policy change, "
                     "Competitor new product, Competitor trend, Product defect, Other."),
    "convert_unsafe": ("附件“{value}”解压后过大或结构异常（疑似压缩炸弹），出于安全未打开。请只附填好的 .docx 日报表后重新发送。",
                       "The attachment \"{value}\" would unpack too large or is built oddly (a suspected zip bomb), so "
                       "it was not opened. Please attach only the filled .docx form and send it again."),
    "convert_damaged": ("附件“{value}”在传输中已损坏（编码无法还原），未能读取。请重新附加后发送。",
                        "The attachment \"{value}\" was damaged on the way (its encoding does not decode) and was "
                        "not read. Please attach it again and resend."),
    "mail_nested": ("邮件的 MIME 结构嵌套过深（可能经过多次转发），内层内容未读取。请直接新建邮件填写日报后发送。",
                    "The mail's MIME parts are nested too deeply (forwarded many times?), so the inner parts were "
                    "not read. Please write the report in a new mail and send it."),
    "mail_damaged": ("邮件正文在传输中已损坏，部分内容无法读取（{value}）。请重新发送。",
                     "Part of the mail was damaged on the way and could not be read ({value}). Please send it again."),
    "form_unreadable": ("附件中的巡访日报表无法读取：{value}", "The attached daily report form cannot be read: {value}"),
    # A .doc / WPS / .odt form that could not be converted to .docx; {value} is the file name.
    "convert_too_large": ("附件“{value}”超过大小限制，未能读取。请在 Word 或 WPS 中“另存为” .docx 格式后重新发送。",
                          "The attachment \"{value}\" is larger than the limit and was not read. "
                          "Please save it as .docx (Save As in Word or WPS) and send it again."),
    "convert_not_document": ("附件“{value}”不是可读取的文档（已损坏，或不是 Word 文件）。请在 Word 或 WPS 中“另存为” .docx 格式后重新发送。",
                             "The attachment \"{value}\" is not a readable document (damaged, or not a Word file). "
                             "Please save it as .docx (Save As in Word or WPS) and send it again."),
    "convert_unavailable": ("附件“{value}”是旧版格式（.doc、.wps、.odt），本服务暂时无法转换。请在 Word 或 WPS 中“另存为” .docx 格式后重新发送。",
                            "The attachment \"{value}\" is in an older format (.doc, .wps, .odt) that the service "
                            "cannot convert at the moment. Please save it as .docx (Save As in Word or WPS) and send it again."),
    "convert_timeout": ("附件“{value}”转换超时，未能读取。请在 Word 或 WPS 中“另存为” .docx 格式后重新发送。",
                        "Converting the attachment \"{value}\" took too long and it was not read. "
                        "Please save it as .docx (Save As in Word or WPS) and send it again."),
    "convert_failed": ("附件“{value}”无法转换为 .docx（文件可能已损坏）。请在 Word 或 WPS 中“另存为” .docx 格式后重新发送。",
                       "The attachment \"{value}\" could not be converted to .docx (the file may be damaged). "
                       "Please save it as .docx (Save As in Word or WPS) and send it again."),
}


def single_fields(fields, required: tuple[str, ...]) -> tuple[dict[str, str], list[Problem]]:
    """Return a one-record form's values by data name, and its problems.

    ``fields`` are labels.Field in the order written: a field given twice with different
    values is a problem (the first is kept), a required field missing or empty is another.
    """
    values: dict[str, str] = {}
    problems: list[Problem] = []
    for f in fields:
        if f.name in values and values[f.name] != f.value:
            problems.append(Problem("field_twice", field=f.name, value=f.value))
        values.setdefault(f.name, f.value)
    problems += [Problem("missing", field=name) for name in required if not values.get(name)]
    return values, problems


def describe(problem, language: str) -> str:
    """Return the problem as one sentence, prefixed with its visit number."""
    en = language == "en"
    template = MESSAGES.get(problem.code, ("无法处理：{value}", "Cannot process: {value}"))[1 if en else 0]
    names = FIELD_NAMES.get(problem.field or "", (problem.field or "", problem.field or ""))
    field = names[1] if en else f"{names[0]} {names[1]}"
    text = template.format(field=field, value=problem.value, **dict(getattr(problem, "details", ())))
    if problem.visit is not None:
        text = (f"Visit {problem.visit}: " if en else f"第 {problem.visit} 条巡访：") + text
    return text
