"""``visitflow demo``: a realistic week of the sample people of config.yaml, played into the sandbox.

The scenario is data (``REGISTRY``, ``WEEK``, ``GIFT`` …); ``Demo.run`` plays it in small
steps, each printing one line: the customer registry imported as ``visitflow customers
import`` does it, 王芳's visit plan mailed with its .xlsx, the last five working days' daily
reports put into the service inbox with IMAP APPEND (INTERNALDATE and Date that day, ~17–18
h local, so they count as on time) as each rep's client writes them, every day's digest and
missing-report reminders, 王芳 escalating the visit marked 紧急 from her digest and 刘总
acknowledging it, 韩梅梅's gift request approved by both steps, and finally the month's reports
written under ``storage.reports_dir/demo/``.

The running daemon does the processing: after each step the demo waits until the database
shows its mail settled and the outbox sent. When nothing moves within ``patience`` seconds
there is no daemon, and the demo processes the mail itself the way ``visitflow poll`` does.
It runs only against a mail server on this machine (the sandbox), and is safe to run again:
new Message-IDs each time, a report for the same rep and day replaces the earlier one, the
registry re-import changes nothing, a plan mailed again replaces the old one, and digests
already sent for a day are not sent again.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from . import demo_clients as mail
from .context import Context
from .demo_mailbox import DemoError, ServiceMailbox
from .scheduler import run_job
from .workdays import WorkingDays

LI, HAN, TOM = "li.lei@visitflow.test", "han.meimei@visitflow.test", "tom.baker@visitflow.test"
HEAD, LEADER, ZHAO = "wang.fang@visitflow.test", "liu.zong@visitflow.test", "zhao.qiang@visitflow.test"
PEOPLE = (LI, HAN, TOM, HEAD, LEADER, ZHAO)
CLIENTS = {"foxmail": "Foxmail GBK", "word_form": "Word form", "iphone": "iPhone + photo",
           "iphone_text": "iPhone", "qq": "QQ Mail HTML", "outlook_en": "Outlook HTML en"}

# 客户名录 (GBK CSV, Chinese headers): id, name, aliases, type, region, tier, designated visitor, contact,
# phone, address. SH-004's designated visitor 赵强 is Shanghai's own salesperson: flagged (Article 4).
REGISTRY_HEADER = ("客户编号", "客户名称", "别名", "类型", "地区", "等级", "指定巡访人", "联系人", "电话", "地址")
REGISTRY = (
    ("SH-001", "上海华联超市有限公司", "华联超市（浦东店）；华联浦东", "零售商", "上海", "A", "李雷", "张经理",
     "021-58880001", "上海市浦东新区张杨路 1 号"),
    ("SH-002", "上海喆镕食品经销有限公司", "喆镕食品", "经销商", "上海", "A", "李雷", "陈总", "021-64320002",
     "上海市闵行区七莘路 88 号"),
    ("SH-003", "家乐福（古北店）", "", "零售商", "上海", "B", "李雷", "刘店长", "021-62190003", "上海市长宁区水城南路 268 号"),
    ("SH-004", "联华便利（徐汇店）", "", "零售商", "上海", "C", "赵强", "", "021-64870004", "上海市徐汇区漕溪北路 41 号"),
    ("HZ-001", "杭州西湖茶叶店", "西湖茶叶", "经销商", "杭州", "B", "韩梅梅", "王五", "0571-88880001", "杭州市西湖区龙井路 1 号"),
    ("HZ-002", "物美（西溪店）", "", "零售商", "杭州", "A", "韩梅梅", "孙店长", "0571-88880002", "杭州市西湖区文二西路 551 号"),
    ("HZ-003", "杭州味达调味品厂", "味达", "委托加工厂", "杭州", "C", "韩梅梅", "钱厂长", "0571-88880003",
     "杭州市余杭区良渚街道 9 号"),
    ("HZ-004", "周女士", "", "消费者", "杭州", "D", "韩梅梅", "周女士", "139-0571-0004", ""),
    ("BJ-001", "物美（海淀店）", "Wumart (Haidian)", "零售商", "北京", "A", "Tom Baker", "Li Na", "010-66660001",
     "北京市海淀区中关村大街 1 号"),
    ("BJ-002", "北京京客隆商业集团", "Jingkelong；京客隆", "经销商", "北京", "B", "Tom Baker", "Zhang Wei", "010-66660002",
     "北京市朝阳区新源街 45 号"),
    ("BJ-003", "北京喆镕商贸有限责任公司", "Zherong Trading", "委托加工厂", "北京", "C", "Tom Baker", "Wang Lei",
     "010-66660003", "北京市大兴区经济开发区 3 号"),
)


@dataclass(frozen=True)
class DayReport:
    """One daily report of the week: which working day (0–4), who, which client, when sent, what."""

    day: int
    rep: str
    client: str  # a key of CLIENTS
    at: str  # local time it is sent, "17:42"
    subject: str  # {m} and {d}: the day's month and day
    visits: tuple[dict, ...]  # data names of spec §4; "id" is the registry customer (or None)
    dated: bool = False  # writes 日期 / Date above the visits


WEEK = (
    DayReport(0, LI, "foxmail", "17:42", "巡访日报", (
        {"id": "SH-001", "customer": "华联超市（浦东店）", "visited_at": "09:30-11:00",
         "feedback": "希望春节前增加小包装酱油的陈列位", "handled": "已与店长确认下周调整货架", "products": "小包装酱油"},
        {"id": "SH-002", "customer": "喆镕食品", "visited_at": "14:00-15:00", "market": "同行某品牌低盐生抽在本区降价 8%",
         "effect": "签订下月订单 200 箱"})),
    DayReport(0, HAN, "iphone", "17:15", "日报", (
        {"id": "HZ-001", "customer": "杭州西湖茶叶店", "visited_at": "10:00-11:00", "feedback": "希望新春礼盒提前到货",
         "effect": "确认礼盒意向 40 套"},)),
    DayReport(0, TOM, "outlook_en", "17:30", "Daily report", (
        {"id": "BJ-001", "customer": "Wumart (Haidian)", "visited_at": "09:30-10:30",
         "feedback": "Asks for our spring promotion calendar", "handled": "Sent the price list and the promotion plan"},)),
    DayReport(1, LI, "word_form", "17:35", "巡访日报（见附件）", (
        {"id": "SH-003", "customer": "家乐福（古北店）", "visited_at": "10:00-11:00",
         "feedback": "门店希望我们派促销员支持周末活动", "stock": "库存约两周"},
        {"id": "SH-001", "customer": "上海华联超市有限公司", "visited_at": "15:30", "effect": "端架陈列已落实",
         "handled": "更换破损价签"}), dated=True),
    DayReport(1, HAN, "qq", "17:48", "巡访日报", (
        {"id": "HZ-002", "customer": "物美（西溪店）", "visited_at": "09:30-10:30", "market": "竞品在做买二送一，力度较大",
         "handled": "已申请下周堆头位"},)),
    DayReport(1, TOM, "outlook_en", "17:45", "Daily report", (
        {"id": "BJ-003", "customer": "Zherong Trading", "visited_at": "14:00-16:00",
         "effect": "Trial run of the new 500 ml bottle passed",
         "tech_issue": "The capping head slips on our new bottle neck, about 2% leak; they need the neck drawing"},)),
    # 李雷 sends nothing on day 2: the missing-report reminder and the digest say so.
    DayReport(2, HAN, "iphone", "17:22", "今日巡访日报", (
        {"id": "HZ-003", "customer": "味达", "visited_at": "14:00-15:30", "handled": "确认下月代加工排产计划",
         "effect": "新配方小试通过"},)),
    DayReport(2, TOM, "outlook_en", "17:20", "Daily report", (
        {"id": "BJ-002", "customer": "Jingkelong", "visited_at": "10:00",
         "market": "A competitor cut oyster sauce prices by 5% for December",
         "handled": "Agreed a matching shelf promotion"},), dated=True),
    DayReport(3, LI, "foxmail", "17:51", "巡访日报 {m}/{d}", (
        {"id": None, "customer": "永辉超市（张江店）", "visited_at": "10:30-11:30", "effect": "初次拜访，采购经理同意试销两个单品",
         "other": "需补建客户档案"},
        {"id": "SH-002", "customer": "喆镕食品", "visited_at": "15:00", "handled": "完成上月对账，差额 320 元已核清"})),
    DayReport(3, HAN, "qq", "17:40", "巡访日报", (
        {"id": "HZ-002", "customer": "物美（西溪店）", "visited_at": "10:00-11:00",
         "market": "同行新推出零添加酱油，售价比我司同类低 15%，本周已进场", "feedback": "店方询问我司是否有同类产品",
         "urgent": "同行新产品上市"},
        {"id": "HZ-001", "customer": "杭州西湖茶叶店", "visited_at": "15:00", "handled": "礼盒样品已送达"})),
    DayReport(3, TOM, "outlook_en", "17:55", "Daily report", (
        {"id": "BJ-001", "customer": "Wumart (Haidian)", "visited_at": "15:00",
         "effect": "Shelf space for low-salt soy sauce doubled"},)),
    DayReport(4, LI, "foxmail", "17:28", "巡访日报", (
        {"id": "SH-001", "customer": "华联超市（浦东店）", "visited_at": "09:00", "effect": "调整后新增两个端架",
         "feedback": "店长对陈列效果满意"},)),
    DayReport(4, HAN, "iphone_text", "17:10", "日报", (
        {"id": "HZ-001", "customer": "杭州西湖茶叶店", "visited_at": "11:00", "effect": "礼盒订单确认 40 套，春节前分两批交货"},)),
    DayReport(4, TOM, "outlook_en", "17:05", "Daily report", (
        {"id": "BJ-002", "customer": "Jingkelong", "visited_at": "09:30-10:30",
         "feedback": "Wants deliveries twice a week before the Spring Festival", "products": "Low-salt soy sauce"},)),
)
PURPOSES = {"SH-001": "陈列与新品推广", "SH-002": "订单与对账", "SH-003": "促销支持", "HZ-001": "新春礼盒",
            "HZ-002": "竞品调查", "HZ-003": "代加工排产"}
GIFT = ("客户名称：杭州西湖茶叶店\n礼品：新春礼盒（酱油调味品套装）\n数量：40 套\n预算金额：¥6,800\n"
        "事由：年度重点客户答谢，配合春节备货\n赠送日期：{day}\n")
ESCALATE = "上报 {n} 竞品动作很快，请领导关注"
APPROVALS = ((HEAD, "同意"), (LEADER, "批准，注意控制预算"))


def month_of_week(days: Sequence[date]) -> str:
    """Return the month (YYYY-MM) most of ``days`` fell in, the later one on a tie.

    On a Tuesday the 2nd the played week is mostly last month's: a report of this month would
    show two days of it and count the rest of the month as missing.
    """
    months = Counter(f"{day:%Y-%m}" for day in days)
    return max(months, key=lambda key: (months[key], key))


def week(policy, today: date) -> list[date]:
    """Return the last five working days up to ``today`` (included when it is one), oldest first."""
    working = WorkingDays(policy)
    days: list[date] = []
    day = today
    while len(days) < 5:
        if working.is_working_day(day):
            days.append(day)
        day -= timedelta(days=1)
    return days[::-1]


def registry_csv() -> bytes:
    """Return the demo's customer registry as a GBK CSV with Chinese headers, as Excel saves it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(REGISTRY_HEADER)
    writer.writerows(REGISTRY)
    return out.getvalue().encode("gbk")


def plan_workbook(days: Sequence[date], today: date, working: WorkingDays) -> bytes:
    """Return 王芳's plan for unit east and ``today``'s month: the week's registry visits in the month,
    赵强's monthly visit, 味达 in this week and the month's last working day at 家乐福 (when still ahead)."""
    import openpyxl

    names = {row[0]: row[1] for row in REGISTRY}
    rows: list[list[object]] = [
        [f"华东事业部 {today.year}年{today.month}月 巡访计划"], ["营业单位：华东事业部"], [f"期间：{today.year}年{today.month}月"],
        ["重点推销商品：小包装酱油、低盐生抽"], ["重点调查项目：竞品价格；终端陈列"], ["特别调查项目：春节备货意向"], [],
        ["日期", "客户名称", "巡访人", "目的"]]
    people = {LI: "李雷", HAN: "韩梅梅"}
    for report in WEEK:
        day = days[report.day]
        if report.rep in people and (day.year, day.month) == (today.year, today.month):
            rows += [[datetime(day.year, day.month, day.day), names[v["id"]], people[report.rep], PURPOSES[v["id"]]]
                     for v in report.visits if v["id"]]
    iso = today.isocalendar()
    rows += [[f"{today:%Y-%m}", "联华便利（徐汇店）", "赵强", "月度巡访"],
             [f"{iso.year}-W{iso.week:02d}", "杭州味达调味品厂", "韩梅梅", "跟进新配方量产"]]
    month_end = (today.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    ahead = working.working_days_in(today + timedelta(days=1), month_end)
    if ahead:
        rows.append([datetime(ahead[-1].year, ahead[-1].month, ahead[-1].day), "家乐福（古北店）", "李雷", "月末盘点"])
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "巡访计划"
    for row in rows:
        sheet.append(row)
    for cells in sheet.iter_rows():
        for cell in cells:
            if isinstance(cell.value, datetime):
                cell.number_format = "yyyy-mm-dd"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def report_mail(report: DayReport, day: date, sent: datetime, sender: mail.Sender, to: str, message_id: str) -> bytes:
    """Return the raw mail of one report of the week, as the rep's client writes it on ``day``."""
    english = report.client == "outlook_en"
    text = mail.report_text(report.visits, english=english, day=day.isoformat() if report.dated else None)
    subject = report.subject.format(m=day.month, d=day.day)
    kwargs = {"date": sent, "message_id": message_id}
    if report.client == "foxmail":
        return mail.foxmail_gbk(sender, to, subject, text, signature=sender.name, **kwargs)
    if report.client in ("iphone", "iphone_text"):
        photo = (f"IMG_{3000 + day.toordinal() % 1000}.jpeg", mail.card_photo(report.visits[0]["customer"]))
        return mail.iphone(sender, to, subject, text, photo=photo if report.client == "iphone" else None, **kwargs)
    if report.client == "qq":
        return mail.qq_html(sender, to, subject, text, signature=sender.name, **kwargs)
    if report.client == "outlook_en":
        return mail.outlook_html_en(sender, to, subject, text, signature=("Best regards,", sender.name), **kwargs)
    form = mail.word_form(day.isoformat(), sender.name, report.visits)
    note = f"王经理：\n\n今天的巡访日报见附件。\n\n{sender.name}\n"
    return mail.outlook_word_form(sender, to, subject, note, form=(f"巡访日报表-{day:%m%d}.docx", form), **kwargs)


class Demo:
    """Play the scenario into the configured sandbox; ``say`` prints each step's line."""

    def __init__(self, ctx: Context, *, say: Callable[[str], None], patience: float = 15.0) -> None:
        self.ctx = ctx
        self.cfg = ctx.cfg
        self.db = ctx.db
        self.say = say
        self.zone = self.cfg.policy.zone
        self.now = datetime.now(self.zone)
        self.today = self.now.date()
        self.out = self.cfg.storage.reports_dir / "demo"
        self.box = ServiceMailbox(ctx, say=say, patience=patience)
        self.service = self.cfg.service_address
        self.days = week(self.cfg.policy, self.today)
        self.month_key = month_of_week(self.days)
        self.urgent_message: str | None = None  # the report holding the visit marked 紧急
        self.escalated = False

    def run(self) -> None:
        """Play every step; raise DemoError (one line) when the sandbox or the service fails."""
        self.check()
        first_outbox = self.db.execute("SELECT COALESCE(MAX(id), 0) FROM outbox").fetchone()[0]
        self.say(f"visitflow demo: the working week {self.days[0]} – {self.days[-1]} of config.yaml's sample people, "
                 f"into {self.service} (IMAP {self.cfg.imap.host}:{self.cfg.imap.port})")
        self.registry()
        self.plan()
        for index, day in enumerate(self.days):
            self.day(index, day)
            self.escalate_flagged()
        if not self.escalated:
            self.say("  the visit marked 紧急 is in no new digest (one per unit and day, already sent for these "
                     "days): the next working day's digest lists it")
        self.gift()
        self.monthly()
        self.where_to_look(first_outbox)

    # ------------------------------------------------------------------ steps

    def check(self) -> None:
        """Make sure the config has the sample people and the sandbox answers."""
        people = self.cfg.organisation.people()
        missing = [email for email in PEOPLE if email not in people]
        if missing:
            raise DemoError(f"the demo plays the sample people of the repository's config.yaml; {self.cfg.path} "
                            f"lacks {', '.join(missing)}")
        self.box.check()

    def registry(self) -> None:
        """Import the registry CSV the way `visitflow customers import` does."""
        from .reading.customers import read_customers
        from .reading.tables import TableError, read_table
        from .store.customers import ImportRefused, import_customers

        path = self._input("客户名录.csv", registry_csv())
        try:
            read = read_customers(read_table(path.read_bytes(), path.name), self.cfg)
            if read.problems:
                raise DemoError(f"{path.name}: {read.problems[0].text()}")
            result = import_customers(self.db, read.customers)
        except (TableError, ImportRefused) as exc:
            problems = getattr(exc, "problems", None)
            raise DemoError(f"{path.name} not imported: {problems[0].text() if problems else exc}") from None
        self.say(f"customers: imported {_shown(path)} (GBK, Chinese headers) as `visitflow customers import` does: "
                 f"{len(result.added)} added, {len(result.changed)} changed, {len(result.unchanged)} unchanged")
        people = self.cfg.organisation.people()
        for c in result.flagged:
            self.say(f"  flagged (Article 4): {c.id} {c.name} – its designated visitor {people[c.designated_visitor].name} "
                     f"is {self.cfg.organisation.regions[c.region].name}'s own salesperson")

    def plan(self) -> None:
        """Mail 王芳's plan for this month as an .xlsx; the service answers her and mails the calendars."""
        name = f"华东事业部{self.today.month}月巡访计划.xlsx"
        path = self._input(name, plan_workbook(self.days, self.today, WorkingDays(self.cfg.policy)))
        message_id = mail.new_message_id("outlook", self.now)
        raw = mail.outlook_attachment(self.person(HEAD), self.service, f"{self.today.year}年{self.today.month}月巡访计划",
                                      "各位好：\n\n附件是华东事业部本月巡访计划，请查收。\n\n王芳\n", date=self.now,
                                      message_id=message_id, file=(path.name, path.read_bytes()))
        self.box.send(HEAD, raw)
        self.box.settle([message_id])
        plan = self.db.execute("SELECT id, version FROM plans WHERE message = ?",
                               [self.box.message_row(message_id)]).fetchone()
        if plan is None:
            raise DemoError(f"王芳's plan mail was not accepted: {self._outcome(message_id)}")
        visitors = self.db.execute("SELECT count(DISTINCT visitor) FROM plan_visits WHERE plan = ?", [plan[0]]).fetchone()[0]
        old = self.db.execute("SELECT id FROM plans WHERE replaced_by = ?", [plan[0]]).fetchone()
        self.say(f"plan: 王芳 mailed 巡访计划 with {name} (SMTP {self.cfg.smtp.host}:{self.cfg.smtp.port}); the service "
                 f"answered her and mailed {visitors} visitor(s) their calendars: P-{plan[0]}, version {plan[1]}"
                 + (f", replaces P-{old[0]}" if old else ""))

    def day(self, index: int, day: date) -> None:
        """Put one day's reports into the inbox, wait for them, then run that day's reminders and digest."""
        reports = [r for r in WEEK if r.day == index]
        mails, ids, who = [], [], []
        for n, report in enumerate(reports):
            sender = self.person(report.rep)
            sent = self.sent_at(day, report.at)
            message_id = mail.new_message_id(report.client.split("_")[0], sent)
            mails.append((report_mail(report, day, sent, sender, self.service, message_id),
                          sent + timedelta(seconds=30 + 11 * n)))
            ids.append(message_id)
            who.append(f"{sender.name} ({CLIENTS[report.client]})")
            if any(v.get("urgent") for v in report.visits):
                self.urgent_message = message_id
        silent = [self.person(e).name for e in (LI, HAN, TOM) if e not in {r.rep for r in reports}]
        self.box.append(mails)
        self.say(f"{day:%a} {day}: {len(mails)} daily reports into the inbox, received "
                 f"{min(m[1] for m in mails):%H:%M}–{max(m[1] for m in mails):%H:%M}: " + ", ".join(who)
                 + (f"; {'、'.join(silent)} sends none" if silent else ""))
        states = self.box.settle(ids)
        reminded = run_job(self.ctx, "missing_reminders", self._at(day, self.cfg.schedule.missing_report_reminder))
        digest = run_job(self.ctx, "daily_digest", self._at(day, self.cfg.schedule.daily_digest))
        self.box.send_outbox()
        self.say(f"  {', '.join(f'{n} {s}' for s, n in sorted(states.items()))}; reminders: {_summary(reminded)}; "
                 f"digests: {_summary(digest)}")

    def escalate_flagged(self) -> None:
        """Have 王芳 escalate the visit marked 紧急 from the digest listing it, and 刘总 acknowledge it."""
        if self.escalated or not self.urgent_message:
            return
        found = self.db.execute(
            "SELECT d.id, d.day, d.message_id, i.number FROM digest_items i JOIN digests d ON d.id = i.digest "
            "JOIN visits v ON v.id = i.visit JOIN reports r ON r.id = v.report "
            "WHERE i.kind = 'visit' AND i.state = 'open' AND r.current = 1 AND r.message = ? "
            "ORDER BY d.day DESC LIMIT 1", [self.box.message_row(self.urgent_message)]).fetchone()
        if found is None:
            return
        digest_id, digest_day, digest_mail, number = found
        text = ESCALATE.format(n=number)
        self.reply(HEAD, digest_mail, text)
        item = self.db.execute("SELECT state, escalated_to FROM digest_items WHERE digest = ? AND number = ?",
                               [digest_id, number]).fetchone()
        if item[0] != "escalated":
            raise DemoError(f"王芳's “{text}” did not escalate item {number} of the digest of {digest_day}")
        self.escalated = True
        self.say(f"  王芳 replied “{text}” to the digest of {digest_day}: the visit marked 紧急 is urgent report "
                 f"U-{item[1]}, now with leadership")
        to_leader = self.db.execute(
            "SELECT um.message_id FROM urgent_mails um JOIN urgent_recipients ur ON ur.id = um.recipient "
            "WHERE um.report = ? AND ur.person = ? AND um.purpose = 'report' ORDER BY um.rowid LIMIT 1",
            [item[1], LEADER]).fetchone()
        if to_leader is None:
            raise DemoError(f"urgent report U-{item[1]} was not mailed to {LEADER}")
        self.reply(LEADER, to_leader[0], "收到")
        state = self.db.execute("SELECT state FROM urgent_reports WHERE id = ?", [item[1]]).fetchone()[0]
        self.say(f"  刘总 replied “收到” to U-{item[1]}: {state}")

    def gift(self) -> None:
        """Mail 韩梅梅's gift request (above the leadership threshold); 王芳, then 刘总 approve it by reply."""
        message_id = mail.new_message_id("iphone", self.now)
        text = GIFT.format(day=(self.today + timedelta(days=14)).isoformat())
        self.box.send(HAN, mail.iphone(self.person(HAN), self.service, "礼品申请", text, date=self.now,
                                       message_id=message_id))
        self.box.settle([message_id])
        request = self.db.execute("SELECT id, amount FROM gift_requests WHERE message = ?",
                                  [self.box.message_row(message_id)]).fetchone()
        if request is None:
            raise DemoError(f"韩梅梅's gift request was not accepted: {self._outcome(message_id)}")
        self.say(f"gift: 韩梅梅 asked for ¥{float(request[1]):,.2f} for 杭州西湖茶叶店, at or above the leadership "
                 f"threshold: G-{request[0]} goes to 王芳, then to 刘总")
        for seq, (approver, decision) in enumerate(APPROVALS, start=1):
            step = self.db.execute(
                "SELECT s.id, gm.message_id FROM gift_steps s JOIN gift_mails gm ON gm.step = s.id "
                "WHERE s.request = ? AND s.seq = ? AND gm.purpose = 'request' LIMIT 1", [request[0], seq]).fetchone()
            if step is None:
                raise DemoError(f"G-{request[0]} step {seq} was never mailed to {approver}")
            self.reply(approver, step[1], decision)
            state = self.db.execute("SELECT state FROM gift_steps WHERE id = ?", [step[0]]).fetchone()[0]
            self.say(f"  {self.person(approver).name} replied “{decision}”: step {seq} {state}")
        state = self.db.execute("SELECT state FROM gift_requests WHERE id = ?", [request[0]]).fetchone()[0]
        self.say(f"  G-{request[0]} {state}; 韩梅梅 heard each decision")

    def monthly(self) -> None:
        """Write the reports (not sent) of the month the played week mostly fell in under the demo's folder."""
        from .monthly.figures import Month
        from .workflows.monthly_report import make_reports

        month = Month(self.month_key)
        made_reports = make_reports(self.ctx, month, at=self.now, send=False, out_dir=self.out / month.key)
        self.say(f"monthly report {month.key}, as of {self.today} (written, not sent):")
        for made in made_reports:
            self.say(f"  {'company summary' if made.unit == '*' else made.unit}: {_shown(made.docx)}  (+ {made.xlsx.name})")

    def where_to_look(self, first_outbox: int) -> None:
        """Print each person's mailbox with what the service sent them, and the files to open."""
        counts: Counter = Counter()
        for (recipients,) in self.db.execute("SELECT recipients FROM outbox WHERE id > ?", [first_outbox]):
            counts.update(json.loads(recipients))
        imap = self.cfg.imap
        password = self.cfg.path.parent / "var" / "sandbox" / "password"
        where = _shown(password) if password.exists() else f"${imap.password_env}"
        self.say("Where to look:")
        self.say(f"  mailboxes over IMAP {imap.host}:{imap.port}, user = the address, password in {where}:")
        for email, person in self.cfg.organisation.people().items():
            if counts[email]:
                self.say(f"    {person.name} <{email}>: {counts[email]} mail(s) from the service")
        self.say(f"    {self.service}: what the service read, in {imap.folders.processed}")
        self.say(f"  the month's reports (Word, and the visits as .xlsx): {_shown(self.out / self.month_key)}")
        self.say(f"  the demo's registry and plan files: {_shown(self.out / 'input')}")
        config = "" if self.cfg.path.resolve() == Path("config.yaml").resolve() else f" --config {_shown(self.cfg.path)}"
        self.say(f"  the service's state: visitflow{config} status")

    # ------------------------------------------------------------------ helpers

    def reply(self, sender: str, to_message: str, text: str) -> None:
        """Reply as ``sender`` to a mail the service sent (a threaded reply, its text quoted) and wait."""
        message_id = mail.new_message_id("iphone" if sender == LEADER else "foxmail", self.now)
        write = mail.iphone_reply if sender == LEADER else mail.foxmail_reply
        raw = write(self.person(sender), self.box.outbox_raw(to_message), text, date=datetime.now(self.zone),
                    message_id=message_id, zone=self.zone)
        self.box.send(sender, raw)
        self.box.settle([message_id])

    def person(self, email: str) -> mail.Sender:
        return mail.Sender(self.cfg.organisation.people()[email].name, email)

    def sent_at(self, day: date, hhmm: str) -> datetime:
        """Return when a report of ``day`` is sent: that local time, and never in the future."""
        hour, minute = map(int, hhmm.split(":"))
        return min(datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.zone),
                   self.now - timedelta(minutes=3))

    def _at(self, day: date, clock) -> datetime:
        return datetime.combine(day, clock, self.zone) if day < self.today else self.now

    def _input(self, name: str, data: bytes) -> Path:
        path = self.out / "input" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def _outcome(self, message_id: str) -> str:
        row = self.db.execute("SELECT state, reason FROM messages WHERE message_id = ? ORDER BY id LIMIT 1",
                              [message_id]).fetchone()
        return f"{row[0]} ({row[1]})" if row else "never recorded"


def _summary(job_line: str) -> str:
    """Return what a job did, without its name and run key ('daily_digest 2026-11-26: …')."""
    text = job_line.split(": ", 1)[-1]
    if text.startswith("already done"):
        return "already done for that day (once per day)"
    return text.split(": ", 1)[-1] if text[:4].isdigit() else text


def _shown(path: Path) -> str:
    """Return ``path`` relative to the working directory when inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
