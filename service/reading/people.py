"""Find the configured person a spreadsheet cell names: by address, by name, or both.

The registry's 指定巡访人 and a plan's 巡访人 name people as people write them: ``李雷``,
``li.lei@visitflow.test``, ``李雷 <li.lei@visitflow.test>`` (copied from an address book),
``"李雷" <LI.LEI@visitflow.test>`` (Outlook's form), ``李雷（li.lei@visitflow.test）`` or
``李雷 li.lei@visitflow.test``. One reader serves both, so a form the plans accept is never
refused by the registry.

Invariants:
- an address, wherever it stands in the cell, decides (compared ignoring case and width); the
  name beside it is not compared, since config may spell the person otherwise (Li Lei, 李雷);
- one person per cell: two different addresses are the problem ``several``, never the first;
- a name alone is compared ignoring width, case, spaces and quotes, and must name exactly one
  person (``ambiguous`` lists the addresses of those who share it).

``email.utils.getaddresses`` is not used: it reads ``李雷(li.lei@…)`` as the address 李雷
with a comment and ``李雷 li.lei@…`` as one malformed address, while an address pattern finds
the mailbox in every form above.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from ..config.model import Person

__all__ = ["Found", "PeopleIndex"]

UNKNOWN = "unknown"
AMBIGUOUS = "ambiguous"
SEVERAL = "several"

_ADDRESS = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Around a name alone: quotes and brackets a copied display name brings along.
_NAME_MARKS = "\"'“”‘’「」<>()[]"


@dataclass(frozen=True)
class Found:
    """What a cell names: the person's address, or the problem (``unknown``, ``ambiguous``, ``several``)."""

    email: str | None
    problem: str | None = None
    candidates: tuple[str, ...] = ()  # addresses of the people an ambiguous name fits, sorted


class PeopleIndex:
    """The configured people by address and by folded name; ``find(text)`` reads one cell."""

    def __init__(self, people: Mapping[str, Person]) -> None:
        self.by_email = {email.lower(): person for email, person in people.items()}
        self.by_name: dict[str, set[str]] = {}
        for email, person in self.by_email.items():
            self.by_name.setdefault(fold_name(person.name), set()).add(email)

    def find(self, text: str) -> Found:
        """Return the person ``text`` names (see the module's forms), or the problem."""
        text = unicodedata.normalize("NFKC", text or "")  # ＠ and full-width letters, （）
        addresses = list(dict.fromkeys(a.lower() for a in _ADDRESS.findall(text)))
        if len(addresses) > 1:
            return Found(None, SEVERAL, tuple(addresses))
        if addresses:
            email = addresses[0]
            return Found(email) if email in self.by_email else Found(None, UNKNOWN)
        emails = self.by_name.get(fold_name(text), set())
        if len(emails) == 1:
            return Found(next(iter(emails)))
        return Found(None, AMBIGUOUS, tuple(sorted(emails))) if emails else Found(None, UNKNOWN)


def fold_name(text: str) -> str:
    """Return a person's name as compared: width and case folded, spaces and surrounding quotes gone."""
    folded = "".join(unicodedata.normalize("NFKC", text).casefold().split())
    return folded.strip(_NAME_MARKS)
