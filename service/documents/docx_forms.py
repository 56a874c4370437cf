"""Fill the Word forms in ``templates/forms`` with docxtpl (spec §5, gift approval).

The templates are the customer's to edit in Word, so they are rendered in a sandboxed Jinja2
environment with autoescape (text such as ``<`` and ``&`` comes out literally instead of
corrupting the document XML) and StrictUndefined (a tag naming a value the caller does not give
is an error naming it, never a silent blank).

Values are passed as plain strings: docxtpl turns a newline inside any text into a Word line
break and a tab into a tab after rendering, and plain strings keep Jinja filters in a
customer's template (``{{ customer|upper }}``) working on the text rather than on escaped XML,
which docxtpl's ``Listing``/``RichText`` objects would expose. Other line and page breaks are
folded to newlines, and characters XML cannot hold are shown as U+FFFD. docxtpl rewrites
``{_{`` and the like in its output; a value holding them is passed pre-escaped so it stays literal.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from pathlib import Path

from docxtpl import DocxTemplate
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from ..errors import VisitflowError

FORMS_DIR = Path(__file__).resolve().parents[2] / "templates" / "forms"
GIFT_TEMPLATE = FORMS_DIR / "gift_request.docx"

# Carriage returns, and the breaks docxtpl would turn into new paragraphs or pages (\a, \f),
# become plain line breaks; \v is what Word's manual line break becomes in copied text.
_LINE_BREAKS = re.compile("\r\n?|[\v\f\a\x85\u2028\u2029]")
# Not allowed in XML 1.0 (lxml would refuse or silently drop them).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
# docxtpl turns these into "{{", "}}", "{%", "%}" in the rendered XML (its escape for tags).
_DOCXTPL_MARKERS = re.compile(r"\{_[{%]|[}%]_\}")


class FormRenderError(VisitflowError):
    """A Word form template could not be filled (a broken tag, or a value it names is missing)."""


def render_gift_form(data: dict, *, template: Path | None = None) -> bytes:
    """Fill the gift application template (default templates/forms/gift_request.docx) and return .docx bytes.

    `data` holds number, requester_name, unit_name, region_name, customer, items, quantity,
    amount, reason, planned_date, applied_at, budget_remaining, status (strings) and trail (a
    list of dicts with step, approver, decision, comment, time). Raises FormRenderError naming
    the template and the missing value or broken tag.
    """
    return _render(template or GIFT_TEMPLATE, data)


def _render(path: Path, data: Mapping) -> bytes:
    try:
        payload = path.read_bytes()
    except OSError as exc:
        raise FormRenderError(f"Word form template {path} could not be read: {exc.strerror or exc}") from exc
    document = DocxTemplate(io.BytesIO(payload))
    env = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
    try:
        document.render(_clean(data), jinja_env=env, autoescape=True)
    except TemplateError as exc:
        where = ""
        context = [line.strip() for line in getattr(exc, "docx_context", None) or [] if line.strip()]
        if context:
            where = " near: " + " | ".join(context)[:300]
        raise FormRenderError(f"Word form template {path.name}: {exc.message or exc}{where}",
                              problems=[f"template: {path}"]) from exc
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _clean(value):
    """Strings made safe for Word text; mappings and lists cleaned throughout; None as ''."""
    if isinstance(value, str):
        text = _NOT_XML.sub("\ufffd", _LINE_BREAKS.sub("\n", value))
        if _DOCXTPL_MARKERS.search(text):
            # Escaped here, with "_" as a character reference docxtpl's replacement cannot see.
            return Markup(str(escape(text)).replace("_", "&#95;"))
        return text
    if isinstance(value, Mapping):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    if value is None:
        return ""
    return _clean(str(value))
