"""Say what is wrong with a visit plan, in the reader's language (zh-CN or en).

One catalogue for the plan reader's problems: a code, the row a person finds it on (the
spreadsheet's row number, the YAML file's line), the field and the value as written.
"""

from __future__ import annotations

from dataclasses import dataclass

# data name -> (中文 label, English label)
PLAN_FIELDS = {
    "unit": ("营业单位", "Unit"),
    "period": ("期间", "Period"),
    "key_products": ("重点推销商品", "Key products"),
    "key_surveys": ("重点调查项目", "Key survey items"),
    "special_surveys": ("特别调查项目", "Special survey items"),
    "date": ("日期", "Date"),
    "customer": ("客户名称", "Customer"),
    "visitor": ("巡访人", "Visitor"),
    "purpose": ("目的", "Purpose"),
}

_DATE_FORMS = ("请写一天（2026-12-03）、一周（2026-W49）或一个月（2026-12）。",
               "Write a day (2026-12-03), a week (2026-W49) or a month (2026-12).")
_PERIOD_FORMS = ("请写成 2027（全年）、2026-Q4 或 2026年第四季度（季度）、2026-12 或 2026年12月（月份）。",
                 "Write 2027 (a year), 2026-Q4 (a quarter) or 2026-12 (a month).")

# code -> (zh-CN, en); {field} {value} and the problem's details are filled in.
MESSAGES = {
    "not_allowed": ("只有营业单位主管或公司领导可以提交巡访计划（主管提交本单位的计划）；{value} 不能提交。",
                    "Only a unit head (for their own unit) or leadership may submit a visit plan; "
                    "{value} may not."),
    "unverified_sender": ("无法确认发件人身份，计划未处理（{value}）。请从您自己的邮箱直接发送。",
                          "The sender cannot be verified, so the plan was not processed ({value}). "
                          "Please send it from your own mailbox."),
    "not_your_unit": ("您不是“{value}”的主管：只有该单位的主管或公司领导可以提交它的巡访计划。",
                      "You are not the head of {value}: only its unit head or leadership may submit its visit plan."),
    "unit_needed": ("请在计划中写明营业单位，例如第一行写“营业单位：east”。可选：{units}。",
                    "Name the unit in the plan, e.g. a first row \"Unit: east\". Units: {units}."),
    "unknown_unit": ("营业单位“{value}”不存在。可选：{units}。", "There is no unit \"{value}\". Units: {units}."),
    "unit_mismatch": ("计划写的营业单位是“{value}”，与指定的 {given} 不一致。",
                      "The plan names the unit \"{value}\", not {given} as given."),
    "no_plan_file": ("邮件没有附上巡访计划文件：请把计划作为 .xlsx、.csv 或 .yaml 文件附在邮件中。",
                     "No plan file is attached: attach the plan as an .xlsx, .csv or .yaml file."),
    "several_plan_files": ("邮件附了多个计划文件（{value}），请每封邮件只附一个。",
                           "Several plan files are attached ({value}); attach one plan per mail."),
    "unreadable": ("计划文件无法读取：{value}", "The plan file cannot be read: {value}"),
    "bad_yaml": ("YAML 格式有误：{value}。", "The YAML is not well-formed: {value}."),
    "yaml_not_mapping": ("YAML 计划应由“期间: 2026-12”这样的字段和 visits 巡访列表组成。",
                         "A YAML plan holds fields such as \"period: 2026-12\" and a list of visits."),
    "yaml_visits_not_list": ("visits 巡访应是一个列表，每项写日期、客户名称、巡访人。",
                             "visits must be a list, each entry with date, customer and visitor."),
    "yaml_bad_visit": ("每条巡访应是一组“日期、客户名称、巡访人、目的”字段。",
                       "Each visit must be a set of fields: date, customer, visitor, purpose."),
    "yaml_bad_value": ("“{field}”应是一段文字或文字列表。", "\"{field}\" must be text or a list of texts."),
    "missing_period": ("缺少“{field}”。" + _PERIOD_FORMS[0], "\"{field}\" is missing. " + _PERIOD_FORMS[1]),
    "bad_period": ("“{field}”无法识别：“{value}”。" + _PERIOD_FORMS[0],
                   "\"{field}\" cannot be read: \"{value}\". " + _PERIOD_FORMS[1]),
    "field_twice": ("“{field}”写了两次且内容不同。", "\"{field}\" is given twice with different values."),
    "no_table": ("找不到巡访安排表：表头需要“日期”“客户名称”“巡访人”三列（可加“目的”）。",
                 "No visits table found: its header needs the columns Date, Customer and Visitor (Purpose optional)."),
    "missing_column": ("巡访安排表缺少“{field}”列。", "The visits table has no \"{field}\" column."),
    "no_visits": ("计划中没有任何巡访安排。", "The plan schedules no visits."),
    "too_many_visits": ("计划有 {value} 行巡访，超过 5000 行的上限。",
                        "The plan has {value} visit rows, more than the limit of 5000."),
    "too_long": ("“{field}”超过 {value} 个字，不是一个名称或说明。",
                 "\"{field}\" is longer than {value} characters: no name or purpose is."),
    "missing": ("缺少“{field}”。", "\"{field}\" is missing."),
    "date_unparseable": ("“{field}”无法识别：“{value}”。" + _DATE_FORMS[0],
                         "\"{field}\" cannot be read: \"{value}\". " + _DATE_FORMS[1]),
    "date_bad_date": ("“{field}”不存在：“{value}”。", "\"{field}\" does not exist: \"{value}\"."),
    "date_weekday_mismatch": ("“{field}”的星期与日期不符：“{value}”——{day} 是{is_zh}，不是{written_zh}。",
                              "\"{field}\" names the wrong weekday: \"{value}\" – {day} is a {is_en}, not a {written_en}."),
    "several_visitors": ("巡访人“{value}”写了多个邮箱，每行只能写一位巡访人。",
                         "\"{value}\" names more than one visitor; write one visitor per row."),
    "date_empty": ("缺少“{field}”。", "\"{field}\" is missing."),
    "outside_period": ("日期“{value}”不在计划期间 {period}（{start} 至 {end}）内。",
                       "The date \"{value}\" is outside the plan's period {period} ({start} to {end})."),
    "unknown_visitor": ("巡访人“{value}”不是系统中的人员，请写配置中的姓名或邮箱。",
                        "The visitor \"{value}\" is not a person the service knows; write a configured name or email."),
    "ambiguous_visitor": ("巡访人“{value}”有多位同名人员，请写邮箱。",
                          "More than one person is called \"{value}\"; write the visitor's email."),
    "visitor_other_unit": ("巡访人“{value}”不属于营业单位 {unit}。", "The visitor \"{value}\" does not work in unit {unit}."),
}


@dataclass(frozen=True)
class PlanProblem:
    """Name one thing wrong with a plan: a code from MESSAGES and where (row, field, value)."""

    code: str
    row: int | None = None   # the row (or YAML line) a person finds it on
    field: str | None = None  # data name
    value: str = ""
    details: tuple[tuple[str, str], ...] = ()  # more named values for the sentence

    def text(self, language: str) -> str:
        """Return this problem as one sentence for the sender, in ``language`` (zh-CN or en)."""
        en = language == "en"
        template = MESSAGES.get(self.code, ("无法处理：{value}", "Cannot process: {value}"))[1 if en else 0]
        names = PLAN_FIELDS.get(self.field or "", (self.field or "", self.field or ""))
        label = names[1] if en else f"{names[0]} {names[1]}"
        text = template.format(field=label, value=self.value, **dict(self.details))
        if self.row is not None:
            text = (f"Row {self.row}: " if en else f"第 {self.row} 行：") + text
        return text
