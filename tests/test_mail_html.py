"""Every outgoing mail's HTML part keeps the lines of its text part as lines.

Text-mode clients (Alpine, mutt with w3m) and Outlook desktop's Word engine ignore CSS such as
``white-space: pre-wrap``: an HTML part must carry its line structure in markup. Each template
× language × realistic set of variables (as the workflows pass them to ``ctx.send``) is
rendered and its HTML read back by two readers: ``w3m -dump``, a text browser as Alpine would
show it, and our own ``html_to_text``. In what they show,

- every line of the text part that is shown at all is a line of its own, not run into others
  (mails without their own HTML template show every line of the text part);
- two values the text part puts on different lines never share a line;
- every value the text part shows is shown, escaped (``<Sons>`` and ``&`` stay text).

The expectations come from the rendered text part, not from copies of the templates' wording,
so the wording of a ``.txt`` part may change without touching this file; a new template needs
its variables in CASES. The same checks run against the old ``white-space: pre-wrap`` layout
must fail. ``text_to_html`` itself is held to golden files (``fixtures/mail_html/*.txt`` → the
``.json`` beside it: the HTML and what w3m shows of it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from service.errors import VisitflowError
from service.inbound.html_text import html_to_text
from service.outbound.render import TEMPLATES_DIR, Renderer, lines_to_html, text_to_html

from .mail_variables import CASES, CHOICES, COMMON

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "mail_html"
LANGUAGES = ["zh-CN", "en"]

RENDERS = [pytest.param(name, variant, lang, id=f"{name}-{lang}-{variant}")
           for name, variants in CASES.items() for variant in variants for lang in LANGUAGES]


# --------------------------------------------------------------------------- readers

def _w3m_dump(html: str, home: Path) -> str:
    # Wide enough that no line of ours wraps: a wrapped line would look run together.
    result = subprocess.run(["w3m", "-dump", "-T", "text/html", "-I", "UTF-8", "-O", "UTF-8", "-cols", "1000"],
                            input=html.encode("utf-8"), capture_output=True, timeout=60, check=True,
                            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8"})
    return result.stdout.decode("utf-8")


@pytest.fixture(scope="module")
def w3m_home(tmp_path_factory) -> Path:
    if shutil.which("w3m") is None:
        pytest.skip("w3m not installed (scripts/setup.sh installs it)")
    return tmp_path_factory.mktemp("w3m-home")


@pytest.fixture(params=["w3m", "html_to_text"])
def reader(request):
    """Return a function that shows an HTML part as text, the way the named reader does."""
    if request.param == "w3m":
        home = request.getfixturevalue("w3m_home")
        return lambda html: _w3m_dump(html, home)
    return html_to_text


_SPACE = re.compile(r"[\s\xa0]+")
# A table cell stands apart from its neighbours: w3m draws box lines, html_to_text puts a tab.
_CELL_BORDER = re.compile(r"[\t\u2500-\u257f]+")


def _norm(line: str) -> str:
    # w3m drops the spaces between CJK and Latin text and indents lists: compare without spaces.
    return _SPACE.sub("", line)


def _lines(text: str) -> list[str]:
    """Return the lines of text (a table cell's line counts as a line), without spaces."""
    return [n for line in text.splitlines() for n in map(_norm, _CELL_BORDER.split(line)) if n]


def _values(variables: object, key: str = "") -> list[str]:
    """Return the shown string values among the variables, split at their line breaks."""
    if key in CHOICES:
        return []
    if isinstance(variables, dict):
        return [v for k, item in variables.items() for v in _values(item, k)]
    if isinstance(variables, (list, tuple)):
        return [v for item in variables for v in _values(item, key)]
    if isinstance(variables, str):
        return [n for n in (_norm(line) for line in variables.splitlines()) if n]
    return []


RENDERER = Renderer()


def _render(name: str, variant: str, lang: str):
    return RENDERER.render(name, lang, **COMMON, **CASES[name][variant])


def _has_own_html(name: str, lang: str) -> bool:
    return (TEMPLATES_DIR / "mail" / name / f"{lang}.html").exists()


def _run_together(mail, shown_text: str) -> list[str]:
    """Return the text part's lines that the reader shows only run into other text."""
    shown = _lines(shown_text)
    shown_set = set(shown)
    return [line for line in _lines(mail.text) if line not in shown_set and any(line in other for other in shown)]


def _merged(mail, variables: dict, shown_text: str) -> set[tuple[str, ...]]:
    """Return the values that share a shown line though no line of the text part holds them all."""
    text_lines = _lines(mail.text)
    values = sorted({v for v in _values(variables) if any(v in line for line in text_lines)})
    merged = set()
    for line in _lines(shown_text):
        together = tuple(v for v in values if v in line)
        if not any(all(v in t for v in together) for t in text_lines):
            merged.add(together)
    return merged


# --------------------------------------------------------------------------- every template

def test_every_mail_template_is_rendered_by_these_tests():
    names = {p.name for p in (TEMPLATES_DIR / "mail").iterdir() if p.is_dir()}
    assert names == set(CASES)
    assert all(len(variants) >= 2 for variants in CASES.values())


@pytest.mark.parametrize("name, variant, lang", RENDERS)
def test_each_line_of_the_text_part_is_a_line_of_its_own_in_the_html(name, variant, lang, reader):
    mail = _render(name, variant, lang)
    shown_text = reader(mail.html)
    assert _run_together(mail, shown_text) == [], shown_text
    text_lines = _lines(mail.text)
    shown = set(_lines(shown_text))
    found = [line for line in text_lines if line in shown]
    if not _has_own_html(name, lang):
        # The HTML is made from the text: all of it is there, line for line.
        assert found == text_lines
    else:
        # A hand-written template words some lines its own way (a table row, a list item);
        # the values test below covers those. Some lines are always the same.
        assert len(found) >= 3, f"only {found} of\n{chr(10).join(text_lines)}"


@pytest.mark.parametrize("name, variant, lang", RENDERS)
def test_values_on_different_lines_of_the_text_never_share_a_line_in_the_html(name, variant, lang, reader):
    variables = {**COMMON, **CASES[name][variant]}
    mail = _render(name, variant, lang)
    assert len({v for v in _values(variables) if v in _norm(mail.text)}) >= 2  # something to compare
    assert _merged(mail, variables, reader(mail.html)) == set()


@pytest.mark.parametrize("name, variant, lang", RENDERS)
def test_every_value_the_text_shows_the_html_shows_as_text(name, variant, lang, reader):
    mail = _render(name, variant, lang)
    text = _norm(mail.text)
    shown = _norm(reader(mail.html))
    missing = [v for v in _values({**COMMON, **CASES[name][variant]}) if v in text and v not in shown]
    assert missing == []


@pytest.mark.parametrize("name, variant, lang", RENDERS)
def test_the_html_uses_no_css_for_lines_and_nothing_external(name, variant, lang):
    html = _render(name, variant, lang).html
    assert "white-space" not in html and "<pre" not in html
    assert not re.search(r"""(?:src|href)\s*=|@import|url\(|<link|<script""", html, re.IGNORECASE)
    assert '<meta name="viewport"' in html


OLD_TEXT_LAYOUT = """<!DOCTYPE html>
<html lang="{{ lang }}">
<head><meta charset="utf-8"><title>{{ subject }}</title></head>
<body style="font-family: Arial, sans-serif; font-size: 14px; color: #222;">
<div style="white-space: pre-wrap;">{{ text }}</div>
</body>
</html>
"""
FALLBACK_RENDERS = [p for p in RENDERS if not _has_own_html(p.values[0], p.values[2])]


@pytest.mark.parametrize("name, variant, lang", FALLBACK_RENDERS)
def test_the_checks_fail_on_the_old_pre_wrap_layout(name, variant, lang, tmp_path, reader):
    # The layout this replaces: the text, escaped, in one <div style="white-space: pre-wrap">.
    shutil.copytree(TEMPLATES_DIR / "mail", tmp_path / "mail")
    (tmp_path / "mail" / "_text.html").write_text(OLD_TEXT_LAYOUT, encoding="utf-8")
    mail = Renderer(tmp_path).render(name, lang, **COMMON, **CASES[name][variant])
    shown_text = reader(mail.html)
    assert _run_together(mail, shown_text) != []
    assert _merged(mail, {**COMMON, **CASES[name][variant]}, shown_text) != set()


# --------------------------------------------------------------------------- text to markup

GOLDEN = sorted(FIXTURES.glob("*.txt"))


@pytest.mark.parametrize("source", GOLDEN, ids=lambda p: p.stem)
def test_text_becomes_the_golden_paragraphs_and_line_breaks(source):
    expected = json.loads(source.with_suffix(".json").read_text(encoding="utf-8"))
    text = source.read_bytes().decode("utf-8")  # bytes: the CR and CRLF line ends stay as written
    assert str(text_to_html(text)).split("\n") == expected["html"]


@pytest.mark.parametrize("source", GOLDEN, ids=lambda p: p.stem)
def test_a_text_browser_shows_the_golden_lines(source, w3m_home):
    expected = json.loads(source.with_suffix(".json").read_text(encoding="utf-8"))
    shown = [line.rstrip() for line in _w3m_dump(str(text_to_html(source.read_bytes().decode("utf-8"))),
                                                 w3m_home).splitlines()]
    while shown and not shown[-1]:
        shown.pop()
    assert shown == expected["w3m"]


@pytest.mark.parametrize("source", GOLDEN, ids=lambda p: p.stem)
def test_our_reader_gets_the_text_back_line_for_line(source):
    text = source.read_bytes().decode("utf-8")
    lines = [" ".join(line.split()) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    shown = [" ".join(line.split()) for line in html_to_text(str(text_to_html(text))).split("\n")]
    assert [line for line in shown if line] == [line for line in lines if line]


@pytest.mark.parametrize("text, html", [
    ("a\nb", "<p>a<br>\nb</p>"),
    ("a\n\n\nb", "<p>a</p>\n<p>b</p>"),
    ("\n\n  x  \n", "<p>&nbsp;&nbsp;x</p>"),
    ("\tx", "<p>&nbsp;&nbsp;&nbsp;&nbsp;x</p>"),
    ("<b>&amp;</b>", "<p>&lt;b&gt;&amp;amp;&lt;/b&gt;</p>"),
    ("a\r\n \t\r\nb", "<p>a</p>\n<p>b</p>"),
    ("", ""),
    (" \n\t\n", ""),
])
def test_text_to_html_makes_paragraphs_of_blocks_and_breaks_of_lines(text, html):
    assert text_to_html(text) == html


@pytest.mark.parametrize("value, html", [
    ("one line", "one line"),
    ("a\r\nb\rc\n", "a<br>\nb<br>\nc"),
    ("<x> & y\n  indented", "&lt;x&gt; &amp; y<br>\n&nbsp;&nbsp;indented"),
    ("", ""),
])
def test_lines_to_html_breaks_a_value_at_its_own_line_breaks(value, html):
    assert lines_to_html(value) == html


# --------------------------------------------------------------------------- the subject line

@pytest.mark.parametrize("subject_line, subject", [
    ("Subject: Re: {{ s }}{% if n %} [{{ n }} done]{% endif %}\n\n", "Re: 日报 [2 done]"),
    ("Subject: 汇总{% for r in reps %} {{ r }}{% endfor %}\n\n", "汇总 李雷 韩梅梅"),
    ("Subject: Re: {{ s }}\n\n", "Re: 日报"),
    ("Subject: Re: {{ s }}{% if not n %} [none]{% else %}【{{ n }}】{% endif %}\n\n", "Re: 日报【2】"),
])
def test_the_subject_is_the_first_line_even_when_a_block_tag_ends_it(subject_line, subject, tmp_path):
    # trim_blocks takes the newline after a block tag ending the line, and with it the blank
    # line that separated subject and body: the greeting must not move into the subject.
    (tmp_path / "mail" / "t").mkdir(parents=True)
    (tmp_path / "mail" / "t" / "zh-CN.txt").write_text(subject_line + "{{ who }}，您好：\n\n正文\n", encoding="utf-8")
    (tmp_path / "mail" / "_text.html").write_text("{{ text|linebreaks }}", encoding="utf-8")
    mail = Renderer(tmp_path).render("t", "zh-CN", s="日报", n=2, reps=["李雷", "韩梅梅"], who="王芳")
    assert (mail.subject, mail.text) == (subject, "王芳，您好：\n\n正文\n")
    assert mail.html == "<p>王芳，您好：</p>\n<p>正文</p>"


def test_a_template_without_a_subject_line_is_refused(tmp_path):
    (tmp_path / "mail" / "t").mkdir(parents=True)
    (tmp_path / "mail" / "t" / "zh-CN.txt").write_text("您好\n\nSubject: late\n", encoding="utf-8")
    with pytest.raises(VisitflowError, match="must start with a line 'Subject: …'"):
        Renderer(tmp_path).render("t", "zh-CN")
