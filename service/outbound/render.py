"""Render outgoing mail from the Jinja2 templates in ``templates/mail``.

Each mail is a folder of templates, one pair per language: ``<name>/<lang>.txt`` (first line
``Subject: …``, then a blank line, then the text body) and, optionally, ``<name>/<lang>.html``
(the HTML body, autoescaped); without it the text body is turned into markup by
``text_to_html`` and shown in ``_text.html``. Undefined variables are an error, so a template
and its caller cannot silently drift apart.

An HTML part carries its line structure in markup – ``<p>``, ``<br>``, tables – never in CSS:
text-mode clients (Alpine, mutt's and w3m's dumps) and Outlook desktop's Word engine ignore
``white-space: pre-wrap``, and a gift request shown there as one run-on paragraph loses its
fields, how to reply and the approval code. The filters ``linebreaks`` (text → paragraphs and
line breaks) and ``linebreaksbr`` (a value's own line breaks → ``<br>``) are there for the
hand-written templates.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined, Template, select_autoescape
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from ..errors import VisitflowError

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"


_BLANK_LINES = re.compile(r"\n(?:[ \t]*\n)+")
_LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t]*\n)+")
_LEADING_SPACE = re.compile(r"^[ \t]+")


def _line_to_html(line: str) -> str:
    # Leading spaces indent the field and how-to-reply lines; HTML would collapse them.
    line = line.rstrip()
    indent = _LEADING_SPACE.match(line)
    width = len(indent[0].expandtabs(4)) if indent else 0
    return "&nbsp;" * width + str(escape(line[indent.end():] if indent else line))


def _newlines(text: object) -> str:
    return str(text).replace("\r\n", "\n").replace("\r", "\n")


def text_to_html(text: object) -> Markup:
    """Return text as escaped HTML: a <p> per blank-line-separated block, <br> between its lines."""
    text = _LEADING_BLANK_LINES.sub("", _newlines(text).rstrip())
    blocks = (block for block in _BLANK_LINES.split(text) if block.strip())
    return Markup("\n".join(
        "<p>" + "<br>\n".join(_line_to_html(line) for line in block.split("\n")) + "</p>" for block in blocks))


def lines_to_html(value: object) -> Markup:
    """Return value escaped, with each of its line breaks as <br> (a multi-line field in a cell)."""
    text = _LEADING_BLANK_LINES.sub("", _newlines(value).rstrip())
    return Markup("<br>\n".join(_line_to_html(line) for line in text.split("\n")))


@functools.lru_cache(maxsize=None)
def _dict_attribute(name: str) -> bool:
    """Say whether ``name`` is an attribute of every dict (``d.items``), not a key to look up."""
    return hasattr({}, name)


class _Environment(SandboxedEnvironment):
    """The sandbox, with the plain dicts our callers pass read without a failed getattr first.

    A template reads a dict's key as an attribute (``v.customer``), and Jinja2 tries
    ``getattr(dict, "customer")`` first: raising and catching that AttributeError was about
    a fifth of a receipt's rendering. A dict has no attributes of its own, so for a name that
    is not one of dict's (``items``, ``keys`` …) the lookup goes to the key at once – the same
    value or the same undefined as before.
    """

    def getattr(self, obj: object, attribute: str) -> object:
        if type(obj) is dict and type(attribute) is str and not _dict_attribute(attribute):
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


class Renderer:
    """Turns a template name, a language and variables into subject, text and HTML."""

    def __init__(self, templates_dir: Path = TEMPLATES_DIR) -> None:
        self.templates_dir = templates_dir

    @cached_property
    def env(self) -> SandboxedEnvironment:
        # Sandboxed: the templates are the customer's to edit, and must not reach into Python.
        env = _Environment(
            loader=FileSystemLoader(str(self.templates_dir / "mail")),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,  # templates change with a deploy; a restart picks them up
        )
        env.filters["linebreaks"] = text_to_html
        env.filters["linebreaksbr"] = lines_to_html
        return env

    @functools.lru_cache(maxsize=256)  # noqa: B019 - one Renderer per process, templates fixed
    def _has(self, relative: str) -> bool:
        return (self.templates_dir / "mail" / relative).exists()

    @functools.lru_cache(maxsize=256)  # noqa: B019 - as _has: templates change with a restart only
    def _template(self, relative: str) -> Template:
        # get_template checks the environment's cache under a weak reference each time.
        return self.env.get_template(relative)

    def render(self, name: str, language: str, **variables: object) -> RenderedMail:
        """Render mail `name` in `language` (falling back to zh-CN) with the given variables."""
        lang = language if self._has(f"{name}/{language}.txt") else "zh-CN"
        text = self._template(f"{name}/{lang}.txt").render(**variables)
        # The subject is the first line alone. The blank line after it may be gone: a block
        # tag ending that line ({% endif %}) takes its newline with it (trim_blocks), and
        # splitting at the first blank line would move the greeting into the subject.
        head, sep, body = text.partition("\n")
        if not sep or not head.startswith("Subject:"):
            raise VisitflowError(f"template mail/{name}/{lang}.txt must start with a line 'Subject: …'")
        subject = " ".join(head[len("Subject:"):].split())
        body = body.strip() + "\n"
        if self._has(f"{name}/{lang}.html"):
            html = self._template(f"{name}/{lang}.html").render(subject=subject, **variables)
        else:
            # Mails without their own HTML get their text as paragraphs and line breaks.
            html = self._template("_text.html").render(subject=subject, text=body, lang=lang)
        return RenderedMail(subject=subject, text=body, html=html)
