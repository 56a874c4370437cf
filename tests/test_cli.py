"""The command line as an operator uses it: poll, status, replay, parse."""

from __future__ import annotations

from click.testing import CliRunner

from service.cli import cli

from .conftest import STRANGER, folder_messages, make_mail, smtp_send, wait_for

REP = "li.lei@visitflow.test"


def run(config_file, *args: str):
    return CliRunner().invoke(cli, ["--config", str(config_file), *args])


def test_status_shows_states_the_quarantine_the_outbox_backlog_and_the_last_imap_contact(
        mail_sandbox, mail_env, config_file):
    smtp_send(mail_sandbox, make_mail(sender=STRANGER, subject="buy now"), make_mail(sender=REP, subject="hi"))
    wait_for(lambda: len(folder_messages(mail_sandbox, "visits@visitflow.test")) == 2, what="delivery")

    polled = run(config_file, "poll", "--no-send")
    assert polled.exit_code == 0, polled.output
    assert "fetched 2, settled 2" in polled.output

    status = run(config_file, "status")
    assert status.exit_code == 0, status.output
    lines = status.output.splitlines()
    assert lines[0] == "messages: quarantined 1, rejected 1"
    assert lines[1].startswith("outbox: 1 queued, 0 failed, 0 sent (oldest queued 20")
    assert lines[2].startswith("last IMAP contact: 20")
    assert lines[3] == "quarantine:"
    assert STRANGER in lines[4] and "'buy now'" in lines[4] and "not a person in config.yaml" in lines[4]

    sent = run(config_file, "poll")
    assert "sent 1 mail(s)" in sent.output
    assert "outbox: 0 queued, 0 failed, 1 sent" in run(config_file, "status").output


def test_replay_of_an_unknown_message_is_one_clear_line(config_file, monkeypatch):
    result = run(config_file, "replay", "999")
    assert result.exit_code == 2
    assert result.output.strip() == "visitflow: no message #999: `visitflow status` lists the quarantine"


def test_replay_of_a_quarantined_stranger_is_quarantined_again_with_the_same_reason(
        mail_sandbox, mail_env, config_file):
    smtp_send(mail_sandbox, make_mail(sender=STRANGER, subject="hello"))
    wait_for(lambda: folder_messages(mail_sandbox, "visits@visitflow.test"), what="delivery")
    run(config_file, "poll")

    result = run(config_file, "replay", "1")

    assert result.exit_code == 0, result.output
    assert result.output.startswith("message #1: quarantined (stranger@elsewhere.test is not a person")


def test_replay_of_a_message_that_was_processed_is_refused(mail_sandbox, mail_env, config_file):
    smtp_send(mail_sandbox, make_mail(sender=REP, subject="巡访日报", body="客户名称：甲\n巡访时间：9:00\n巡访效果：好\n"))
    wait_for(lambda: folder_messages(mail_sandbox, "visits@visitflow.test"), what="delivery")
    run(config_file, "poll")
    result = run(config_file, "replay", "1")
    assert result.exit_code == 2
    assert "message #1 is processed: only quarantined or rejected messages can be replayed" in result.output


def test_parse_without_json_names_the_rule_and_its_reason(tmp_path, config_file):
    path = tmp_path / "mail.eml"
    path.write_bytes(make_mail(sender=REP, subject="礼品申请").as_bytes())
    result = run(config_file, "parse", str(path))
    assert result.exit_code == 0
    assert result.output.splitlines()[:2] == ["kind: gift_request",
                                              "rule: subject_gift_request (subject contains '礼品')"]
