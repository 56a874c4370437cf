"""Realistic variables for every mail template, as the workflows pass them to ``ctx.send``.

CASES maps each template name to named variable sets (at least two each); COMMON is what
``ctx.send`` and ``reply_to_sender`` add to every mail. CHOICES names the variables that pick
a wording rather than being shown. Values hold markup characters and line breaks on purpose.
"""

from __future__ import annotations

# What ctx.send and reply_to_sender add to every mail (service/context.py, workflows/answer.py).
COMMON = {
    "service_name": "巡访服务 visitflow",
    "service_address": "visits@visitflow.test",
    "kind_names": {
        "daily_report": ("巡访日报", "daily visit report"),
        "gift_request": ("礼品申请", "gift request"),
        "urgent_report": ("巡访紧急报告", "urgent visit report"),
        "visit_plan": ("巡访计划", "visit plan"),
    },
}
# Variables that choose a wording rather than being shown: not checked as values.
CHOICES = {"sent_as", "purpose", "event", "reason_code", "source", "kind_names", "problem", "service_address", "refused", "level",
           "role", "category_key", "what", "why", "kind"}

GIFT = {  # what gift_approval._mail_vars passes
    "request_id": 12, "requester_name": "李雷", "requester_email": "li.lei@visitflow.test",
    "unit_name": "华东事业部", "region_name": "上海", "customer": "华联超市（浦东店）",
    "items": "中秋月饼礼盒", "quantity": "10 盒", "amount": "1,200.00", "reason": "年度重点客户维护",
    "planned_date": "2026-12-05", "step_seq": 1, "step_count": 2, "approver_name": "王芳",
}
HOSTILE_GIFT = {
    **GIFT, "request_id": 407, "customer": "Smith & <Sons> Trading", "items": "Tea <b>gift</b> sets",
    "quantity": None, "amount": "38,000.00", "reason": "Launch event\nsecond day for the <VIP> guests",
    "planned_date": None, "requester_name": "Tom Baker", "unit_name": "华北事业部", "region_name": "北京",
    "step_seq": 2, "step_count": 2, "approver_name": "刘总",
}
REPLY = {"original_subject": "Re: [VF-G-12] 礼品申请待审批", "sender_name": "王芳"}

MONTHLY_KPIS = {"visits": 412, "reps": 12, "reps_reporting": 11, "on_time": "87%", "missing": 9, "coverage": "76%",
                "plan": "—", "urgent_total": 3, "urgent_open": 1, "gift_spent": "12,400.00", "gift_budget": "20,000.00"}
MONTHLY = {"report_id": 7, "token": "M3F9A1C2B7E", "month": "2026-11", "unit_name": "华东事业部 <East & Co>",
           "head_name": "王芳", "kpis": MONTHLY_KPIS}

CASES = {
    "monthly_review": {
        "draft to the head": {**MONTHLY, "review_hours": "48", "due": "2026-12-03 08:00"},
        "English head, no budget": {**MONTHLY, "head_name": "Chen Jing", "unit_name": "华北事业部", "review_hours": "24",
                                    "due": "2026-12-02 08:00", "kpis": {**MONTHLY_KPIS, "gift_budget": ""}},
    },
    "monthly_report": {
        "edited by the head": {"report_id": 7, "month": "2026-11", "unit_name": "华东事业部", "head_name": "王芳",
                               "sent_as": "edited", "review_hours": "48"},
        "sent after no answer": {"report_id": 8, "month": "2026-11", "unit_name": "Smith & <North>",
                                 "head_name": "Chen Jing", "sent_as": "timeout", "review_hours": "48"},
    },
    "monthly_summary": {
        "the company": {**MONTHLY, "unit_name": "", "head_name": ""},
        "a quiet month": {**MONTHLY, "unit_name": "", "head_name": "", "kpis": {**MONTHLY_KPIS, "visits": 0}},
    },
    "monthly_refused": {
        "not the head": {"original_subject": "Re: [VF-M-7] 请审阅", "sender_name": "李雷", "report_id": 7,
                         "unit_name": "华东事业部", "month": "2026-11", "reason_code": "not_head",
                         "reason": "not_head: only the unit head (wang.fang@visitflow.test) reviews <it>"},
        "a pdf instead of the docx": {"original_subject": "", "sender_name": "Chen Jing", "report_id": 8,
                                      "unit_name": "华北事业部", "month": "2026-11", "reason_code": "not_docx",
                                      "reason": "not_docx: no Word .docx among the attached files (report.pdf)"},
    },
    "monthly_held": {
        "rejected with a comment": {"original_subject": "Re: [VF-M-7] 请审阅", "sender_name": "王芳", "report_id": 7,
                                    "unit_name": "华东事业部", "month": "2026-11", "token": "M3F9A1C2B7E",
                                    "comment": "李雷的数据有误 <见附件> & 改好再发"},
        "rejected without one": {"original_subject": "", "sender_name": "Chen Jing", "report_id": 8,
                                 "unit_name": "华北事业部 & <Co>", "month": "2026-11", "token": "M00AA11BB22",
                                 "comment": ""},
    },
    "monthly_no_decision": {
        "a question": {"original_subject": "Re: [VF-M-7] 请审阅", "sender_name": "王芳", "report_id": 7,
                       "unit_name": "华东事业部", "month": "2026-11", "token": "M3F9A1C2B7E"},
        "English": {"original_subject": "Re: review", "sender_name": "Chen Jing", "report_id": 8,
                    "unit_name": "华北事业部 & <Co>", "month": "2026-11", "token": "M00AA11BB22"},
    },
    "daily_receipt": {
        "two visits, urgent and major tech issue, cards": {
            "original_subject": "巡访日报 2026-11-26", "sender_name": "李雷", "report_date": "2026-11-26",
            "replaced": False, "source": "text", "forwarded": ["无锡喆诚自动化设备有限公司"],
            "visit_count": 2, "unlisted": 0,
            "visits": [
                {"number": 1, "customer": "华联超市（浦东店）", "when": "2026-11-26 09:30–11:00",
                 "fields": ["客户意见", "市场行情"], "urgent": False, "tech_major": False, "tech_issue": False},
                {"number": 2, "customer": "无锡喆诚自动化设备有限公司", "when": "2026-11-26 14:30",
                 "fields": ["处理事项", "技术问题"], "urgent": True, "tech_major": True, "tech_issue": True},
            ],
            "cards": ["名片-张经理.jpg (120 KB): 已存为客户卡", "archive.zip (9000 KB): 未保存：超过大小限制"],
            "unregistered": ["无锡喆诚自动化设备有限公司"], "unregistered_more": 0,
        },
        "replacing report read from a Word form, nothing else read": {
            "original_subject": "", "sender_name": "Tom Baker", "report_date": "2026-12-01",
            "replaced": True, "source": "巡访日报表-12月1日.docx", "forwarded": [],
            "visit_count": 51, "unlisted": 50,
            "visits": [
                {"number": 1, "customer": "A&B <Beijing> Ltd", "when": "2026-12-01 08:05", "fields": [],
                 "urgent": False, "tech_major": False, "tech_issue": True},
            ],
            "cards": [], "unregistered": ["A&B <Beijing> Ltd", "O'Brien & Sons"], "unregistered_more": 49,
        },
        "no registry for the unit: no note": {
            "original_subject": "Daily report", "sender_name": "Tom Baker", "report_date": "2026-12-02",
            "replaced": False, "source": "text", "forwarded": [], "visit_count": 1, "unlisted": 0,
            "visits": [
                {"number": 1, "customer": "ACME", "when": "2026-12-02 09:00", "fields": ["Effect"],
                 "urgent": False, "tech_major": False, "tech_issue": False},
            ],
            "cards": [], "unregistered": [], "unregistered_more": 0,
        },
    },
    "daily_rejected": {
        "three problems": {
            "original_subject": "日报", "sender_name": "韩梅梅", "report_date": "2026-11-26", "unlisted": 0,
            "problems": ["第 1 条巡访：缺少“巡访时间 Visit time”。",
                         "第 2 条巡访：“巡访时间 Visit time”无法识别：“下午三点半”，请写成 2026-11-26 09:30。",
                         "客户意见、市场行情、巡访效果、处理事项至少要填写一项。"],
        },
        "not a rep, no date, problem with markup and a line break": {
            "original_subject": None, "sender_name": "stranger@elsewhere.test", "report_date": None, "unlisted": 7,
            "problems": ["Only the reps listed in the configuration send daily visit reports; you are not one of them.",
                         "\"Visit time\" cannot be read: \"<2:30> & later\"\nsecond line of the value"],
        },
    },
    "gift_approval": {
        "first request": {**GIFT, "purpose": "request", "budget_remaining": "8,800.00", "over_budget": False,
                          "token": "G-12-7f3a9c2e"},
        "reminder over budget": {**GIFT, "purpose": "reminder", "budget_remaining": "500.00", "over_budget": True,
                                 "token": "G-12-d41d8cd9"},
        "markup in the values, no budget set": {**HOSTILE_GIFT, "purpose": "request", "budget_remaining": None,
                                                "over_budget": False, "token": "G-407-0a1b2c3d"},
    },
    "gift_invalid": {
        "two problems": {"original_subject": "礼品申请", "sender_name": "李雷",
                         "problems": ["缺少“礼品 Gift”。", "“预算金额 Amount”无法识别：“一千二”，请写成 ¥1,200 或 1200元。"]},
        "one problem with markup": {"original_subject": "gift <urgent>", "sender_name": "Tom Baker",
                                    "problems": ["\"Amount\" cannot be read: \"<1200> & tax\"; write e.g. ¥1,200."]},
    },
    "gift_no_decision": {
        "chinese subject": {**REPLY, "request_id": 12, "customer": "华联超市（浦东店）"},
        "customer with markup": {"original_subject": "Re: [VF-G-407] gift", "sender_name": "刘总",
                                 "request_id": 407, "customer": "Smith & <Sons> Trading"},
    },
    "gift_outcome": {
        "finally approved with a comment": {**GIFT, "event": "approved", "comment": "同意，注意控制数量",
                                            "decider_name": "王芳", "next_approver": None},
        "rejected without a comment": {**GIFT, "event": "rejected", "comment": "", "decider_name": "刘总",
                                       "next_approver": None},
        "escalated": {**HOSTILE_GIFT, "event": "escalated", "comment": "", "decider_name": "Chen Jing",
                      "next_approver": "刘总"},
        "step approved, comment with markup": {**GIFT, "event": "step_approved", "comment": "ok <if> budget & stock",
                                               "decider_name": "王芳", "next_approver": "刘总"},
    },
    "gift_received": {
        "first step to the unit head": {"original_subject": "礼品申请 华联超市", "sender_name": "李雷",
                                        "request_id": 12, "approver_name": "王芳", "amount": "1,200.00"},
        "no subject": {"original_subject": "", "sender_name": "Tom Baker", "request_id": 407,
                       "approver_name": "Chen Jing", "amount": "38,000.00"},
    },
    "gift_refused": {
        **{f"refused: {code}": {**REPLY, "request_id": 12, "customer": "华联超市（浦东店）", "reason_code": code,
                                "reason": f"{code}: details for the log"}
           for code in ("decided", "old_step", "not_approver", "no_token", "ambiguous_sender")},
        "unauthenticated, markup": {"original_subject": "Re: <gift>", "sender_name": "Tom Baker", "request_id": 407,
                                    "customer": "Smith & <Sons> Trading", "reason_code": "unauthenticated",
                                    "reason": "unauthenticated: no dkim=pass"},
    },
    "help": {
        "not recognised": {"original_subject": "你好 <test>", "sender_name": "李雷", "problem": None},
        "visit plan not available": {"original_subject": "巡访计划 12月", "sender_name": "Tom Baker",
                                     "problem": "visit_plan"},
    },
    "too_large": {
        "a 45 MB mail": {"original_subject": "巡访日报 照片", "sender_name": "李雷", "size_mb": "45.2",
                         "limit_mb": "40", "attachment_mb": "10"},
        "no subject, English": {"original_subject": "", "sender_name": "Tom Baker", "size_mb": "41",
                                "limit_mb": "40", "attachment_mb": "10"},
    },
    "no_decision_needed": {
        "reply to a receipt": {"original_subject": "Re: 回复：巡访日报【已收到】", "sender_name": "赵强"},
        "no subject": {"original_subject": "", "sender_name": "Chen Jing"},
    },
    "tech_issue": {
        "major, issue of several lines": {
            "rep_name": "李雷", "rep_email": "li.lei@visitflow.test", "region_name": "上海",
            "customer": "无锡喆诚自动化设备有限公司", "when": "2026-11-26 14:30", "major": True,
            "report_date": "2026-11-26", "issue": "重大：生产线停机两次\n主轴异响，疑似轴承损坏\n客户要求本周内派人"},
        "one line with markup": {
            "rep_name": "Tom Baker", "rep_email": "tom.baker@visitflow.test", "region_name": "北京",
            "customer": "A&B <Beijing> Ltd", "when": "2026-12-01 08:05", "major": False,
            "report_date": "2026-12-01", "issue": "Label printer skips <every> 3rd label & jams"},
    },
}

URGENT = {  # what urgent_report._mail_vars passes
    "report_id": 31, "category": "同行新产品上市", "category_key": "competitor_product",
    "customer": "华联超市（浦东店）", "subject_customer": "华联超市（浦东店）",
    "details": "竞品本周在华东上市新口味，进场费全免", "suggestion": "尽快申请同等促销政策",
    "reporter_name": "李雷", "reporter_email": "li.lei@visitflow.test", "unit_name": "华东事业部",
    "head_comment": "", "level": "unit", "created_at": "2026-11-26 10:42",
}
HOSTILE_URGENT = {
    **URGENT, "report_id": 58, "category": "Product defect", "category_key": "product_defect",
    "customer": "A&B <Beijing> Ltd", "subject_customer": "A&B <Beijing> Ltd",
    "details": "Seal <leaks> after 2 days & smells\nbatch 2026-11-B only",
    "suggestion": "", "reporter_name": "Tom Baker", "unit_name": "华北事业部", "level": "leadership",
    "head_comment": "Confirmed by the lab", "created_at": "2026-12-01 16:05",
}
CASES.update({
    "digest": {
        "two reps, an urgent item, a major tech issue": {
            "digest_id": 5, "day": "2026-11-26", "unit_name": "华东事业部", "head_name": "王芳",
            "reps": [{"name": "李雷", "reported": True, "visits": 2}, {"name": "韩梅梅", "reported": False, "visits": 0}],
            "silent": ["韩梅梅"],
            "visits": [
                {"who": "李雷", "customer": "华联超市（浦东店）", "when": "09:30–11:00",
                 "line": "希望增加小包装规格；竞品本月降价 5%", "urgent": False,
                 "fields": {"feedback": "希望增加小包装规格", "market": "竞品本月降价 5%"}},
                {"who": "李雷", "customer": "无锡喆诚自动化设备有限公司", "when": "14:30", "line": "更换轴承，已试机",
                 "urgent": True, "fields": {"handled": "更换轴承，已试机"}},
            ],
            "tech_issues": [{"who": "李雷", "customer": "无锡喆诚自动化设备有限公司", "text": "主轴异响，停机两次",
                             "major": True}],
            "items": [
                {"kind": "visit", "visit": 7, "who": "李雷", "category": "本公司产品重大缺陷",
                 "customer": "无锡喆诚自动化设备有限公司", "text": "更换轴承，已试机", "reference": "", "number": 1},
                {"kind": "urgent", "report": 31, "who": "韩梅梅", "category": "同行新产品上市", "customer": "",
                 "text": "竞品本周在华东上市新口味", "reference": "U-31", "number": 2},
            ],
            "token": "D-5-9f8e7d6c",
        },
        "nobody reported, nothing to do": {
            "digest_id": 6, "day": "2026-11-27", "unit_name": "华北事业部", "head_name": "Chen Jing",
            "reps": [{"name": "Tom Baker", "reported": False, "visits": 0}], "silent": ["Tom Baker"],
            "visits": [], "tech_issues": [], "items": [], "token": "D-6-0c1d2e3f",
        },
    },
    "digest_result": {
        "done and not done": {"original_subject": "[VF-D-5] 华东事业部 巡访日报汇总", "sender_name": "王芳",
                              "day": "2026-11-26", "done": [{"number": 2, "what": "escalate"},
                                                            {"number": 1, "what": "close"}],
                              "problems": [{"number": 9, "why": "missing", "count": 2}], "refused": None},
        "refused: not the head": {"original_subject": "[VF-D-5] <digest>", "sender_name": "李雷",
                                  "day": "2026-11-26", "done": [], "problems": [], "refused": "not_head"},
        "no items named": {"original_subject": "[VF-D-6] digest", "sender_name": "Chen Jing", "day": "2026-11-27",
                           "done": [], "problems": [], "refused": "no_items"},
    },
    "report_reminder": {
        "chinese rep": {"day": "2026-11-26", "rep_name": "李雷", "digest_time": "18:00"},
        "english rep": {"day": "2026-12-01", "rep_name": "Tom Baker", "digest_time": "17:30"},
    },
    "urgent_no_decision": {
        "with a customer": {**REPLY, "report_id": 31, "customer": "华联超市（浦东店）"},
        "no customer": {"original_subject": "Re: [VF-U-58] <urgent>", "sender_name": "Tom Baker", "report_id": 58,
                        "customer": ""},
    },
    "urgent_receipt": {
        "to the unit head": {"original_subject": "紧急：竞品新口味", "sender_name": "李雷", "report_id": 31,
                             "category": "同行新产品上市", "customer": "华联超市（浦东店）", "sent_to": ["王芳"],
                             "level": "unit"},
        "straight to leadership, no customer": {"original_subject": "", "sender_name": "Tom Baker", "report_id": 58,
                                                "category": "Product defect", "customer": "",
                                                "sent_to": ["刘总", "生产部", "技术部"], "level": "leadership"},
    },
    "urgent_refused": {
        **{f"refused: {code}": {**REPLY, "report_id": 31, "customer": "华联超市（浦东店）", "reason_code": code,
                                "reason": f"{code}: details for the log"}
           for code in ("closed", "not_recipient", "not_head", "already_escalated", "no_token", "ambiguous_sender",
                        "wrong_word")},
        "unauthenticated, markup": {"original_subject": "Re: <urgent>", "sender_name": "Tom Baker", "report_id": 58,
                                    "customer": "A&B <Beijing> Ltd", "reason_code": "unauthenticated",
                                    "reason": "unauthenticated: no dkim=pass"},
    },
    "urgent_rejected": {
        "two problems": {"original_subject": "紧急", "sender_name": "李雷",
                         "problems": ["缺少“类别”。", "“类别”无法识别：“很急”。"]},
        "not allowed, markup": {"original_subject": None, "sender_name": "stranger@elsewhere.test",
                                "problems": ["Only reps <and> heads & leadership send urgent reports."]},
    },
    "urgent_report": {
        "to the unit head": {**URGENT, "role": "head", "token": "U-31-a1b2c3d4", "purpose": "request"},
        "reminder to leadership, head's comment, markup": {**HOSTILE_URGENT, "role": "leadership",
                                                           "token": "U-58-e5f6a7b8", "purpose": "reminder"},
    },
    "urgent_state": {
        "acknowledged": {**URGENT, "event": "acknowledged", "actor_name": "王芳", "comment": ""},
        "closed with the result": {**URGENT, "event": "closed", "actor_name": "王芳", "comment": "已申请同等促销政策"},
        "escalated, markup": {**HOSTILE_URGENT, "event": "escalated", "actor_name": "Chen Jing",
                              "comment": "Needs <QA> & legal"},
    },
})

PLAN = {  # what visit_plan passes to the receipt and the calendars
    "unit_name": "华东事业部", "period": "2026-12", "period_start": "2026-12-01", "period_end": "2026-12-31",
    "key_products": ["小包装酱油", "低盐生抽"], "key_surveys": ["竞品价格", "终端陈列"], "special_surveys": ["春节备货意向"],
}
HOSTILE_PLAN = {
    "unit_name": "North <Unit> & Co", "period": "2027-Q1", "period_start": "2027-01-01", "period_end": "2027-03-31",
    "key_products": ["Soy <sauce> & oil"], "key_surveys": [], "special_surveys": ["Spring\nFestival <orders>"],
}
CASES.update({
    "plan_receipt": {
        "first version, unknown customers": {
            **PLAN, "original_subject": "2026年12月巡访计划", "sender_name": "王芳", "plan_id": 3, "version": 1,
            "replaced": False, "visit_count": 5,
            "visitors": [{"name": "李雷", "email": "li.lei@visitflow.test", "count": 2},
                         {"name": "韩梅梅", "email": "han.meimei@visitflow.test", "count": 1},
                         {"name": "赵强", "email": "zhao.qiang@visitflow.test", "count": 2}],
            "has_registry": True, "unknown_customers": ["家乐福（古北店）", "无锡喆诚自动化设备有限公司"],
            "unknown_unlisted": 0, "calendars": 3},
        "replacing version, no registry, markup": {
            **HOSTILE_PLAN, "original_subject": "visit plan <Q1>", "sender_name": "Chen Jing", "plan_id": 9,
            "version": 2, "replaced": True, "visit_count": 1,
            "visitors": [{"name": "Tom <Baker>", "email": "tom.baker@visitflow.test", "count": 1}],
            "has_registry": False, "unknown_customers": [], "unknown_unlisted": 0, "calendars": 2},
        "all customers known, many unknown elsewhere": {
            **PLAN, "original_subject": "", "sender_name": "刘总", "plan_id": 4, "version": 1, "replaced": False,
            "visit_count": 120, "visitors": [{"name": "李雷", "email": "li.lei@visitflow.test", "count": 120}],
            "has_registry": True, "unknown_customers": ["A&B <Shop>"], "unknown_unlisted": 61, "calendars": 1},
    },
    "plan_rejected": {
        "rows named": {"original_subject": "巡访计划（12月）", "sender_name": "王芳", "unlisted": 0,
                       "problems": ["第 5 行：日期“2027-01-05”不在计划期间 2026-12（2026-12-01 至 2026-12-31）内。",
                                    "第 8 行：巡访人“张三”不是系统中的人员，请写配置中的姓名或邮箱。"]},
        "not allowed, markup": {"original_subject": None, "sender_name": "Tom Baker", "unlisted": 3,
                                "problems": ["Only a unit head (for their own unit) or leadership may submit a visit "
                                             "plan; <tom.baker@visitflow.test> & co may not."]},
    },
    "plan_calendar": {
        "first version, day, week and month": {
            **PLAN, "visitor_name": "李雷", "submitter_name": "王芳", "version": 1, "replaced": False,
            "visit_count": 3, "unlisted": 0, "dropped": [],
            "visits": [{"date": "2026-12-03", "start": "2026-12-03", "end": "2026-12-03",
                        "customer": "华联超市（浦东店）", "purpose": "推广小包装酱油"},
                       {"date": "2026-W49", "start": "2026-12-01", "end": "2026-12-06",
                        "customer": "联华便利（徐汇店）", "purpose": ""},
                       {"date": "2026-12", "start": "2026-12-01", "end": "2026-12-31",
                        "customer": "家乐福（古北店）", "purpose": "月度巡访"}]},
        "replacing version with dropped visits, markup": {
            **HOSTILE_PLAN, "visitor_name": "Tom Baker", "submitter_name": "Chen Jing", "version": 3, "replaced": True,
            "visit_count": 60, "unlisted": 10,
            "visits": [{"date": "2027-01-12", "start": "2027-01-12", "end": "2027-01-12",
                        "customer": "Wumart <Haidian> & Sons", "purpose": "New\nproduct"}],
            "dropped": [{"date": "2027-W03", "start": "2027-01-18", "end": "2027-01-24", "customer": "Jingkelong",
                         "purpose": ""}]},
        "every visit dropped": {
            **PLAN, "visitor_name": "赵强", "submitter_name": "王芳", "version": 2, "replaced": True,
            "visit_count": 0, "unlisted": 0, "visits": [],
            "dropped": [{"date": "2026-12", "start": "2026-12-01", "end": "2026-12-31", "customer": "家乐福（古北店）",
                         "purpose": "月度巡访"}]},
    },
})
