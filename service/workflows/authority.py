"""Who may decide by reply: the identity of a reply's sender, proven as far as mail allows.

Every reply that decides something (a gift approval, an urgent report's acknowledgement, an
escalation from the digest, the monthly report's review) passes these checks before its
workflow looks at who the sender is:

- exactly one author: a From with more than one mailbox, or a Sender that is not the From
  mailbox, never decides anything (RFC 5322 §3.6.2 lets a message claim several authors; an
  attacker adds himself next to the approver);
- with ``policy.trusted_authserv_id`` set, the topmost Authentication-Results of that server
  (RFC 8601) must show a pass aligned with the From domain: ``dkim=pass`` whose ``header.d``
  is the From domain or shares it (relaxed alignment, RFC 7489 §3.1.1), ``spf=pass`` whose
  ``smtp.mailfrom`` domain does, or ``dmarc=pass`` for the From domain.

Without a public suffix list, relaxed alignment here means one domain equals the other or
ends with "." + the other, the shorter having at least two labels.
"""

from __future__ import annotations

from ..config import Config
from ..inbound.authres import trusted_results
from ..inbound.headers import addresses
from ..inbound.mime import DecodedMessage


def author_mailboxes(msg: DecodedMessage) -> tuple[list[str], str]:
    """Return (every distinct From mailbox in order, the Sender mailbox or '') of ``msg``, lower-cased."""
    found: list[str] = []
    for _, address in addresses(msg.headers("From"), None, [], "From"):
        if address and address not in found:
            found.append(address)
    sender = next((a for _, a in addresses(msg.headers("Sender")[:1], None, [], "Sender") if a), "")
    return found, sender


def identity_problem(msg: DecodedMessage) -> str | None:
    """Return why ``msg`` has no single author that could decide, or None when it has one."""
    authors, sender = author_mailboxes(msg)
    if len(authors) != 1:
        listed = ", ".join(authors) or "none"
        return f"ambiguous_sender: From names {len(authors)} mailboxes ({listed}); a decision needs exactly one"
    if sender and sender != authors[0]:
        return f"ambiguous_sender: Sender {sender} is not the From mailbox {authors[0]}"
    return None


def authentication_problem(msg: DecodedMessage, cfg: Config) -> str | None:
    """Return why ``msg`` is not authenticated by the trusted server, or None (also when none is configured)."""
    trusted = cfg.policy.trusted_authserv_id
    if not trusted:
        return None
    results = trusted_results(msg.headers("Authentication-Results"), trusted)
    if results is None:
        return f"unauthenticated: no readable Authentication-Results from {trusted}"
    domain = msg.from_addr.rpartition("@")[2]
    for r in results:
        if r.result != "pass":
            continue
        if r.method == "dkim" and _aligned(r.properties.get("header.d", ""), domain):
            return None
        if r.method == "spf" and _aligned(r.properties.get("smtp.mailfrom", "").rpartition("@")[2], domain):
            return None
        if r.method == "dmarc" and r.properties.get("header.from", "") == domain:
            return None
    return (f"unauthenticated: {trusted} shows no dkim, spf or dmarc pass aligned with the From domain "
            f"{domain or '(none)'}")


def _aligned(domain: str, from_domain: str) -> bool:
    domain, from_domain = domain.strip().rstrip(".").lower(), from_domain.strip().rstrip(".").lower()
    if not domain or not from_domain:
        return False
    if domain == from_domain:
        return True
    shorter, longer = sorted((domain, from_domain), key=len)
    return shorter.count(".") >= 1 and longer.endswith("." + shorter)
