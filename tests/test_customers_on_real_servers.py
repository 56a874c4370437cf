"""The customer registry end to end on the real Dovecot and Postfix: import, report, receipt."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from service.cli import cli

from .conftest import FIXTURES, folder_messages, make_mail, smtp_send, wait_for

pytestmark = pytest.mark.mail

SERVICE = "visits@visitflow.test"


def run(config_file, *args: str):
    result = CliRunner().invoke(cli, ["--config", str(config_file), *args])
    assert result.exit_code == 0, result.output
    return result


def receipt_for(box, config_file, rep: str, mail) -> str:
    """Mail a report through Postfix, poll once as an operator would; return the receipt's text."""
    smtp_send(box, mail)
    wait_for(lambda: folder_messages(box, SERVICE), what="the report in the service inbox")
    assert "settled 1 {'processed': 1}" in run(config_file, "poll").output
    (receipt,) = wait_for(lambda: folder_messages(box, rep), what=f"the receipt for {rep}")
    return receipt.text


def test_a_receipt_names_exactly_the_customer_that_is_not_in_the_registry(mail_sandbox, mail_env, config_file):
    run(config_file, "customers", "import", str(FIXTURES / "customers" / "registry.csv"))
    report = make_mail(sender="li.lei@visitflow.test", subject="巡访日报",
                       body="日期：2026-11-27\n客户名称：上海华联超市\n巡访时间：09:30\n巡访效果：客户同意增加订货\n\n"
                            "客户名称：宏达五金商行\n巡访时间：14:00\n客户意见：想要更长账期\n")

    text = receipt_for(mail_sandbox, config_file, "li.lei@visitflow.test", report)

    notes = [line for line in text.splitlines() if "未在客户名录中" in line]
    assert notes == ["未在客户名录中：宏达五金商行，请核对名称或联系主管。（巡访已照常保存。）"]
    assert "1. 上海华联超市 — 2026-11-27 09:30" in text and "2. 宏达五金商行 — 2026-11-27 14:00" in text
    listed = run(config_file, "customers", "list", "--tier", "A").output
    assert listed.splitlines()[0] == ("C001\t上海华联超市有限公司\tA\tretailer\t上海\t李雷\tlast visit 2026-11-27")


def test_an_english_receipt_names_the_customer_of_another_unit_as_not_in_the_registry(
        mail_sandbox, mail_env, config_file):
    run(config_file, "customers", "import", str(FIXTURES / "customers" / "registry.csv"))
    report = make_mail(sender="tom.baker@visitflow.test", subject="Daily report",
                       body="Customer: ACME\nVisit time: 2026-11-27 9:30\nEffect: trial order signed\n\n"
                            "Customer: 杭州西湖茶叶店\nVisit time: 2026-11-27 15:00\nEffect: met the owner\n")

    text = receipt_for(mail_sandbox, config_file, "tom.baker@visitflow.test", report)

    notes = [line for line in text.splitlines() if "customer registry" in line]
    assert notes == [("Not in the customer registry: 杭州西湖茶叶店; check the name or ask your unit head. "
                      "(The visits are stored all the same.)")]
