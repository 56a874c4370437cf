"""Read a gift budget application (赠送礼品预算申请表, spec §4) from a mail."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from ..config import Config
from ..inbound.mime import DecodedMessage
from .amounts import AmountMismatch, format_amount, parse_amount
from .problems import Problem, single_fields
from .labels import LabelSet
from .quotes import own_text
from .times import parse_date

GIFT_LABELS = LabelSet({
    "customer": ("客户名称", "客户", "Customer", "Customer name"),
    "items": ("礼品", "礼品名称", "赠送礼品", "Gift", "Gifts", "Items", "Gift items"),
    "quantity": ("数量", "Quantity", "Qty"),
    "amount": ("预算金额", "金额", "预算", "Amount", "Budget", "Budget amount"),
    "reason": ("事由", "理由", "原因", "赠送事由", "Reason", "Purpose"),
    "planned_date": ("赠送日期", "日期", "计划日期", "Date", "Planned date", "Gift date"),
})
REQUIRED = ("customer", "items", "amount", "reason")


@dataclass
class GiftRequest:
    values: dict[str, str] = field(default_factory=dict)  # data name -> text as written
    amount: Decimal | None = None
    planned_date: date | None = None
    problems: list[Problem] = field(default_factory=list)

    def as_json(self) -> dict:
        """Return the request under spec §4's data names (amount as a decimal string)."""
        return {
            "customer": self.values.get("customer"),
            "items": self.values.get("items"),
            "quantity": self.values.get("quantity"),
            "amount": format_amount(self.amount) if self.amount is not None else None,
            "reason": self.values.get("reason"),
            "planned_date": self.planned_date.isoformat() if self.planned_date else None,
        }


def read_gift_request(msg: DecodedMessage, cfg: Config) -> GiftRequest:
    """Read and validate the application's fields; every problem is listed."""
    values, problems = single_fields(GIFT_LABELS.split(own_text(msg.text)), REQUIRED)
    request = GiftRequest(values=values, problems=problems)
    if request.values.get("amount"):
        parsed = parse_amount(request.values["amount"])
        if isinstance(parsed, AmountMismatch):
            # Figures and words disagree: name both, take neither.
            request.problems.append(Problem("amount_mismatch", field="amount", value=request.values["amount"],
                                            details=(("figures", format_amount(parsed.figures)),
                                                     ("words", format_amount(parsed.words)))))
        elif isinstance(parsed, str):
            request.problems.append(Problem(f"amount_{parsed}", field="amount", value=request.values["amount"]))
        elif parsed <= 0:
            request.problems.append(Problem("amount_zero", field="amount", value=request.values["amount"]))
        else:
            request.amount = parsed
    if request.values.get("planned_date"):
        today = (msg.date.astimezone(cfg.policy.zone) if msg.date and msg.date.tzinfo
                 else datetime.now(cfg.policy.zone)).date()
        # A gift is planned: a day or weekday alone is the next one, not the last.
        parsed_date = parse_date(request.values["planned_date"], today, ahead=True)
        if isinstance(parsed_date, str):
            request.problems.append(Problem(f"date_{parsed_date}", field="planned_date",
                                            value=request.values["planned_date"]))
        else:
            request.planned_date = parsed_date
    return request
