"""Parse raw mail with the standard library's feedparser, minus two costs it pays per mail.

``email.feedparser`` compiles a regex for each multipart's boundary (about 100–270 µs, and
every boundary is new, so ``re``'s cache never helps), and it strips the line end off each
part's payload with ``NLCRE_eol.search`` – a regex anchored at ``\\Z`` that is tried at every
position of the payload (about 190 µs for a 27 kB base64 photo). ``parse_bytes`` runs the very
same ``FeedParser._parsegen`` code with those two names rebound, in a namespace of its own
(nothing outside this module is patched):

- ``re.compile`` of the boundary pattern returns a matcher that tests the separator with
  ``str.startswith`` and the rest of the line with one regex compiled at import: the same
  match as the per-mail regex, group for group (tests/test_decode_parser.py compares them);
- ``NLCRE_eol.search`` starts at the last two characters, where any match of
  ``(\\r\\n|\\r|\\n)\\Z`` must begin.

Any other pattern goes to the real ``re.compile``: a future feedparser that builds its boundary
regex differently is parsed correctly, only not faster. The result is the same ``Message``
tree, byte for byte, as ``BytesParser(policy=compat32).parsebytes`` gives.
"""

from __future__ import annotations

import email.feedparser as _feedparser
import re
import types
from email import policy as _email_policy
from email.message import Message

__all__ = ["parse_bytes"]

# feedparser's boundary regex is '(?P<sep>' + re.escape('--' + boundary) + ')' + this tail.
_TAIL = r"(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$"
_BOUNDARY_TAIL = re.compile(_TAIL)
_PREFIX, _SUFFIX = "(?P<sep>", ")" + _TAIL
_ESCAPED = re.compile(r"\\(.)", re.S)


class BoundaryMatcher:
    """Match lines as feedparser's regex for one boundary separator does, without compiling it.

    ``match(line)`` returns the tail's match object (groups ``end``, ``ws``, ``linesep``, as
    feedparser reads them; there is no ``sep`` group) or None.
    """

    __slots__ = ("separator", "_length")

    def __init__(self, separator: str) -> None:
        self.separator = separator
        self._length = len(separator)

    def match(self, line: str) -> re.Match | None:
        """Return the match of a boundary line of this separator, or None."""
        if line.startswith(self.separator):
            return _BOUNDARY_TAIL.match(line, self._length)
        return None


def boundary_separator(pattern: str) -> str | None:
    """Return the separator of a feedparser boundary pattern, or None for any other pattern."""
    if not (pattern.startswith(_PREFIX) and pattern.endswith(_SUFFIX)):
        return None
    escaped = pattern[len(_PREFIX):-len(_SUFFIX)]
    separator = _ESCAPED.sub(r"\1", escaped)
    # Only what re.escape wrote is taken: anything else is some other regex.
    return separator if re.escape(separator) == escaped else None


class _Re:
    """Stand in for ``re`` inside our copy of ``_parsegen``: boundaries are matched, not compiled."""

    escape = staticmethod(re.escape)

    @staticmethod
    def compile(pattern: str, flags: int = 0) -> object:
        separator = boundary_separator(pattern) if not flags else None
        if separator is None:
            return re.compile(pattern, flags)
        return BoundaryMatcher(separator)


class _EndOfLine:
    """Stand in for feedparser's NLCRE_eol: the same search, started where a match can begin."""

    _pattern = _feedparser.NLCRE_eol  # (\r\n|\r|\n)\Z

    def search(self, text: str) -> re.Match | None:
        return self._pattern.search(text, max(0, len(text) - 2))


_namespace = dict(vars(_feedparser))
_namespace.update(re=_Re, NLCRE_eol=_EndOfLine())
_original = _feedparser.FeedParser._parsegen


class _FeedParser(_feedparser.FeedParser):
    """FeedParser whose _parsegen is the standard one, run in our namespace."""

    _parsegen = types.FunctionType(_original.__code__, _namespace, _original.__name__,
                                   _original.__defaults__, _original.__closure__)


def parse_bytes(raw: bytes, *, headersonly: bool = False) -> Message:
    """Return raw parsed as ``BytesParser(policy=compat32).parsebytes(raw, headersonly)`` does."""
    parser = _FeedParser(Message, policy=_email_policy.compat32)
    if headersonly:
        parser._set_headersonly()
    parser.feed(raw.decode("ascii", "surrogateescape"))
    return parser.close()
