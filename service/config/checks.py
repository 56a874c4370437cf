"""Walk the raw YAML, converting values and collecting one problem per bad key."""

from __future__ import annotations

import re
from datetime import time
from decimal import Decimal, InvalidOperation
from typing import Any



from .model import EMAIL_RE, LANGUAGES, Person


class _Reader:
    """Walks the raw YAML, converting values and collecting one problem per bad key."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, key: str, message: str) -> None:
        self.problems.append(f"{key}: {message}")

    def mapping(self, data: Any, key: str, *, required: bool = True) -> dict:
        if data is None:
            if required:
                self.fail(key, "is missing")
            return {}
        if not isinstance(data, dict):
            self.fail(key, f"must be a mapping, not {type(data).__name__}")
            return {}
        return data

    def str(self, data: dict, name: str, key: str, *, default: str | None = None,
            required: bool = True, choices: tuple[str, ...] = ()) -> str | None:
        value = data.get(name, default)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.fail(f"{key}.{name}", "is missing")
            return default
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            self.fail(f"{key}.{name}", f"must be text, not {type(value).__name__}")
            return default
        value = str(value).strip()
        if choices and value not in choices:
            self.fail(f"{key}.{name}", f"must be one of {', '.join(choices)} (got {value!r})")
            return default
        return value

    def int(self, data: dict, name: str, key: str, *, default: int, low: int = 0,
            high: int = 10**9) -> int:
        value = data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(f"{key}.{name}", f"must be a whole number, not {value!r}")
            return default
        if not low <= value <= high:
            self.fail(f"{key}.{name}", f"must be between {low} and {high} (got {value})")
            return default
        return value

    def number(self, data: dict, name: str, key: str, *, default: float) -> float:
        value = data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            self.fail(f"{key}.{name}", f"must be a non-negative number, not {value!r}")
            return default
        return float(value)

    def decimal(self, value: Any, key: str) -> Decimal:
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            self.fail(key, f"must be an amount such as 5000 or 5000.00, not {value!r}")
            return Decimal(0)
        if amount < 0:
            self.fail(key, "must not be negative")
        return amount

    def clock(self, data: dict, name: str, key: str, *, default: time) -> time:
        value = data.get(name)
        if value is None:
            return default
        # YAML 1.1 reads an unquoted 18:00 as the sexagesimal number 1080.
        if isinstance(value, int) and not isinstance(value, bool):
            value = f"{value // 60}:{value % 60:02d}"
        match = re.fullmatch(r"(\d{1,2}):(\d{2})", str(value).strip())
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            self.fail(f"{key}.{name}", f"must be a time of day such as \"18:00\", not {value!r}")
            return default
        return time(int(match[1]), int(match[2]))

    def person(self, data: Any, key: str) -> Person | None:
        data = self.mapping(data, key)
        if not data:
            return None
        name = self.str(data, "name", key)
        email = self.email(data, key)
        language = self.str(data, "language", key, required=False, choices=LANGUAGES)
        if name is None or email is None:
            return None
        return Person(name=name, email=email, language=language)

    def email(self, data: dict, key: str, name: str = "email") -> str | None:
        value = self.str(data, name, key)
        if value is None:
            return None
        if not EMAIL_RE.match(value):
            self.fail(f"{key}.{name}", f"is not a plain (ASCII) email address: {value!r}")
            return None
        return value.lower()

    def people(self, data: Any, key: str, *, required: bool = True) -> tuple[Person, ...]:
        if data is None:
            if required:
                self.fail(key, "is missing: list at least one person with name and email")
            return ()
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, list):
            self.fail(key, "must be a list of people with name and email")
            return ()
        found = [self.person(item, f"{key}[{i}]") for i, item in enumerate(data)]
        return tuple(p for p in found if p)
