"""Daily-report visits matched to the customer registry: golden .eml beside the expected .json.

Each mail is processed as the intake would (recorded, classified, handled) against the
registry of ``fixtures/customers/registry.csv``; the JSON names, per visit, what the rep wrote
and the customer it matched (null: not in the registry), and the one note the receipt must
carry about the names that matched nothing.
"""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path

import pytest

from service.intake import Intake, PollResult
from service.reading.customers import read_customers
from service.reading.tables import read_table
from service.store.customers import import_customers

from .conftest import FIXTURES

GOLDEN = sorted((FIXTURES / "customers").glob("*.eml"))
NOTE_STARTS = ("未在客户名录中", "Not in the customer registry")


def import_registry(ctx) -> None:
    path = FIXTURES / "customers" / "registry.csv"
    read = read_customers(read_table(path.read_bytes(), path.name), ctx.cfg)
    assert read.problems == []
    import_customers(ctx.db, read.customers)


def process(ctx, raw: bytes) -> str:
    """Process one mail as the intake would; return the text of the receipt it queued."""
    intake = Intake(ctx)
    recorded, msg = intake.record("INBOX", 1, 1, raw)
    assert intake.process(recorded.id, PollResult(), msg=msg) == "processed"
    (receipt,) = ctx.db.execute("SELECT raw FROM outbox WHERE template = 'daily_receipt'").fetchone()
    return email.message_from_bytes(receipt, policy=email.policy.default).get_body(("plain",)).get_content()


def note_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(NOTE_STARTS)]


@pytest.mark.parametrize("eml", GOLDEN, ids=lambda p: p.stem)
def test_each_visit_matches_its_golden_customer_and_the_receipt_names_the_unknown_ones(ctx, eml: Path):
    expected = json.loads(eml.with_suffix(".json").read_text(encoding="utf-8"))
    import_registry(ctx)

    receipt = process(ctx, eml.read_bytes())

    visits = ctx.db.execute("SELECT r.rep, v.customer, v.customer_id FROM visits v JOIN reports r ON r.id = v.report "
                            "ORDER BY v.seq").fetchall()
    assert visits == [(expected["rep"], v["customer"], v["customer_id"]) for v in expected["visits"]]
    (note,) = note_lines(receipt)
    assert note.startswith(expected["receipt_note"])
    # What the rep wrote is what the receipt lists: matching never rewrites a name.
    for visit in expected["visits"]:
        assert f". {visit['customer']} — " in receipt


@pytest.mark.parametrize("eml", GOLDEN, ids=lambda p: p.stem)
def test_without_any_registry_the_visits_are_stored_and_the_receipt_says_nothing_about_it(ctx, eml: Path):
    expected = json.loads(eml.with_suffix(".json").read_text(encoding="utf-8"))

    receipt = process(ctx, eml.read_bytes())

    assert note_lines(receipt) == []
    assert ctx.db.execute("SELECT customer, customer_id FROM visits ORDER BY seq").fetchall() == [
        (v["customer"], None) for v in expected["visits"]]


def test_a_report_whose_customers_are_all_registered_gets_no_note(ctx):
    import_registry(ctx)
    raw = (FIXTURES / "customers" / "zh_plain_registered_alias_and_unknown.eml").read_bytes()
    receipt = process(ctx, raw.replace("宏达五金".encode(), "华联浦东".encode()))
    assert note_lines(receipt) == []
    assert [row[0] for row in ctx.db.execute("SELECT customer_id FROM visits ORDER BY seq")] == ["C001"] * 4
