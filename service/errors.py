"""Errors a person can cause and fix (config, input), as one class tree.

Each message says what is wrong and what to do; the CLI prints it as one line per problem
and exits non-zero instead of showing a traceback.
"""

from __future__ import annotations

import ssl


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


def connection_problem(exc: BaseException, *, ca_file: object, key: str) -> str:
    """Describe a failed mail-server connection; a TLS failure with its reason and the CAs trusted.

    key is the config section ("imap" or "smtp") whose ca_file the reader may need to set.
    """
    if isinstance(exc, ssl.SSLCertVerificationError):
        trusted = ca_file or f"the system's (name the server's CA bundle in {key}.ca_file)"
        return f"TLS certificate verification failed: {exc.verify_message or exc.reason}; trusted CAs: {trusted}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed: {exc}"
    return str(exc) or type(exc).__name__
