"""A corrected plan sent by Reply is read as a plan (issue 10): golden replies and what comes of them.

Heads correct a refused plan, or send a new version, by replying to the service's rejection or
receipt – Outlook with In-Reply-To, Gmail with References only, Foxmail in GBK. Such a reply
answers no open item, so without a plan check it would earn "nothing to decide" and the plan
would never be read. Each golden .eml beside its .json says what the service does with it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.intake import Intake, PollResult

from .conftest import FIXTURES

GOLDEN = sorted((FIXTURES / "plan_replies").glob("*.eml"))


def outcome(ctx, raw: bytes) -> dict:
    """Process one mail as the intake does (no IMAP); return its kind, state, the mail sent and the plan kept."""
    intake = Intake(ctx)
    recorded, msg = intake.record("INBOX", 1, 1, raw)
    state = intake.process(recorded.id, PollResult(), msg=msg)
    kind = ctx.db.execute("SELECT kind FROM messages WHERE id = ?", [recorded.id]).fetchone()[0]
    sent = [row[0] for row in ctx.db.execute("SELECT template FROM outbox ORDER BY id")]
    plan = ctx.db.execute("SELECT id, unit, period FROM plans WHERE current = 1").fetchone()
    visits = [] if plan is None else [list(row) for row in ctx.db.execute(
        "SELECT date, customer, visitor FROM plan_visits WHERE plan = ? ORDER BY row", [plan[0]])]
    return {"kind": kind, "state": state, "sent": sent,
            "plan": None if plan is None else {"unit": plan[1], "period": plan[2], "visits": visits}}


def test_there_are_golden_plan_replies_of_three_clients_and_two_that_are_no_plan():
    stems = [eml.stem for eml in GOLDEN]
    assert sum(outcome_of(eml)["plan"] is not None for eml in GOLDEN) >= 3
    assert sum(outcome_of(eml)["plan"] is None for eml in GOLDEN) >= 2
    assert {s.split("_")[0] for s in stems} >= {"outlook", "gmail", "foxmail"}


def outcome_of(eml: Path) -> dict:
    return json.loads(eml.with_suffix(".json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("eml", GOLDEN, ids=lambda p: p.stem)
def test_a_reply_to_a_plan_answer_comes_out_as_its_golden_json(ctx, eml):
    assert outcome(ctx, eml.read_bytes()) == outcome_of(eml)
