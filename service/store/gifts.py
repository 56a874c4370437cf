"""Gift requests, their approver steps and the mails sent for each step."""

from __future__ import annotations

from decimal import Decimal

from sqlite_utils import Database

from .db import now

STEP_COLUMNS = {"state", "sent_at", "reminded_at", "escalated_at", "decided_at", "comment", "decided_by_message"}


def create_request(db: Database, *, message: int, requester: str, unit: str, region: str, values: dict,
                   period: str, steps: list[tuple[str, str, str]]) -> int:
    """Store a request and its approver chain (level, approver, token); return the request id."""
    request_id = db["gift_requests"].insert({
        "message": message, "requester": requester, "unit": unit, "region": region,
        "customer": values["customer"], "items": values["items"], "quantity": values.get("quantity"),
        "amount": values["amount"], "reason": values["reason"], "planned_date": values.get("planned_date"),
        "state": "pending", "budget_period": period, "created_at": now(),
    }).last_pk
    db["gift_steps"].insert_all([
        {"request": request_id, "seq": seq, "level": level, "approver": approver, "token": token, "state": "waiting"}
        for seq, (level, approver, token) in enumerate(steps, start=1)])
    return request_id


def add_step(db: Database, request: int, *, level: str, approver: str, token: str) -> dict:
    """Append a step to a request's chain (escalation) and return it."""
    seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM gift_steps WHERE request = ?", [request]).fetchone()[0]
    step_id = db["gift_steps"].insert({"request": request, "seq": seq, "level": level, "approver": approver,
                                       "token": token, "state": "waiting"}).last_pk
    return get_step(db, step_id)


def get_request(db: Database, request: int) -> dict | None:
    rows = list(db.query("SELECT * FROM gift_requests WHERE id = ?", [request]))
    return rows[0] if rows else None


def get_step(db: Database, step: int) -> dict:
    return next(db.query("SELECT * FROM gift_steps WHERE id = ?", [step]))


def steps(db: Database, request: int) -> list[dict]:
    return list(db.query("SELECT * FROM gift_steps WHERE request = ? ORDER BY seq", [request]))


def current_step(db: Database, request: int) -> dict | None:
    """Return the step waiting for a decision (state pending), or None."""
    rows = list(db.query("SELECT * FROM gift_steps WHERE request = ? AND state = 'pending' ORDER BY seq LIMIT 1",
                         [request]))
    return rows[0] if rows else None


def next_waiting_step(db: Database, request: int) -> dict | None:
    rows = list(db.query("SELECT * FROM gift_steps WHERE request = ? AND state = 'waiting' ORDER BY seq LIMIT 1",
                         [request]))
    return rows[0] if rows else None


def update_step(db: Database, step: int, **changes) -> None:
    unknown = set(changes) - STEP_COLUMNS
    if unknown:
        raise ValueError(f"not step columns: {unknown}")
    db["gift_steps"].update(step, changes)


def finish_request(db: Database, request: int, *, state: str) -> None:
    """Mark the request decided; steps still waiting will never be asked."""
    db["gift_requests"].update(request, {"state": state, "decided_at": now()})
    db.execute("UPDATE gift_steps SET state = 'cancelled' WHERE request = ? AND state = 'waiting'", [request])


def record_mail(db: Database, *, message_id: str, step: int, purpose: str) -> None:
    db["gift_mails"].insert({"message_id": message_id, "step": step, "purpose": purpose})


def step_by_mail(db: Database, message_id: str) -> dict | None:
    """Return the step a mail we sent was about, or None."""
    rows = list(db.query("SELECT s.* FROM gift_mails m JOIN gift_steps s ON s.id = m.step WHERE m.message_id = ?",
                         [message_id]))
    return rows[0] if rows else None


def approved_total(db: Database, unit: str, period: str) -> Decimal:
    """Return the sum of approved amounts of unit in the budget period."""
    amounts = db.execute("SELECT amount FROM gift_requests WHERE unit = ? AND budget_period = ? "
                         "AND state = 'approved'", [unit, period]).fetchall()
    return sum((Decimal(a[0]) for a in amounts), Decimal("0.00"))


def pending_steps(db: Database, *, sent_before: str, flag: str) -> list[dict]:
    """Return pending steps sent before the given UTC time whose reminder/escalation flag is unset."""
    if flag not in ("reminded_at", "escalated_at"):
        raise ValueError(flag)
    return list(db.query(f"SELECT * FROM gift_steps WHERE state = 'pending' AND sent_at <= ? AND {flag} IS NULL "
                         "ORDER BY id", [sent_before]))


def pending_overview(db: Database) -> list[dict]:
    """Return pending requests with their current approver and age, oldest first (for `status`)."""
    return list(db.query(
        "SELECT r.id, r.requester, r.customer, r.amount, r.created_at, s.approver, s.seq, s.sent_at "
        "FROM gift_requests r JOIN gift_steps s ON s.request = r.id AND s.state = 'pending' "
        "WHERE r.state = 'pending' ORDER BY r.created_at"))
