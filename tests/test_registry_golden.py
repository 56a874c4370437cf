"""Golden registry files as people shape them (issue 10): each reads as the .json beside it.

Merged 地区/等级/指定巡访人 cells, a very hidden first sheet of drop-down lists with ids Excel
shows zero-padded, a GBK CSV with full-width ids and visitors written as name and address,
and a CSV as ``customers export`` writes it with formula-like cells escaped.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli import cli
from service.documents.tables import table_bytes
from service.reading.customers import Customer, export_rows, read_customers
from service.reading.tables import read_table

from .conftest import FIXTURES

GOLDEN = sorted(p for p in (FIXTURES / "registries").iterdir() if p.suffix in (".xlsx", ".csv"))


def expected(path: Path) -> dict:
    return json.loads(Path(f"{path}.json").read_text(encoding="utf-8"))


def as_json(read) -> dict:
    return {"problems": [p.text() for p in read.problems],
            "customers": [{"row": c.row, "id": c.id, "name": c.name, "aliases": list(c.aliases), "type": c.type,
                           "region": c.region, "unit": c.unit, "tier": c.tier,
                           "designated_visitor": c.designated_visitor, "contact": c.contact, "phone": c.phone,
                           "address": c.address, "salesperson_flag": c.salesperson_flag} for c in read.customers]}


def test_there_are_golden_registries_of_each_shape_with_variants():
    names = {p.name for p in GOLDEN}
    assert sum(n.endswith(".xlsx") for n in names) >= 2 and sum(n.endswith(".csv") for n in names) >= 2
    assert all(Path(f"{p}.json").exists() for p in GOLDEN)


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_the_registry_file_reads_as_its_golden_json(cfg, path):
    assert as_json(read_customers(read_table(path.read_bytes(), path.name), cfg)) == expected(path)


def test_each_row_under_a_merged_cell_has_the_merged_value():
    customers = expected(FIXTURES / "registries" / "excel_merged_region_tier_and_visitor.xlsx")["customers"]
    assert [(c["id"], c["region"], c["tier"], c["designated_visitor"]) for c in customers] == [
        ("C101", "shanghai", "A", "li.lei@visitflow.test"), ("C102", "shanghai", "A", "li.lei@visitflow.test"),
        ("C103", "shanghai", "B", "li.lei@visitflow.test"), ("C104", "hangzhou", "C", "han.meimei@visitflow.test"),
        ("C105", "hangzhou", "C", "han.meimei@visitflow.test")]


def test_the_escaped_golden_csv_is_byte_for_byte_what_export_writes_for_its_customers(cfg):
    path = FIXTURES / "registries" / "exported_with_formula_cells_escaped.csv"
    customers = [Customer(**{k: tuple(v) if k == "aliases" else v for k, v in c.items()})
                 for c in expected(path)["customers"]]
    assert table_bytes(export_rows(customers, cfg), ".csv") == path.read_bytes()


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_a_golden_registry_imports_exports_and_imports_again_unchanged(config_file, tmp_path, path, suffix):
    def customers(*args: str):
        return CliRunner().invoke(cli, ["--config", str(config_file), "customers", *args])

    count = len(expected(path)["customers"])
    first = customers("import", str(path))
    assert first.exit_code == 0 and f"{count} added" in first.output, first.output
    out = tmp_path / f"导出{suffix}"
    assert customers("export", str(out)).exit_code == 0
    again = customers("import", str(out))
    assert again.exit_code == 0 and f"0 added, 0 changed, {count} unchanged" in again.output, again.output
