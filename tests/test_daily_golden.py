"""Golden daily reports: each .eml beside the JSON `visitflow parse --json` must print for it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli import cli
from service.config import parse_config
from service.intake import read_message

from .conftest import FIXTURES, REPO, base_config_data

GOLDEN = sorted((FIXTURES / "daily").glob("*.eml"))


@pytest.fixture(scope="module")
def config():
    return parse_config(base_config_data(), path=REPO / "config.yaml")


def expected_for(eml: Path) -> dict:
    return json.loads(eml.with_suffix(".json").read_text(encoding="utf-8"))


def assert_matches_golden(actual: dict, expected: dict) -> None:
    assert actual["kind"] == expected["kind"]
    assert actual["report_date"] == expected["report_date"]
    assert len(actual["visits"]) == len(expected["visits"])
    for number, (got, want) in enumerate(zip(actual["visits"], expected["visits"]), start=1):
        for name, value in want.items():
            assert got[name] == value, f"visit {number}, {name}"
        assert set(got) == set(want), f"visit {number} has other fields than spec §4"
    # Problem sentences are compared by their beginning: the rest may quote values.
    assert len(actual["problems"]) == len(expected["problems"]), actual["problems"]
    for got, want in zip(actual["problems"], expected["problems"]):
        assert got.startswith(want), (got, want)


@pytest.mark.parametrize("eml", GOLDEN, ids=lambda p: p.stem)
def test_the_daily_report_reads_as_its_golden_json(config, eml):
    assert_matches_golden(read_message(eml.read_bytes(), config).as_json(), expected_for(eml))


@pytest.mark.parametrize("eml", GOLDEN[:2], ids=lambda p: p.stem)
def test_parse_json_on_the_command_line_prints_the_same_object(eml):
    result = CliRunner().invoke(cli, ["--config", str(REPO / "config.yaml"), "parse", str(eml), "--json"])
    assert result.exit_code == 0, result.output
    assert_matches_golden(json.loads(result.output), expected_for(eml))
