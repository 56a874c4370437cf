"""A generated month in the database, for the monthly report tests: October 2026, two units.

Everything goes in the way it does in production: daily reports, urgent reports and gift
requests are mails recorded and processed by the intake (with the IMAP arrival time the
server would give), the customer registry and the visit plan through their store functions.
Only what the service stamps with the wall clock (when an urgent report or a gift request
was made, acknowledged or decided) is set afterwards to the October day it stands for.

The month holds: National Day (1–7 October off, Saturday 10 October a make-up working day)
and a company holiday on 30 October (``policy.holidays``); unit east with three reps – 李雷
(a late report corrected later, a report resent the same evening, a backlog delivery that is still on time,
a visit on a holiday), 韩梅梅 (the make-up Saturday, an unmatched customer name, a
report corrected the next morning) and 赵六 who
never reports; unit north with Tom Baker writing in English; five tiers of customers with a
designated-visitor violation and never-visited ones; a monthly plan; urgent reports open,
acknowledged, closed and one from September still open; gifts approved, rejected, pending and
one of September; and mail from September and November that must not count.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from service.intake import Intake, PollResult
from service.reading.customers import read_customers
from service.reading.tables import read_table
from service.store import plans as plan_store
from service.store.customers import import_customers
from service.store.db import transaction

CST = ZoneInfo("Asia/Shanghai")
MONTH = "2026-10"
SILENT = {"name": "赵六", "email": "zhao.liu@visitflow.test", "unit": "east", "region": "shanghai"}
COMPANY_HOLIDAY = date(2026, 10, 30)
# The State Council's notice for 2026: National Day 1–7 October off, Saturday 10 October worked.
# Less the company's own holiday on the 30th, these are October's working days.
WORKING_DAYS = [date(2026, 10, d) for d in (8, 9, 10, 12, 13, 14, 15, 16, 19, 20, 21, 22, 23, 26, 27, 28, 29)]

LI, HAN, TOM = "li.lei@visitflow.test", "han.meimei@visitflow.test", "tom.baker@visitflow.test"
HEAD_EAST = "wang.fang@visitflow.test"
NAMES = {LI: "李雷", HAN: "韩梅梅", TOM: "Tom Baker", SILENT["email"]: "赵六"}

REGISTRY = """客户编号,客户名称,别名,类型,地区,等级,指定巡访人,联系人,电话,地址
E101,上海华联超市有限公司,华联超市；华联浦东,零售商,上海,A,韩梅梅,张经理,021-58880000,上海市浦东新区张杨路1号
E102,浦东五金批发部,浦东五金,经销商,上海,B,赵强,,,
E103,松江建材市场,松江建材,经销商,上海,C,李雷,,,
E104,嘉定灯具城,,零售商,上海,D,,,,
E105,杭州百货大楼,杭州百货,零售商,杭州,A,韩梅梅,,,
E106,西湖茶叶店,,经销商,杭州,B,,,,
N201,北京燕莎商城,Yansha Mall,retailer,beijing,A,Tom Baker,,,
N202,ACME Co. Ltd.,Acme Beijing,dealer,beijing,C,,,,
"""

# (rep, report date, Date header, IMAP arrival, visits); a visit is (customer, time, {field: text}).
# Times are Shanghai local. None as the Date header: the client sent none.
DAILY = [
    # September: outside the month (a visit on the 30th).
    (LI, "2026-09-30", "2026-09-30 18:00", "2026-09-30 18:01",
     [("华联超市", "10:00", {"客户意见": "九月的意见，不属于十月"})]),
    # A visit during the National Day holiday counts as a visit; no report was due that day.
    (LI, "2026-10-03", "2026-10-03 20:00", "2026-10-03 20:00",
     [("华联超市", "10:00", {"市场行情": "假日客流比平日多三成"})]),
    (LI, "2026-10-08", "2026-10-08 18:00", "2026-10-08 18:01",
     [("上海华联超市", "09:30", {"客户意见": "希望下月前补货 LED-9W", "市场行情": "竞品降价 5%",
                                "巡访效果": "订货 200 箱", "库存销售": "库存 200 箱", "推广产品": "LED-9W"}),
      ("浦东五金", "14:00-15:30", {"技术问题": "灯管批量闪烁，重大", "处理事项": "已处理退货 3 件",
                                 "紧急": "产品缺陷"})]),
    (LI, "2026-10-09", "2026-10-09 17:30", "2026-10-09 17:31",
     [("松江建材", "10:00", {"处理事项": "回收旧样品 <5 件> & 登记"})]),
    # The first report of the 12th, resent the same evening: only the second one's visits count.
    (LI, "2026-10-12", "2026-10-12 12:00", "2026-10-12 12:00",
     [("西湖照明", "09:00", {"客户意见": "被替换的日报，不应出现"})]),
    (LI, "2026-10-12", "2026-10-12 19:00", "2026-10-12 19:00",
     [("华联浦东", "09:00", {"客户意见": "投诉：上次送货延误两天"}),
      ("浦东五金", "15:00", {"巡访效果": "客户同意试销", "其他事项": "约好下周培训"})]),
    # Written on the 15th for the 14th: late.
    (LI, "2026-10-14", "2026-10-15 09:00", "2026-10-15 09:00",
     [("松江建材", "16:00", {"客户意见": "希望增加培训"})]),
    # A correction of the late 14th two days later: the 14th stays late.
    (LI, "2026-10-14", "2026-10-16 08:00", "2026-10-16 08:00",
     [("松江建材", "16:00", {"客户意见": "希望增加培训（补充：下月安排两次）"})]),
    # Sent the evening of the 16th, delivered the next morning (the sender's server held it): on time.
    (LI, "2026-10-16", "2026-10-16 18:00", "2026-10-17 08:30",
     [("华联超市", "10:30", {"处理事项": "已协调物流"})]),
    # A Date header two days before the arrival proves nothing: late by its arrival.
    (LI, "2026-10-19", "2026-10-19 18:00", "2026-10-21 09:00",
     [("浦东五金", "11:00", {"市场行情": "听说对手返利提高"})]),
    (HAN, "2026-10-08", "2026-10-08 19:00", "2026-10-08 19:00",
     [("杭州百货", "10:00", {"客户意见": "对包装很满意", "市场行情": "本地市场淡季"}),
      ("西湖照明", "15:00", {"客户意见": "询问代理政策"})]),
    # The make-up working Saturday.
    (HAN, "2026-10-10", "2026-10-10 18:00", "2026-10-10 18:00",
     [("杭州百货大楼", "09:30", {"处理事项": "处理了价格标签错误", "技术问题": "调光器兼容性问题"})]),
    (HAN, "2026-10-20", "2026-10-20 18:00", "2026-10-20 18:00",
     [("杭州百货", "10:00", {"市场行情": "竞品在商场做促销"}),
      ("西湖照明", "14:00", {"巡访效果": "留下样品"}),
      ("西湖茶叶店", "16:00", {"客户意见": "想要更长账期"})]),
    # The 20th corrected the next morning: its visits are the correction's, but it came on time.
    (HAN, "2026-10-20", "2026-10-21 09:00", "2026-10-21 09:00",
     [("杭州百货", "10:00", {"市场行情": "竞品在商场做促销，买一送一"}),
      ("西湖照明", "14:00", {"巡访效果": "留下样品"}),
      ("西湖茶叶店", "16:00", {"客户意见": "想要更长账期（更正：60 天）"})]),
    (HAN, "2026-10-27", "2026-10-27 18:00", "2026-10-27 18:00",
     [("杭州百货大楼", "10:00", {"巡访效果": "确认补货数量"}), ("杭州百货大楼", "15:00", {"处理事项": "补货完成"})]),
    (TOM, "2026-10-09", "2026-10-09 18:00", "2026-10-09 18:00",
     [("Yansha Mall", "10:00", {"Customer feedback": "Wants a longer warranty",
                               "Market": "A rival cut prices by 8%"})]),
    (TOM, "2026-10-21", "2026-10-21 18:00", "2026-10-21 18:00",
     [("ACME Co., Ltd", "10:00", {"Matters handled": "Replaced two drivers"}),
      ("Beijing Lighting Co", "14:00", {"Customer feedback": "New shop, not registered yet"})]),
    # November: outside the month.
    (TOM, "2026-11-02", "2026-11-02 18:00", "2026-11-02 18:00",
     [("Yansha Mall", "10:00", {"Customer feedback": "November, not October"})]),
]

# (reporter, made at, category, customer, details, then: state, acknowledged after hours, closed at)
URGENT = [
    (LI, "2026-09-25 10:00", "质量问题", "浦东五金", "九月的批次破损", "open", None, None),
    (LI, "2026-10-09 09:00", "产品缺陷", "浦东五金批发部", "灯管批量闪烁", "acknowledged", 2.5, None),
    (HAN, "2026-10-13 11:00", "竞品新品", "杭州百货大楼", "对手推出新品 X1", "closed", 26.0, "2026-10-15 09:00"),
    (HAN, "2026-10-21 16:00", "政策变化", "", "对手返利政策调整", "open", None, None),
    # Closed only in November: still open at October's end.
    (LI, "2026-10-28 09:00", "其他", "松江建材", "仓库漏水", "closed", None, "2026-11-03 10:00"),
    (TOM, "2026-10-22 10:00", "other", "Yansha Mall", "The mall will close for renovation", "open", None, None),
]

# (requester, made at, customer, gift, quantity, amount, state, decided at)
GIFTS = [
    (LI, "2026-09-28 10:00", "上海华联超市", "茶叶礼盒", "1 盒", "300", "approved", "2026-09-28 15:00"),
    (LI, "2026-10-12 10:00", "上海华联超市", "中秋月饼礼盒", "10 盒", "1200", "approved", "2026-10-12 16:00"),
    (HAN, "2026-10-20 09:00", "杭州百货大楼", "定制台灯", "10 台", "6000", "pending", None),
    (LI, "2026-10-26 11:00", "浦东五金批发部", "购物卡", "2 张", "800", "rejected", "2026-10-26 17:00"),
    (HAN, "2026-10-27 09:00", "西湖茶叶店", "茶具", "1 套", "2500.50", "approved", "2026-10-28 10:00"),
    (TOM, "2026-10-15 09:00", "Yansha Mall", "Tea set", "2 sets", "500", "approved", "2026-10-15 12:00"),
]

# The east unit's plan for October: (day, customer as written, visitor).
PLAN = [
    ("2026-10-08", "上海华联超市", LI), ("2026-10-12", "华联超市", LI), ("2026-10-20", "上海华联超市", LI),
    ("2026-10-08", "浦东五金批发部", LI), ("2026-10-22", "浦东五金批发部", LI),
    ("2026-10-08", "杭州百货大楼", HAN), ("2026-10-27", "杭州百货大楼", HAN), ("2026-10-15", "西湖茶叶店", HAN),
    ("2026-10-15", "嘉定灯具城", SILENT["email"]),
]


def local(text: str) -> datetime:
    """Return 'YYYY-MM-DD HH:MM' Shanghai time as an aware datetime."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=CST)


def utc_text(text: str) -> str:
    """Return 'YYYY-MM-DD HH:MM' Shanghai time as the UTC ISO text the service stores."""
    return local(text).astimezone(timezone.utc).isoformat(timespec="milliseconds")


def edit_config(path: Path) -> None:
    """Add the silent rep and the company holiday to a test's config file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["organisation"]["reps"].append(dict(SILENT))
    data["policy"]["holidays"] = [COMPANY_HOLIDAY.isoformat()]
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


class Mailer:
    """Deliver mail to the intake as the IMAP server would hand it over, with its arrival time."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.intake = Intake(ctx)
        self.uids = itertools.count(1)

    def deliver(self, raw: bytes, arrived: str) -> int:
        """Record and process one mail that arrived at ``arrived`` (Shanghai); return its message id."""
        # Recorded as lying in Processed already: this month's mail was moved there long ago.
        recorded, msg = self.intake.record("Processed", 1, next(self.uids), raw, delivered_at=local(arrived))
        state = self.intake.process(recorded.id, PollResult(), msg=msg)
        assert state in ("processed", "rejected"), state
        return recorded.id


def mail(sender: str, subject: str, body: str, sent: str | None, message_id: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"{NAMES.get(sender, '')} <{sender}>"
    msg["To"] = "visits@visitflow.test"
    msg["Subject"] = subject
    if sent:
        msg["Date"] = format_datetime(local(sent))
    msg["Message-ID"] = f"<{message_id}@client.test>"
    msg.set_content(body)
    return msg.as_bytes()


def daily_body(rep: str, day: str, visits: list) -> str:
    english = rep == TOM
    lines = [f"{'Date' if english else '日期'}: {day}", ""]
    for customer, at, fields in visits:
        lines.append(f"{'Customer' if english else '客户名称'}: {customer}")
        lines.append(f"{'Visit time' if english else '巡访时间'}: {at}")
        lines.extend(f"{label}: {text}" for label, text in fields.items())
        lines.append("")
    return "\n".join(lines)


def build_month(ctx) -> None:
    """Put the whole generated month into ctx's database."""
    read = read_customers(read_table(REGISTRY.encode("utf-8"), "registry.csv"), ctx.cfg)
    assert read.problems == []
    import_customers(ctx.db, read.customers)
    with transaction(ctx.db):
        # The registry has been kept since June: a customer never visited is overdue by now.
        ctx.db.execute("UPDATE customers SET imported_at = ?", [utc_text("2026-06-01 09:00")])
        plan_store.save_plan(
            ctx.db, unit="east", period=MONTH, period_start=date(2026, 10, 1), period_end=date(2026, 10, 31),
            key_products=["LED-9W"], key_surveys=[], special_surveys=[], source="plan.yaml", submitted_by="cli",
            message=None, visits=[{"row": n, "date": day, "day_start": day, "day_end": day, "customer": customer,
                                   "customer_id": None, "visitor": visitor, "purpose": "", "uid": f"plan-{n}"}
                                  for n, (day, customer, visitor) in enumerate(PLAN, start=2)])
    mailer = Mailer(ctx)
    for n, (rep, day, sent, arrived, visits) in enumerate(DAILY):
        subject = f"Daily report {day}" if rep == TOM else f"巡访日报 {day}"
        mailer.deliver(mail(rep, subject, daily_body(rep, day, visits), sent, f"daily-{n}"), arrived)
    for n, (reporter, made, category, customer, details, state, ack_hours, closed) in enumerate(URGENT):
        english = reporter == TOM
        body = (f"{'Category' if english else '类别'}: {category}\n"
                + (f"{'Customer' if english else '客户名称'}: {customer}\n" if customer else "")
                + f"{'Details' if english else '内容'}: {details}\n")
        message = mailer.deliver(mail(reporter, "Urgent" if english else "紧急报告", body, made, f"urgent-{n}"), made)
        _settle_urgent(ctx, message, made, state, ack_hours, closed)
    for n, (requester, made, customer, gift, quantity, amount, state, decided) in enumerate(GIFTS):
        english = requester == TOM
        body = (f"{'Customer' if english else '客户名称'}: {customer}\n{'Gift' if english else '礼品'}: {gift}\n"
                f"{'Quantity' if english else '数量'}: {quantity}\n{'Amount' if english else '预算金额'}: {amount}\n"
                f"{'Reason' if english else '事由'}: {'customer care' if english else '客户维护'}\n")
        message = mailer.deliver(mail(requester, "Gift request" if english else "礼品申请", body, made, f"gift-{n}"),
                                 made)
        _settle_gift(ctx, message, made, state, decided)


def _settle_urgent(ctx, message: int, made: str, state: str, ack_hours: float | None, closed: str | None) -> None:
    """Date the urgent report a mail made to ``made`` and bring it to ``state`` as its recipients would."""
    (report,) = ctx.db.execute("SELECT id FROM urgent_reports WHERE message = ?", [message]).fetchone()
    with transaction(ctx.db):
        ctx.db.execute("UPDATE urgent_reports SET created_at = ?, state = ?, closed_at = ? WHERE id = ?",
                       [utc_text(made), state, utc_text(closed) if closed else None, report])
        ctx.db.execute("UPDATE urgent_recipients SET sent_at = ? WHERE report = ?", [utc_text(made), report])
        if ack_hours is not None:
            acked = (local(made) + timedelta(hours=ack_hours)).astimezone(timezone.utc).isoformat(
                timespec="milliseconds")
            first = ctx.db.execute("SELECT MIN(id) FROM urgent_recipients WHERE report = ?", [report]).fetchone()[0]
            ctx.db.execute("UPDATE urgent_recipients SET acknowledged_at = ? WHERE id = ?", [acked, first])
            ctx.db.execute("UPDATE urgent_reports SET acknowledged_at = ? WHERE id = ?", [acked, report])


def _settle_gift(ctx, message: int, made: str, state: str, decided: str | None) -> None:
    """Date the gift request a mail made to ``made`` (and its budget period) and decide it as ``state``."""
    (request,) = ctx.db.execute("SELECT id FROM gift_requests WHERE message = ?", [message]).fetchone()
    with transaction(ctx.db):
        ctx.db.execute("UPDATE gift_requests SET created_at = ?, budget_period = ?, state = ?, decided_at = ? "
                       "WHERE id = ?", [utc_text(made), made[:7], state, utc_text(decided) if decided else None,
                                        request])
