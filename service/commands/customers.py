"""``visitflow customers``: the customer registry (spec §5, Articles 2 and 4)."""

from __future__ import annotations

import click


@click.group()
def customers() -> None:
    """Import, export and list the customer registry (客户名录)."""
