"""config.yaml is validated into typed objects; every problem is one line naming its key."""

from __future__ import annotations

import copy

import pytest
import yaml
from click.testing import CliRunner

from service.cli import cli
from service.config import parse_config
from service.errors import ConfigError

from .conftest import REPO, base_config_data


def test_the_shipped_config_is_valid_and_describes_the_sample_organisation():
    cfg = parse_config(base_config_data(), path=REPO / "config.yaml")
    assert cfg.service_address == "visits@visitflow.test"
    assert cfg.imap.password_env == "VISITFLOW_IMAP_PASSWORD"
    assert set(cfg.organisation.units) == {"east", "north"}
    assert cfg.organisation.reps["li.lei@visitflow.test"].region == "shanghai"
    assert cfg.person("LI.LEI@visitflow.test").name == "李雷"
    assert cfg.person("nobody@visitflow.test") is None
    assert cfg.language_for("tom.baker@visitflow.test") == "en"
    assert cfg.language_for("li.lei@visitflow.test") == "zh-CN"
    assert str(cfg.policy.gift.thresholds[0].amount) == "5000"
    assert cfg.schedule.daily_digest.hour == 18


BROKEN = [
    (lambda d: d["imap"].update(port=70000), "imap.port: must be between 1 and 65535"),
    (lambda d: d["imap"].update(security="ssl"), "imap.security: must be one of plain, starttls, tls"),
    (lambda d: d["imap"].update(password="hunter2"), "imap.password: secrets must not be written"),
    (lambda d: d["imap"].update(password_env="not a name"), "imap.password_env: must name an environment variable"),
    (lambda d: d["imap"].update(auth="xoauth2"), "imap.token_env: is missing"),
    (lambda d: d["service"].update(address="visits"), "service.address: is not a plain (ASCII) email address"),
    (lambda d: d["organisation"]["reps"][0].update(email="李雷@visitflow.test"),
     "organisation.reps[0].email: is not a plain (ASCII) email address"),
    (lambda d: d["organisation"]["reps"][0].update(region="mars"), "organisation.reps[0].region: names unknown region 'mars'"),
    (lambda d: d["organisation"]["regions"][0].update(unit="west"), "organisation.regions[0].unit: names unknown unit 'west'"),
    (lambda d: d["organisation"]["regions"][1]["technical"].append({"name": "X", "email": "x@visitflow.test"}),
     "organisation.regions[1].technical: must list 1 or 2 technical staff"),
    (lambda d: d["organisation"].pop("leadership"), "organisation.leadership: is missing"),
    (lambda d: d["policy"].update(timezone="Mars/Olympus"), "policy.timezone: is not a known time zone"),
    (lambda d: d["policy"]["visits_per_month"].update(E=1), "policy.visits_per_month.E: is not a tier"),
    (lambda d: d["policy"]["gift"]["budgets"].update(west=100), "policy.gift.budgets.west: names an unknown unit"),
    (lambda d: d["schedule"].update(daily_digest="25:61"), "schedule.daily_digest: must be a time of day"),
    (lambda d: d.update(colour="blue"), "colour: is not a setting visitflow knows"),
]


@pytest.mark.parametrize("breakage, expected", BROKEN, ids=[b[1].split(":")[0] for b in BROKEN])
def test_a_broken_setting_is_reported_by_its_key(breakage, expected):
    data = copy.deepcopy(base_config_data())
    breakage(data)
    with pytest.raises(ConfigError) as caught:
        parse_config(data, path=REPO / "config.yaml")
    assert any(p.startswith(expected) for p in caught.value.problems), caught.value.problems


def test_check_config_prints_one_line_per_problem_and_exits_non_zero(tmp_path):
    data = base_config_data()
    data["imap"]["port"] = "imap"
    data["smtp"]["security"] = "tls-please"
    data["organisation"]["reps"][0]["email"] = "not-an-address"
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")

    result = CliRunner().invoke(cli, ["--config", str(path), "check-config"])

    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[0] == f"visitflow: {path.resolve()}: 3 problem(s)"
    assert [line.strip().split(":")[0] for line in lines[1:]] == [
        "imap.port", "smtp.security", "organisation.reps[0].email"]
    assert "Traceback" not in result.output


def test_a_file_that_is_not_yaml_is_one_clear_line(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("imap: [unclosed\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(path), "check-config"])
    assert result.exit_code == 2
    assert "is not valid YAML" in result.output and "line 2" in result.output


def test_a_missing_config_file_says_how_to_name_one(tmp_path):
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "nope.yaml"), "check-config"])
    assert result.exit_code == 2
    assert "no such file (pass --config PATH or set VISITFLOW_CONFIG)" in result.output


def test_a_secret_is_read_from_the_named_environment_variable(monkeypatch):
    cfg = parse_config(base_config_data(), path=REPO / "config.yaml")
    monkeypatch.setenv("VISITFLOW_IMAP_PASSWORD", "s3cret")
    assert cfg.imap.secret() == "s3cret"
    monkeypatch.delenv("VISITFLOW_IMAP_PASSWORD")
    with pytest.raises(ConfigError, match="VISITFLOW_IMAP_PASSWORD is not set"):
        cfg.imap.secret()
