"""The feedparser without its per-mail regexes (service/inbound/parser.py) parses as the standard one."""

from __future__ import annotations

import email.feedparser
import re
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from service.inbound import parser as fast
from service.inbound.mime import decode_message
from service.inbound.parser import BoundaryMatcher, boundary_separator, parse_bytes

from .conftest import FIXTURES

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
CORPUS_MAILS = [line.split("\t")[0] for line in (CORPUS / "index.tsv").read_text(encoding="utf-8").splitlines()[1:]]
FIXTURE_MAILS = sorted(FIXTURES.rglob("*.eml"))


def stdlib_regex(separator: str) -> re.Pattern:
    """Return the regex email.feedparser compiles for a multipart with this separator."""
    return re.compile("(?P<sep>" + re.escape(separator) + r")(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$")


def groups(match: re.Match | None) -> tuple | None:
    return None if match is None else (match.group("end"), match.group("ws"), match.group("linesep"))


# line, (end, ws, linesep) or None – what feedparser reads from a boundary line of "--=_b.1+(x)?"
BOUNDARY_LINES = [
    ("--=_b.1+(x)?\r\n", (None, "", "\r\n")),
    ("--=_b.1+(x)?\n", (None, "", "\n")),
    ("--=_b.1+(x)?\r", (None, "", "\r")),
    ("--=_b.1+(x)?", (None, "", None)),
    ("--=_b.1+(x)?--\r\n", ("--", "", "\r\n")),
    ("--=_b.1+(x)?--", ("--", "", None)),
    ("--=_b.1+(x)? \t \r\n", (None, " \t ", "\r\n")),
    ("--=_b.1+(x)?--\t\n", ("--", "\t", "\n")),
    ("--=_b.1+(x)?\n\n", (None, "", "\n")),      # '$' also matches before a last '\n'
    ("--=_b.1+(x)?\r\n\n", (None, "", "\r\n")),
    ("--=_b.1+(x)?----\r\n", None),               # more than the closing dashes
    ("--=_b.1+(x)?2\r\n", None),                  # a longer boundary that starts with this one
    ("--=_b.1+(x)? x\r\n", None),
    ("--=_b.1+(x)?\r\r", None),
    ("--=_b.1+(X)?\r\n", None),                   # boundaries are case-sensitive
    ("  --=_b.1+(x)?\r\n", None),                 # only at the start of a line
    ("--=_b.1+(x)\r\n", None),
    ("--=_bX1+(x)?\r\n", None),                   # '.' is a dot, not any character
    ("", None),
]


@pytest.mark.parametrize(("line", "expected"), BOUNDARY_LINES, ids=[repr(line) for line, _ in BOUNDARY_LINES])
def test_a_boundary_line_matches_with_the_groups_feedparser_reads(line, expected):
    assert groups(BoundaryMatcher("--=_b.1+(x)?").match(line)) == expected
    assert groups(stdlib_regex("--=_b.1+(x)?").match(line)) == expected


def test_the_matcher_agrees_with_the_standard_regex_on_every_line_of_every_multipart_fixture():
    compared = 0
    for path in FIXTURE_MAILS + [CORPUS / p for p in CORPUS_MAILS]:
        msg = BytesParser(policy=policy.compat32).parsebytes(path.read_bytes())
        lines = path.read_bytes().decode("ascii", "surrogateescape").splitlines(keepends=True)
        for part in msg.walk():
            boundary = part.get_boundary() if part.is_multipart() else None
            if boundary is None:
                continue
            separator = "--" + boundary
            regex, matcher = stdlib_regex(separator), BoundaryMatcher(separator)
            for line in lines:
                assert groups(matcher.match(line)) == groups(regex.match(line)), (path.name, line)
                compared += 1
    assert compared > 10_000


@pytest.mark.parametrize("separator", ["--simple", "--=_vf_0123_a", "----=_Part_0_1.2", "--a\\b", "--(?P<x>.)*$",
                                       "--[x]{2}|y", "--颜色", "--with space", "--"])
def test_the_separator_is_read_back_from_the_pattern_feedparser_builds(separator):
    assert boundary_separator(stdlib_regex(separator).pattern) == separator


@pytest.mark.parametrize("pattern", [r"(\r\n|\r|\n)\Z", "(?P<sep>abc)", r"(?P<sep>a.c)(?P<end>--)?(?P<ws>[ \t]*)$",
                                     "(?P<sep>a.c)(?P<end>--)?(?P<ws>[ \\t]*)(?P<linesep>\\r\\n|\\r|\\n)?$"])
def test_any_other_pattern_is_compiled_as_usual(pattern):
    # The last one holds an unescaped '.': not what re.escape writes, so not a separator.
    assert boundary_separator(pattern) is None
    assert isinstance(fast._Re.compile(pattern), re.Pattern)


@pytest.mark.parametrize(("text", "expected"), [
    ("body\r\n", "\r\n"), ("body\n", "\n"), ("body\r", "\r"), ("body", None), ("", None), ("\n", "\n"),
    ("\r\n", "\r\n"), ("a\r\n\r\n", "\r\n"), ("a\n\r", "\r"), ("x" * 30_000 + "\r\n", "\r\n"),
])
def test_the_line_end_of_a_payload_is_found_as_feedparser_finds_it(text, expected):
    found = fast._EndOfLine().search(text)
    assert (found and found.group(0)) == expected
    stdlib = email.feedparser.NLCRE_eol.search(text)
    assert (stdlib and stdlib.group(0)) == expected


def test_no_regex_is_compiled_for_the_boundaries_of_a_mail(monkeypatch):
    raw = (b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"outer.(1)\"\r\n\r\npreamble\r\n"
           b"--outer.(1)\r\nContent-Type: multipart/alternative; boundary=\"inner+2\"\r\n\r\n"
           b"--inner+2\r\nContent-Type: text/plain\r\n\r\nhello\r\n--inner+2\r\nContent-Type: text/html\r\n\r\n"
           b"<p>hello</p>\r\n--inner+2--\r\n--outer.(1)\r\nContent-Type: image/png\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--outer.(1)--\r\nepilogue\r\n")
    compiled = []
    real = re.compile
    monkeypatch.setattr(re, "compile", lambda *args, **kw: compiled.append(args[0]) or real(*args, **kw))
    msg = parse_bytes(raw)
    monkeypatch.undo()
    assert compiled == []
    assert [p.get_content_type() for p in msg.walk()] == ["multipart/mixed", "multipart/alternative", "text/plain",
                                                          "text/html", "image/png"]
    assert msg.as_bytes() == BytesParser(policy=policy.compat32).parsebytes(raw).as_bytes()


def shape(msg) -> list:
    """Return what a parse produced: each part's headers, payload (or nothing), defects, preamble, epilogue."""
    return [(part.items(), None if part.is_multipart() else part.get_payload(),
             [type(d).__name__ for d in part.defects], part.preamble, part.epilogue) for part in msg.walk()]


@pytest.mark.parametrize("relative", CORPUS_MAILS)
def test_every_corpus_mail_parses_to_the_same_tree_as_with_the_standard_parser(relative):
    raw = (CORPUS / relative).read_bytes()
    ours, stdlib = parse_bytes(raw), BytesParser(policy=policy.compat32).parsebytes(raw)
    assert shape(ours) == shape(stdlib)
    assert ours.as_bytes() == stdlib.as_bytes()


@pytest.mark.parametrize("path", FIXTURE_MAILS, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_every_fixture_mail_parses_to_the_same_tree_as_with_the_standard_parser(path):
    raw = path.read_bytes()
    for headersonly in (False, True):
        ours = parse_bytes(raw, headersonly=headersonly)
        stdlib = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=headersonly)
        assert shape(ours) == shape(stdlib)


def test_a_photo_with_junk_in_its_base64_is_still_reported_as_damaged():
    photo = b"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    for junk in (b"!", b"\xff", b"*", b"\x00"):
        damaged = photo[:40] + junk + photo[40:]
        raw = (b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
               b"Content-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: image/png; name=a.png\r\n"
               b"Content-Transfer-Encoding: base64\r\n\r\n" + damaged + b"\r\n--b--\r\n")
        decoded = decode_message(raw)
        assert decoded.problems == ["damaged base64 in image/png part"], junk
        assert decoded.attachments[0].payload.startswith(b"\x89PNG\r\n\x1a\n")
