"""Errors a person can cause and fix (config, input), as one class tree.

Each message says what is wrong and what to do; the CLI prints it as one line per problem
and exits non-zero instead of showing a traceback.
"""

from __future__ import annotations


class VisitflowError(Exception):
    """Base of every error a user can cause and fix."""

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])

    def lines(self) -> list[str]:
        """Return the message followed by one line per problem."""
        return [str(self)] + [f"  {p}" for p in self.problems]


class ConfigError(VisitflowError):
    """The configuration file is missing, unreadable or invalid."""


class MailboxError(VisitflowError):
    """The IMAP or SMTP server refused or could not be reached."""


class NotFound(VisitflowError):
    """A message, job or record named on the command line does not exist."""
