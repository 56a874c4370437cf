"""Render outgoing mail from the Jinja2 templates in ``templates/mail``.

Each mail is a folder of templates, one pair per language: ``<name>/<lang>.txt`` (first line
``Subject: …``, then a blank line, then the text body) and, optionally, ``<name>/<lang>.html``
(the HTML body, autoescaped); without it the text is shown, escaped, in ``_text.html``. Undefined variables are an error, so a template and its caller cannot
silently drift apart.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from ..errors import VisitflowError

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"


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
        return SandboxedEnvironment(
            loader=FileSystemLoader(str(self.templates_dir / "mail")),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,  # templates change with a deploy; a restart picks them up
        )

    @functools.lru_cache(maxsize=256)  # noqa: B019 - one Renderer per process, templates fixed
    def _has(self, relative: str) -> bool:
        return (self.templates_dir / "mail" / relative).exists()

    def render(self, name: str, language: str, **variables: object) -> RenderedMail:
        """Render mail `name` in `language` (falling back to zh-CN) with the given variables."""
        lang = language if self._has(f"{name}/{language}.txt") else "zh-CN"
        text = self.env.get_template(f"{name}/{lang}.txt").render(**variables)
        head, sep, body = text.partition("\n\n")
        if not sep or not head.startswith("Subject:"):
            raise VisitflowError(f"template mail/{name}/{lang}.txt must start with 'Subject: …' and a blank line")
        subject = " ".join(head[len("Subject:"):].split())
        body = body.strip() + "\n"
        if self._has(f"{name}/{lang}.html"):
            html = self.env.get_template(f"{name}/{lang}.html").render(subject=subject, **variables)
        else:
            # Mails without their own HTML get their text, escaped, in the common layout.
            html = self.env.get_template("_text.html").render(subject=subject, text=body, lang=lang)
        return RenderedMail(subject=subject, text=body, html=html)
