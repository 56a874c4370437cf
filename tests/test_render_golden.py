"""Outgoing mail keeps its exact bytes through issue 12's cheaper rendering and MIME writing.

Each tests/fixtures/outbound/*.json holds what a workflow passes (template, language, variables,
recipients, threading); the .eml beside it is the mail the service wrote for it before the cuts
(Jinja2's sandbox reading dict keys without a failed getattr, the From, Date and automatic
headers kept between mails), with its Date set to a fixed time.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from jinja2 import StrictUndefined
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from service.outbound import outbox
from service.outbound.outbox import build_message
from service.outbound.render import Renderer, _Environment

from .conftest import FIXTURES
from .mail_variables import COMMON

GOLDEN = sorted((FIXTURES / "outbound").glob("*.eml"))
FIXED_DATE = b"Date: Fri, 27 Nov 2026 10:21:03 +0000"


def written(case: dict, renderer: Renderer) -> bytes:
    mail = renderer.render(case["template"], case["language"], service_name=case["sender_name"],
                           service_address=case["sender"], kind_names=COMMON["kind_names"], **case["variables"])
    return build_message(mail=mail, sender=case["sender"], sender_name=case["sender_name"], to=case["to"],
                         cc=case.get("cc", ()), message_id=case["message_id"], in_reply_to=case["in_reply_to"],
                         references=case["references"]).raw


@pytest.mark.parametrize("eml", GOLDEN, ids=lambda p: p.stem)
def test_the_mail_is_written_byte_for_byte_as_its_golden_eml(eml: Path):
    case = json.loads(eml.with_suffix(".json").read_text(encoding="utf-8"))
    renderer = Renderer()
    for _ in range(2):  # the second time from the kept headers and the warm template cache
        raw = written(case, renderer)
        date = re.search(rb"\r\nDate: ([^\r]*)\r\n", raw)
        sent = parsedate_to_datetime(date[1].decode())
        assert abs(sent - datetime.now(timezone.utc)) < timedelta(seconds=5)
        assert raw.replace(date[0], b"\r\n" + FIXED_DATE + b"\r\n", 1) == eml.read_bytes()


def test_there_are_golden_mails_in_both_languages_with_long_headers_folded():
    cases = [json.loads(p.with_suffix(".json").read_text(encoding="utf-8")) for p in GOLDEN]
    assert {case["language"] for case in cases} == {"zh-CN", "en"}
    assert any(b"\r\n =?utf-8?B?" in p.read_bytes() for p in GOLDEN)  # a subject folded over lines


class Card:
    customer = "华联超市"
    items = "attribute, not a key"


# template, variables – each rendered by our environment and by Jinja2's own sandbox.
SAME_AS_SANDBOX = [
    ("{{ v.customer }}", {"v": {"customer": "华联超市 <浦东店>"}}),
    ("{{ v.customer|e }}", {"v": {"customer": "<b>"}}),
    ("{{ v.items }}", {"v": {"items": "a key named like a dict method"}}),
    ("{{ v.get('x', 'none') }}", {"v": {"x": 1}}),
    ("{{ v.keys()|list }}", {"v": {"b": 1, "a": 2}}),
    ("{{ v.fields|join('、') or '（无）' }}", {"v": {"fields": []}}),
    ("{% for k, x in v.items() %}{{ k }}={{ x }};{% endfor %}", {"v": {"a": 1, "b": None}}),
    ("{{ v.customer }} {{ v.items }}", {"v": Card()}),
    ("{{ v[1] }}", {"v": {1: "int key"}}),
    ("{{ v.number }}", {"v": {"number": 0}}),
    ("{{ v.nested.deeper }}", {"v": {"nested": {"deeper": "two levels"}}}),
    ("{{ v.__dict__ }}", {"v": {"__dict__": "a key, never the object's dict"}}),
]


def sandbox_and_ours():
    options = {"undefined": StrictUndefined, "autoescape": False}
    return SandboxedEnvironment(**options), _Environment(**options)


@pytest.mark.parametrize(("source", "variables"), SAME_AS_SANDBOX, ids=[s for s, _ in SAME_AS_SANDBOX])
def test_a_template_reads_dicts_and_objects_as_in_jinjas_own_sandbox(source, variables):
    theirs, ours = (env.from_string(source).render(**variables) for env in sandbox_and_ours())
    assert ours == theirs


@pytest.mark.parametrize(("source", "error"), [
    ("{{ v.missing }}", UndefinedError),
    ("{{ v.customer.missing }}", UndefinedError),
    ("{{ v.__class__.__subclasses__() }}", SecurityError),
    ("{{ v.__dict__ }}", UndefinedError),
])
def test_a_missing_key_or_an_unsafe_attribute_fails_as_in_jinjas_own_sandbox(source, error):
    for env in sandbox_and_ours():
        with pytest.raises(error):
            env.from_string(source).render(v={"customer": "x"})


def test_the_kept_headers_still_refuse_a_line_break_every_time():
    for _ in range(2):
        with pytest.raises(ValueError, match="line breaks"):
            outbox._text_header("X-Note", "one\r\nBcc: victim@example.com")
        with pytest.raises(ValueError, match="line breaks"):
            outbox._from_header("巡访服务\nBcc: x@example.com", "visits@visitflow.test")
        with pytest.raises(ValueError, match="not a header name"):
            outbox._text_header("Bad Name", "x")


@pytest.mark.parametrize(("name", "address", "line"), [
    ("巡访服务 visitflow", "visits@visitflow.test",
     "From: =?utf-8?B?5beh6K6/5pyN5YqhIHZpc2l0Zmxvdw==?= <visits@visitflow.test>\r\n"),
    ("visitflow", "visits@visitflow.test", "From: visitflow <visits@visitflow.test>\r\n"),
    ("Visits, East", "east@visitflow.test", 'From: "Visits, East" <east@visitflow.test>\r\n'),
])
def test_each_sender_gets_its_own_from_header(name, address, line):
    assert outbox._from_header(name, address) == line


def test_the_date_header_follows_the_clock_second_by_second():
    first = datetime(2026, 11, 27, 10, 21, 3, tzinfo=timezone.utc)
    assert outbox._date_header(first) == "Date: Fri, 27 Nov 2026 10:21:03 +0000\r\n"
    assert outbox._date_header(first + timedelta(seconds=1)) == "Date: Fri, 27 Nov 2026 10:21:04 +0000\r\n"
    assert outbox._date_header(first) == "Date: Fri, 27 Nov 2026 10:21:03 +0000\r\n"
