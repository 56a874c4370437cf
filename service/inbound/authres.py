"""Read Authentication-Results header fields (RFC 8601) with the `authres` parser.

Only what a receiving server of our own wrote can be trusted: a sender can add any number of
these fields below it. RFC 8601 §5 has the trusted server's field be the topmost one with its
authserv-id, and §7 warns that fields from anywhere else must be ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

import authres

__all__ = ["MethodResult", "trusted_results"]


@dataclass(frozen=True)
class MethodResult:
    """Hold one method's result (``dkim=pass header.d=example.com``): names and values lower-cased."""

    method: str
    result: str
    properties: dict[str, str]  # "header.d" -> "example.com", "smtp.mailfrom" -> "a@example.com"


def trusted_results(values: list[str], authserv_id: str) -> list[MethodResult] | None:
    """Return the results of the topmost field whose authserv-id is ``authserv_id``.

    ``values`` are the decoded Authentication-Results fields in message order (topmost
    first). Returns None when there is no such field or it does not parse: a field that
    cannot be read proves nothing. Results are read as tokens, so ``pass`` inside a
    ``reason="…"`` text or a comment never counts. Never raises.
    """
    wanted = authserv_id.strip().lower()
    for value in values:
        head = value.split(";", 1)[0].split()
        if not head or head[0].lower() != wanted:
            continue
        try:
            parsed = authres.AuthenticationResultsHeader.parse_value(value)
        except Exception:  # authres raises its own SyntaxError and others on hostile input
            return None
        return [MethodResult(method=str(r.method).lower(), result=str(r.result).lower(),
                             properties={f"{p.type}.{p.name}".lower(): str(p.value).lower() for p in r.properties})
                for r in parsed.results]
    return None
