"""Golden gift requests: each .eml beside the JSON `visitflow parse --json` must print for it.

The amount and every problem sentence are compared whole: a disagreement between figures
and words must name both values, in the sender's language.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli import cli
from service.config import parse_config
from service.intake import read_message

from .conftest import FIXTURES, REPO, base_config_data

GOLDEN = sorted((FIXTURES / "gift").glob("*.eml"))


@pytest.fixture(scope="module")
def config():
    return parse_config(base_config_data(), path=REPO / "config.yaml")


def expected_for(eml: Path) -> dict:
    return json.loads(eml.with_suffix(".json").read_text(encoding="utf-8"))


def test_there_is_a_golden_gift_request_for_every_example_of_issue_7():
    stems = {eml.stem for eml in GOLDEN}
    assert {"issue7_capitals_zero_between_yuan_and_jiao", "issue7_figures_with_words_in_brackets",
            "issue7_figures_and_words_disagree"} <= stems
    assert all(eml.with_suffix(".json").exists() for eml in GOLDEN)


@pytest.mark.parametrize("eml", GOLDEN, ids=lambda p: p.stem)
def test_the_gift_request_reads_as_its_golden_json(config, eml):
    assert read_message(eml.read_bytes(), config).as_json() == expected_for(eml)


@pytest.mark.parametrize("eml", [FIXTURES / "gift" / "issue7_figures_and_words_disagree.eml",
                                 FIXTURES / "gift" / "outlook_en_figures_and_words_disagree.eml"], ids=lambda p: p.stem)
def test_parse_json_on_the_command_line_names_both_amounts_when_figures_and_words_disagree(eml):
    result = CliRunner().invoke(cli, ["--config", str(REPO / "config.yaml"), "parse", str(eml), "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed == expected_for(eml)
    assert printed["amount"] is None
    [problem] = printed["problems"]
    figures, words = ("1200.00", "1300.00") if eml.stem.startswith("issue7") else ("1500.00", "1200.00")
    assert figures in problem and words in problem
